"""Question 5b, continued — how good the win-probability estimate has been.

:func:`backtest` replays the estimate of :func:`salesnb.risk` at past moments and
scores it against what happened next (Brier score, log-loss, calibration), beside the
fixed probability-per-stage rule CRMs use and a horizon-aware stage-only reference.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from salesnb._arrays import NANOS_PER_DAY
from salesnb.data.dataset import SalesData
from salesnb.exceptions import WindowError
from salesnb.metrics.deal_risk import (
    OUTCOME_OPEN,
    OUTCOME_WON,
    RiskHistory,
    check_risk_options,
    estimate_open_deals,
)
from salesnb.metrics.statistics import aalen_johansen
from salesnb.metrics.window import TimeLike, resolve_moment

__all__ = ["LOG_LOSS_EPS", "backtest", "backtest_records"]

#: Probabilities are clipped to [EPS, 1 - EPS] in the log-loss.
LOG_LOSS_EPS = 1e-3


def _stage_baseline(hist: RiskHistory, targets: pd.DataFrame) -> np.ndarray:
    """Won share of the deals closed by ``as_of`` that reached each stage (CRM-style)."""
    closed = hist.outcome != OUTCOME_OPEN
    won = hist.outcome == OUTCOME_WON
    share = {}
    for pos in range(len(hist.stages)):
        reached = np.zeros(len(hist.created), dtype=bool)
        reached[hist.entry_row[hist.entry_stage == pos]] = True
        n = int((reached & closed).sum())
        share[pos] = (reached & won).sum() / n if n else hist.win_share
    return np.array([share.get(s, hist.win_share) for s in targets["stage_pos"]], dtype="float64")


def _stage_horizon(hist: RiskHistory, targets: pd.DataFrame, horizon: float) -> np.ndarray:
    """Share won within ``horizon`` days of entering the deal's stage (Aalen–Johansen).

    A horizon-aware, stage-only reference: time runs from the first entry into the
    stage (from creation when the stage is unknown), deals open at ``as_of`` censored.
    """
    at_ns = hist.at_ns
    closed = hist.close_age >= 0
    stop = np.where(closed, hist.close_age, at_ns - hist.created)

    def p_within(rows: np.ndarray, start: np.ndarray) -> float:
        follow = (stop[rows] - start) / NANOS_PER_DAY
        curve = aalen_johansen(follow, hist.outcome[rows], horizon)
        return curve.won_by(horizon) if curve.n_eff > 0 else float("nan")

    overall = p_within(np.arange(len(hist.created)), np.zeros(len(hist.created), dtype="int64"))
    share = {}
    for pos in range(len(hist.stages)):
        idx = np.flatnonzero(hist.entry_stage == pos)
        rows = hist.entry_row[idx]
        first = np.r_[True, rows[1:] != rows[:-1]] if len(rows) else np.zeros(0, dtype=bool)
        share[pos] = p_within(rows[first], hist.entry_age[idx][first]) if first.any() else overall
    return np.array([share.get(s, overall) for s in targets["stage_pos"]], dtype="float64")


def _scores(p: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    if not len(p):
        return np.nan, np.nan
    clipped = np.clip(p, LOG_LOSS_EPS, 1 - LOG_LOSS_EPS)
    brier = float(np.mean((p - y) ** 2))
    log_loss = float(-np.mean(y * np.log(clipped) + (1 - y) * np.log(1 - clipped)))
    return brier, log_loss


def _calibration(p: np.ndarray, y: np.ndarray, bins: int = 10) -> pd.DataFrame:
    """Equal-count bins of the predictions (deciles): predicted vs observed."""
    if not len(p):
        return pd.DataFrame(columns=["bin", "n", "p_min", "p_max", "mean_predicted", "observed"])
    k = min(bins, len(p))
    code = pd.qcut(pd.Series(p).rank(method="first"), k, labels=False).to_numpy() + 1
    frame = pd.DataFrame({"bin": code, "p": p, "y": y})
    return frame.groupby("bin").agg(n=("p", "size"), p_min=("p", "min"), p_max=("p", "max"),
                                    mean_predicted=("p", "mean"), observed=("y", "mean")
                                    ).reset_index()


def backtest(
    data: SalesData,
    *,
    as_of: TimeLike | Sequence[TimeLike],
    horizon_days: float = 90,
    size_bands: int = 3,
    prior_strength: float = 20.0,
    min_comparable: float = 10.0,
    min_at_risk: int = 1,
    calendar: str | None = None,
) -> pd.DataFrame:
    """Score the win-probability estimate at past moments against what happened next.

    At each ``as_of`` point ``T``: the deals open at ``T`` are estimated with the
    history known at ``T`` (as :func:`risk` does) and by the CRM rule — the won share
    of the deals closed by ``T`` that reached the deal's current stage (all closed deals
    when the stage is unknown). The outcome is 1 when the deal was won by
    ``T + horizon_days``, 0 when it was lost by then or still open. Deals without an
    estimate (no history) are not scored and are counted.

    Points whose outcome is not known yet (``T + horizon_days`` after the last event in
    the data) are refused with :class:`~salesnb.WindowError`: scoring them would count
    deals still running as failures.

    Parameters
    ----------
    data : SalesData
        The dataset.
    as_of : str, Timestamp or a sequence of them
        The moments to replay (strings read in ``calendar``).
    horizon_days : float, default 90
        The horizon of the scored probability, in days.
    size_bands : int, default 3
    prior_strength : float, default 20
    min_comparable : float, default 10
    min_at_risk : int, default 1
        Model options, as in :func:`salesnb.risk`.
    calendar : {"gregorian", "jalali"}, optional
        Calendar of the date strings (default: the dataset's).

    Returns
    -------
    DataFrame
        One row per point: ``as_of``, ``horizon_days``, ``outcome_at`` (``T +
        horizon``), ``n_open``, ``n_scored``, ``n_unscored``, ``n_won``, ``n_lost``,
        ``n_still_open``, ``observed_rate``, ``mean_model``, ``mean_baseline``,
        ``brier_model``, ``brier_baseline``, ``log_loss_model``, ``log_loss_baseline``
        (probabilities clipped to [0.001, 0.999]), ``brier_stage_horizon`` and
        ``log_loss_stage_horizon`` (a second, horizon-aware stage-only reference: the
        share won within the horizon after entering the stage, censoring-aware — it
        separates what the horizon brings from what age and size bring),
        ``brier_skill`` (1 - model / baseline), ``calibration_error`` (count-weighted mean |predicted - observed|
        over the deciles). ``attrs['calibration']``: ``as_of``, ``bin`` (decile of the
        model's predictions), ``n``, ``p_min``, ``p_max``, ``mean_predicted``,
        ``observed``.

    Raises
    ------
    WindowError
        When ``T + horizon_days`` is after the last event in the data.

    Examples
    --------
    >>> import salesnb as sn
    >>> bt = sn.backtest(sn.load(sn.sample_path()), as_of=["1403-12-01", "1404-03-01"])
    >>> bool((bt["n_won"] + bt["n_lost"] + bt["n_still_open"] == bt["n_scored"]).all())
    True
    >>> bool((bt["brier_model"] < bt["brier_baseline"]).all())
    True
    """
    check_risk_options(horizon_days, size_bands, prior_strength, min_comparable, (0.25, 0.75),
                   min_at_risk)
    points = [as_of] if isinstance(as_of, str | pd.Timestamp) or not isinstance(as_of, Sequence) \
        else list(as_of)
    if not points:
        raise WindowError("no as_of point given", fix="give one or more moments to replay")
    last = data.span[1]
    horizon = pd.Timedelta(days=float(horizon_days))
    moments = [resolve_moment(data, p, calendar) for p in points]
    for p, at in zip(points, moments, strict=True):
        if at + horizon > last:
            raise WindowError(
                f"as_of={p!r} + {horizon_days:g} days ({(at + horizon).isoformat()}) is after the "
                f"last event in the data ({last.isoformat()}): the outcome is not known yet",
                fix=f"give as_of at or before {(last - horizon).isoformat()}, or a shorter horizon")
    rows, calib = [], []
    full = data.opportunities.set_index("opportunity_id")
    for at in moments:
        table, hist = estimate_open_deals(data.at(at), float(horizon_days), int(size_bands),
                                    float(prior_strength), float(min_comparable), (0.25, 0.75),
                                    int(min_at_risk))
        status = table["opportunity_id"].map(full["status"]).to_numpy(dtype=object)
        closed_at = table["opportunity_id"].map(full["closed_at"])
        by_end = (closed_at <= at + horizon).fillna(False).to_numpy(dtype=bool)
        won, lost = by_end & (status == "won"), by_end & (status == "lost")
        p_model = table["p_win_horizon"].to_numpy(dtype="float64")
        p_base = _stage_baseline(hist, table)
        p_stage_h = _stage_horizon(hist, table, float(horizon_days))
        scored = np.isfinite(p_model) & np.isfinite(p_base) & np.isfinite(p_stage_h)
        y = won[scored].astype("float64")
        bm, lm = _scores(p_model[scored], y)
        bb, lb = _scores(p_base[scored], y)
        bh, lh = _scores(p_stage_h[scored], y)
        cal = _calibration(p_model[scored], y)
        cal_err = float((cal["n"] * (cal["mean_predicted"] - cal["observed"]).abs()).sum()
                        / cal["n"].sum()) if len(cal) else np.nan
        rows.append({
            "as_of": at, "horizon_days": float(horizon_days), "outcome_at": at + horizon,
            "n_open": len(table), "n_scored": int(scored.sum()),
            "n_unscored": int((~scored).sum()), "n_won": int(won[scored].sum()),
            "n_lost": int(lost[scored].sum()),
            "n_still_open": int((~won & ~lost)[scored].sum()),
            "observed_rate": float(y.mean()) if len(y) else np.nan,
            "mean_model": float(p_model[scored].mean()) if len(y) else np.nan,
            "mean_baseline": float(p_base[scored].mean()) if len(y) else np.nan,
            "brier_model": bm, "brier_baseline": bb, "log_loss_model": lm,
            "log_loss_baseline": lb, "brier_stage_horizon": bh, "log_loss_stage_horizon": lh,
            "brier_skill": 1 - bm / bb if bb > 0 else np.nan,
            "calibration_error": cal_err,
        })
        calib.append(cal.assign(as_of=at))
    out = pd.DataFrame(rows)
    calibration = pd.concat(calib, ignore_index=True) if calib else pd.DataFrame()
    if len(calibration):
        calibration = calibration[["as_of", *[c for c in calibration.columns if c != "as_of"]]]
    out.attrs["calibration"] = calibration
    return out


def backtest_records(table: pd.DataFrame) -> list[dict[str, Any]]:
    """Return a :func:`backtest` result as JSON-ready records (the ``backtest --json`` shape).

    One dict per point: the columns (timestamps as ISO text, NaN as None) and
    ``calibration``, the point's calibration rows.
    """
    calibration = table.attrs.get("calibration", pd.DataFrame())

    def plain(value: Any) -> Any:
        if isinstance(value, pd.Timestamp):
            return value.isoformat()
        if isinstance(value, np.integer):
            return int(value)
        if isinstance(value, float | np.floating):
            return float(value) if np.isfinite(value) else None
        return value

    records: list[dict[str, Any]] = []
    for row in table.to_dict("records"):
        rec: dict[str, Any] = {str(k): plain(v) for k, v in row.items()}
        cal = calibration[calibration["as_of"] == row["as_of"]] if len(calibration) else calibration
        rec["calibration"] = [{str(k): plain(v) for k, v in r.items() if k != "as_of"}
                              for r in cal.to_dict("records")]
        records.append(rec)
    return records
