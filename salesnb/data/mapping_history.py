"""Column mappings, the stage history: built from what each CRM keeps.

A mapping's ``history`` lists where the stage history may come from, the first present
being used:

* a **long file**, one row per stage entry (Salesforce ``OpportunityHistory.csv``);
* a **field history** (Salesforce ``OpportunityFieldHistory.csv``): the rows of one field
  (``where: {Field: StageName}``) are stage entries (``NewValue`` at ``CreatedDate``), and
  the rows recording a deal's creation (``created: {Field: created}``) enter the deal's
  first stage — the ``OldValue`` of its first stage change, else its current stage;
* **wide date columns** of the main file (HubSpot ``Date entered "<stage> (<pipeline>)"``
  in either quote style, ``hs_v2_date_entered_<stage id>``, ``hs_date_entered_<stage id>``):
  one entry per filled cell; several columns for the same stage are read as one, the
  first listed pattern's value first; a column naming another pipeline than the deal's
  is set aside;
* **main-file columns**: a stage and a time per deal (Pipedrive's stage and ``Last stage
  change``), one entry per deal.

Then, row by row and counted: stage values translated as the opportunities' stage,
entries of deals set aside set aside too, entries of unknown deals and entries outside a
deal's life handled by their quirk rules, an entry repeating the stage of the entry
before it (same deal; Salesforce writes one on every amount or date change) merged into
that first one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd

from salesnb._arrays import utc_nanos
from salesnb.data.mapping_spec import ColumnMapping, HistorySource
from salesnb.data.mapping_tables import Ledger, Table, evaluate, find_file, fold, member, rows
from salesnb.data.stage_order import OrderEvidence
from salesnb.data.validation import clean_text
from salesnb.exceptions import DataSchemaError, Problem

__all__ = ["BuiltHistory", "HistoryPlan", "build_history", "plan_history"]

_HIDDEN = "_line"
TABLE = "stage_history"


class _Run(Protocol):
    """What building the history needs from a mapping run (:class:`salesnb.data.mapping_apply._Run`)."""

    spec: ColumnMapping
    folder: Path
    ledger: Ledger
    main: Table | None
    main_ids: pd.Series | None
    main_pipelines: pd.Series | None
    consumed: set[str]
    aside_reason: dict[str, str]

    def read(self, path: Path, role: str) -> Table: ...

    def translate_stage(self, series: pd.Series, table_name: str, table: Table,
                        frame: pd.DataFrame) -> pd.Series: ...

    def stage_names(self, values: list[str]) -> list[str | None]: ...

    def parse_times(self, frame: pd.DataFrame, table: Table, columns: tuple[str, ...],
                    table_name: str) -> None: ...

    def quirk(self, rule: str, table_name: str, source: Table, frame: pd.DataFrame, mask: np.ndarray, *,
              what: str, column: str, fix: str, repair: tuple[str, pd.Series] | None = None,
              extra: pd.DataFrame | None = None, repair_words: str = "") -> np.ndarray: ...


@dataclass
class BuiltHistory:
    """The mapped stage history (None: the export has none) and what it came from."""

    frame: pd.DataFrame | None = None
    table: Table | None = None
    source: str | None = None
    evidence: list[OrderEvidence] = field(default_factory=list)


@dataclass
class HistoryPlan:
    """The history source a run will read (None: none present) and what was looked for."""

    source: HistorySource | None
    tried: list[str]
    path: Path | None = None
    columns: list[tuple[str, str | None, str, int]] = field(default_factory=list)


def plan_history(run: _Run, main: Table) -> HistoryPlan | None:
    """Choose the history source before the main file is mapped (its date columns are then consumed)."""
    spec = run.spec.history
    if spec is None:
        return None
    tried: list[str] = []
    for source in spec.sources:
        if source.kind == "file":
            assert source.file is not None
            path = find_file(run.folder, (source.file,), required=False, what="history file")
            if path is not None:
                return HistoryPlan(source, tried, path)
            tried.append(f"no file {source.file}")
        elif source.kind == "wide":
            columns = _wide_columns(main, source)
            if columns:
                run.consumed.update(col for _, _, col, _ in columns)
                return HistoryPlan(source, tried, columns=columns)
            patterns = [p.pattern for p in source.wide_patterns] or [c for _, c in source.wide]
            tried.append(f"no column matches the history pattern {' or '.join(map(repr, patterns))}")
        else:
            specs = dict(source.columns)
            if all(evaluate(main, specs[k]) is not None for k in ("stage", "entered_at")):
                return HistoryPlan(source, tried)
            tried.append(f"no columns {' / '.join(specs['stage'].sources)} and "
                         f"{' / '.join(specs['entered_at'].sources)}")
    return HistoryPlan(None, tried)


def build_history(run: _Run, opps: pd.DataFrame, plan: HistoryPlan | None) -> BuiltHistory:
    """Build the stage history of a mapping run (see the module docstring)."""
    spec = run.spec.history
    main = run.main
    assert main is not None
    if spec is None or plan is None:
        return BuiltHistory()
    source, tried = plan.source, plan.tried
    if source is not None:
        if source.kind == "file":
            assert plan.path is not None
            return _from_file(run, source, run.read(plan.path, "stage history"), opps)
        if source.kind == "wide":
            return _from_wide(run, plan.columns, main, opps)
        specs = dict(source.columns)
        stage_ev, time_ev = evaluate(main, specs["stage"]), evaluate(main, specs["entered_at"])
        assert stage_ev is not None and time_ev is not None
        return _from_columns(run, stage_ev.values, time_ev.values, f"{stage_ev.used[0]} at {time_ev.used[0]}",
                             main, opps)
    if spec.optional:
        run.ledger.steps.append(f"history: none in this export ({'; '.join(tried)}): no stage history")
        run.ledger.notes.append(f"mapping: no stage history in this export ({'; '.join(tried)})")
        return BuiltHistory()
    if len(spec.sources) == 1 and spec.sources[0].kind == "file":
        assert spec.sources[0].file is not None
        find_file(run.folder, (spec.sources[0].file,), required=True, what="history file")
    raise DataSchemaError(problems=[Problem(
        f"has no stage history the mapping can read ({'; '.join(tried)}); columns found: "
        f"{', '.join(map(str, main.frame.columns))}", str(main.path),
        "add the history file or the 'Date entered ...' columns to the export, correct history in the mapping, "
        "or mark it optional: true", "history")])


# --------------------------------------------------------------------------- the sources
def _from_file(run: _Run, source: HistorySource, table: Table, opps: pd.DataFrame) -> BuiltHistory:
    ledger = run.ledger
    counts = ledger.table(TABLE)
    counts.file, counts.encoding, counts.rows_read = table.name, table.export.encoding, len(table.frame)
    counts.footer_lines, counts.blank_lines = len(table.export.footer), table.export.blank_lines
    problems: list[Problem] = []
    hist = pd.DataFrame(index=table.frame.index)
    for target, col in source.columns:
        ev = evaluate(table, col)
        if ev is None:
            problems.append(table.missing(list(col.sources), f"history.columns.{target}",
                                          "correct history.columns in the mapping"))
        else:
            hist[target] = ev.values
    if problems:
        raise DataSchemaError.from_problems(problems)
    hist[_HIDDEN] = table.positions
    hist["opportunity_id"] = clean_text(hist["opportunity_id"])
    if source.where or source.created:
        hist = _field_history(run, source, table, hist, opps)
    what = f"{table.name} ({rows(counts.rows_read)})"
    frame = _finish(run, hist, table, opps, what)
    return BuiltHistory(frame, table, str(table.path))


def _conditions_mask(table: Table, conditions: tuple, positions: np.ndarray) -> tuple[np.ndarray, list[str]]:
    mask = np.ones(len(positions), dtype=bool)
    cols = []
    for cond in conditions:
        real = table.resolve(cond.column)
        if real is None:
            raise DataSchemaError(problems=[table.missing([cond.column], "history where/created",
                                                          "correct the condition's column in the mapping")])
        cols.append(real)
        text = table.text(real).to_numpy(dtype=object)[positions]
        wanted = {fold(v) for v in cond.values if v is not None}
        hit = np.array([isinstance(v, str) and fold(v) in wanted for v in text], dtype=bool)
        if None in cond.values:
            hit |= pd.isna(text)
        mask &= hit
    return mask, cols


def _field_history(run: _Run, source: HistorySource, table: Table, hist: pd.DataFrame,
                   opps: pd.DataFrame) -> pd.DataFrame:
    """A field history: keep the stage changes, turn creation rows into first-stage entries."""
    positions = hist[_HIDDEN].to_numpy()
    changes, where_cols = _conditions_mask(table, source.where, positions) if source.where \
        else (np.ones(len(hist), dtype=bool), [])
    created, created_cols = _conditions_mask(table, source.created, positions) if source.created \
        else (np.zeros(len(hist), dtype=bool), [])
    created &= ~changes
    other = ~(changes | created)
    if other.any():
        col = (where_cols or created_cols)[0]
        values = table.text(col).to_numpy(dtype=object)[positions]
        reasons = np.array([f"not a stage change ({col} = {v})" for v in values], dtype=object)
        run.ledger.aside(TABLE, table, hist, other, reasons, lines=positions,
                         extra=hist[["stage", "entered_at"]])
        run.ledger.steps.append(f"history: {rows(int(other.sum()))} of {table.name} are other fields' changes "
                                "(set aside)")
    if created.any():
        first_before: pd.Series = pd.Series(dtype=object)
        if source.stage_before is not None:
            ev = evaluate(table, source.stage_before)
            if ev is not None:
                old = pd.DataFrame({"id": hist["opportunity_id"], "old": ev.values.to_numpy()[positions],
                                    "t": clean_text(hist["entered_at"]), "seq": np.arange(len(hist))})[changes]
                old = old.sort_values(["id", "t", "seq"], kind="mergesort").drop_duplicates("id")
                first_before = old.set_index("id")["old"]
        current = pd.Series(dtype=object)
        if "stage" in opps.columns:
            current = pd.Series(opps["stage"].to_numpy(dtype=object),
                                index=clean_text(opps["opportunity_id"]).to_numpy(dtype=object))
            current = current[~current.index.duplicated()]
        ids = hist.loc[created, "opportunity_id"]
        stage = ids.map(first_before) if len(first_before) else pd.Series(np.nan, index=ids.index, dtype=object)
        from_current = stage.isna() & pd.Series(member(ids, current.index), index=ids.index)
        stage = stage.where(~from_current, ids.map(current))
        hist.loc[created, "stage"] = stage.to_numpy(dtype=object)
        n_old = int((~from_current & stage.notna()).sum())
        run.ledger.steps.append(
            f"history: {rows(int(created.sum()))} of {table.name} record a creation: the deal's first stage "
            f"({n_old:,} from the first change's old value, {int(from_current.sum()):,} from the current stage)")
    return hist.loc[~other].reset_index(drop=True)


_PATTERN_ORDER = "_pattern"


def _wide_columns(main: Table, source: HistorySource) -> list[tuple[str, str | None, str, int]]:
    """The wide date columns: (stage, pipeline or None, column, pattern index)."""
    found: list[tuple[str, str | None, str, int]] = []
    if source.wide:
        for stage, column in source.wide:
            real = main.resolve(column)
            if real is not None:
                found.append((stage, None, real, 0))
        return found
    for col in main.frame.columns:
        for i, pattern in enumerate(source.wide_patterns):
            m = pattern.search(col)
            if m is not None:
                groups = m.groupdict()
                pipeline = (groups.get("pipeline") or "").strip() or None
                found.append((m.group("stage").strip(), pipeline, col, i))
                break
    return found


def _from_wide(run: _Run, columns: list[tuple[str, str | None, str, int]], main: Table,
               opps_all: pd.DataFrame) -> BuiltHistory:
    ledger = run.ledger
    ids = run.main_ids if run.main_ids is not None else pd.Series(np.nan, index=main.frame.index)
    # Several columns for one (stage, pipeline): the first listed pattern's value first.
    groups: dict[tuple[str, str | None], list[tuple[int, str]]] = {}
    for stage, pipeline, col, idx in columns:
        groups.setdefault((stage, pipeline), []).append((idx, col))
    parts = []
    for order, ((stage, pipeline), cols) in enumerate(groups.items()):
        cols.sort()
        values = main.text(cols[0][1])
        for _, col in cols[1:]:
            values = values.fillna(main.text(col))
        parts.append(pd.DataFrame({"opportunity_id": ids.to_numpy(), "stage": stage, "_pipeline": pipeline,
                                   "entered_at": values.to_numpy(), _HIDDEN: main.positions,
                                   "_row": np.arange(len(main.frame)), "_order": order}))
        if len(cols) > 1:
            ledger.steps.append(f"history: {' and '.join(repr(c) for _, c in cols)} give the same stage: "
                                f"the first filled one is read")
    long = pd.concat(parts, ignore_index=True)
    # Source order: by deal, then by column (ties keep it).
    long = long[long["entered_at"].notna()].sort_values(["_row", "_order"], kind="mergesort")
    long = long.drop(columns=["_row", "_order"]).reset_index(drop=True)
    counts = ledger.table(TABLE)
    counts.file = f"{main.name} (date columns)"
    counts.encoding = main.export.encoding
    counts.rows_read = len(long)
    # The columns' order as evidence of the stage order, unless they are simply alphabetical.
    labels = [col for _, _, col, _ in columns]
    alphabetical = [fold(c) for c in labels] == sorted(fold(c) for c in labels)
    evidence = []
    translated = run.stage_names([s for s, _ in groups])
    if len(groups) > 1 and not alphabetical:
        ranks = {(p, str(t)): float(i) for i, ((_, p), t) in enumerate(zip(groups, translated, strict=True))
                 if isinstance(t, str)}
        evidence.append(OrderEvidence(f"the order of the date columns of {main.name}", per_stage=ranks))
    elif len(groups) > 1:
        ledger.steps.append(f"history: the date columns of {main.name} are in alphabetical order (an "
                            "all-properties export), so their order is not read as the stage order")
    # Entries in a stage of another pipeline than the deal's.
    if "pipeline" in opps_all.columns and long["_pipeline"].notna().any() and run.main_pipelines is not None:
        deal_pipeline = run.main_pipelines.to_numpy(dtype=object)[long[_HIDDEN].to_numpy()]
        other = np.array([isinstance(p, str) and isinstance(d, str) and fold(p) != fold(d)
                          for p, d in zip(long["_pipeline"], deal_pipeline, strict=True)], dtype=bool)
        if other.any():
            reasons = np.array([f"entered a stage of pipeline {p!r}, the deal being in pipeline {d!r}"
                                for p, d in zip(long["_pipeline"], deal_pipeline, strict=True)], dtype=object)
            ledger.aside(TABLE, main, long, other, reasons, lines=long[_HIDDEN].to_numpy(),
                         extra=long[["stage", "entered_at"]])
            long = long.loc[~other].reset_index(drop=True)
    shown = ", ".join(c for _, _, c, _ in columns[:2]) + (", …" if len(columns) > 2 else "")
    what = f"{len(columns)} date column(s) of {main.name} ({shown}; wide → long: one entry per filled cell)"
    frame = _finish(run, long.drop(columns=["_pipeline"]), main, opps_all, what)
    return BuiltHistory(frame, main, f"{main.path} (stage history from its date columns)", evidence)


def _from_columns(run: _Run, stage: pd.Series, entered: pd.Series, what: str, main: Table,
                  opps: pd.DataFrame) -> BuiltHistory:
    ids = run.main_ids if run.main_ids is not None else pd.Series(np.nan, index=main.frame.index)
    long = pd.DataFrame({"opportunity_id": ids.to_numpy(), "stage": stage.to_numpy(),
                         "entered_at": entered.to_numpy(), _HIDDEN: main.positions})
    long = long[long["stage"].notna() & long["entered_at"].notna()].reset_index(drop=True)
    counts = run.ledger.table(TABLE)
    counts.file = f"{main.name} ({what})"
    counts.encoding = main.export.encoding
    counts.rows_read = len(long)
    frame = _finish(run, long, main, opps, f"{what} of {main.name} (one entry per deal)")
    return BuiltHistory(frame, main, f"{main.path} (one stage entry per deal: {what})")


# --------------------------------------------------------------------------- common steps
def _finish(run: _Run, hist: pd.DataFrame, table: Table, opps: pd.DataFrame, what: str) -> pd.DataFrame:
    """Translate stages, set aside what must be, parse times, merge repeats, apply the quirk rules."""
    ledger = run.ledger
    made = len(hist)
    hist = hist.reset_index(drop=True)
    hist["opportunity_id"] = clean_text(hist["opportunity_id"])
    hist = hist.drop(columns=[c for c in ("_first_stage",) if c in hist.columns])
    hist["stage"] = run.translate_stage(clean_text(hist["stage"]), TABLE, table, hist)
    # Entries of deals set aside.
    aside = member(hist["opportunity_id"], run.aside_reason)
    if aside.any():
        reasons = ("its opportunity was set aside (" + hist["opportunity_id"].map(run.aside_reason).fillna("")
                   + ")").to_numpy(dtype=object)
        ledger.aside(TABLE, table, hist, aside, reasons, lines=hist[_HIDDEN].to_numpy(),
                     extra=hist[["stage", "entered_at"]])
        ledger.notes.append(f"mapping set aside {rows(int(aside.sum()), 'stage-history entry')} of {table.name}: "
                            "their opportunity was set aside")
        hist = hist.loc[~aside].reset_index(drop=True)
    # Entries of deals that are not in the opportunities.
    known_ids = set(clean_text(opps["opportunity_id"]).dropna())
    unknown = hist["opportunity_id"].notna().to_numpy(dtype=bool) & ~member(hist["opportunity_id"], known_ids)
    keep = run.quirk("history_unknown_opportunity", TABLE, table, hist, unknown,
                     what="entry of an opportunity that is not in the export's opportunities (deleted, or "
                          "outside the export's filter)", column="opportunity_id",
                     fix="export the history with the same filter as the opportunities",
                     extra=hist[["stage", "entered_at"]])
    hist = hist.loc[keep].reset_index(drop=True)
    # Blank stages in the history.
    blank = hist["stage"].isna().to_numpy(dtype=bool)
    keep = run.quirk("blank_stage", TABLE, table, hist, blank, what="history entry without a stage",
                     column="stage", fix="give these entries their stage in the CRM",
                     extra=hist[["stage", "entered_at"]])
    hist = hist.loc[keep].reset_index(drop=True)
    run.parse_times(hist, table, ("entered_at",), TABLE)
    if hist["entered_at"].dtype == object:  # unreadable times: nothing more can be checked
        raise DataSchemaError.from_problems(ledger.problems)
    hist = _merge_repeats(run, hist, table)
    hist = _outside_life(run, hist, opps, table)
    if ledger.problems:
        raise DataSchemaError.from_problems(ledger.problems)
    ledger.steps.append(f"history: {made:,} entries from {what}; {len(hist):,} kept")
    return hist


def _merge_repeats(run: _Run, hist: pd.DataFrame, table: Table) -> pd.DataFrame:
    if hist.empty:
        return hist
    if "_exact_entered_at" in hist.columns:
        # Entries reduced to their date keep the order of their full times (files are not in time order).
        order = np.lexsort((np.arange(len(hist)), utc_nanos(hist["_exact_entered_at"]),
                            hist["opportunity_id"].fillna("").to_numpy(dtype=str)))
        hist = hist.iloc[order].reset_index(drop=True)
    key = hist.assign(_seq=np.arange(len(hist)), _id=hist["opportunity_id"], _stage=clean_text(hist["stage"]))
    ordered = key.sort_values(["_id", "entered_at", "_seq"], kind="mergesort")
    same = (ordered["_id"] == ordered["_id"].shift()) & (ordered["_stage"] == ordered["_stage"].shift())
    repeat = same.fillna(False).reindex(key.index).to_numpy(dtype=bool)
    if repeat.any():
        run.ledger.aside(TABLE, table, hist, repeat, "repeats the stage of the entry before it (same "
                         "opportunity): merged into that first entry", lines=hist[_HIDDEN].to_numpy(),
                         extra=hist[["stage", "entered_at"]])
        run.ledger.notes.append(f"mapping merged {rows(int(repeat.sum()), 'stage-history entry')} of {table.name} "
                                "into the entry before them (same stage, same opportunity)")
    return hist.loc[~repeat].reset_index(drop=True)


def _outside_life(run: _Run, hist: pd.DataFrame, opps: pd.DataFrame, table: Table) -> pd.DataFrame:
    if hist.empty or "created_at" not in opps.columns:
        return hist
    life = opps.assign(_id=clean_text(opps["opportunity_id"])).drop_duplicates("_id").set_index("_id")
    ids = hist["opportunity_id"]
    entered = hist["entered_at"]
    before = (entered < ids.map(life["created_at"])).fillna(False).to_numpy(dtype=bool)
    after = (entered > ids.map(life["closed_at"])).fillna(False).to_numpy(dtype=bool) \
        if "closed_at" in life.columns else np.zeros(len(hist), dtype=bool)
    extra = hist[["stage", "entered_at"]]
    keep = run.quirk("history_outside_life", TABLE, table, hist, before,
                     what="entered before the opportunity was created (its created_at)", column="entered_at",
                     fix="correct the entry's time or the opportunity's created_at", extra=extra)
    keep &= run.quirk("history_outside_life", TABLE, table, hist, after & keep,
                      what="entered after the opportunity was closed (its closed_at; a close date edited "
                           "afterwards)", column="entered_at",
                      fix="correct the entry's time or the opportunity's closed_at", extra=extra)
    return hist.loc[keep].reset_index(drop=True)
