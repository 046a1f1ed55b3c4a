"""Column mappings, applied: read a CRM export through a mapping into the canonical layout.

Steps, in order (each one vectorised over the whole table)::

    read the main file → columns → values → lookups (→ values of looked-up columns)
    → set_aside → clear → timestamps → history → SalesData.from_frames (validation)

Nothing is dropped silently: a row set aside is counted with its reason in
``SalesData.notes`` and listed, with its source line and original values, in
:attr:`MappingReport.set_aside`; every value translated is counted in
:attr:`MappingReport.values_mapped`. The mapping document itself is read by
:mod:`salesnb.data.mapping_spec`.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from salesnb.data.dataset import SalesData, SettingsLike
from salesnb.data.mapping_spec import (
    OTHER,
    ColumnMapping,
    ColumnSpec,
    Lookup,
    MappingLike,
    Rule,
    read_mapping,
)
from salesnb.data.readers import WORKBOOK_SUFFIXES, folder_settings, read_table, read_workbook
from salesnb.data.settings import FunnelSettings, coerce_settings
from salesnb.data.validation import RowLabel, clean_text, line_labels, parse_timestamps
from salesnb.exceptions import DataFileError, DataSchemaError, Problem, SettingsError

__all__ = ["MappedDataset", "MappingReport", "apply_mapping"]

_TRUE = frozenset({"true", "1", "yes", "y", "t"})
_FALSE = frozenset({"false", "0", "no", "n", "f"})
_META = ("table", "file", "line", "opportunity_id", "reason")


# --------------------------------------------------------------------------- the report
@dataclass(frozen=True, eq=False)
class MappingReport:
    """What a mapping did to an export.

    Attributes
    ----------
    mapping : str
        The mapping's name and origin.
    rows_read : dict
        Rows read per file (main file first).
    opportunities : int
        Opportunities handed to validation.
    history_rows : int
        Stage-history entries handed to validation.
    set_aside : DataFrame
        One row per row set aside: ``table`` (opportunities / stage_history), ``file``,
        ``line``, ``opportunity_id``, ``reason``, then the row's export columns
        (history rows: ``stage`` and ``entered_at``).
    values_mapped : DataFrame
        ``column``, ``from_value``, ``to_value``, ``rows``: every translation made.
    steps : tuple of str
        The other steps in plain words (lookups, clears, history, skipped columns).
    notes : tuple of str
        The lines added to ``SalesData.notes`` (counts and reasons of rows set aside,
        cleared values, unmatched lookups).
    """

    mapping: str
    rows_read: dict[str, int]
    opportunities: int
    history_rows: int
    set_aside: pd.DataFrame
    values_mapped: pd.DataFrame
    steps: tuple[str, ...]
    notes: tuple[str, ...]

    def set_aside_counts(self) -> pd.DataFrame:
        """Return the rows set aside counted by table, file and reason."""
        if self.set_aside.empty:
            return pd.DataFrame({"table": [], "file": [], "reason": [], "rows": []})
        return (self.set_aside.groupby(["table", "file", "reason"], sort=False).size()
                .rename("rows").reset_index())

    def describe(self) -> str:
        """Describe in plain lines what the mapping did: rows read, set aside and why, values mapped."""
        lines = [f"mapping: {self.mapping}"]
        lines.append("rows read: " + ", ".join(f"{n:,} from {name}" for name, n in self.rows_read.items()))
        lines.append(f"loaded: {self.opportunities:,} opportunities, {self.history_rows:,} stage-history entries")
        counts = self.set_aside_counts()
        lines.append(f"set aside: {_rows(len(self.set_aside))}" + (", by reason:" if len(counts) else ""))
        lines.extend(f"  - {_rows(int(n))} of {file} ({table}): {reason}"
                     for table, file, reason, n in counts[["table", "file", "reason", "rows"]].to_numpy())
        if len(self.values_mapped):
            lines.append("values mapped:")
            for col, grp in self.values_mapped.groupby("column", sort=False):
                pairs = ", ".join(f"{r.from_value!r} → {_show(r.to_value)} ({r.rows:,})"
                                  for r in grp.itertuples(index=False))
                lines.append(f"  {col}: {pairs}")
        else:
            lines.append("values mapped: none")
        if self.steps:
            lines.append("steps:")
            lines.extend(f"  {step}" for step in self.steps)
        return "\n".join(lines)


def _rows(n: int, noun: str = "row") -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def _show(value: Any) -> str:
    return "(empty)" if value is None or (isinstance(value, float) and np.isnan(value)) else repr(value)


class MappedDataset(NamedTuple):
    """The result of :func:`apply_mapping`: the validated dataset and the mapping's report."""

    data: SalesData
    report: MappingReport


# --------------------------------------------------------------------------- applying
class _Table:
    """An export file read as text, with its line labels and column resolution."""

    def __init__(self, path: Path, frame: pd.DataFrame, labels: RowLabel):
        self.path = path
        self.name = path.name
        frame = frame.set_axis([str(col).strip() for col in frame.columns], axis=1).reset_index(drop=True)
        self.frame = frame
        self.positions = np.arange(len(frame), dtype="int64")
        self._labels = labels
        self._text: dict[str, pd.Series] = {}

    def label(self, positions: np.ndarray) -> list[str]:
        """Label rows by their place in the file (``line 7``); only computed when shown."""
        return self._labels(np.asarray(positions, dtype="int64")) if len(positions) else []

    def resolve(self, name: str) -> str | None:
        """Return the file's column called ``name`` (exact, else the one case-insensitive match)."""
        if name in self.frame.columns:
            return name
        folded = [col for col in self.frame.columns if col.casefold() == name.casefold()]
        return folded[0] if len(folded) == 1 else None

    def text(self, column: str) -> pd.Series:
        """Return a column as trimmed text, blanks missing (cached)."""
        if column not in self._text:
            self._text[column] = clean_text(self.frame[column])
        return self._text[column]

    def missing(self, name: str, purpose: str, fix: str) -> Problem:
        near = difflib.get_close_matches(name, list(self.frame.columns), n=3, cutoff=0.6)
        hint = f" (close: {', '.join(map(repr, near))})" if near else ""
        found = ", ".join(map(str, self.frame.columns)) or "(none)"
        return Problem(f"column named by the mapping ({purpose}) is not in the file{hint}; columns found: {found}",
                       str(self.path), fix, name)


def apply_mapping(
    source: str | Path,
    mapping: MappingLike,
    *,
    settings: SettingsLike = None,
    encoding: str = "utf-8",
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
    encoding : str, default "utf-8"
        Text encoding of CSV files.

    Returns
    -------
    MappedDataset
        ``data`` (a validated :class:`~salesnb.data.SalesData` whose ``notes`` count
        the rows set aside, with their reasons) and ``report`` (a :class:`MappingReport`
        with the rows set aside and the values mapped as tables).

    Raises
    ------
    SettingsError
        The mapping is malformed or unknown.
    DataFileError
        A file named by the mapping is missing or unreadable.
    DataSchemaError
        A column named by the mapping is not in its file, a lookup key repeats, a
        timestamp does not match the format, or the mapped data break the canonical
        layout's rules.

    Examples
    --------
    >>> import salesnb as sn
    >>> data, report = sn.apply_mapping(sn.sample_path("maven"), "maven")
    >>> len(data.opportunities), report.set_aside_counts()["rows"].tolist()
    (8300, [500])
    """
    spec = read_mapping(mapping)
    path = Path(source)
    if not path.exists():
        raise DataFileError("no such file or folder", path=str(path),
                            fix=f"pass the export folder (holding {spec.file}) or the export file itself")
    folder = path if path.is_dir() else path.parent
    main_path = path if path.is_file() else _find(folder, spec.file, required=True, what="main file (file:)")
    assert main_path is not None
    tz_settings = _resolve_settings(spec, folder_settings(folder), settings)
    run = _Run(spec, folder, encoding, tz_settings.timezone)
    opps, opp_labels = run.opportunities(main_path)
    hist, hist_labels = run.history(opps)
    opps = opps.drop(columns=["_line"])
    report = run.report(len(opps), 0 if hist is None else len(hist))
    data = SalesData.from_frames(
        opps, hist, tz_settings, source=str(main_path),
        history_source=run.history_source, opportunities_rows=opp_labels,
        history_rows=hist_labels, notes=report.notes,
    )
    report = replace(report, opportunities=len(data.opportunities), history_rows=len(data.stage_history))
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


def _find(folder: Path, pattern: str, *, required: bool, what: str) -> Path | None:
    if any(ch in pattern for ch in "*?["):
        matches = sorted(p for p in folder.glob(pattern) if p.is_file() and not p.name.startswith("~$"))
    else:
        matches = [folder / pattern] if (folder / pattern).is_file() else []
    if len(matches) > 1:
        raise DataFileError(f"several files match {pattern!r} ({', '.join(p.name for p in matches)})",
                            path=str(folder), fix="keep one export in the folder, or pass the file itself")
    if not matches:
        if not required:
            return None
        found = ", ".join(sorted(p.name for p in folder.iterdir())) or "(empty folder)"
        raise DataFileError(f"the {what} {pattern!r} is not here (files: {found})", path=str(folder),
                            fix="put the export file in this folder under that name, pass the file itself, "
                                "or correct the name in the mapping")
    return matches[0]


def _read(path: Path, encoding: str) -> _Table:
    if path.suffix.lower() in WORKBOOK_SUFFIXES:
        # An export is its workbook's first sheet, read by the one workbook reader.
        frame = next(iter(read_workbook(path).values()))
        return _Table(path, frame, line_labels(2))
    frame, labels = read_table(path, encoding)
    return _Table(path, frame, labels)


def _boolean(text: pd.Series) -> tuple[pd.Series, np.ndarray]:
    low = text.str.casefold()
    value = low.isin(_TRUE)
    bad = (text.notna() & ~value & ~low.isin(_FALSE)).to_numpy()
    return value, bad


class _Run:
    """The state of one mapping run: the tables read and what each step did."""

    def __init__(self, spec: ColumnMapping, folder: Path, encoding: str, tz: str):
        self.spec, self.folder, self.encoding, self.tz = spec, folder, encoding, tz
        self.origin = f"mapping {spec.origin}"
        self.rows_read: dict[str, int] = {}
        self.set_aside: list[pd.DataFrame] = []
        self.mapped: list[tuple[str, Any, Any, int]] = []
        self.steps: list[str] = []
        self.notes: list[str] = []
        self.history_source: str | None = None
        self.main: _Table | None = None
        self.main_ids: pd.Series | None = None
        self.consumed: set[str] = set()
        self.wide: tuple[tuple[str, str], ...] = ()
        self.aside_reason: dict[str, str] = {}

    # ------------------------------------------------------------------ opportunities
    def opportunities(self, main_path: Path) -> tuple[pd.DataFrame, RowLabel]:
        """Map the main file: columns, values, lookups, set_aside, clear, timestamps."""
        spec = self.spec
        main = self.main = _read(main_path, self.encoding)
        self.rows_read[main.name] = len(main.frame)
        problems: list[Problem] = []
        out = pd.DataFrame(index=main.frame.index)
        for target, col_spec in spec.columns:
            series = self._column(main, target, col_spec, problems)
            if series is not None:
                out[target] = series
        problems.extend(self._wide_columns(main))
        if problems:
            raise DataSchemaError.from_problems(problems)
        replaced = [col for col in main.frame.columns if col not in self.consumed and col in out.columns]
        if replaced:
            self.steps.append(f"export column(s) {', '.join(map(repr, replaced))} replaced by the mapped "
                              "column(s) of the same name")
        extras = [col for col in main.frame.columns if col not in self.consumed and col not in out.columns]
        for col in extras:
            out[col] = main.frame[col]
        if extras:
            self.steps.append(f"extra columns kept as they are: {', '.join(map(str, extras))}")
        for target, _ in spec.columns:
            self._map_values(out, target)
        if "opportunity_id" in out.columns:
            self.main_ids = clean_text(out["opportunity_id"])
        for lookup in spec.lookups:
            self._join(out, lookup)
        out["_line"] = main.positions
        out = self._set_aside(out, main)
        self._clear(out)
        self._timestamps(out, main, ("created_at", "closed_at"))
        return out.reset_index(drop=True), _labels_from(out["_line"].to_numpy(), main)

    def _column(self, table: _Table, target: str, col: ColumnSpec,
                problems: list[Problem]) -> pd.Series | None:
        where = f"columns.{target}" if table is self.main else f"history.columns.{target}"
        if col.flags is not None:
            return self._flags(table, target, col.flags, where, problems)
        found = [(name, table.resolve(name)) for name in col.sources]
        absent = [name for name, real in found if real is None]
        present = [real for _, real in found if real is not None]
        if absent and not (col.optional and present):
            if col.optional:
                self.steps.append(f"optional column(s) {', '.join(map(repr, absent))} not in {table.name}: "
                                  f"{target} left empty")
                self.notes.append(f"mapping left {target} empty: optional column(s) "
                                  f"{', '.join(map(repr, absent))} not in {table.name}")
                return None
            problems.extend(table.missing(name, where, f"correct {where} in the mapping to a column of "
                                                       "the file, or mark it {from: ..., optional: true}")
                            for name in absent)
            return None
        self.consumed.update(present)
        series = table.text(present[0])
        for name in present[1:]:
            series = series.fillna(table.text(name))
        if len(present) > 1:
            self.steps.append(f"{target}: the first non-empty of {', '.join(map(repr, present))}")
        return series

    def _flags(self, table: _Table, target: str, flags: tuple[str, str], where: str,
               problems: list[Problem]) -> pd.Series | None:
        closed_col, won_col = (table.resolve(name) for name in flags)
        for name, real in zip(flags, (closed_col, won_col), strict=True):
            if real is None:
                problems.append(table.missing(name, where, f"correct {where} (closed: ..., won: ...)"))
        if closed_col is None or won_col is None:
            return None
        self.consumed.update((closed_col, won_col))
        closed, bad_closed = _boolean(table.text(closed_col))
        won, bad_won = _boolean(table.text(won_col))
        for name, bad in ((closed_col, bad_closed), (won_col, bad_won)):
            if bad.any():
                problems.append(Problem(
                    "has values that are not true/false", str(table.path),
                    "write true or false (1/0 and yes/no are read too) in the flag columns", name,
                    tuple(table.label(np.flatnonzero(bad))), tuple(table.text(name)[bad])))
        status = pd.Series(np.select([closed & won, closed & ~won], ["won", "lost"], "open"),
                           index=table.frame.index, dtype="str")
        shown = {"won": "true, true", "lost": "true, false", "open": "false, any"}
        for value in ("won", "lost", "open"):
            n = int((status == value).sum())
            if n:
                self.mapped.append((target, f"{closed_col}, {won_col} = {shown[value]}", value, n))
        return status

    def _wide_columns(self, main: _Table) -> list[Problem]:
        hist = self.spec.history
        if hist is None or hist.file is not None:
            return []
        if hist.wide_pattern is None:
            problems = []
            found = []
            for stage, column in hist.wide:
                real = main.resolve(column)
                if real is None:
                    problems.append(main.missing(column, f"history.wide.{stage}",
                                                 "correct the column name under history.wide"))
                else:
                    found.append((stage, real))
            self.wide = tuple(found)
            if hist.optional:
                problems = []
        else:
            self.wide = tuple((m.group("stage").strip(), col) for col in main.frame.columns
                              if (m := hist.wide_pattern.search(col)) is not None)
            problems = []
            if not self.wide and not hist.optional:
                problems.append(Problem(
                    f"no column matches the history pattern {hist.wide_pattern.pattern!r}; columns found: "
                    f"{', '.join(map(str, main.frame.columns))}", str(main.path),
                    "add the 'Date entered ...' columns to the export, or correct history.wide_pattern",
                    "history.wide_pattern"))
        # Date columns used for the history are consumed too, unless a column mapping uses them.
        self.consumed.update(col for _, col in self.wide)
        return problems

    def _map_values(self, frame: pd.DataFrame, column: str) -> None:
        table = self.spec.values.get(column)
        if table and column in frame.columns:
            frame[column] = self._translate(clean_text(frame[column]), column, table)

    def _translate(self, series: pd.Series, column: str, table: dict[str, str | None]) -> pd.Series:
        exact = {k: v for k, v in table.items() if k != OTHER}
        hit = series.isin(list(exact)).to_numpy(dtype=bool)
        if OTHER in table:
            other = series.notna().to_numpy(dtype=bool) & ~hit
        else:
            other = np.zeros(len(series), dtype=bool)
        out = series.copy()
        if hit.any():
            out[hit] = series[hit].map(exact)
        if other.any():
            out[other] = table[OTHER]
        for value, n in series[hit].value_counts(sort=False).items():
            self.mapped.append((column, value, exact[str(value)], int(n)))
        for value, n in series[other].value_counts(sort=False).items():
            self.mapped.append((column, value, table[OTHER], int(n)))
        return out

    def _join(self, out: pd.DataFrame, lookup: Lookup) -> None:
        path = _find(self.folder, lookup.file, required=not lookup.optional, what="lookup file")
        names = ", ".join(k for k, _ in lookup.columns)
        if path is None:
            self.steps.append(f"lookup {lookup.file}: file not present (optional): {names} not added")
            self.notes.append(f"mapping: optional lookup file {lookup.file} not found, {names} not added")
            return
        table = _read(path, self.encoding)
        self.rows_read[table.name] = len(table.frame)
        if lookup.left not in out.columns:
            raise SettingsError(
                f"lookup {lookup.file} joins on {lookup.left!r}, which the mapped table does not have "
                f"(columns: {', '.join(map(str, out.columns))})", source=self.origin,
                fix="put a mapped column (or an export column kept as it is) on the left of 'on'")
        wanted = [(lookup.right, "'on' key"), *((col, "columns") for _, col in lookup.columns)]
        problems = [table.missing(name, f"lookup {lookup.file} {purpose}",
                                  f"correct the lookup's {purpose} in the mapping")
                    for name, purpose in wanted if table.resolve(name) is None]
        if problems:
            raise DataSchemaError.from_problems(problems)
        key = table.text(table.resolve(lookup.right) or lookup.right)
        repeated = (key.notna() & key.duplicated(keep=False)).to_numpy(dtype=bool)
        if repeated.any():
            raise DataSchemaError(
                "has repeated lookup keys (each key must name one row)", source=str(table.path),
                column=lookup.right, ids=table.label(np.flatnonzero(repeated)), values=list(key[repeated]),
                fix="keep one row per key in the lookup file")
        keep = key.notna().to_numpy(dtype=bool)
        values = pd.DataFrame({new: table.text(table.resolve(col) or col).to_numpy()[keep]
                               for new, col in lookup.columns}, index=pd.Index(key.to_numpy()[keep]))
        left = clean_text(out[lookup.left])
        for new, _ in lookup.columns:
            out[new] = left.map(values[new])
            self._map_values(out, new)
        blank = int(left.isna().sum())
        unmatched = (left.notna() & ~left.isin(values.index)).to_numpy(dtype=bool)
        n_unmatched = int(unmatched.sum())
        self.steps.append(f"lookup {table.name} on {lookup.left} = {lookup.right}: "
                          f"{_rows(len(left) - blank - n_unmatched)} matched, {n_unmatched:,} unmatched, "
                          f"{blank:,} with an empty key; added {names}")
        if n_unmatched:
            shown = ", ".join(map(repr, pd.unique(left[unmatched])[:5]))
            self.notes.append(f"mapping: {_rows(n_unmatched)} found no match in {table.name} "
                              f"({lookup.left} {shown}): {names} left empty")

    def _match(self, frame: pd.DataFrame, rule: Rule, where: str) -> np.ndarray:
        mask = np.ones(len(frame), dtype=bool)
        for cond in rule.when:
            if cond.column not in frame.columns:
                columns = ", ".join(str(c) for c in frame.columns if c != "_line")
                raise SettingsError(f"{where} tests column {cond.column!r}, which the mapped table does not "
                                    f"have (columns: {columns})", source=self.origin,
                                    fix="test a mapped column, or an export column kept as it is")
            text = clean_text(frame[cond.column])
            wanted = [v for v in cond.values if v is not None]
            if cond.column == "status":  # status is case-insensitive everywhere
                hit = text.str.casefold().isin([v.casefold() for v in wanted])
            else:
                hit = text.isin(wanted)
            hit_arr = hit.fillna(False).to_numpy(dtype=bool, copy=True)
            if None in cond.values:
                hit_arr = hit_arr | text.isna().to_numpy(dtype=bool)
            mask &= hit_arr
        return mask

    def _set_aside(self, out: pd.DataFrame, main: _Table) -> pd.DataFrame:
        taken = np.zeros(len(out), dtype=bool)
        reasons = np.full(len(out), None, dtype=object)
        for i, rule in enumerate(self.spec.set_aside):
            mask = self._match(out, rule, f"set_aside[{i}]") & ~taken
            taken |= mask
            reasons[mask] = rule.reason
            n = int(mask.sum())
            if not n:
                self.steps.append(f"set_aside[{i}]: no row matched — {rule.reason}")
                continue
            ids = out.loc[mask, "opportunity_id"] if "opportunity_id" in out.columns else None
            meta = pd.DataFrame({"table": "opportunities", "file": main.name, "line": main.label(out.loc[mask, "_line"].to_numpy()),
                                 "opportunity_id": ids, "reason": rule.reason})
            raw = main.frame.loc[mask, [c for c in main.frame.columns if c not in _META]]
            self.set_aside.append(pd.concat([meta, raw], axis=1))
            self.notes.append(f"mapping set aside {n:,} of {_rows(len(out))} of {main.name}: {rule.reason} "
                              "(rows listed in salesnb.apply_mapping(...).report.set_aside)")
        if taken.any() and "opportunity_id" in out.columns:
            ids = clean_text(out.loc[taken, "opportunity_id"])
            self.aside_reason = {i: r for i, r in zip(ids, reasons[taken], strict=True) if isinstance(i, str)}
        return out.loc[~taken].reset_index(drop=True)

    def _clear(self, out: pd.DataFrame) -> None:
        for i, rule in enumerate(self.spec.clear):
            assert rule.column is not None
            if rule.column not in out.columns:
                raise SettingsError(f"clear[{i}] empties column {rule.column!r}, which the mapped table "
                                    "does not have", source=self.origin, fix="name a mapped column")
            mask = self._match(out, rule, f"clear[{i}]") & clean_text(out[rule.column]).notna().to_numpy(dtype=bool)
            n = int(mask.sum())
            if n:
                out.loc[mask, rule.column] = np.nan
                self.notes.append(f"mapping emptied {rule.column} on {_rows(n)}: {rule.reason}")
            self.steps.append(f"clear[{i}]: {rule.column} emptied on {_rows(n)} — {rule.reason}")

    def _timestamps(self, frame: pd.DataFrame, table: _Table, columns: Sequence[str]) -> None:
        problems: list[Problem] = []
        for col in columns:
            if col not in frame.columns:
                continue
            fmt = self.spec.timestamp_format.get(col)
            text = clean_text(frame[col])
            if fmt is None or fmt.upper() == "ISO8601":
                parsed, bad = parse_timestamps(text, tz=self.tz)
            else:
                raw = pd.to_datetime(text, format=fmt, errors="coerce", utc="%z" in fmt)
                bad = (text.notna() & raw.isna()).to_numpy(dtype=bool)
                parsed = raw.dt.tz_convert(self.tz) if "%z" in fmt else parse_timestamps(raw, tz=self.tz)[0]
            if bad.any():
                ids = clean_text(frame["opportunity_id"]).to_numpy()[bad] if "opportunity_id" in frame.columns \
                    else np.full(int(bad.sum()), None)
                rows = [f"{i} ({ln})" if isinstance(i, str) else str(ln)
                        for i, ln in zip(ids, table.label(frame["_line"].to_numpy()[bad]), strict=True)]
                how = f"the format {fmt!r}" if fmt and fmt.upper() != "ISO8601" else "ISO 8601"
                problems.append(Problem(
                    f"has values that do not match {how} (mapped to {col})", str(table.path),
                    "set timestamp_format in the mapping to the way these values are written "
                    "(e.g. '%m/%d/%Y' or '%d.%m.%Y %H:%M'), or correct the values",
                    self._source_name(col), tuple(rows), tuple(text[bad])))
                continue
            frame[col] = parsed.dt.normalize() if self.spec.date_only else parsed
        if problems:
            raise DataSchemaError.from_problems(problems)
        if self.spec.date_only:
            line = f"date_only: every timestamp reduced to its date (in {self.tz})"
            if line not in self.steps:
                self.steps.append(line)

    def _source_name(self, target: str) -> str:
        specs = dict(self.spec.columns)
        if self.spec.history is not None:
            specs.update(dict(self.spec.history.columns))
            if target == "entered_at" and self.wide:
                return ", ".join(col for _, col in self.wide)
        spec = specs.get(target)
        return ", ".join(spec.sources) if spec is not None and spec.sources else target

    # ------------------------------------------------------------------ history
    def history(self, opps: pd.DataFrame) -> tuple[pd.DataFrame | None, RowLabel]:
        """Build the stage history (file or wide columns), map stages, set rows aside."""
        spec = self.spec.history
        main = self.main
        assert main is not None
        if spec is None:
            return None, _labels_from(np.array([], dtype="int64"), main)
        if spec.file is not None:
            path = _find(self.folder, spec.file, required=not spec.optional, what="history file")
            if path is None:
                self.steps.append(f"history: {spec.file} not present (optional): no stage history")
                return None, _labels_from(np.array([], dtype="int64"), main)
            table = _read(path, self.encoding)
            self.rows_read[table.name] = len(table.frame)
            self.history_source = str(path)
            problems: list[Problem] = []
            hist = pd.DataFrame(index=table.frame.index)
            for target, col in spec.columns:
                series = self._column(table, target, col, problems)
                if series is not None:
                    hist[target] = series
            if problems:
                raise DataSchemaError.from_problems(problems)
            hist["_line"] = table.positions
            what = table.name
        else:
            table = main
            self.history_source = f"{main.path} (stage history from its date columns)"
            hist = self._wide_to_long(main)
            shown = ", ".join(c for _, c in self.wide[:2]) + (", …" if len(self.wide) > 2 else "")
            what = (f"{len(self.wide)} date column(s) of {main.name} ({shown}; "
                    "wide → long: one entry per filled cell)")
        made = len(hist)
        if "stage" in self.spec.values:
            hist["stage"] = self._translate(clean_text(hist["stage"]), "stage (history)",
                                            self.spec.values["stage"])
        hist = self._history_of_aside(hist, table)
        self._timestamps(hist, table, ("entered_at",))
        hist = self._merge_repeats(hist, table)
        if spec.outside_life == "set_aside":
            hist = self._outside_life(hist, opps, table)
        self.steps.append(f"history: {made:,} entries from {what}; {len(hist):,} kept")
        labels = _labels_from(hist["_line"].to_numpy(), table)
        return hist.drop(columns=["_line"]).reset_index(drop=True), labels

    def _wide_to_long(self, main: _Table) -> pd.DataFrame:
        ids = self.main_ids if self.main_ids is not None else pd.Series(np.nan, index=main.frame.index)
        parts = [pd.DataFrame({"opportunity_id": ids.to_numpy(), "stage": stage,
                               "entered_at": main.text(column).to_numpy(), "_line": main.positions,
                               "_row": np.arange(len(main.frame)), "_order": order})
                 for order, (stage, column) in enumerate(self.wide)]
        if not parts:
            return pd.DataFrame({"opportunity_id": pd.Series(dtype="str"), "stage": pd.Series(dtype="str"),
                                 "entered_at": pd.Series(dtype="str"), "_line": pd.Series(dtype="int64")})
        long = pd.concat(parts, ignore_index=True)
        # Source order: by deal, then by column (left to right is the pipeline order in exports).
        long = long[long["entered_at"].notna()].sort_values(["_row", "_order"], kind="mergesort")
        return long.drop(columns=["_row", "_order"]).reset_index(drop=True)

    def _aside_history(self, hist: pd.DataFrame, mask: np.ndarray, table: _Table,
                       reasons: str | np.ndarray) -> None:
        if not mask.any():
            return
        frame = pd.DataFrame({
            "table": "stage_history", "file": table.name, "line": table.label(hist.loc[mask, "_line"].to_numpy()),
            "opportunity_id": hist.loc[mask, "opportunity_id"].to_numpy(),
            "reason": reasons if isinstance(reasons, str) else reasons[mask],
            "stage": hist.loc[mask, "stage"].to_numpy(),
            "entered_at": hist.loc[mask, "entered_at"].astype("str").to_numpy()})
        self.set_aside.append(frame)
        for reason, n in frame["reason"].value_counts(sort=False).items():
            self.notes.append(f"mapping set aside {n:,} stage-history entries of {table.name}: {reason}")

    def _history_of_aside(self, hist: pd.DataFrame, table: _Table) -> pd.DataFrame:
        if not self.aside_reason:
            return hist
        ids = clean_text(hist["opportunity_id"])
        mask = ids.isin(list(self.aside_reason)).to_numpy(dtype=bool)
        reasons = ("its opportunity was set aside (" + ids.map(self.aside_reason).fillna("") + ")").to_numpy(
            dtype=object)
        self._aside_history(hist, mask, table, reasons)
        return hist.loc[~mask].reset_index(drop=True)

    def _merge_repeats(self, hist: pd.DataFrame, table: _Table) -> pd.DataFrame:
        if hist.empty:
            return hist
        key = hist.assign(_seq=np.arange(len(hist)), _id=clean_text(hist["opportunity_id"]),
                          _stage=clean_text(hist["stage"]))
        ordered = key.sort_values(["_id", "entered_at", "_seq"], kind="mergesort")
        same = (ordered["_id"] == ordered["_id"].shift()) & (ordered["_stage"] == ordered["_stage"].shift())
        repeat = same.fillna(False).reindex(key.index).to_numpy(dtype=bool)
        self._aside_history(hist, repeat, table, "repeats the stage of the entry before it "
                                                 "(same opportunity): merged into that first entry")
        return hist.loc[~repeat].reset_index(drop=True)

    def _outside_life(self, hist: pd.DataFrame, opps: pd.DataFrame, table: _Table) -> pd.DataFrame:
        if hist.empty or "opportunity_id" not in opps.columns:
            return hist
        life = opps.assign(_id=clean_text(opps["opportunity_id"])).drop_duplicates("_id").set_index("_id")
        ids = clean_text(hist["opportunity_id"])
        entered = hist["entered_at"]
        none = np.zeros(len(hist), dtype=bool)
        before = (entered < ids.map(life["created_at"])).fillna(False).to_numpy(dtype=bool) \
            if "created_at" in life.columns else none
        after = (entered > ids.map(life["closed_at"])).fillna(False).to_numpy(dtype=bool) \
            if "closed_at" in life.columns else none
        outside = before | after
        reasons = np.where(before, "entered before the opportunity was created (its created_at)",
                           "entered after the opportunity was closed (its closed_at)")
        self._aside_history(hist, outside, table, reasons.astype(object))
        return hist.loc[~outside].reset_index(drop=True)

    # ------------------------------------------------------------------ report
    def report(self, n_opps: int, n_hist: int) -> MappingReport:
        """Gather what the run did (counts are refreshed after validation)."""
        aside = (pd.concat(self.set_aside, ignore_index=True) if self.set_aside
                 else pd.DataFrame({c: pd.Series(dtype=object) for c in _META}))
        values = pd.DataFrame(self.mapped, columns=["column", "from_value", "to_value", "rows"])
        read = ", ".join(f"{_rows(n)} of {name}" for name, n in self.rows_read.items())
        n_opp_aside = int((aside["table"] == "opportunities").sum())
        head = f"mapping {self.spec.name}: read {read}; {n_opp_aside:,} opportunities set aside"
        title = f"{self.spec.name} ({self.spec.origin})"
        if self.spec.description:
            title = f"{title}: {self.spec.description}"
        return MappingReport(title, dict(self.rows_read), n_opps, n_hist,
                             aside, values, tuple(self.steps), (head, *self.notes))


def _labels_from(source_positions: np.ndarray, table: _Table) -> RowLabel:
    """Label rows of a mapped table by their line in the export file they came from."""

    def label(positions: np.ndarray) -> list[str]:
        return table.label(source_positions[np.asarray(positions, dtype="int64")])

    return label

