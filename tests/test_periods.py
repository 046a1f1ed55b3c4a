"""Tests of salesnb.periods: calendars, period boundaries and labels, business days.

Expected values come from a second source: jdatetime and datetime directly, tz
offsets looked up by hand in the tz database, or arithmetic done by hand in the
comments. None is copied from the output of the code under test.
"""

from __future__ import annotations

import datetime as dt

import jdatetime
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from salesnb.exceptions import OptionError, SalesnbError, SettingsError
from salesnb.periods import (
    CALENDARS,
    PERIODS,
    WEEKDAYS,
    assign_periods,
    business_days_between,
    default_week_start,
    format_date,
    format_datetime,
    parse_date,
    period_bounds,
    period_table,
    previous_window,
    shift_window,
    year_ago_window,
)


def ts(text: str, tz: str = "UTC") -> pd.Timestamp:
    """A Gregorian wall-clock time in ``tz`` (pandas itself, not the code under test)."""
    return pd.Timestamp(text).tz_localize(tz)


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def jalali_first(year: int, month: int) -> pd.Timestamp:
    """Naive Gregorian midnight of the first day of a Jalali month, per jdatetime."""
    return pd.Timestamp(jdatetime.date(year, month, 1).togregorian())


# ---------------------------------------------------------------------------
# constants and options
# ---------------------------------------------------------------------------


def test_constants():
    assert CALENDARS == ("gregorian", "jalali")
    assert PERIODS == ("day", "week", "month", "quarter", "year")
    assert WEEKDAYS[0] == "monday" and WEEKDAYS[5] == "saturday" and len(WEEKDAYS) == 7


def test_default_week_start():
    assert default_week_start("gregorian") == "monday"
    assert default_week_start("jalali") == "saturday"


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"calendar": "persian"}, ["calendar", "'persian'", "'jalali'"]),
        ({"period": "fortnight"}, ["period", "'fortnight'", "'week'"]),
        ({"week_start": "funday"}, ["week_start", "'funday'", "'saturday'"]),
        ({"fiscal_year_start": 13}, ["fiscal_year_start", "13", "1 to 12"]),
        ({"tz": "Mars/Olympus"}, ["time zone", "Mars/Olympus"]),
    ],
)
def test_bad_options_say_what_was_passed_and_what_exists(kwargs, words):
    options = {"period": "month", **kwargs}
    with pytest.raises((SettingsError, OptionError)) as info:
        period_table("2025-01-01", "2025-02-01", **options)
    for word in words:
        assert word in str(info.value)


# ---------------------------------------------------------------------------
# Jalali months against jdatetime
# ---------------------------------------------------------------------------


def test_jalali_months_1390_to_1420_agree_with_jdatetime():
    table = period_table(
        jdatetime.date(1390, 1, 1).togregorian(),
        jdatetime.date(1421, 1, 1).togregorian(),
        period="month",
        calendar="jalali",
        tz="Asia/Tehran",
    )
    expected = [(y, m) for y in range(1390, 1421) for m in range(1, 13)]
    assert len(table) == len(expected) == 372
    for row, (y, m) in zip(table.itertuples(), expected, strict=True):
        assert row.period == f"{y}-{m:02d}"
        # local midnight of the first day of the month (month starts never fall on the
        # Tehran DST days, which were 2 Farvardin and 31 Shahrivar)
        assert row.period_start.tz_localize(None) == jalali_first(y, m)
        nxt = (y + 1, 1) if m == 12 else (y, m + 1)
        assert row.period_end.tz_localize(None) == jalali_first(*nxt)
        assert str(row.period_start.tz) == "Asia/Tehran"


def test_jalali_month_lengths_31_30_and_esfand():
    table = period_table("1403-01-01", "1405-01-01", period="month", calendar="jalali")
    lengths = ((table["period_end"] - table["period_start"]).dt.days).tolist()
    # 1403 is a leap year (Esfand 30 days), 1404 is not (Esfand 29 days)
    assert jdatetime.date(1403, 1, 1).isleap() and not jdatetime.date(1404, 1, 1).isleap()
    assert lengths == [31] * 6 + [30] * 5 + [30] + [31] * 6 + [30] * 5 + [29]


def test_jalali_quarters_years_and_days_labels():
    q = period_table("1404-01-01", "1405-01-01", period="quarter", calendar="jalali")
    assert q["period"].tolist() == ["1404-Q1", "1404-Q2", "1404-Q3", "1404-Q4"]
    # Q2 = Tir, Mordad, Shahrivar
    assert q["period_start"].iloc[1].tz_localize(None) == jalali_first(1404, 4)
    assert q["period_end"].iloc[1].tz_localize(None) == jalali_first(1404, 7)
    y = period_table("1403-06-01", "1404-06-01", period="year", calendar="jalali")
    assert y["period"].tolist() == ["1403", "1404"]
    assert y["period_end"].iloc[0].tz_localize(None) == jalali_first(1404, 1)
    # 2025-10-05 is 13 Mehr 1404 (jdatetime)
    assert jdatetime.date.fromgregorian(date=dt.date(2025, 10, 5)) == jdatetime.date(1404, 7, 13)
    d = period_table(dt.date(2025, 10, 5), dt.date(2025, 10, 7), period="day", calendar="jalali")
    assert d["period"].tolist() == ["1404-07-13", "1404-07-14"]


# ---------------------------------------------------------------------------
# weeks
# ---------------------------------------------------------------------------


def test_gregorian_monday_weeks_are_iso_weeks():
    table = period_table("2014-12-01", "2027-02-01", period="week", calendar="gregorian")
    for row in table.itertuples():
        start = row.period_start.date()
        iso = start.isocalendar()
        assert iso.weekday == 1
        assert row.period == f"{iso.year}-W{iso.week:02d}"
        assert row.period_end - row.period_start == pd.Timedelta(days=7)
    # hand-checked anchors: 2020 and 2026 have a week 53; 2025-W07 is 10-16 February
    assert {"2020-W53", "2026-W53"} <= set(table["period"])
    assert "2025-W53" not in set(table["period"])
    assert period_bounds("2025-W07") == (utc("2025-02-10"), utc("2025-02-17"))


def test_every_day_gets_its_iso_week():
    days = pd.Series(pd.date_range("2018-12-20", "2027-01-10", freq="D", tz="Europe/Berlin"))
    got = assign_periods(days + pd.Timedelta(hours=13), period="week")["period"]
    expected = [f"{d.isocalendar().year}-W{d.isocalendar().week:02d}" for d in days]
    assert got.tolist() == expected


def _jalali_week_label(start: dt.date) -> str:
    """The documented rule, computed with jdatetime: the year of the week's 4th day,
    week 1 being the Saturday week containing 4 Farvardin."""
    year = jdatetime.date.fromgregorian(date=start + dt.timedelta(days=3)).year
    fourth = jdatetime.date(year, 1, 4).togregorian()
    week_one = fourth - dt.timedelta(days=(fourth.weekday() - 5) % 7)
    return f"{year}-W{(start - week_one).days // 7 + 1:02d}"


def test_jalali_weeks_start_on_saturday_and_follow_the_rule():
    table = period_table(
        "1395-01-01", "1411-01-01", period="week", calendar="jalali", tz="Asia/Tehran"
    )
    for row in table.itertuples():
        start = row.period_start.date()
        assert start.weekday() == 5  # Saturday
        # the first instant of that Saturday (its midnight was skipped in 2020-03-21)
        first = pd.Timestamp(start).tz_localize("Asia/Tehran", nonexistent="shift_forward")
        assert row.period_start == first
        assert row.period == _jalali_week_label(start)
    labels = table["period"].tolist()
    assert labels == sorted(labels) and len(set(labels)) == len(labels)


def test_jalali_week_one_of_1404_by_hand():
    # 1404-01-01 is Friday 2025-03-21, so its 4th day (1404-01-04) is Monday 2025-03-24;
    # the Saturday week holding it starts on 2025-03-22 = 1404-01-02. 1403 began on
    # Wednesday 2024-03-20, its week 1 starts on Saturday 2024-03-23 and the week of
    # 2025-03-15 is 357 days = 51 weeks later: 1403-W52.
    tehran = "Asia/Tehran"
    assert period_bounds("1404-W01", calendar="jalali", tz=tehran) == (
        ts("2025-03-22", tehran),
        ts("2025-03-29", tehran),
    )
    out = assign_periods(
        pd.Series([ts("2025-03-21 10:00", tehran)]), period="week", calendar="jalali"
    )
    assert out["period"].tolist() == ["1403-W52"]
    assert out["period_start"].tolist() == [ts("2025-03-15", tehran)]


def test_sunday_weeks_gregorian():
    # 4 January 2025 is a Saturday, the Sunday before is 2024-12-29: that week is 2025-W01
    assert period_bounds("2025-W01", week_start="sunday") == (utc("2024-12-29"), utc("2025-01-05"))
    table = period_table("2025-01-01", "2025-01-19", period="week", week_start="sunday")
    assert table["period"].tolist() == ["2025-W01", "2025-W02", "2025-W03"]
    assert all(t.weekday() == 6 for t in table["period_start"])


# ---------------------------------------------------------------------------
# half-open boundaries
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("calendar", "tz", "boundary", "before", "after"),
    [
        ("gregorian", "Europe/Berlin", "2025-10-01", "2025-09", "2025-10"),
        # 1 Aban 1404 = 2025-10-23 (Mehr, 30 days, began on 2025-09-23)
        ("jalali", "Asia/Tehran", "2025-10-23", "1404-07", "1404-08"),
    ],
)
def test_boundary_belongs_to_the_later_period(calendar, tz, boundary, before, after):
    edge = ts(boundary, tz)
    times = pd.Series(
        [
            edge,
            edge - pd.Timedelta(milliseconds=1),
            edge - pd.Timedelta(nanoseconds=1),
            edge + pd.Timedelta(nanoseconds=1),
        ]
    ).dt.as_unit("ns")
    out = assign_periods(times, period="month", calendar=calendar)
    assert out["period"].tolist() == [after, before, before, after]
    assert (out["period_start"] <= times).all() and (times < out["period_end"]).all()
    assert out["period_start"].iloc[0] == edge and out["period_end"].iloc[1] == edge


def test_period_table_is_half_open():
    # a window ending exactly on a boundary does not include the next period
    t = period_table("2025-01-01", "2025-03-01", period="month")
    assert t["period"].tolist() == ["2025-01", "2025-02"]
    # a window starting just before a boundary includes the earlier period
    t = period_table(utc("2024-12-31 23:59:59"), utc("2025-01-01 00:00:01"), period="month")
    assert t["period"].tolist() == ["2024-12", "2025-01"]
    assert period_table("2025-01-01", "2025-01-01", period="day").empty
    with pytest.raises(SettingsError, match="before it starts"):
        period_table("2025-02-01", "2025-01-01", period="day")


# ---------------------------------------------------------------------------
# DST
# ---------------------------------------------------------------------------


def _day(table: pd.DataFrame, label: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    row = table.loc[table["period"] == label].iloc[0]
    return row["period_start"], row["period_end"]


def test_dst_spring_forward_berlin():
    # 2025-03-30 02:00 CET -> 03:00 CEST: the day runs from 00:00+01:00 to 00:00+02:00
    t = period_table("2025-03-29", "2025-04-01", period="day", tz="Europe/Berlin")
    start, end = _day(t, "2025-03-30")
    assert start == utc("2025-03-29 23:00") and end == utc("2025-03-30 22:00")
    assert end - start == pd.Timedelta(hours=23)
    assert t["period_start"].dt.hour.tolist() == [0, 0, 0]


def test_dst_fall_back_new_york():
    # 2025-11-02 02:00 EDT -> 01:00 EST: the day runs from 00:00-04:00 to 00:00-05:00
    t = period_table("2025-11-01", "2025-11-04", period="day", tz="America/New_York")
    start, end = _day(t, "2025-11-02")
    assert start == utc("2025-11-02 04:00") and end == utc("2025-11-03 05:00")
    assert end - start == pd.Timedelta(hours=25)
    # both 01:30s (EDT = 05:30Z and EST = 06:30Z) belong to 2 November
    twice = pd.Series([utc("2025-11-02 05:30"), utc("2025-11-02 06:30")]).dt.tz_convert(
        "America/New_York"
    )
    assert assign_periods(twice, period="day")["period"].tolist() == ["2025-11-02"] * 2


def test_dst_midnight_skipped_in_tehran_2021():
    # Iran moved clocks from 2021-03-22 00:00 (+03:30) to 01:00 (+04:30): the day of
    # 2 Farvardin 1400 has no midnight and starts at 01:00+04:30 = 2021-03-21 20:30Z.
    t = period_table("2021-03-20", "2021-03-24", period="day", tz="Asia/Tehran")
    assert t["period"].tolist() == ["2021-03-20", "2021-03-21", "2021-03-22", "2021-03-23"]
    # 2021-03-22 runs from 01:00+04:30 to 2021-03-23 00:00+04:30 = 19:30Z: 23 hours
    start, end = _day(t, "2021-03-22")
    assert start == utc("2021-03-21 20:30") and end == utc("2021-03-22 19:30")
    assert end - start == pd.Timedelta(hours=23)
    # 2021-03-21 runs from 00:00+03:30 = 2021-03-20 20:30Z to 24 hours later
    start, end = _day(t, "2021-03-21")
    assert start == utc("2021-03-20 20:30") and end == utc("2021-03-21 20:30")
    j = period_table(
        dt.date(2021, 3, 20),
        dt.date(2021, 3, 24),
        period="day",
        calendar="jalali",
        tz="Asia/Tehran",
    )
    assert j["period"].tolist() == ["1399-12-30", "1400-01-01", "1400-01-02", "1400-01-03"]
    # a wall-clock time inside the skipped hour moves to the first instant after it
    assert parse_date("2021-03-22T00:30", tz="Asia/Tehran") == utc("2021-03-21 20:30")


def test_dst_midnight_repeated_in_havana_is_the_first_occurrence():
    # Cuba set clocks back from 2024-11-03 01:00 CDT (-04:00) to 00:00 CST (-05:00):
    # midnight happens twice; the day starts at the first one, 04:00Z.
    t = period_table("2024-11-02", "2024-11-05", period="day", tz="America/Havana")
    start, end = _day(t, "2024-11-03")
    assert start == utc("2024-11-03 04:00") and end == utc("2024-11-04 05:00")


def test_tz_defaults_to_the_start_timezone():
    t = period_table(
        ts("2025-03-29", "Europe/Berlin"), ts("2025-04-02", "Europe/Berlin"), period="month"
    )
    assert str(t["period_start"].dt.tz) == "Europe/Berlin"
    assert t["period_start"].iloc[0] == utc("2025-02-28 23:00")
    assert t["period_end"].iloc[0] == utc("2025-03-31 22:00")


# ---------------------------------------------------------------------------
# parse_date / format_date
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "calendar", "tz", "expected"),
    [
        ("1404-01-01", "jalali", "Asia/Tehran", ts("2025-03-21", "Asia/Tehran")),
        # 1403 is a leap year: its Esfand 30 is the day before 1404-01-01
        ("1403-12-30", "jalali", "Asia/Tehran", ts("2025-03-20", "Asia/Tehran")),
        ("1404/07/13", "jalali", "UTC", utc("2025-10-05")),
        ("۱۴۰۴-۰۷-۱۳", "jalali", "UTC", utc("2025-10-05")),
        ("2025-10-05", "gregorian", "Europe/Berlin", utc("2025-10-04 22:00")),
        ("2025-10-05 09:30", "gregorian", "Europe/Berlin", utc("2025-10-05 07:30")),
        ("2025-10-05T09:30+02:00", "gregorian", "UTC", utc("2025-10-05 07:30")),
        ("2025-10-05T09:30:15Z", "gregorian", "Asia/Tehran", utc("2025-10-05 09:30:15")),
        ("2025-10-05T09:30:15.25-0500", "gregorian", "UTC", utc("2025-10-05 14:30:15.25")),
        ("1404-07-13T09:30-05:00", "jalali", "Asia/Tehran", utc("2025-10-05 14:30")),
    ],
)
def test_parse_date_text(value, calendar, tz, expected):
    got = parse_date(value, calendar=calendar, tz=tz)
    assert got == expected
    assert str(got.tz) == tz


def test_parse_date_objects():
    tehran = "Asia/Tehran"
    assert parse_date(dt.date(2025, 3, 21), tz=tehran) == ts("2025-03-21", tehran)
    assert parse_date(dt.datetime(2025, 3, 21, 8), tz=tehran) == ts("2025-03-21 08:00", tehran)
    aware = dt.datetime(2025, 3, 21, 8, tzinfo=dt.UTC)
    assert parse_date(aware, tz=tehran) == utc("2025-03-21 08:00")
    assert parse_date(jdatetime.date(1404, 1, 1), tz=tehran) == ts("2025-03-21", tehran)
    assert parse_date(np.datetime64("2025-03-21T08:00"), tz="UTC") == utc("2025-03-21 08:00")
    naive = parse_date("2025-03-21", tz=None)
    assert naive.tz is None and naive == pd.Timestamp("2025-03-21")


@pytest.mark.parametrize(
    ("value", "calendar", "words"),
    [
        ("1404-13-01", "jalali", ["'1404-13-01'", "Jalali", "month 13", "YYYY-MM-DD"]),
        ("1404-12-30", "jalali", ["Esfand 1404 has 29 days", "not a leap year", "Jalali"]),
        ("1404-07-31", "jalali", ["Mehr 1404 has 30 days"]),
        ("2025-02-29", "gregorian", ["February 2025 has 28 days", "not a leap year"]),
        ("garbage", "gregorian", ["'garbage'", "YYYY-MM-DD", "Gregorian"]),
        ("05/10/2025", "gregorian", ["YYYY-MM-DD"]),
        ("2025-10-05T25:00", "gregorian", ["25:00"]),
        ("2025-10-05T10:00+25:00", "gregorian", ["offset"]),
        ("", "jalali", ["YYYY-MM-DD", "Jalali"]),
        # the calendar looks wrong: the fix says which one to pass
        ("1404-13-01", "gregorian", ["calendar='jalali'"]),
        ("2025-12-31", "jalali", ["calendar='gregorian'"]),
        # a valid date, but in the other calendar: out of the supported range
        ("2025-10-05", "jalali", ["Gregorian 2646", "calendar='gregorian'"]),
        ("1404-07-13", "gregorian", ["year 1404", "calendar='jalali'"]),
    ],
)
def test_parse_date_bad_text(value, calendar, words):
    with pytest.raises(SettingsError) as info:
        parse_date(value, calendar=calendar)
    assert isinstance(info.value, ValueError) and isinstance(info.value, SalesnbError)
    assert info.value.source == "date"
    for word in words:
        assert word in str(info.value)


@pytest.mark.parametrize("value", [None, pd.NaT, 20251005, 3.5])
def test_parse_date_bad_objects(value):
    with pytest.raises(SettingsError, match="date"):
        parse_date(value)


def test_format_date_and_datetime():
    t = ts("2025-10-05 09:30", "Asia/Tehran")
    assert format_date(t, calendar="gregorian") == "2025-10-05"
    assert format_date(t, calendar="jalali") == "1404-07-13"
    # 2025-10-04 22:00Z is already 5 October in Tehran: the local date is written
    assert (
        format_date(utc("2025-10-04 22:00").tz_convert("Asia/Tehran"), calendar="jalali")
        == "1404-07-13"
    )
    assert format_datetime(t, calendar="jalali") == "1404-07-13T09:30:00+03:30"
    assert format_datetime(pd.Timestamp("2025-10-05 09:30:00.5")) == "2025-10-05T09:30:00.5"
    assert format_date(pd.NaT) == ""


@settings(max_examples=150, deadline=None)
@given(
    moment=st.datetimes(min_value=dt.datetime(1990, 1, 1), max_value=dt.datetime(2060, 1, 1)),
    calendar=st.sampled_from(CALENDARS),
    tz=st.sampled_from(["UTC", "Asia/Tehran", "America/New_York", "Asia/Kolkata"]),
)
def test_format_then_parse_round_trips(moment, calendar, tz):
    t = pd.Timestamp(moment).tz_localize(tz, ambiguous=True, nonexistent="shift_forward")
    assert parse_date(format_datetime(t, calendar=calendar), calendar=calendar, tz=tz) == t


# ---------------------------------------------------------------------------
# period_bounds
# ---------------------------------------------------------------------------


def test_period_bounds_examples():
    tehran = "Asia/Tehran"
    assert period_bounds("2025-10") == (utc("2025-10-01"), utc("2025-11-01"))
    assert period_bounds("2025-Q3") == (utc("2025-07-01"), utc("2025-10-01"))
    assert period_bounds("2025") == (utc("2025-01-01"), utc("2026-01-01"))
    assert period_bounds("2025-10-05") == (utc("2025-10-05"), utc("2025-10-06"))
    # Aban 1404 = 2025-10-23 .. 2025-11-22 (Aban has 30 days)
    assert period_bounds("1404-08", calendar="jalali", tz=tehran) == (
        ts("2025-10-23", tehran),
        ts("2025-11-22", tehran),
    )
    start, end = period_bounds("1404-Q2", calendar="jalali", tz=tehran)
    assert start.tz_localize(None) == jalali_first(1404, 4)
    assert end.tz_localize(None) == jalali_first(1404, 7)
    assert period_bounds("1404", calendar="jalali", tz=tehran)[0] == ts("2025-03-21", tehran)


@pytest.mark.parametrize(
    ("label", "kwargs", "words"),
    [
        ("2025-13", {}, ["month 13"]),
        ("2025-Q5", {}, ["quarter 5"]),
        ("2025-W53", {}, ["week 53", "2025"]),
        ("1404-12-30", {"calendar": "jalali"}, ["Esfand 1404 has 29 days"]),
        ("October 2025", {}, ["'October 2025'", "2025-Q3"]),
        ("FY2025", {}, ["fiscal_year_start"]),
        ("FY2025-07", {"fiscal_year_start": 4}, ["fiscal years or quarters"]),
    ],
)
def test_period_bounds_bad_labels(label, kwargs, words):
    with pytest.raises(SettingsError) as info:
        period_bounds(label, **kwargs)
    for word in words:
        assert word in str(info.value)


@settings(max_examples=300, deadline=None)
@given(
    moment=st.datetimes(min_value=dt.datetime(1995, 1, 1), max_value=dt.datetime(2045, 1, 1)),
    period=st.sampled_from(PERIODS),
    calendar=st.sampled_from(CALENDARS),
    week_start=st.sampled_from([None, *WEEKDAYS]),
    fiscal_year_start=st.integers(1, 12),
    tz=st.sampled_from(["UTC", "Asia/Tehran", "Europe/Berlin", "America/New_York"]),
)
def test_period_bounds_round_trips_period_table(
    moment, period, calendar, week_start, fiscal_year_start, tz
):
    options = {
        "calendar": calendar,
        "week_start": week_start,
        "fiscal_year_start": fiscal_year_start,
    }
    t = pd.Timestamp(moment).tz_localize(tz, ambiguous=True, nonexistent="shift_forward")
    table = period_table(t, t + pd.Timedelta(1, "ns"), period=period, tz=tz, **options)
    assert len(table) == 1
    row = table.iloc[0]
    assert row["period_start"] <= t < row["period_end"]
    assert period_bounds(row["period"], tz=tz, **options) == (
        row["period_start"],
        row["period_end"],
    )
    # assign_periods puts the same moment in the same period
    assigned = assign_periods(pd.Series([t]), period=period, **options)
    assert assigned.iloc[0].tolist() == row.tolist()


# ---------------------------------------------------------------------------
# fiscal years
# ---------------------------------------------------------------------------


def test_fiscal_quarters_gregorian_april():
    # fiscal year starting in April, named after the year it starts in
    t = period_table("2025-01-01", "2026-06-01", period="quarter", fiscal_year_start=4)
    assert t["period"].tolist() == [
        "FY2024-Q4",  # Jan-Mar 2025 closes FY2024 (Apr 2024 - Mar 2025)
        "FY2025-Q1",  # Apr-Jun 2025
        "FY2025-Q2",
        "FY2025-Q3",
        "FY2025-Q4",  # Jan-Mar 2026
        "FY2026-Q1",
    ]
    starts = [
        utc(d)
        for d in [
            "2025-01-01",
            "2025-04-01",
            "2025-07-01",
            "2025-10-01",
            "2026-01-01",
            "2026-04-01",
        ]
    ]
    assert t["period_start"].tolist() == starts
    assert period_bounds("FY2025-Q4", fiscal_year_start=4) == (utc("2026-01-01"), utc("2026-04-01"))
    # a label without FY is a calendar quarter whatever fiscal_year_start says
    assert period_bounds("2025-Q1", fiscal_year_start=4) == (utc("2025-01-01"), utc("2025-04-01"))


def test_fiscal_years_gregorian_july():
    t = period_table("2025-01-01", "2026-01-01", period="year", fiscal_year_start=7)
    assert t["period"].tolist() == ["FY2024", "FY2025"]
    assert t["period_start"].tolist() == [utc("2024-07-01"), utc("2025-07-01")]
    assert t["period_end"].tolist() == [utc("2025-07-01"), utc("2026-07-01")]


def test_fiscal_quarters_jalali_tir():
    # fiscal year from Tir (month 4): FY1403 = 1403-04-01 .. 1404-04-01
    t = period_table(
        "1403-04-01", "1404-04-01", period="quarter", calendar="jalali", fiscal_year_start=4
    )
    assert t["period"].tolist() == ["FY1403-Q1", "FY1403-Q2", "FY1403-Q3", "FY1403-Q4"]
    firsts = [
        jalali_first(1403, 4),
        jalali_first(1403, 7),
        jalali_first(1403, 10),
        jalali_first(1404, 1),
    ]
    assert [x.tz_localize(None) for x in t["period_start"]] == firsts
    start, end = period_bounds("FY1403", calendar="jalali", fiscal_year_start=4)
    assert (start.tz_localize(None), end.tz_localize(None)) == (
        jalali_first(1403, 4),
        jalali_first(1404, 4),
    )


def test_fiscal_year_start_does_not_change_months_or_weeks():
    a = period_table("2025-01-01", "2025-06-01", period="month", fiscal_year_start=4)
    assert a["period"].tolist() == ["2025-01", "2025-02", "2025-03", "2025-04", "2025-05"]
    w = period_table("2025-01-01", "2025-01-08", period="week", fiscal_year_start=4)
    assert w["period"].tolist() == ["2025-W01", "2025-W02"]


# ---------------------------------------------------------------------------
# assign_periods
# ---------------------------------------------------------------------------


def test_assign_periods_keeps_index_and_gives_missing_for_nat():
    times = pd.Series(
        [utc("2025-02-10 08:00"), pd.NaT, utc("2025-01-01")], index=["a", "b", "c"]
    ).dt.tz_convert("Asia/Tehran")
    out = assign_periods(times, period="month", calendar="jalali")
    assert list(out.columns) == ["period", "period_start", "period_end"]
    assert out.index.tolist() == ["a", "b", "c"]
    # 2025-02-10 = 22 Bahman 1403; 2025-01-01 03:30 Tehran = 12 Dey 1403
    assert out.loc["a", "period"] == "1403-11" and out.loc["c", "period"] == "1403-10"
    assert out.loc[["b"]].isna().all(axis=None)
    assert out.loc["a", "period_start"].tz_localize(None) == jalali_first(1403, 11)


def test_assign_periods_naive_and_empty():
    naive = pd.Series(pd.to_datetime(["2025-03-30 12:00", "2025-12-31 23:59"]))
    out = assign_periods(naive, period="quarter")
    assert out["period"].tolist() == ["2025-Q1", "2025-Q4"]
    assert out["period_start"].dt.tz is None
    assert out["period_end"].tolist() == [pd.Timestamp("2025-04-01"), pd.Timestamp("2026-01-01")]
    empty = assign_periods(pd.Series([], dtype="datetime64[us, UTC]"), period="day")
    assert empty.empty and list(empty.columns) == ["period", "period_start", "period_end"]
    all_nat = assign_periods(
        pd.Series([pd.NaT, pd.NaT], dtype="datetime64[ns, UTC]"), period="week"
    )
    assert all_nat.isna().all(axis=None) and len(all_nat) == 2


def test_assign_periods_rejects_text():
    with pytest.raises(SettingsError, match="datetime"):
        assign_periods(pd.Series(["2025-01-01"], name="created_at"), period="day")


def test_assign_periods_on_many_rows_matches_jdatetime():
    # Speed is measured in benchmarks/, not here: this checks correctness at volume.
    rng = np.random.default_rng(7)
    n = 300_000
    lo, hi = utc("2019-01-01").value, utc("2026-01-01").value
    times = pd.Series(pd.to_datetime(rng.integers(lo, hi, n), utc=True)).dt.tz_convert(
        "Asia/Tehran"
    )
    times.iloc[::997] = pd.NaT
    out = assign_periods(times, period="month", calendar="jalali")
    valid = times.notna()
    assert out["period"].isna().sum() == (~valid).sum()
    assert ((out["period_start"] <= times) & (times < out["period_end"]))[valid].all()
    # a sample against jdatetime: the label is the Jalali year-month of the local date
    for i in rng.choice(np.flatnonzero(valid.to_numpy()), 200, replace=False):
        j = jdatetime.date.fromgregorian(date=times.iloc[i].date())
        assert out["period"].iloc[i] == f"{j.year}-{j.month:02d}"


# ---------------------------------------------------------------------------
# comparison windows
# ---------------------------------------------------------------------------


def jalali_day(y: int, m: int, d: int, tz: str = "Asia/Tehran") -> pd.Timestamp:
    return pd.Timestamp(jdatetime.date(y, m, d).togregorian()).tz_localize(tz)


def test_previous_and_year_ago_of_a_jalali_month():
    mehr = (jalali_day(1404, 7, 1), jalali_day(1404, 8, 1))  # 30 days
    # the previous month is Shahrivar, 31 days
    assert previous_window(*mehr, calendar="jalali") == (jalali_day(1404, 6, 1), mehr[0])
    assert year_ago_window(*mehr, calendar="jalali") == (
        jalali_day(1403, 7, 1),
        jalali_day(1403, 8, 1),
    )
    # Esfand 1403 has 30 days, Esfand 1402 has 29
    esfand = (jalali_day(1403, 12, 1), jalali_day(1404, 1, 1))
    assert year_ago_window(*esfand, calendar="jalali") == (
        jalali_day(1402, 12, 1),
        jalali_day(1403, 1, 1),
    )


def test_previous_and_year_ago_of_gregorian_periods():
    q1 = period_bounds("2025-Q1")
    assert previous_window(*q1) == (utc("2024-10-01"), utc("2025-01-01"))
    assert year_ago_window(*q1) == (utc("2024-01-01"), utc("2024-04-01"))
    # weeks go back 52 weeks = 364 days: Monday 2025-02-10 -> Monday 2024-02-12
    week = period_bounds("2025-W07")
    assert previous_window(*week) == (utc("2025-02-03"), utc("2025-02-10"))
    assert year_ago_window(*week) == (utc("2024-02-12"), utc("2024-02-19"))


def test_windows_of_days_and_hours():
    # two days from 29 February 2024: one calendar year back is 28 February 2023
    # (clamped), still two days long
    assert year_ago_window(utc("2024-02-29"), utc("2024-03-02")) == (
        utc("2023-02-28"),
        utc("2023-03-02"),
    )
    assert previous_window(utc("2024-02-29"), utc("2024-03-02")) == (
        utc("2024-02-27"),
        utc("2024-02-29"),
    )
    # eight hours: previous by duration, year ago on the wall clock
    lo, hi = utc("2025-10-05 09:00"), utc("2025-10-05 17:00")
    assert previous_window(lo, hi) == (utc("2025-10-05 01:00"), lo)
    assert year_ago_window(lo, hi) == (utc("2024-10-05 09:00"), utc("2024-10-05 17:00"))
    # 1 Esfand 1403 .. 30 Esfand 1403 end is a single leap day: a year back it is
    # the last day of Esfand 1402, the 29th
    assert not jdatetime.date(1402, 1, 1).isleap()
    leap_day = (jalali_day(1403, 12, 30), jalali_day(1404, 1, 1))
    assert year_ago_window(*leap_day, calendar="jalali") == (
        jalali_day(1402, 12, 29),
        jalali_day(1403, 1, 1),
    )


def test_windows_across_dst_keep_local_midnights():
    berlin = "Europe/Berlin"
    # the day before 31 March 2025 is the 23-hour 30 March
    prev = previous_window(ts("2025-03-31", berlin), ts("2025-04-01", berlin))
    assert prev == (ts("2025-03-30", berlin), ts("2025-03-31", berlin))
    assert prev[1] - prev[0] == pd.Timedelta(hours=23)
    # March 2025 in Berlin (743 hours) compared with March 2024
    march = period_bounds("2025-03", tz=berlin)
    assert year_ago_window(*march) == (ts("2024-03-01", berlin), ts("2024-04-01", berlin))
    # Tehran day 2021-03-22 starts at 01:00; a year back, 2020-03-22 starts at 00:00
    # (in 2020 the clocks moved on 21 March)
    tehran = "Asia/Tehran"
    day = (ts("2021-03-22 01:00", tehran), ts("2021-03-23", tehran))
    assert day[0] == utc("2021-03-21 20:30")
    assert year_ago_window(*day) == (ts("2020-03-22", tehran), ts("2020-03-23", tehran))


def test_shift_window_clamps_the_day_of_month():
    # 31 August + 1 month -> 30 September (clamped), 31 Shahrivar + 1 month -> 30 Mehr
    assert shift_window(utc("2025-08-31 10:00"), utc("2025-08-31 12:00"), months=1) == (
        utc("2025-09-30 10:00"),
        utc("2025-09-30 12:00"),
    )
    got = shift_window(jalali_day(1404, 6, 31), jalali_day(1404, 7, 1), months=1, calendar="jalali")
    assert got == (jalali_day(1404, 7, 30), jalali_day(1404, 8, 1))
    assert shift_window(utc("2025-01-01"), utc("2025-01-02"), days=-1) == (
        utc("2024-12-31"),
        utc("2025-01-01"),
    )


# ---------------------------------------------------------------------------
# business days
# ---------------------------------------------------------------------------


def _bd(starts, ends, **kwargs) -> list[float]:
    s = pd.Series(pd.to_datetime(starts))
    e = pd.Series(pd.to_datetime(ends))
    return business_days_between(s, e, **kwargs).tolist()


def test_business_days_worked_examples():
    # Thu 2025-10-02 12:00 -> Sat 2025-10-04 12:00, weekend Friday:
    # 0.5 (Thursday afternoon) + 0 (Friday) + 0.5 (Saturday morning) = 1.0
    assert _bd(["2025-10-02 12:00"], ["2025-10-04 12:00"], weekend=["friday"]) == [1.0]
    # Fri 2025-10-03 09:00 -> Mon 2025-10-06 18:00, weekend Sat+Sun:
    # Friday 15 h = 0.625, Saturday and Sunday 0, Monday 18 h = 0.75: 1.375
    assert _bd(["2025-10-03 09:00"], ["2025-10-06 18:00"]) == [1.375]
    # Mon 2025-10-06 00:00 -> Thu 2025-10-09 00:00 with Tuesday a holiday:
    # Monday 1 + Tuesday 0 + Wednesday 1 = 2.0
    assert _bd(["2025-10-06"], ["2025-10-09"], holidays=["2025-10-07"]) == [2.0]
    assert _bd(["2025-10-06"], ["2025-10-09"], holidays=[dt.date(2025, 10, 7)]) == [2.0]
    # Saturday 10:00 -> Sunday 20:00: all weekend, 0
    assert _bd(["2025-10-04 10:00"], ["2025-10-05 20:00"]) == [0.0]
    # same business day, 06:00 -> 18:00: half a day
    assert _bd(["2025-10-06 06:00"], ["2025-10-06 18:00"]) == [0.5]
    # reversed: negative
    assert _bd(["2025-10-03 09:00"], ["2025-10-02 12:00"], weekend=[]) == [-0.875]
    # two weeks Mon -> Mon with weekend Sat+Sun: 10 business days
    assert _bd(["2025-10-06"], ["2025-10-20"]) == [10.0]


def test_business_days_iranian_week_and_nowruz():
    # weekend Friday; Nowruz holidays 2025-03-21 (a Friday anyway) .. 2025-03-24.
    # Wed 2025-03-19 12:00 -> Wed 2025-03-26 12:00:
    # Wed 0.5 + Thu 1 + Fri 0 + Sat..Mon holidays 0 + Tue 1 + Wed 0.5 = 3.0
    holidays = ["2025-03-21", "2025-03-22", dt.date(2025, 3, 23), dt.date(2025, 3, 24)]
    assert _bd(
        ["2025-03-19 12:00"], ["2025-03-26 12:00"], weekend=["friday"], holidays=holidays
    ) == [3.0]


def test_business_days_local_dates_and_missing_values():
    berlin = "Europe/Berlin"
    # Sat 2025-03-29 12:00 -> Mon 2025-03-31 12:00, no weekend: 0.5 + 1 + 0.5 = 2.0
    # although only 47 hours pass (the 30th lasts 23 hours)
    s = pd.Series([ts("2025-03-29 12:00", berlin), pd.NaT], index=[10, 11])
    e = pd.Series([ts("2025-03-31 12:00", berlin), ts("2025-04-01", berlin)], index=[10, 11])
    out = business_days_between(s, e, weekend=())
    assert out.index.tolist() == [10, 11] and out.name == "business_days"
    assert out.iloc[0] == 2.0 and np.isnan(out.iloc[1])
    # end in another zone is read in the start's zone: 2025-10-06 22:00Z is Tuesday
    # 00:00 in Berlin, so Monday 12:00 -> Tuesday 00:00 Berlin is half a day
    s = pd.Series([ts("2025-10-06 12:00", berlin)])
    e = pd.Series([utc("2025-10-06 22:00")])
    assert business_days_between(s, e).tolist() == [0.5]


def test_business_days_bad_settings():
    s = pd.Series(pd.to_datetime(["2025-10-06"]))
    with pytest.raises(OptionError, match="'fryday'"):
        business_days_between(s, s, weekend=["fryday"])
    with pytest.raises(SettingsError, match="1404-01-01x"):
        business_days_between(s, s, holidays=["1404-01-01x"])
    with pytest.raises(SettingsError, match="every day"):
        business_days_between(s, s, weekend=WEEKDAYS)
    with pytest.raises(ValueError, match="same index"):
        business_days_between(s, pd.Series(s.to_numpy(), index=[5]))
