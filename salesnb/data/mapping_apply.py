"""Column mappings, applied: read a CRM export through a mapping into the canonical layout.

Steps, in order (each one vectorised over the whole table)::

    choose the variant → read the main file (encoding, footer, repeated headers)
    → columns (candidates, joins, status from flags / probability / stage values)
    → values and patterns → stage outcomes learned from the status → lookups
    → set_aside → clear → timestamps → amounts → quirk rules
    → history → stage order → pipelines → exchange rates → SalesData.from_frames

Nothing is dropped silently: a row set aside is counted with its reason in
``SalesData.notes`` and ``SalesData.quality`` and listed, with its source line and
original values, in :attr:`MappingReport.set_aside`; every value repaired is listed in
:attr:`MappingReport.repaired`, every value translated counted in
:attr:`MappingReport.values_mapped`. With ``strict=True`` every quirk rule that would
repair or set a row aside, and every value caught by a catch-all rule, is an error
instead. The mapping document itself is read by :mod:`salesnb.data.mapping_spec`.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from salesnb.data.dataset import SalesData, SettingsLike
from salesnb.data.mapping_history import HistoryPlan, build_history, plan_history
from salesnb.data.mapping_report import MappedDataset, MappingReport, quality_document
from salesnb.data.mapping_spec import (
    RULES,
    ColumnMapping,
    ColumnSpec,
    Lookup,
    MappingLike,
    Rule,
    read_mapping,
)
from salesnb.data.mapping_tables import (
    Ledger,
    Table,
    Translator,
    evaluate,
    find_file,
    member,
    parse_numbers,
    parse_timestamp_columns,
    rows,
)
from salesnb.data.rates import check_rates, clean_rates
from salesnb.data.readers import folder_settings
from salesnb.data.settings import FunnelSettings, coerce_settings
from salesnb.data.stage_order import OrderEvidence, pipeline_stage_problems, resolve_stage_order
from salesnb.data.validation import STATUSES, RowLabel, clean_text
from salesnb.exceptions import DataFileError, DataSchemaError, Problem, SettingsError

__all__ = ["MappedDataset", "MappingReport", "apply_mapping"]

_TRUE = frozenset({"true", "1", "yes", "y", "t"})
_FALSE = frozenset({"false", "0", "no", "n", "f"})
#: Columns added to the mapped tables while a run works on them.
_HIDDEN = "_line"


def apply_mapping(
    source: str | Path,
    mapping: MappingLike,
    *,
    settings: SettingsLike = None,
    encoding: str | None = None,
    strict: bool = False,
) -> MappedDataset:
    """Read a CRM export through a column mapping and validate it.

    Parameters
    ----------
    source : str or Path
        The export folder (files named by the mapping are found in it), or the main
        export file itself (other files are then looked up next to it).
    mapping : str, Path, mapping or ColumnMapping
        A preset name (see :func:`list_presets`), a YAML file, or its content as a dict.
    settings : mapping, path or FunnelSettings, optional
        Funnel settings; a mapping is merged over the folder's ``funnel.yml``, which is
        merged over the mapping's own ``settings``.
    encoding : str, optional
        Text encoding of the export's CSV files. None (the default) detects it per file
        (UTF-8 with or without a byte-order mark, UTF-16, cp1252, cp1256) and reports it;
        ``"utf-8"`` expects UTF-8 and detects the encoding of a file that is not; any
        other codec is used as given.
    strict : bool, default False
        Make every quirk rule that would repair a value or set a row aside an error,
        and every value only a catch-all rule translates (see ``docs/presets.md``).

    Returns
    -------
    MappedDataset
        ``data`` (a validated :class:`~salesnb.data.SalesData` whose ``notes`` count
        the rows set aside and repaired, and whose ``quality`` is the machine-readable
        summary) and ``report`` (a :class:`MappingReport`).

    Raises
    ------
    SettingsError
        The mapping is malformed or unknown.
    DataFileError
        A file named by the mapping is missing or unreadable, or no variant of the
        mapping fits the export.
    DataSchemaError
        A column named by the mapping is not in its file, a value has no translation,
        a lookup key repeats, a timestamp does not match the formats, a quirk rule set
        to ``error`` (or ``strict``) fires, or the mapped data break the canonical
        layout's rules.

    Examples
    --------
    >>> import salesnb as sn
    >>> data, report = sn.apply_mapping(sn.sample_path("maven"), "maven")
    >>> len(data.opportunities), report.set_aside_counts()["rows"].tolist()
    (8300, [500])
    >>> data.quality["tables"]["opportunities"]["rows_read"]
    8800
    """
    base = read_mapping(mapping)
    path = Path(source)
    if not path.exists():
        files = " or ".join(base.file) or "the export"
        raise DataFileError("no such file or folder", path=str(path),
                            fix=f"pass the export folder (holding {files}) or the export file itself")
    folder = path if path.is_dir() else path.parent
    tables: dict[tuple[Any, ...], Table] = {}
    spec, main_path = _choose_variant(base, path, folder, encoding, tables)
    resolved = _resolve_settings(spec, folder_settings(folder), settings)
    run = _Run(spec, folder, encoding, resolved, strict, tables)
    main = run.read(main_path, "opportunities")
    opps = run.opportunities(main)
    history = build_history(run, opps, run.history_plan)
    configured = "stages" not in resolved.defaulted or "pipelines" not in resolved.defaulted
    evidence = [*run.evidence(opps), *history.evidence]
    final, order_doc, order_warnings = resolve_stage_order(opps, history.frame, resolved, configured=configured,
                                                           evidence=evidence)
    for message in order_warnings:
        run.ledger.warn(message)
    run.check_pipelines(opps, final, main)
    rates, rates_doc = run.rates(opps, final)
    if final.currency is None and rates_doc.get("reporting_currency"):
        final = replace(final, currency=rates_doc["reporting_currency"],
                        defaulted=tuple(k for k in final.defaulted if k != "currency"))
        run.ledger.notes.append(f"mapping: the reporting currency is {final.currency}, marked in the export's "
                                f"rates ({rates_doc['rates_file']}); set 'currency' in funnel.yml to choose another")
    if run.ledger.problems:
        raise DataSchemaError.from_problems(run.ledger.problems)
    opp_labels = _labels_from(opps[_HIDDEN].to_numpy(), main)
    extra = [c for c in opps.columns if c.startswith("_")]
    opps = opps.drop(columns=extra)
    hist = history.frame
    hist_labels: RowLabel = _labels_from(np.zeros(0, dtype="int64"), main)
    if hist is not None:
        hist_labels = _labels_from(hist[_HIDDEN].to_numpy(), history.table or main)
        hist = hist.drop(columns=[c for c in hist.columns if c.startswith("_")])
    counts = run.ledger.table("opportunities")
    counts.rows_loaded = len(opps)
    if hist is not None:
        run.ledger.table("stage_history").rows_loaded = len(hist)
    quality = run.quality(order_doc, rates_doc, path)
    report = run.report(len(opps), 0 if hist is None else len(hist), quality, rates)
    data = SalesData.from_frames(
        opps, hist, final, source=str(main_path),
        history_source=history.source, opportunities_rows=opp_labels,
        history_rows=hist_labels, notes=report.notes, quality=quality, rates=rates,
    )
    report = replace(report, opportunities=len(data.opportunities), history_rows=len(data.stage_history))
    run.ledger.emit()
    return MappedDataset(data, report)


def _resolve_settings(spec: ColumnMapping, folder: FunnelSettings | None,
                      settings: SettingsLike) -> FunnelSettings:
    raw = dict(spec.settings)
    where = f"mapping {spec.name} settings"
    if folder is not None:
        raw.update({k: v for k, v in folder.to_dict().items() if k not in folder.defaulted})
        where = f"{where} + {folder.source}"
    base = FunnelSettings.from_mapping(raw, source=where)
    resolved = coerce_settings(settings, base=base)
    assert resolved is not None
    return resolved


def _read(tables: dict[tuple[Any, ...], Table], path: Path, encoding: str | None, spec: ColumnMapping) -> Table:
    key = (path, encoding, spec.read)
    if key not in tables:
        tables[key] = Table.read(path, encoding, footer=spec.read.footer, null_values=spec.read.null_values,
                                 prefixes=spec.read.strip_prefix)
    return tables[key]


def _choose_variant(base: ColumnMapping, path: Path, folder: Path, encoding: str | None,
                    tables: dict[tuple[Any, ...], Table]) -> tuple[ColumnMapping, Path]:
    """Return the first variant whose main file is here and has the variant's ``detect`` columns."""
    variants = base.variants or (base,)
    if len(variants) == 1 and not variants[0].detect:
        main = path if path.is_file() else find_file(folder, variants[0].file, required=True, what="main file (file:)")
        assert main is not None
        return variants[0], main
    reasons = []
    for variant in variants:
        label = variant.variant or variant.name
        try:
            main = path if path.is_file() else find_file(folder, variant.file, required=False, what="main file")
        except DataFileError as err:  # several files match: not this variant's folder
            reasons.append(f"{label}: {str(err).splitlines()[0]}")
            continue
        if main is None:
            reasons.append(f"{label}: no file {' or '.join(map(repr, variant.file))}")
            continue
        table = _read(tables, main, encoding, variant)
        missing = [" | ".join(d.sources) for d in variant.detect
                   if not any(table.resolve(name) for name in d.sources)]
        if not missing:
            return variant, main
        reasons.append(f"{label}: {main.name} lacks {', '.join(map(repr, missing))}")
    if len(variants) == 1:
        main = path if path.is_file() else find_file(folder, variants[0].file, required=True, what="main file")
        assert main is not None
        return variants[0], main
    found = ", ".join(sorted(p.name for p in folder.iterdir())) if folder.is_dir() else ""
    raise DataFileError(
        f"does not look like any layout the mapping {base.name} reads ({'; '.join(reasons)}); files: {found}",
        path=str(path), fix="check that this is the export the mapping is for (docs/presets.md lists the exact "
                            "files and columns of each preset), or copy the preset and adapt it")


def _boolean(text: pd.Series) -> tuple[pd.Series, np.ndarray]:
    low = text.str.casefold()
    value = low.isin(_TRUE)
    bad = (text.notna() & ~value & ~low.isin(_FALSE)).to_numpy()
    return value, bad


class _Run:
    """The state of one mapping run: the tables read and the ledger of what each step did."""

    def __init__(self, spec: ColumnMapping, folder: Path, encoding: str | None, settings: FunnelSettings,
                 strict: bool, tables: dict[tuple[Any, ...], Table]):
        self.spec, self.folder, self.encoding, self.settings = spec, folder, encoding, settings
        self.tz = settings.timezone
        self.origin = f"mapping {spec.origin}"
        self.ledger = Ledger(strict=strict)
        self.tables = tables
        self.main: Table | None = None
        self.consumed: set[str] = set()
        self.aside_reason: dict[str, str] = {}
        self.learned: dict[str, str] = {}
        self.stage_translator = Translator(spec.values.get("stage"), spec.patterns.get("stage", ()))
        self.rank_columns: list[tuple[str, str]] = []
        self.optional_absent: set[str] = set()
        self.time_order = ""
        self.main_ids: pd.Series | None = None
        self.main_pipelines: pd.Series | None = None
        self.history_plan: HistoryPlan | None = None

    # ------------------------------------------------------------------ files
    def read(self, path: Path, role: str) -> Table:
        table = _read(self.tables, path, self.encoding, self.spec)
        self.ledger.file_read(table, role)
        return table

    # ------------------------------------------------------------------ opportunities
    def opportunities(self, main: Table) -> pd.DataFrame:
        """Map the main file: columns, values, lookups, set_aside, clear, timestamps, quirks."""
        spec, ledger = self.spec, self.ledger
        self.main = main
        counts = ledger.table("opportunities")
        counts.file, counts.encoding = main.name, main.export.encoding
        counts.rows_read = len(main.frame)
        counts.footer_lines, counts.blank_lines = len(main.export.footer), main.export.blank_lines
        problems: list[Problem] = []
        out = pd.DataFrame(index=main.frame.index)
        term_rows: np.ndarray | None = None
        for target, col_spec in spec.columns:
            if target == "status" and (col_spec.flags or col_spec.probability):
                result = self._status(main, col_spec, problems)
                if result is not None:
                    out[target], term_rows = result
                continue
            series = self._column(main, target, col_spec, problems)
            if series is not None:
                out[target] = series
        for i, source in enumerate(spec.stage_order):
            if source.kind == "column" and source.column is not None:
                ev = evaluate(main, source.column)
                if ev is not None:
                    numbers, _ = parse_numbers(ev.values)
                    name = f"_rank{i}"
                    out[name] = numbers
                    self.rank_columns.append((name, f"{' / '.join(ev.used)} of {main.name}"))
        self.history_plan = plan_history(self, main)
        if problems:
            raise DataSchemaError.from_problems(problems)
        extras = [col for col in main.frame.columns if col not in self.consumed and col not in out.columns]
        for col in extras:
            out[col] = main.frame[col]
        if extras:
            ledger.steps.append(f"extra columns kept as they are: {', '.join(map(str, extras))}")
        for target, _ in spec.columns:
            if target in out.columns and not (target == "stage" and spec.stage_outcomes):
                rows_mask = term_rows if target == "status" else None
                self._map_values(out, target, main, rows_mask)
        if "opportunity_id" in out.columns:
            self.main_ids = clean_text(out["opportunity_id"])
        if "pipeline" in out.columns:
            self.main_pipelines = clean_text(out["pipeline"])
        for lookup in spec.lookups:
            self._join(out, lookup)
        out[_HIDDEN] = main.positions
        out = self._set_aside(out, main)
        self._check_status(out, main)
        if spec.stage_outcomes and "stage" in out.columns:
            self._learn_outcomes(out)
            learned = clean_text(out["stage"]).isin(list(self.learned)).to_numpy(dtype=bool)
            self._map_values(out, "stage", main, ~learned)
            if learned.any():
                out.loc[learned, "stage"] = clean_text(out["stage"])[learned].map(self.learned)
        self._clear(out)
        self._timestamps(out, main)
        self._amounts(out, main)
        if ledger.problems:
            raise DataSchemaError.from_problems(ledger.problems)
        out = self._quirks(out, main)
        if not ledger.problems:  # rows a strict rule refused would only repeat here
            self._check_closed(out, main)
        if ledger.problems:
            raise DataSchemaError.from_problems(ledger.problems)
        return out.reset_index(drop=True)

    def _column(self, table: Table, target: str, col: ColumnSpec, problems: list[Problem]) -> pd.Series | None:
        where = f"columns.{target}"
        ev = evaluate(table, col, self.consumed)
        names = list(col.sources) or [target]
        if ev is None:
            if col.optional:
                self.optional_absent.add(target)
                shown = ", ".join(map(repr, names))
                self.ledger.steps.append(f"optional column(s) {shown} not in {table.name}: {target} left empty")
                self.ledger.notes.append(f"mapping left {target} empty: optional column(s) {shown} "
                                         f"not in {table.name}")
                return None
            problems.append(table.missing(names, where, f"correct {where} in the mapping to a column of the file "
                                                        "(or add a candidate name), or mark it "
                                                        "{from: ..., optional: true}"))
            return None
        fixed = [t for t in col.terms if t.line or t.value is not None]
        for term in fixed:
            n = ev.provenance.get(term.label, 0)
            if n:
                self.ledger.notes.append(f"mapping: {target} of {rows(n)} of {table.name} is {term.label} "
                                         "(no column gave a value)")
        if len(col.terms) > 1:
            self.ledger.provenance[target] = {k: v for k, v in ev.provenance.items() if v}
            self.ledger.steps.append(f"{target}: the first non-empty of {', '.join(map(repr, ev.used))}"
                                     + (f" (not in the file: {', '.join(map(repr, ev.absent))})" if ev.absent else ""))
        values = ev.values
        if col.scale is not None:
            numbers, bad = parse_numbers(values)
            if bad.any():
                problems.append(Problem("has values that cannot be read as a number", str(table.path),
                                        "write plain numbers (0.25, 25), or map another column", ev.used[0],
                                        tuple(table.label(np.flatnonzero(bad))), tuple(values[bad])))
            values = numbers * col.scale
        return values

    def _status(self, table: Table, col: ColumnSpec, problems: list[Problem]
                ) -> tuple[pd.Series, np.ndarray] | None:
        """A status from flags, then a probability, then stage values (row by row)."""
        n = len(table.frame)
        status = pd.Series([None] * n, index=table.frame.index, dtype=object)
        decided = np.zeros(n, dtype=bool)
        found: list[str] = []
        mapped = self.ledger.mapped
        if col.flags is not None:
            closed_col = next((r for name in col.flags[0] if (r := table.resolve(name))), None)
            won_col = next((r for name in col.flags[1] if (r := table.resolve(name))), None)
            flag_values = {}
            for real in (closed_col, won_col):
                if real is None:
                    continue
                self.consumed.add(real)
                value, bad = _boolean(table.text(real))
                if bad.any():
                    problems.append(Problem(
                        "has values that are not true/false", str(table.path),
                        "write true or false (1/0 and yes/no are read too) in the flag columns", real,
                        tuple(table.label(np.flatnonzero(bad))), tuple(table.text(real)[bad])))
                flag_values[real] = (value.to_numpy(dtype=bool), table.text(real).notna().to_numpy(dtype=bool))
            if closed_col is not None or won_col is not None:
                found.append(" / ".join(c for c in (closed_col, won_col) if c))
                won_v, won_set = flag_values.get(won_col, (np.zeros(n, bool), np.zeros(n, bool))) if won_col \
                    else (np.zeros(n, bool), np.zeros(n, bool))
                if closed_col is not None:
                    closed_v, closed_set = flag_values[closed_col]
                    is_open = closed_set & ~closed_v
                    is_won = closed_set & closed_v & won_set & won_v
                    is_lost = closed_set & closed_v & won_set & ~won_v
                    if won_col is None:
                        self.ledger.steps.append(f"status: {closed_col} without a won flag: closed deals are won or "
                                                 "lost by the next rule")
                else:
                    is_open = np.zeros(n, bool)
                    is_won = won_set & won_v
                    is_lost = np.zeros(n, bool)
                names = ", ".join(c for c in (closed_col, won_col) if c)
                for outcome, mask, shown in (("won", is_won, "closed, won"), ("lost", is_lost, "closed, not won"),
                                             ("open", is_open, "not closed")):
                    status[mask] = outcome
                    decided |= mask
                    if mask.any():
                        mapped.append(("status", f"{names}: {shown}", outcome, int(mask.sum())))
        if col.probability is not None:
            ev = evaluate(table, ColumnSpec(col.probability.terms), self.consumed)
            if ev is not None:
                found.append(" / ".join(ev.used))
                numbers, bad = parse_numbers(ev.values)
                if bad.any():
                    problems.append(Problem("has values that cannot be read as a probability", str(table.path),
                                            "write plain numbers (0.4, or 40 with a scale)", ev.used[0],
                                            tuple(table.label(np.flatnonzero(bad))), tuple(ev.values[bad])))
                p = numbers.to_numpy()
                label = ev.used[0]
                won = ~decided & np.isclose(p, col.probability.won) & ~np.isnan(p)
                lost = ~decided & np.isclose(p, col.probability.lost) & ~np.isnan(p)
                other = ~decided & ~np.isnan(p) & ~won & ~lost
                for outcome, mask, shown in (("won", won, f"= {col.probability.won:g}"),
                                             ("lost", lost, f"= {col.probability.lost:g}")):
                    status[mask] = outcome
                    decided |= mask
                    if mask.any():
                        mapped.append(("status", f"{label} {shown}", outcome, int(mask.sum())))
                if other.any():
                    status[other] = "open"
                    decided |= other
                    mapped.append(("status", f"{label} between {col.probability.lost:g} and "
                                             f"{col.probability.won:g}", "open", int(other.sum())))
        term_rows = np.zeros(n, dtype=bool)
        if col.terms:
            ev = evaluate(table, ColumnSpec(col.terms), self.consumed)
            if ev is not None:
                found.append(" / ".join(ev.used))
                term_rows = ~decided & ev.values.notna().to_numpy(dtype=bool)
                status[term_rows] = ev.values[term_rows].to_numpy(dtype=object)
        if not found:
            problems.append(table.missing(list(col.sources), "columns.status",
                                          "export the status columns the mapping reads (flags, probability or stage), "
                                          "or correct columns.status"))
            return None
        self.ledger.steps.append(f"status: from {', then '.join(found)} (row by row, the first that tells)")
        return status, term_rows

    def _map_values(self, frame: pd.DataFrame, column: str, table: Table, rows_mask: np.ndarray | None = None,
                    table_name: str = "opportunities") -> None:
        translator = self.stage_translator if column == "stage" else \
            Translator(self.spec.values.get(column), self.spec.patterns.get(column, ()))
        if translator.empty:
            return
        text = clean_text(frame[column])
        if rows_mask is not None:
            text = text.where(rows_mask)
        new, made, errors = translator(text)
        if rows_mask is not None:
            keep = frame[column].astype(object).copy()
            keep[rows_mask] = new[rows_mask].to_numpy(dtype=object)
            frame[column] = keep
        else:
            frame[column] = new
        shown_as = column if table_name == "opportunities" else f"{column} (history)"
        self.ledger.mapped.extend((shown_as, f, t, n) for f, t, n, _ in made)
        self.ledger.count_unmapped(table_name, column, made)
        caught = [(f, t, n) for f, t, n, unmapped in made if unmapped]
        if caught:
            shown = ", ".join(f"{f!r} ({n:,})" for f, _, n in caught[:8]) + (" …" if len(caught) > 8 else "")
            targets = ", ".join(sorted({repr(t) for _, t, _ in caught}))
            message = (f"{shown_as}: {len(caught)} value(s) the mapping does not name were read as {targets} by its "
                       f"catch-all rule: {shown}")
            if self.ledger.strict:
                mask = np.zeros(len(frame), dtype=bool)
                caught_values = {f for f, _, _ in caught}
                mask[np.flatnonzero(member(text, caught_values))] = True
                self.ledger.problems.append(Problem(
                    f"has values the mapping does not name (a catch-all rule reads them as {targets})",
                    str(table.path), f"name each value under values.{column} in a copy of the mapping, or run "
                                     "without --strict / strict=True", self._source_name(column),
                    tuple(self._row_labels(frame, table, mask)), tuple(f for f, _, _ in caught)))
            else:
                self.ledger.warn(message + f" (name them under values.{column} to silence this; --strict makes "
                                           "it an error)")
        if errors.any():
            messages = errors.attrs.get("messages", {})
            values = text[errors.to_numpy(dtype=bool)]
            counts = values.value_counts()
            shown_values = tuple(f"{v} ({n:,})" for v, n in counts.items())
            why = "; ".join(sorted(set(messages.values())))
            self.ledger.problems.append(Problem(
                f"has values the mapping cannot translate: {why}", str(table.path),
                f"name them under values.{column} in a copy of the mapping (e.g. '{counts.index[0]}': open), or "
                "export the columns that tell the outcome (docs/presets.md)", self._source_name(column),
                tuple(self._row_labels(frame, table, errors.to_numpy(dtype=bool))), shown_values))

    def _row_labels(self, frame: pd.DataFrame, table: Table, mask: np.ndarray) -> list[str]:
        positions = frame[_HIDDEN].to_numpy()[mask] if _HIDDEN in frame.columns else np.flatnonzero(mask)
        lines = table.label(positions)
        if "opportunity_id" in frame.columns:
            ids = clean_text(frame["opportunity_id"]).to_numpy(dtype=object)[mask]
            return [f"{i} ({ln})" if isinstance(i, str) else ln for i, ln in zip(ids, lines, strict=True)]
        return lines

    def _source_name(self, target: str) -> str:
        spec = dict(self.spec.columns).get(target)
        if spec is None:
            return target
        main = self.main
        found = [r for name in spec.sources if main is not None and (r := main.resolve(name))]
        return ", ".join(dict.fromkeys(found or spec.sources)) or target

    def _check_status(self, out: pd.DataFrame, main: Table) -> None:
        if "status" not in out.columns:
            return
        text = clean_text(out["status"])
        off = (text.notna() & ~text.str.casefold().isin(STATUSES)).to_numpy(dtype=bool)
        if not off.any():
            return
        counts = text[off].value_counts()
        self.ledger.problems.append(Problem(
            f"has {len(counts)} value(s) that are not a status (open, won, lost) and that the mapping does not "
            "translate", str(main.path),
            "add each value under values.status in a copy of the mapping (e.g. 'Closed: won': won, "
            "'Negotiation': open), or export the columns that tell the outcome (docs/presets.md)",
            self._source_name("status"), tuple(self._row_labels(out, main, off)),
            tuple(f"{v} ({n:,})" for v, n in counts.items())))

    def _learn_outcomes(self, out: pd.DataFrame) -> None:
        """``stage_outcomes: from_status``: a stage held only by won (lost) deals is the won (lost) stage."""
        if self.spec.stage_outcomes != "from_status" or "stage" not in out.columns or "status" not in out.columns:
            return
        stage = clean_text(out["stage"])
        status = clean_text(out["status"]).str.casefold()
        outcomes = {self.settings.won, self.settings.lost}
        pairs = pd.DataFrame({"stage": stage, "status": status}).dropna()
        pairs = pairs[~pairs["stage"].isin(outcomes)]
        for value, group in pairs.groupby("stage", sort=False)["status"]:
            held = set(group)
            if held == {"won"}:
                self.learned[str(value)] = self.settings.won
            elif held == {"lost"}:
                self.learned[str(value)] = self.settings.lost
        if not self.learned:
            return
        for value, outcome in self.learned.items():
            n = int((stage == value).sum())
            self.ledger.mapped.append(("stage", value, outcome, n))
        self.ledger.steps.append("stage outcomes from the status: " + ", ".join(
            f"{v!r} → {o}" for v, o in self.learned.items()) + " (each held only by deals of that outcome)")

    def translate_stage(self, series: pd.Series, table_name: str, table: Table, frame: pd.DataFrame) -> pd.Series:
        """Translate history stage values: the learned outcomes first, then the stage map and patterns."""
        text = clean_text(series)
        learned = text.isin(list(self.learned)).to_numpy(dtype=bool)
        frame = frame.assign(stage=text)
        self._map_values(frame, "stage", table, ~learned if learned.any() else None, table_name=table_name)
        out = clean_text(frame["stage"])
        if learned.any():
            out = out.where(~learned, text.map(self.learned))
        return out

    def stage_names(self, values: list[str]) -> list[str | None]:
        """Translate stage names (of date columns) as stage values are, without counting them."""
        out, _, _ = self.stage_translator(pd.Series(values, dtype=object))
        return [self.learned.get(raw, new) if isinstance(new, str) else None
                for raw, new in zip(values, out, strict=True)]

    def _join(self, out: pd.DataFrame, lookup: Lookup) -> None:
        path = find_file(self.folder, (lookup.file,), required=not lookup.optional, what="lookup file")
        names = ", ".join(k for k, _ in lookup.columns)
        ledger = self.ledger
        if lookup.left not in out.columns and lookup.optional:
            ledger.steps.append(f"lookup {lookup.file}: skipped, the export has no {lookup.left!r} column "
                                f"(optional): {names} not added")
            return
        if lookup.left not in out.columns:
            raise SettingsError(
                f"lookup {lookup.file} joins on {lookup.left!r}, which the mapped table does not have "
                f"(columns: {', '.join(map(str, out.columns))})", source=self.origin,
                fix="put a mapped column (or an export column kept as it is) on the left of 'on'")
        left = clean_text(out[lookup.left])
        fallback = dict(lookup.fallback)
        if path is None:
            ledger.steps.append(f"lookup {lookup.file}: file not present (optional): "
                                + (", ".join(f"{new} is the {col}" for new, col in fallback.items()) if fallback
                                   else f"{names} not added"))
            if fallback:
                for new, col in fallback.items():
                    out[new] = clean_text(out[col])
                    ledger.provenance[new] = {f"{col} (no {lookup.file})": int(out[new].notna().sum())}
                ledger.notes.append(f"mapping: no {lookup.file} in the export: "
                                    + ", ".join(f"{new} is the {col}" for new, col in fallback.items()))
            else:
                ledger.notes.append(f"mapping: optional lookup file {lookup.file} not found, {names} not added")
            return
        table = self.read(path, f"lookup ({names})")
        right = table.resolve(lookup.right)
        problems = [] if right is not None else [table.missing([lookup.right], f"lookup {lookup.file} 'on' key",
                                                               "correct the lookup's 'on' key in the mapping")]
        evaluated = {}
        for new, col_spec in lookup.columns:
            ev = evaluate(table, col_spec)
            if ev is None:
                problems.append(table.missing(list(col_spec.sources), f"lookup {lookup.file} columns.{new}",
                                              "correct the lookup's columns in the mapping"))
            else:
                evaluated[new] = ev
        if problems:
            raise DataSchemaError.from_problems(problems)
        assert right is not None
        key = table.text(right)
        repeated = (key.notna() & key.duplicated(keep=False)).to_numpy(dtype=bool)
        if repeated.any():
            raise DataSchemaError(
                "has repeated lookup keys (each key must name one row)", source=str(table.path),
                column=lookup.right, ids=table.label(np.flatnonzero(repeated)), values=list(key[repeated]),
                fix="keep one row per key in the lookup file")
        keep = key.notna().to_numpy(dtype=bool)
        index = pd.Index(key.to_numpy()[keep])
        for new, ev in evaluated.items():
            values = pd.Series(ev.values.to_numpy()[keep], index=index)
            out[new] = left.map(values)
            sources = pd.Series(_provenance_labels(table, lookup.columns, new), dtype=object)
            origin = left.map(pd.Series(sources.to_numpy()[keep], index=index))
            if new in fallback:
                col = fallback[new]
                empty = out[new].isna() & clean_text(out[col]).notna()
                out.loc[empty, new] = clean_text(out[col])[empty]
                origin = origin.where(~empty, f"{col} (nothing in {lookup.file})")
            counts = origin.where(out[new].notna()).value_counts()
            if len(lookup.columns[0][1].terms) > 1 or new in fallback:
                ledger.provenance[new] = {str(k): int(v) for k, v in counts.items()}
            self._map_values(out, new, self.main or table)
        blank = int(left.isna().sum())
        unmatched = left.notna().to_numpy(dtype=bool) & ~member(left, index)
        n_unmatched = int(unmatched.sum())
        ledger.steps.append(f"lookup {table.name} on {lookup.left} = {lookup.right}: "
                            f"{rows(len(left) - blank - n_unmatched)} matched, {n_unmatched:,} unmatched, "
                            f"{blank:,} with an empty key; added {names}")
        if n_unmatched:
            shown = ", ".join(map(repr, pd.unique(left[unmatched])[:5]))
            filled = f" ({', '.join(f'{k} from {v}' for k, v in fallback.items())})" if fallback else " left empty"
            ledger.notes.append(f"mapping: {rows(n_unmatched)} found no match in {table.name} "
                                f"({lookup.left} {shown}): {names}{filled}")

    def _match(self, frame: pd.DataFrame, rule: Rule, where: str) -> np.ndarray | None:
        mask = np.ones(len(frame), dtype=bool)
        for cond in rule.when:
            column = cond.column
            if column not in frame.columns and self.main is not None:
                column = self.main.resolve(column) or column
            if column not in frame.columns:
                if rule.optional or cond.column in self.optional_absent:
                    self.ledger.steps.append(f"{where}: skipped, the table has no column {cond.column!r}")
                    return None
                columns = ", ".join(str(c) for c in frame.columns if not str(c).startswith("_"))
                raise SettingsError(f"{where} tests column {cond.column!r}, which the mapped table does not "
                                    f"have (columns: {columns})", source=self.origin,
                                    fix="test a mapped column, or an export column kept as it is "
                                        "(or mark the rule optional: true)")
            text = clean_text(frame[column])
            wanted = [v for v in cond.values if v is not None]
            if column == "status":  # status is case-insensitive everywhere
                hit = text.str.casefold().isin([v.casefold() for v in wanted])
            else:
                hit = text.isin(wanted)
            hit_arr = hit.fillna(False).to_numpy(dtype=bool, copy=True)
            if None in cond.values:
                hit_arr = hit_arr | text.isna().to_numpy(dtype=bool)
            mask &= hit_arr
        return mask

    def _raw(self, main: Table, frame: pd.DataFrame) -> pd.DataFrame:
        return main.frame.iloc[frame[_HIDDEN].to_numpy()][
            [c for c in main.frame.columns if c not in ("table", "file", "line", "opportunity_id", "reason")]
        ].reset_index(drop=True)

    def _set_aside(self, out: pd.DataFrame, main: Table) -> pd.DataFrame:
        taken = np.zeros(len(out), dtype=bool)
        reasons = np.full(len(out), None, dtype=object)
        for i, rule in enumerate(self.spec.set_aside):
            matched = self._match(out, rule, f"set_aside[{i}]")
            if matched is None:
                continue
            mask = matched & ~taken
            taken |= mask
            reasons[mask] = rule.reason
            n = int(mask.sum())
            if not n:
                self.ledger.steps.append(f"set_aside[{i}]: no row matched — {rule.reason}")
                continue
            self.ledger.aside("opportunities", main, out, mask, rule.reason, lines=out[_HIDDEN].to_numpy(),
                              extra=self._raw(main, out))
            self.ledger.notes.append(f"mapping set aside {n:,} of {rows(len(out))} of {main.name}: {rule.reason} "
                                     "(rows listed in salesnb.apply_mapping(...).report.set_aside)")
        self._remember_aside(out, taken, reasons)
        return out.loc[~taken].reset_index(drop=True)

    def _remember_aside(self, out: pd.DataFrame, taken: np.ndarray, reasons: np.ndarray) -> None:
        if taken.any() and "opportunity_id" in out.columns:
            ids = clean_text(out.loc[taken, "opportunity_id"])
            for i, r in zip(ids, reasons[taken], strict=True):
                if isinstance(i, str):
                    self.aside_reason[i] = str(r)

    def _clear(self, out: pd.DataFrame) -> None:
        for i, rule in enumerate(self.spec.clear):
            assert rule.column is not None
            if rule.column not in out.columns:
                if rule.column in self.optional_absent:
                    continue
                raise SettingsError(f"clear[{i}] empties column {rule.column!r}, which the mapped table "
                                    "does not have", source=self.origin, fix="name a mapped column")
            matched = self._match(out, rule, f"clear[{i}]")
            if matched is None:
                continue
            mask = matched & out[rule.column].notna().to_numpy(dtype=bool)
            n = int(mask.sum())
            if n:
                out.loc[mask, rule.column] = np.nan
                self.ledger.notes.append(f"mapping emptied {rule.column} on {rows(n)}: {rule.reason}")
            self.ledger.steps.append(f"clear[{i}]: {rule.column} emptied on {rows(n)} — {rule.reason}")

    def parse_times(self, frame: pd.DataFrame, table: Table, columns: tuple[str, ...], table_name: str) -> None:
        """Parse timestamp columns with the mapping's formats; unreadable values are problems."""
        present = [c for c in columns if c in frame.columns]
        if not present:
            return
        texts = {c: clean_text(frame[c]) for c in present}
        parsed = parse_timestamp_columns(texts, self.spec.timestamp_format, self.tz, prefer=self.time_order)
        self.time_order = self.time_order or parsed.order
        if parsed.ambiguous:
            self.ledger.warn(f"{table.name}: every date reads both day-first and month-first; read as "
                             f"{parsed.order} (the first format listed): set timestamp_format to the export's "
                             "format to be sure")
        for col in present:
            bad = parsed.bad[col]
            if bad.any():
                formats = self.spec.timestamp_format.get(col, ("ISO8601",))
                how = " or ".join(repr(f) for f in formats)
                self.ledger.problems.append(Problem(
                    f"has values that do not match {how} (mapped to {col})", str(table.path),
                    "set timestamp_format in the mapping to the way these values are written "
                    "(e.g. '%m/%d/%Y' or '%d.%m.%Y %H:%M'), or correct the values",
                    self._source_name(col) if table_name == "opportunities" else col,
                    tuple(self._row_labels(frame, table, bad)), tuple(texts[col][bad])))
                continue
            used = [f for f in parsed.used[col] if f.upper() != "ISO8601"]
            if used:
                self.ledger.steps.append(f"{col}: timestamps read as {' / '.join(map(repr, used))}")
            value = parsed.values[col]
            if self.spec.date_only:
                frame[f"_exact_{col}"] = value  # the full time still orders entries of one day
                value = value.dt.normalize()
            frame[col] = value
        if self.spec.date_only:
            line = f"date_only: every timestamp reduced to its date (in {self.tz})"
            if line not in self.ledger.steps:
                self.ledger.steps.append(line)

    def _timestamps(self, out: pd.DataFrame, main: Table) -> None:
        self.parse_times(out, main, ("created_at", "closed_at", "expected_close_at"), "opportunities")

    def _check_closed(self, out: pd.DataFrame, main: Table) -> None:
        """Won and lost deals need their close time: say which columns were looked in."""
        if "status" not in out.columns:
            return
        closed = clean_text(out["status"]).str.casefold().isin(["won", "lost"]).to_numpy(dtype=bool)
        if "closed_at" in out.columns:
            if out["closed_at"].dtype == object:
                return
            missing = closed & out["closed_at"].isna().to_numpy(dtype=bool)
        else:
            missing = closed
        if not missing.any():
            return
        spec = dict(self.spec.columns).get("closed_at")
        looked = ", ".join(map(repr, spec.sources)) if spec is not None else "closed_at"
        found = self._source_name("closed_at") if "closed_at" in out.columns else "(no such column)"
        self.ledger.problems.append(Problem(
            f"gives won or lost deals no close time (closed_at from {found}; the mapping looks in {looked})",
            str(main.path), "export the column holding when each deal was won or lost, and add its name to "
            "columns.closed_at in a copy of the mapping if it is not listed",
            found if "closed_at" in out.columns else "closed_at",
            tuple(self._row_labels(out, main, missing))))

    def _amounts(self, out: pd.DataFrame, main: Table) -> None:
        if "amount" not in out.columns or out["amount"].dtype.kind == "f":
            return
        text = clean_text(out["amount"])
        values = pd.to_numeric(text, errors="coerce").astype("float64")
        bad = (text.notna() & values.isna()).to_numpy(dtype=bool)
        if bad.any():
            self.ledger.problems.append(Problem(
                "has values that cannot be read as a number (mapped to amount)", str(main.path),
                "write amounts as plain numbers (1250000.5) without thousands separators or currency signs; "
                "leave unknown amounts empty", self._source_name("amount"),
                tuple(self._row_labels(out, main, bad)), tuple(text[bad])))
            return
        out["amount"] = values

    # ------------------------------------------------------------------ quirk rules
    def quirk(self, rule: str, table_name: str, source: Table, frame: pd.DataFrame, mask: np.ndarray, *,
              what: str, column: str, fix: str, repair: tuple[str, pd.Series] | None = None,
              extra: pd.DataFrame | None = None, repair_words: str = "") -> np.ndarray:
        """Apply quirk ``rule`` to the rows under ``mask``; return the rows kept.

        ``repair`` is (column, repaired values) for rules that repair.
        """
        keep = np.ones(len(frame), dtype=bool)
        if not mask.any():
            return keep
        action = self.spec.rule(rule)
        n = int(mask.sum())
        if action == "keep":
            self.ledger.steps.append(f"{rule}: {rows(n)} of {source.name} kept as they are — {what}")
            return keep
        if action == "error" or self.ledger.strict:
            options = []
            for option in RULES[rule]:
                if option == "repair":
                    options.append(f"repair ({repair_words})")
                elif option == "set_aside":
                    options.append("set_aside (the rows are not loaded, counted with their reason)")
                elif option == "keep":
                    options.append("keep")
            how = f"or let the mapping handle them: rules: {{{rule}: ...}} with " + " or ".join(options)
            if self.ledger.strict:
                how += "; or run without --strict / strict=True"
            self.ledger.problems.append(Problem(
                f"{what} ({rule})", str(source.path), f"{fix}, {how}", column,
                tuple(self._row_labels(frame, source, mask))))
            return keep
        lines = frame[_HIDDEN].to_numpy()
        if action == "set_aside":
            self.ledger.aside(table_name, source, frame, mask, f"{what} ({rule})", lines=lines, extra=extra)
            self.ledger.notes.append(f"mapping set aside {rows(n)} of {source.name} ({table_name}, {rule}): {what}")
            keep &= ~mask
            return keep
        assert repair is not None
        col, after = repair
        before = frame[col].copy()
        frame.loc[mask, col] = after[mask]
        self.ledger.repair(table_name, source, frame, mask, rule, col, before, frame[col], lines=lines)
        self.ledger.notes.append(f"mapping repaired {rows(n)} of {source.name} ({table_name}, {rule}): {what}: "
                                 f"{repair_words}")
        return keep

    def _quirks(self, out: pd.DataFrame, main: Table) -> pd.DataFrame:
        keep = np.ones(len(out), dtype=bool)
        reasons = np.full(len(out), None, dtype=object)
        if "amount" in out.columns:
            negative = (out["amount"] < 0).fillna(False).to_numpy(dtype=bool)
            kept = self.quirk(
                "negative_amount", "opportunities", main, out, negative,
                what="negative amount", column=self._source_name("amount"),
                fix="correct the amounts in the CRM",
                repair=("amount", pd.Series(np.nan, index=out.index)),
                repair_words="amount emptied, the deal kept", extra=self._raw(main, out))
            reasons[~kept & keep] = "negative amount (negative_amount)"
            keep &= kept
        if "stage" in out.columns:
            blank = out["stage"].isna().to_numpy(dtype=bool) & keep
            kept = self.quirk("blank_stage", "opportunities", main, out, blank,
                              what="no stage",
                              column=self._source_name("stage"),
                              fix="give these deals their stage in the CRM",
                              repair_words="", extra=self._raw(main, out))
            reasons[~kept & keep] = "no stage (blank_stage)"
            keep &= kept
        if {"created_at", "closed_at"} <= set(out.columns):
            early = (out["closed_at"] < out["created_at"]).fillna(False).to_numpy(dtype=bool) & keep
            kept = self.quirk(
                "closed_before_created", "opportunities", main, out, early,
                what="closed_at is before created_at (as in records imported or entered after they closed)",
                column=self._source_name("closed_at"), fix="correct the dates in the CRM",
                repair=("created_at", out["closed_at"]),
                repair_words="created_at moved back to closed_at (their cycle reads 0 days)",
                extra=self._raw(main, out))
            reasons[~kept & keep] = "closed before it was created (closed_before_created)"
            keep &= kept
        self._remember_aside(out, ~keep, reasons)
        return out.loc[keep].reset_index(drop=True)

    # ------------------------------------------------------------------ stage order, pipelines, rates
    def evidence(self, opps: pd.DataFrame) -> list[OrderEvidence]:
        return [OrderEvidence(label, per_deal=opps[name]) for name, label in self.rank_columns
                if name in opps.columns]

    def check_pipelines(self, opps: pd.DataFrame, settings: FunnelSettings, main: Table) -> None:
        """Every deal's pipeline is a configured one, and its stage is one of that pipeline's."""
        if not settings.pipelines or "pipeline" not in opps.columns:
            return
        pipeline = clean_text(opps["pipeline"])
        stage = clean_text(opps["stage"]) if "stage" in opps.columns else None
        checked = pd.DataFrame({"pipeline": pipeline} if stage is None else {"pipeline": pipeline, "stage": stage})
        unknown, off = pipeline_stage_problems(checked, settings)
        if unknown.any():
            counts = pipeline[unknown].value_counts()
            self.ledger.problems.append(Problem(
                f"has pipelines that funnel.yml does not list ({', '.join(settings.pipelines)})", str(main.path),
                "add each pipeline to 'pipelines' in funnel.yml with its stages in funnel order",
                self._source_name("pipeline"), tuple(self._row_labels(opps, main, unknown)),
                tuple(f"{v} ({n:,})" for v, n in counts.items())))
        if off.any() and stage is not None:
            pairs = pd.Series([f"{s} (pipeline {p})" for s, p in zip(stage[off], pipeline[off], strict=True)])
            counts = pairs.value_counts(sort=False)
            self.ledger.problems.append(Problem(
                "has stages that are not stages of the deal's pipeline", str(main.path),
                "add the stage to its pipeline under 'pipelines' in funnel.yml, or correct the data",
                self._source_name("stage"), tuple(self._row_labels(opps, main, off)),
                tuple(f"{v} ({n:,})" for v, n in counts.items())))

    def rates(self, opps: pd.DataFrame, settings: FunnelSettings) -> tuple[pd.DataFrame | None, dict[str, Any]]:
        """Read the exchange rates (the folder's rates.csv, else the mapping's sources) and check coverage."""
        from salesnb.data.mapping_spec import ColumnSpec as Spec
        from salesnb.data.mapping_spec import RatesSource, Term

        canonical = RatesSource("rates.csv", tuple((k, Spec((Term((k,)),))) for k in ("currency", "valid_from",
                                                                                        "rate")))
        rates = None
        doc: dict[str, Any] = {"rates_file": None, "reporting_currency": settings.currency}
        reporting = settings.currency
        for source in (canonical, *self.spec.rates):
            path = find_file(self.folder, (source.file,), required=False, what="rates file")
            if path is None:
                continue
            table = self.read(path, "exchange rates")
            if table.frame.empty:
                self.ledger.steps.append(f"rates: {table.name} has no rows")
                continue
            frame = pd.DataFrame(index=table.frame.index)
            problems = []
            for target, col_spec in source.columns:
                ev = evaluate(table, col_spec)
                if ev is None:
                    if target == "valid_from":
                        continue
                    problems.append(table.missing(list(col_spec.sources), f"rates columns.{target}",
                                                  "correct the rates columns in the mapping"))
                else:
                    frame[target] = ev.values
            if problems:
                raise DataSchemaError.from_problems(problems)
            if source.reporting:
                marks = self._match(table.frame, Rule(source.reporting, "reporting"), "rates.reporting")
                if marks is not None and marks.any():
                    found = clean_text(frame["currency"])[marks].dropna().str.upper().unique().tolist()
                    if len(found) == 1 and reporting is None:
                        reporting = found[0]
                        self.ledger.steps.append(f"rates: reporting currency {reporting} (marked in {table.name})")
            rates = clean_rates(frame, source=str(table.path), tz=self.tz, reporting=reporting,
                                invert=source.invert, labels=table.export.labels)
            doc["rates_file"] = table.name
            doc["reporting_currency"] = reporting
            self.ledger.steps.append(f"rates: {rows(len(rates), 'rate')} for {rates['currency'].nunique()} "
                                     f"currencies from {table.name}" + (" (inverted: units per reporting unit)"
                                                                         if source.invert else ""))
            break
        check = check_rates(opps, rates, reporting)
        for note in check.notes:
            self.ledger.notes.append(note)
        doc.update({"currencies": check.currencies, "without_rate": check.without_rate,
                    "before_first_rate": check.before_first_rate,
                    "rates": None if rates is None else {c: int(n) for c, n in
                                                         rates["currency"].value_counts().sort_index().items()}})
        return rates, doc

    # ------------------------------------------------------------------ report
    def quality(self, order_doc: dict[str, Any], currencies: dict[str, Any], path: Path) -> dict[str, Any]:
        return quality_document(
            source=str(path), mapping=self.spec.name, variant=self.spec.variant or None,
            strict=self.ledger.strict, tables={k: v.as_dict() for k, v in self.ledger.tables.items()},
            files=self.ledger.files, stage_order=order_doc, columns=self.ledger.provenance,
            currencies=currencies, notes=self.ledger.notes, warnings=self.ledger.warnings)

    def report(self, n_opps: int, n_hist: int, quality: dict[str, Any], rates: pd.DataFrame | None) -> MappingReport:
        ledger = self.ledger
        aside = ledger.set_aside_frame()
        values = pd.DataFrame(ledger.mapped, columns=["column", "from_value", "to_value", "rows"])
        if len(values):
            values = values.groupby(["column", "from_value", "to_value"], sort=False, dropna=False)["rows"] \
                .sum().reset_index()
        read = {name: info["rows"] for name, info in ledger.files.items()}
        shown = ", ".join(f"{rows(n)} of {name}" for name, n in read.items())
        n_opp_aside = int((aside["table"] == "opportunities").sum())
        head = f"mapping {self.spec.title}: read {shown}; {n_opp_aside:,} opportunities set aside"
        title = f"{self.spec.title} ({self.spec.origin})"
        if self.spec.description:
            title = f"{title}: {self.spec.description}"
        notes = tuple(dict.fromkeys((head, *ledger.notes)))
        return MappingReport(title, read, n_opps, n_hist, aside, values, tuple(ledger.steps), notes,
                             ledger.repaired_frame(), quality, rates, tuple(ledger.warnings))


def _provenance_labels(table: Table, columns: tuple[tuple[str, ColumnSpec], ...], new: str) -> list[str]:
    """For each row of a lookup table, the term that gave the value of ``new`` (``User.csv: Alias``)."""
    spec = dict(columns)[new]
    label = np.full(len(table.frame), "", dtype=object)
    done = np.zeros(len(table.frame), dtype=bool)
    for term in spec.terms:
        ev = evaluate(table, ColumnSpec((term,)))
        if ev is None:
            continue
        has = ev.values.notna().to_numpy(dtype=bool) & ~done
        label[has] = f"{table.name}: {term.label}"
        done |= has
    return list(label)


def _labels_from(source_positions: np.ndarray, table: Table) -> RowLabel:
    """Label rows of a mapped table by their line in the export file they came from."""

    def label(positions: np.ndarray) -> list[str]:
        return table.label(source_positions[np.asarray(positions, dtype="int64")])

    return label
