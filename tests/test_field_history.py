"""Optional typed columns and the field history: what a deal's fields held at any moment."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import salesnb as sn
from salesnb.exceptions import DataSchemaError

OPPS = pd.DataFrame({
    "opportunity_id": ["a", "b", "c"],
    "owner": ["Sara", "Ali", "Sara"],
    "created_at": ["2025-01-01", "2025-01-02", "2025-01-03"],
    "status": ["open", "won", "open"],
    "closed_at": ["", "2025-03-01", ""],
    "amount": [300, 200, 100],
    "expected_close_at": ["2025-06-01", "", "2025-04-01"],
    "probability": [60, "", 20],
})
#: a: 100 at creation, raised to 300 on 02-15. b: owned by Ali from creation, moved to
#: Sara on 02-10, back to Ali on 02-20. c: expected to close on 02-01, pushed to 04-01 on 02-20.
FIELDS = pd.DataFrame({
    "opportunity_id": ["a", "a", "b", "b", "b", "c", "c"],
    "field": ["amount", "amount", "owner", "owner", "owner", "expected_close_at", "Expected_Close_At"],
    "value": ["100", "300", "Ali", "Sara", "Ali", "2025-02-01", "2025-04-01"],
    "changed_at": ["2025-01-01", "2025-02-15", "2025-01-02", "2025-02-10", "2025-02-20",
                   "2025-01-03", "2025-02-20"],
})
SETTINGS = {"stages": ["lead"]}


def _data(fields: pd.DataFrame | None = FIELDS) -> sn.SalesData:
    return sn.SalesData.from_frames(OPPS, settings=SETTINGS, field_history=fields)


def _at(data: sn.SalesData, moment: str) -> pd.DataFrame:
    snap = data.at(moment)
    t = snap.table
    frame = data.engine.frame(t.select("opportunity_id", "owner", "amount", "expected_close_at"))
    return frame.set_index("opportunity_id").sort_index()


def test_optional_typed_columns_are_read() -> None:
    opps = sn.SalesData.from_frames(OPPS, settings=SETTINGS).opportunities.set_index("opportunity_id")
    assert opps.loc["a", "expected_close_at"] == pd.Timestamp("2025-06-01", tz="UTC")
    assert pd.isna(opps.loc["b", "expected_close_at"])
    # A probability column with values above 1 is in percent: read as shares.
    assert opps["probability"].tolist()[0] == 0.6 and pd.isna(opps.loc["b", "probability"])


def test_fields_replayed_at_any_moment() -> None:
    data = _data()
    early = _at(data, "2025-02-12")
    assert early.loc["a", "amount"] == 100  # raised on 02-15: not yet
    assert early.loc["b", "owner"] == "Sara"  # moved on 02-10, back on 02-20
    assert early.loc["c", "expected_close_at"] == pd.Timestamp("2025-02-01").value // 1000
    late = _at(data, "2025-03-05")
    assert (late.loc["a", "amount"], late.loc["b", "owner"]) == (300, "Ali")
    assert late.loc["c", "expected_close_at"] == pd.Timestamp("2025-04-01").value // 1000


def test_owner_and_amount_as_known_then_in_the_kpis() -> None:
    data = _data()
    then = sn.open_opportunities(data, as_of="2025-02-12").set_index("owner")
    # a (100 then) and c are Sara's; b is open and Sara's on 02-12.
    assert then.loc["Sara", "open_count"] == 3 and then.loc["Sara", "open_value"] == 400
    now = sn.open_opportunities(data, as_of="2025-02-25").set_index("owner")
    assert now.loc["Sara", "open_value"] == 400 and now.loc["Ali", "open_count"] == 1


def test_without_field_history_fields_are_constant() -> None:
    data = _data(None)
    assert _at(data, "2025-02-12").loc["a", "amount"] == 300
    assert any("no field history" in note for note in data.notes)


def test_field_history_problems_are_listed() -> None:
    bad = pd.DataFrame({
        "opportunity_id": ["a", "zz", "a", "a", "b"],
        "field": ["amount", "amount", "stage_name", "expected_close_at", "amount"],
        "value": ["12", "1", "x", "next week", "-5"],
        "changed_at": ["2024-12-01", "2025-02-01", "2025-02-01", "2025-02-01", "2025-02-01"],
    })
    with pytest.raises(DataSchemaError) as info:
        _data(bad)
    rules = {(p.column, p.rule.split(" (")[0]) for p in info.value.problems}
    assert ("field", "has fields salesnb does not replay") in rules
    assert ("opportunity_id", "has rows for opportunities that are not in the opportunities table") in rules
    assert ("changed_at", "has changes before the opportunity was created") in rules
    assert any(p.column == "value" and p.rows == 2 for p in info.value.problems)  # the date and the -5
    assert "'stage_name'" in str(info.value)


def test_a_database_replays_the_same(tmp_path: Path) -> None:
    import sqlalchemy as sa

    url = f"sqlite:///{tmp_path / 'crm.sqlite'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        OPPS.astype(str).replace("nan", "").to_sql("opportunities", conn, index=False)
        FIELDS.to_sql("field_history", conn, index=False)
    engine.dispose()
    db = sn.load(url, settings=SETTINGS)
    assert db.engine.kind == "sqlite" and db.field_table is not None
    pd.testing.assert_frame_equal(_at(db, "2025-02-12"), _at(_data(), "2025-02-12"))
