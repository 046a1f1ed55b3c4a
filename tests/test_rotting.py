"""Per-stage ``rotting_days`` in funnel.yml: the stuck-deal view's second rule (issue 15)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import salesnb as sn
from salesnb.exceptions import SettingsError

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = str(ROOT / "data" / "sample")
STAGES = ["lead", "proposal"]


def _data(rotting: dict[str, float] | None) -> sn.SalesData:
    # Three deals open on 03-01, each entered proposal on a known day; no completed visits of
    # proposal, so it has no historical threshold: only rotting_days can flag them.
    opps = pd.DataFrame({"opportunity_id": ["a", "b", "c"], "owner": ["Sara", "Ali", "Sara"],
                         "created_at": ["2025-01-01"] * 3, "status": ["open"] * 3, "closed_at": [""] * 3})
    history = pd.DataFrame({"opportunity_id": ["a", "b", "c"], "stage": ["proposal"] * 3,
                            "entered_at": ["2025-02-14", "2025-02-24", "2025-02-19"]})
    settings: dict[str, object] = {"stages": STAGES}
    if rotting is not None:
        settings["rotting_days"] = rotting
    return sn.SalesData.from_frames(opps, history, settings=settings)


def test_rotting_days_flag_deals_the_history_cannot_judge() -> None:
    t = sn.stuck_opportunities(_data({"proposal": 10}), as_of="2025-03-01")
    # a: 15 days in proposal, c: 10 days (not more than 10), b: 5 days.
    assert t[["opportunity_id", "rule"]].values.tolist() == [["a", "rotting_days"]]
    assert t["overdue_ratio"].iloc[0] == 1.5 and t["rotting_days"].iloc[0] == 10
    assert np.isnan(t["threshold_days"].iloc[0])
    assert t.attrs["excluded"] == {"no_history": 0, "stage_without_threshold": 0}
    without = sn.stuck_opportunities(_data(None), as_of="2025-03-01")
    assert len(without) == 0 and without.attrs["excluded"]["stage_without_threshold"] == 3


def test_on_the_sample_each_rule_is_named() -> None:
    plain = sn.load(SAMPLE)
    base = sn.stuck_opportunities(plain, as_of="1404-08-01")
    assert (base["rule"] == "historical").all() and base["rotting_days"].isna().all()
    settings = {**plain.settings.to_dict(), "rotting_days": {"proposal": 14}}
    data = sn.load(SAMPLE, settings=settings)
    t = sn.stuck_opportunities(data, as_of="1404-08-01").set_index("opportunity_id")
    # Every historical flag is still there (as "historical" or "both").
    assert set(base["opportunity_id"]) <= set(t.index)
    assert set(t.loc[base["opportunity_id"], "rule"]) <= {"historical", "both"}
    # Every open deal in proposal for more than 14 days is flagged by rotting_days (or both).
    pos = sn.slowest_movers(data, as_of="1404-08-01", n=10_000)
    rotten = set(pos.loc[(pos["stage"] == "proposal") & (pos["days_in_stage"] > 14), "opportunity_id"])
    assert rotten and rotten <= set(t.index)
    assert set(t.loc[sorted(rotten), "rule"]) <= {"rotting_days", "both"}
    flagged_by_rotting = set(t.index[t["rule"].isin(["rotting_days", "both"])])
    assert flagged_by_rotting <= set(pos.loc[pos["stage"] == "proposal", "opportunity_id"])
    assert "rotting_days: proposal 14" in data.settings.describe()
    # The risk reasons say which limit a deal passed.
    only_rotting = sorted(set(t.index[t["rule"] == "rotting_days"]))
    assert only_rotting
    reasons = sn.risk(data, as_of="1404-08-01").set_index("opportunity_id").loc[only_rotting, "reasons"]
    assert all("(rotting limit 14 d)" in r for r in reasons), reasons.tolist()[:3]


@pytest.mark.parametrize(("value", "message"), [
    ({"proposal": 0}, "above 0"),
    ({"proposal": "two weeks"}, "above 0"),
    ({"won": 5}, "does not list"),
    ([14], "must map stage names"),
])
def test_bad_rotting_days_name_the_setting_and_the_fix(value: object, message: str) -> None:
    with pytest.raises(SettingsError, match="rotting_days") as info:
        sn.FunnelSettings.from_mapping({"stages": STAGES, "rotting_days": value}, source="funnel.yml")
    assert message in str(info.value) and "funnel.yml" in str(info.value) and "Fix" in str(info.value)


def test_rotting_days_round_trip_and_stay_out_when_unset() -> None:
    s = sn.FunnelSettings.from_mapping({"stages": STAGES, "rotting_days": {"proposal": 14}})
    assert sn.FunnelSettings.from_mapping(s.to_dict()) == s
    assert "rotting_days" not in sn.FunnelSettings.from_mapping({"stages": STAGES}).to_dict()
