"""A slow reference implementation of the risk model's per-deal definition (tests only).

It follows the definition in :mod:`salesnb.metrics.deal_risk` one open deal at a time,
reading the data only through public views — ``data.at(as_of).opportunities`` and
:func:`salesnb.stage_visits` — and the Aalen–Johansen estimator of
:mod:`salesnb.metrics.statistics`: nothing of the sweep (its inputs, time line, curves
or mixture) is used. For deal ``d`` of age ``a``, stage ``s`` and band ``b``:

* the landmark ``ℓ``: ``a`` lowered (bisection to the minute) when fewer than
  ``min_comparable`` effective deals were open at age ``a``, then — on the grid — rounded
  down to :func:`~salesnb.metrics.deal_risk.landmark_grid`;
* the comparable deals: open at age ``a`` (seen that long, not closed by then), whose
  last open-stage entry at or before ``ℓ`` is ``s`` (same pipeline), of band ``b``;
  follow-up from ``a``;
* pooling, ``π``, eventual chance and close range as documented.

Being open at ``a`` and followed from ``a`` is the sweep's "curve at ``ℓ`` read
conditionally on being open at ``a``" stated directly.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

import salesnb as sn
from salesnb.metrics.deal_risk import landmark_grid
from salesnb.metrics.statistics import aalen_johansen

DAY_NS = 86_400 * 10**9


def reference_risk(data: sn.SalesData, as_of: pd.Timestamp, *, horizon: float = 90.0, size_bands: int = 3,
                   prior_strength: float = 20.0, min_comparable: float = 10.0, min_at_risk: int = 1,
                   quantiles: tuple[float, float] = (0.25, 0.75), grid: bool = False,
                   min_closed: int = 0) -> pd.DataFrame:
    """Per-deal estimates, indexed by opportunity id (the estimate columns of ``sn.risk``)."""
    opps = data.at(as_of).opportunities
    ids = opps["opportunity_id"].to_numpy(dtype=object)
    created = opps["created_at"].astype("datetime64[ns, UTC]").astype("int64").to_numpy()
    closed_at = opps["closed_asof"]
    status = opps["status_asof"].to_numpy(dtype=object)
    at = int(as_of.value)
    event = np.where(status == "won", 1, np.where(status == "lost", 2, 0))
    stop = np.where(event > 0, closed_at.astype("datetime64[ns, UTC]").astype("int64").to_numpy() - created,
                    at - created)
    observed = at - created
    amount = opps["amount"].to_numpy(dtype="float64", na_value=np.nan)
    known = amount[np.isfinite(amount)]
    edges = np.unique(np.quantile(known, np.arange(1, size_bands) / size_bands)) \
        if size_bands > 1 and len(np.unique(known)) > 1 else np.zeros(0)
    band = np.where(np.isnan(amount), 0, np.searchsorted(edges, amount, side="right") + 1)
    pipeline = opps["pipeline"].astype("str").fillna("(none)").to_numpy(dtype=object) \
        if "pipeline" in opps.columns else np.full(len(opps), "", dtype=object)
    visits = sn.stage_visits(data, as_of=as_of)
    row_of = {oid: i for i, oid in enumerate(ids)}
    entries: list[list[tuple[int, int]]] = [[] for _ in ids]  # (age at entry, position), in order
    for oid, pos, entered in zip(visits["opportunity_id"], visits["position"], visits["entered_at"],
                                 strict=True):
        i = row_of[oid]
        entries[i].append((int(entered.value) - int(created[i]), int(pos)))

    def stage_at(i: int, age: int) -> int:
        before = [p for t, p in entries[i] if t <= age]
        return before[-1] if before else -1

    closings = event > 0
    win_share = (event == 1).sum() / closings.sum() if closings.any() else np.nan
    n_won, n_lost = int((event == 1).sum()), int((event == 2).sum())

    def open_at(age: int) -> np.ndarray:
        return (observed >= age) & ((event == 0) | (stop > age))

    def n_eff_all(age: int) -> float:
        m = open_at(age)
        f = (stop[m] - age) / DAY_NS
        e = event[m]
        return float((e > 0).sum() + np.minimum(1.0, f[e == 0] / horizon).sum())

    rows = []
    for d in np.flatnonzero(event == 0):
        a = int(observed[d])
        s = stage_at(d, at)  # the last entry known at as_of
        note = []
        if n_won < min_closed or n_lost < min_closed:
            rows.append(_stage_baseline(d, s, entries, event, pipeline, ids))
            continue
        e = a
        if n_eff_all(a) < min_comparable:
            if n_eff_all(0) < min_comparable:
                e = 0
            else:
                lo, hi = 0, a
                while hi - lo > 60 * 10**9:
                    mid = (lo + hi) // 2
                    lo, hi = (mid, hi) if n_eff_all(mid) >= min_comparable else (lo, mid)
                e = lo
            note.append(f"older than nearly all history: compared with deals open at {e / DAY_NS:.0f} d")
        landmark = e
        if grid:
            points = landmark_grid(e)
            landmark = int(points[points <= e][-1])
        members = open_at(e)
        sets = []
        multi = len(np.unique(band)) > 1
        if s >= 0:
            at_stage = members & np.array([stage_at(i, landmark) == s and pipeline[i] == pipeline[d]
                                           if members[i] else False for i in range(len(ids))])
            if multi:
                sets.append(("stage × size", at_stage & (band == band[d])))
            sets.append(("stage", at_stage))
        else:
            note.append("stage unknown at as_of (no stage history): not conditioned on stage")
            if multi:
                sets.append(("size", members & (band == band[d])))
        sets.append(("all open at that age", members))
        follow = (stop - e) / DAY_NS
        curves = [aalen_johansen(follow[m], event[m], horizon, min_at_risk) for _, m in sets]
        if curves[-1].n_eff <= 0 or not np.isfinite(win_share):
            rows.append({"opportunity_id": ids[d], "p_win_horizon": np.nan, "p_win_eventually": np.nan,
                         "close_low_days": np.nan, "close_high_days": np.nan})
            continue
        weights, remaining = [], 1.0
        for c in curves[:-1]:
            w = c.n_eff / (c.n_eff + prior_strength) if prior_strength > 0 else float(c.n_eff > 0)
            weights.append(remaining * w)
            remaining *= 1 - w
        weights.append(remaining)
        pis, fallback = [], win_share
        for c in reversed(curves):
            fallback = c.closed_won_share if np.isfinite(c.closed_won_share) else fallback
            pis.append(fallback)
        pis.reverse()
        p_h = sum(w * c.won_by(horizon) for w, c in zip(weights, curves, strict=True))
        p_ev = sum(w * c.eventually(p) for w, c, p in zip(weights, curves, pis, strict=True))
        undecided = sum(w * c.still_undecided for w, c in zip(weights, curves, strict=True))
        low = high = np.nan
        if p_ev > 0:
            times = np.unique(np.concatenate([c.times for w, c in zip(weights, curves, strict=True) if w > 0]))
            won = sum(w * c.won_at(times) for w, c in zip(weights, curves, strict=True) if w > 0)
            hits = [np.flatnonzero(np.asarray(won) / p_ev >= q - 1e-12) for q in quantiles]
            low, high = (float(times[h[0]]) if len(h) else np.nan for h in hits)
        finest = next(i for i, w in enumerate(weights) if w > 0 or i == len(weights) - 1)
        rows.append({
            "opportunity_id": ids[d], "stage_pos": s, "p_win_horizon": p_h, "p_win_eventually": p_ev,
            "close_low_days": low, "close_high_days": high, "undecided_share": undecided,
            "n_comparable": curves[finest].n, "n_effective": curves[finest].n_eff,
            "comparable_set": sets[finest][0], "landmark_ns": landmark,
        })
    return pd.DataFrame(rows).set_index("opportunity_id")


def _stage_baseline(d: int, s: int, entries: list[list[tuple[int, int]]], event: np.ndarray,
                    pipeline: np.ndarray, ids: np.ndarray) -> dict:
    """The won share of the closed deals that reached stage ``s`` (all closed when unknown)."""
    closed = event > 0
    if s >= 0:
        reached = np.array([any(p == s for _, p in entries[i]) and pipeline[i] == pipeline[d]
                            for i in range(len(ids))])
        if (reached & closed).any():
            closed = reached & closed
    share = (event[closed] == 1).mean() if closed.any() else np.nan
    return {"opportunity_id": ids[d], "p_win_horizon": share, "p_win_eventually": share,
            "close_low_days": np.nan, "close_high_days": np.nan, "comparable_set": "stage baseline",
            "n_comparable": int(closed.sum())}
