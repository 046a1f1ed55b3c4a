"""Generate a realistic, seeded synthetic CRM dataset in the canonical layout.

The generator is used for the bundled sample (``data/sample/``), in tests and in
benchmarks. It is fully vectorised (numpy), so a million opportunities take a few
seconds, and it is deterministic: the same arguments give the same tables, and
:func:`write_sample` the same bytes.

Shape
-----
``make_sample()`` (``n=2000, seed=1, end="2025-11-21", years=2.0``) returns:

``opportunities`` -- 2,000 rows, one per opportunity, ordered by ``created_at``:

===============  ==============  ====================================================
column           dtype           content
===============  ==============  ====================================================
opportunity_id   str             ``OPP-000001`` ... in order of creation
owner            str             10 salespeople, 5 with Persian names in Persian
                                 script (``سارا محمدی`` ...), 5 with Latin names
team             str             ``Tehran``, ``Isfahan``, ``Enterprise``
created_at       datetime64[us]  naive local time (Asia/Tehran); working hours,
                                 few on Fridays and public holidays
status           str             ``open`` / ``won`` / ``lost``; about 1% capitalised
                                 (``Won``) to exercise case-insensitive loading
closed_at        datetime64[us]  empty (NaT) for open deals, else > ``created_at``
amount           Int64           Rial, log-normal from 50 million to 50 billion,
                                 rounded to 100,000; about 3% empty
stage            str             open: current stage; lost: the stage where it was
                                 lost; won: empty
lost_reason      str             lost only: price, competitor, no budget, no decision,
                                 timing, lost contact (mix depends on the stage);
                                 about 10% of lost deals have none
account          str             about 120 companies, Persian and Latin names, a few
                                 large accounts hold many deals
product          str             five products with different price levels
source           str             six lead sources with different win rates
currency         str             ``IRR``
===============  ==============  ====================================================

Counts for the default arguments (they change with ``n``, ``seed``, ``end`` and
``years``, and with this module's version):

* status: 1,192 lost, 467 won (28.1% of closed), 341 open (17.1%), of them 57
  created more than a year before ``end``; 22 statuses capitalised;
* 44 empty amounts; 113 lost deals without a reason; 11 deals created on a Friday;
* ``stage_history``: 6,271 rows (1,943 lead, 1,311 qualified, 949 proposal,
  667 negotiation, 403 won, 998 lost); 92 opportunities without history;
  105 skips, 123 steps back, 41 ties; 182 closed deals with history but no
  terminal row.

``stage_history`` -- one row per stage entry, columns ``opportunity_id, stage,
entered_at``, ordered by opportunity and then in the order the entries happened
(ties keep that order). What is deliberately in it:

* the first entry of an opportunity is ``lead`` at exactly its ``created_at``;
* skipped stages (``lead -> proposal``), about 8% of intermediate entries;
* regressions (``proposal -> qualified -> proposal``);
* terminal rows (``won`` / ``lost`` at ``closed_at``) for most closed deals, absent
  for about 12% of them;
* about 5% of opportunities have no history at all;
* a few ties in ``entered_at`` (stages passed in the same minute);
* entries are never before ``created_at``, never after ``closed_at`` (nor after
  ``end``), and an open deal's last entry is its current ``stage``.

``settings`` -- the content of ``funnel.yml``: stages ``lead, qualified, proposal,
negotiation``; ``won``/``lost`` labels; ``timezone: Asia/Tehran``; ``currency: IRR``;
``calendar: jalali``; ``week_start: saturday``; ``weekend: [friday]`` and the
Iranian public holidays fixed in the Solar Hijri calendar that fall in the data span
(Nowruz 1-4 Farvardin, 12 and 13 Farvardin, 14 and 15 Khordad, 22 Bahman,
29 Esfand) as :class:`datetime.date` objects, exactly as ``yaml.safe_load`` reads
them back. The lunar (Islamic) holidays move every year and are left out.

What the data is made to show
-----------------------------
* Salespeople differ in skill (win rate) and speed (time in stage); one of them,
  ``نگار حسینی``, joined 45 days before ``end`` and holds only a few open deals.
* Larger deals win less often and take longer, clearly: compare the top and bottom
  quartiles of ``amount``.
* Deal flow grows over time, dips at Nowruz, and follows the Iranian working week
  (Saturday to Wednesday, Thursday morning, Friday off).
* Some open deals are old: they got stuck in a stage.
* Stage changes happen in working hours, so business-day cycle lengths are meaningful.

All timestamps are strictly before ``end``: the data is a snapshot taken at ``end``,
and a report with ``end`` as its window end (or ``as_of``) sees all of it.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, NamedTuple

import jdatetime
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pandas.api.extensions import ExtensionArray

from salesnb._options import check_option

__all__ = ["SampleTables", "make_field_history", "make_sample", "write_sample"]

#: The open stages of the sample funnel, in order.
STAGES: tuple[str, ...] = ("lead", "qualified", "proposal", "negotiation")
WON = "won"
LOST = "lost"

OPPORTUNITY_COLUMNS: tuple[str, ...] = (
    "opportunity_id",
    "owner",
    "team",
    "created_at",
    "status",
    "closed_at",
    "amount",
    "stage",
    "lost_reason",
    "account",
    "product",
    "source",
    "currency",
)
HISTORY_COLUMNS: tuple[str, ...] = ("opportunity_id", "stage", "entered_at")

#: The table formats :func:`write_sample` writes.
SAMPLE_FORMATS = ("csv", "parquet")
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S"
_MIN_PER_DAY = 1440
_BDAY = 540  # minutes in a full business day (08:00-17:00)


class SampleTables(NamedTuple):
    """The three parts of a sample dataset.

    Attributes
    ----------
    opportunities : pandas.DataFrame
        One row per opportunity, columns as in the canonical layout.
    stage_history : pandas.DataFrame
        One row per stage entry: ``opportunity_id, stage, entered_at``.
    settings : dict
        The content of ``funnel.yml``.
    """

    opportunities: pd.DataFrame
    stage_history: pd.DataFrame
    settings: dict[str, Any]


# --------------------------------------------------------------------------------------
# The cast: salespeople, products, sources, accounts
# --------------------------------------------------------------------------------------


class _Owner(NamedTuple):
    name: str
    team: str
    skill: float  # added to the per-stage log-odds of advancing
    speed: float  # multiplies time in stage (below 1: faster)
    weight: float  # relative deal flow per day while active
    joined_days_before_end: float | None  # None: active over the whole span


_OWNERS: tuple[_Owner, ...] = (
    _Owner("سارا محمدی", "Tehran", 0.40, 0.80, 1.20, None),
    _Owner("علی رضایی", "Tehran", 0.00, 1.00, 1.00, None),
    _Owner("Arash Karimi", "Tehran", -0.30, 1.25, 1.10, None),
    _Owner("نگار حسینی", "Tehran", -0.10, 1.10, 0.45, 45.0),
    _Owner("مریم احمدی", "Isfahan", 0.20, 0.90, 0.90, None),
    _Owner("Neda Rahimi", "Isfahan", -0.10, 1.10, 1.00, None),
    _Owner("Omid Farahani", "Isfahan", -0.40, 1.35, 0.80, None),
    _Owner("رضا کریمی", "Enterprise", 0.15, 1.00, 0.70, None),
    _Owner("Leila Nazari", "Enterprise", 0.30, 0.85, 0.70, None),
    _Owner("Babak Sadeghi", "Enterprise", -0.15, 1.20, 0.60, None),
)
#: log10 offset of deal size per team.
_TEAM_SIZE = {"Tehran": 0.0, "Isfahan": -0.15, "Enterprise": 0.45}

# name, share, log10 price offset, skill offset
_PRODUCTS: tuple[tuple[str, float, float, float], ...] = (
    ("CRM Suite", 0.30, 0.10, 0.00),
    ("Analytics", 0.20, 0.00, -0.05),
    ("Support Plan", 0.20, -0.35, 0.20),
    ("Training", 0.15, -0.55, 0.15),
    ("ERP Integration", 0.15, 0.55, -0.10),
)
# name, share, skill offset
_SOURCES: tuple[tuple[str, float, float], ...] = (
    ("website", 0.28, 0.00),
    ("referral", 0.17, 0.35),
    ("cold call", 0.15, -0.35),
    ("exhibition", 0.12, 0.05),
    ("partner", 0.13, 0.20),
    ("email campaign", 0.15, -0.15),
)
_ACCOUNT_STEMS_FA = (
    "پارس", "آریا", "نوین", "سپهر", "البرز", "کاوه", "دنا", "تابان",
    "مهر", "آسمان", "زاگرس", "خلیج فارس",
)  # fmt: skip
_ACCOUNT_KINDS_FA = ("صنعت", "تجارت", "فناوری", "گستر", "پخش")
_ACCOUNT_STEMS_EN = (
    "Pars", "Arya", "Novin", "Sepehr", "Alborz", "Kaveh", "Dena", "Taban",
    "Mehr", "Zagros",
)  # fmt: skip
_ACCOUNT_KINDS_EN = ("Steel", "Trading", "Tech", "Foods", "Logistics", "Pharma")

_LOST_REASONS = ("price", "competitor", "no budget", "no decision", "timing", "lost contact")
#: Lost-reason mix per stage where the deal was lost (rows: lead..negotiation).
_LOST_MIX = np.array(
    [
        [0.05, 0.10, 0.30, 0.05, 0.20, 0.30],
        [0.10, 0.20, 0.25, 0.10, 0.20, 0.15],
        [0.35, 0.30, 0.10, 0.15, 0.05, 0.05],
        [0.40, 0.30, 0.05, 0.20, 0.03, 0.02],
    ]
)
#: Lost-reason mix of deals that were stuck before they were lost.
_LOST_MIX_STUCK = np.array([0.02, 0.05, 0.08, 0.45, 0.10, 0.30])

#: Base log-odds of advancing past each open stage (the last: of winning).
_ADVANCE_LOGIT = np.array([0.70, 1.05, 0.85, 1.25])
#: Change of those log-odds per order of magnitude of the amount above the median.
_ADVANCE_PER_DECADE = -0.45
#: Median business days in each stage, and the log-normal spread.
_STAGE_DAYS = np.array([4.0, 9.0, 13.0, 10.0])
_STAGE_SIGMA = 0.85
#: Time in stage grows by this power of the amount ratio (10x amount -> 2x time).
_DURATION_PER_DECADE = 0.30
_MEDIAN_LOG10_AMOUNT = 9.1

# weekday() numbering: Monday=0 ... Saturday=5, Sunday=6.
_WEEKDAY_WEIGHT = np.array([1.05, 1.00, 0.95, 0.50, 0.04, 1.00, 1.05])
_OPEN_MINUTE = 8 * 60
_THURSDAY, _FRIDAY = 3, 4


def _hour_weights() -> dict[str, np.ndarray]:
    """Return the creation-hour profile of regular days, Thursdays and days off."""
    regular = np.full(24, 0.02)
    regular[8:17] = [0.5, 0.9, 1.0, 1.0, 0.6, 0.5, 0.9, 0.9, 0.6]
    regular[17:20] = [0.15, 0.08, 0.04]
    thursday = np.full(24, 0.02)
    thursday[8:13] = [0.6, 1.0, 1.0, 0.8, 0.4]
    thursday[13:16] = [0.1, 0.05, 0.03]
    off = np.zeros(24)
    off[9:23] = 1.0
    return {"regular": regular, "thursday": thursday, "off": off}


# --------------------------------------------------------------------------------------
# Calendar
# --------------------------------------------------------------------------------------


def _solar_holidays(first: dt.date, last: dt.date) -> list[tuple[dt.date, str]]:
    """List the Iranian public holidays fixed in the Solar Hijri calendar in a span.

    Parameters
    ----------
    first, last : datetime.date
        The span, both ends included.

    Returns
    -------
    list of (datetime.date, str)
        Gregorian date and a label, in date order.
    """
    fixed = (
        (1, 1, "Nowruz"),
        (1, 2, "Nowruz"),
        (1, 3, "Nowruz"),
        (1, 4, "Nowruz"),
        (1, 12, "Islamic Republic Day"),
        (1, 13, "Sizdah Bedar (Nature Day)"),
        (3, 14, "Death of Khomeini"),
        (3, 15, "15 Khordad uprising"),
        (11, 22, "Revolution Day"),
        (12, 29, "Oil Nationalisation Day"),
    )
    out = []
    for jyear in range(jdatetime.date.fromgregorian(date=first).year - 1, last.year - 620):
        for month, day, label in fixed:
            greg = jdatetime.date(jyear, month, day).togregorian()
            if first <= greg <= last:
                out.append((greg, f"{label} ({day} {_JALALI_MONTHS[month - 1]} {jyear})"))
    return sorted(out)


_JALALI_MONTHS = (
    "Farvardin", "Ordibehesht", "Khordad", "Tir", "Mordad", "Shahrivar",
    "Mehr", "Aban", "Azar", "Dey", "Bahman", "Esfand",
)  # fmt: skip


def _nowruz_break(first: dt.date, last: dt.date) -> set[dt.date]:
    """Return the days of the Nowruz break (1-13 Farvardin) in a span."""
    days: set[dt.date] = set()
    for jyear in range(jdatetime.date.fromgregorian(date=first).year - 1, last.year - 620):
        start = jdatetime.date(jyear, 1, 1).togregorian()
        days.update(start + dt.timedelta(days=i) for i in range(13))
    return {d for d in days if first <= d <= last}


class _Clock:
    """Business-minute clock from a first day up to an end minute: working time only.

    Business minute ``b`` counts the working minutes since the first day's opening.
    Sat-Wed are open 08:00-17:00, Thursday 08:00-13:00, Friday and holidays closed.
    The clock stops at ``end`` (minutes since 1970): every business minute below
    ``total`` is a wall-clock minute strictly before ``end``.
    """

    def __init__(self, first: dt.date, end: int, holidays: set[dt.date]):
        ndays = (pd.Timestamp(end - 1, unit="m").date() - first).days + 1
        self.epoch_day = (first - dt.date(1970, 1, 1)).days
        days = [first + dt.timedelta(days=i) for i in range(ndays)]
        weekday = np.array([d.weekday() for d in days])
        length = np.where(weekday == _THURSDAY, 300, _BDAY)
        length[weekday == _FRIDAY] = 0
        length[np.array([d in holidays for d in days], dtype=bool)] = 0
        self.weekday = weekday
        self.length = length.astype(np.int64)
        self.cum = np.concatenate([[0], np.cumsum(self.length)])
        self.day_start = (self.epoch_day + np.arange(ndays, dtype=np.int64)) * _MIN_PER_DAY
        # Working minutes strictly before `end`, which falls on the last day or at its end.
        into_last = end - self.day_start[-1] - _OPEN_MINUTE
        self.total = int(self.cum[-2] + np.clip(into_last, 0, self.length[-1]))

    def to_business(self, wall: np.ndarray) -> np.ndarray:
        """Map wall-clock minutes (before ``end``) to the first business minute at or after."""
        day = (wall - self.day_start[0]) // _MIN_PER_DAY
        offset = wall - self.day_start[day] - _OPEN_MINUTE
        return self.cum[day] + np.clip(offset, 0, self.length[day])

    def to_wall(self, business: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Map business minutes to wall-clock minutes; also say which are at or past ``end``."""
        beyond = business >= self.total
        b = np.where(beyond, 0, business)
        day = np.searchsorted(self.cum, b, side="right") - 1
        wall = self.day_start[day] + _OPEN_MINUTE + (b - self.cum[day])
        return wall, beyond


# --------------------------------------------------------------------------------------
# The generator
# --------------------------------------------------------------------------------------


def _pick(rng: np.random.Generator, p: np.ndarray, size: int) -> np.ndarray:
    """Draw ``size`` category codes with probabilities ``p``."""
    cdf = np.cumsum(p / p.sum())
    return np.minimum(np.searchsorted(cdf, rng.random(size), side="right"), len(p) - 1)


def _pick_rows(rng: np.random.Generator, table: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Draw one category code per element, from the distribution ``table[rows]``."""
    cdf = np.cumsum(table / table.sum(axis=1, keepdims=True), axis=1)[rows]
    codes = (rng.random(len(rows))[:, None] >= cdf).sum(axis=1)
    return np.minimum(codes, table.shape[1] - 1)


def _strings(
    labels: Sequence[str] | pa.Array, codes: np.ndarray, missing: np.ndarray | None = None
) -> ExtensionArray:
    """Build a ``str`` column: ``labels[codes]``, with ``missing`` rows as NaN.

    Goes through an Arrow dictionary array, which is much faster than Python
    strings for millions of rows.
    """
    indices = pa.array(codes.astype(np.int32), mask=missing)
    dictionary = labels if isinstance(labels, pa.Array) else pa.array(list(labels), pa.string())
    values = pa.DictionaryArray.from_arrays(indices, dictionary).cast(pa.large_string())
    return pd.array(values, dtype="str")


def _opportunity_ids(n: int) -> pa.Array:
    """Return ``OPP-000001`` ... ``OPP-{n}``, zero-padded to at least six digits."""
    width = max(6, len(str(n)))
    digits = pc.utf8_lpad(pc.cast(pa.array(np.arange(1, n + 1)), pa.string()), width, "0")
    return pc.binary_join_element_wise("OPP-", digits, "")


def _minutes_to_datetime(minutes: np.ndarray) -> np.ndarray:
    """Convert minutes since 1970 (``-1`` for missing) to ``datetime64[us]``."""
    out = (minutes * 60_000_000).astype("datetime64[us]")
    out[minutes < 0] = np.datetime64("NaT")
    return out


def _accounts() -> tuple[list[str], np.ndarray, np.ndarray]:
    """Return account names, their share of deals (Zipf-like) and log10 size offsets."""
    names = [f"{s} {k}" for s in _ACCOUNT_STEMS_FA for k in _ACCOUNT_KINDS_FA]
    names += [f"{s} {k} Co." for s in _ACCOUNT_STEMS_EN for k in _ACCOUNT_KINDS_EN]
    # A fixed, seed-independent shuffle, so that large accounts come in both scripts.
    order = np.random.default_rng(20251121).permutation(len(names))
    labels = [names[i] for i in order]
    rank = np.arange(1, len(labels) + 1)
    share = 1.0 / rank**0.6
    size = np.random.default_rng(1404).normal(0.0, 0.25, len(labels)) + 0.25 * (rank < 10)
    return labels, share, size


class _Span(NamedTuple):
    """The calendar of a sample: business clock, creation-day weights, holidays, end."""

    clock: _Clock
    day_weight: np.ndarray
    holidays: list[tuple[dt.date, str]]
    end_cut: int  # minutes since 1970; every timestamp is strictly before it


def _span(end: pd.Timestamp, years: float) -> _Span:
    """Lay out the days of the sample, their working hours and their deal flow."""
    end_cut = -(-end.value // 60_000_000_000)
    first = (end - pd.Timedelta(days=round(years * 365.25))).date()
    last = pd.Timestamp(end_cut - 1, unit="m").date()
    holidays = _solar_holidays(first, last)
    holiday_set = {d for d, _ in holidays}
    nowruz = _nowruz_break(first, last)
    clock = _Clock(first, end_cut, holiday_set)
    ndays = len(clock.day_start)
    days = [first + dt.timedelta(days=i) for i in range(ndays)]
    weight = _WEEKDAY_WEIGHT[clock.weekday].copy()
    weight *= np.where([d in nowruz for d in days], 0.3, 1.0)
    weight *= np.where([d in holiday_set for d in days], 0.05 / 0.3, 1.0)
    weight *= np.linspace(0.7, 1.3, ndays)  # the business grows
    return _Span(clock, weight, holidays, end_cut)


def _creations(rng: np.random.Generator, n: int, span: _Span) -> tuple[np.ndarray, np.ndarray]:
    """Draw the owner and creation minute of each deal, in order of creation."""
    clock, ndays = span.clock, len(span.day_weight)
    cw = np.cumsum(span.day_weight)
    join = np.array(
        [
            0
            if o.joined_days_before_end is None
            else max(0, ndays - round(o.joined_days_before_end))
            for o in _OWNERS
        ]
    )
    lo = np.where(join > 0, cw[np.maximum(join - 1, 0)], 0.0)
    owner = _pick(rng, np.array([o.weight for o in _OWNERS]) * (cw[-1] - lo), n)
    u = lo[owner] + rng.random(n) * (cw[-1] - lo[owner])
    day = np.minimum(np.searchsorted(cw, u, side="right"), ndays - 1)

    kind = np.where(clock.length[day] == 0, 2, np.where(clock.weekday[day] == _THURSDAY, 1, 0))
    hour = np.empty(n, dtype=np.int64)
    for k, profile in enumerate(_hour_weights().values()):
        mask = kind == k
        hour[mask] = _pick(rng, profile, int(mask.sum()))
    created = clock.day_start[day] + hour * 60 + rng.integers(0, 60, n)
    created = np.minimum(created, span.end_cut - 1)
    order = np.lexsort((np.arange(n), created))
    return owner[order], created[order]


def _durations(
    rng: np.random.Generator,
    owner: np.ndarray,
    decades: np.ndarray,
    won: np.ndarray,
    final: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw the business minutes spent in each stage (n x 4) and which deals got stuck."""
    n = len(owner)
    rows = np.arange(n)
    pace = np.array([o.speed for o in _OWNERS])[owner] * 10.0 ** (_DURATION_PER_DECADE * decades)
    dur = np.exp(rng.normal(0.0, _STAGE_SIGMA, (n, 4)))
    dur *= pace[:, None]
    dur *= _STAGE_DAYS[None, :] * _BDAY
    # Many losses come before the stage's usual length.
    lost_early = ~won & (rng.random(n) < 0.5)
    dur[rows, final] *= np.where(lost_early, rng.uniform(0.2, 1.0, n), 1.0)
    # Stuck deals stall in their last stage; large deals stall more often.
    stuck = rng.random(n) < np.clip(0.19 + 0.10 * decades, 0.05, 0.4)
    dur[rows, final] += np.where(stuck, rng.exponential(360.0 * _BDAY, n), 0.0)
    minutes = np.round(dur).astype(np.int64)
    del dur
    # A few stages passed in the same minute (ties), never the last one.
    zero = (rng.random((n, 4)) < 0.015) & (np.arange(4)[None, :] < final[:, None])
    minutes[zero] = 0
    minutes[rows, final] = np.maximum(minutes[rows, final], 60)
    return minutes, stuck


def _history(
    rng: np.random.Generator,
    span: _Span,
    created: np.ndarray,
    dur: np.ndarray,
    final: np.ndarray,
    won: np.ndarray,
    closed: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Build the stage history and each deal's current stage at ``end``.

    The full path of each deal is laid out in business minutes, cut at ``end``,
    and then thinned: skipped stages, missing terminal rows, deals with no history.

    Returns
    -------
    opp, stage, time : numpy.ndarray
        The history rows in output order: deal index, stage code (0-3 the open
        stages, 4 won, 5 lost) and wall-clock minute.
    current : numpy.ndarray
        The stage code of the last open-stage entry of each deal before ``end``.
    """
    n = len(created)
    clock = span.clock
    entry = clock.to_business(created)[:, None] + np.concatenate(
        [np.zeros((n, 1), dtype=np.int64), np.cumsum(dur[:, :3], axis=1)], axis=1
    )
    reg = (rng.random((n, 4)) < np.array([0.0, 0.02, 0.06, 0.05])) & (dur >= 2 * _BDAY)
    reg &= np.arange(4)[None, :] <= final[:, None]

    # seq 3s: enter stage s; 3s+1 and 3s+2: back to s-1, then into s again
    # (a regression, inside the visit of s); 12: the terminal row.
    parts: list[tuple[np.ndarray, int, int, np.ndarray]] = []

    def add(idx: np.ndarray, seq: int, stage: int, business: np.ndarray | None) -> None:
        if business is None:  # the first entry: exactly at created_at
            wall = created[idx]
        else:
            wall, beyond = clock.to_wall(business)
            keep = ~beyond
            idx, wall = idx[keep], wall[keep]
        parts.append((idx, seq, stage, wall))

    for s in range(4):
        idx = np.flatnonzero(final >= s)
        add(idx, 3 * s, s, None if s == 0 else entry[idx, s])
        idx = np.flatnonzero(reg[:, s])
        if len(idx):
            back = entry[idx, s] + np.floor(dur[idx, s] * rng.uniform(0.15, 0.45, len(idx)))
            again = back + np.floor(dur[idx, s] * rng.uniform(0.15, 0.45, len(idx)))
            add(idx, 3 * s + 1, s - 1, back.astype(np.int64))
            add(idx, 3 * s + 2, s, again.astype(np.int64))
    idx = np.flatnonzero(closed)
    add(idx, 12, 4, entry[idx, final[idx]] + dur[idx, final[idx]])
    del entry

    opp = np.concatenate([p[0] for p in parts]).astype(np.int32)
    seq = np.concatenate([np.full(len(p[0]), p[1], dtype=np.int8) for p in parts])
    stage = np.concatenate([np.full(len(p[0]), p[2], dtype=np.int8) for p in parts])
    time = np.concatenate([p[3] for p in parts])
    parts.clear()
    terminal = seq == 12
    stage[terminal] = np.where(won[opp[terminal]], 4, 5)

    # The current open stage: the last open-stage entry known at `end`.
    last_seq = np.full(n, -1, dtype=np.int8)
    np.maximum.at(last_seq, opp[~terminal], seq[~terminal])
    is_last = seq == last_seq[opp]
    current = np.zeros(n, dtype=np.int8)
    current[opp[is_last]] = stage[is_last]

    # Thin out: skipped stages (an intermediate entry never recorded, away from any
    # regression), terminal rows not recorded, deals with no history at all.
    s_of = np.minimum(seq // 3, 3)
    plain = (seq % 3 == 0) & (seq > 0) & ~terminal & ~is_last
    plain &= ~reg[opp, s_of] & ~(reg[opp, np.minimum(s_of + 1, 3)] & (s_of < 3))
    drop = plain & (rng.random(len(seq)) < 0.08)
    drop |= terminal & (rng.random(len(seq)) < 0.12)
    drop |= (rng.random(n) < 0.05)[opp]
    keep = np.flatnonzero(~drop)
    order = keep[np.lexsort((seq[keep], opp[keep]))]
    return opp[order], stage[order], time[order], current


def make_sample(
    n: int = 2000,
    *,
    seed: int = 1,
    end: str = "2025-11-21",
    years: float = 2.0,
) -> SampleTables:
    """Generate a synthetic CRM dataset in the canonical layout.

    Parameters
    ----------
    n : int, default 2000
        Number of opportunities.
    seed : int, default 1
        Seed of the random generator; the same arguments give the same tables.
    end : str, default "2025-11-21"
        The moment the snapshot is taken (naive local time, Asia/Tehran). Every
        timestamp in the data is strictly before it; a date alone means midnight.
    years : float, default 2.0
        Length of the span before ``end`` over which opportunities are created.

    Returns
    -------
    SampleTables
        ``opportunities``, ``stage_history`` and ``settings`` (the ``funnel.yml``
        content). The module docstring documents their shape.

    Raises
    ------
    ValueError
        If ``n`` is not a positive integer, ``years`` is not positive or ``end`` is
        not a timestamp.

    Examples
    --------
    >>> from salesnb.data.sample import make_sample
    >>> opps, history, settings = make_sample(500, seed=7)
    >>> len(opps), list(history.columns)
    (500, ['opportunity_id', 'stage', 'entered_at'])
    >>> settings["stages"]
    ['lead', 'qualified', 'proposal', 'negotiation']
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    if not years > 0:
        raise ValueError(f"years must be positive, got {years!r}")
    try:
        end_ts = pd.Timestamp(end)
    except (TypeError, ValueError) as err:
        raise ValueError(f"end must be a timestamp such as '2025-11-21', got {end!r}") from err
    if end_ts.tzinfo is not None:
        raise ValueError(f"end must be naive local time (Asia/Tehran), got {end!r}")
    n = int(n)
    rng = np.random.default_rng(seed)
    span = _span(end_ts, years)
    owner, created = _creations(rng, n, span)

    # Breakdowns and amount.
    teams = list(dict.fromkeys(o.team for o in _OWNERS))
    team = np.array([teams.index(o.team) for o in _OWNERS])[owner]
    product = _pick(rng, np.array([p[1] for p in _PRODUCTS]), n)
    source = _pick(rng, np.array([s[1] for s in _SOURCES]), n)
    accounts, account_share, account_size = _accounts()
    account = _pick(rng, account_share, n)
    log10_amount = (
        _MEDIAN_LOG10_AMOUNT
        + np.array([_TEAM_SIZE[t] for t in teams])[team]
        + np.array([p[2] for p in _PRODUCTS])[product]
        + account_size[account]
        + rng.normal(0.0, 0.42, n)
    )
    log10_amount = np.clip(log10_amount, np.log10(5e7), np.log10(5e10))
    amount = np.round(10.0 ** (log10_amount - 5)).astype(np.int64) * 100_000
    decades = log10_amount - _MEDIAN_LOG10_AMOUNT

    # Outcome: walk the funnel; `final` is the last open stage visited.
    shift = (
        np.array([o.skill for o in _OWNERS])[owner]
        + np.array([p[3] for p in _PRODUCTS])[product]
        + np.array([s[2] for s in _SOURCES])[source]
        + _ADVANCE_PER_DECADE * decades
    )
    p_advance = 1.0 / (1.0 + np.exp(-(_ADVANCE_LOGIT[None, :] + shift[:, None])))
    advance = rng.random((n, 4)) < p_advance
    del p_advance
    won = advance.all(axis=1)
    final = np.where(won, 3, np.argmin(advance, axis=1))
    del advance

    # Timing: closed if the outcome came before `end`.
    dur, stuck = _durations(rng, owner, decades, won, final)
    rows = np.arange(n)
    close_b = span.clock.to_business(created) + dur[rows, :4].cumsum(axis=1)[rows, final]
    close_wall, beyond = span.clock.to_wall(close_b)
    closed = ~beyond
    h_opp, h_stage, h_time, current = _history(rng, span, created, dur, final, won, closed)
    del dur

    # Labels.
    status = np.where(closed, np.where(won, 1, 2), 0) + 3 * (rng.random(n) < 0.01)
    lost = closed & ~won
    reason = _pick_rows(rng, np.vstack([_LOST_MIX, _LOST_MIX_STUCK]), np.where(stuck, 4, final))
    reason_missing = ~lost | (rng.random(n) < 0.10)
    amount_missing = rng.random(n) < 0.03
    ids = _opportunity_ids(n)
    stage_labels = [*STAGES, WON, LOST]

    opportunities = pd.DataFrame(
        {
            "opportunity_id": _strings(ids, rows),
            "owner": _strings([o.name for o in _OWNERS], owner),
            "team": _strings(teams, team),
            "created_at": _minutes_to_datetime(created),
            "status": _strings(["open", "won", "lost", "Open", "Won", "Lost"], status),
            "closed_at": _minutes_to_datetime(np.where(closed, close_wall, -1)),
            "amount": pd.arrays.IntegerArray(amount, amount_missing),
            "stage": _strings(stage_labels, np.where(closed, final, current), closed & won),
            "lost_reason": _strings(_LOST_REASONS, reason, reason_missing),
            "account": _strings(accounts, account),
            "product": _strings([p[0] for p in _PRODUCTS], product),
            "source": _strings([s[0] for s in _SOURCES], source),
            "currency": _strings(["IRR"], np.zeros(n, dtype=np.int8)),
        },
        columns=list(OPPORTUNITY_COLUMNS),
    )
    stage_history = pd.DataFrame(
        {
            "opportunity_id": _strings(ids, h_opp),
            "stage": _strings(stage_labels, h_stage),
            "entered_at": _minutes_to_datetime(h_time),
        },
        columns=list(HISTORY_COLUMNS),
    )
    settings: dict[str, Any] = {
        "stages": list(STAGES),
        "won": WON,
        "lost": LOST,
        "timezone": "Asia/Tehran",
        "currency": "IRR",
        "calendar": "jalali",
        "week_start": "saturday",
        "weekend": ["friday"],
        "holidays": [d for d, _ in span.holidays],
    }
    return SampleTables(opportunities, stage_history, settings)


#: The columns of the field history the generator writes (the canonical layout's).
FIELD_HISTORY_COLUMNS: tuple[str, ...] = ("opportunity_id", "field", "value", "changed_at")
_DAY_MIN = 1440


def make_field_history(tables: SampleTables, *, seed: int = 1,
                       end: str = "2025-11-21") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Add expected close dates and a field history to a sample: pushes, amount changes and
    reassigned owners, as a CRM records them.

    Drawn from a generator of its own (seeded with ``seed``), so the tables it is given
    are not changed. Returns the opportunities with a last column ``expected_close_at``
    (the current expected close date of each open deal, a date; empty for closed deals,
    whose dates while open stay in the history) and the field history: what a field
    held from ``changed_at`` on (``opportunity_id, field, value, changed_at``):

    * ``expected_close_at`` for every deal: the date planned at creation (15 to 240 days
      ahead, a log-normal around 45), then each change. When the planned date comes
      while the deal is open, its owner usually (3 in 4) moves it between a week before
      and ten days after: out by 2 to 9 weeks, or, one time in ten, in (an earlier date,
      at least 3 days ahead). Up to four moves; deals left past their date are overdue.
    * ``amount`` for about 18% of the deals with an amount: the amount at creation
      (between 0.6 and 1.6 times today's, rounded to 100,000) and the change to today's
      amount while the deal was open; a quarter of them changed twice (through a third
      amount).
    * ``owner`` for about 4%: an earlier owner of the same team at creation (one who had
      joined by then), and the reassignment to today's owner while the deal was open.

    Every change is strictly after ``created_at``, before ``closed_at`` for closed deals
    and before ``end``; the latest value of each field is the opportunity's own.

    Examples
    --------
    >>> from salesnb.data.sample import make_field_history, make_sample
    >>> opps, fields = make_field_history(make_sample(300, seed=2), seed=2)
    >>> list(opps.columns[-1:]), list(fields.columns)
    (['expected_close_at'], ['opportunity_id', 'field', 'value', 'changed_at'])
    >>> sorted(fields["field"].unique())
    ['amount', 'expected_close_at', 'owner']
    """
    opps = tables.opportunities
    n = len(opps)
    rng = np.random.default_rng([int(seed), 15])  # its own stream: make_sample's draws stay
    end_cut = -(-pd.Timestamp(end).value // 60_000_000_000)
    created = opps["created_at"].to_numpy("datetime64[m]").astype(np.int64)
    closed_at = opps["closed_at"].to_numpy("datetime64[m]")
    is_closed = ~np.isnat(closed_at)
    closed = np.where(is_closed, closed_at.astype(np.int64), end_cut)
    # The last minute a change can happen: before the closing (or the snapshot).
    last = closed - 1

    def moment(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """A minute in [lo, hi] during office hours (08:00-17:00), clipped into the range."""
        day = lo + (rng.random(len(lo)) * np.maximum(hi - lo, 0)).astype(np.int64)
        at = day - day % _DAY_MIN + 480 + rng.integers(0, 540, len(lo))
        return np.clip(at, lo, hi)

    def midnight(minutes: np.ndarray) -> np.ndarray:
        return minutes - minutes % _DAY_MIN

    rows: list[tuple[np.ndarray, str, np.ndarray, np.ndarray]] = []  # (deal, field, value, minute)

    # Expected close dates: planned at creation, then moved when the date comes.
    ahead = np.clip(np.exp(rng.normal(np.log(45.0), 0.55, n)), 15, 240).astype(np.int64)
    plan = midnight(created) + ahead * _DAY_MIN
    rows.append((np.arange(n), "expected_close_at", plan.copy(), created.copy()))
    since = created.copy()  # each move after the one before
    for _ in range(4):
        when = plan + rng.integers(-7, 11, n) * _DAY_MIN + 480 + rng.integers(0, 540, n)
        when = np.maximum(when, since + 60)
        moves = (plan - 7 * _DAY_MIN < last) & (when <= last) & (rng.random(n) < 0.75)
        earlier = rng.random(n) < 0.10
        out = plan + rng.integers(14, 64, n) * _DAY_MIN
        back = np.maximum(midnight(when) + 3 * _DAY_MIN, plan - rng.integers(7, 22, n) * _DAY_MIN)
        new = np.where(earlier & (back < plan), back, np.maximum(out, midnight(when) + 7 * _DAY_MIN))
        k = np.flatnonzero(moves)
        if not len(k):
            break
        rows.append((k, "expected_close_at", new[k], when[k]))
        plan = np.where(moves, new, plan)
        since = np.where(moves, when, since)
    plan_now = plan

    # Amounts changed while open (today's amount is the last value).
    amount = opps["amount"].to_numpy(dtype="float64", na_value=np.nan)
    open_long = last - created > 2 * _DAY_MIN
    changed = np.flatnonzero(~np.isnan(amount) & open_long & (rng.random(n) < 0.18))
    twice = rng.random(len(changed)) < 0.25

    def earlier_amount(now: np.ndarray) -> np.ndarray:
        factor = np.clip(np.exp(rng.normal(0.0, 0.25, len(now))), 0.6, 1.6)
        before = np.maximum(np.round(now / factor / 100_000.0), 1.0) * 100_000.0
        return np.where(before == now, now + 100_000.0, before)

    now = amount[changed]
    first = earlier_amount(now)
    mid = np.where(twice, earlier_amount(now), now)
    t1 = moment(created[changed] + 1, last[changed])
    t2 = moment(t1 + 1, np.maximum(last[changed], t1 + 1))
    two = twice & (t2 <= last[changed]) & (t2 > t1)
    rows.append((changed, "amount", first, created[changed]))
    rows.append((changed, "amount", np.where(two, mid, now), t1))
    rows.append((changed[two], "amount", now[two], t2[two]))

    # Owners reassigned within their team while the deal was open.
    owner = opps["owner"].to_numpy(dtype=object)
    team = opps["team"].to_numpy(dtype=object)
    mates = {t: sorted(set(owner[team == t])) for t in set(team)}
    # A deal's earlier owner worked here when it was created (not a later hire).
    joined = {o.name: (-np.inf if o.joined_days_before_end is None
                       else end_cut - o.joined_days_before_end * _DAY_MIN) for o in _OWNERS}

    pick = np.flatnonzero(open_long & (rng.random(n) < 0.04))
    candidates = {int(i): [m for m in mates[team[i]] if m != owner[i] and joined.get(m, -np.inf) <= created[i]]
                  for i in pick}
    pick = pick[[len(candidates[int(i)]) > 0 for i in pick]]
    choice = rng.random(len(pick))
    names = [candidates[int(i)][int(c * len(candidates[int(i)]))] for i, c in zip(pick, choice, strict=True)]
    previous = np.asarray(names, dtype=object)
    rows.append((pick, "owner", previous, created[pick]))
    rows.append((pick, "owner", owner[pick], moment(created[pick] + 1, last[pick])))

    ids = opps["opportunity_id"].to_numpy(dtype=object)
    parts: list[pd.DataFrame] = []
    for deal, field, value, minute in rows:
        if field == "expected_close_at":
            text = pd.to_datetime(value * 60_000_000_000).strftime("%Y-%m-%d").to_numpy(dtype=object)
        elif field == "amount":
            text = np.array([f"{v:.0f}" for v in value], dtype=object)
        else:
            text = value
        parts.append(pd.DataFrame({"opportunity_id": ids[deal], "field": field, "value": text,
                                   "changed_at": _minutes_to_datetime(minute), "_deal": deal,
                                   "_order": len(parts)}))
    fields = pd.concat(parts, ignore_index=True)
    fields = fields.sort_values(["_deal", "changed_at", "_order"], kind="stable", ignore_index=True)
    fields = fields[list(FIELD_HISTORY_COLUMNS)].astype({"opportunity_id": "str", "field": "str", "value": "str"})
    expected = pd.Series(_minutes_to_datetime(np.where(is_closed, -1, plan_now)), index=opps.index)
    return opps.assign(expected_close_at=expected.dt.normalize()), fields


# --------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------


def _funnel_yml(settings: dict[str, Any], *, n: int, seed: int) -> str:
    """Render the settings as a commented ``funnel.yml`` (``yaml.safe_load`` reads them back)."""
    stages = ", ".join(settings["stages"])
    weekend = ", ".join(settings["weekend"])
    lines = [
        f"# Synthetic sample dataset: salesnb.data.sample.make_sample(n={n}, seed={seed})",
        "# Funnel settings, see DESIGN.md (the canonical data layout).",
        f"stages: [{stages}]  # the open stages, in funnel order",
        f"won: {settings['won']}",
        f"lost: {settings['lost']}",
        f"timezone: {settings['timezone']}  # naive timestamps are local time here",
        f"currency: {settings['currency']}",
        f"calendar: {settings['calendar']}",
        f"week_start: {settings['week_start']}",
        f"weekend: [{weekend}]",
        "# Iranian public holidays fixed in the Solar Hijri calendar (lunar ones omitted)",
    ]
    if settings["holidays"]:
        labels = dict(_solar_holidays(min(settings["holidays"]), max(settings["holidays"])))
        lines.append("holidays:")
        lines += [
            f"  - {d.isoformat()}  # {labels.get(d, '')}".rstrip() for d in settings["holidays"]
        ]
    else:
        lines.append("holidays: []")
    return "\n".join(lines) + "\n"


def write_sample(
    out_dir: str | os.PathLike[str],
    *,
    n: int = 2000,
    seed: int = 1,
    fmt: Literal["csv", "parquet"] = "csv",
    end: str = "2025-11-21",
    years: float = 2.0,
    field_history: bool = False,
) -> Path:
    """Write a synthetic dataset to a folder in the canonical layout.

    Writes ``opportunities``, ``stage_history``, ``field_history`` (``.csv`` or
    ``.parquet``) and ``funnel.yml``, replacing those files if they exist; other files
    in the folder are left alone. With ``field_history`` the opportunities have an
    ``expected_close_at`` column and a ``field_history`` table holds the pushes, amount
    changes and reassignments of :func:`make_field_history`; without it (the default,
    the bundled sample's layout) the folder holds exactly :func:`make_sample`'s tables. The same arguments give byte-identical files: UTF-8 without BOM,
    ``\\n`` line endings, ISO timestamps (``2025-03-04T10:15:00``), integer amounts.

    Parameters
    ----------
    out_dir : str or path-like
        The folder; created (with its parents) if missing.
    n : int, default 2000
        Number of opportunities.
    seed : int, default 1
        Seed of the random generator.
    fmt : {"csv", "parquet"}, default "csv"
        File format of the two tables.
    end : str, default "2025-11-21"
        The snapshot moment; see :func:`make_sample`.
    years : float, default 2.0
        Length of the span before ``end``; see :func:`make_sample`.
    field_history : bool, default False
        Also write expected close dates and the field history (a ``field_history``
        file left from an earlier run is removed when False).

    Returns
    -------
    pathlib.Path
        The folder written.

    Raises
    ------
    ValueError
        If ``fmt`` is not ``"csv"`` or ``"parquet"``, or an argument of
        :func:`make_sample` is invalid.

    Examples
    --------
    >>> import tempfile
    >>> from salesnb.data.sample import write_sample
    >>> folder = write_sample(tempfile.mkdtemp(), n=100)
    >>> sorted(p.name for p in folder.iterdir())
    ['funnel.yml', 'opportunities.csv', 'stage_history.csv']
    >>> folder = write_sample(tempfile.mkdtemp(), n=100, field_history=True)
    >>> sorted(p.name for p in folder.iterdir())
    ['field_history.csv', 'funnel.yml', 'opportunities.csv', 'stage_history.csv']
    """
    fmt = check_option("fmt", fmt, SAMPLE_FORMATS)  # type: ignore[assignment]
    tables = make_sample(n, seed=seed, end=end, years=years)
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    written: list[tuple[str, pd.DataFrame]] = [("stage_history", tables.stage_history)]
    if field_history:
        opps, fields = make_field_history(tables, seed=seed, end=end)
        if fmt == "csv":  # a date, as CRMs export it
            opps = opps.assign(expected_close_at=opps["expected_close_at"].dt.strftime("%Y-%m-%d"))
        written += [("opportunities", opps), ("field_history", fields)]
    else:
        written.append(("opportunities", tables.opportunities))
        for old in folder.glob("field_history.*"):
            old.unlink()
    for name, frame in written:
        if fmt == "csv":
            text = frame.to_csv(index=False, lineterminator="\n", date_format=_TIME_FORMAT)
            (folder / f"{name}.csv").write_bytes(text.encode("utf-8"))
        else:
            frame.to_parquet(folder / f"{name}.parquet", index=False)
    text = _funnel_yml(tables.settings, n=n, seed=seed)
    (folder / "funnel.yml").write_bytes(text.encode("utf-8"))
    return folder
