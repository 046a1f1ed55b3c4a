"""Array helpers shared by the data and metrics layers: integer codes and nanosecond times.

Millions of rows are joined on integer codes (the row of an opportunity, the funnel
position of a stage) and compared as int64 nanoseconds since the epoch, where the
smallest int64 stands for a missing time (NaT). These helpers build those arrays
without copying what can be viewed, and turn codes back into labels.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as arrow
import pyarrow.compute as pc

__all__ = ["NANOS_PER_DAY", "from_utc_ns", "id_codes", "index_dtype", "label_codes", "utc64",
           "utc_nanos"]

#: Nanoseconds in a day of 86,400 seconds (durations are elapsed days, fractional).
NANOS_PER_DAY = 86_400 * 1_000_000_000


def index_dtype(n: int) -> str:
    """The integer type for row numbers below ``n`` (int32 halves the memory of int64)."""
    return "int32" if n < 2**31 - 1 else "int64"


def utc_nanos(times: pd.Series) -> np.ndarray:
    """Return timestamps as int64 nanoseconds since the epoch (NaT: the smallest int64).

    Timezone-aware values are stored as UTC instants, so this is a read-only view of
    the stored values (no copy) when they are already in nanoseconds. Naive values
    are taken as they are.
    """
    values = times.array
    if not isinstance(values, pd.arrays.DatetimeArray):
        values = pd.array(pd.to_datetime(times)).as_unit("ns")  # pragma: no cover - defensive
    if values.unit != "ns":
        values = values.as_unit("ns")
    view = values.asi8.view()  # type: ignore[attr-defined]  # public, missing from the stubs
    view.flags.writeable = False
    return view


def utc64(times: pd.Series) -> np.ndarray:
    """Return timezone-aware timestamps as a ``datetime64[ns]`` array in UTC (NaT kept; no copy)."""
    return utc_nanos(times).view("M8[ns]")


def id_codes(values: pd.Series, universe: pd.Series) -> np.ndarray:
    """Return the position of each value in ``universe`` (-1 where absent).

    The integer type is :func:`index_dtype` of the universe's size (int32 in practice).

    Uses Arrow's hash lookup: much faster than ``Series.isin``/``map`` on the
    Arrow-backed strings of pandas 3 for millions of ids.
    """
    look = arrow.array(values, from_pandas=True)
    among = arrow.array(universe, from_pandas=True)
    if look.type != arrow.large_string() or among.type != arrow.large_string():
        # Object or empty columns: bring both to one text type (Arrow needs it).
        look, among = look.cast(arrow.large_string()), among.cast(arrow.large_string())
    if len(look) > 1:
        # A stage history lists each opportunity's entries together: look up one value
        # per run of equal values instead of every row (a few times fewer hash probes).
        new_run = pc.fill_null(pc.not_equal(look[1:], look[:-1]), True).to_numpy(zero_copy_only=False)
        starts = np.flatnonzero(np.r_[True, new_run])
        if len(starts) < 0.8 * len(look):
            heads = pc.index_in(look.take(arrow.array(starts)), value_set=among)
            head_codes = heads.fill_null(-1).to_numpy(zero_copy_only=False).astype(index_dtype(len(among)))
            return np.repeat(head_codes, np.diff(np.r_[starts, len(look)]))
    found = pc.index_in(look, value_set=among)
    return found.fill_null(-1).to_numpy(zero_copy_only=False).astype(index_dtype(len(among)))


def from_utc_ns(values: np.ndarray, tz: Any) -> pd.DatetimeIndex:
    """Return int64 nanoseconds since the epoch (min int = NaT) as timestamps in ``tz``."""
    return pd.DatetimeIndex(np.asarray(values, dtype="int64").view("M8[ns]")).tz_localize("UTC").tz_convert(tz)


def label_codes(codes: np.ndarray, labels: list[str] | tuple[str, ...], index: pd.Index | None = None
                ) -> pd.Series:
    """Return ``labels[code]`` for each code as a text Series (missing where ``code < 0``).

    Built with Arrow from the small label array: far cheaper than going through
    Python objects for millions of rows.
    """
    codes = np.asarray(codes, dtype="int64")
    if len(labels) == 0 or len(codes) == 0:
        return pd.Series(pd.NA, index=index if index is not None else pd.RangeIndex(len(codes)),
                         dtype="str")
    taken = pc.take(arrow.array(list(labels), type=arrow.large_string()), arrow.array(codes, mask=codes < 0))
    return pd.Series(pd.array(taken, dtype=pd.ArrowDtype(arrow.large_string())), index=index).astype("str")
