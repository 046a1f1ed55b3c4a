"""Engine-neutral building blocks: expressions that give the same result on every backend.

Rules kept here so every metric can rely on them:

* instants are int64 microseconds since 1970-01-01 UTC (no engine time types, no time
  zone settings, no precision differences between engines);
* text is trimmed of exactly the characters Python's ``str.strip()`` removes;
* local wall-clock time <-> UTC goes through the zone's transitions, computed in Python
  with :mod:`zoneinfo` and written into the expression as a balanced ``CASE`` tree;
* nothing here does float arithmetic: engines differ in the last bits of float sums,
  so float statistics are computed in Python on fetched values.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Sequence
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

US_PER_SECOND = 1_000_000
US_PER_DAY = 86_400 * US_PER_SECOND

#: Every character ``str.strip()`` removes (Unicode White_Space plus the ASCII separators
#: U+001C..U+001F): the same rule as the pandas/Arrow trimming it replaces.
WHITESPACE = "".join(chr(c) for c in (
    0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x1C, 0x1D, 0x1E, 0x1F, 0x20, 0x85, 0xA0, 0x1680,
    *range(0x2000, 0x200B), 0x2028, 0x2029, 0x202F, 0x205F, 0x3000))


# --------------------------------------------------------------------------- text
_EDGES = f"^[{WHITESPACE}]+|[{WHITESPACE}]+$"


def trim(value: ir.StringValue) -> ir.StringValue:
    """Trim the characters of :data:`WHITESPACE` from both ends.

    A regular-expression replacement: the same on every engine, and on DuckDB several
    times faster than ``trim`` with a set of characters.
    """
    return value.re_replace(_EDGES, "")


def clean_text(value: ir.Value) -> ir.StringValue:
    """Trimmed text with blank values as NULL (non-text values are cast to text first)."""
    text = value if value.type().is_string() else value.cast("string")
    return trim(text).nullif("")


# --------------------------------------------------------------------------- timestamps
#: The accepted ISO 8601 forms: a date, optionally a time (minutes, seconds, fraction),
#: and with a time optionally an offset (``Z``, ``+03:30``, ``+0330``, ``+03``).
ISO_PATTERN = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"([Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}([.,][0-9]{1,9})?)?"
    r"( ?([Zz]|[+-][0-9]{2}(:?[0-9]{2})?))?)?$"
)
_FRACTION = r"^.{19}[.,]([0-9]{1,9})"
_OFFSET = r"([Zz]|[+-][0-9]{2}(:?[0-9]{2})?)$"


def days_from_civil(y: ir.IntegerValue, m: ir.IntegerValue, d: ir.IntegerValue) -> ir.IntegerValue:
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).

    Exact integer arithmetic for years 1..9999 (every intermediate value is >= 0, so
    the engines' floor division cannot differ).
    """
    y2 = y - ibis.ifelse(m <= 2, 1, 0)
    era = y2 // 400
    yoe = y2 - era * 400
    mp = (m + 9) % 12
    doy = (153 * mp + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return (era * 146097 + doe - 719468).cast("int64")


def _is_leap(y: ir.IntegerValue) -> ir.BooleanValue:
    return ((y % 4) == 0) & (((y % 100) != 0) | ((y % 400) == 0))


def days_in_month(y: ir.IntegerValue, m: ir.IntegerValue) -> ir.IntegerValue:
    """Number of days of month ``m`` of year ``y`` (Gregorian)."""
    return ibis.cases(
        (m == 2, ibis.ifelse(_is_leap(y), 29, 28)),
        (m.isin([4, 6, 9, 11]), 30),
        else_=31,
    )


def parse_iso_columns(table: ir.Table, column: str, prefix: str,
                      checkpoint: Any = None) -> ir.Table:
    """Add the parts of the ISO 8601 text in ``column`` to ``table``.

    Adds ``{prefix}_ok`` (a valid timestamp: pattern and calendar), ``{prefix}_local``
    (wall-clock microseconds, as if the time were UTC) and ``{prefix}_offset`` (the written
    offset in microseconds, NULL when none was written). Built in stages (each a
    sub-select) so that no sub-expression is written into the SQL more than once.
    ``checkpoint`` (``Engine.checkpoint``) may materialise a stage, for engines whose SQL
    parser cannot take deep nesting (SQLite).
    """
    cp = checkpoint or (lambda x: x)
    text = table[column]
    m, parts = f"{prefix}__m", f"{prefix}__"
    t = table.mutate(**{m: text.re_search(ISO_PATTERN).fill_null(False)})
    text, ok = t[column], t[m]

    def num(start: int, length: int) -> ir.IntegerValue:
        # Guarded: the cast only runs where the pattern matched (digits only there).
        return ibis.ifelse(ok, text.substr(start, length).cast("int64"), ibis.null("int64"))

    length = text.length()
    has_time = ok & (length >= 16)
    has_sec = has_time & (length >= 19) & (text.substr(16, 1) == ":")
    t = t.mutate(**{
        parts + "y": num(0, 4), parts + "mo": num(5, 2), parts + "d": num(8, 2),
        parts + "hh": ibis.ifelse(has_time, num(11, 2), 0),
        parts + "mi": ibis.ifelse(has_time, num(14, 2), 0),
        parts + "ss": ibis.ifelse(has_sec, num(17, 2), 0),
        parts + "frac": ibis.ifelse(has_sec, text.re_extract(_FRACTION, 1), ibis.null("string")),
        parts + "off": ibis.ifelse(has_time, text.substr(16).re_extract(_OFFSET, 1), ibis.null("string")),
    })
    t = cp(t)
    frac = t[parts + "frac"]
    off = t[parts + "off"]
    t = t.mutate(**{
        # Microseconds: the first six digits of the fraction, padded (more digits are cut).
        parts + "us": ibis.ifelse(frac.isnull() | (frac == ""), 0,
                                  frac.concat("000000").substr(0, 6).cast("int64")),
        parts + "off": ibis.ifelse(off == "", ibis.null("string"), off.replace(":", "")),
    })
    off = t[parts + "off"]
    zulu = off.upper() == "Z"
    t = t.mutate(**{
        parts + "sign": ibis.ifelse(off.substr(0, 1) == "-", -1, 1),
        parts + "oh": ibis.ifelse(zulu, 0, off.substr(1, 2).cast("int64")),
        parts + "om": ibis.ifelse(zulu | (off.length() < 5), 0, off.substr(3, 2).cast("int64")),
    })
    y, mo, d = t[parts + "y"], t[parts + "mo"], t[parts + "d"]
    hh, mi, ss = t[parts + "hh"], t[parts + "mi"], t[parts + "ss"]
    oh, om = t[parts + "oh"], t[parts + "om"]
    valid = (t[m] & mo.between(1, 12) & (d >= 1) & (d <= days_in_month(y, mo)) & (y >= 1)
             & (hh <= 23) & (mi <= 59) & (ss <= 59)
             & (off.isnull() | ((oh <= 18) & (om <= 59)))).fill_null(False)
    t = cp(t.mutate(**{f"{prefix}_ok": valid, parts + "day": days_from_civil(y, mo, d)}))
    ok = t[f"{prefix}_ok"]
    hh, mi, ss, off = t[parts + "hh"], t[parts + "mi"], t[parts + "ss"], t[parts + "off"]
    oh, om = t[parts + "oh"], t[parts + "om"]
    local = (t[parts + "day"] * US_PER_DAY + (hh * 3600 + mi * 60 + ss) * US_PER_SECOND
             + t[parts + "us"]).cast("int64")
    offset = (t[parts + "sign"] * (oh * 3600 + om * 60) * US_PER_SECOND).cast("int64")
    t = t.mutate(**{
        f"{prefix}_local": ibis.ifelse(ok, local, ibis.null("int64")),
        f"{prefix}_offset": ibis.ifelse(ok & off.notnull(), offset, ibis.null("int64")),
    })
    return t.drop(*[c for c in t.columns if c.startswith(parts) or c == m])


# --------------------------------------------------------------------------- time zones
@functools.lru_cache(maxsize=32)
def zone_transitions(zone: str) -> tuple[tuple[int, int, int], ...]:
    """Transitions of ``zone`` from 1677 to 2262: ``(utc_us, offset_before_us, offset_after_us)``.

    Found by sampling the offset weekly and bisecting each change to the second
    (:mod:`zoneinfo` gives offsets, not transition lists); ~20-40 ms per zone, cached.
    """
    from zoneinfo import ZoneInfo

    z = ZoneInfo(zone)
    utc = datetime.UTC
    t = datetime.datetime(1677, 9, 22, tzinfo=utc)
    end = datetime.datetime(2262, 4, 11, tzinfo=utc)
    step = datetime.timedelta(days=7)
    one = datetime.timedelta(seconds=1)

    def offset(when: datetime.datetime) -> datetime.timedelta:
        return when.astimezone(z).utcoffset() or datetime.timedelta(0)

    prev = offset(t)
    out: list[tuple[int, int, int]] = []
    while t < end:
        nxt = min(t + step, end)
        now = offset(nxt)
        if now != prev:
            lo, hi = t, nxt
            while hi - lo > one:
                mid = (lo + (hi - lo) / 2).replace(microsecond=0)
                if offset(mid) == prev:
                    lo = mid
                else:
                    hi = mid
            epoch = datetime.datetime(1970, 1, 1, tzinfo=utc)
            out.append(((hi - epoch) // datetime.timedelta(microseconds=1),
                        prev // datetime.timedelta(microseconds=1), now // datetime.timedelta(microseconds=1)))
            prev = now
        t = nxt
    return tuple(out)


def zone_offset_at_start(zone: str) -> int:
    """The zone's offset (microseconds) before its first transition."""
    from zoneinfo import ZoneInfo

    first = datetime.datetime(1677, 9, 22, tzinfo=datetime.UTC)
    return (first.astimezone(ZoneInfo(zone)).utcoffset() or datetime.timedelta(0)) // datetime.timedelta(microseconds=1)


def _tree(value: ir.IntegerValue, bounds: Sequence[int], pieces: Sequence[Any]) -> ir.Value:
    """``pieces[i]`` where ``bounds[i-1] <= value < bounds[i]``, as a balanced CASE tree."""
    if len(pieces) == 1:
        return pieces[0]
    mid = len(pieces) // 2
    return ibis.ifelse(value < bounds[mid - 1], _tree(value, bounds[: mid - 1], pieces[:mid]),
                       _tree(value, bounds[mid:], pieces[mid:]))


def _span_transitions(zone: str, lo: int | None, hi: int | None) -> tuple[int, list[tuple[int, int, int]]]:
    trans = zone_transitions(zone)
    first = trans[0][1] if trans else zone_offset_at_start(zone)
    if lo is None or hi is None:
        return first, list(trans)
    margin = 2 * US_PER_DAY
    kept = [t for t in trans if lo - margin <= t[0] <= hi + margin]
    before = [t for t in trans if t[0] < lo - margin]
    start_offset = before[-1][2] if before else first
    return start_offset, kept


def local_to_utc(local: ir.IntegerValue, zone: str, *, lo: int | None = None,
                 hi: int | None = None) -> ir.IntegerValue:
    """UTC microseconds of wall-clock microseconds in ``zone``.

    A time in a gap (clocks moved forward) moves forward to the end of the gap; a time
    that occurs twice (clocks moved back) is the first occurrence — what pandas'
    ``tz_localize(ambiguous=True, nonexistent="shift_forward")`` does. ``lo``/``hi``
    (UTC microseconds) bound the values, so only the transitions between them are
    written into the expression.
    """
    offset0, trans = _span_transitions(zone, lo, hi)
    if not trans:
        return local - offset0
    bounds: list[int] = []
    pieces: list[Any] = []
    before = offset0
    for when, _, after in trans:
        bounds.append(when + before)           # local time where the old offset stops
        pieces.append(local - before)
        if after > before:                     # a gap: [when+before, when+after) -> when
            bounds.append(when + after)
            pieces.append(ibis.literal(when, "int64"))
        before = after
    pieces.append(local - before)
    return _tree(local, bounds, pieces).cast("int64")


def utc_to_local(utc: ir.IntegerValue, zone: str, *, lo: int | None = None,
                 hi: int | None = None) -> ir.IntegerValue:
    """Wall-clock microseconds in ``zone`` of UTC microseconds."""
    offset0, trans = _span_transitions(zone, lo, hi)
    if not trans:
        return utc + offset0
    bounds = [when for when, _, _ in trans]
    pieces = [utc + offset0, *(utc + after for _, _, after in trans)]
    return _tree(utc, bounds, pieces).cast("int64")


# --------------------------------------------------------------------------- numbers
#: A plain decimal number: optional sign, digits with an optional fraction, optional
#: exponent. No thousands separators, currency signs, ``inf`` or ``nan``.
NUMBER_PATTERN = r"^[+-]?([0-9]+([.][0-9]*)?|[.][0-9]+)([eE][+-]?[0-9]{1,3})?$"


def parse_number(text: ir.StringValue) -> tuple[ir.BooleanValue, ir.FloatingValue]:
    """``(ok, value)`` of trimmed text: ok where the text is a plain decimal number."""
    ok = text.re_search(NUMBER_PATTERN).fill_null(False)
    return ok, ibis.ifelse(ok, text.cast("float64"), ibis.null("float64"))


# --------------------------------------------------------------------------- typed times
@ibis.udf.scalar.builtin(name="epoch_us")
def _epoch_us(ts: dt.timestamp) -> dt.int64:  # DuckDB
    ...


@ibis.udf.scalar.builtin(name="unix_micros")
def _unix_micros(ts: dt.timestamp) -> dt.int64:  # Spark (an instant: TIMESTAMP, not _NTZ)
    ...


def typed_micros(ts: ir.TimestampValue, backend: str) -> ir.IntegerValue | None:
    """Microseconds of a typed timestamp where the engine gives them exactly, else None.

    DuckDB: the wall-clock fields of a naive value, the instant of an aware one
    (``epoch_us``); Spark: the instant of an aware value (``unix_micros``). Elsewhere
    (and Spark's naive values) the value is read from its text form, which every
    engine writes in ISO 8601 (with the offset for an aware value).
    """
    if backend == "duckdb":
        return _epoch_us(ts)
    if backend == "pyspark" and ts.type().timezone is not None:
        return _unix_micros(ts)
    return None


def count_true(predicate: ir.BooleanValue) -> ir.IntegerValue:
    """How many rows the predicate holds for (NULL counts as False), on every engine."""
    return ibis.ifelse(predicate.fill_null(False), 1, 0).sum().fill_null(0).cast("int64")
