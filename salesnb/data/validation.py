"""Validation of the canonical tables: type coercion, column rules and cross-table rules.

Two steps, each collecting every problem before raising one
:class:`~salesnb.exceptions.DataSchemaError` that lists them all:

1. *Coercion*: text is trimmed (blank becomes empty), status is lower-cased,
   timestamps are parsed (ISO 8601; naive values are local time in the dataset's
   time zone, values with an offset are converted to it), amounts are parsed as
   numbers. A value that cannot be read is a problem, never a silent NaN.
2. *Rules*: a pandera schema checks the column rules (required, unique ids, allowed
   statuses, non-negative amounts, ``closed_at`` present exactly for closed deals and
   not before ``created_at``); the cross-table rules (history rows for unknown
   opportunities, unknown stages, entries outside the opportunity's life) follow.

Extra columns are kept as they are.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow as arrow
import pyarrow.compute as pc

from salesnb._arrays import id_codes, index_dtype, utc_nanos
from salesnb.data.settings import FunnelSettings
from salesnb.exceptions import DataSchemaError, Problem, SalesnbWarning

__all__ = [
    "HISTORY_COLUMNS",
    "OPPORTUNITY_COLUMNS",
    "OPTIONAL_TEXT_COLUMNS",
    "REQUIRED_COLUMNS",
    "STATUSES",
    "clean_history",
    "clean_opportunities",
]

STATUSES = ("open", "won", "lost")
REQUIRED_COLUMNS = ("opportunity_id", "owner", "created_at", "status")
OPTIONAL_TEXT_COLUMNS = ("stage", "lost_reason", "team", "account", "product", "source", "currency")
OPPORTUNITY_COLUMNS = (*REQUIRED_COLUMNS, "closed_at", "amount", *OPTIONAL_TEXT_COLUMNS)
HISTORY_COLUMNS = ("opportunity_id", "stage", "entered_at")

#: Row labeller: turns positional row numbers into what the user sees (CSV line numbers...).
RowLabel = Callable[[np.ndarray], list[str]]

# An offset only counts after a time of day ("2025-01-05" ends in "-05" but has none).
_OFFSET = re.compile(r"\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:Z|[+-]\d{2}(?::?\d{2})?)$", re.IGNORECASE)
_TIME_UNIT = "ns"


def line_labels(first_line: int) -> RowLabel:
    """Label rows by file line (``line 2`` is the first data row of a CSV with a header)."""

    def label(positions: np.ndarray) -> list[str]:
        return [f"line {int(p) + first_line}" for p in positions]

    return label


def position_labels(positions: np.ndarray) -> list[str]:
    """Label rows by 0-based position (DataFrames, Parquet, SQL results)."""
    return [f"row {int(p)}" for p in positions]


# --------------------------------------------------------------------------- coercion
def clean_text(series: pd.Series) -> pd.Series:
    """Return ``series`` as trimmed text with blanks as missing (values otherwise as stored)."""
    if series.dtype == object or not pd.api.types.is_string_dtype(series.dtype):
        series = series.map(_to_text, na_action="ignore")
    text = series.astype("str")
    if not isinstance(text.array, pd.arrays.ArrowStringArray):  # pragma: no cover - python storage
        text = text.str.strip()
        return text.mask(text == "")
    # Straight on the Arrow buffers: several times faster than the Series methods on
    # millions of rows (same whitespace rule: Unicode, as str.strip). Block by block, and
    # a block that needs no change keeps the stored buffers: no full-size copy is ever
    # held just to find out that the export was clean.
    stored = arrow.array(text, from_pandas=True)
    pieces, changed = [], False
    for start in range(0, max(len(stored), 1), _TEXT_BLOCK):
        piece = stored.slice(start, _TEXT_BLOCK)
        trimmed = pc.utf8_trim_whitespace(piece)
        if pc.sum(pc.binary_length(trimmed)).as_py() != pc.sum(pc.binary_length(piece)).as_py():
            piece, changed = trimmed, True
        blank = pc.equal(piece, "")
        if pc.any(blank).as_py():
            piece, changed = pc.if_else(blank, arrow.scalar(None, piece.type), piece), True
        pieces.append(piece)
    if not changed:
        return text
    values = pd.arrays.ArrowStringArray(  # type: ignore[call-arg]
        arrow.chunked_array(pieces, type=stored.type), dtype=text.dtype)
    return pd.Series(values, index=series.index, name=series.name)


#: Rows trimmed at a time by :func:`clean_text`.
_TEXT_BLOCK = 1 << 18


def _to_text(value: Any) -> Any:
    # Numbers read from Excel/SQL keep their plain form (1.0 -> "1", not "1.0").
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def parse_timestamps(
    series: pd.Series, *, tz: str
) -> tuple[pd.Series, np.ndarray]:
    """Parse timestamps into ``datetime64[ns, tz]``.

    Returns the parsed series and a boolean mask of values that were present but
    could not be read (blank values are simply missing).
    """
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        return _to_ns(series.dt.tz_convert(tz))
    if pd.api.types.is_datetime64_dtype(series.dtype):
        return _to_ns(series, tz)

    text = clean_text(series)
    present = text.notna().to_numpy()
    has_offset = text.str.contains(_OFFSET, na=False).to_numpy()
    result = pd.Series(pd.NaT, index=series.index, dtype=f"datetime64[{_TIME_UNIT}, {tz}]")
    bad = np.zeros(len(series), dtype=bool)
    naive_mask = present & ~has_offset
    if naive_mask.any():
        naive = pd.to_datetime(text[naive_mask], format="ISO8601", errors="coerce")
        converted, out_of_range = _to_ns(naive, tz)
        result[naive_mask] = converted
        bad[np.flatnonzero(naive_mask)[out_of_range]] = True
    if has_offset.any():
        aware = pd.to_datetime(text[has_offset], format="ISO8601", errors="coerce", utc=True)
        converted, out_of_range = _to_ns(aware.dt.tz_convert(tz))
        result[has_offset] = converted
        bad[np.flatnonzero(has_offset)[out_of_range]] = True
    bad |= present & result.isna().to_numpy()
    return result, bad


#: Timestamps are held in nanoseconds, which reach from 1677-09-22 to 2262-04-11.
_LOWEST = pd.Timestamp.min.ceil("D")
_HIGHEST = pd.Timestamp.max.floor("D")


def _to_ns(series: pd.Series, tz: str | None = None) -> tuple[pd.Series, np.ndarray]:
    """Convert to nanoseconds (localising naive values in ``tz``); out-of-range values become NaT."""
    naive = series.dt.tz_localize(None) if isinstance(series.dtype, pd.DatetimeTZDtype) else series
    outside = ((naive < _LOWEST.tz_localize(None)) | (naive > _HIGHEST.tz_localize(None))).fillna(False)
    outside_arr = outside.to_numpy(dtype=bool)
    if outside_arr.any():
        series = series.where(~outside)
    if tz is not None:
        series = _localize(series, tz)
    return series.dt.as_unit(_TIME_UNIT), outside_arr


def _localize(series: pd.Series, tz: str) -> pd.Series:
    """Localise naive local times; DST gaps shift forward, repeated hours take the first."""
    fixed = _fixed_offset(series, tz)
    if fixed is not None:
        # No clock change in the data's span (Iran since 2023, most of Asia...): one
        # subtraction instead of pandas' per-value transition search.
        utc = (series - fixed).dt.tz_localize("UTC")
        return utc.dt.tz_convert(tz)
    # Repeated hours (a few per year at most) come back NaT and are redone.
    local = series.dt.tz_localize(tz, ambiguous="NaT", nonexistent="shift_forward")
    redo = local.isna().to_numpy() & series.notna().to_numpy()
    if redo.any():
        again = series[redo].dt.tz_localize(tz, ambiguous=np.ones(int(redo.sum()), dtype=bool),
                                            nonexistent="shift_forward")
        local = local.where(~redo, again)
    return local


def _fixed_offset(series: pd.Series, tz: str) -> pd.Timedelta | None:
    """The zone's UTC offset when it is the same at every hour of the values' span, else None."""
    if len(series) < 10_000:
        return None  # small tables: the general path is fast enough
    first, last = series.min(), series.max()
    if pd.isna(first) or last - first > pd.Timedelta(days=366 * 30):
        return None
    # Clock changes are months apart: an hourly grid sees every one in the span.
    grid = pd.date_range(first.floor("h") - pd.Timedelta(hours=1), last.ceil("h") + pd.Timedelta(hours=1),
                         freq="h")
    local = grid.tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
    if local.hasnans:
        return None
    offsets = (grid - local.tz_convert(None)).unique()
    return offsets[0] if len(offsets) == 1 else None


def parse_amounts(series: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Parse amounts as float64; returns the values and a mask of unreadable ones."""
    if pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype):
        return series.astype("float64"), np.zeros(len(series), dtype=bool)
    text = clean_text(series)
    values = pd.to_numeric(text, errors="coerce").astype("float64")
    bad = text.notna().to_numpy() & values.isna().to_numpy()
    return values, bad


# --------------------------------------------------------------------------- schema
_FIXES = {
    "id_missing": ("opportunity_id", "has blank ids", "give every opportunity a unique, non-blank id"),
    "id_unique": ("opportunity_id", "has duplicate ids",
                  "keep one row per opportunity (remove or merge the duplicates)"),
    "owner_missing": ("owner", "has blank owners", "fill in the salesperson responsible for each row"),
    "status_missing": ("status", "has blank statuses", "set status to open, won or lost"),
    "status_known": ("status", "has unknown statuses",
                     "use open, won or lost (any case); map other CRM values with a column mapping"),
    "created_missing": ("created_at", "has blank creation times", "fill in when each opportunity was created"),
    "amount_nonneg": ("amount", "has negative amounts",
                      "amounts must be >= 0; correct them, or leave them empty if unknown"),
    "closed_required": ("closed_at", "is empty for won/lost opportunities",
                        "fill in when each won/lost deal was closed, or set its status to open"),
    "closed_forbidden": ("closed_at", "is set for open opportunities",
                         "clear closed_at for open deals, or set their status to won or lost"),
    "closed_order": ("closed_at", "is before created_at",
                     "correct the dates: a deal cannot close before it was created"),
}


def _opportunity_schema() -> pa.DataFrameSchema:
    def check(key: str, fn: Callable[[Any], Any]) -> pa.Check:
        # ignore_na=False: the blank-value checks must see the blanks.
        return pa.Check(fn, name=key, error=key, ignore_na=False)

    return pa.DataFrameSchema(
        {
            "opportunity_id": pa.Column(nullable=True, checks=[
                check("id_missing", lambda s: s.notna()),
                check("id_unique", _unique_ids),
            ]),
            "owner": pa.Column(nullable=True, checks=[check("owner_missing", lambda s: s.notna())]),
            "status": pa.Column(nullable=True, checks=[
                check("status_missing", lambda s: s.notna()),
                check("status_known", lambda s: s.isna() | s.isin(STATUSES)),
            ]),
            "created_at": pa.Column(nullable=True, checks=[check("created_missing", lambda s: s.notna())]),
            "amount": pa.Column("float64", nullable=True, checks=[
                check("amount_nonneg", lambda s: s.isna() | (s >= 0)),
            ]),
        },
        checks=[
            # Dataframe-wide rules, one key each; the column named in _FIXES is reported.
            check("closed_required", lambda d: ~d["status"].isin(["won", "lost"]) | d["closed_at"].notna()),
            check("closed_forbidden", lambda d: (d["status"] != "open").fillna(True) | d["closed_at"].isna()),
            check("closed_order", lambda d: d["closed_at"].isna() | d["created_at"].isna()
                  | (d["closed_at"] >= d["created_at"])),
        ],
        strict=False,
        coerce=False,
    )


def _unique_ids(ids: pd.Series) -> pd.Series:
    """True for each blank or unique id (the all-unique case is settled by one distinct count)."""
    values = arrow.array(ids, from_pandas=True).drop_null()
    if len(values) < 2:
        return pd.Series(True, index=ids.index)
    ascending = pc.all(pc.greater(values[1:], values[:-1])).as_py()  # sorted exports: no hashing
    if ascending or len(pc.unique(values)) == len(values):
        return pd.Series(True, index=ids.index)
    return ids.isna() | ~ids.duplicated(keep=False)


_SCHEMA: pa.DataFrameSchema | None = None


def _schema() -> pa.DataFrameSchema:
    global _SCHEMA
    if _SCHEMA is None:
        _SCHEMA = _opportunity_schema()
    return _SCHEMA


# --------------------------------------------------------------------------- opportunities
def clean_opportunities(
    frame: pd.DataFrame,
    *,
    source: str,
    tz: str,
    row_label: RowLabel = position_labels,
) -> pd.DataFrame:
    """Coerce and validate an opportunities table.

    Parameters
    ----------
    frame : DataFrame
        The raw table (any dtypes).
    source : str
        File or table name shown in errors.
    tz : str
        Time zone for naive timestamps.
    row_label : callable
        Turns row positions into labels for rows without a usable id.

    Returns
    -------
    DataFrame
        Canonical columns first (``opportunity_id``, ``owner``, ``created_at``,
        ``status``, ``closed_at``, ``amount``, the optional text columns), then the
        extra columns unchanged. Missing optional columns are added empty.

    Raises
    ------
    DataSchemaError
        Listing every problem found.
    """
    frame = _strip_column_names(frame)
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise DataSchemaError(
            problems=[_missing_column(c, frame.columns, source) for c in missing]
        )
    if len(frame) == 0:
        raise DataSchemaError(
            "has no rows", source=source,
            fix="export the opportunities with at least one row (the header alone is not a dataset)",
        )
    frame = frame.reset_index(drop=True)
    out = pd.DataFrame(index=frame.index)
    problems: list[Problem] = []

    ids = clean_text(frame["opportunity_id"])
    out["opportunity_id"] = ids

    def label_rows(mask: np.ndarray) -> list[str]:
        positions = np.flatnonzero(mask)
        id_values = ids.to_numpy()[positions]
        fallback = row_label(positions)
        return [str(v) if isinstance(v, str) else fb for v, fb in zip(id_values, fallback, strict=True)]

    out["owner"] = clean_text(frame["owner"])
    created, bad_created = parse_timestamps(frame["created_at"], tz=tz)
    out["created_at"] = created
    out["status"] = clean_text(frame["status"]).str.lower()
    if "closed_at" in frame.columns:
        closed, bad_closed = parse_timestamps(frame["closed_at"], tz=tz)
    else:
        closed = pd.Series(pd.NaT, index=frame.index, dtype=created.dtype)
        bad_closed = np.zeros(len(frame), dtype=bool)
    out["closed_at"] = closed
    if "amount" in frame.columns:
        amount, bad_amount = parse_amounts(frame["amount"])
    else:
        amount = pd.Series(np.nan, index=frame.index, dtype="float64")
        bad_amount = np.zeros(len(frame), dtype=bool)
    out["amount"] = amount
    for col in OPTIONAL_TEXT_COLUMNS:
        out[col] = clean_text(frame[col]) if col in frame.columns else pd.Series(
            pd.NA, index=frame.index, dtype="str")

    for col, bad, fix in (
        ("created_at", bad_created, _TIMESTAMP_FIX),
        ("closed_at", bad_closed, _TIMESTAMP_FIX),
        ("amount", bad_amount, "write amounts as plain numbers (e.g. 1250000.5), without "
                               "thousands separators or currency signs; leave unknown amounts empty"),
    ):
        if bad.any():
            raw = [str(v) for v in frame[col].to_numpy()[bad]]
            if col != "amount" and any(_JALALI_LIKE.match(v) for v in raw):
                fix = f"{fix}. Some values look like Jalali dates: data files hold Gregorian dates"
            problems.append(Problem(f"has values that cannot be read as {_KIND[col]}", source, fix, col,
                                    tuple(label_rows(bad)), tuple(raw)))

    # Rows whose value could not be read are reported once, above, not again as "blank".
    unreadable = {"created_at": bad_created, "closed_at": bad_closed, "amount": bad_amount}
    problems.extend(_schema_problems(out, frame, source, label_rows, unreadable))
    if problems:
        raise DataSchemaError.from_problems(problems)

    extras = [c for c in frame.columns if c not in out.columns]
    for col in extras:
        out[col] = frame[col]
    return out


_TIMESTAMP_FIX = ("write timestamps in ISO 8601, e.g. 2025-03-04 or 2025-03-04T10:15:00 "
                  "(Gregorian dates; an offset such as +03:30 is optional)")
_KIND = {"created_at": "a timestamp (ISO 8601, between 1677 and 2262)",
         "closed_at": "a timestamp (ISO 8601, between 1677 and 2262)", "amount": "a number"}
_JALALI_LIKE = re.compile(r"^\s*1[34]\d\d[-/]")


def _schema_problems(
    out: pd.DataFrame,
    raw: pd.DataFrame,
    source: str,
    label_rows: Callable[[np.ndarray], list[str]],
    unreadable: dict[str, np.ndarray],
) -> list[Problem]:
    try:
        _schema().validate(out, lazy=True)
    except pa.errors.SchemaErrors as err:
        cases = err.failure_cases
        problems = []
        for key, (column, rule, fix) in _FIXES.items():
            hit = cases[cases["check"] == key]
            if hit.empty:
                continue
            positions = np.unique(hit["index"].dropna().astype("int64").to_numpy())
            mask = np.zeros(len(out), dtype=bool)
            mask[positions] = True
            if column in unreadable:
                mask &= ~unreadable[column]
            if key == "closed_required":
                mask &= ~unreadable["closed_at"]
            if not mask.any():
                continue
            values: tuple[object, ...] = ()
            if key in ("status_known", "amount_nonneg", "id_unique"):
                # Show the values as the user wrote them (before trimming / lower-casing).
                shown = raw[column] if key == "status_known" else out[column]
                values = tuple(shown.to_numpy()[mask])
            problems.append(Problem(rule, source, fix, column, tuple(label_rows(mask)), values))
        return problems
    return []


def _strip_column_names(frame: pd.DataFrame) -> pd.DataFrame:
    names = [str(c).strip() for c in frame.columns]
    if names != list(frame.columns):
        frame = frame.set_axis(names, axis=1)
    return frame


def _missing_column(column: str, present: Sequence[str] | pd.Index, source: str) -> Problem:
    near = [c for c in present if c.strip().lower().replace(" ", "_") == column]
    hint = f" (found {near[0]!r}: rename it to {column!r})" if near else ""
    found = ", ".join(map(str, present)) or "(none)"
    return Problem(
        f"required column is missing{hint}; columns found: {found}", source,
        f"add a '{column}' column, or read the export with a column mapping (mapping=...)", column,
    )


# --------------------------------------------------------------------------- history
def clean_history(
    frame: pd.DataFrame,
    opportunities: pd.DataFrame,
    settings: FunnelSettings,
    *,
    source: str,
    row_label: RowLabel = position_labels,
) -> pd.DataFrame:
    """Coerce and validate a stage-history table against its opportunities.

    Entries are sorted by opportunity and ``entered_at``; ties keep the source order
    (the ``seq`` column records it).

    Raises
    ------
    DataSchemaError
        Listing every problem: missing columns, blank ids or stages, unreadable
        timestamps, rows for unknown opportunities, stages not in the funnel, entries
        before the opportunity was created or after it was closed.
    """
    frame = _strip_column_names(frame)
    missing = [c for c in HISTORY_COLUMNS if c not in frame.columns]
    if missing:
        raise DataSchemaError(problems=[_missing_column(c, frame.columns, source) for c in missing])
    frame = frame.reset_index(drop=True)
    out = pd.DataFrame(index=frame.index)
    out["opportunity_id"] = clean_text(frame["opportunity_id"])
    out["stage"] = clean_text(frame["stage"])
    entered, bad_entered = parse_timestamps(frame["entered_at"], tz=settings.timezone)
    out["entered_at"] = entered
    out["seq"] = np.arange(len(out), dtype=index_dtype(len(out)))

    def labels(mask: np.ndarray) -> list[str]:
        positions = np.flatnonzero(mask)
        ids = out["opportunity_id"].to_numpy()[positions]
        lines = row_label(positions)
        return [f"{i} ({ln})" if isinstance(i, str) else ln for i, ln in zip(ids, lines, strict=True)]

    problems: list[Problem] = []
    for col, fix in (("opportunity_id", "fill in the opportunity each stage entry belongs to"),
                     ("stage", "fill in the stage that was entered")):
        blank = out[col].isna().to_numpy()
        if blank.any():
            problems.append(Problem("has blank values", source, fix, col, tuple(labels(blank))))
    blank_time = out["entered_at"].isna().to_numpy() & ~bad_entered
    if blank_time.any():
        problems.append(Problem("has blank values", source, "fill in when each stage was entered",
                                "entered_at", tuple(labels(blank_time))))
    if bad_entered.any():
        problems.append(Problem("has values that cannot be read as a timestamp", source, _TIMESTAMP_FIX,
                                "entered_at", tuple(labels(bad_entered)),
                                tuple(str(v) for v in frame["entered_at"].to_numpy()[bad_entered])))

    codes = id_codes(out["opportunity_id"], opportunities["opportunity_id"]).astype(
        index_dtype(len(opportunities)))
    known = codes >= 0
    unknown = ~known & out["opportunity_id"].notna().to_numpy()
    if unknown.any():
        problems.append(Problem(
            "has rows for opportunities that are not in the opportunities table", source,
            "remove these history rows, or add the missing opportunities", "opportunity_id",
            tuple(labels(unknown)),
        ))

    if settings.stages:
        allowed = {*settings.stages, settings.won, settings.lost}
        off = out["stage"].notna().to_numpy() & ~out["stage"].isin(allowed).to_numpy()
        if off.any():
            problems.append(Problem(
                f"has stages that are not in the funnel ({', '.join(settings.stages)}; outcomes "
                f"{settings.won}/{settings.lost})", source,
                "add the stage to 'stages' in funnel.yml in its funnel position, or correct the value "
                "(map CRM stage names with a column mapping)", "stage",
                tuple(labels(off)), tuple(out["stage"].to_numpy()[off]),
            ))

    entry = utc_nanos(out["entered_at"])
    if known.any():
        before, after = _outside_life(codes, entry, utc_nanos(opportunities["created_at"]),
                                      utc_nanos(opportunities["closed_at"]))
        if before.any():
            problems.append(Problem(
                "has entries before the opportunity was created", source,
                "correct entered_at or the opportunity's created_at (a stage cannot be entered "
                "before the deal exists)", "entered_at", tuple(labels(before)),
            ))
        if after.any():
            problems.append(Problem(
                "has entries after the opportunity was closed", source,
                "correct entered_at or the opportunity's closed_at (a closed deal enters no stage)",
                "entered_at", tuple(labels(after)),
            ))

    if problems:
        raise DataSchemaError.from_problems(problems)

    extras = [c for c in frame.columns if c not in out.columns]
    for col in extras:
        out[col] = frame[col]
    out["opp_code"] = codes
    # Sort by opportunity, then entry time, ties in source order. Exports are usually
    # sorted already: then nothing is moved.
    if len(codes) < 2 or _sorted_pairs(codes, entry):
        return out
    order = np.argsort(entry, kind="stable")  # stable: ties keep the source order
    order = order[np.argsort(codes[order], kind="stable")]
    return out.take(order).reset_index(drop=True)


#: Rows per block when comparing history entries with their opportunity's life: caps
#: the temporaries at a few MB whatever the size of the history.
_BLOCK = 1 << 20
_NAT = np.iinfo("int64").min


def _outside_life(codes: np.ndarray, entry: np.ndarray, born: np.ndarray, ended: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Masks of entries before their opportunity was created / after it was closed.

    Times are int64 nanoseconds (:func:`utc_nanos`); the smallest int64 is NaT.
    """
    before = np.zeros(len(codes), dtype=bool)
    after = np.zeros(len(codes), dtype=bool)
    for lo in range(0, len(codes), _BLOCK):
        part = slice(lo, lo + _BLOCK)
        code, when = codes[part], entry[part]
        known = (code >= 0) & (when != _NAT)
        row = np.where(known, code, 0)
        born_at = born[row]
        before[part] = known & (born_at != _NAT) & (when < born_at)
        close = ended[row]
        after[part] = known & (close != _NAT) & (when > close)
    return before, after


def _sorted_pairs(codes: np.ndarray, times: np.ndarray) -> bool:
    """Whether rows are already ordered by ``codes`` then ``times`` (no int temporaries)."""
    for lo in range(0, len(codes) - 1, _BLOCK):
        a, b = slice(lo, lo + _BLOCK), slice(lo + 1, lo + 1 + _BLOCK)
        ca, cb = codes[a][: len(codes[b])], codes[b]
        ta, tb = times[a][: len(cb)], times[b]
        if not ((cb > ca) | ((cb == ca) & (tb >= ta))).all():
            return False
    return True


def check_stage_column(opportunities: pd.DataFrame, settings: FunnelSettings, *, source: str) -> None:
    """Check the ``stage`` column of opportunities names funnel stages (when configured)."""
    if not settings.stages or settings.stages_inferred:
        return
    allowed = {*settings.stages, settings.won, settings.lost}
    stage = opportunities["stage"]
    off = (stage.notna() & ~stage.isin(allowed)).to_numpy()
    if off.any():
        raise DataSchemaError(
            f"has stages that are not in the funnel ({', '.join(settings.stages)})",
            source=source, column="stage",
            ids=list(opportunities["opportunity_id"].to_numpy()[off]),
            values=list(stage.to_numpy()[off]),
            fix="add the stage to 'stages' in funnel.yml in its funnel position, or correct the value",
        )


def infer_stage_order(
    history: pd.DataFrame, opportunities: pd.DataFrame, settings: FunnelSettings
) -> tuple[str, ...]:
    """Infer the open-stage order from the history.

    Each opportunity orders the stages it entered by first entry. A stage scores a
    point for every other stage it precedes in most of the opportunities that entered
    both (a Copeland ranking), so deals that start mid-funnel or skip stages do not
    distort the order; ties are broken by the mean relative rank, then by name. Stages
    that appear only in the opportunities' ``stage`` column follow, in order of first
    appearance.
    """
    outcomes = {settings.won, settings.lost}
    order: list[str] = []
    if len(history):
        h = history[~history["stage"].isin(outcomes)]
        first = h.drop_duplicates(["opportunity_id", "stage"])
        rank = first.groupby("opportunity_id", sort=False).cumcount()
        ranks = pd.DataFrame({"opp": first["opportunity_id"], "stage": first["stage"], "rank": rank})
        wide = ranks.pivot(index="opp", columns="stage", values="rank")
        names = list(wide.columns)
        values = wide.to_numpy(dtype="float64")
        # Copeland order: a stage scores one point for every other stage it precedes in
        # most of the opportunities that entered both (only pairs seen together count, so
        # a deal that starts mid-funnel does not pull its first stage forward).
        score = dict.fromkeys(names, 0.0)
        for i, a in enumerate(names):
            for j in range(i + 1, len(names)):
                before = int(np.sum(values[:, i] < values[:, j]))
                after = int(np.sum(values[:, i] > values[:, j]))
                if before > after:
                    score[a] += 1
                elif after > before:
                    score[names[j]] += 1
                else:
                    score[a] += 0.5
                    score[names[j]] += 0.5
        mean_rank = wide.rank(axis=1, pct=True).mean()
        order = sorted(names, key=lambda s: (-score[s], mean_rank[s], s))
    for value in opportunities["stage"].dropna().unique():
        if value not in outcomes and value not in order:
            order.append(value)
    if order:
        warnings.warn(
            f"funnel stage order inferred from the data: {' → '.join(order)}; "
            "set 'stages' in funnel.yml to make it explicit",
            SalesnbWarning, stacklevel=3,
        )
    return tuple(order)
