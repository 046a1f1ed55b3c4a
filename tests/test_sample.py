"""Tests of the synthetic sample generator (``salesnb.sample``).

The properties checked here are the ones the rest of the test suite and the demos
rely on: the canonical layout's rules, the deliberate irregularities (skips,
regressions, missing history, missing terminal rows, ties, empties, mixed case),
determinism, and the "larger deals win less often and take longer" effect.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

from salesnb.data.sample import SampleTables, make_sample, write_sample

END = pd.Timestamp("2025-11-21")
OPEN_STAGES = ["lead", "qualified", "proposal", "negotiation"]
LOST_REASONS = {"price", "competitor", "no budget", "no decision", "timing", "lost contact"}
PERSIAN = re.compile("[\u0600-\u06ff]")


@pytest.fixture(scope="module")
def sample() -> SampleTables:
    return make_sample()


@pytest.fixture(scope="module")
def opps(sample: SampleTables) -> pd.DataFrame:
    return sample.opportunities


@pytest.fixture(scope="module")
def hist(sample: SampleTables) -> pd.DataFrame:
    return sample.stage_history


@pytest.fixture(scope="module")
def status(opps: pd.DataFrame) -> pd.Series:
    return opps["status"].str.lower()


@pytest.fixture(scope="module")
def merged(opps: pd.DataFrame, hist: pd.DataFrame, status: pd.Series) -> pd.DataFrame:
    """History rows with their opportunity's created_at, closed_at, status and stage."""
    cols = opps[["opportunity_id", "created_at", "closed_at", "stage"]].assign(status=status)
    out = hist.reset_index(names="row").merge(
        cols, on="opportunity_id", how="left", suffixes=("", "_opp"), validate="many_to_one"
    )
    return out.sort_values("row", kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------------------
# Determinism and files
# --------------------------------------------------------------------------------------


def test_same_seed_gives_identical_tables(sample: SampleTables) -> None:
    again = make_sample()
    pd.testing.assert_frame_equal(sample.opportunities, again.opportunities)
    pd.testing.assert_frame_equal(sample.stage_history, again.stage_history)
    assert sample.settings == again.settings


def test_different_seed_gives_different_tables(sample: SampleTables) -> None:
    other = make_sample(seed=2)
    assert len(other.opportunities) == len(sample.opportunities)
    assert not other.opportunities.equals(sample.opportunities)
    assert not other.stage_history.equals(sample.stage_history)


def test_sample_tables_unpacks() -> None:
    opps, hist, settings = make_sample(50, seed=3)
    assert len(opps) == 50
    assert list(hist.columns) == ["opportunity_id", "stage", "entered_at"]
    assert settings["stages"] == OPEN_STAGES


def test_write_sample_is_byte_identical(tmp_path: Path) -> None:
    a = write_sample(tmp_path / "a", n=300, seed=5)
    b = write_sample(tmp_path / "b", n=300, seed=5)
    c = write_sample(tmp_path / "c", n=300, seed=6)
    names = ["funnel.yml", "opportunities.csv", "stage_history.csv"]
    assert sorted(p.name for p in a.iterdir()) == names
    for name in names:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    assert (a / "opportunities.csv").read_bytes() != (c / "opportunities.csv").read_bytes()
    # writing again into the same folder overwrites with the same bytes
    before = (a / "stage_history.csv").read_bytes()
    assert write_sample(a, n=300, seed=5) == a
    assert (a / "stage_history.csv").read_bytes() == before


def test_write_sample_creates_nested_folder_and_returns_path(tmp_path: Path) -> None:
    out = write_sample(str(tmp_path / "x" / "y"), n=20)
    assert isinstance(out, Path)
    assert (out / "opportunities.csv").is_file()


def test_csv_format(tmp_path: Path) -> None:
    out = write_sample(tmp_path, n=400, seed=1)
    opp_bytes = (out / "opportunities.csv").read_bytes()
    hist_bytes = (out / "stage_history.csv").read_bytes()
    for raw in (opp_bytes, hist_bytes, (out / "funnel.yml").read_bytes()):
        assert not raw.startswith(b"\xef\xbb\xbf")
        assert b"\r" not in raw
        raw.decode("utf-8")
    lines = opp_bytes.decode("utf-8").splitlines()
    assert lines[0] == (
        "opportunity_id,owner,team,created_at,status,closed_at,amount,stage,"
        "lost_reason,account,product,source,currency"
    )
    iso = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}"
    row = re.compile(rf"^OPP-\d{{6}},[^,]+,[^,]+,{iso},[A-Za-z]+,({iso})?,(\d+)?,")
    assert all(row.match(line) for line in lines[1:]), [
        line for line in lines[1:] if not row.match(line)
    ][:3]
    hist_lines = hist_bytes.decode("utf-8").splitlines()
    assert hist_lines[0] == "opportunity_id,stage,entered_at"
    assert all(re.fullmatch(rf"OPP-\d{{6}},[a-z]+,{iso}", line) for line in hist_lines[1:])
    # the CSV reads back to the same values
    back = pd.read_csv(out / "opportunities.csv", dtype={"amount": "Int64"})
    expected = make_sample(400, seed=1).opportunities
    pd.testing.assert_series_equal(back["amount"], expected["amount"])
    assert (pd.to_datetime(back["created_at"]) == expected["created_at"]).all()


def test_funnel_yml_reads_back_as_settings(tmp_path: Path, sample: SampleTables) -> None:
    out = write_sample(tmp_path)
    assert yaml.safe_load((out / "funnel.yml").read_text(encoding="utf-8")) == sample.settings


def test_write_parquet(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    a = write_sample(tmp_path / "a", n=200, fmt="parquet")
    b = write_sample(tmp_path / "b", n=200, fmt="parquet")
    assert sorted(p.name for p in a.iterdir()) == [
        "funnel.yml",
        "opportunities.parquet",
        "stage_history.parquet",
    ]
    for name in ("opportunities.parquet", "stage_history.parquet"):
        assert (a / name).read_bytes() == (b / name).read_bytes()
    back = pd.read_parquet(a / "opportunities.parquet")
    expected = make_sample(200).opportunities
    assert back["opportunity_id"].tolist() == expected["opportunity_id"].tolist()
    assert (back["created_at"] == expected["created_at"]).all()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n": 0}, "n must be a positive integer"),
        ({"n": 2.5}, "n must be a positive integer"),
        ({"years": 0}, "years must be positive"),
        ({"end": "not a date"}, "end must be a timestamp"),
        ({"end": "2025-01-01T00:00:00+03:30"}, "naive"),
    ],
)
def test_bad_arguments(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make_sample(**kwargs)


def test_bad_format(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"`fmt` must be one of \['csv', 'parquet'\], but 'xlsx'"):
        write_sample(tmp_path, fmt="xlsx")  # type: ignore[arg-type]
    assert not any(tmp_path.iterdir())


# --------------------------------------------------------------------------------------
# Opportunities
# --------------------------------------------------------------------------------------


def test_opportunity_columns_and_types(opps: pd.DataFrame) -> None:
    assert list(opps.columns) == [
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
    ]
    assert len(opps) == 2000
    assert opps["opportunity_id"].is_unique
    assert opps["opportunity_id"].iloc[0] == "OPP-000001"
    assert opps["opportunity_id"].iloc[-1] == "OPP-002000"
    assert opps["created_at"].dtype.kind == "M"
    assert opps["closed_at"].dtype.kind == "M"
    assert str(opps["amount"].dtype) == "Int64"
    assert (opps["currency"] == "IRR").all()
    assert opps["created_at"].is_monotonic_increasing  # ids follow creation order
    for col in ("owner", "team", "created_at", "status", "account", "product", "source"):
        assert opps[col].notna().all(), col


def test_ids_widen_beyond_six_digits() -> None:
    from salesnb.data.sample import _opportunity_ids

    assert _opportunity_ids(3).to_pylist() == ["OPP-000001", "OPP-000002", "OPP-000003"]
    ids = _opportunity_ids(1_000_000)
    assert ids[0].as_py() == "OPP-0000001"
    assert ids[999_999].as_py() == "OPP-1000000"


def test_status_values_and_mixed_case(opps: pd.DataFrame, status: pd.Series) -> None:
    assert set(status) == {"open", "won", "lost"}
    capitalised = opps["status"] != status
    assert 0 < capitalised.sum() <= 0.03 * len(opps)
    assert set(opps.loc[capitalised, "status"]) <= {"Open", "Won", "Lost"}


def test_closing_rules(opps: pd.DataFrame, status: pd.Series) -> None:
    closed = status != "open"
    assert opps.loc[closed, "closed_at"].notna().all()
    assert opps.loc[~closed, "closed_at"].isna().all()
    assert (opps.loc[closed, "closed_at"] > opps.loc[closed, "created_at"]).all()
    assert (opps["created_at"] < END).all()
    assert (opps.loc[closed, "closed_at"] < END).all()


def test_stage_column(opps: pd.DataFrame, status: pd.Series) -> None:
    assert opps.loc[status == "won", "stage"].isna().all()
    assert opps.loc[status == "open", "stage"].isin(OPEN_STAGES).all()
    assert opps.loc[status == "lost", "stage"].isin(OPEN_STAGES).all()
    # open deals sit in every stage, lost deals were lost at every stage
    assert set(opps.loc[status == "open", "stage"]) == set(OPEN_STAGES)
    assert set(opps.loc[status == "lost", "stage"]) == set(OPEN_STAGES)


def test_lost_reasons(opps: pd.DataFrame, status: pd.Series) -> None:
    lost = status == "lost"
    assert opps.loc[~lost, "lost_reason"].isna().all()
    reasons = opps.loc[lost, "lost_reason"]
    assert set(reasons.dropna()) == LOST_REASONS
    assert 0.05 <= reasons.isna().mean() <= 0.15
    # the mix depends on the stage: price is a late-stage reason
    at = opps.loc[lost]
    price_share = (at["lost_reason"] == "price").groupby(at["stage"]).mean()
    assert price_share["negotiation"] > 3 * price_share["lead"]


def test_amounts(opps: pd.DataFrame) -> None:
    amount = opps["amount"]
    assert 0.01 <= amount.isna().mean() <= 0.06
    values = amount.dropna().astype("int64")
    assert values.min() >= 50_000_000
    assert values.max() <= 50_000_000_000
    assert (values % 100_000 == 0).all()
    # spread over orders of magnitude
    assert values.quantile(0.95) / values.quantile(0.05) > 30


def test_salespeople_and_teams(opps: pd.DataFrame) -> None:
    owners = set(opps["owner"])
    assert 8 <= len(owners) <= 12
    assert 2 <= opps["team"].nunique() <= 3
    persian = {o for o in owners if PERSIAN.search(o)}
    assert {"سارا محمدی", "علی رضایی", "مریم احمدی", "رضا کریمی"} <= persian
    assert len(owners - persian) >= 3  # some Latin names too
    assert opps.groupby("owner")["team"].nunique().max() == 1


def test_one_salesperson_has_few_open_deals(status: pd.Series, opps: pd.DataFrame) -> None:
    open_per_owner = (status == "open").groupby(opps["owner"]).sum()
    assert open_per_owner.min() < 0.3 * open_per_owner.median()
    late = str(opps.groupby("owner")["created_at"].min().idxmax())
    assert open_per_owner[late] == open_per_owner.min()
    assert opps.loc[opps["owner"] == late, "created_at"].min() > END - pd.Timedelta(days=60)


def test_owners_differ_in_skill_and_speed(opps: pd.DataFrame, status: pd.Series) -> None:
    closed = opps[status != "open"].assign(won=status[status != "open"] == "won")
    big = closed.groupby("owner").filter(lambda g: len(g) >= 50)
    rate = big.groupby("owner")["won"].mean()
    assert rate.max() - rate.min() > 0.15
    won = closed[closed["won"]]
    days = (won["closed_at"] - won["created_at"]).dt.total_seconds() / 86400
    median = days.groupby(won["owner"]).median()[rate.index]
    assert median.max() / median.min() > 1.3


def test_overall_rates(opps: pd.DataFrame, status: pd.Series) -> None:
    counts = status.value_counts()
    assert 0.25 <= counts["won"] / (counts["won"] + counts["lost"]) <= 0.35
    assert 0.15 <= counts["open"] / len(opps) <= 0.25
    # some open deals are old (stuck)
    age = END - opps.loc[status == "open", "created_at"]
    assert (age > pd.Timedelta(days=365)).sum() >= 10


def test_larger_deals_win_less_often_and_take_longer(opps: pd.DataFrame, status: pd.Series) -> None:
    closed = opps[(status != "open") & opps["amount"].notna()].copy()
    closed["won"] = status[closed.index] == "won"
    amount = closed["amount"].astype(float)
    top = closed[amount >= amount.quantile(0.75)]
    bottom = closed[amount <= amount.quantile(0.25)]
    assert top["won"].mean() < 0.6 * bottom["won"].mean()

    def cycle(frame: pd.DataFrame) -> float:
        won = frame[frame["won"]]
        return ((won["closed_at"] - won["created_at"]).dt.total_seconds() / 86400).median()

    assert cycle(top) > 1.5 * cycle(bottom)


def test_created_on_working_days_and_hours(opps: pd.DataFrame) -> None:
    created = opps["created_at"]
    friday = created.dt.day_of_week == 4
    assert 0 < friday.sum() <= 0.02 * len(created)
    thursday_share = (created.dt.day_of_week == 3).mean()
    saturday_share = (created.dt.day_of_week == 5).mean()
    assert thursday_share < 0.75 * saturday_share  # Thursday is a half day
    in_hours = created.dt.hour.between(8, 16)
    assert in_hours.mean() > 0.85
    assert (created.dt.second == 0).all()


def test_settings(sample: SampleTables) -> None:
    s = sample.settings
    assert s["stages"] == OPEN_STAGES
    assert (s["won"], s["lost"]) == ("won", "lost")
    assert s["timezone"] == "Asia/Tehran"
    assert s["currency"] == "IRR"
    assert s["calendar"] == "jalali"
    assert s["week_start"] == "saturday"
    assert s["weekend"] == ["friday"]
    holidays = s["holidays"]
    assert all(isinstance(d, dt.date) for d in holidays)
    assert holidays == sorted(set(holidays))
    # Nowruz: 1-4 Farvardin 1403 and 1404 (worked out from the Solar Hijri calendar)
    for first in (dt.date(2024, 3, 20), dt.date(2025, 3, 21)):
        assert {first + dt.timedelta(days=i) for i in range(4)} <= set(holidays)
    assert dt.date(2025, 2, 10) in holidays  # 22 Bahman 1403
    start = (END - pd.Timedelta(days=731)).date()
    assert all(start <= d < END.date() for d in holidays)


def test_no_deals_created_on_or_after_end_for_other_spans() -> None:
    opps, hist, settings = make_sample(3000, seed=4, end="2024-06-01T12:30", years=1.0)
    end = pd.Timestamp("2024-06-01T12:30")
    assert (opps["created_at"] < end).all()
    assert (opps["created_at"] >= end - pd.Timedelta(days=366)).all()
    assert (opps["closed_at"].dropna() < end).all()
    assert (hist["entered_at"] < end).all()
    # the clock runs up to `end`: on its last morning deals move and close
    last_morning = pd.Timestamp("2024-06-01T08:00")
    assert (hist["entered_at"] >= last_morning).any()
    assert (opps["closed_at"] >= last_morning).any()
    assert all(d <= end.date() for d in settings["holidays"])


# --------------------------------------------------------------------------------------
# Stage history
# --------------------------------------------------------------------------------------


def test_history_ids_and_labels(hist: pd.DataFrame, opps: pd.DataFrame) -> None:
    assert list(hist.columns) == ["opportunity_id", "stage", "entered_at"]
    assert hist["opportunity_id"].isin(opps["opportunity_id"]).all()
    assert set(hist["stage"]) == {*OPEN_STAGES, "won", "lost"}
    assert hist["entered_at"].notna().all()


def test_history_within_life(merged: pd.DataFrame) -> None:
    assert (merged["entered_at"] >= merged["created_at"]).all()
    closed = merged["closed_at"].notna()
    assert (merged.loc[closed, "entered_at"] <= merged.loc[closed, "closed_at"]).all()
    assert (merged["entered_at"] < END).all()


def test_history_in_time_order(hist: pd.DataFrame) -> None:
    ordered = hist.groupby("opportunity_id", sort=False)["entered_at"].apply(
        lambda s: s.is_monotonic_increasing
    )
    assert ordered.all()
    # rows of one opportunity are contiguous
    runs = (hist["opportunity_id"] != hist["opportunity_id"].shift()).sum()
    assert runs == hist["opportunity_id"].nunique()


def test_first_entry_is_lead_at_created_at(merged: pd.DataFrame) -> None:
    first = merged.groupby("opportunity_id", sort=False).head(1)
    assert (first["entered_at"] == first["created_at"]).all()
    assert (first["stage"] == "lead").all()


def test_open_deals_last_entry_is_current_stage(merged: pd.DataFrame) -> None:
    open_rows = merged[(merged["status"] == "open")]
    last = open_rows.groupby("opportunity_id", sort=False).tail(1)
    assert len(last) > 0
    assert (last["stage"] == last["stage_opp"]).all()


def test_lost_deals_last_open_stage_is_stage_lost(merged: pd.DataFrame) -> None:
    lost = merged[(merged["status"] == "lost") & merged["stage"].isin(OPEN_STAGES)]
    last = lost.groupby("opportunity_id", sort=False).tail(1)
    assert (last["stage"] == last["stage_opp"]).all()


def test_terminal_rows(merged: pd.DataFrame, opps: pd.DataFrame, status: pd.Series) -> None:
    terminal = merged[merged["stage"].isin(["won", "lost"])]
    assert (terminal["stage"] == terminal["status"]).all()
    assert (terminal["entered_at"] == terminal["closed_at"]).all()
    # a terminal row is the last row of its opportunity
    last = merged.groupby("opportunity_id", sort=False).tail(1)
    assert terminal.index.isin(last.index).all()
    # present for most closed deals with history, absent for some
    with_history = set(merged["opportunity_id"])
    closed_ids = set(opps.loc[status != "open", "opportunity_id"]) & with_history
    share = len(set(terminal["opportunity_id"])) / len(closed_ids)
    assert 0.7 <= share <= 0.97


def _open_stage_steps(hist: pd.DataFrame) -> pd.DataFrame:
    """Consecutive pairs of open-stage entries of the same opportunity, as stage ranks."""
    rows = hist[hist["stage"].isin(OPEN_STAGES)]
    rank = rows["stage"].map({s: i for i, s in enumerate(OPEN_STAGES)})
    same = rows["opportunity_id"] == rows["opportunity_id"].shift()
    step = pd.DataFrame({"from": rank.shift(), "to": rank})[same]
    return step.astype(int)


def test_skips_and_regressions(hist: pd.DataFrame) -> None:
    step = _open_stage_steps(hist)
    skips = step[step["to"] - step["from"] >= 2]
    backs = step[step["to"] < step["from"]]
    assert len(skips) >= 20
    assert {(0, 2)} <= set(zip(skips["from"], skips["to"], strict=True))  # lead -> proposal
    assert len(backs) >= 10
    assert (2, 1) in set(zip(backs["from"], backs["to"], strict=True))  # proposal -> qualified


def test_some_opportunities_have_no_history(opps: pd.DataFrame, hist: pd.DataFrame) -> None:
    without = ~opps["opportunity_id"].isin(hist["opportunity_id"])
    assert 0.02 <= without.mean() <= 0.08


def test_ties_in_entered_at(hist: pd.DataFrame) -> None:
    ties = hist.duplicated(["opportunity_id", "entered_at"], keep=False)
    assert 0 < ties.sum() <= 0.05 * len(hist)


def test_history_size(hist: pd.DataFrame, opps: pd.DataFrame) -> None:
    assert 2.5 <= len(hist) / len(opps) <= 4.0


# --------------------------------------------------------------------------------------
# Scale
# --------------------------------------------------------------------------------------


def test_larger_sample_keeps_the_rules() -> None:
    opps, hist, _ = make_sample(50_000, seed=11)
    assert len(opps) == 50_000
    assert opps["opportunity_id"].is_unique
    status = opps["status"].str.lower()
    closed = status != "open"
    assert (opps.loc[closed, "closed_at"] > opps.loc[closed, "created_at"]).all()
    assert opps.loc[~closed, "closed_at"].isna().all()
    created = opps.set_index("opportunity_id")["created_at"]
    entered = hist["entered_at"].to_numpy()
    assert (entered >= created.loc[hist["opportunity_id"]].to_numpy()).all()
    assert 2.5 <= len(hist) / len(opps) <= 4.0
    counts = status.value_counts(normalize=True)
    assert 0.15 <= counts["open"] <= 0.25
    assert 0.25 <= counts["won"] / (counts["won"] + counts["lost"]) <= 0.35
    assert hist["opportunity_id"].isin(opps["opportunity_id"]).all()


# --------------------------------------------------------------------------- field history (issue 15)
@pytest.fixture(scope="module")
def with_fields(sample: SampleTables) -> tuple[pd.DataFrame, pd.DataFrame]:
    from salesnb.data.sample import make_field_history

    return make_field_history(sample, seed=1)


def test_field_history_leaves_the_sample_as_it_was(sample: SampleTables,
                                                   with_fields: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    opps_fh, _ = with_fields
    again = make_sample()
    pd.testing.assert_frame_equal(sample.opportunities, again.opportunities)
    pd.testing.assert_frame_equal(opps_fh.drop(columns="expected_close_at"), again.opportunities)


def test_field_history_is_a_crms_record(with_fields: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    opps_fh, fields = with_fields
    assert list(fields.columns) == ["opportunity_id", "field", "value", "changed_at"]
    m = fields.merge(opps_fh[["opportunity_id", "created_at", "closed_at", "owner", "team", "amount",
                              "expected_close_at"]], on="opportunity_id", validate="many_to_one")
    assert (m["changed_at"] >= m["created_at"]).all()
    assert not (m["changed_at"] >= m["closed_at"]).any()        # closed: changes before the closing
    assert (m["changed_at"] < END).all()
    ordered = fields.groupby("opportunity_id", sort=False)["changed_at"].apply(
        lambda s: s.is_monotonic_increasing)
    assert ordered.all()
    last = m.groupby(["opportunity_id", "field"], sort=False).tail(1)
    amounts = last[last["field"] == "amount"]
    assert (amounts["value"].astype(float) == amounts["amount"].astype(float)).all()
    owners = last[last["field"] == "owner"]
    assert (owners["value"] == owners["owner"]).all() and len(owners) > 20
    first_owner = m[m["field"] == "owner"].groupby("opportunity_id").head(1)
    assert (first_owner["value"] != first_owner["owner"]).all()
    teams = opps_fh.drop_duplicates("owner").set_index("owner")["team"]
    assert (first_owner["value"].map(teams) == first_owner["team"]).all()  # within the team
    # an earlier owner had joined when the deal was created (the new hire joined 45 days before end)
    hire = first_owner[first_owner["value"] == "نگار حسینی"]
    assert (hire["created_at"] >= END - pd.Timedelta(days=45)).all()
    dates = last[(last["field"] == "expected_close_at") & last["expected_close_at"].notna()]
    assert (pd.to_datetime(dates["value"]) == dates["expected_close_at"]).all()
    is_open = opps_fh["closed_at"].isna()
    assert opps_fh.loc[is_open, "expected_close_at"].notna().all()
    assert opps_fh.loc[~is_open, "expected_close_at"].isna().all()
    moves = fields[fields["field"] == "expected_close_at"].groupby("opportunity_id").size() - 1
    assert (moves >= 2).sum() > 100 and moves.max() <= 4               # pushed twice and more
    overdue = (opps_fh.loc[is_open, "expected_close_at"] < END).sum()
    assert 0 < overdue < is_open.sum()


def test_the_movement_views_see_pushes_changes_and_reassignments(tmp_path: Path) -> None:
    import salesnb as sn
    from salesnb.cli import main

    assert main(["sample", str(tmp_path / "s"), "--n", "2000", "--seed", "1", "--field-history",
                 "--sqlite", str(tmp_path / "s.sqlite")]) == 0
    data = sn.load(tmp_path / "s")
    walk = sn.pipeline_movement(data, start="1404-06-01", end="1404-07-01", by="owner")
    assert walk["balanced"].all()
    total = walk.sum(numeric_only=True)
    for column in ("pulled_in_count", "pushed_out_count", "reassigned_in_count", "reassigned_out_count"):
        assert total[column] > 0, column
    assert total["increased_value"] > 0 and total["decreased_value"] > 0
    assert total["reassigned_in_count"] == total["reassigned_out_count"]
    overdue = sn.overdue_deals(data, as_of="1404-08-30")
    assert len(overdue) > 0
    # the database copy replays the same history
    same = sn.load(f"sqlite:///{tmp_path / 's.sqlite'}")
    pd.testing.assert_frame_equal(same.field_history, data.field_history)
    pd.testing.assert_frame_equal(
        sn.pipeline_movement(same, start="1404-06-01", end="1404-07-01", by="owner"), walk)
    assert "field history: " in data.describe() and "optional columns: expected_close_at" in data.describe()
