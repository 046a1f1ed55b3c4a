"""Where a mapped export's stage order comes from: configured, the export's own, or inferred (warned)."""

from __future__ import annotations

import pandas as pd

from salesnb.data.settings import FunnelSettings
from salesnb.data.stage_order import OrderEvidence, infer_order, resolve_stage_order


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


OPPS = pd.DataFrame({
    "opportunity_id": ["a", "b", "c", "d", "e"],
    "status": ["open", "open", "won", "open", "lost"],
    "stage": ["Demo", "Lead", "won", "Demo", "lost"],
    "created_at": [ts("2025-01-01"), ts("2025-01-02"), ts("2025-01-03"), ts("2025-01-04"), ts("2025-01-05")],
})
HIST = pd.DataFrame({
    "opportunity_id": ["a", "a", "c", "c", "c", "e", "e"],
    "stage": ["Lead", "Demo", "Lead", "Proposal", "won", "Lead", "Proposal"],
    "entered_at": [ts("2025-01-01"), ts("2025-01-04"), ts("2025-01-03"), ts("2025-01-09"), ts("2025-01-20"),
                   ts("2025-01-05"), ts("2025-01-07")],
})
DEFAULTS = FunnelSettings.from_mapping({})


def test_configured_order_is_kept() -> None:
    settings = FunnelSettings.from_mapping({"stages": ["Lead", "Demo", "Proposal"]}, source="funnel.yml")
    resolved, doc, warns = resolve_stage_order(OPPS, HIST, settings, configured=True)
    assert resolved.stages == ("Lead", "Demo", "Proposal") and not resolved.stages_inferred
    assert doc["source"] == "configured (funnel.yml)" and warns == []


def test_the_exports_rank_column_orders_the_stages() -> None:
    # StageSortOrder of the deals at each stage (closed deals' ranks are not read).
    ranks = pd.Series([2.0, 1.0, 6.0, 2.0, 7.0])
    evidence = [OrderEvidence("StageSortOrder of Opportunity.csv", per_deal=ranks)]
    resolved, doc, warns = resolve_stage_order(OPPS, HIST, DEFAULTS, configured=False, evidence=evidence)
    # Proposal has no rank (no open deal is at it): placed by inference. Inferred: Lead first (entered
    # first by every deal), then Demo and Proposal (never seen together) by the median days from creation
    # to entry: Demo 3 (a), Proposal 4 (c: 6, e: 2). So Proposal goes after Demo.
    assert resolved.stages == ("Lead", "Demo", "Proposal")
    assert doc["inferred"] == ["Proposal"] and resolved.stages_inferred
    assert doc["source"].startswith("from the export: StageSortOrder of Opportunity.csv; Proposal placed by inference")
    assert len(warns) == 1 and "Proposal placed by inference" in warns[0]


def test_ties_are_broken_by_the_next_source_and_complete_ranks_need_no_inference() -> None:
    opps = OPPS.assign(stage=["Demo", "Lead", "won", "Proposal", "lost"])
    probability = pd.Series([0.1, 0.1, 1.0, 0.5, 0.0])   # Demo and Lead tie
    columns = {(None, "Lead"): 0.0, (None, "Demo"): 1.0, (None, "Proposal"): 2.0}
    evidence = [OrderEvidence("Deal probability", per_deal=probability),
                OrderEvidence("the order of the date columns", per_stage=columns)]
    resolved, doc, warns = resolve_stage_order(opps, HIST, DEFAULTS, configured=False, evidence=evidence)
    assert resolved.stages == ("Lead", "Demo", "Proposal")
    assert doc["source"] == "from the export: Deal probability (ties broken by the order of the date columns)"
    assert warns == [] and not resolved.stages_inferred


def test_without_evidence_the_order_is_inferred_and_warned() -> None:
    resolved, doc, warns = resolve_stage_order(OPPS, HIST, DEFAULTS, configured=False)
    assert resolved.stages == ("Lead", "Demo", "Proposal")  # as worked out above
    assert doc["source"] == "inferred from the data (stage history: which stage deals entered first)"
    assert doc["inferred"] == ["Lead", "Demo", "Proposal"]
    assert warns and "set 'stages' (or 'pipelines') in funnel.yml" in warns[0]


def test_each_pipeline_gets_its_own_order() -> None:
    opps = OPPS.assign(pipeline=["New", "New", "New", "Renewal", "Renewal"],
                       stage=["Demo", "Lead", "won", "Review", "lost"])
    hist = pd.DataFrame({"opportunity_id": ["a", "a", "d", "e", "e"],
                         "stage": ["Lead", "Demo", "Review", "Quote", "Review"],
                         "entered_at": [ts("2025-01-01"), ts("2025-01-04"), ts("2025-01-05"), ts("2025-01-05"),
                                        ts("2025-01-08")]})
    resolved, doc, _ = resolve_stage_order(opps, hist, DEFAULTS, configured=False)
    assert resolved.pipelines == {"New": ("Lead", "Demo"), "Renewal": ("Quote", "Review")}
    assert resolved.stages == ("Lead", "Demo", "Quote", "Review")
    assert doc["pipelines"] == {"New": ["Lead", "Demo"], "Renewal": ["Quote", "Review"]}


def test_infer_order_without_pairs_uses_time_from_creation_then_first_appearance() -> None:
    # One entry per deal (Pipedrive's last stage change): no deal shows two stages.
    hist = pd.DataFrame({"opportunity_id": ["a", "b", "d"], "stage": ["Demo", "Lead", "Demo"],
                         "entered_at": [ts("2025-01-11"), ts("2025-01-03"), ts("2025-01-10")]})
    order, method = infer_order(hist, OPPS, ["Demo", "Lead"], {"won", "lost"})
    assert order == ["Lead", "Demo"]   # Lead reached after 1 day, Demo after 6-10 days
    assert method.startswith("time from creation")
    order, method = infer_order(hist.iloc[0:0], OPPS, ["Demo", "Lead"], {"won", "lost"})
    assert (order, method.startswith("order of first appearance")) == (["Demo", "Lead"], True)
