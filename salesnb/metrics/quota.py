"""Targets and attainment: is each salesperson (and the team) on course for the period?

:func:`attainment` compares the targets of a period (:mod:`salesnb.data.targets`) with
what was achieved by ``as_of``: the actual so far, the attainment, where the pace of
business days says the actual should be by now, the gap, the pipeline left to close it
and its coverage. :func:`resolve_target_period` reads a period (a label or a start and
end) and the moment it is seen from, for attainment and the forecasts alike
(:mod:`salesnb.metrics.forecasting`).

Unlike a KPI window, a target period may be seen from a moment *inside* it: ``as_of``
defaults to the period's end or the last event in the data, whichever comes first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from salesnb import periods
from salesnb._docstrings import fill_doc
from salesnb._options import CALENDARS, check_option
from salesnb.data.dataset import SalesData, Snapshot
from salesnb.data.portable import count_true
from salesnb.data.targets import MEASURES, Targets, load_targets
from salesnb.exceptions import OptionError, SettingsError, WindowError
from salesnb.metrics._tables import (
    TOTAL,
    all_groups,
    canonical_by,
    closed_frame,
    created_in_window,
    currency_mode,
    fetch,
    float_sums,
    group_column,
    group_currencies,
    group_labels,
    group_value,
    micros,
    only_pipelines,
    ratio,
    with_excluded,
)
from salesnb.metrics.window import TimeLike, Window, to_timestamp

if TYPE_CHECKING:
    import ibis.expr.types as ir

__all__ = ["PeriodLike", "TargetPeriod", "attainment", "business_days", "in_period_pipeline", "period_pipeline",
           "resolve_target_period", "targets_for", "won_so_far"]

#: A period: a label in the calendar (``1404-07``, ``2025-Q3``...) or a ``(start, end)`` pair.
PeriodLike = str | tuple[TimeLike, TimeLike] | list[TimeLike]
#: The period kinds a ``(start, end)`` pair is named after when it is exactly one of them.
_KINDS = ("month", "quarter", "year", "week")


@dataclass(frozen=True)
class TargetPeriod:
    """A period ``[start, end)`` seen from ``as_of``, which may lie inside it (or before it).

    Attributes
    ----------
    label : str
        The period's label (``1404-07``) or, for other windows, ``start_end`` dates.
    start, end, as_of : Timestamp
        Timezone-aware in the dataset's time zone.
    calendar : str
        The calendar of the label and of date strings.
    """

    label: str
    start: pd.Timestamp
    end: pd.Timestamp
    as_of: pd.Timestamp
    calendar: str

    @property
    def window(self) -> Window:
        """The period as a :class:`Window` whose ``as_of`` may be before its end (what has
        happened in the period by ``as_of``)."""
        return Window(self.start, self.end, self.as_of, self.calendar)

    @property
    def started(self) -> bool:
        """Whether ``as_of`` is at or after the start."""
        return bool(self.as_of >= self.start)

    @property
    def complete(self) -> bool:
        """Whether ``as_of`` is at or after the end (everything of the period is known)."""
        return bool(self.as_of >= self.end)

    @property
    def days_left(self) -> float:
        """Days from ``as_of`` to the end (0 once it is over)."""
        return max(0.0, (self.end - self.as_of).total_seconds() / 86_400.0)


def resolve_target_period(data: SalesData, period: PeriodLike, as_of: TimeLike = None,
                          calendar: str | None = None) -> TargetPeriod:
    """Resolve a target period and the moment it is seen from.

    Parameters
    ----------
    data : SalesData
        The dataset (its calendar, week start, fiscal year, time zone and span).
    period : str or (start, end)
        A period label in ``calendar`` (``1404-07``, ``1404-Q3``, ``1404``, ``2025-W07``,
        ``FY2025``...) or a ``(start, end)`` pair.
    as_of : str, date or Timestamp, optional
        The moment (default: the period's end or the last event in the data, whichever
        is first). It may lie before the end (the period in progress) or even before the
        start (a period to come).
    calendar : {"gregorian", "jalali"}, optional
        Calendar of the label and of date strings (default: the dataset's).

    Returns
    -------
    TargetPeriod

    Raises
    ------
    WindowError
        The label is not a period, the pair is not two increasing dates, a date cannot
        be read.

    Examples
    --------
    >>> import salesnb as sn
    >>> p = resolve_target_period(sn.load(sn.sample_path()), "1404-08")
    >>> p.label, p.start.isoformat(), p.as_of.isoformat()
    ('1404-08', '2025-10-23T00:00:00+03:30', '2025-11-20T12:10:00+03:30')
    """
    cal = check_option("calendar", calendar or data.settings.calendar, CALENDARS)
    s = data.settings
    tz = s.timezone
    week_start = s.week_start if cal == s.calendar else None
    if isinstance(period, str):
        label = period.strip()
        try:
            start, end = periods.period_bounds(label, calendar=cal, week_start=week_start,
                                               fiscal_year_start=s.fiscal_year_start, tz=tz)
        except SettingsError as err:
            example = "1404" if cal == "jalali" else "2025"
            raise WindowError(f"`period`={period!r} is not a {cal} period label",
                              fix=f"give a month ({example}-07), a quarter ({example}-Q3), a year "
                                  f"({example}) or a week ({example}-W07) in the {cal} calendar, "
                                  "or a (start, end) pair") from err
    elif isinstance(period, tuple | list) and len(period) == 2:
        lo = to_timestamp(period[0], calendar=cal, tz=tz, name="period")
        hi = to_timestamp(period[1], calendar=cal, tz=tz, name="period")
        if lo is None or hi is None or not lo < hi:
            raise WindowError(f"`period`={period!r} is not a (start, end) pair with start before end",
                              fix="give two dates, the end after the start (the period is [start, end))")
        start, end = lo, hi
        label = _label_of(start, end, cal, week_start, s.fiscal_year_start, tz)
    else:
        raise WindowError(f"`period`={period!r} is neither a period label nor a (start, end) pair",
                          fix="give e.g. '1404-07' or ('1404-07-01', '1404-08-01')")
    moment = to_timestamp(as_of, calendar=cal, tz=tz, name="as_of")
    if moment is None:
        moment = min(end, data.span[1])
    return TargetPeriod(label, start, end, moment, cal)


def _label_of(start: pd.Timestamp, end: pd.Timestamp, calendar: str, week_start: str | None,
              fiscal_year_start: int, tz: str) -> str:
    """The label of ``[start, end)`` when it is exactly one month, quarter, year or week."""
    for kind in _KINDS:
        table = periods.period_table(start, end, period=kind, calendar=calendar, week_start=week_start,
                                     tz=tz)
        if len(table) == 1 and table["period_start"].iloc[0] == start and table["period_end"].iloc[0] == end:
            return str(table["period"].iloc[0])
    fmt = periods.format_date
    return f"{fmt(start, calendar=calendar)}_{fmt(end, calendar=calendar)}"


# --------------------------------------------------------------------------- business days
def business_days(data: SalesData, start: pd.Timestamp, end: pd.Timestamp) -> float:
    """Business days from ``start`` to ``end`` (weekend and holidays from the settings; 0 if
    ``end`` is before ``start``)."""
    if end <= start:
        return 0.0
    s = data.settings
    value = periods.business_days_between(pd.Series([start]), pd.Series([end]), weekend=list(s.weekend),
                                          holidays=list(s.holidays)).iloc[0]
    return max(0.0, float(value))


def elapsed_share(data: SalesData, period: TargetPeriod) -> tuple[float, float, float]:
    """The share of the period's business days elapsed at ``as_of``, the days elapsed and in
    the period (elapsed time when the period has no business day)."""
    total = business_days(data, period.start, period.end)
    moment = min(max(period.as_of, period.start), period.end)
    done = business_days(data, period.start, moment)
    if total > 0:
        return done / total, done, total
    length = (period.end - period.start).total_seconds()
    return (moment - period.start).total_seconds() / length, done, total


# --------------------------------------------------------------------------- targets
def _prorated(data: SalesData, rows: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp,
              names: pd.Series) -> tuple[dict[str, float], int]:
    """Sum the targets of ``rows`` over ``[start, end)``, each prorated by the business days
    its period shares with it; returns name -> target and how many rows were prorated."""
    out: dict[str, float] = {}
    partial = 0
    for (_, row), name in zip(rows.iterrows(), names, strict=True):
        lo, hi = max(row["period_start"], start), min(row["period_end"], end)
        if lo >= hi:
            continue
        share = 1.0
        if lo > row["period_start"] or hi < row["period_end"]:
            whole = business_days(data, row["period_start"], row["period_end"])
            if whole > 0:
                share = business_days(data, lo, hi) / whole
            else:
                share = (hi - lo).total_seconds() / (row["period_end"] - row["period_start"]).total_seconds()
            partial += 1
        out[name] = out.get(name, 0.0) + share * float(row["target"])
    return out, partial


def targets_for(data: SalesData, targets: Targets, period: TargetPeriod, by: str | None,
                measure: str) -> tuple[dict[str, float], list[str]]:
    """The target of each group for ``measure`` over the period, and notes.

    ``by="owner"`` reads the salespeople's rows, ``"team"`` the teams' rows, None the
    company's rows — or, without any, the sum of the teams' rows, else of the
    salespeople's. A row whose period covers the period in part counts for the business
    days they share.
    """
    t = targets.table
    t = t[t["measure"] == measure]
    notes: list[str] = []
    if by is None:
        for level in ("company", "team", "owner"):
            rows = t[t["level"] == level]
            found, partial = _prorated(data, rows, period.start, period.end,
                                       pd.Series(TOTAL, index=rows.index))
            if found:
                if level != "company":
                    notes.append(f"{measure}: no company target; the sum of the {level} targets is used")
                break
    else:
        rows = t[t["level"] == by]
        found, partial = _prorated(data, rows, period.start, period.end, rows[by])
    if partial:
        notes.append(f"{measure}: {partial} target row(s) cover the period in part and count for the "
                     "business days they share with it")
    return found, notes


def _check_targets_by(by: str | None) -> str | None:
    if by is None:
        return None
    try:
        return check_option("by", by, ("owner", "team"))
    except OptionError:
        raise WindowError(f"`by`={by!r}: targets are set per salesperson (owner), team or for the "
                          "company", fix="give `by`='owner', 'team' or None") from None


def _resolve_targets(data: SalesData, targets: Any, calendar: str | None) -> Targets:
    if targets is None:
        found = getattr(data, "targets", None)
        if found is None:
            raise WindowError("the dataset has no targets",
                              fix="put a targets.csv beside the opportunities, or pass `targets` "
                                  "(a file, a DataFrame or salesnb.load_targets(...))")
        return found  # type: ignore[no-any-return]
    return load_targets(targets, data, calendar=calendar)


# --------------------------------------------------------------------------- actuals
def won_so_far(snap: Snapshot, period: TargetPeriod, by: str | None) -> pd.DataFrame:
    """Per group: ``won_amount`` (sum of amounts, in source order) and ``won_count`` of the deals
    won in the period by ``snap.as_of``, and ``won_without_amount``."""
    col = group_column(by)
    split = currency_mode(snap.data) == "split"
    closed = closed_frame(snap, period.window, [by, "currency" if split else None])
    won = closed[closed["status_asof"] == "won"]
    frame = pd.DataFrame({"_g": group_labels(won, by), "amount": won["amount"]})
    out = frame.groupby("_g", sort=False).agg(won_amount=("amount", "sum"), won_count=("amount", "size"),
                                                won_with_amount=("amount", "count"))
    out["won_without_amount"] = out["won_count"] - out.pop("won_with_amount")
    out = out.reset_index()
    if split:  # amounts split by currency: the currency of each group's won amounts (_currency)
        out = out.merge(group_currencies(frame.assign(currency=won["currency"]), ["_g"], "amount"),
                        on="_g", how="left")
    return out.rename(columns={"_g": col})


def _created_so_far(snap: Snapshot, period: TargetPeriod, by: str | None) -> pd.DataFrame:
    col = group_column(by)
    t = created_in_window(snap, period.window)
    t = t.mutate(_g=group_value(t, by))
    out = fetch(snap.data, t.group_by("_g").aggregate(created_count=t.count()))
    return out.astype({"_g": "str"}).rename(columns={"_g": col})


def in_period_pipeline(t: ir.Table, period: TargetPeriod) -> ir.BooleanValue:
    """Whether an open deal is in the period's pipeline, as a CRM's forecast view has it:
    every open deal when the data has no ``expected_close_at``; else those expected to
    close within the period (a deal expected before the period started is overdue and
    belongs to an earlier period; one without a date to none)."""
    import ibis

    if "expected_close_at" not in t.columns:
        return ibis.literal(True)
    x = t.expected_close_at
    return (x.notnull() & (x >= micros(period.start)) & (x < micros(period.end))).fill_null(False)


def period_pipeline(snap: Snapshot, period: TargetPeriod) -> tuple[ir.Table, int]:
    """The deals open at ``as_of`` in the period's pipeline (:func:`in_period_pipeline`), and
    how many open deals have no expected close date (left out)."""
    o = snap.table
    t = o.filter(snap.is_open(o))
    if "expected_close_at" not in o.columns:
        return t, 0
    missing = int(snap.data.engine.one(t.aggregate(n=count_true(t.expected_close_at.isnull()))).get("n") or 0)
    return t.filter(in_period_pipeline(t, period)), missing


def _pipeline(snap: Snapshot, period: TargetPeriod, by: str | None) -> tuple[pd.DataFrame, int]:
    col = group_column(by)
    t, missing = period_pipeline(snap, period)
    t = t.mutate(_g=group_value(t, by))
    counts = fetch(snap.data, t.group_by("_g").aggregate(pipeline_count=t.count()))
    counts = counts.astype({"_g": "str"})
    values = float_sums(snap.data, t, ["_g"], t.amount, "pipeline_amount").astype({"_g": "str"})
    out = counts.merge(values, on="_g", how="left").rename(columns={"_g": col})
    return out, missing


# --------------------------------------------------------------------------- public API
@fill_doc
def attainment(
    data: SalesData,
    targets: Targets | pd.DataFrame | str | None = None,
    *,
    period: PeriodLike,
    as_of: TimeLike = None,
    by: str | None = "owner",
    measure: str | None = None,
    calendar: str | None = None,
    pipelines: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Compare the targets of a period with what was achieved by ``as_of``, with the pace.

    For each group and measure: the ``target`` of the period, the ``actual`` so far
    (``won_amount``: the amounts of the deals won in the period by ``as_of``;
    ``won_count``: their number; ``created_count``: the opportunities created), the
    ``attainment`` (actual ÷ target), ``expected_by_now`` — the target times the share
    of the period's business days elapsed at ``as_of`` (weekend and holidays from the
    settings: a Nowruz week adds nothing to the pace) —, the ``gap`` to that pace
    (actual − expected by now: negative is behind), the ``remaining`` target
    (target − actual, at least 0), the ``pipeline`` that may still close it (the open
    deals at ``as_of``; with ``expected_close_at`` in the data, those expected to close
    within the period; amounts for ``won_amount``, a count for ``won_count``) and its
    ``coverage`` (pipeline ÷ remaining).

    Parameters
    ----------
    {data}
    targets : Targets, DataFrame, str or Path, optional
        The targets (:func:`~salesnb.load_targets`, or anything it reads); default: the
        dataset's own (``data.targets``: a folder's ``targets.csv``...).
    {target_period}
        Target rows of other periods count for the business days they share with it (a
        quarter's target over one of its months: its share).
    {as_of_period}
    by : {"owner", "team"} or None, default "owner"
        Salespeople, teams, or the company (None: the company's targets, else the sum
        of the teams', else of the salespeople's).
    measure : {"won_amount", "won_count", "created_count"}, optional
        Only this measure (default: every measure the targets have).
    {calendar}
    {pipelines}

    Returns
    -------
    DataFrame
        One row per group and measure: ``period``, ``period_start``, ``period_end``, the
        group column, ``measure``, ``target`` (NaN without one), ``actual``,
        ``attainment``, ``expected_by_now``, ``gap``, ``remaining``, ``pipeline``
        (NaN for ``created_count``), ``coverage`` (NaN when nothing remains). Groups
        are every one known at ``as_of`` and every one with a target. ``attrs``:
        ``as_of``, ``elapsed_share``, ``business_days_elapsed``, ``business_days_total``,
        ``notes``, ``excluded`` (``won_without_amount``; ``no_expected_close``: open
        deals without an expected close date, left out of the pipeline).

    Examples
    --------
    {load_sample}
    >>> a = sn.attainment(data, period="1404-07", measure="won_amount")
    >>> a.loc[a["owner"] == "Babak Sadeghi", ["target", "actual", "attainment"]].round(2).values.tolist()
    [[2500000000.0, 3500500000.0, 1.4]]
    >>> team = sn.attainment(data, period="1404-07", by=None, measure="won_amount")
    >>> round(float(team["attainment"].iloc[0]), 2)  # the yearly target's share of Mehr
    0.7
    """
    data = only_pipelines(data, pipelines)
    by = _check_targets_by(canonical_by(data, by) if by is not None else None)
    view = resolve_target_period(data, period, as_of, calendar)
    found = _resolve_targets(data, targets, view.calendar)
    measures = list(MEASURES) if measure is None else [check_option("measure", measure, MEASURES)]
    if measure is None:
        present = set(found.table["measure"])
        measures = [m for m in MEASURES if m in present]
    snap = data.at(view.as_of)
    col = group_column(by)
    elapsed, done, total = elapsed_share(data, view)
    won = won_so_far(snap, view, by)
    created = _created_so_far(snap, view, by) if "created_count" in measures else None
    pipe, no_close = _pipeline(snap, view, by)
    groups = all_groups(snap, by)
    notes: list[str] = []
    per_measure: dict[str, dict[str, float]] = {}
    for m in measures:
        per_measure[m], extra = targets_for(data, found, view, by, m)
        notes.extend(extra)
        groups = sorted(set(groups) | set(per_measure[m]))
    rows = []
    index = {name: i for i, name in enumerate(groups)}
    won_i = won.set_index(col)
    pipe_i = pipe.set_index(col)
    created_i = created.set_index(col) if created is not None else None
    # Amounts split by currency (no rates): a target is in the reporting currency, so an
    # amount counts only when all of it is in that currency (else it is left empty).
    split = currency_mode(data) == "split"
    own = {"", data.settings.currency or ""}

    def in_reporting(table: pd.DataFrame, g: str) -> bool:
        if not split or "_currency" not in table.columns or g not in table.index:
            return True
        code = table["_currency"].get(g)
        return bool(pd.isna(code) or code in own)

    mixed = 0
    for m in measures:
        for g in groups:
            if m == "won_amount":
                actual = float(won_i["won_amount"].get(g, 0.0)) if in_reporting(won_i, g) else np.nan
                left = float(pipe_i["pipeline_amount"].get(g, 0.0)) if len(pipe_i) else 0.0
                if not in_reporting(pipe_i, g):
                    left = np.nan
                mixed += bool(np.isnan(actual) or np.isnan(left))
            elif m == "won_count":
                actual = float(won_i["won_count"].get(g, 0))
                left = float(pipe_i["pipeline_count"].get(g, 0)) if len(pipe_i) else 0.0
            else:
                actual = float(created_i["created_count"].get(g, 0)) if created_i is not None else 0.0
                left = np.nan
            rows.append((index[g], MEASURES.index(m), g, m, per_measure[m].get(g, np.nan), actual, left))
    frame = pd.DataFrame(rows, columns=["_g", "_m", col, "measure", "target", "actual", "pipeline"])
    frame = frame.sort_values(["_g", "_m"], kind="stable").drop(columns=["_g", "_m"]).reset_index(drop=True)
    target = frame["target"].to_numpy(dtype="float64")
    achieved = frame["actual"].to_numpy(dtype="float64")
    expected = target * elapsed
    remaining = np.maximum(target - achieved, 0.0)
    out = pd.DataFrame({
        "period": pd.Series([view.label] * len(frame), dtype="str"),
        "period_start": pd.Series([view.start] * len(frame), dtype=f"datetime64[ns, {data.settings.timezone}]"),
        "period_end": pd.Series([view.end] * len(frame), dtype=f"datetime64[ns, {data.settings.timezone}]"),
        col: frame[col].astype("str"),
        "measure": frame["measure"].astype("str"),
        "target": target,
        "actual": achieved,
        "attainment": ratio(achieved, target),
        "expected_by_now": expected,
        "gap": achieved - expected,
        "remaining": remaining,
        "pipeline": frame["pipeline"].to_numpy(dtype="float64"),
        "coverage": ratio(frame["pipeline"], remaining),
    })
    if "won_amount" in measures:
        without = int(won["won_without_amount"].sum()) if len(won) else 0
        if without:
            notes.append(f"{without} won deal(s) without an amount count for won_count but add nothing "
                         "to won_amount")
    else:
        without = 0
    if no_close:
        notes.append(f"{no_close} open deal(s) without an expected close date are left out of the pipeline")
    if mixed:
        notes.append(f"{mixed} group(s) have won or pipeline amounts in a currency other than the reporting "
                     f"currency ({data.settings.currency or 'not set'}) and no exchange rates were given: "
                     "their won_amount attainment is left empty (give rates.csv to convert them)")
    out.attrs.update(as_of=view.as_of, elapsed_share=float(elapsed), business_days_elapsed=float(done),
                     business_days_total=float(total), notes=notes, label=view.label)
    return with_excluded(out, won_without_amount=without, no_expected_close=no_close)
