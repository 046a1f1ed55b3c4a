"""Pipeline movement between two moments (issue 15): the walk, stage movement, overdue deals.

The expected numbers of the hand-worked dataset below were worked out by hand from the
rows (see the comments), not read off the code. The property test checks that the walk
balances exactly on generated data with random field changes, and that its two ends are
what a second method (the engine's own replay, :func:`salesnb.open_opportunities` a
microsecond before each end) gives. Its example count is ``SALESNB_MOVEMENT_EXAMPLES``
(default 50).
"""

from __future__ import annotations

import json
import os
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import salesnb as sn
from salesnb.cli import main
from salesnb.exceptions import DataSchemaError, OptionError, WindowError
from salesnb.metrics.movement import MOVEMENT_COLUMNS, deals_from_rows, is_balanced, walk

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = str(ROOT / "data" / "sample")

# The window is March 2025 (UTC): [2025-03-01, 2025-04-01); the following period April.
START, END = "2025-03-01", "2025-04-01"
#   id owner  team created             status closed              amount expected_close_at
ROWS = [
    ("A", "Sara", "T1", "2025-01-10", "open", "", 100, "2025-06-15"),   # open throughout
    ("B", "Ali", "T1", "2025-02-01", "won", "2025-03-10", 200, ""),     # open at start, won
    ("C", "Reza", "T2", "2025-02-05", "lost", "2025-03-20", 50, ""),    # open at start, lost
    ("D", "Sara", "T1", "2025-03-05", "won", "2025-03-25", 70, ""),     # created and won inside
    ("E", "Ali", "T1", "2025-03-01", "open", "", 30, "2025-03-20"),     # created exactly at start
    ("F", "Reza", "T2", "2025-02-10", "won", "2025-04-01", 40, ""),     # closed exactly at end
    ("G", "Sara", "T1", "2025-01-20", "lost", "2025-03-01", 60, ""),    # closed exactly at start
    ("H", "Ali", "T1", "2025-01-15", "open", "", 120, ""),              # 100 -> 180 -> 120
    ("I", "Reza", "T2", "2025-02-01", "open", "", 90, "2025-05-20"),    # close date pushed twice
    ("J", "Reza", "T1", "2025-02-01", "open", "", 150, ""),             # Sara's, moved to Reza
    ("K", "Sara", "T1", "2025-02-20", "open", "", 80, "2025-04-15"),    # pulled into April
    ("L", "Ali", "T1", "2025-02-25", "open", "", 25, "2025-07-01"),     # pushed out of April
    ("M", "Reza", "T2", "2025-03-22", "open", "", None, ""),            # created, no amount
    ("N", "Sara", "T1", "2025-04-01", "open", "", 999, ""),             # created exactly at end
    ("O", "Ali", "T1", "2025-01-05", "won", "2025-02-15", 500, ""),     # closed before start
]
FIELDS = pd.DataFrame([
    ("H", "amount", "100", "2025-01-15"), ("H", "amount", "180", "2025-03-10"),
    ("H", "amount", "120", "2025-03-20"),
    ("I", "expected_close_at", "2025-03-15", "2025-02-01"), ("I", "expected_close_at", "2025-04-10", "2025-03-16"),
    ("I", "expected_close_at", "2025-05-20", "2025-03-28"),
    ("J", "owner", "Sara", "2025-02-01"), ("J", "owner", "Reza", "2025-03-12"),
    ("K", "expected_close_at", "2025-06-30", "2025-02-20"), ("K", "expected_close_at", "2025-04-15", "2025-03-05"),
    ("L", "expected_close_at", "2025-04-20", "2025-02-25"), ("L", "expected_close_at", "2025-07-01", "2025-03-18"),
], columns=["opportunity_id", "field", "value", "changed_at"])
HISTORY = pd.DataFrame([
    ("A", "lead", "2025-01-10"), ("A", "qualified", "2025-02-01"), ("A", "proposal", "2025-03-10"),
    ("J", "proposal", "2025-02-01"), ("J", "qualified", "2025-03-15"),
    ("K", "lead", "2025-02-20"), ("E", "lead", "2025-03-01"),
    ("B", "negotiation", "2025-02-01"), ("B", "won", "2025-03-10"),
], columns=["opportunity_id", "stage", "entered_at"])
SETTINGS = {"stages": ["lead", "qualified", "proposal", "negotiation"]}


def _opps() -> pd.DataFrame:
    cols = ["opportunity_id", "owner", "team", "created_at", "status", "closed_at", "amount", "expected_close_at"]
    return pd.DataFrame(ROWS, columns=cols).astype({"amount": "object"})


@pytest.fixture(scope="module")
def data() -> sn.SalesData:
    return sn.SalesData.from_frames(_opps(), HISTORY, settings=SETTINGS, field_history=FIELDS)


def _row(table: pd.DataFrame, col: str, group: str) -> dict[str, Any]:
    return table.set_index(col).loc[group].to_dict()  # type: ignore[no-any-return]


def _numbers(**given: int) -> dict[str, int]:
    """All movement numbers, zero unless given."""
    return {c: given.get(c, 0) for c in MOVEMENT_COLUMNS}


# --------------------------------------------------------------------------- hand-worked
def test_the_total_walk_by_hand(data: sn.SalesData) -> None:
    t = sn.pipeline_movement(data, start=START, end=END)
    assert list(t.columns) == ["group", *MOVEMENT_COLUMNS, "balanced"] and len(t) == 1
    row = _row(t, "group", "(all)")
    # open at start: A 100, B 200, C 50, F 40, G 60 (closed exactly at start), H 100 (its amount
    # before 03-01), I 90, J 150, K 80, L 25 = 10 deals, 895; O closed before, E created at start.
    # created: D 70, E 30, M (no amount) = 3, 100; N is created exactly at the end: next window.
    # H: +80 on 03-10, -60 on 03-20. won: B 200, D 70 (F is won at the end: next window).
    # lost: C 50, G 60. open at end: A 100, E 30, F 40, H 120, I 90, J 150, K 80, L 25, M = 9, 635.
    # April: K's date moved into it (from June), L's out of it (to July); I's moved 03-15 ->
    # 04-10 -> 05-20 (in and out of April within the window: neither).
    expected = _numbers(open_start_count=10, open_start_value=895, created_count=3, created_value=100,
                        increased_value=80, decreased_value=60, won_count=2, won_value=270,
                        lost_count=2, lost_value=110, open_end_count=9, open_end_value=635,
                        pulled_in_count=1, pulled_in_value=80, pushed_out_count=1, pushed_out_value=25)
    assert {c: row[c] for c in MOVEMENT_COLUMNS} == expected
    assert row["balanced"] is True
    assert t.attrs["excluded"]["created_without_amount"] == 1
    assert t.attrs["excluded"]["open_end_without_amount"] == 1
    assert t.attrs["following"] == (pd.Timestamp("2025-04-01", tz="UTC"), pd.Timestamp("2025-05-01", tz="UTC"))
    assert t.attrs["notes"] == []


def test_a_reassigned_deal_moves_between_owners_and_each_owner_balances(data: sn.SalesData) -> None:
    t = sn.pipeline_movement(data, start=START, end=END, by="owner")
    assert t["owner"].tolist() == ["Ali", "Reza", "Sara"] and t["balanced"].all()
    # Sara: A 100, G 60, J 150 (hers until 03-12), K 80 at the start; D created and won; G
    # lost; J moved to Reza; A and K open at the end; K pulled into April.
    assert {c: _row(t, "owner", "Sara")[c] for c in MOVEMENT_COLUMNS} == _numbers(
        open_start_count=4, open_start_value=390, created_count=1, created_value=70,
        reassigned_out_count=1, reassigned_out_value=150, won_count=1, won_value=70,
        lost_count=1, lost_value=60, open_end_count=2, open_end_value=180, pulled_in_count=1, pulled_in_value=80)
    # Ali: B 200, H 100, L 25; E created; H +80 -60; B won; L pushed out of April.
    assert {c: _row(t, "owner", "Ali")[c] for c in MOVEMENT_COLUMNS} == _numbers(
        open_start_count=3, open_start_value=325, created_count=1, created_value=30, increased_value=80,
        decreased_value=60, won_count=1, won_value=200, open_end_count=3, open_end_value=175,
        pushed_out_count=1, pushed_out_value=25)
    # Reza: C 50, F 40, I 90; M created without an amount; J in from Sara; C lost.
    assert {c: _row(t, "owner", "Reza")[c] for c in MOVEMENT_COLUMNS} == _numbers(
        open_start_count=3, open_start_value=180, created_count=1, reassigned_in_count=1,
        reassigned_in_value=150, lost_count=1, lost_value=50, open_end_count=4, open_end_value=280)


def test_grouped_by_team_a_deal_keeps_its_team(data: sn.SalesData) -> None:
    t = sn.pipeline_movement(data, start=START, end=END, by="Team")
    assert t["team"].tolist() == ["T1", "T2"] and t["balanced"].all()
    assert (t["reassigned_in_count"] == 0).all() and (t["reassigned_out_count"] == 0).all()
    # T2: C 50, F 40, I 90 open at the start; M created; C lost.
    t2 = _row(t, "team", "T2")
    assert (t2["open_start_count"], t2["open_start_value"], t2["open_end_count"], t2["open_end_value"]) == \
        (3, 180, 3, 130)
    assert int(t["open_end_count"].sum()) == 9


def test_each_period_walks_its_part_and_the_ends_chain(data: sn.SalesData) -> None:
    t = sn.pipeline_movement(data, start="2025-02-01", end=END, period="month")
    assert t["period"].tolist() == ["2025-02", "2025-03"] and t["balanced"].all()
    feb, mar = t.iloc[0], t.iloc[1]
    assert (feb["open_end_count"], feb["open_end_value"]) == (mar["open_start_count"], mar["open_start_value"])
    # February: open at its start A, H, G, O; created B, C, F, I, J, K, L; O won on 02-15.
    assert (feb["open_start_count"], feb["created_count"], feb["won_count"]) == (4, 7, 1)
    assert mar["pulled_in_count"] == 1 and t.attrs["following"][1] == (
        pd.Timestamp("2025-04-01", tz="UTC"), pd.Timestamp("2025-05-01", tz="UTC"))


def test_without_field_history_fields_are_constant_and_it_says_so() -> None:
    data = sn.SalesData.from_frames(_opps(), HISTORY, settings=SETTINGS)
    t = sn.pipeline_movement(data, start=START, end=END, by="owner")
    assert t["balanced"].all() and (t[["increased_value", "decreased_value"]] == 0).all().all()
    assert (t["reassigned_in_count"] == 0).all()
    assert any("no field history" in note for note in t.attrs["notes"])
    # H is 120 throughout; J is Reza's throughout.
    assert _row(t, "owner", "Reza")["open_start_count"] == 4
    assert _row(t, "owner", "Ali")["open_start_value"] == 345


def test_values_balance_to_the_last_decimal() -> None:
    # 0.1 + 0.2 is not 0.3 in floats; the walk adds the amounts as written.
    opps = pd.DataFrame({"opportunity_id": ["a", "b", "c"], "owner": ["x"] * 3,
                         "created_at": ["2025-01-01", "2025-03-02", "2025-03-03"],
                         "status": ["won", "open", "open"], "closed_at": ["2025-03-05", "", ""],
                         "amount": [0.1, 0.2, 0.3]})
    t = sn.pipeline_movement(sn.SalesData.from_frames(opps), start=START, end=END)
    exact = t.attrs["exact"][0]
    assert exact["open_end_value"] == Decimal("0.5") and exact["created_value"] == Decimal("0.5")
    assert bool(t["balanced"].iloc[0])


def test_stage_movement_by_hand(data: sn.SalesData) -> None:
    t = sn.stage_movement(data, start=START, end=END)
    got = {(r["from_stage"], r["to_stage"], r["movement"]): (r["count"], r["value"]) for r in t.to_dict("records")}
    assert got == {
        ("qualified", "proposal", "advanced"): (1, 100),        # A
        ("negotiation", "(won)", "won"): (1, 200),             # B
        ("(unknown)", "(lost)", "lost"): (2, 110),             # C, G: no stage history
        ("(new)", "(won)", "won"): (1, 70),                    # D
        ("(new)", "lead", "new"): (1, 30),                     # E
        ("(new)", "(unknown)", "new"): (1, 0),                 # M, no amount
        ("(unknown)", "(unknown)", "unknown"): (4, 275),       # F 40, H 120, I 90, L 25
        ("proposal", "qualified", "slipped back"): (1, 150),   # J
        ("lead", "lead", "unchanged"): (1, 80),                # K
    }
    assert t.attrs["excluded"] == {"without_amount": 1}
    owners = sn.stage_movement(data, start=START, end=END, by="owner")
    assert set(owners.columns) == {"owner", "from_stage", "to_stage", "movement", "count", "value"}
    assert owners.loc[owners["movement"] == "slipped back", "owner"].tolist() == ["Reza"]


def test_overdue_and_pushed_deals(data: sn.SalesData) -> None:
    t = sn.overdue_deals(data, as_of=END)
    # Open at 04-01 with a date: A (06-15), E (03-20: overdue 12 days), I (pushed 03-15 -> 04-10
    # -> 05-20: twice), K (06-30 -> 04-15: earlier, not a push), L (04-20 -> 07-01: once).
    assert t[["opportunity_id", "overdue", "pushes"]].values.tolist() == [
        ["E", True, 0], ["I", False, 2], ["L", False, 1]]
    assert t["days_overdue"].iloc[0] == 12.0 and pd.isna(t["days_overdue"].iloc[1])
    assert t["first_expected_close_at"].iloc[1] == pd.Timestamp("2025-03-15", tz="UTC")
    assert t["stage"].iloc[0] == "lead"
    # Open then without a date: H, J, M, N (F was won at 04-01).
    assert t.attrs["excluded"] == {"no_expected_close": 4} and t.attrs["open"] == 9
    # Earlier, I's date 03-15 had passed and it had been pushed once.
    early = sn.overdue_deals(data, as_of="2025-03-17").set_index("opportunity_id")
    assert early.loc["I", "pushes"] == 1 and not early.loc["I", "overdue"]


def test_overdue_needs_expected_close_dates() -> None:
    data = sn.SalesData.from_frames(_opps().drop(columns="expected_close_at"), settings=SETTINGS)
    with pytest.raises(DataSchemaError, match="expected_close_at"):
        sn.overdue_deals(data, as_of=END)
    t = sn.pipeline_movement(data, start=START, end=END)
    assert any("expected_close_at" in note for note in t.attrs["notes"])
    assert t["pulled_in_count"].iloc[0] == 0


def test_clear_errors(data: sn.SalesData) -> None:
    with pytest.raises(OptionError, match="`by`"):
        sn.pipeline_movement(data, start=START, end=END, by="region")
    with pytest.raises(WindowError, match="empty"):
        sn.pipeline_movement(data, start=END, end=START)
    with pytest.raises(OptionError, match="`period`"):
        sn.pipeline_movement(data, start=START, end=END, period="fortnight")


def _change(key: int, name: str, at: int, seq: int, value: Any) -> dict[str, Any]:
    column = {"amount": "value_number", "owner": "value_text", "expected_close_at": "value_time"}[name]
    return {"opp_key": key, "field": name, "changed_at": at, "seq": seq, "value_text": None,
            "value_number": None, "value_time": None, column: value}


def test_changes_at_the_window_ends_and_at_one_instant() -> None:
    def deal(key: int, created: int, closed: int | None, status: str) -> dict[str, Any]:
        return {"_row": key, "opportunity_id": f"d{key}", "created_at": created, "closed_at": closed,
                "status": status, "amount": 1.0, "owner": "a", "_g": "x", "_ecd": None}

    rows = [deal(0, 0, None, "open"), deal(1, 0, 15, "won"), deal(2, 12, None, "open"), deal(3, 0, None, "open")]
    # Before a field's first recorded change it holds that change's value, so every deal
    # records its first amount (and 3 its first owner) when it is created.
    changes = [
        _change(0, "amount", 0, 0, 1.0), _change(0, "amount", 10, 1, 5.0),   # at the start: a flow (+4)
        _change(1, "amount", 0, 2, 1.0), _change(1, "amount", 15, 3, 7.0),   # at the closing: won at 7 (+6)
        _change(2, "amount", 14, 4, 3.0), _change(2, "amount", 14, 5, 9.0),  # one instant: 3 before it
        #                                     (the first recorded), 9 from it (the last): created at 3, +6
        _change(3, "amount", 0, 6, 1.0), _change(3, "amount", 20, 7, 8.0),   # at the end: the next window's
        _change(3, "owner", 0, 8, "a"), _change(3, "owner", 10, 9, "b"),     # moved at the start: reassigned
    ]
    result = walk(deals_from_rows(rows, changes), 10, 20, (20, 30), by_owner=True)
    a, b = result.rows["a"], result.rows["b"]
    assert (a["open_start_count"], a["open_start_value"]) == (3, 3)
    assert (a["created_count"], a["created_value"]) == (1, 3)
    assert (a["increased_value"], a["decreased_value"]) == (16, 0)
    assert (a["won_count"], a["won_value"]) == (1, 7)
    assert (a["reassigned_out_count"], a["reassigned_out_value"]) == (1, 1)
    assert (b["reassigned_in_count"], b["open_end_count"], b["open_end_value"]) == (1, 1, 1)
    assert (a["open_end_count"], a["open_end_value"]) == (2, 14)
    assert is_balanced(a) and is_balanced(b)


# --------------------------------------------------------------------------- the sample
def test_the_sample_walk_meets_the_open_counts_of_the_other_kpis() -> None:
    data = sn.load(SAMPLE)
    t = sn.pipeline_movement(data, start="1404-07-01", end="1404-08-01", by="owner")
    assert t["balanced"].all()
    # Nothing in the sample is created or closed exactly at midnight, so the walk's ends are
    # the open counts at those moments, and its flows the new / won / lost of the window.
    opened = sn.open_opportunities(data, as_of="1404-08-01", active_days=None).set_index("owner")
    walk = t.set_index("owner")
    assert walk["open_end_count"].to_dict() == {o: int(n) for o, n in opened["open_count"].items()}
    won = sn.won_lost(data, start="1404-07-01", end="1404-08-01", period=None).set_index("owner")
    assert walk["won_count"].to_dict() == won["won"].to_dict()
    assert walk["lost_count"].to_dict() == won["lost"].to_dict()


# --------------------------------------------------------------------------- command line
KEYS = ["group", *MOVEMENT_COLUMNS, "balanced"]


def test_cli_json_has_exactly_the_issues_keys(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    folder = tmp_path / "d"
    folder.mkdir()
    _opps().to_csv(folder / "opportunities.csv", index=False)
    FIELDS.to_csv(folder / "field_history.csv", index=False)
    HISTORY.to_csv(folder / "stage_history.csv", index=False)
    (folder / "funnel.yml").write_text("stages: [lead, qualified, proposal, negotiation]\n", encoding="utf-8")
    code = main(["movement", str(folder), "--start", START, "--end", END, "--by", "owner", "--json"])
    out = capsys.readouterr().out
    assert code == 0
    doc = json.loads(out, parse_constant=lambda c: pytest.fail(f"not strict JSON: {c}"))
    assert isinstance(doc, list) and [list(item) for item in doc] == [KEYS] * 4
    assert [item["group"] for item in doc] == ["Ali", "Reza", "Sara", None]
    total = doc[-1]
    assert total["open_start_value"] == 895 and isinstance(total["open_start_value"], int)
    assert total["reassigned_in_count"] == 0 and doc[1]["reassigned_in_count"] == 1
    assert all(item["balanced"] is True for item in doc)
    assert all(isinstance(item[k], int | float) and not isinstance(item[k], bool)
               for item in doc for k in MOVEMENT_COLUMNS)


def test_cli_default_is_the_total_and_text_reads(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["movement", SAMPLE, "--start", "1404-07-01", "--end", "1404-08-01", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert len(doc) == 1 and doc[0]["group"] is None and list(doc[0]) == KEYS
    assert doc[0]["open_end_count"] == 331
    assert main(["movement", SAMPLE, "--start", "1404-07-01", "--end", "1404-08-01", "--by", "team"]) == 0
    out = capsys.readouterr().out
    assert "Tehran" in out and "TOTAL" in out and "balanced: yes" in out
    assert "no field history" not in out  # the bundled sample has one (issue 15)


def test_cli_usage_errors_name_the_flags(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["movement", SAMPLE, "--start", "1404-08-01", "--end", "1404-07-01"]) == 2
    assert "`--end`" in capsys.readouterr().err
    assert main(["movement", SAMPLE, "--start", "1404-07-01", "--end", "1404-08-01", "--by", "region"]) == 2
    assert "`--by`" in capsys.readouterr().err


# --------------------------------------------------------------------------- engines
def _same_tables(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a, b)
    assert a.attrs["exact"] == b.attrs["exact"]


def test_sqlite_gives_the_same_walk(tmp_path: Path, data: sn.SalesData) -> None:
    import sqlalchemy as sa

    url = f"sqlite:///{tmp_path / 'crm.sqlite'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        _opps().astype(str).replace({"nan": "", "None": ""}).to_sql("opportunities", conn, index=False)
        FIELDS.to_sql("field_history", conn, index=False)
        HISTORY.to_sql("stage_history", conn, index=False)
    engine.dispose()
    db = sn.load(url, settings=SETTINGS)
    assert db.engine.kind == "sqlite"
    for by in (None, "owner"):
        _same_tables(sn.pipeline_movement(db, start=START, end=END, by=by),
                     sn.pipeline_movement(data, start=START, end=END, by=by))
    pd.testing.assert_frame_equal(sn.stage_movement(db, start=START, end=END),
                                  sn.stage_movement(data, start=START, end=END))


def test_postgres_gives_the_same_walk(pg_url: str, data: sn.SalesData) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:
        _opps().astype(str).replace({"nan": "", "None": ""}).to_sql("opportunities", conn, index=False)
        FIELDS.to_sql("field_history", conn, index=False)
        HISTORY.to_sql("stage_history", conn, index=False)
    engine.dispose()
    db = sn.load(pg_url, settings=SETTINGS)
    for by in (None, "owner"):
        _same_tables(sn.pipeline_movement(db, start=START, end=END, by=by),
                     sn.pipeline_movement(data, start=START, end=END, by=by))


# --------------------------------------------------------------------------- properties
#: Examples of the balance property (the walk on generated rows); the engine property
#: below loads every example into DuckDB (about 3 s each), so it runs fewer.
EXAMPLES = int(os.environ.get("SALESNB_MOVEMENT_EXAMPLES", "50"))
ENGINE_EXAMPLES = int(os.environ.get("SALESNB_MOVEMENT_ENGINE_EXAMPLES", "4"))
OWNERS = ["a", "b", "c"]
amounts = st.one_of(st.none(), st.integers(0, 10**6), st.integers(0, 10**8).map(lambda c: c / 100))


@st.composite
def walk_rows(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Deals as the engine returns them (times are small integers, so that creations,
    closings, changes and the window's ends often fall on the same instant) and random
    changes of amount, owner and expected close date, several at one instant included."""
    rows: list[dict[str, Any]] = []
    changes: list[dict[str, Any]] = []
    for i in range(draw(st.integers(1, 8))):
        created = draw(st.integers(0, 6))
        status = draw(st.sampled_from(["open", "won", "lost"]))
        rows.append({"_row": i, "opportunity_id": f"d{i}", "created_at": created, "status": status,
                     "closed_at": draw(st.integers(created, 8)) if status != "open" else None,
                     "amount": draw(amounts), "owner": draw(st.sampled_from(OWNERS)),
                     "_g": draw(st.sampled_from(["x", "y"])),
                     "_ecd": draw(st.one_of(st.none(), st.integers(0, 24)))})
        for _ in range(draw(st.integers(0, 6))):
            name = draw(st.sampled_from(["amount", "owner", "expected_close_at"]))
            change = {"opp_key": i, "field": name, "changed_at": draw(st.integers(created, 9)),
                      "seq": len(changes), "value_text": None, "value_number": None, "value_time": None}
            if name == "amount":
                change["value_number"] = draw(amounts)
            elif name == "owner":
                change["value_text"] = draw(st.one_of(st.none(), st.sampled_from(OWNERS)))
            else:
                change["value_time"] = draw(st.one_of(st.none(), st.integers(0, 24)))
            changes.append(change)
    return rows, changes


def _before(row: dict[str, Any], changes: list[dict[str, Any]], name: str, moment: int, *,
            inclusive: bool = False) -> Any:
    """A field's value just before ``moment`` (at it when ``inclusive``), replayed directly from
    the rows: the last change before it; before any, the first recorded; none: the row's own."""
    column = {"amount": "value_number", "owner": "value_text", "expected_close_at": "value_time"}[name]
    base = {"amount": row["amount"], "owner": row["owner"], "expected_close_at": row["_ecd"]}[name]
    mine = sorted((c for c in changes if c["opp_key"] == row["_row"] and c["field"] == name),
                  key=lambda c: (c["changed_at"], c["seq"]))
    if not mine:
        return base
    known = [c for c in mine if c["changed_at"] < moment or (inclusive and c["changed_at"] == moment)]
    value = (known[-1] if known else mine[0])[column]
    return row["owner"] if name == "owner" and value is None else value


def _exact(value: Any) -> Decimal:
    return Decimal(0) if value is None else Decimal(repr(float(value)))


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(walk_rows(), st.integers(0, 6), st.integers(1, 4), st.integers(0, 20), st.integers(1, 8),
       st.booleans())
def test_the_walk_always_balances_exactly(case: tuple[list[dict[str, Any]], list[dict[str, Any]]], lo: int,
                                          size: int, follow: int, follow_size: int, by_owner: bool) -> None:
    rows, changes = case
    hi = lo + size
    following = (follow, follow + follow_size)
    result = walk(deals_from_rows(rows, changes), lo, hi, following, by_owner=by_owner)
    for group, row in result.rows.items():
        assert is_balanced(row), group
        assert (row["open_start_count"] + row["created_count"] + row["reassigned_in_count"]
                - row["reassigned_out_count"] - row["won_count"] - row["lost_count"]) == row["open_end_count"]
        assert (row["open_start_value"] + row["created_value"] + row["reassigned_in_value"]
                - row["reassigned_out_value"] + row["increased_value"] - row["decreased_value"]
                - row["won_value"] - row["lost_value"]) == row["open_end_value"], group
        assert row["reassigned_in_count"] == 0 or by_owner
    # Both ends and the flows, directly from the rows.
    expected: dict[tuple[str, str], list[Any]] = {}

    def add(group: str, flow: str, amount: Any) -> None:
        slot = expected.setdefault((group, flow), [0, Decimal(0)])
        slot[0] += 1
        slot[1] += _exact(amount)

    for r in rows:
        created, closed = r["created_at"], r["closed_at"]
        if created >= hi or (closed is not None and closed < lo):
            continue

        def group_at(moment: int, *, inclusive: bool = False, r: dict[str, Any] = r) -> str:
            return str(_before(r, changes, "owner", moment, inclusive=inclusive)) if by_owner else str(r["_g"])

        if created < lo:
            add(group_at(lo), "open_start", _before(r, changes, "amount", lo))
            ecd_start = _before(r, changes, "expected_close_at", lo)
        else:
            add(group_at(created, inclusive=True), "created", _before(r, changes, "amount", created, inclusive=True))
            ecd_start = _before(r, changes, "expected_close_at", created, inclusive=True)
        if closed is not None and closed < hi:
            add(group_at(closed, inclusive=True), r["status"], _before(r, changes, "amount", closed, inclusive=True))
            continue
        amount = _before(r, changes, "amount", hi)
        add(group_at(hi), "open_end", amount)
        ecd_end = _before(r, changes, "expected_close_at", hi)
        was = ecd_start is not None and following[0] <= ecd_start < following[1]
        now = ecd_end is not None and following[0] <= ecd_end < following[1]
        if was != now:
            add(group_at(hi), "pulled_in" if now else "pushed_out", amount)
    got = {(g, flow): [row[f"{flow}_count"], row[f"{flow}_value"]]
           for g, row in result.rows.items()
           for flow in ("open_start", "created", "won", "lost", "open_end", "pulled_in", "pushed_out")
           if row[f"{flow}_count"]}
    assert got == expected


def _day(n: int) -> str:
    return (BASE + pd.Timedelta(days=n)).strftime("%Y-%m-%d")


BASE = pd.Timestamp("2025-01-01", tz="UTC")


@st.composite
def datasets(draw: st.DrawFn) -> tuple[pd.DataFrame, pd.DataFrame, int, int]:
    """The same data as files would hold (in days from 2025-01-01), and a window."""
    rows, changes = draw(walk_rows())
    opps = pd.DataFrame([{
        "opportunity_id": r["opportunity_id"], "owner": r["owner"], "team": r["_g"],
        "created_at": _day(r["created_at"]), "status": r["status"],
        "closed_at": "" if r["closed_at"] is None else _day(r["closed_at"]), "amount": r["amount"],
        "expected_close_at": "" if r["_ecd"] is None else _day(r["_ecd"])} for r in rows]).astype({"amount": "object"})
    text = {"amount": lambda c: "" if c["value_number"] is None else repr(c["value_number"]),
            "owner": lambda c: c["value_text"] or "",
            "expected_close_at": lambda c: "" if c["value_time"] is None else _day(c["value_time"])}
    fields = pd.DataFrame([{"opportunity_id": f"d{c['opp_key']}", "field": c["field"],
                            "value": text[c["field"]](c), "changed_at": _day(c["changed_at"])} for c in changes],
                          columns=["opportunity_id", "field", "value", "changed_at"])
    start = draw(st.integers(0, 6))
    return opps, fields, start, draw(st.integers(start + 1, 10))


@settings(max_examples=ENGINE_EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(datasets(), st.sampled_from([None, "owner", "team"]))
def test_the_walks_ends_are_the_engines_replay(case: tuple[pd.DataFrame, pd.DataFrame, int, int],
                                               by: str | None) -> None:
    opps, fields, start, end = case
    data = sn.SalesData.from_frames(opps, field_history=fields if len(fields) else None)
    t = sn.pipeline_movement(data, start=_day(start), end=_day(end), by=by)
    assert t["balanced"].all()
    col = t.columns[0]
    for rec, exact in zip(t.to_dict("records"), t.attrs["exact"], strict=True):
        # The floats of the table are the exact sums, rounded once.
        assert {k: Decimal(repr(rec[k])) for k in exact} == exact, rec[col]
    # The ends, by a second method: the engine's replay a microsecond before each end.
    tick = pd.Timedelta(microseconds=1)
    got = t.set_index(col)
    for moment, prefix in ((BASE + pd.Timedelta(days=start) - tick, "open_start"),
                           (BASE + pd.Timedelta(days=end) - tick, "open_end")):
        other = sn.open_opportunities(data, as_of=moment, by=by, active_days=None)
        for rec in other.to_dict("records"):
            g = rec[other.columns[0]]
            count = int(got.loc[g, f"{prefix}_count"]) if g in got.index else 0
            value = float(got.loc[g, f"{prefix}_value"]) if g in got.index else 0.0
            assert count == rec["open_count"], (prefix, g)
            assert value == pytest.approx(rec["open_value"], rel=1e-12, abs=1e-9), (prefix, g)
