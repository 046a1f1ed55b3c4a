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

For the default arguments: 1,323 lost, 544 won (29% of closed) and 133 open
deals (7%), plus 249 open deals... (see the counts in the tests' module docstring;
the figures below are the authoritative ones)

    status:  lost 1,286, won 466, open 248 (12.4%); win rate 26.6% of closed
    stage_history: 6,023 rows; 101 opportunities without history

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
from pathlib import Path
from typing import Any, Literal, NamedTuple

import jdatetime
import numpy as np
import pandas as pd

__all__ = ["SampleTables", "make_sample", "write_sample"]

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
    _Owner("نگار حسینی", "Tehran", -0.10, 1.10, 0.60, 45.0),
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
_STAGE_DAYS = np.array([3.0, 7.0, 10.0, 8.0])
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
    """Business-minute clock over a run of days: working time only.

    Business minute ``b`` counts the working minutes since the first day's opening.
    Sat-Wed are open 08:00-17:00, Thursday 08:00-13:00, Friday and holidays closed.
    """

    def __init__(self, first: dt.date, ndays: int, holidays: set[dt.date]):
        self.epoch_day = (first - dt.date(1970, 1, 1)).days
        days = [first + dt.timedelta(days=i) for i in range(ndays)]
        weekday = np.array([d.weekday() for d in days])
        length = np.where(weekday == _THURSDAY, 300, _BDAY)
        length[weekday == _FRIDAY] = 0
        length[np.array([d in holidays for d in days], dtype=bool)] = 0
        self.weekday = weekday
        self.length = length.astype(np.int64)
        self.cum = np.concatenate([[0], np.cumsum(self.length)])
        self.total = int(self.cum[-1])
        self.day_start = (self.epoch_day + np.arange(ndays, dtype=np.int64)) * _MIN_PER_DAY

    def to_business(self, wall: np.ndarray) -> np.ndarray:
        """Map wall-clock minutes to the first business minute at or after them."""
        day = (wall - self.day_start[0]) // _MIN_PER_DAY
        offset = wall - self.day_start[day] - _OPEN_MINUTE
        return self.cum[day] + np.clip(offset, 0, self.length[day])

    def to_wall(self, business: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Map business minutes to wall-clock minutes; also say which fall past the clock."""
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


def _strings(labels: np.ndarray, codes: np.ndarray, missing: np.ndarray | None = None) -> Any:
    """Build a ``str`` column from labels and codes (``missing`` rows become NaN)."""
    values = np.asarray(labels, dtype=object)[codes]
    if missing is not None and missing.any():
        values[missing] = None
    return pd.array(values, dtype="str")


def _minutes_to_datetime(minutes: np.ndarray) -> np.ndarray:
    """Convert minutes since 1970 (``-1`` for missing) to ``datetime64[us]``."""
    out = (minutes * 60_000_000).astype("datetime64[us]")
    out[minutes < 0] = np.datetime64("NaT")
    return out


def _accounts() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return account names, their share of deals (Zipf-like) and log10 size offsets."""
    names = [f"{s} {k}" for s in _ACCOUNT_STEMS_FA for k in _ACCOUNT_KINDS_FA[:5]]
    names = names[:60]
    names += [f"{s} {k} Co." for s in _ACCOUNT_STEMS_EN for k in _ACCOUNT_KINDS_EN][:60]
    # A fixed, seed-independent interleaving so shares do not depend on the script.
    order = np.random.default_rng(20251121).permutation(len(names))
    labels = np.array(names, dtype=object)[order]
    rank = np.arange(1, len(labels) + 1)
    share = 1.0 / rank**0.9
    size = np.random.default_rng(1404).normal(0.0, 0.25, len(labels)) + 0.25 * (rank < 10)
    return labels, share, size


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
    >>> from salesnb.sample import make_sample
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

    # ---- calendar --------------------------------------------------------------------
    # Minutes since 1970 are the time unit; everything is strictly before `end_cut`.
    end_cut = -(-end_ts.value // 60_000_000_000)
    first = (end_ts - pd.Timedelta(days=round(years * 365.25))).date()
    last = (pd.Timestamp(end_cut - 1, unit="m")).date()
    ndays = (last - first).days + 1
    holidays = _solar_holidays(first, last)
    holiday_set = {d for d, _ in holidays}
    clock = _Clock(first, ndays, holiday_set)
    nowruz = _nowruz_break(first, last)

    days = [first + dt.timedelta(days=i) for i in range(ndays)]
    day_weight = _WEEKDAY_WEIGHT[clock.weekday].copy()
    day_weight *= np.where([d in nowruz for d in days], 0.3, 1.0)
    day_weight *= np.where([d in holiday_set for d in days], 0.05 / 0.3, 1.0)
    day_weight *= np.linspace(0.7, 1.3, ndays)  # the business grows
    cw = np.cumsum(day_weight)

    # ---- owners and creation times ---------------------------------------------------
    join_idx = np.array(
        [
            0
            if o.joined_days_before_end is None
            else max(0, ndays - int(round(o.joined_days_before_end)))
            for o in _OWNERS
        ]
    )
    lo = np.where(join_idx > 0, cw[np.maximum(join_idx - 1, 0)], 0.0)
    owner_p = np.array([o.weight for o in _OWNERS]) * (cw[-1] - lo)
    owner = _pick(rng, owner_p, n)
    u = lo[owner] + rng.random(n) * (cw[-1] - lo[owner])
    day = np.minimum(np.searchsorted(cw, u, side="right"), ndays - 1)

    kind = np.where(clock.length[day] == 0, 2, np.where(clock.weekday[day] == _THURSDAY, 1, 0))
    profiles = _hour_weights()
    hour = np.empty(n, dtype=np.int64)
    for k, name in enumerate(("regular", "thursday", "off")):
        mask = kind == k
        hour[mask] = _pick(rng, profiles[name], int(mask.sum()))
    minute = rng.integers(0, 60, n)
    created = clock.day_start[day] + hour * 60 + minute
    created = np.minimum(created, end_cut - 1)

    order = np.lexsort((np.arange(n), created))  # ids follow creation order
    owner, created = owner[order], created[order]

    # ---- breakdowns and amount -------------------------------------------------------
    owners_team = np.array([o.team for o in _OWNERS], dtype=object)
    teams = list(dict.fromkeys(o.team for o in _OWNERS))
    team_code = np.array([teams.index(t) for t in owners_team])[owner]
    product = _pick(rng, np.array([p[1] for p in _PRODUCTS]), n)
    source = _pick(rng, np.array([s[1] for s in _SOURCES]), n)
    acc_labels, acc_share, acc_size = _accounts()
    account = _pick(rng, acc_share, n)

    log10_amount = (
        _MEDIAN_LOG10_AMOUNT
        + np.array([_TEAM_SIZE[t] for t in teams])[team_code]
        + np.array([p[2] for p in _PRODUCTS])[product]
        + acc_size[account]
        + rng.normal(0.0, 0.42, n)
    )
    log10_amount = np.clip(log10_amount, np.log10(5e7), np.log10(5e10))
    amount = np.round(10.0 ** (log10_amount - 5)).astype(np.int64) * 100_000
    decades = log10_amount - _MEDIAN_LOG10_AMOUNT

    # ---- outcome: walk the funnel ----------------------------------------------------
    shift = (
        np.array([o.skill for o in _OWNERS])[owner]
        + np.array([p[3] for p in _PRODUCTS])[product]
        + np.array([s[2] for s in _SOURCES])[source]
        + _ADVANCE_PER_DECADE * decades
    )
    logit = _ADVANCE_LOGIT[None, :] + shift[:, None]
    advance = rng.random((n, 4)) < 1.0 / (1.0 + np.exp(-logit))
    won = advance.all(axis=1)
    final = np.where(won, 3, np.argmin(advance, axis=1))  # last stage visited

    # ---- time in each stage, in business minutes -------------------------------------
    pace = np.array([o.speed for o in _OWNERS])[owner] * 10.0 ** (
        _DURATION_PER_DECADE * decades
    )
    dur = (
        _STAGE_DAYS[None, :]
        * _BDAY
        * pace[:, None]
        * np.exp(rng.normal(0.0, _STAGE_SIGMA, (n, 4)))
    )
    rows = np.arange(n)
    lost_early = rng.random(n) < 0.5  # many losses come before the stage's usual length
    dur[rows, final] *= np.where(~won & lost_early, rng.uniform(0.2, 1.0, n), 1.0)
    # Stuck deals: they stall in their last stage; large deals stall more often.
    stuck = rng.random(n) < np.clip(0.08 + 0.08 * decades, 0.02, 0.3)
    dur[rows, final] += np.where(stuck, rng.exponential(220.0 * _BDAY, n), 0.0)
    dur = np.round(dur).astype(np.int64)
    # A few stages passed in the same minute (ties), never the last one.
    zero = (rng.random((n, 4)) < 0.015) & (np.arange(4)[None, :] < final[:, None])
    dur[zero] = 0
    dur[rows, final] = np.maximum(dur[rows, final], 60)

    start_b = clock.to_business(created)
    entry_b = start_b[:, None] + np.concatenate(
        [np.zeros((n, 1), dtype=np.int64), np.cumsum(dur[:, :3], axis=1)], axis=1
    )
    close_b = entry_b[rows, final] + dur[rows, final]
    close_wall, close_beyond = clock.to_wall(close_b)
    closed = ~close_beyond & (close_wall < end_cut)
    closed_at = np.where(closed, close_wall, -1)

    # ---- history events (the full path, then cut at `end`) ---------------------------
    # seq 3s: enter stage s; 3s+1 / 3s+2: back to s-1 and into s again (regression);
    # 12: the terminal row.
    reg_p = np.array([0.0, 0.02, 0.06, 0.05])
    reg = (rng.random((n, 4)) < reg_p[None, :]) & (dur >= 2 * _BDAY)
    reg_a = np.floor(dur * rng.uniform(0.15, 0.45, (n, 4))).astype(np.int64)
    reg_b = np.floor(dur * rng.uniform(0.15, 0.45, (n, 4))).astype(np.int64)

    ev_opp, ev_seq, ev_stage, ev_time = [], [], [], []

    def add(mask: np.ndarray, seq: int, stage: int, business: np.ndarray | None) -> None:
        idx = np.flatnonzero(mask)
        if business is None:  # the first entry: exactly created_at
            wall = created[idx]
        else:
            wall, beyond = clock.to_wall(business[idx])
            keep = ~beyond & (wall < end_cut)
            idx, wall = idx[keep], wall[keep]
        ev_opp.append(idx)
        ev_seq.append(np.full(len(idx), seq, dtype=np.int64))
        ev_stage.append(np.full(len(idx), stage, dtype=np.int64))
        ev_time.append(wall)

    for s in range(4):
        visited = final >= s
        add(visited, 3 * s, s, None if s == 0 else entry_b[:, s])
        if s > 0:
            r = visited & reg[:, s]
            add(r, 3 * s + 1, s - 1, entry_b[:, s] + reg_a[:, s])
            add(r, 3 * s + 2, s, entry_b[:, s] + reg_a[:, s] + reg_b[:, s])
    terminal = closed & (rng.random(n) >= 0.12)
    add(terminal, 12, np.int64(4), close_b)  # 4: won, adjusted below
    ev = {
        "opp": np.concatenate(ev_opp),
        "seq": np.concatenate(ev_seq),
        "stage": np.concatenate(ev_stage),
        "time": np.concatenate(ev_time),
    }
    is_terminal = ev["seq"] == 12
    ev["stage"][is_terminal] = np.where(won[ev["opp"][is_terminal]], 4, 5)

    # The current open stage: the last open-stage entry known at `end`.
    open_rows = ~is_terminal
    last_seq = np.full(n, -1, dtype=np.int64)
    np.maximum.at(last_seq, ev["opp"][open_rows], ev["seq"][open_rows])
    is_last = ev["seq"] == last_seq[ev["opp"]]
    current = np.zeros(n, dtype=np.int64)
    current[ev["opp"][is_last & open_rows]] = ev["stage"][is_last & open_rows]

    # Skipped stages: an intermediate entry the CRM never recorded.
    seq, opp = ev["seq"], ev["opp"]
    s_of = seq // 3
    plain_entry = (seq % 3 == 0) & (seq > 0) & (seq < 12)
    next_reg = np.zeros(len(seq), dtype=bool)
    inner = plain_entry & (s_of < 3)
    next_reg[inner] = reg[opp[inner], s_of[inner] + 1]
    skip = (
        plain_entry
        & ~is_last
        & ~reg[opp, np.minimum(s_of, 3)]
        & ~next_reg
        & (rng.random(len(seq)) < 0.08)
    )
    no_history = rng.random(n) < 0.05
    keep = ~skip & ~no_history[opp]
    order = np.lexsort((seq[keep], opp[keep]))
    h_opp = opp[keep][order]
    h_stage = ev["stage"][keep][order]
    h_time = ev["time"][keep][order]

    # ---- assemble the tables ---------------------------------------------------------
    status = np.where(closed, np.where(won, 1, 2), 0)
    status_labels = np.array(["open", "won", "lost", "Open", "Won", "Lost"], dtype=object)
    status_code = status + 3 * (rng.random(n) < 0.01)

    stage_labels = np.array([*STAGES, WON, LOST], dtype=object)
    opp_stage = np.where(closed, final, current)
    stage_missing = closed & won

    lost = closed & ~won
    reason = _pick_rows(rng, np.vstack([_LOST_MIX, _LOST_MIX_STUCK]), np.where(stuck, 4, final))
    reason_missing = ~lost | (rng.random(n) < 0.10)

    amount_missing = rng.random(n) < 0.03
    width = max(6, len(str(n)))
    ids = np.array([f"OPP-{i:0{width}d}" for i in range(1, n + 1)], dtype=object)

    opportunities = pd.DataFrame(
        {
            "opportunity_id": pd.array(ids, dtype="str"),
            "owner": _strings(np.array([o.name for o in _OWNERS], dtype=object), owner),
            "team": _strings(np.array(teams, dtype=object), team_code),
            "created_at": _minutes_to_datetime(created),
            "status": _strings(status_labels, status_code),
            "closed_at": _minutes_to_datetime(closed_at),
            "amount": pd.arrays.IntegerArray(amount, amount_missing),
            "stage": _strings(stage_labels, opp_stage, stage_missing),
            "lost_reason": _strings(np.array(_LOST_REASONS, dtype=object), reason, reason_missing),
            "account": _strings(acc_labels, account),
            "product": _strings(np.array([p[0] for p in _PRODUCTS], dtype=object), product),
            "source": _strings(np.array([s[0] for s in _SOURCES], dtype=object), source),
            "currency": _strings(np.array(["IRR"], dtype=object), np.zeros(n, dtype=np.int64)),
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
        "holidays": [d for d, _ in holidays],
    }
    return SampleTables(opportunities, stage_history, settings)
