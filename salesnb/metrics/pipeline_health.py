"""Pipeline health: sales velocity and pipeline coverage, the two classic ratios.

Both are built from the KPI tables of the same window (new opportunities, sales
volume, win rate, sales cycle, open pipeline), resolved once and seen from one
snapshot.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from salesnb._docstrings import fill_doc
from salesnb.data.dataset import SalesData
from salesnb.exceptions import WindowError
from salesnb.metrics._tables import (
    canonical_by,
    currency_mode,
    group_column,
    only_pipelines,
    ratio,
    split_note,
    values_note,
)
from salesnb.metrics.cycle import _sales_cycle
from salesnb.metrics.opportunities import _new_opportunities, _open_opportunities
from salesnb.metrics.volume import _sales_volume
from salesnb.metrics.window import TimeLike, resolve_moment, resolve_window
from salesnb.metrics.winrate import _win_rate

__all__ = ["pipeline_coverage", "sales_velocity"]


@fill_doc
def sales_velocity(
    data: SalesData,
    *,
    start: TimeLike = None,
    end: TimeLike = None,
    as_of: TimeLike = None,
    by: str | None = "owner",
    period: str | None = None,
    calendar: str | None = None,
    pipelines: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Compute sales velocity: opportunities × mean won value × win rate / cycle days.

    The ingredients come from the KPI functions over the same window, as known at
    ``as_of``: ``opportunities`` — created in the window (:func:`~salesnb.new_opportunities`);
    ``mean_won_amount`` (:func:`~salesnb.sales_volume`); ``win_rate`` on the closed
    basis (:func:`~salesnb.win_rate`); ``cycle_days`` — the mean created-to-won days
    (:func:`~salesnb.sales_cycle`). Velocity is value per day; missing when an
    ingredient is (no won deal, nothing closed).

    Parameters
    ----------
    data : SalesData
        The dataset.
    start, end, as_of : str or Timestamp, optional
        The window ``[start, end)`` and the moment it is seen from.
    by : str or None, default "owner"
        Column to group by, None for the total.
    period : str or None, default None
        Split by period (``week``, ``month``...); None for the whole window.
    calendar : {"gregorian", "jalali"}, optional
        Calendar of periods and date strings.
    {pipelines}

    Returns
    -------
    DataFrame
        (period columns,) the group column, ``opportunities``, ``mean_won_amount``,
        ``win_rate``, ``cycle_days``, ``velocity_per_day``.

    Examples
    --------
    >>> import salesnb as sn
    >>> v = sn.sales_velocity(sn.load(sn.sample_path()), start="1403-01-01", end="1404-01-01",
    ...                       by=None)
    >>> bool(v["velocity_per_day"].iloc[0] > 0)
    True
    """
    data = only_pipelines(data, pipelines)
    window = resolve_window(data, start, end, as_of, calendar)
    by = canonical_by(data, by)
    snap = data.at(window.as_of)
    col = group_column(by)
    keys = ["period", col] if period is not None else [col]
    created = _new_opportunities(data, window, period=period or "month", by=by)
    if period is None:
        created = created.groupby(col, sort=False)["created"].sum().reset_index()
    volume = _sales_volume(snap, window, period=period, by=by)
    rate = _win_rate(snap, window, basis="closed", period=period, by=by)
    cycle = _sales_cycle(snap, window, period=period, by=by)
    lead = ["period", "period_start", "period_end"] if period is not None else []
    # Amounts split by currency (no rates): one row per currency, as sales_volume gives.
    cur = ["currency"] if "currency" in volume.columns else []
    out = (volume[[*lead, col, *cur, "mean_amount"]]
           .merge(created[[*keys, "created"]], on=keys, how="left")
           .merge(rate[[*keys, "win_rate"]], on=keys, how="left")
           .merge(cycle[[*keys, "mean_days"]], on=keys, how="left"))
    out = out.rename(columns={"created": "opportunities", "mean_amount": "mean_won_amount",
                              "mean_days": "cycle_days"})
    out["opportunities"] = out["opportunities"].fillna(0).astype("int64")
    out["velocity_per_day"] = ratio(out["opportunities"] * out["mean_won_amount"] * out["win_rate"],
                                    out["cycle_days"])
    out = out[[*lead, col, *cur, "opportunities", "mean_won_amount", "win_rate", "cycle_days",
               "velocity_per_day"]]
    if cur:
        out.attrs["currency_note"] = (split_note(data) + "; velocity per currency: all the group's "
                                      "opportunities × that currency's mean won amount × win rate ÷ cycle")
    return out


@fill_doc
def pipeline_coverage(
    data: SalesData,
    *,
    as_of: TimeLike = None,
    target: float | Mapping[str, float],
    by: str | None = "owner",
    calendar: str | None = None,
    pipelines: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Compute pipeline coverage: open value at ``as_of`` / target, per group.

    Parameters
    ----------
    data : SalesData
        The dataset.
    as_of : str or Timestamp, optional
        The moment to look at (default: the last event in the data).
    target : float or mapping
        The target (e.g. the quota of the coming period): one number for every group,
        or a mapping group → target. Groups without a target get NaN coverage; a
        group named in the mapping but unknown in the data is an error.
    by : str or None, default "owner"
        Column to group by, None for the total.
    calendar : {"gregorian", "jalali"}, optional
        Calendar of ``as_of``.
    {pipelines}

    Returns
    -------
    DataFrame
        The group column, ``open_count``, ``open_value``, ``open_without_amount`` (from
        :func:`~salesnb.open_opportunities`), ``target``, ``coverage`` (NaN where the
        target is missing or 0). Groups with a target but nothing open show with 0.

    Examples
    --------
    >>> import salesnb as sn
    >>> c = sn.pipeline_coverage(sn.load(sn.sample_path()), target=5e10, by=None)
    >>> c.columns.tolist()
    ['group', 'open_count', 'open_value', 'open_without_amount', 'target', 'coverage']
    """
    data = only_pipelines(data, pipelines)
    by = canonical_by(data, by)
    col = group_column(by)
    table = _open_opportunities(data.at(resolve_moment(data, as_of, calendar)), by=by)
    note = table.attrs.get("currency_note")
    table = table[[col, "open_count", "open_value", "open_without_amount",
                   *(["currency"] if "currency" in table.columns and col != "currency" else [])]]
    if isinstance(target, Mapping):
        targets = {str(k): float(v) for k, v in target.items()}
        known = set(data.opportunities[by].dropna().astype(str)) if by is not None else set()
        unknown = sorted(set(targets) - known - set(table[col]))
        if unknown:
            raise WindowError(f"target names unknown {col} value(s) {unknown}",
                              fix=f"use names from the data, e.g. {', '.join(sorted(known)[:5])}")
        missing = [g for g in targets if g not in set(table[col])]
        if missing:
            extra = pd.DataFrame({col: pd.Series(missing, dtype="str"), "open_count": 0,
                                  "open_value": 0.0, "open_without_amount": 0})
            table = pd.concat([table, extra], ignore_index=True)
        values = table[col].map(targets).astype("float64")
    else:
        values = pd.Series(float(target), index=table.index)
    if (values < 0).any():
        raise WindowError("a target is negative", fix="give targets >= 0")
    out = table.assign(target=values)
    out["coverage"] = ratio(out["open_value"], out["target"])
    if "currency" in out.columns and currency_mode(data) == "split":
        # Split by currency (no rates): a target is in the reporting currency, so only a
        # pipeline wholly in that currency has a coverage.
        same = out["currency"].fillna("").isin(["", *([data.settings.currency] if data.settings.currency else [])])
        nothing = (out["open_value"] == 0).fillna(False)  # no open amount: 0 in any currency
        out.loc[(~same & ~nothing).to_numpy(), "coverage"] = np.nan
        out.attrs["currency_note"] = f"{note or values_note(data)}; coverage only where the open value is in the reporting currency"
    return out.reset_index(drop=True)
