"""Building blocks of the KPI tables: window rows, groups, periods, grids, statistics.

Private machinery of the metrics modules. Every function here works on a resolved
:class:`~salesnb.metrics.window.Window` and the data as known at ``window.as_of``
(:meth:`salesnb.SalesData.at`): nothing after ``as_of`` has happened.

How the work is split between the engine and Python, so that every engine gives the
same numbers to the last bit:

* the engine selects and joins (the window, the ``as_of`` replay, stage visits, the
  deepest and current stage, periods) and counts; integer sums (durations in
  microseconds) are exact there too;
* sums and means of amounts (floats) are computed in Python on the per-deal values,
  fetched in the source's row order; a quantile is the linear interpolation (pandas'
  rule) between two order statistics, which the engine picks by rank when there are
  many values (:func:`summarize`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa

from salesnb import periods
from salesnb._options import PERIODS, check_option
from salesnb.data.dataset import SalesData, Snapshot
from salesnb.data.frames import to_frame
from salesnb.data.portable import count_true
from salesnb.exceptions import OptionError
from salesnb.metrics.window import Window

if TYPE_CHECKING:
    import ibis.expr.types as ir

#: Label used for an empty group value (no team, no reason...).
NONE_LABEL = "(none)"
UNSPECIFIED = "(unspecified)"
TOTAL = "(all)"
US_PER_DAY = 86_400_000_000
#: Below this many values, statistics are computed from the values themselves (fetched);
#: above it, the engine returns counts, exact sums and the order statistics needed.
FETCH_VALUES_BELOW = 20_000


# --------------------------------------------------------------------------- engine I/O
def fetch(data: SalesData, expr: ir.Table) -> pd.DataFrame:
    """Run ``expr`` in the data's engine; return a DataFrame (instants as aware timestamps)."""
    return to_frame(data.engine.arrow(expr), data.settings.timezone)


def in_window(values: ir.IntegerValue, window: Window) -> ir.BooleanValue:
    """``start <= values < end`` on microseconds (NULL is outside)."""
    start, end = micros(window.start), micros(window.end)
    return ((values >= start) & (values < end)).fill_null(False)


def micros(moment: pd.Timestamp) -> int:
    """Microseconds since the epoch (UTC) of an aware timestamp, as the engine holds instants."""
    return int(moment.value) // 1000


def days(values: Any) -> np.ndarray:
    """Durations in microseconds as fractional days (seconds / 86400)."""
    return np.asarray(values, dtype="float64") / US_PER_DAY


# --------------------------------------------------------------------------- window rows
def closed_in_window(snap: Snapshot, window: Window) -> ir.Table:
    """The deals won or lost in the window, as known at ``as_of`` (an engine table with
    ``status_asof`` and ``closed_asof``)."""
    o = snap.table
    t = o.filter(snap.closed_known(o) & o.status.isin(["won", "lost"]) & in_window(o.closed_at, window))
    return t.mutate(status_asof=t.status, closed_asof=t.closed_at)


def created_in_window(snap: Snapshot, window: Window) -> ir.Table:
    """The cohort created in the window, as known at ``as_of`` (with ``status_asof`` and
    ``closed_asof``)."""
    o = snap.table
    t = o.filter(in_window(o.created_at, window) & snap.exists(o))
    return t.mutate(status_asof=snap.status(t), closed_asof=snap.closed(t))


#: The columns of :func:`closed_frame` (others are fetched when asked for).
CLOSED_COLUMNS = ("_row", "opportunity_id", "owner", "team", "status_asof", "closed_asof", "created_at",
                  "amount", "lost_reason", "stage")


def closed_frame(snap: Snapshot, window: Window, columns: Any = ()) -> pd.DataFrame:
    """The deals won or lost in the window, as a DataFrame in source row order.

    One engine query per snapshot and window (kept with the snapshot, so the KPI
    functions of one window share it): the rows the window selects, with
    :data:`CLOSED_COLUMNS` and any of ``columns`` (None entries are skipped). The
    per-group counts and sums of won/lost, sales volume, win rate and sales cycle are
    computed from it in Python, in source row order, the same on every engine.
    """
    wanted = {c for c in columns if c is not None}
    key = ("closed_frame", window.start.value, window.end.value)
    cached = snap.kept(key)
    if cached is not None and wanted <= set(cached.columns):
        return cached
    t = closed_in_window(snap, window)
    for c in wanted:
        if c not in t.columns:
            check_by(c, t.columns)  # raises, naming the columns
    have = set(cached.columns) if cached is not None else set()
    cols = [*CLOSED_COLUMNS, *sorted((wanted | have) - set(CLOSED_COLUMNS))]
    frame = fetch(snap.data, t.select(*cols).order_by("_row"))
    frame["amount"] = frame["amount"].astype("float64")
    return snap.keep(key, frame)


def group_labels(frame: pd.DataFrame, by: str | None) -> pd.Series:
    """The group label of each row of a fetched frame for ``by`` (None: the total, ``(all)``)."""
    if by is None:
        return pd.Series(TOTAL, index=frame.index, dtype="str")
    values = frame[by]
    if not pd.api.types.is_string_dtype(values.dtype):
        values = values.astype("str")
    return values.fillna(NONE_LABEL)


def split_by_period(data: SalesData, frame: pd.DataFrame, times: pd.Series, window: Window,
                    period: str | None, group_col: str) -> tuple[list[str], pd.DataFrame | None, list[str]]:
    """Prepare a per-group (and per-period) aggregation of a fetched ``frame``.

    With a ``period``, adds the period label of ``times`` to ``frame`` (in place) and
    returns the grouping keys ``["period", group_col]``, the period table for
    :func:`complete_grid` and the leading output columns; without one, ``[group_col]``,
    None and no leading columns.
    """
    if period is None:
        return [group_col], None, []
    frame["period"] = assign(data, times, window, period)
    return (["period", group_col], period_frame(data, window, period),
            ["period", "period_start", "period_end"])


# --------------------------------------------------------------------------- grouping
def check_by(by: str, columns: Any) -> str:
    """Return the column ``by`` names (the option checker's rule: case-insensitive)."""
    public = [str(c) for c in columns if not str(c).startswith("_")
              and str(c) not in ("status_asof", "closed_asof")]
    return check_option("by", by, public)


def canonical_by(data: SalesData, by: str | None) -> str | None:
    """Return ``by`` as the column of the opportunities it names (None stays None)."""
    return None if by is None else check_by(by, data.opportunity_table.columns)


def group_column(by: str | None) -> str:
    """Return the output column name for a ``by`` value."""
    return by if by is not None else "group"


def group_value(t: ir.Table, by: str | None) -> ir.StringValue:
    """The group label of each row for ``by`` (a column; None for the total, ``(all)``)."""
    if by is None:
        return ibis.literal(TOTAL)
    column = t[check_by(by, t.columns)]
    text = column if column.type().is_string() else column.cast("string")
    return text.fill_null(NONE_LABEL)


def all_groups(snap: Snapshot, by: str | None) -> list[str]:
    """Return every group label known at ``snap.as_of``, sorted (so empty groups show as zeros).

    Groups that appear only on opportunities created after ``as_of`` did not exist
    yet, so a past window shows the same rows whenever it is re-run. Sorted in Python:
    the same order whatever the engine's collation.
    """
    if by is None:
        return [TOTAL]

    def compute() -> list[str]:
        o = snap.table
        known = o.filter(snap.exists(o))
        found = snap.data.engine.arrow(known.select(_g=group_value(known, by)).distinct())
        return sorted(str(v) for v in found.column("_g").to_pylist())

    return list(snap.derived(("all_groups", by), compute))


# --------------------------------------------------------------------------- periods
def period_frame(
    data: SalesData,
    window: Window,
    period: str,
    *,
    fiscal_year_start: int | None = None,
) -> pd.DataFrame:
    """Return the periods overlapping the window (``period``, ``period_start``, ``period_end``)."""
    period = check_option("period", period, PERIODS)
    return periods.period_table(
        window.start, window.end, period=period, calendar=window.calendar,
        week_start=_week_start(data, window.calendar),
        fiscal_year_start=fiscal_year_start or data.settings.fiscal_year_start,
        tz=data.settings.timezone,
    )


def with_period(t: ir.Table, time_col: str, table: pd.DataFrame) -> ir.Table:
    """``t`` with the ``period`` label of ``time_col``: the calendar table built in Python
    (:func:`period_frame`), joined in the engine. Rows outside every period are dropped
    (callers pass rows inside the window, which its periods cover)."""
    bounds = ibis.memtable(pa.table({
        "period": pa.array([str(p) for p in table["period"]], pa.string()),
        "_ps": pa.array([micros(t) for t in table["period_start"]], pa.int64()),
        "_pe": pa.array([micros(t) for t in table["period_end"]], pa.int64()),
    }))
    joined = t.join(bounds, (t[time_col] >= bounds._ps) & (t[time_col] < bounds._pe))
    return joined.drop("_ps", "_pe")


def assign(
    data: SalesData,
    times: pd.Series,
    window: Window,
    period: str,
    *,
    fiscal_year_start: int | None = None,
) -> pd.Series:
    """Return the period label of each timestamp (missing where the timestamp is)."""
    period = check_option("period", period, PERIODS)
    if times.empty:
        return pd.Series(pd.NA, index=times.index, dtype="str")
    labels = periods.assign_periods(
        times, period=period, calendar=window.calendar,
        week_start=_week_start(data, window.calendar),
        fiscal_year_start=fiscal_year_start or data.settings.fiscal_year_start,
    )["period"]
    return labels.astype("str")


def _week_start(data: SalesData, calendar: str) -> str:
    if calendar == data.settings.calendar:
        return data.settings.week_start
    return periods.default_week_start(calendar)


def grouped(data: SalesData, t: ir.Table, by: str | None, window: Window, period: str | None,
            time_col: str) -> tuple[ir.Table, list[str], pd.DataFrame | None, list[str]]:
    """``t`` with its group label (and period label), the grouping keys, the period table
    for :func:`complete_grid` and the leading output columns."""
    col = group_column(by)
    t = t.mutate(**{col: group_value(t, by)})
    if period is None:
        return t, [col], None, []
    table = period_frame(data, window, period)
    return (with_period(t, time_col, table), ["period", col], table,
            ["period", "period_start", "period_end"])


def complete_grid(
    counts: pd.DataFrame,
    periods_table: pd.DataFrame | None,
    groups: list[str],
    group_col: str,
    value_cols: list[str],
) -> pd.DataFrame:
    """Return ``counts`` with a row for every period × group (zeros where nothing happened)."""
    if periods_table is not None:
        grid = periods_table.merge(pd.DataFrame({group_col: pd.Series(groups, dtype="str")}),
                                   how="cross")
        keys = ["period", group_col]
    else:
        grid = pd.DataFrame({group_col: pd.Series(groups, dtype="str")})
        keys = [group_col]
    counts = counts.astype({k: "str" for k in keys if k in counts.columns})
    out = grid.merge(counts, on=keys, how="left")
    for col in value_cols:
        out[col] = out[col].fillna(0).astype("int64")
    return out


# --------------------------------------------------------------------------- statistics
def float_sums(data: SalesData, t: ir.Table, keys: list[str], value: ir.Value, name: str) -> pd.DataFrame:
    """The sum of a float ``value`` per ``keys``, added in Python in source row order (the
    same on every engine); groups whose values are all missing sum to 0.

    With amounts split by currency (:func:`currency_mode` ``split``) the frame has a
    ``_currency`` column too (see :func:`group_currencies`): :func:`split_values` then
    empties the sums that would add currencies together.
    """
    split = currency_mode(data) == "split"
    extra = {"currency": t.currency} if split else {}
    rows = fetch(data, t.select(*keys, _v=value, _r=t._row, **extra).order_by("_r"))
    if rows.empty:
        return pd.DataFrame({**{k: pd.Series(dtype="str") for k in keys}, name: pd.Series(dtype="float64"),
                             **({"_currency": pd.Series(dtype="str")} if split else {})})
    rows["_v"] = rows["_v"].astype("float64")
    out = rows.groupby(keys, sort=False)["_v"].sum().rename(name).reset_index()
    if split:
        out = out.merge(group_currencies(rows, keys, "_v"), on=keys, how="left")
    return out


def _lerp(a: float, b: float, t: float) -> float:
    """numpy's linear interpolation (what pandas' ``quantile`` computes)."""
    diff = b - a
    return b - diff * (1 - t) if t >= 0.5 else a + diff * t


def summarize(data: SalesData, table: ir.Table, keys: list[str], value: str, *,
              quantiles: dict[str, float], mean: str | None = None, count: str = "n") -> pd.DataFrame:
    """Per group of ``keys``: the count, mean and quantiles of the integer column ``value``.

    Exact and the same on every engine: counts and integer sums come from the engine;
    each quantile is the linear interpolation (pandas' default) between two order
    statistics, which are either fetched with all values (few) or picked in the engine
    by rank. Returns floats in the unit of ``value``; missing values are left out.
    """
    t = table.filter(table[value].notnull())
    agg: dict[str, Any] = {count: t.count()}
    if mean:
        # Spark's long sums overflow silently: sum as decimals there.
        agg["_sum"] = (t[value].cast("decimal(38, 0)") if data.engine.kind == "pyspark" else t[value]).sum()
    head = fetch(data, t.group_by(keys).aggregate(**agg) if keys else t.aggregate(**agg))
    if head.empty or (not keys and int(head[count].iloc[0]) == 0):
        cols: dict[str, Any] = {k: pd.Series(dtype="str") for k in keys}
        cols[count] = pd.Series(dtype="int64")
        for name in ([mean] if mean else []) + list(quantiles):
            cols[name] = pd.Series(dtype="float64")
        out = pd.DataFrame(cols)
        if not keys:
            out = pd.DataFrame({count: [0], **{n: [np.nan] for n in ([mean] if mean else []) + list(quantiles)}})
        return out
    head[count] = head[count].astype("int64")
    if mean:
        head[mean] = [float(s) / n if n else np.nan
                      for s, n in zip(head.pop("_sum"), head[count], strict=True)]
    if not quantiles:
        return head.astype({k: "str" for k in keys})
    total = int(head[count].sum())
    if total < FETCH_VALUES_BELOW or data.engine.kind == "sqlite":
        values = fetch(data, t.select(*keys, _v=t[value]))
        values["_v"] = values["_v"].astype("float64")
        if keys:
            head = head.astype({k: "str" for k in keys})
            values = values.astype({k: "str" for k in keys})
            by_key = values.groupby(keys, sort=False)["_v"]
            for name, q in quantiles.items():
                head = head.merge(by_key.quantile(q).rename(name).reset_index(), on=keys, how="left")
        else:
            for name, q in quantiles.items():
                head[name] = float(values["_v"].quantile(q))
        return head
    wanted: list[tuple[Any, ...]] = []
    positions = []
    for row in head.itertuples(index=False):
        n = int(getattr(row, count))
        key_values = tuple(getattr(row, k) for k in keys)
        spots = {}
        for name, q in quantiles.items():
            pos = (n - 1) * q
            lo, hi = int(np.floor(pos)), int(np.ceil(pos))
            spots[name] = (lo, hi, pos - lo)
            wanted.extend([(*key_values, lo), (*key_values, hi)])
        positions.append((key_values, spots))
    ranks = pd.DataFrame(wanted, columns=[*keys, "_rank"]).drop_duplicates()
    rank_table = ibis.memtable(pa.Table.from_pandas(ranks, preserve_index=False))
    order = ibis.window(group_by=[t[k] for k in keys], order_by=t[value]) if keys else \
        ibis.window(order_by=t[value])
    ranked = t.select(*keys, _v=t[value], _rank=ibis.row_number().over(order))
    picked = fetch(data, ranked.join(rank_table, [*keys, "_rank"]).select(*keys, "_rank", "_v"))
    found = {(*tuple(r[:-2]), int(r[-2])): float(r[-1])
             for r in picked[[*keys, "_rank", "_v"]].itertuples(index=False)}
    for name in quantiles:
        head[name] = [_lerp(found[(*kv, spots[name][0])], found[(*kv, spots[name][1])], spots[name][2])
                      for kv, spots in positions]
    return head.astype({k: "str" for k in keys})


# --------------------------------------------------------------------------- numbers
def ratio(num: Any, den: Any) -> Any:
    """Divide, giving NaN (never 0 or inf) where the denominator is 0."""
    num = np.asarray(num, dtype="float64")
    den = np.asarray(den, dtype="float64")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / den, np.nan)


# --------------------------------------------------------------------------- currencies
def currency_mode(data: SalesData) -> str:
    """How amount metrics treat currencies: ``convert`` (exchange rates and a ``currency``
    column: every amount in the reporting currency, see :attr:`Snapshot.table`),
    ``split`` (no rates and more than one currency code: amounts are never added or
    averaged across currencies, one row per currency) or ``single`` (as stored)."""
    if data.converts:
        return "convert"
    return "split" if len(data.currencies()) > 1 else "single"


def currency_labels(frame: pd.DataFrame) -> pd.Series:
    """Each row's currency code (upper case), ``(none)`` where blank."""
    values = frame["currency"]
    if not pd.api.types.is_string_dtype(values.dtype):
        values = values.astype("str")
    return values.str.upper().fillna(NONE_LABEL).astype("str")


def split_note(data: SalesData) -> str:
    """The sentence saying amounts are split by currency (for ``attrs`` and the summary)."""
    codes = data.currencies()
    return (f"amounts are in {len(codes)} currencies ({', '.join(codes)}) and no exchange rates were "
            "given: sales volume is split by currency, never added or averaged across currencies "
            "(give rates.csv to convert them)")


#: The currency of a value that would add amounts in more than one currency (left empty).
SEVERAL = "(several)"


def group_currencies(frame: pd.DataFrame, keys: list[str], value: str) -> pd.DataFrame:
    """Per ``keys``, the currency of the rows whose ``value`` is known: its code,
    ``(none)`` for rows without one, :data:`SEVERAL` when they differ (column ``_currency``)."""
    has = frame[frame[value].notna()]
    pairs = pd.DataFrame({**{k: has[k] for k in keys}, "_currency": currency_labels(has)}).drop_duplicates()
    n = pairs.groupby(keys, sort=False)["_currency"].transform("size")
    pairs.loc[n > 1, "_currency"] = SEVERAL
    return pairs.drop_duplicates(keys).reset_index(drop=True)


def split_values(data: SalesData, out: pd.DataFrame, names: Sequence[str]) -> pd.DataFrame:
    """Amounts split by currency: the values in ``names`` whose group adds several
    currencies are left empty (NaN), and a ``currency`` column after them says the
    currency of each row's values (empty: no amount). Reads and drops ``_currency``;
    a no-op (dropping ``_currency``) when amounts are not split."""
    if "_currency" not in out.columns:
        return out
    label = out.pop("_currency").astype("object")
    if currency_mode(data) != "split" or "currency" in out.columns:  # by="currency": one each
        return out
    several = (label == SEVERAL).to_numpy()
    for name in names:
        out.loc[several, name] = np.nan
    at = max(list(out.columns).index(n) for n in names) + 1
    out.insert(at, "currency", pd.Series(label.where(label.notna(), ""), index=out.index, dtype="str"))
    out.attrs["currency_note"] = values_note(data)
    return out


def values_note(data: SalesData) -> str:
    """The sentence saying a table's values are per currency (``attrs["currency_note"]``)."""
    codes = data.currencies()
    return (f"amounts are in {len(codes)} currencies ({', '.join(codes)}) and no exchange rates were "
            f"given: each value is in the currency its 'currency' column names; a value that would "
            f"add currencies together is left empty ({SEVERAL}); by='currency' gives one row per "
            "currency (give rates.csv to convert them)")


# --------------------------------------------------------------------------- pipelines
def only_pipelines(data: SalesData, pipelines: Sequence[str] | None) -> SalesData:
    """The dataset restricted to ``pipelines`` (None or empty: all of it).

    The ``pipelines=`` option of every public KPI: :meth:`SalesData.subset`, which
    raises when the data has no ``pipeline`` column or a name is not one of its values.
    """
    if pipelines is None:
        return data
    if isinstance(pipelines, str):
        pipelines = [pipelines]
    return data.subset(pipelines=list(pipelines)) if len(pipelines) else data


def has_pipelines(data: SalesData) -> bool:
    """Whether the data has a ``pipeline`` column (then the funnel family is per pipeline)."""
    return "pipeline" in data.opportunity_table.columns


def pipeline_orders(data: SalesData) -> list[tuple[str | None, tuple[str, ...]]]:
    """Each pipeline of the data with its open stages in funnel order.

    The pipelines configured in ``funnel.yml`` come first in their order, then the other
    values found in the data (sorted; they use the overall ``stages``); deals without a
    pipeline form a last group, ``None`` (labelled :data:`NONE_LABEL`), with the overall
    ``stages``. Empty when the data has no ``pipeline`` column.
    """
    if not has_pipelines(data):
        return []
    key = "pipeline_orders"
    cached = data._memo.get(key)
    if cached is None:
        found = data.values("pipeline")
        configured = [p for p in data.settings.pipelines if p in set(found)]
        names: list[str | None] = [*configured, *[p for p in found if p not in set(configured)]]
        o = data.opportunity_table
        if data.engine.one(o.aggregate(n=count_true(o.pipeline.isnull()))).get("n"):
            names.append(None)
        cached = [(p, data.settings.pipeline_stages(p)) for p in names]
        data._memo[key] = cached
    return list(cached)


def pipeline_label(name: str | None) -> str:
    """The label of a pipeline in a result (``(none)`` for deals without one)."""
    return NONE_LABEL if name is None else name


def pipeline_value(t: ir.Table) -> ir.StringValue:
    """Each row's pipeline as text, ``(none)`` where empty (the column must exist)."""
    column = t.pipeline if t.pipeline.type().is_string() else t.pipeline.cast("string")
    return column.fill_null(NONE_LABEL)


def in_pipeline(t: ir.Table, name: str | None) -> ir.BooleanValue:
    """Rows of ``t`` in pipeline ``name`` (None: rows without a pipeline)."""
    return t.pipeline.isnull() if name is None else (t.pipeline == name).fill_null(False)


def with_excluded(frame: pd.DataFrame, **excluded: int) -> pd.DataFrame:
    """Attach counts of rows a computation left out, as ``frame.attrs['excluded']``."""
    frame.attrs["excluded"] = {k: int(v) for k, v in excluded.items()}
    return frame


__all__ = [
    "CLOSED_COLUMNS",
    "NONE_LABEL",
    "SEVERAL",
    "TOTAL",
    "UNSPECIFIED",
    "OptionError",
    "all_groups",
    "assign",
    "canonical_by",
    "check_by",
    "closed_frame",
    "closed_in_window",
    "complete_grid",
    "created_in_window",
    "currency_labels",
    "currency_mode",
    "days",
    "fetch",
    "float_sums",
    "group_column",
    "group_currencies",
    "group_labels",
    "group_value",
    "grouped",
    "has_pipelines",
    "in_pipeline",
    "in_window",
    "micros",
    "only_pipelines",
    "period_frame",
    "pipeline_label",
    "pipeline_orders",
    "pipeline_value",
    "ratio",
    "split_by_period",
    "split_note",
    "split_values",
    "summarize",
    "values_note",
    "with_excluded",
    "with_period",
]
