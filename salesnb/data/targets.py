"""Targets (quotas): the optional ``targets`` table, read and validated against a dataset.

A targets table has one row per target: ``period`` (a period label in the dataset's
calendar: ``1404-07``, ``1404-Q3``, ``1404``, ``2025-10``, ``2025-W07``, ``FY2025``...),
``owner`` or ``team`` (one of them; neither: the company), ``measure`` (``won_amount``,
``won_count`` or ``created_count``) and ``target`` (a number >= 0). Other columns are
kept. It is found as ``targets.csv`` (or ``.parquet``) in a dataset folder, as a
``targets`` sheet of a workbook, or as a ``targets`` table of a database
(:func:`salesnb.load` picks it up), or read on its own with :func:`load_targets`.

Validation lists every problem at once, like the other tables (a
:class:`~salesnb.exceptions.DataSchemaError` naming the file, the column, the rows and
the fix): a missing column, a period that does not parse in the calendar, an unknown
measure, a target that is not a number >= 0, a row naming both an owner and a team, an
owner or team the data does not know, and rows that overlap (the same measure for the
same owner, team or company over periods that share a day). The column rules are a
pandera schema (:func:`schema`): pandera suits this small pandas table; the canonical
tables, which live in an engine, are validated by :mod:`salesnb.data.validation`.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from salesnb import periods
from salesnb._options import CALENDARS, check_option
from salesnb.data.validation import RowLabel, clean_text, line_labels, position_labels
from salesnb.exceptions import DataFileError, DataSchemaError, Problem, SettingsError

if TYPE_CHECKING:
    from salesnb.data.dataset import SalesData

__all__ = ["LEVELS", "MEASURES", "TARGETS_TABLE", "Targets", "attach", "database_targets", "find_targets",
           "from_raw", "load_targets", "schema"]

#: What a target can be set on: the won amount, the number of won deals, the number of
#: opportunities created in the period.
MEASURES: tuple[str, ...] = ("won_amount", "won_count", "created_count")
#: Who a target row is for: a salesperson, a team, or the company (neither named).
LEVELS: tuple[str, ...] = ("owner", "team", "company")
#: The table's name: ``targets.csv`` / ``.parquet``, a workbook's sheet, a database table.
TARGETS_TABLE = "targets"
REQUIRED = ("period", "measure", "target")
_THOUSANDS = re.compile(r"^[+]?\d{1,3}(,\d{3})+(\.\d+)?$")


@dataclass(frozen=True, eq=False)
class Targets:
    """A validated targets table.

    Build it with :func:`load_targets` (or let :func:`salesnb.load` pick up a dataset's
    own targets: ``data.targets``).

    Attributes
    ----------
    table : DataFrame
        One row per target, in source order: ``period`` (the label as written),
        ``period_start`` and ``period_end`` (the period ``[start, end)``, timezone-aware
        in the dataset's zone), ``level`` (``owner``, ``team`` or ``company``),
        ``owner``, ``team`` (missing where not set), ``measure``, ``target`` (float),
        ``row`` (where the row is in the source: ``line 3``, ``row 0``), then any extra
        columns.
    calendar : str
        The calendar the periods were read in.
    source : str
        Where the table came from.
    """

    table: pd.DataFrame
    calendar: str
    source: str

    def __len__(self) -> int:
        return len(self.table)

    def __repr__(self) -> str:
        levels = ", ".join(f"{n} {lvl}" for lvl, n in self.table["level"].value_counts().items())
        return f"Targets({len(self.table)} rows: {levels or 'none'}; {self.calendar}; source={self.source!r})"

    def describe(self) -> str:
        """Summarise the targets in a few lines (what ``salesnb validate`` prints)."""
        t = self.table
        if not len(t):
            return f"targets: {self.source} (no rows)"
        measures = ", ".join(sorted(t["measure"].unique()))
        first = t["period"].iloc[int(np.argmin(t["period_start"].to_numpy()))]
        last = t["period"].iloc[int(np.argmax(t["period_end"].to_numpy()))]
        return (f"targets: {len(t)} rows from {self.source} ({measures}; periods {first} to {last}, "
                f"{self.calendar}; {(t['level'] == 'owner').sum()} per salesperson, "
                f"{(t['level'] == 'team').sum()} per team, {(t['level'] == 'company').sum()} company)")


# --------------------------------------------------------------------------- reading
def find_targets(folder: Path) -> Path | None:
    """Return a dataset folder's ``targets.csv`` or ``targets.parquet`` (None without one)."""
    from salesnb.data.readers import find_table

    return find_table(folder, TARGETS_TABLE)


def _read(source: Any, encoding: str) -> tuple[pd.DataFrame, RowLabel, str]:
    """Read a targets table as written: (frame, row labeller, source name)."""
    from salesnb.data.readers import WORKBOOK_SUFFIXES, read_table, read_workbook

    if isinstance(source, pd.DataFrame):
        return source, position_labels, "targets (DataFrame)"
    if isinstance(source, str) and "://" in source:
        return _read_database(source)
    path = Path(source)
    if not path.exists():
        raise DataFileError("no such file or folder", path=str(path),
                            fix="pass a targets.csv file, a dataset folder holding one, a workbook "
                                "with a 'targets' sheet, or a database URL with a 'targets' table")
    if path.is_dir():
        found = find_targets(path)
        if found is None:
            raise DataFileError("has no targets.csv or targets.parquet", path=str(path),
                                fix="add targets.csv (period, owner or team, measure, target)")
        path = found
    if path.suffix.lower() in WORKBOOK_SUFFIXES:
        sheets = {str(k).strip().lower(): v for k, v in read_workbook(path).items()}
        if TARGETS_TABLE not in sheets:
            raise DataFileError(f"has no '{TARGETS_TABLE}' sheet", path=str(path),
                                fix="name the sheet of targets 'targets' (period, owner or team, measure, target)")
        return sheets[TARGETS_TABLE], line_labels(2), f"{path} [{TARGETS_TABLE}]"
    frame, labels = read_table(path, encoding)
    return frame, labels, str(path)


def _read_database(url: str) -> tuple[pd.DataFrame, RowLabel, str]:
    from salesnb.data.sql import _engine, _exists, _read, mask_url

    engine, owned = _engine(url)
    shown = mask_url(url)
    try:
        with engine.connect() as conn:
            if not _exists(conn, TARGETS_TABLE):
                raise DataFileError(f"has no '{TARGETS_TABLE}' table", path=shown,
                                    fix="create a 'targets' table (period, owner or team, measure, target)")
            frame = _read(conn, TARGETS_TABLE, None, shown, engine.url)
    finally:
        if owned:
            engine.dispose()
    return frame, position_labels, f"{shown} [{TARGETS_TABLE}]"


def database_targets(url: str) -> bool:
    """Whether the database of ``url`` has a ``targets`` table."""
    from salesnb.data.sql import _engine, _exists

    engine, owned = _engine(url)
    try:
        with engine.connect() as conn:
            return bool(_exists(conn, TARGETS_TABLE))
    finally:
        if owned:
            engine.dispose()


# --------------------------------------------------------------------------- cleaning
def _clean(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    """Columns renamed to lower case, text trimmed, measures and numbers read."""
    renamed = {c: str(c).strip().lower() for c in frame.columns}
    out = frame.rename(columns=renamed).reset_index(drop=True)
    missing = [c for c in REQUIRED if c not in out.columns]
    if missing:
        raise DataSchemaError(problems=[
            Problem(f"missing column '{c}'", source,
                    "a targets table has the columns period, owner or team (or neither, for the "
                    f"company), measure and target; found: {', '.join(map(str, frame.columns)) or 'none'}",
                    column=c) for c in missing])
    for c in ("period", "owner", "team", "measure"):
        if c in out.columns:
            out[c] = clean_text(out[c]).astype(object).where(lambda s: s.notna(), None)
        else:
            out[c] = None
    out["measure"] = [re.sub(r"[\s\-]+", "_", m.casefold()) if isinstance(m, str) else m
                      for m in out["measure"]]
    out["_target_raw"] = out["target"]
    out["target"] = [_number(v) for v in out["target"]]
    out["target"] = out["target"].astype("float64")
    return out


def _number(value: Any) -> float:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return np.nan
    if isinstance(value, bool):
        return np.nan
    if isinstance(value, int | float | np.integer | np.floating):
        return float(value)
    text = str(value).strip()
    if _THOUSANDS.match(text):
        text = text.replace(",", "")
    try:
        return float(text)
    except ValueError:
        return np.nan


def _bounds(out: pd.DataFrame, data: SalesData, calendar: str) -> pd.DataFrame:
    """Add ``period_start`` / ``period_end`` (NaT where the label does not parse)."""
    s = data.settings
    week_start = s.week_start if calendar == s.calendar else None
    starts: list[Any] = []
    ends: list[Any] = []
    for label in out["period"]:
        try:
            bounds: tuple[Any, Any] = periods.period_bounds(
                label, calendar=calendar, week_start=week_start, fiscal_year_start=s.fiscal_year_start,
                tz=s.timezone)
        except (SettingsError, ValueError, TypeError):
            bounds = (None, None)
        starts.append(bounds[0])
        ends.append(bounds[1])
    tz = s.timezone
    out["period_start"] = pd.to_datetime(pd.Series(starts, dtype=object), utc=True).dt.tz_convert(tz)
    out["period_end"] = pd.to_datetime(pd.Series(ends, dtype=object), utc=True).dt.tz_convert(tz)
    return out


def _overlapping(frame: pd.DataFrame) -> pd.Series:
    """True for rows whose period shares a moment with another row of the same measure and
    the same owner / team / company (pairs compared within each such group)."""
    bad = pd.Series(False, index=frame.index)
    ok = frame["period_start"].notna() & frame["measure"].notna()
    who = frame["owner"].fillna("").astype(str) + "\x1f" + frame["team"].fillna("").astype(str)
    keys = who + "\x1f" + frame["measure"].fillna("").astype(str)
    for _, rows in frame[ok].groupby(keys[ok], sort=False):
        if len(rows) < 2:
            continue
        starts = rows["period_start"].to_numpy()
        ends = rows["period_end"].to_numpy()
        meets = (starts[:, None] < ends[None, :]) & (starts[None, :] < ends[:, None])
        np.fill_diagonal(meets, False)
        bad.loc[rows.index[np.flatnonzero(meets.any(axis=1))]] = True
    return bad


# --------------------------------------------------------------------------- the schema
def schema(owners: Sequence[str], teams: Sequence[str] | None) -> Any:
    """Return the pandera schema of a cleaned targets table, for a dataset's owners and teams.

    ``teams`` is None when the data has no teams (then no team may be named).
    The checks, each reported with the rows that break it: ``period`` present and a
    period of the calendar (``period_start`` known), ``measure`` one of :data:`MEASURES`,
    ``target`` a number >= 0, ``owner`` and ``team`` known to the data, not both on one
    row, no two rows of the same measure and owner / team / company overlapping.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pandera.pandas as pa

    known_teams = list(teams or [])
    return pa.DataFrameSchema(
        {
            "period": pa.Column(None, nullable=False),
            "period_start": pa.Column(None, pa.Check(lambda s: s.notna(), ignore_na=False,
                                                     error="period_unreadable"), nullable=True),
            "measure": pa.Column(None, pa.Check.isin(list(MEASURES), error="measure_unknown"),
                                 nullable=False),
            "target": pa.Column("float64", pa.Check.ge(0, error="target_negative"), nullable=False),
            "owner": pa.Column(None, pa.Check.isin(list(owners), error="owner_unknown"), nullable=True),
            "team": pa.Column(None, pa.Check.isin(known_teams, error="team_unknown"), nullable=True),
        },
        checks=[
            pa.Check(lambda d: ~(d["owner"].notna() & d["team"].notna()), error="owner_and_team"),
            pa.Check(lambda d: ~_overlapping(d), error="overlap"),
        ],
        strict=False,
        coerce=False,
    )


#: Rule key -> (column, rule in words, fix). ``{calendar}`` is filled in.
_RULES: dict[str, tuple[str | None, str, str]] = {
    "period_missing": ("period", "has empty periods",
                       "give each row a period, e.g. 1404-07 (month), 1404-Q3 (quarter) or 1404 (year)"),
    "period_unreadable": ("period", "has periods that are not {calendar} period labels",
                          "write periods in the dataset's calendar ({calendar}) as period labels: "
                          "{example}-07 (month), {example}-Q3 (quarter), {example} (year), "
                          "{example}-W07 (week); or load the targets with calendar= the other calendar"),
    "measure_missing": ("measure", "has empty measures", "give each row a measure: " + ", ".join(MEASURES)),
    "measure_unknown": ("measure", "has unknown measures", "use one of: " + ", ".join(MEASURES)),
    "target_missing": ("target", "has targets that are empty or not numbers",
                       "write each target as a plain number, e.g. 1500000000 or 12"),
    "target_negative": ("target", "has negative targets", "give targets >= 0"),
    "owner_unknown": ("owner", "names salespeople the data does not know",
                      "write owners exactly as in the opportunities (known: {owners})"),
    "team_unknown": ("team", "names teams the data does not know", "{team_fix}"),
    "owner_and_team": (None, "has rows naming both an owner and a team",
                       "a row is for one salesperson (owner), one team (team) or the company "
                       "(neither): leave one of the two empty"),
    "overlap": (None, "has rows that overlap: the same measure for the same salesperson, team or "
                      "company over periods that share days",
                "keep one target per measure, person (or team, or the company) and period; to give "
                "a month and its quarter, set one of them at another level"),
}


def _problems(err: Any, frame: pd.DataFrame, labels: RowLabel, source: str, calendar: str,
              owners: Sequence[str], teams: Sequence[str] | None) -> list[Problem]:
    """Turn pandera's failure cases into salesnb problems (one per broken rule)."""
    cases = err.failure_cases
    found: dict[str, list[int]] = {}
    for check, column, index in zip(cases["check"].astype(str), cases["column"], cases["index"], strict=True):
        if index is None or (isinstance(index, float) and np.isnan(index)):
            continue
        key = check
        if check == "not_nullable":
            key = f"{column}_missing" if column in ("period", "measure", "target") else ""
        elif "dtype" in check:
            key = "target_missing" if column == "target" else ""
        if key == "period_unreadable" and frame.at[int(index), "period"] is None:
            continue  # reported as missing
        if key in _RULES:
            found.setdefault(key, [])
            if int(index) not in found[key]:
                found[key].append(int(index))
    example = "1404" if calendar == "jalali" else "2025"
    team_fix = ("the data has no teams: set targets per owner or for the company"
                if teams is None else f"write teams exactly as in the opportunities (known: {', '.join(teams)})")
    problems = []
    for key, (column, rule, fix) in _RULES.items():
        rows = sorted(found.get(key, []))
        if not rows:
            continue
        fix = fix.format(calendar=calendar, example=example, owners=", ".join(owners[:12]) +
                         (" …" if len(owners) > 12 else ""), team_fix=team_fix)
        rule = rule.format(calendar=calendar)
        shown = column or ("period" if key == "overlap" else "owner")
        raw = "_target_raw" if column == "target" else shown
        values: list[Any] = []
        for i in rows:
            value: Any = frame.at[i, raw]
            row = {c: str(frame.at[i, c]) for c in ("owner", "team", "measure", "period")}
            if key == "overlap":
                who = [row[c] for c in ("owner", "team") if frame.at[i, c] is not None] or ["(company)"]
                value = f"{who[0]} {row['measure']} {row['period']}"
            elif key == "owner_and_team":
                value = f"{row['owner']} / {row['team']}"
            if value is not None and not (isinstance(value, float) and np.isnan(value)):
                values.append(value)
        problems.append(Problem(rule, source, fix, column, tuple(labels(np.asarray(rows))),
                                tuple(values), len(rows)))
    return problems


def load_targets(source: Any, data: SalesData, *, calendar: str | None = None,
                 encoding: str = "utf-8") -> Targets:
    """Read and validate a targets table against a dataset.

    Parameters
    ----------
    source : str, Path, DataFrame or Targets
        A ``targets.csv`` / ``.parquet`` file, a dataset folder holding one, an Excel
        workbook with a ``targets`` sheet, a database URL with a ``targets`` table, or
        the table itself. A :class:`Targets` is returned as it is.
    data : SalesData
        The dataset the targets are for: its salespeople and teams are the names a
        target may use, its calendar, week start, fiscal year and time zone read the
        periods.
    calendar : {"gregorian", "jalali"}, optional
        Calendar of the period labels (default: the dataset's).
    encoding : str, default "utf-8"
        Text encoding of a CSV file.

    Returns
    -------
    Targets

    Raises
    ------
    DataSchemaError
        Listing every problem: missing columns, periods that do not parse, unknown
        measures, owners or teams, targets that are not numbers >= 0, rows naming both
        an owner and a team, overlapping rows.
    DataFileError
        The file, sheet or table is missing or unreadable.

    Examples
    --------
    >>> import pandas as pd, salesnb as sn
    >>> data = sn.load(sn.sample_path())
    >>> t = sn.load_targets(pd.DataFrame({"period": ["1404-07"], "owner": ["Arash Karimi"],
    ...                                   "measure": ["won_amount"], "target": [5e9]}), data)
    >>> t.table[["period", "level", "owner", "measure", "target"]].to_dict("records")
    [{'period': '1404-07', 'level': 'owner', 'owner': 'Arash Karimi', 'measure': 'won_amount', 'target': 5000000000.0}]
    >>> sn.load_targets(pd.DataFrame({"period": ["1404-13"], "measure": ["won_count"], "target": [3]}),
    ...                 data)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    salesnb.exceptions.DataSchemaError: targets (DataFrame), column 'period': has periods that are not jalali period labels
      offending rows: 'row 0' (1 row)
      offending values: '1404-13'
    ...
    """
    if isinstance(source, Targets):
        return source
    raw, labels, name = _read(source, encoding)
    return from_raw(raw, data, labels=labels, source=name, calendar=calendar)


def from_raw(raw: pd.DataFrame, data: SalesData, *, labels: RowLabel = position_labels,
             source: str = "targets", calendar: str | None = None) -> Targets:
    """Validate a targets table already read (``labels`` name its rows in messages)."""
    cal = check_option("calendar", calendar or data.settings.calendar, CALENDARS)
    name = source
    frame = _bounds(_clean(raw, name), data, cal)
    owners = data.values("owner")
    teams = (data.values("team") or None) if "team" in data.opportunity_table.columns else None
    return _validated(frame, labels, name, cal, owners, teams)


def _validated(frame: pd.DataFrame, labels: RowLabel, name: str, calendar: str, owners: Sequence[str],
               teams: Sequence[str] | None) -> Targets:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pandera.pandas as pa

    try:
        schema(owners, teams).validate(frame, lazy=True)
    except pa.errors.SchemaErrors as err:
        problems = _problems(err, frame, labels, name, calendar, owners, teams)
        if problems:
            raise DataSchemaError(problems=problems) from None
        raise  # pragma: no cover - a check without a rule text
    level = np.where(frame["owner"].notna(), "owner", np.where(frame["team"].notna(), "team", "company"))
    row_labels = labels(np.arange(len(frame))) if len(frame) else []
    extra = [c for c in frame.columns if c not in (*REQUIRED, "owner", "team", "period_start", "period_end",
                                                   "_target_raw")]
    table = pd.DataFrame({
        "period": frame["period"].astype("str"),
        "period_start": frame["period_start"],
        "period_end": frame["period_end"],
        "level": pd.Series(level, dtype="str"),
        "owner": frame["owner"].astype("str"),
        "team": frame["team"].astype("str"),
        "measure": frame["measure"].astype("str"),
        "target": frame["target"].astype("float64"),
        "row": pd.Series(row_labels, dtype="str"),
    })
    for c in extra:
        table[c] = frame[c]
    return Targets(table, calendar, name)


def attach(data: SalesData, targets: Targets) -> SalesData:
    """Return ``data`` with validated targets attached (``data.targets``)."""
    from dataclasses import replace

    return replace(data, targets=targets)
