"""Question 5b, continued — how good the win-probability estimate has been.

:func:`backtest` replays the estimate of :func:`salesnb.risk` at past moments and
scores it against what happened next (Brier score, log-loss, AUC, calibration), beside
four references: the fixed probability-per-stage rule CRMs use, a horizon-aware
stage-only share, the stage × age share (the model's stage-level curve alone) and —
when the data has a ``probability`` column — the CRM's own stage probability.

Everything is read from the dataset through :func:`~salesnb.metrics.deal_risk._risk_inputs`:
at ``T`` for the estimates and references, at ``T + horizon`` for the outcomes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from salesnb._docstrings import fill_doc
from salesnb.data.dataset import SalesData
from salesnb.exceptions import WindowError
from salesnb.metrics._tables import only_pipelines
from salesnb.metrics.deal_risk import (
    MIN_CLOSED,
    OUTCOME_LOST,
    OUTCOME_OPEN,
    OUTCOME_WON,
    STAGE_BASELINE,
    RiskInputs,
    _Deals,
    _risk_inputs,
    _stage_horizon,
    check_risk_options,
    estimate_open_deals,
    stage_share,
)
from salesnb.metrics.window import TimeLike, resolve_moment

__all__ = ["LOG_LOSS_EPS", "backtest", "backtest_records", "roc_auc"]

#: Probabilities are clipped to [EPS, 1 - EPS] in the log-loss.
LOG_LOSS_EPS = 1e-3


def _crm(deals: _Deals, rows: np.ndarray) -> np.ndarray:
    """The CRM's own probability of each deal's stage at ``as_of`` (NaN: none known)."""
    x = deals.inputs
    if x.crm_probability is None:
        return np.full(len(rows), np.nan)
    stage = deals.stage_now[rows]
    pipe = x.pipeline[rows].astype("int64") if len(x.pipelines) else np.zeros(len(rows), dtype="int64")
    value = x.crm_probability[pipe, np.maximum(stage, 0)] if len(x.stages) else np.full(len(rows), np.nan)
    return np.where(stage >= 0, value, np.nan)


def _outcomes(now: RiskInputs, later: RiskInputs, rows: np.ndarray) -> np.ndarray:
    """Outcome of the deals ``rows`` of ``now`` as known in ``later`` (matched on ``key``)."""
    order = np.argsort(later.key, kind="stable")
    keys = now.key[rows]
    where = np.searchsorted(later.key[order], keys)
    where = np.minimum(where, max(len(order) - 1, 0))
    found = len(order) > 0
    matched = found & (later.key[order][where] == keys) if len(keys) else np.zeros(0, dtype=bool)
    out = np.full(len(rows), OUTCOME_OPEN, dtype="int8")
    out[matched] = later.outcome[order][where][matched]
    return out


def _scores(p: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """Brier score, log-loss (clipped) and AUC of predictions ``p`` for outcomes ``y``."""
    if not len(p):
        return np.nan, np.nan, np.nan
    clipped = np.clip(p, LOG_LOSS_EPS, 1 - LOG_LOSS_EPS)
    brier = float(np.mean((p - y) ** 2))
    log_loss = float(-np.mean(y * np.log(clipped) + (1 - y) * np.log(1 - clipped)))
    return brier, log_loss, roc_auc(p, y)


def roc_auc(p: np.ndarray, y: np.ndarray) -> float:
    """Area under the ROC curve: the chance a won deal scores above a deal not won (ties: ½).

    From the Mann–Whitney rank sum with average ranks for ties; NaN when all outcomes
    are equal.

    Examples
    --------
    >>> roc_auc(np.array([0.9, 0.4, 0.4, 0.1]), np.array([1, 1, 0, 0]))
    0.875
    """
    y = np.asarray(y, dtype="float64")
    n_pos = float(y.sum())
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = pd.Series(np.asarray(p, dtype="float64")).rank(method="average").to_numpy()
    return float((ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


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


def _mean(values: np.ndarray) -> float:
    return float(values.mean()) if len(values) else np.nan


@fill_doc
def backtest(
    data: SalesData,
    *,
    as_of: TimeLike | Sequence[TimeLike],
    horizon_days: float = 90,
    size_bands: int = 3,
    prior_strength: float = 20.0,
    min_comparable: float = 10.0,
    min_at_risk: int = 1,
    min_closed: int = MIN_CLOSED,
    calendar: str | None = None,
    pipelines: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Score the win-probability estimate at past moments against what happened next.

    At each ``as_of`` point ``T``: the deals open at ``T`` are estimated with the
    history known at ``T`` (as :func:`risk` does) and by four references — the CRM
    rule (the won share of the deals closed by ``T`` that reached the deal's current
    stage; all closed deals when the stage is unknown), the horizon-aware stage share,
    the stage × age share and, when the data has a ``probability`` column, the CRM's
    own probability of the deal's stage. The outcome is 1 when the deal was won by
    ``T + horizon_days``, 0 when it was lost by then or still open. Deals without an
    estimate (no history) are not scored and are counted.

    With fewer than ``min_closed`` won or lost deals closed by ``T``, the model is not
    used there: the stage baseline is scored in its place, ``model`` says
    ``stage baseline`` and ``note`` says why (the same fallback as :func:`risk`).

    Points whose outcome is not known yet (``T + horizon_days`` after the last event in
    the data) are refused with :class:`~salesnb.WindowError`: scoring them would count
    deals still running as failures.

    Parameters
    ----------
    {data}
    as_of : str, Timestamp or a sequence of them
        The moments to replay (strings read in ``calendar``).
    horizon_days : float, default 90
        The horizon of the scored probability, in days.
    {risk_model}
    {risk_min_closed}
    {calendar}
    {pipelines}

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
        ``brier_skill`` (1 - model / baseline), ``calibration_error`` (count-weighted
        mean |predicted - observed| over the deciles); then ``auc_model``,
        ``auc_baseline``, ``auc_stage_horizon`` (the chance a won deal is ranked above
        one not won; 0.5 is no better than chance); ``mean_stage_age``,
        ``brier_stage_age``, ``log_loss_stage_age``, ``auc_stage_age`` (the stage ×
        age reference: the share won within the horizon among the deals open at the
        same age in the same stage — the model's stage-level curve, without size bands
        or pooling); ``crm_scale`` (how ``probability`` was read: ``share``,
        ``percent``, or why it was not used; empty without the column), ``n_crm``
        (scored deals whose stage has a CRM probability), ``mean_crm``, ``brier_crm``,
        ``log_loss_crm``, ``auc_crm`` and, over the same ``n_crm`` deals,
        ``brier_model_crm_deals`` and ``log_loss_model_crm_deals``; ``model``
        (``landmark``, or ``stage baseline`` when the history was too thin),
        ``n_won_before`` and ``n_lost_before`` (closed by ``T``) and ``note``.
        ``attrs['calibration']``: ``as_of``, ``bin`` (decile of the model's
        predictions), ``n``, ``p_min``, ``p_max``, ``mean_predicted``, ``observed``.

    Raises
    ------
    WindowError
        When ``T + horizon_days`` is after the last event in the data.

    Examples
    --------
    {load_sample}
    >>> bt = sn.backtest(data, as_of=["1403-12-01", "1404-03-01"])
    >>> bool((bt["n_won"] + bt["n_lost"] + bt["n_still_open"] == bt["n_scored"]).all())
    True
    >>> bool((bt["brier_model"] < bt["brier_baseline"]).all())
    True
    >>> bt["model"].tolist()
    ['landmark', 'landmark']
    """
    data = only_pipelines(data, pipelines)
    model = check_risk_options(horizon_days, size_bands, prior_strength, min_comparable, (0.25, 0.75),
                               min_at_risk, min_closed)
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
    for at in moments:
        inputs = _risk_inputs(data, at)
        table, deals = estimate_open_deals(inputs, model)
        fallback = table.attrs["model"] == STAGE_BASELINE
        targets = table["row"].to_numpy()
        p_stage_age = table["p_stage_age"].to_numpy(dtype="float64")
        if fallback and np.isfinite(inputs.win_share) and len(targets):
            # The stage × age reference does not depend on the fallback: compute it.
            unforced, _ = estimate_open_deals(inputs, replace(model, min_closed=0))
            p_stage_age = unforced["p_stage_age"].to_numpy(dtype="float64")
        outcome = _outcomes(inputs, _risk_inputs(data, at + horizon), targets)
        won, lost = outcome == OUTCOME_WON, outcome == OUTCOME_LOST
        p_model = table["p_win_horizon"].to_numpy(dtype="float64")
        p_base, _ = stage_share(deals, targets)
        p_stage_h = _stage_horizon(deals, targets, model.horizon)
        p_crm = _crm(deals, targets)
        scored = np.isfinite(p_model) & np.isfinite(p_base) & np.isfinite(p_stage_h) & np.isfinite(p_stage_age)
        y = won[scored].astype("float64")
        bm, lm, am = _scores(p_model[scored], y)
        bb, lb, ab = _scores(p_base[scored], y)
        bh, lh, ah = _scores(p_stage_h[scored], y)
        ba, la, aa = _scores(p_stage_age[scored], y)
        with_crm = scored & np.isfinite(p_crm)
        y_crm = won[with_crm].astype("float64")
        bc, lc, ac = _scores(p_crm[with_crm], y_crm)
        bmc, lmc, _ = _scores(p_model[with_crm], y_crm)
        cal = _calibration(p_model[scored], y)
        cal_err = float((cal["n"] * (cal["mean_predicted"] - cal["observed"]).abs()).sum()
                        / cal["n"].sum()) if len(cal) else np.nan
        note = ""
        if fallback and np.isfinite(inputs.win_share):
            note = (f"fewer than {model.min_closed} won and {model.min_closed} lost deals closed by "
                    f"as_of ({inputs.n_won} won, {inputs.n_lost} lost): the model is not used, the "
                    "stage baseline is scored in its place")
        rows.append({
            "as_of": at, "horizon_days": model.horizon, "outcome_at": at + horizon,
            "n_open": len(table), "n_scored": int(scored.sum()),
            "n_unscored": int((~scored).sum()), "n_won": int(won[scored].sum()),
            "n_lost": int(lost[scored].sum()),
            "n_still_open": int((~won & ~lost)[scored].sum()),
            "observed_rate": _mean(y),
            "mean_model": _mean(p_model[scored]),
            "mean_baseline": _mean(p_base[scored]),
            "brier_model": bm, "brier_baseline": bb, "log_loss_model": lm,
            "log_loss_baseline": lb, "brier_stage_horizon": bh, "log_loss_stage_horizon": lh,
            "brier_skill": 1 - bm / bb if bb > 0 else np.nan,
            "calibration_error": cal_err,
            "auc_model": am, "auc_baseline": ab, "auc_stage_horizon": ah,
            "mean_stage_age": _mean(p_stage_age[scored]), "brier_stage_age": ba,
            "log_loss_stage_age": la, "auc_stage_age": aa,
            "crm_scale": inputs.crm_scale, "n_crm": int(with_crm.sum()),
            "mean_crm": _mean(p_crm[with_crm]), "brier_crm": bc, "log_loss_crm": lc, "auc_crm": ac,
            "brier_model_crm_deals": bmc, "log_loss_model_crm_deals": lmc,
            "model": table.attrs["model"], "n_won_before": inputs.n_won,
            "n_lost_before": inputs.n_lost, "note": note,
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
