"""Column mappings, the shared machinery: export tables, column specs evaluated, value
translation, timestamp formats, and the ledger of what a run did.

Used by :mod:`salesnb.data.mapping_apply` (the opportunities) and
:mod:`salesnb.data.mapping_history` (the stage history). Nothing here drops a row: every
row set aside, every value repaired or translated and every problem is written into the
:class:`Ledger`, from which the mapping's report and ``SalesData.quality`` are built.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from salesnb.data.mapping_spec import EPOCH_MS, ISO, OTHER, ColumnSpec, PatternRule, Term
from salesnb.data.readers import ExportFile, read_export
from salesnb.data.validation import clean_text, parse_timestamps
from salesnb.exceptions import DataFileError, Problem, SalesnbWarning

__all__ = ["Ledger", "Table", "TableCounts", "Translator", "evaluate", "find_file", "fold", "member",
           "parse_timestamp_columns", "rows"]

_META = ("table", "file", "line", "opportunity_id", "reason")
_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "`": "'", "´": "'", "\u00a0": " "})


def rows(n: int, noun: str = "row") -> str:
    """``1 row``, ``1,204 rows``."""
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def fold(name: str) -> str:
    """Normalise a header or value for matching: Unicode NFC, case, apostrophes, spaces.

    Examples
    --------
    >>> fold("Affaire - Date d’ajout") == fold("affaire - date d'ajout")
    True
    """
    text = unicodedata.normalize("NFC", str(name)).translate(_APOSTROPHES).casefold()
    return " ".join(text.split())


# --------------------------------------------------------------------------- files
def find_file(folder: Path, patterns: Sequence[str], *, required: bool, what: str) -> Path | None:
    """Return the file of ``folder`` matching the first of ``patterns`` that matches one.

    A name or glob matching several files is an error (which one is meant?); names are
    matched ignoring case when nothing matches exactly.
    """
    for pattern in patterns:
        if any(ch in pattern for ch in "*?["):
            matches = sorted(p for p in folder.glob(pattern) if p.is_file() and not p.name.startswith("~$"))
            if not matches:
                rx = re.compile(_glob_regex(pattern), re.IGNORECASE)
                matches = sorted(p for p in folder.iterdir() if p.is_file() and rx.fullmatch(p.name)
                                 and not p.name.startswith("~$"))
        else:
            exact = folder / pattern
            if exact.is_file():
                matches = [exact]
            else:
                matches = [p for p in folder.iterdir() if p.is_file() and p.name.casefold() == pattern.casefold()]
        if len(matches) > 1:
            raise DataFileError(f"several files match {pattern!r} ({', '.join(p.name for p in matches)})",
                                path=str(folder), fix="keep one export in the folder, or pass the file itself")
        if matches:
            return matches[0]
    if not required:
        return None
    found = ", ".join(sorted(p.name for p in folder.iterdir())) or "(empty folder)"
    wanted = " or ".join(repr(p) for p in patterns)
    raise DataFileError(f"the {what} {wanted} is not here (files: {found})", path=str(folder),
                        fix="put the export file in this folder under that name, pass the file itself, "
                            "or correct the name in the mapping")


def _glob_regex(pattern: str) -> str:
    return "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern)


class Table:
    """An export file read as text, with its line labels and column resolution."""

    def __init__(self, export: ExportFile, prefixes: Sequence[str] = ()):
        self.export = export
        self.path = export.path
        self.name = export.path.name
        self.frame = export.frame.set_axis([str(col).strip() for col in export.frame.columns], axis=1)
        self.positions = np.arange(len(self.frame), dtype="int64")
        self.prefixes = tuple(prefixes)
        self._text: dict[str, pd.Series] = {}
        # Header lookups: exact, then without a prefix, then folded (case, apostrophes, spaces).
        self._folded: dict[str, list[str]] = {}
        for col in self.frame.columns:
            for key in {fold(col), *(fold(col[len(p):]) for p in self.prefixes if fold(col).startswith(fold(p)))}:
                self._folded.setdefault(key, []).append(col)

    @classmethod
    def read(cls, path: Path, encoding: str | None, *, footer: bool = False, null_values: Sequence[str] = (),
             prefixes: Sequence[str] = ()) -> Table:
        return cls(read_export(path, encoding, footer=footer, null_values=null_values), prefixes)

    def label(self, positions: np.ndarray) -> list[str]:
        """Label rows by their place in the file (``line 7``); only computed when shown."""
        return self.export.labels(np.asarray(positions, dtype="int64")) if len(positions) else []

    def resolve(self, name: str) -> str | None:
        """Return the file's column called ``name``.

        Exact first; else the one column whose name, or whose name without one of the
        mapping's prefixes (``Deal - ``), matches ignoring case, apostrophe style and
        spacing. A repeated header resolves to its first copy.
        """
        if name in self.frame.columns:
            return name
        found = self._folded.get(fold(name), [])
        distinct = list(dict.fromkeys(found))
        return distinct[0] if distinct else None

    def text(self, column: str) -> pd.Series:
        """Return a column as trimmed text, blanks missing (cached)."""
        if column not in self._text:
            self._text[column] = clean_text(self.frame[column])
        return self._text[column]

    def missing(self, names: Sequence[str], purpose: str, fix: str) -> Problem:
        near = [m for name in names for m in difflib.get_close_matches(name, list(self.frame.columns), n=2,
                                                                        cutoff=0.6)]
        hint = f" (close: {', '.join(map(repr, dict.fromkeys(near)))})" if near else ""
        found = ", ".join(map(str, self.frame.columns)) or "(none)"
        what = "column" if len(names) == 1 else f"none of the columns {', '.join(map(repr, names))}"
        return Problem(f"{what} named by the mapping ({purpose}) is not in the file{hint}; columns found: {found}",
                       str(self.path), fix, names[0] if len(names) == 1 else " | ".join(names))


@dataclass
class Evaluated:
    """A column spec evaluated on a table: the values, and which term gave each row."""

    values: pd.Series
    used: list[str]
    provenance: Counter[str]
    absent: list[str]


def evaluate(table: Table, spec: ColumnSpec, consumed: set[str] | None = None) -> Evaluated | None:
    """Evaluate the terms of ``spec`` on ``table`` row by row (the first non-empty wins).

    Returns None when no term's column is in the file.
    """
    out: pd.Series | None = None
    used: list[str] = []
    absent: list[str] = []
    provenance: Counter[str] = Counter()
    for term in spec.terms:
        values = _term_values(table, term, consumed)
        if values is None:
            absent.extend(term.columns)
            continue
        used.append(term.label)
        if out is None:
            out = values
            provenance[term.label] += int(values.notna().sum())
        else:
            fill = out.isna() & values.notna()
            provenance[term.label] += int(fill.sum())
            out = out.where(~fill, values)
    if out is None:
        return None
    provenance["(empty)"] += int(out.isna().sum())
    return Evaluated(out, used, provenance, absent)


def _term_values(table: Table, term: Term, consumed: set[str] | None) -> pd.Series | None:
    if term.line:
        return pd.Series(table.label(table.positions), index=table.frame.index, dtype="str")
    if term.value is not None:
        return pd.Series(term.value, index=table.frame.index, dtype="str")
    present = [real for name in term.columns if (real := table.resolve(name)) is not None]
    if not present:
        return None
    if consumed is not None:
        consumed.update(present)
    if len(term.columns) == 1:
        return table.text(present[0])
    parts = [table.text(col) for col in present]
    joined = parts[0].fillna("")
    for part in parts[1:]:
        text = part.fillna("")
        both = (joined != "") & (text != "")
        joined = joined + np.where(both, term.sep, "") + text
    return clean_text(joined)


def member(series: pd.Series, values: Any) -> np.ndarray:
    """Whether each value of ``series`` is one of ``values`` (hashed once; fast for large sets)."""
    index = pd.Index(pd.unique(pd.Series(list(values), dtype=object)), dtype=object)
    if not len(index):
        return np.zeros(len(series), dtype=bool)
    found: np.ndarray = index.get_indexer(pd.Index(series.astype(object))) >= 0
    return found & series.notna().to_numpy(dtype=bool)


def parse_numbers(text: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Parse numbers written plainly (``1250.5``, ``-3``, ``12%``); returns values and bad rows."""
    stripped = text.str.replace(r"\s*%$", "", regex=True)
    values = pd.to_numeric(stripped, errors="coerce").astype("float64")
    bad = (text.notna() & values.isna()).to_numpy(dtype=bool)
    return values, bad


# --------------------------------------------------------------------------- value translation
class Translator:
    """Translate a column's values: exact, then ignoring case, then patterns, then ``"*"``.

    Every translation is counted (``mapped``); values caught by a catch-all (``"*"``
    or a pattern marked ``unmapped``) are counted as *unmapped* too; values matching an
    ``error`` pattern are returned for the caller to report.
    """

    def __init__(self, table: dict[str, str | None] | None, patterns: Sequence[PatternRule] = ()):
        table = table or {}
        self.exact = {k: v for k, v in table.items() if k != OTHER}
        self.folded: dict[str, str | None] = {}
        ambiguous = set()
        for key, value in self.exact.items():
            f = fold(key)
            if f in self.folded and self.folded[f] != value:
                ambiguous.add(f)
            self.folded[f] = value
        for f in ambiguous:
            del self.folded[f]
        self.patterns = tuple(patterns)
        self.other = (OTHER in table, table.get(OTHER))

    @property
    def empty(self) -> bool:
        return not (self.exact or self.patterns or self.other[0])

    def translate(self, value: str) -> tuple[bool, str | None, bool, str | None]:
        """Translate one value: (translated?, new value, caught by a catch-all?, error message)."""
        if value in self.exact:
            return True, self.exact[value], False, None
        folded = fold(value)
        if folded in self.folded:
            return True, self.folded[folded], False, None
        for rule in self.patterns:
            if rule.match.search(value) is None:
                continue
            if rule.error is not None:
                return False, value, False, rule.error
            new = rule.value
            if new is not None and "\\" in new:
                new = rule.match.sub(new, value)
            return True, new, rule.unmapped, None
        if self.other[0]:
            return True, self.other[1], True, None
        return False, value, False, None

    def __call__(self, series: pd.Series) -> tuple[pd.Series, list[tuple[Any, Any, int, bool]], pd.Series]:
        """Return the translated values, the translations made (from, to, rows, unmapped)
        and a boolean Series of rows whose value matched an error pattern (with its message
        in ``errors.attrs['messages']``). Each distinct value is translated once."""
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
        counts = np.bincount(codes[codes >= 0], minlength=len(uniques))
        new_values = np.empty(len(uniques), dtype=object)
        is_error = np.zeros(len(uniques), dtype=bool)
        made: list[tuple[Any, Any, int, bool]] = []
        messages: dict[str, str] = {}
        for i, value in enumerate(uniques):
            done, new, unmapped, error = self.translate(str(value))
            new_values[i] = new if done else value
            if error is not None:
                is_error[i] = True
                messages[str(value)] = error
            elif done:
                made.append((value, new, int(counts[i]), unmapped))
        present = codes >= 0
        out_values = np.full(len(series), np.nan, dtype=object)
        out_values[present] = new_values[codes[present]]
        out = pd.Series(out_values, index=series.index, dtype=object)
        out = out.where(out.notna(), np.nan)
        error_rows = np.zeros(len(series), dtype=bool)
        error_rows[present] = is_error[codes[present]]
        errors = pd.Series(error_rows, index=series.index)
        errors.attrs["messages"] = messages
        return out, made, errors


def _substitute(rule: PatternRule, replacement: str) -> Callable[[pd.Series], pd.Series]:
    """Replace each value by ``replacement`` with the pattern's groups filled in (``\\g<name>``)."""

    def apply(values: pd.Series) -> pd.Series:
        return values.map(lambda v: rule.match.sub(replacement, v))

    return apply


# --------------------------------------------------------------------------- timestamps
def _family(fmt: str) -> str:
    if fmt.upper() == ISO or fmt == EPOCH_MS:
        return ""
    d, m = fmt.find("%d"), fmt.find("%m")
    if d < 0 or m < 0 or fmt.find("%Y") == 0 or fmt.find("%y") == 0:
        return ""
    return "day/month" if d < m else "month/day"


def _parse_one(text: pd.Series, fmt: str, tz: str) -> pd.Series:
    if fmt.upper() == ISO:
        return parse_timestamps(text, tz=tz)[0]
    if fmt == EPOCH_MS:
        numbers = pd.to_numeric(text, errors="coerce")
        numbers = numbers.where(numbers.abs() > 1e11)  # milliseconds since 1973
        raw = pd.to_datetime(numbers, unit="ms", utc=True, errors="coerce")
        return raw.dt.tz_convert(tz).dt.as_unit("ns")
    aware = "%z" in fmt
    raw = pd.to_datetime(text, format=fmt, errors="coerce", utc=aware)
    if aware:
        return raw.dt.tz_convert(tz).dt.as_unit("ns")
    return parse_timestamps(raw, tz=tz)[0]


@dataclass
class ParsedTimes:
    """Timestamp columns parsed with candidate formats: values, unreadable rows, formats used."""

    values: dict[str, pd.Series] = field(default_factory=dict)
    bad: dict[str, np.ndarray] = field(default_factory=dict)
    used: dict[str, list[str]] = field(default_factory=dict)
    order: str = ""
    ambiguous: bool = False


def parse_timestamp_columns(texts: dict[str, pd.Series], formats: dict[str, tuple[str, ...]], tz: str,
                            *, prefer: str = "") -> ParsedTimes:
    """Parse timestamp columns, each with its candidate formats (ISO 8601 when none).

    A value is read by the first candidate format that reads it. Candidates mixing
    day/month and month/day orders are decided once for all the columns: the order under
    which every value reads (the first listed, or ``prefer``, when both do and give
    different dates, reported as ``ambiguous``).
    """
    result = ParsedTimes()
    families: list[str] = []
    for col in texts:
        for fmt in formats.get(col, (ISO,)):
            fam = _family(fmt)
            if fam and fam not in families:
                families.append(fam)
    if prefer in families:
        families.remove(prefer)
        families.insert(0, prefer)
    options = families or [""]
    trials: list[tuple[str, dict[str, tuple[pd.Series, np.ndarray, list[str]]]]] = []
    for fam in options:
        parsed = {}
        for col, text in texts.items():
            cands = [f for f in formats.get(col, (ISO,)) if _family(f) in ("", fam)]
            value = pd.Series(pd.NaT, index=text.index, dtype=f"datetime64[ns, {tz}]")
            used = []
            for fmt in cands:
                need = value.isna() & text.notna()
                if not need.any():
                    break
                got = _parse_one(text[need], fmt, tz)
                if got.notna().any():
                    used.append(fmt)
                    value[need] = got
            bad = (text.notna() & value.isna()).to_numpy(dtype=bool)
            parsed[col] = (value, bad, used)
        trials.append((fam, parsed))
    scores = [sum(int(b.sum()) for _, b, _ in parsed.values()) for _, parsed in trials]
    best = int(np.argmin(scores))
    fam, parsed = trials[best]
    clean = [i for i, s in enumerate(scores) if s == 0]
    if len(clean) > 1:
        first = trials[clean[0]][1]
        result.ambiguous = any(not first[col][0].equals(trials[i][1][col][0]) for i in clean[1:] for col in texts)
    result.order = fam
    for col, (value, bad, used) in parsed.items():
        result.values[col] = value
        result.bad[col] = bad
        result.used[col] = used
    return result


# --------------------------------------------------------------------------- the ledger
@dataclass
class TableCounts:
    """What happened to the rows of one table (opportunities or stage_history)."""

    file: str = ""
    encoding: str = ""
    rows_read: int = 0
    rows_loaded: int = 0
    added: int = 0
    set_aside: Counter[str] = field(default_factory=Counter)
    repaired: Counter[str] = field(default_factory=Counter)
    unmapped: dict[str, Counter[str]] = field(default_factory=dict)
    footer_lines: int = 0
    blank_lines: int = 0

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "file": self.file, "encoding": self.encoding, "rows_read": self.rows_read,
            "rows_loaded": self.rows_loaded,
            "set_aside": dict(self.set_aside), "repaired": dict(self.repaired),
            "unmapped_values": {col: dict(c) for col, c in self.unmapped.items() if c},
            "footer_lines": self.footer_lines, "blank_lines": self.blank_lines,
        }
        if self.added:
            out["added"] = self.added
        out["accounted_for"] = self.rows_read + self.added == self.rows_loaded + sum(self.set_aside.values())
        return out


class Ledger:
    """Everything a mapping run did, for its report and the dataset's quality document."""

    def __init__(self, *, strict: bool):
        self.strict = strict
        self.tables: dict[str, TableCounts] = {}
        self.files: dict[str, dict[str, Any]] = {}
        self.set_aside: list[pd.DataFrame] = []
        self.repaired: list[pd.DataFrame] = []
        self.mapped: list[tuple[str, Any, Any, int]] = []
        self.provenance: dict[str, dict[str, int]] = {}
        self.steps: list[str] = []
        self.notes: list[str] = []
        self.warnings: list[str] = []
        self.problems: list[Problem] = []

    def table(self, name: str) -> TableCounts:
        return self.tables.setdefault(name, TableCounts())

    def file_read(self, table: Table, role: str) -> None:
        """Record a file read: its role, encoding, rows, footer and blank lines, renamed headers."""
        ex = table.export
        self.files[table.name] = {"role": role, "encoding": ex.encoding, "encoding_detected": ex.encoding_note,
                                  "rows": len(table.frame), "footer_lines": len(ex.footer),
                                  "blank_lines": ex.blank_lines}
        if ex.footer:
            self.steps.append(f"{table.name}: report footer of {rows(len(ex.footer), 'line')} dropped "
                              f"({'; '.join(repr(f) for f in ex.footer[:3])}{' …' if len(ex.footer) > 3 else ''})")
        if ex.blank_lines:
            self.steps.append(f"{table.name}: {rows(ex.blank_lines, 'blank line')} skipped")
        for original, new in ex.renamed:
            self.steps.append(f"{table.name}: the header {original!r} repeats; the later copy is read as {new!r} "
                              f"(the mapping reads the first)")
        if ex.encoding not in ("utf-8", "xlsx", "parquet"):
            self.steps.append(f"{table.name}: read as {ex.encoding_note}")

    def warn(self, message: str) -> None:
        """A warning of the run: shown by ``validate``, kept in the notes, raised (by :meth:`emit`) as a
        :class:`SalesnbWarning` when the run ends."""
        self.warnings.append(message)
        self.notes.append(message)

    def emit(self, stacklevel: int = 3) -> None:
        """Raise the run's warnings, pointing at the code that called the mapping."""
        for message in self.warnings:
            warnings.warn(message, SalesnbWarning, stacklevel=stacklevel)

    def aside(self, table_name: str, source: Table, frame: pd.DataFrame, mask: np.ndarray,
              reasons: str | np.ndarray, *, lines: np.ndarray, extra: pd.DataFrame | None = None) -> None:
        """Record the rows of ``frame`` under ``mask`` as set aside with their reason(s)."""
        if not mask.any():
            return
        ids = frame["opportunity_id"].to_numpy(dtype=object)[mask] if "opportunity_id" in frame.columns \
            else np.full(int(mask.sum()), None, dtype=object)
        why = np.full(int(mask.sum()), reasons, dtype=object) if isinstance(reasons, str) else reasons[mask]
        meta = pd.DataFrame({"table": table_name, "file": source.name, "line": source.label(lines[mask]),
                             "opportunity_id": ids, "reason": why})
        if extra is not None:
            chosen = extra.loc[mask].reset_index(drop=True)
            for col in chosen.columns:
                if pd.api.types.is_datetime64_any_dtype(chosen[col].dtype):
                    chosen[col] = chosen[col].astype(str).where(chosen[col].notna(), None)
            meta = pd.concat([meta, chosen], axis=1)
        self.set_aside.append(meta)
        counts = self.table(table_name).set_aside
        for reason, n in pd.Series(why).value_counts(sort=False).items():
            counts[str(reason)] += int(n)

    def repair(self, table_name: str, source: Table, frame: pd.DataFrame, mask: np.ndarray, rule: str,
               column: str, before: pd.Series, after: pd.Series, *, lines: np.ndarray) -> None:
        """Record the repair of ``column`` on the rows under ``mask``."""
        if not mask.any():
            return
        ids = frame["opportunity_id"].to_numpy(dtype=object)[mask] if "opportunity_id" in frame.columns \
            else np.full(int(mask.sum()), None, dtype=object)
        self.repaired.append(pd.DataFrame({
            "table": table_name, "file": source.name, "line": source.label(lines[mask]), "opportunity_id": ids,
            "rule": rule, "column": column, "before": before[mask].astype("str").to_numpy(dtype=object),
            "after": [None if pd.isna(v) else str(v) for v in after[mask]]}))
        self.table(table_name).repaired[rule] += int(mask.sum())

    def count_unmapped(self, table_name: str, column: str, made: list[tuple[Any, Any, int, bool]]) -> None:
        counter = self.table(table_name).unmapped.setdefault(column, Counter())
        for from_value, _, n, unmapped in made:
            if unmapped:
                counter[str(from_value)] += n

    def set_aside_frame(self) -> pd.DataFrame:
        if not self.set_aside:
            return pd.DataFrame({c: pd.Series(dtype=object) for c in _META})
        return pd.concat(self.set_aside, ignore_index=True)

    def repaired_frame(self) -> pd.DataFrame:
        cols = ("table", "file", "line", "opportunity_id", "rule", "column", "before", "after")
        if not self.repaired:
            return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
        return pd.concat(self.repaired, ignore_index=True)
