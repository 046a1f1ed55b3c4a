"""The five metrics and the funnel for one window, as one document (``salesnb kpi --json``).

The document's keys are a contract used by automation (see the README); maps list
only keys with a non-zero count, rates and means are ``None`` (JSON ``null``) when
undefined, owner names are as stored.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pandas as pd

from salesnb._docstrings import fill_doc
from salesnb.data.dataset import SalesData, Snapshot
from salesnb.data.portable import count_true
from salesnb.metrics._tables import (
    NONE_LABEL,
    closed_frame,
    currency_labels,
    currency_mode,
    fetch,
    in_window,
    only_pipelines,
    split_note,
)
from salesnb.metrics.cycle import _sales_cycle
from salesnb.metrics.flow import _funnel
from salesnb.metrics.outcomes import _lost_reasons, _won_lost
from salesnb.metrics.volume import _sales_volume, band_counts, check_band
from salesnb.metrics.window import TimeLike, Window, resolve_window
from salesnb.metrics.winrate import _win_rate

__all__ = ["kpi_summary"]


def _num(value: Any) -> float | None:
    """A float, or None when undefined (NaN)."""
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


def _count_map(frame: pd.DataFrame, key: str, value: str) -> dict[str, int]:
    sel = frame[frame[value] > 0]
    return {str(k): int(v) for k, v in zip(sel[key], sel[value], strict=True)}


@fill_doc
def kpi_summary(
    data: SalesData,
    *,
    start: TimeLike = None,
    end: TimeLike = None,
    as_of: TimeLike = None,
    band: float = 0.5,
    calendar: str | None = None,
    pipelines: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Compute the five metrics and the funnel for a window, as a JSON-ready dict.

    The window is resolved once and every metric is computed from the one snapshot of
    the data as known at ``as_of``.

    Parameters
    ----------
    {data}
    {window}
    {band}
    {calendar}
    {pipelines}

    Returns
    -------
    dict
        Keys ``window``, ``opportunities``, ``won``, ``lost``, ``sales_volume``,
        ``win_rate``, ``funnel``, ``sales_cycle`` (shape documented in the README:
        maps list only keys with a non-zero count, undefined rates and means are None).

    Examples
    --------
    {load_sample}
    >>> doc = sn.kpi_summary(data, start="1404-01-01", end="1404-02-01")
    >>> sorted(doc)
    ['funnel', 'lost', 'opportunities', 'sales_cycle', 'sales_volume', 'win_rate', 'window', 'won']
    >>> doc["won"]["total"], doc["lost"]["total"]
    (28, 53)
    """
    data = only_pipelines(data, pipelines)
    w = resolve_window(data, start, end, as_of, calendar)
    check_band(band)
    snap = data.at(w.as_of)
    open_by, created_by = _per_owner(snap, w)
    outcome = _won_lost(snap, w, period=None, by="owner")
    reasons = _lost_reasons(snap, w, by=None)
    sales_volume = _volume_document(snap, w, band)
    closed_rate = _win_rate(snap, w, basis="closed", period=None, by=None).iloc[0]
    closed_by = _win_rate(snap, w, basis="closed", period=None, by="owner")
    cohort_rate = _win_rate(snap, w, basis="created", period=None, by=None).iloc[0]
    fun = _funnel(snap, w)
    cycle_total = _sales_cycle(snap, w, period=None, by=None).iloc[0]
    cycle_by = _sales_cycle(snap, w, period=None, by="owner")

    return {
        "window": w.to_dict(),
        "opportunities": {
            "open_total": int(sum(open_by.values())),
            "open_by_owner": open_by,
            "created_total": int(sum(created_by.values())),
            "created_by_owner": created_by,
        },
        "won": {"total": int(outcome["won"].sum()), "by_owner": _count_map(outcome, "owner", "won")},
        "lost": {
            "total": int(outcome["lost"].sum()),
            "by_owner": _count_map(outcome, "owner", "lost"),
            "by_reason": _count_map(reasons, "lost_reason", "lost"),
        },
        "sales_volume": sales_volume,
        "win_rate": {
            "closed": _num(closed_rate["win_rate"]),
            "closed_by_owner": {str(o): float(r) for o, r, n in zip(
                closed_by["owner"], closed_by["win_rate"], closed_by["n"], strict=True) if n > 0},
            "created_cohort": _num(cohort_rate["win_rate"]),
            "created_cohort_open_share": _num(cohort_rate["open_share"]),
        },
        "funnel": _funnel_rows(fun),
        "sales_cycle": {
            "won_count": int(cycle_total["won_count"]),
            "mean_days": _num(cycle_total["mean_days"]),
            "median_days": _num(cycle_total["median_days"]),
            "by_owner_mean_days": {str(o): float(m) for o, m, n in zip(
                cycle_by["owner"], cycle_by["mean_days"], cycle_by["won_count"], strict=True) if n > 0},
        },
    }


def _volume_document(snap: Snapshot, w: Window, band: float) -> dict[str, Any]:
    """The ``sales_volume`` section: as always for one currency; converted into the
    reporting currency with rates (plus ``currency``, ``won_without_rate``,
    ``open_without_rate``); split without rates (the amounts ``None``, ``currency_note``);
    with more than one currency code, ``by_currency`` (see docs/metrics.md)."""
    data = snap.data
    mode = currency_mode(data)
    volume = _sales_volume(snap, w, period=None, by=None)
    if mode == "split":
        flags = {"above": 0, "below": 0}
        per_code = {}
        for _, row in volume.iterrows():
            found = band_counts(snap, float(row["mean_amount"]), band, currency=str(row["currency"]))
            per_code[str(row["currency"])] = found
            flags = {k: flags[k] + found[k] for k in flags}
        doc: dict[str, Any] = {
            "won_with_amount": int(volume["won_with_amount"].sum()),
            "won_without_amount": int(volume["won_without_amount"].sum()),
            "mean_amount": None,
            "median_amount": None,
            "total_amount": None,
        }
    else:
        row = volume.iloc[0]
        # The open deals beyond the band, as deal_size_flags flags them (only the counts are needed).
        flags = band_counts(snap, float(row["mean_amount"]), band)
        doc = {
            "won_with_amount": int(row["won_with_amount"]),
            "won_without_amount": int(row["won_without_amount"]),
            "mean_amount": _num(row["mean_amount"]),
            "median_amount": _num(row["median_amount"]),
            "total_amount": float(row["total_amount"]),
        }
    doc.update({"band": float(band), "open_above_band": flags["above"], "open_below_band": flags["below"]})
    if mode == "convert":
        o = snap.table
        open_ = o.filter(snap.is_open(o))
        doc.update({"currency": data.settings.currency,
                    "won_without_rate": int(volume["won_without_rate"].iloc[0]),
                    "open_without_rate": int(data.engine.one(open_.aggregate(
                        n=count_true(open_._no_rate))).get("n") or 0)})
    if mode == "split":
        doc["currency_note"] = split_note(data)
    if len(data.currencies()) > 1:
        doc["by_currency"] = _by_currency(snap, w, mode, per_code if mode == "split" else None)
    return doc


def _by_currency(snap: Snapshot, w: Window, mode: str,
                 flags: dict[str, dict[str, int]] | None) -> dict[str, dict[str, Any]]:
    """Per currency code, the won deals of the window and their amounts in that currency."""
    column = "_amount_original" if mode == "convert" else "amount"
    closed = closed_frame(snap, w, ["currency", column])
    won = closed[(closed["status_asof"] == "won").to_numpy()]
    codes = currency_labels(won)
    out: dict[str, dict[str, Any]] = {}
    for code in [*snap.data.currencies(), *([NONE_LABEL] if (codes == NONE_LABEL).any() else [])]:
        amounts = won[column][(codes == code).to_numpy()].astype("float64")
        have = amounts.dropna()
        entry: dict[str, Any] = {
            "won": len(amounts), "won_with_amount": len(have), "won_without_amount": len(amounts) - len(have),
            "mean_amount": _num(have.mean()) if len(have) else None,
            "median_amount": _num(have.median()) if len(have) else None,
            "total_amount": float(have.sum()),
        }
        if flags is not None:
            found = flags.get(code, {"above": 0, "below": 0})
            entry.update(open_above_band=found["above"], open_below_band=found["below"])
        out[code] = entry
    return out


def _funnel_rows(fun: pd.DataFrame) -> list[dict[str, Any]]:
    """The funnel's rows for the document; each starts with ``pipeline`` when the data has
    pipelines (one block of rows per pipeline, each in its own stage order)."""
    rows = []
    for _, r in fun.iterrows():
        row: dict[str, Any] = {"pipeline": str(r["pipeline"])} if "pipeline" in fun.columns else {}
        row.update({"stage": str(r["stage"]), "reached": int(r["reached"]), "lost_here": int(r["lost_here"]),
                    "conversion_to_next": _num(r["conversion_to_next"]),
                    "median_days_in_stage": _num(r["median_days_in_stage"])})
        rows.append(row)
    return rows


def _per_owner(snap: Snapshot, window: Window) -> tuple[dict[str, int], dict[str, int]]:
    """Deals open at ``as_of`` and created in the window, per owner (one engine query)."""
    o = snap.table
    known = o.filter(snap.exists(o))
    counts = fetch(snap.data, known.group_by("owner").aggregate(
        open=count_true(~snap.closed_known(known)), created=count_true(in_window(known.created_at, window))))
    rows = sorted(zip(counts["owner"].astype(str), counts["open"].astype("int64").tolist(),
                      counts["created"].astype("int64").tolist(), strict=True))
    return ({k: n for k, n, _ in rows if n > 0}, {k: n for k, _, n in rows if n > 0})
