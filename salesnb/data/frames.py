"""Between pandas and the engine: DataFrames in (as Arrow), result tables out (as pandas).

In: :func:`frame_to_arrow` turns a DataFrame in the canonical layout (or an export shaped
into it) into an Arrow table the engine scans, with ``_row`` (the row positions). Out:
:func:`to_frame` turns an engine result into a tidy pandas DataFrame, with the instants
(int64 microseconds, UTC, in the engine) as timezone-aware timestamps.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from salesnb.exceptions import DataSchemaError

__all__ = ["INSTANT_COLUMNS", "frame_to_arrow", "micros_to_times", "to_frame"]

#: Column names that hold instants (int64 microseconds, UTC, in the engine).
INSTANT_COLUMNS = frozenset({
    "created_at", "closed_at", "entered_at", "expected_close_at", "changed_at", "closed_asof",
    "left_at", "entered_stage_at", "started_at", "ended_at", "stopped_at", "as_of",
})


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or value is pd.NaT or (
        isinstance(value, float) and math.isnan(value))


def _text(value: Any) -> Any:
    """A cell as text: whole floats lose ``.0`` (Excel and databases store ids as floats)."""
    if _missing(value):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value)


def _column(series: pd.Series) -> pa.Array:
    """One column as Arrow: typed columns stay typed, object columns become text (or
    timestamps, when every value is one)."""
    if pd.api.types.is_object_dtype(series.dtype):
        present = [v for v in series.to_numpy() if not _missing(v)]
        if present and all(isinstance(v, dt.datetime) for v in present):
            try:
                return pa.array(pd.to_datetime(series), from_pandas=True)
            except (pa.ArrowInvalid, pa.ArrowTypeError, ValueError, TypeError):
                pass
        return pa.array([_text(v) for v in series.to_numpy()], type=pa.large_string())
    if pd.api.types.is_bool_dtype(series.dtype):
        return pa.array([None if _missing(v) else str(bool(v)).lower() for v in series.to_numpy()],
                        type=pa.large_string())
    try:
        return pa.array(series, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return pa.array([_text(v) for v in series.to_numpy()], type=pa.large_string())


def frame_to_arrow(frame: pd.DataFrame, source: str) -> pa.Table:
    """Return a DataFrame as an Arrow table for the engine, with ``_row`` (its row positions).

    Column names are stripped of surrounding spaces; two columns with one name are an
    error (which one would be meant?). Object columns become text (whole floats lose
    ``.0``); numbers and datetimes stay typed.

    Raises
    ------
    DataSchemaError
        Duplicated column names, or a column named ``_row`` (reserved).

    Examples
    --------
    >>> frame_to_arrow(pd.DataFrame({" id ": ["a", "b"]}), "t").column_names
    ['id', '_row']
    """
    names = [str(c).strip() for c in frame.columns]
    counts: dict[str, int] = {}
    for n in names:
        counts[n] = counts.get(n, 0) + 1
    repeated = [n for n, k in counts.items() if k > 1]
    if repeated:
        raise DataSchemaError(
            f"has several columns named {', '.join(repr(n) for n in repeated)}", source=source,
            fix="keep one column per name (rename or drop the copies)")
    if "_row" in names:
        raise DataSchemaError("has a column named '_row', a name salesnb reserves", source=source,
                              fix="rename that column")
    arrays = [_column(frame.iloc[:, i]) for i in range(frame.shape[1])]
    arrays.append(pa.array(np.arange(len(frame), dtype="int64")))
    return pa.Table.from_arrays(arrays, names=[*names, "_row"])


def micros_to_times(values: pa.Array | pa.ChunkedArray, tz: str) -> pd.Series:
    """Return int64 microseconds since the epoch (NULL: NaT) as timestamps in ``tz`` (ns).

    Examples
    --------
    >>> micros_to_times(pa.array([0, None], pa.int64()), "Asia/Tehran").tolist()
    [Timestamp('1970-01-01 03:30:00+0330', tz='Asia/Tehran'), NaT]
    """
    stamped = values.cast(pa.int64()).cast(pa.timestamp("us", tz="UTC"))
    return pd.Series(stamped.to_pandas(), dtype="datetime64[us, UTC]").dt.tz_convert(tz).dt.as_unit("ns")


def to_frame(table: pa.Table, tz: str, instants: Iterable[str] = INSTANT_COLUMNS) -> pd.DataFrame:
    """Return an engine result as a pandas DataFrame: instants aware in ``tz``, text as ``str``."""
    wanted = set(instants)
    out: dict[str, Any] = {}
    for name in table.column_names:
        col = table.column(name)
        if name in wanted and (pa.types.is_integer(col.type) or pa.types.is_null(col.type)):
            out[name] = micros_to_times(col, tz)
        elif pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
            out[name] = pd.Series(col.to_pandas(), dtype="str")
        else:
            out[name] = pd.Series(col.to_pandas())
    if not out:
        return pd.DataFrame(index=pd.RangeIndex(table.num_rows))
    return pd.DataFrame(out)
