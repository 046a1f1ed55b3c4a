"""Question 3 — sales volume: the value of won deals, and open deals far from it.

Sales volume is over the deals won in the window that have an amount; those without
one are counted separately. An open deal (at ``as_of``) with an amount is *above the
band* when ``amount > mean * (1 + band)`` and *below* when ``amount < mean * (1 - band)``,
``mean`` being the mean won amount of the window (no mean: no flags).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from salesnb._docstrings import fill_doc
from salesnb.data.dataset import SalesData, Snapshot
from salesnb.data.portable import count_true
from salesnb.exceptions import WindowError
from salesnb.metrics._tables import (
    NONE_LABEL,
    TOTAL,
    all_groups,
    canonical_by,
    closed_frame,
    complete_grid,
    currency_labels,
    currency_mode,
    fetch,
    group_column,
    group_labels,
    only_pipelines,
    ratio,
    split_by_period,
    split_note,
    with_excluded,
)
from salesnb.metrics.stages import label_positions
from salesnb.metrics.statistics import wilson_interval
from salesnb.metrics.window import TimeLike, Window, resolve_window

__all__ = ["deal_size_bands", "deal_size_flags", "sales_volume"]

NO_AMOUNT = "(no amount)"


@fill_doc
def sales_volume(
    data: SalesData,
    *,
    start: TimeLike = None,
    end: TimeLike = None,
    as_of: TimeLike = None,
    period: str | None = None,
    calendar: str | None = None,
    by: str | None = "owner",
    pipelines: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Summarise the amounts of the deals won in the window.

    Parameters
    ----------
    {data}
    {window}
    {period}
        Default None; of ``closed_at``.
    {calendar}
    {by}
    {pipelines}

    Returns
    -------
    DataFrame
        The group column, ``won``, ``won_with_amount``, ``won_without_amount``,
        ``mean_amount``, ``median_amount`` (NaN when no won deal has an amount),
        ``total_amount``.
        {period_columns}

    Examples
    --------
    {load_sample}
    >>> t = sn.sales_volume(data, start="1404-01-01", end="1405-01-01", by=None)
    >>> int(t["won"].iloc[0]), int(t["won_without_amount"].iloc[0])
    (203, 6)
    """
    data = only_pipelines(data, pipelines)
    window = resolve_window(data, start, end, as_of, calendar)
    return _sales_volume(data.at(window.as_of), window, period=period, by=canonical_by(data, by))


def _sales_volume(snap: Snapshot, window: Window, *, period: str | None, by: str | None) -> pd.DataFrame:
    col = group_column(by)
    mode = currency_mode(snap.data)
    rows, table, keys, lead = _won_amounts(snap, window, period=period, by=by, mode=mode)
    groups = all_groups(snap, by) if by is not None else [TOTAL]
    if mode != "split":
        out = _volume_stats(rows, keys, table, groups, col, lead, converted=mode == "convert")
        if mode == "convert":
            out.attrs["currency"] = snap.data.settings.currency
        return out
    # Never added across currencies: one block of rows per currency code.
    codes = rows["currency"]
    parts = []
    for rank, code in enumerate(_split_codes(snap, codes)):
        part = _volume_stats(rows[(codes == code).to_numpy()], keys, table, groups, col, lead,
                             converted=False)
        part.insert(len(lead) + 1, "currency", code)
        parts.append(part.assign(_pos=np.arange(len(part)), _rank=rank))
    out = pd.concat(parts, ignore_index=True).sort_values(["_pos", "_rank"], kind="mergesort",
                                                          ignore_index=True)
    out = out.drop(columns=["_pos", "_rank"])
    out.attrs["note"] = split_note(snap.data)
    return out


def _split_codes(snap: Snapshot, codes: pd.Series) -> list[str]:
    """The currency codes of the data (sorted), then ``(none)`` when some rows have none."""
    known = snap.data.currencies()
    return [*known, *([NONE_LABEL] if (codes == NONE_LABEL).any() else [])]


def _volume_stats(rows: pd.DataFrame, keys: list[str], table: pd.DataFrame | None, groups: list[str],
                  col: str, lead: list[str], *, converted: bool) -> pd.DataFrame:
    """Counts, mean, median and total of the won amounts of ``rows`` per ``keys``, on the
    full period × group grid."""
    stats_ = rows.groupby(keys, sort=False)["amount"].agg(
        won="size", won_with_amount="count", mean_amount="mean", median_amount="median",
        total_amount="sum").reset_index()
    counts = ["won", "won_with_amount"]
    if converted:
        no_rate = rows.groupby(keys, sort=False)["_no_rate"].sum().rename("won_without_rate").reset_index()
        stats_ = stats_.merge(no_rate, on=keys, how="left")
        counts.append("won_without_rate")
    out = complete_grid(stats_, table, groups, col, counts)
    out["won_without_amount"] = out["won"] - out["won_with_amount"]
    out["total_amount"] = out["total_amount"].fillna(0.0)
    for c in ("mean_amount", "median_amount", "total_amount"):
        out[c] = out[c].astype("float64")
    return out[[*lead, col, "won", "won_with_amount", "won_without_amount",
                *(["won_without_rate"] if converted else []), "mean_amount", "median_amount",
                "total_amount"]]


def reference_mean(snap: Snapshot, window: Window) -> float:
    """Mean amount of the deals won in the window (NaN when none has an amount; in the
    reporting currency when amounts are converted; NaN when they are split by currency:
    see :func:`reference_means`)."""
    return reference_means(snap, window).get(None, np.nan)


def reference_means(snap: Snapshot, window: Window) -> dict[str | None, float]:
    """Mean won amount of the window: ``{None: mean}``, or, when amounts are split by
    currency, ``{code: mean}`` per currency (NaN when none has an amount)."""
    def compute() -> dict[str | None, float]:
        mode = currency_mode(snap.data)
        rows, _, _, _ = _won_amounts(snap, window, period=None, by=None, mode=mode)

        def mean(values: pd.Series) -> float:
            amounts = values.dropna()
            return float(amounts.mean()) if len(amounts) else np.nan

        if mode != "split":
            return {None: mean(rows["amount"])}
        codes = rows["currency"]
        return {code: mean(rows["amount"][(codes == code).to_numpy()]) for code in _split_codes(snap, codes)}

    return dict(snap.derived(("reference_means", window.start.value, window.end.value), compute))


def check_band(band: float) -> None:
    """Raise when the relative band is negative (or not a number)."""
    if not band >= 0:
        problem = "is negative" if band < 0 else "is not a number"
        raise WindowError(f"`band`={band} {problem}", fix="give a `band` >= 0, e.g. 0.5 for ±50%")


def band_flags(amount: np.ndarray, mean: float, band: float) -> np.ndarray:
    """Flag each amount against ``mean ± band × mean``: ``above``, ``below``, ``within``,
    ``no amount`` (NaN) or ``no reference`` (``mean`` is NaN)."""
    with np.errstate(invalid="ignore"):
        return np.select(
            [np.isnan(amount), np.full(len(amount), np.isnan(mean)),
             amount > mean * (1 + band), amount < mean * (1 - band)],
            ["no amount", "no reference", "above", "below"], default="within")


@fill_doc
def deal_size_flags(
    data: SalesData,
    *,
    start: TimeLike = None,
    end: TimeLike = None,
    as_of: TimeLike = None,
    band: float = 0.5,
    calendar: str | None = None,
    pipelines: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Flag the open deals (at ``as_of``) whose amount is far from the mean won amount.

    The reference is the mean amount of the deals won in the window.

    Parameters
    ----------
    {data}
    {window}
    {band}
    {calendar}
    {pipelines}

    Returns
    -------
    DataFrame
        One row per deal open at ``as_of`` (none left out): ``opportunity_id``,
        ``owner``, ``stage``, ``created_at``, ``amount``, ``reference_mean``, ``ratio``
        (amount / mean), ``flag``: ``above``, ``below``, ``within``, ``no amount`` (the
        deal has none) or ``no reference`` (no won deal with an amount in the window).
        Flagged deals first, largest distance first. ``attrs``: ``band``,
        ``reference_mean``.

    Examples
    --------
    {load_sample}
    >>> t = sn.deal_size_flags(data, start="1404-01-01", end="1405-01-01")
    >>> t["flag"].value_counts().to_dict()
    {'above': 136, 'below': 119, 'within': 80, 'no amount': 6}
    """
    data = only_pipelines(data, pipelines)
    check_band(band)
    window = resolve_window(data, start, end, as_of, calendar)
    return _deal_size_flags(data.at(window.as_of), window, band=band)


def _deal_size_flags(snap: Snapshot, window: Window, *, band: float) -> pd.DataFrame:
    data = snap.data
    mode = currency_mode(data)
    means = reference_means(snap, window)
    o = snap.table
    open_ = o.filter(snap.is_open(o))
    cur = snap.current()
    cur = cur.select(_ck=cur.opp_key, _cpos=cur.position)
    j = open_.left_join(cur, open_._row == cur._ck)
    extra = {"currency": "currency"} if mode == "split" else {"_no_rate": "_no_rate"} if mode == "convert" else {}
    rows = fetch(data, j.select("opportunity_id", "owner", "stage", "created_at", "amount", "_cpos",
                                *extra, _r=j._row).order_by("_r"))
    stage = label_positions(rows["_cpos"], list(data.settings.stages)).fillna(rows["stage"])
    amount = rows["amount"].astype("float64")
    if mode == "split":
        codes = currency_labels(rows)
        mean = codes.map(means).astype("float64").to_numpy()
    else:
        mean = np.full(len(rows), means.get(None, np.nan))
    values = amount.to_numpy(dtype="float64", na_value=np.nan)
    flag = _band_flags_each(values, mean, band)
    if mode == "convert":
        flag = np.where(rows["_no_rate"].astype(bool).to_numpy(), "no rate", flag)
    out = pd.DataFrame({
        "opportunity_id": rows["opportunity_id"],
        "owner": rows["owner"],
        "stage": stage,
        "created_at": rows["created_at"],
        "amount": amount,
        "reference_mean": mean,
        "ratio": ratio(amount.to_numpy(), mean),
        "flag": flag,
    })
    if mode == "split":
        out.insert(5, "currency", codes)
    distance = np.abs(np.log(out["ratio"].where(out["ratio"] > 0)))
    out = out.assign(_flagged=~out["flag"].isin(["above", "below"]), _d=-distance.fillna(-np.inf))
    out = out.sort_values(["_flagged", "_d", "opportunity_id"], ignore_index=True).drop(
        columns=["_flagged", "_d"])
    out.attrs["band"] = band
    out.attrs["reference_mean"] = means.get(None, np.nan)
    if mode == "split":
        out.attrs["reference_means"] = dict(means)
        out.attrs["note"] = split_note(data)
    elif mode == "convert":
        out.attrs["currency"] = data.settings.currency
    return out


def _band_flags_each(amount: np.ndarray, mean: np.ndarray, band: float) -> np.ndarray:
    """:func:`band_flags` with a reference mean per deal."""
    with np.errstate(invalid="ignore"):
        return np.select(
            [np.isnan(amount), np.isnan(mean), amount > mean * (1 + band), amount < mean * (1 - band)],
            ["no amount", "no reference", "above", "below"], default="within")


@fill_doc
def deal_size_bands(
    data: SalesData,
    *,
    start: TimeLike = None,
    end: TimeLike = None,
    as_of: TimeLike = None,
    bands: int = 4,
    calendar: str | None = None,
    pipelines: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Compare win rate and cycle length across deal-size bands (quantiles of amount).

    Over the deals closed in the window, bands are amount quantiles (quartiles by
    default) of the closed deals with an amount; deals without an amount form their
    own row ``(no amount)`` so none is dropped. Shows whether large deals close less
    often and more slowly on the user's own data.

    Parameters
    ----------
    {data}
    {window}
    bands : int, default 4
        How many amount quantiles (fewer when there are fewer distinct amounts).
    {calendar}
    {pipelines}

    Returns
    -------
    DataFrame
        ``band`` (1 = smallest, 0 = no amount), ``label``, ``amount_min``,
        ``amount_max``, ``won``, ``lost``, ``closed``, ``win_rate``, ``ci_low``,
        ``ci_high`` (Wilson, 95%), ``mean_cycle_days`` and ``median_cycle_days`` (of the
        won deals). ``attrs['excluded']``: ``without_amount``.

    Examples
    --------
    {load_sample}
    >>> t = sn.deal_size_bands(data, start="1403-01-01", end="1405-01-01")
    >>> t["label"].tolist()
    ['Q1', 'Q2', 'Q3', 'Q4', '(no amount)']
    """
    data = only_pipelines(data, pipelines)
    window = resolve_window(data, start, end, as_of, calendar)
    return _deal_size_bands(data.at(window.as_of), window, bands=bands)


def _deal_size_bands(snap: Snapshot, window: Window, *, bands: int) -> pd.DataFrame:
    closed = closed_frame(snap, window)
    amount = closed["amount"]
    has = amount.notna().to_numpy()
    band_no = pd.Series(0, index=closed.index, dtype="int64")
    if has.sum():
        n_bands = int(min(bands, pd.Series(amount[has]).nunique()))
        codes = pd.qcut(amount[has].rank(method="first"), n_bands, labels=False) + 1
        band_no[has] = codes.astype("int64")
    won = (closed["status_asof"] == "won").to_numpy()
    cycle = (closed["closed_asof"] - closed["created_at"]).dt.total_seconds() / 86_400.0
    frame = pd.DataFrame({"band": band_no, "amount": amount, "won": won, "cycle": cycle.where(won)})
    out = frame.groupby("band").agg(
        amount_min=("amount", "min"), amount_max=("amount", "max"), won=("won", "sum"),
        closed=("won", "size"), mean_cycle_days=("cycle", "mean"),
        median_cycle_days=("cycle", "median")).reset_index()
    out["lost"] = out["closed"] - out["won"]
    out["win_rate"] = ratio(out["won"], out["closed"])
    out["ci_low"], out["ci_high"] = wilson_interval(out["won"].to_numpy(), out["closed"].to_numpy())
    out["label"] = [NO_AMOUNT if b == 0 else f"Q{b}" for b in out["band"]]
    out = pd.concat([out[out["band"] > 0], out[out["band"] == 0]], ignore_index=True)
    return with_excluded(
        out[["band", "label", "amount_min", "amount_max", "won", "lost", "closed", "win_rate",
             "ci_low", "ci_high", "mean_cycle_days", "median_cycle_days"]],
        without_amount=int((~has).sum()))


def _won_amounts(snap: Snapshot, window: Window, *, period: str | None, by: str | None, mode: str = "single"
                 ) -> tuple[pd.DataFrame, pd.DataFrame | None, list[str], list[str]]:
    """The amounts of the deals won in the window with their group (and period) labels,
    in source row order; the period table, the keys and the leading columns. With
    ``mode`` ``split`` the rows carry their ``currency``; with ``convert`` ``_no_rate``
    (the amount could not be converted)."""
    col = group_column(by)
    extra = {"split": ["currency"], "convert": ["_no_rate"]}.get(mode, [])
    closed = closed_frame(snap, window, [by, *extra])
    won = closed[(closed["status_asof"] == "won").to_numpy()]
    frame = pd.DataFrame({col: group_labels(won, by), "amount": won["amount"]}, index=won.index)
    if mode == "split":
        frame["currency"] = currency_labels(won)
    elif mode == "convert":
        frame["_no_rate"] = won["_no_rate"].astype(bool)
    keys, table, lead = split_by_period(snap.data, frame, won["closed_asof"], window, period, col)
    return frame, table, keys, lead


def band_counts(snap: Snapshot, mean: float, band: float, currency: str | None = None) -> dict[str, int]:
    """How many deals open at ``snap.as_of`` are above and below the band (counted in the engine).

    The thresholds are computed in Python (``mean * (1 ± band)``) and compared in the
    engine: the same comparison on every engine. ``currency``: only the deals in that
    currency (amounts split by currency; ``(none)``: the deals without one).
    """
    if math.isnan(mean):
        return {"above": 0, "below": 0}
    o = snap.table
    open_ = o.filter(snap.is_open(o))
    if currency is not None:
        open_ = open_.filter(open_.currency.isnull() if currency == NONE_LABEL else
                             (open_.currency.upper() == currency).fill_null(False))
    high, low = mean * (1 + band), mean * (1 - band)
    row = snap.data.engine.one(open_.aggregate(above=count_true(open_.amount > high),
                                               below=count_true(open_.amount < low)))
    return {"above": int(row.get("above") or 0), "below": int(row.get("below") or 0)}
