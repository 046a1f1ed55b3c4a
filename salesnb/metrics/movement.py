"""Pipeline movement between two moments: the walk from the open pipeline at ``start`` to
the open pipeline at ``end``, what moved between stages, and the deals past their close date.

The walk (the vendors' *pipeline waterfall*), per group, by count::

    open_start + created + reassigned_in − reassigned_out − won − lost = open_end

and by value, with ``+ increased − decreased`` (amount changes of deals while open). It
follows the half-open window ``[start, end)``: *open at start* is the state just before
``start`` (created before it, not closed before it; field changes before it), so a deal
created, closed or changed exactly at ``start`` belongs to the window's flows, and
likewise at ``end``. Every deal is counted once on each side, so the walk balances
exactly: values are added as :class:`~decimal.Decimal` (the shortest decimal text of
each stored amount), never as floats.

Amounts, owners and expected close dates come from the field history (their value at
each moment, the replay rule of :attr:`salesnb.data.dataset.Snapshot.table`); without one
they are constant, and the result says so in ``attrs["notes"]``.

The engine selects the deals that were open at some moment of the window and their
field changes; the walk itself runs in Python on those compact rows, in source order.
"""

from __future__ import annotations

import bisect
import decimal
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from salesnb import periods
from salesnb._docstrings import fill_doc
from salesnb.data.dataset import SalesData
from salesnb.exceptions import DataSchemaError
from salesnb.metrics._tables import (
    NONE_LABEL,
    TOTAL,
    all_groups,
    canonical_by,
    currency_mode,
    group_column,
    group_value,
    micros,
    only_pipelines,
    period_frame,
    with_excluded,
)
from salesnb.metrics.stages import label_positions
from salesnb.metrics.window import TimeLike, Window, resolve_moment, resolve_window

__all__ = ["MOVEMENT_COLUMNS", "Deal", "Walk", "deals_from_rows", "is_balanced", "overdue_deals", "pipeline_movement",
           "stage_movement", "walk"]

#: The numbers of one row of :func:`pipeline_movement`, in order (the ``salesnb movement
#: --json`` keys after ``group``, before ``balanced``).
MOVEMENT_COLUMNS = (
    "open_start_count", "open_start_value", "created_count", "created_value",
    "reassigned_in_count", "reassigned_in_value", "reassigned_out_count", "reassigned_out_value",
    "increased_value", "decreased_value", "won_count", "won_value", "lost_count", "lost_value",
    "open_end_count", "open_end_value", "pulled_in_count", "pulled_in_value",
    "pushed_out_count", "pushed_out_value",
)
_COUNTS = tuple(c for c in MOVEMENT_COLUMNS if c.endswith("_count"))
_VALUES = tuple(c for c in MOVEMENT_COLUMNS if c.endswith("_value"))
#: The fields the walk replays.
_FIELDS = ("amount", "owner", "expected_close_at")
#: Exact decimal arithmetic for the sums (amounts are at most 10^15, see validation).
_CONTEXT = decimal.Context(prec=60, traps=[decimal.InvalidOperation, decimal.Inexact])
_ZERO = Decimal(0)
NO_FIELD_HISTORY = ("no field history: amounts, owners and expected close dates are taken as constant "
                    "(as they are now), so the walk has no reassignments, increases or decreases")
NO_CLOSE_DATES = "no expected_close_at column: pulled in and pushed out are 0"

#: Stage labels of :func:`stage_movement` beside the funnel's stages.
NEW, WON, LOST, UNKNOWN = "(new)", "(won)", "(lost)", "(unknown)"


# --------------------------------------------------------------------------- a deal's fields
@dataclass
class _Field:
    """A field's recorded changes (one per instant: the last in source order) and its value
    in the opportunities table (used when there is none)."""

    base: Any
    times: list[int] = field(default_factory=list)
    values: list[Any] = field(default_factory=list)
    #: The first recorded value (the first in source order at the earliest instant).
    first: Any = None

    def at(self, t: int, *, inclusive: bool) -> Any:
        """The value at ``t``: the latest change before ``t`` (at or before when
        ``inclusive``); before the first change, the first recorded value; without any,
        the table's value (the replay rule of the snapshots)."""
        if not self.times:
            return self.base
        i = (bisect.bisect_right if inclusive else bisect.bisect_left)(self.times, t)
        return self.values[i - 1] if i else self.first


@dataclass
class Deal:
    """A deal as the walk sees it: its times (microseconds), outcome, fixed group and the
    replayed fields (built by :func:`deals_from_rows`)."""

    row: int
    opportunity_id: str
    created: int
    closed: int | None
    status: str
    group: str               # the group when it does not move (by is not owner)
    fields: dict[str, _Field]
    currency: str | None = None  # upper case; None: no currency column or a blank one

    def converted(self, rate: Decimal | None) -> Deal:
        """The deal with every amount (as stored and as changed) times ``rate``; no rate:
        no amount (the deal still counts in the counts)."""
        f = self.fields["amount"]
        scale = (lambda v: None if v is None or rate is None else _CONTEXT.multiply(v, rate))  # noqa: E731
        amount = _Field(scale(f.base), list(f.times), [scale(v) for v in f.values], scale(f.first))
        return replace(self, fields={**self.fields, "amount": amount})

    def state(self, t: int, *, inclusive: bool, by_owner: bool) -> tuple[Decimal | None, str, int | None]:
        """Amount, group and expected close date at ``t``."""
        amount = self.fields["amount"].at(t, inclusive=inclusive)
        owner = self.fields["owner"].at(t, inclusive=inclusive)
        group = (owner if owner is not None else self.fields["owner"].base) if by_owner else self.group
        return amount, group, self.fields["expected_close_at"].at(t, inclusive=inclusive)

    def change_times(self, lo: int, hi: int, *, lo_inclusive: bool, hi_inclusive: bool) -> list[int]:
        """The instants with a change of any replayed field inside the range, in order."""
        out: set[int] = set()
        for f in self.fields.values():
            a = (bisect.bisect_left if lo_inclusive else bisect.bisect_right)(f.times, lo)
            b = (bisect.bisect_right if hi_inclusive else bisect.bisect_left)(f.times, hi)
            out.update(f.times[a:b])
        return sorted(out)


def _decimal(value: Any) -> Decimal | None:
    """An amount as an exact decimal: the shortest text that reads back as the stored float."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return Decimal(repr(float(value)))


def _fetch_deals(data: SalesData, lo: int, hi: int, by: str | None) -> list[Deal]:
    """The deals open at some moment of ``[lo, hi)`` (created before ``hi``, not closed before
    ``lo``), with the changes of their replayed fields, in source order."""
    o = data.opportunity_table
    rel = o.filter((o.created_at < hi) & (o.closed_at.isnull() | (o.closed_at >= lo)))
    cols: dict[str, Any] = {"_g": group_value(rel, by if by != "owner" else None)}
    if "expected_close_at" in o.columns:
        cols["_ecd"] = rel.expected_close_at
    if "currency" in o.columns:
        cols["_cur"] = rel.currency.strip().upper()
    rows = data.engine.arrow(rel.select("_row", "opportunity_id", "created_at", "closed_at", "status",
                                        "amount", "owner", **cols)).to_pylist()
    f = data.field_table
    changes: list[dict[str, Any]] = []
    if f is not None and rows:
        wanted = [n for n in _FIELDS if n in o.columns]
        picked = f.filter(f.field.isin(wanted) & f.opp_key.isin(rel._row))
        changes = data.engine.arrow(picked.select("opp_key", "field", "changed_at", "seq", "value_text",
                                                  "value_number", "value_time")).to_pylist()
    return deals_from_rows(rows, changes)


def deals_from_rows(rows: list[dict[str, Any]], changes: list[dict[str, Any]]) -> list[Deal]:
    """Build the deals of a walk from the engine's rows (any order; kept in source order).

    ``rows``: ``_row``, ``opportunity_id``, ``created_at``, ``closed_at`` (microseconds or
    None), ``status``, ``amount`` (float or None), ``owner``, ``_g`` (the group label when
    not by owner) and optionally ``_ecd`` (expected close, microseconds). ``changes``: the
    field history rows of these deals (``opp_key``, ``field``, ``changed_at``, ``seq``,
    ``value_text``, ``value_number``, ``value_time``); several at one instant: the last in
    source order holds.
    """
    deals: dict[int, Deal] = {}
    for r in sorted(rows, key=lambda r: int(r["_row"])):
        deals[int(r["_row"])] = Deal(
            row=int(r["_row"]), opportunity_id=str(r["opportunity_id"]), created=int(r["created_at"]),
            closed=None if r["closed_at"] is None else int(r["closed_at"]), status=str(r["status"]),
            group=str(r["_g"]), currency=r.get("_cur") or None,
            fields={"amount": _Field(_decimal(r["amount"])), "owner": _Field(r["owner"]),
                    "expected_close_at": _Field(r.get("_ecd"))})
    for c in sorted(changes, key=lambda c: (int(c["opp_key"]), str(c["field"]), int(c["changed_at"]),
                                            int(c["seq"]))):
        deal = deals[int(c["opp_key"])]
        name = str(c["field"])
        value: Any = (_decimal(c["value_number"]) if name == "amount" else
                      c["value_text"] if name == "owner" else c["value_time"])
        target = deal.fields[name]
        t = int(c["changed_at"])
        if target.times and target.times[-1] == t:
            target.values[-1] = value      # the same instant: the last in source order holds
        else:
            if not target.times:
                target.first = value
            target.times.append(t)
            target.values.append(value)
    return list(deals.values())


# --------------------------------------------------------------------------- the walk
def _zero_row() -> dict[str, Any]:
    row: dict[str, Any] = {c: 0 for c in _COUNTS}
    row.update({c: _ZERO for c in _VALUES})
    return row


@dataclass
class Walk:
    """The walk of one sub-window: per group, the counts and exact values of
    :data:`MOVEMENT_COLUMNS`; per flow, the deals counted without an amount."""

    rows: dict[str, dict[str, Any]] = field(default_factory=lambda: defaultdict(_zero_row))
    without_amount: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def add(self, group: str, flow: str, amount: Decimal | None) -> None:
        row = self.rows[group]
        row[f"{flow}_count"] += 1
        if amount is None:
            self.without_amount[flow] += 1
        else:
            row[f"{flow}_value"] = _CONTEXT.add(row[f"{flow}_value"], amount)

    def change(self, group: str, delta: Decimal) -> None:
        row = self.rows[group]
        if delta > 0:
            row["increased_value"] = _CONTEXT.add(row["increased_value"], delta)
        elif delta < 0:
            row["decreased_value"] = _CONTEXT.subtract(row["decreased_value"], delta)


def _in(value: int | None, lo: int, hi: int) -> bool:
    return value is not None and lo <= value < hi


def walk(deals: Iterable[Deal], lo: int, hi: int, following: tuple[int, int], *,
          by_owner: bool) -> Walk:
    """Walk the open pipeline from just before ``lo`` to just before ``hi``.

    ``following`` is the period the pulled-in / pushed-out view looks at; ``by_owner``:
    the groups are the owners, and a change of owner is a reassignment (otherwise a deal
    keeps its group).
    """
    out = Walk()
    for d in deals:
        if d.created >= hi or (d.closed is not None and d.closed < lo):
            continue
        opened_before = d.created < lo
        closed_in = d.closed is not None and d.closed < hi
        # Entry: the state just before lo, or at creation (changes at that instant included).
        entry_t, entry_incl = (lo, False) if opened_before else (d.created, True)
        exit_t, exit_incl = (d.closed, True) if closed_in else (hi, False)
        assert exit_t is not None
        amount, group, ecd_start = d.state(entry_t, inclusive=entry_incl, by_owner=by_owner)
        out.add(group, "open_start" if opened_before else "created", amount)
        for t in d.change_times(entry_t, exit_t, lo_inclusive=not entry_incl, hi_inclusive=exit_incl):
            new_amount, new_group, _ = d.state(t, inclusive=True, by_owner=by_owner)
            delta = _CONTEXT.subtract(new_amount or _ZERO, amount or _ZERO)
            if delta:
                out.change(group, delta)    # an amount change counts for the owner before a move
            if by_owner and new_group != group:
                out.add(group, "reassigned_out", new_amount)
                out.add(new_group, "reassigned_in", new_amount)
            amount = new_amount
            group = new_group
        if closed_in:
            out.add(group, "won" if d.status == "won" else "lost", amount)
            continue
        out.add(group, "open_end", amount)
        _, _, ecd_end = d.state(exit_t, inclusive=False, by_owner=by_owner)
        was_in, now_in = _in(ecd_start, *following), _in(ecd_end, *following)
        if now_in and not was_in:
            out.add(group, "pulled_in", amount)
        elif was_in and not now_in:
            out.add(group, "pushed_out", amount)
    return out


def is_balanced(row: dict[str, Any]) -> bool:
    """Whether a row of a :class:`Walk` balances, by count and by value (exactly)."""
    count = (row["open_start_count"] + row["created_count"] + row["reassigned_in_count"]
             - row["reassigned_out_count"] - row["won_count"] - row["lost_count"])
    value = _ZERO
    for name, sign in (("open_start_value", 1), ("created_value", 1), ("reassigned_in_value", 1),
                       ("reassigned_out_value", -1), ("increased_value", 1), ("decreased_value", -1),
                       ("won_value", -1), ("lost_value", -1)):
        value = _CONTEXT.add(value, row[name]) if sign > 0 else _CONTEXT.subtract(value, row[name])
    return count == row["open_end_count"] and value == row["open_end_value"]


@fill_doc
def pipeline_movement(
    data: SalesData,
    *,
    start: TimeLike = None,
    end: TimeLike = None,
    by: str | None = None,
    calendar: str | None = None,
    period: str | None = None,
    pipelines: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Walk the open pipeline from ``start`` to ``end``, by count and by value, per group.

    ``open_start + created + reassigned_in − reassigned_out − won − lost = open_end``
    (counts), and by value the same with ``+ increased − decreased`` (amount changes of
    deals while open). *Open at start* is the state just before ``start``: created before
    it and not closed before it, its amount, owner and expected close date as changed
    before it; a deal created, closed or changed exactly at ``start`` is in the window's
    flows, and likewise at ``end``. A deal created and closed inside the window is created
    and won (lost). Values are added exactly (decimals); a deal without an amount counts
    in the counts only. Reassignments are changes of ``owner`` (field history): they move
    deals between salespeople (``by="owner"``); grouped otherwise, a deal keeps its group
    and there are none.

    Beside the walk, for the forecast view: ``pulled_in`` counts the deals open at the end
    whose expected close date (as known just before ``end``) lies in the *following
    period* but did not at the start (just before ``start``, or at creation);
    ``pushed_out`` those whose date lay in it at the start and no longer does (later,
    earlier or cleared). The following period is the window's size again after ``end``
    (whole months by months, whole days by days), or with ``period`` the next period of
    that kind; its bounds are in ``attrs["following"]``.

    Parameters
    ----------
    {data}
    start, end : str, date or Timestamp, optional
        The half-open window ``[start, end)``, read in ``calendar`` and the dataset's
        time zone (default: from the first creation to the midnight after the last
        event). The data is seen as known at ``end``.
    by : str or None, default None
        ``"owner"`` (deals move with their owner's changes), ``"team"``,
        ``"pipeline"`` or any column of the opportunities (any case); None for the team
        total, ``(all)``.
    {calendar}
    {period}
    {pipelines}
        Each period's walk covers its part of the window; one period's end is the
        next one's start.

    Returns
    -------
    DataFrame
        One row per group (and period): the group column (``group`` when ``by`` is
        None), the counts and values of :data:`MOVEMENT_COLUMNS` (values as floats in
        the data's currency; exact sums rounded once), ``balanced`` (the walk checked
        exactly, by count and by value). ``attrs``: ``notes`` (no field history, no
        expected close dates), ``following`` (the period of pulled in / pushed out; a
        list with ``period``), ``excluded`` (deals counted without an amount, per flow:
        ``open_start_without_amount``...), ``exact`` (per row, the value columns as the
        exact :class:`~decimal.Decimal` sums).

    Raises
    ------
    WindowError
        A date cannot be read or the window is empty.
    OptionError
        ``by``, ``calendar`` or ``period`` is not known.

    Examples
    --------
    {load_sample}
    >>> t = sn.pipeline_movement(data, start="1404-07-01", end="1404-08-01")
    >>> row = t.iloc[0]
    >>> int(row["open_start_count"] + row["created_count"] - row["won_count"] - row["lost_count"])
    331
    >>> int(row["open_end_count"]), bool(row["balanced"])
    (331, True)
    """
    data = only_pipelines(data, pipelines)
    window = resolve_window(data, start, end, None, calendar)
    by = canonical_by(data, by)
    col = group_column(by)
    lo, hi = micros(window.start), micros(window.end)
    deals = _fetch_deals(data, lo, hi, by)
    mode = currency_mode(data)
    without_rate = 0
    if mode == "convert":
        deals, without_rate = _convert(data, deals, hi)
    # Split by currency (no rates): one walk per currency, never adding currencies.
    by_code: dict[str | None, list[Deal]] = {None: deals}
    if mode == "split":
        by_code = defaultdict(list)
        for d in deals:
            by_code[d.currency or NONE_LABEL].append(d)
    parts = _parts(data, window, period)
    out_rows: list[dict[str, Any]] = []
    excluded: dict[str, int] = defaultdict(int)
    groups = set(all_groups(data.at(window.as_of), by)) if by is not None else {TOTAL}
    for label, p_lo, p_hi, following in parts:
        seen: set[str] = set()
        for code in sorted(by_code, key=lambda c: (c is None, c or "")):
            steps = walk(by_code[code], micros(p_lo), micros(p_hi),
                         (micros(following[0]), micros(following[1])), by_owner=by == "owner")
            for flow, n in steps.without_amount.items():
                excluded[f"{flow}_without_amount"] += n
            names = sorted(groups | set(steps.rows)) if mode != "split" else sorted(steps.rows)
            seen.update(names)
            for g in names:
                out_rows.append(_movement_row(steps.rows[g] if g in steps.rows else _zero_row(),
                                              label, p_lo, p_hi, col, g, code))
        if mode == "split":  # groups without a deal in this part: one zero row
            out_rows.extend(_movement_row(_zero_row(), label, p_lo, p_hi, col, g, "")
                            for g in sorted(groups - seen))
    lead = ["period", "period_start", "period_end"] if period is not None else []
    cur = ["currency"] if mode == "split" else []
    frame = pd.DataFrame(out_rows, columns=[*lead, col, *cur, *MOVEMENT_COLUMNS, "balanced", "_exact"])
    if cur:
        frame = frame.sort_values([*lead[:1], col, "currency"], kind="stable", ignore_index=True)
        frame["currency"] = frame["currency"].astype("str")
    exact = frame.pop("_exact").tolist()
    frame[col] = frame[col].astype("str")
    for c in _COUNTS:
        frame[c] = frame[c].astype("int64")
    for c in _VALUES:
        frame[c] = frame[c].astype("float64")
    frame["balanced"] = frame["balanced"].astype("bool")
    notes = []
    if data.field_table is None:
        notes.append(NO_FIELD_HISTORY)
    if "expected_close_at" not in data.opportunity_table.columns:
        notes.append(NO_CLOSE_DATES)
    if mode == "split":
        codes = data.currencies()
        frame.attrs["currency_note"] = (
            f"amounts are in {len(codes)} currencies ({', '.join(codes)}) and no exchange rates were given: "
            "one walk per currency (the 'currency' column), each balancing on its own; counts add across "
            "rows, values never do (give rates.csv to convert them)")
    if mode == "convert":
        frame.attrs["currency"] = data.settings.currency
        notes.append(f"values converted into {data.settings.currency or 'the reporting currency'}: a deal "
                     "closed in the window at its close date's rate, an open one at the window end's rate "
                     f"(its every amount, so the walk balances); {without_rate:,} deal(s) without a rate "
                     "count without an amount")
    frame.attrs["notes"] = notes
    frame.attrs["exact"] = exact
    following_all = [(f[0], f[1]) for *_, f in parts]
    frame.attrs["following"] = following_all if period is not None else following_all[0]
    flows = ("open_start", "created", "reassigned_in", "reassigned_out", "won", "lost", "open_end",
             "pulled_in", "pushed_out")
    return with_excluded(frame, **{f"{f}_without_amount": excluded.get(f"{f}_without_amount", 0) for f in flows})


def _movement_row(row: dict[str, Any], label: str | None, p_lo: pd.Timestamp, p_hi: pd.Timestamp,
                  col: str, group: str, code: str | None) -> dict[str, Any]:
    rec: dict[str, Any] = {}
    if label is not None:
        rec.update(period=label, period_start=p_lo, period_end=p_hi)
    rec[col] = group
    if code is not None:
        rec["currency"] = code
    rec.update({c: int(row[c]) if c in _COUNTS else float(row[c]) for c in MOVEMENT_COLUMNS})
    rec["balanced"] = is_balanced(row)
    rec["_exact"] = {c: row[c] for c in _VALUES}
    return rec


def _convert(data: SalesData, deals: list[Deal], hi: int) -> tuple[list[Deal], int]:
    """The deals with amounts in the reporting currency: one rate per deal, at its close
    when it closed before ``hi``, else at ``hi`` (the rate rule of the snapshots: closed
    deals at their close date, open ones at the moment looked at). Returns the deals and
    how many had no applicable rate."""
    from salesnb.data.dataset import rate_intervals

    table = rate_intervals(data.rates, data.settings.currency).to_pylist()
    per: dict[str, list[tuple[int, int, float]]] = defaultdict(list)
    for r in table:
        per[str(r["_cur"])].append((int(r["_from"]), int(r["_to"]), float(r["_rate"])))
    out, missing = [], 0
    for d in deals:
        t = d.closed if d.closed is not None and d.closed < hi else hi
        rate = next((Decimal(repr(x)) for lo_, hi_, x in per.get(d.currency or "", []) if lo_ <= t < hi_), None)
        missing += rate is None
        out.append(d.converted(rate))
    return out, missing


_Part = tuple[str | None, pd.Timestamp, pd.Timestamp, tuple[pd.Timestamp, pd.Timestamp]]


def _parts(data: SalesData, window: Window, period: str | None) -> list[_Part]:
    """The sub-windows walked: the window itself, or its part in each period, each with its
    following period."""
    if period is None:
        return [(None, window.start, window.end,
                 periods.next_window(window.start, window.end, calendar=window.calendar))]
    table = period_frame(data, window, period)
    out: list[_Part] = []
    for rec in table.to_dict("records"):
        ps, pe = rec["period_start"], rec["period_end"]
        out.append((str(rec["period"]), max(ps, window.start), min(pe, window.end),
                    periods.next_window(ps, pe, calendar=window.calendar)))
    return out


# --------------------------------------------------------------------------- stages
def _stage_entries(data: SalesData, keys: list[int]) -> dict[int, tuple[list[int], list[int]]]:
    """Per deal, its open-stage entries in (time, source) order: times and positions."""
    if not keys:
        return {}
    h = data.history_table
    h = h.filter((h.position >= 0) & h.opp_key.isin(keys))
    rows = data.engine.arrow(h.select("opp_key", "entered_at", "seq", "position")
                             .order_by(["opp_key", "entered_at", "seq"])).to_pylist()
    out: dict[int, tuple[list[int], list[int]]] = {}
    for r in rows:
        times, positions = out.setdefault(int(r["opp_key"]), ([], []))
        times.append(int(r["entered_at"]))
        positions.append(int(r["position"]))
    return out


def _stage_before(entries: tuple[list[int], list[int]] | None, t: int) -> int | None:
    """The position of the last open-stage entry before ``t`` (ties: the later in source order)."""
    if entries is None:
        return None
    i = bisect.bisect_left(entries[0], t)
    return entries[1][i - 1] if i else None


@fill_doc
def stage_movement(
    data: SalesData,
    *,
    start: TimeLike = None,
    end: TimeLike = None,
    by: str | None = None,
    calendar: str | None = None,
    pipelines: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Count the deals by their stage at ``start`` and at ``end``: advanced, slipped back, ...

    Over the deals open at some moment of the window (as in :func:`pipeline_movement`):
    the *from* stage is the last open stage entered before ``start`` (``(new)`` for a
    deal created in the window), the *to* stage the last entered before ``end``, or
    ``(won)`` / ``(lost)`` for a deal closed in the window. ``movement`` is ``new``
    (created and still open), ``won``, ``lost``, ``advanced`` (a later stage in funnel
    order), ``slipped back`` (an earlier one), ``unchanged``, or ``unknown`` (no stage
    entry by then: no stage history).

    Parameters
    ----------
    {data}
    start, end : str, date or Timestamp, optional
        The half-open window ``[start, end)`` (see :func:`pipeline_movement`).
    {by_none}
        ``"owner"``: the owner at the end of the deal's part of the window.
    {calendar}
    {pipelines}

    Returns
    -------
    DataFrame
        (The ``by`` column,) ``from_stage``, ``to_stage``, ``movement``, ``count``,
        ``value`` (the amount at the end or at closing; exact sums), in funnel order.
        ``attrs["excluded"]``: ``without_amount`` (counted, no value);
        ``attrs["notes"]``.

    Examples
    --------
    {load_sample}
    >>> t = sn.stage_movement(data, start="1404-07-01", end="1404-08-01")
    >>> sorted(t["movement"].unique())
    ['advanced', 'lost', 'new', 'unchanged', 'unknown', 'won']
    >>> int(t["count"].sum())  # the 300 open at the start and the 129 created in the window
    429
    """
    data = only_pipelines(data, pipelines)
    window = resolve_window(data, start, end, None, calendar)
    by = canonical_by(data, by)
    lo, hi = micros(window.start), micros(window.end)
    deals = _fetch_deals(data, lo, hi, by)
    entries = _stage_entries(data, [d.row for d in deals])
    stages = list(data.settings.stages)
    by_owner = by == "owner"
    counts: dict[tuple[str, int, int, str], list[Any]] = {}
    without_amount = 0
    for d in deals:
        created_in = d.created >= lo
        closed_in = d.closed is not None and d.closed < hi
        exit_t, incl = (d.closed, True) if closed_in else (hi, False)
        assert exit_t is not None
        amount, group, _ = d.state(exit_t, inclusive=incl, by_owner=by_owner)
        src = -1 if created_in else _stage_before(entries.get(d.row), lo)
        dst: int | None
        if closed_in:
            dst = len(stages) if d.status == "won" else len(stages) + 1
        else:
            dst = _stage_before(entries.get(d.row), hi)
        if closed_in:
            movement = "won" if d.status == "won" else "lost"
        elif created_in:
            movement = "new"
        elif src is None or dst is None:
            movement = "unknown"
        else:
            movement = "advanced" if dst > src else "slipped back" if dst < src else "unchanged"
        key = (group if by is not None else TOTAL, -2 if src is None else src, -2 if dst is None else dst, movement)
        slot = counts.setdefault(key, [0, _ZERO])
        slot[0] += 1
        if amount is None:
            without_amount += 1
        else:
            slot[1] = _CONTEXT.add(slot[1], amount)

    def name(pos: int) -> str:
        extra = {-1: NEW, -2: UNKNOWN, len(stages): WON, len(stages) + 1: LOST}
        return extra[pos] if pos in extra else stages[pos]

    ordered = sorted(counts.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2]))
    frame = pd.DataFrame({
        group_column(by): pd.Series([k[0] for k, _ in ordered], dtype="str"),
        "from_stage": pd.Series([name(k[1]) for k, _ in ordered], dtype="str"),
        "to_stage": pd.Series([name(k[2]) for k, _ in ordered], dtype="str"),
        "movement": pd.Series([k[3] for k, _ in ordered], dtype="str"),
        "count": pd.Series([v[0] for _, v in ordered], dtype="int64"),
        "value": pd.Series([float(v[1]) for _, v in ordered], dtype="float64"),
    })
    if by is None:
        frame = frame.drop(columns=["group"])
    notes = [] if data.has_history else ["no stage history: every stage is (unknown)"]
    if data.field_table is None:
        notes.append("no field history: amounts and owners are taken as constant (as they are now)")
    frame.attrs["notes"] = notes
    return with_excluded(frame, without_amount=without_amount)


# --------------------------------------------------------------------------- overdue
@fill_doc
def overdue_deals(
    data: SalesData,
    *,
    as_of: TimeLike = None,
    calendar: str | None = None,
    pipelines: Sequence[str] | None = None,
) -> pd.DataFrame:
    """List the open deals past their expected close date, and those whose date was pushed.

    A deal open at ``as_of`` is *overdue* when its expected close date (as known at
    ``as_of``) is before ``as_of``. A *push* is a change of the expected close date
    (field history, by ``as_of``) to a later date than the one it replaced; the first
    recorded date is not a push.

    Parameters
    ----------
    {data}
    {as_of_moment}
    {calendar}
    {pipelines}

    Returns
    -------
    DataFrame
        The open deals overdue or pushed at least once: ``opportunity_id``, ``owner``,
        ``stage`` (last open stage entered by ``as_of``), ``amount``,
        ``expected_close_at``, ``first_expected_close_at`` (the first recorded date),
        ``overdue``, ``days_overdue`` (NaN when not overdue), ``pushes``. Overdue first,
        most overdue first, then most pushed. ``attrs``: ``as_of``, ``open``, ``notes``,
        ``excluded`` (``no_expected_close``: open deals without a date, not judged).

    Raises
    ------
    DataSchemaError
        The opportunities have no ``expected_close_at`` column.

    Examples
    --------
    >>> import pandas as pd, salesnb as sn
    >>> opps = pd.DataFrame({"opportunity_id": ["a", "b"], "owner": ["Sara", "Ali"],
    ...                      "created_at": ["2025-01-05", "2025-01-06"], "status": ["open", "open"],
    ...                      "closed_at": ["", ""], "expected_close_at": ["2025-02-01", "2025-06-01"]})
    >>> t = sn.overdue_deals(sn.SalesData.from_frames(opps), as_of="2025-03-01")
    >>> t[["opportunity_id", "overdue", "days_overdue"]].values.tolist()
    [['a', True, 28.0]]
    """
    data = only_pipelines(data, pipelines)
    at = resolve_moment(data, as_of, calendar)
    o = data.opportunity_table
    if "expected_close_at" not in o.columns:
        raise DataSchemaError(
            "has no expected_close_at column, so no deal can be overdue", source=data.source,
            column="expected_close_at",
            fix="add the expected close date of open deals as an expected_close_at column "
                "(Salesforce CloseDate, HubSpot closedate, Pipedrive Expected close date)")
    snap = data.at(at)
    us = snap.us
    t = snap.table
    open_ = t.filter(snap.is_open(t))
    cur = snap.current()
    cur = cur.select(_ck=cur.opp_key, _cpos=cur.position)
    j = open_.left_join(cur, open_._row == cur._ck)
    rows = data.engine.arrow(j.select("_row", "opportunity_id", "owner", "amount", "expected_close_at",
                                      "_cpos").order_by("_row")).to_pylist()
    pushes: dict[int, int] = defaultdict(int)
    first: dict[int, int | None] = {}
    f = data.field_table
    if f is not None and rows:
        ch = f.filter((f.field == "expected_close_at") & (f.changed_at <= us) & f.opp_key.isin(open_._row))
        last: dict[int, int | None] = {}
        for c in data.engine.arrow(ch.select("opp_key", "changed_at", "seq", "value_time")
                                   .order_by(["opp_key", "changed_at", "seq"])).to_pylist():
            k, v = int(c["opp_key"]), c["value_time"]
            if k in last and last[k] is not None and v is not None and v > last[k]:
                pushes[k] += 1
            first.setdefault(k, v)
            if v is not None:
                last[k] = v
            else:
                last.setdefault(k, None)
    tz = data.settings.timezone
    stages = list(data.settings.stages)
    records = []
    no_date = 0
    for r in rows:
        k, ecd = int(r["_row"]), r["expected_close_at"]
        if ecd is None:
            no_date += 1
        is_overdue = ecd is not None and ecd < us
        n = pushes.get(k, 0)
        if not is_overdue and n == 0:
            continue
        records.append({
            "opportunity_id": str(r["opportunity_id"]), "owner": r["owner"], "_cpos": r["_cpos"],
            "amount": np.nan if r["amount"] is None else float(r["amount"]),
            "expected_close_at": _stamp(ecd, tz), "first_expected_close_at": _stamp(first.get(k, ecd), tz),
            "overdue": is_overdue,
            "days_overdue": (us - ecd) / 86_400_000_000 if is_overdue and ecd is not None else np.nan,
            "pushes": n})
    frame = pd.DataFrame(records, columns=["opportunity_id", "owner", "_cpos", "amount", "expected_close_at",
                                           "first_expected_close_at", "overdue", "days_overdue", "pushes"])
    frame.insert(2, "stage", label_positions(frame.pop("_cpos").astype("float64"), stages))
    frame = frame.astype({"opportunity_id": "str", "owner": "str", "amount": "float64", "overdue": "bool",
                          "days_overdue": "float64", "pushes": "int64"})
    for c in ("expected_close_at", "first_expected_close_at"):
        frame[c] = pd.to_datetime(frame[c]).dt.tz_convert(tz) if len(frame) else \
            pd.Series(dtype=f"datetime64[us, {tz}]")
    frame["_o"] = frame["days_overdue"].fillna(-1.0)
    frame = frame.sort_values(["overdue", "_o", "pushes", "opportunity_id"],
                              ascending=[False, False, False, True], ignore_index=True).drop(columns="_o")
    frame.attrs["as_of"] = at
    frame.attrs["open"] = len(rows)
    frame.attrs["notes"] = [] if f is not None else [
        "no field history: pushes are unknown (0); expected close dates are as they are now"]
    return with_excluded(frame, no_expected_close=no_date)


def _stamp(us: int | None, tz: str) -> Any:
    if us is None:
        return pd.NaT
    return pd.Timestamp(int(us) * 1000, tz="UTC").tz_convert(tz)

