"""The hubspot preset on each variant of a HubSpot deals export, read unchanged.

Every expected number is counted from the raw fixture with plain pandas / csv
(``presets_helpers``), never through salesnb.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from presets_helpers import FIXTURES, by_deal, history_of, raw_csv, status_counts, when

import salesnb as sn
from salesnb.data.mapping_apply import apply_mapping
from salesnb.exceptions import DataSchemaError, SalesnbWarning

HS = FIXTURES / "hubspot"


def label_status(stage: pd.Series) -> pd.Series:
    """HubSpot's rule read from labels: closed won / closed lost, every other stage open."""
    norm = stage.str.lower().str.replace(r"\W+", " ", regex=True).str.strip()
    return pd.Series(np.select([norm == "closed won", norm == "closed lost"], ["won", "lost"], "open"),
                     index=stage.index)


# --------------------------------------------------------------------------- view export
def test_view_export_without_flags_reads_outcomes_from_the_stage_labels() -> None:
    folder = HS / "view_export"
    raw = raw_csv(next(folder.glob("hubspot-crm-exports-*.csv")))
    with pytest.warns(SalesnbWarning) as caught:
        data, _report = apply_mapping(folder, "hubspot")
    messages = [str(w.message) for w in caught]
    assert any("catch-all rule: 'Closed: abandoned' (2)" in m for m in messages)
    assert any(m.startswith("stage order inferred from the data (order of first appearance") for m in messages)
    opps = data.opportunities.set_index("opportunity_id")
    r = raw.set_index("Record ID")
    status = label_status(r["Deal Stage"])
    assert opps["status"].to_dict() == status.to_dict()
    # "Closed: abandoned" is open (as HubSpot counts it) and said: counted as a value the mapping does not name.
    assert data.quality["tables"]["opportunities"]["unmapped_values"] == {
        "status": status_counts(r.loc[status == "open", "Deal Stage"])}
    # Deactivated owners read as written; amounts; lost reasons.
    assert opps["owner"].to_dict() == r["Deal owner"].to_dict()
    amounts = pd.to_numeric(r["Amount"].replace("", np.nan))
    assert opps["amount"].to_dict() == pytest.approx(amounts.to_dict(), nan_ok=True)
    assert opps.loc[status == "lost", "lost_reason"].tolist() == r.loc[status == "lost", "Closed Lost Reason"].tolist()
    # Close Date of open deals is only expected; a won deal whose record was created after it closed
    # (GLA: created 11:33, closed 11:10) gets created_at moved back.
    close = r["Close Date"].replace("", np.nan).map(when, na_action="ignore")
    created = r["Create Date"].map(when)
    closed = status != "open"
    assert opps.loc[closed, "closed_at"].to_dict() == close[closed].to_dict()
    early = closed & (close < created)
    assert data.quality["tables"]["opportunities"]["repaired"] == {"closed_before_created": int(early.sum())}
    assert opps["created_at"].to_dict() == created.where(~early, close).to_dict()
    assert not data.has_history
    assert data.quality["stage_order"]["source"].startswith("inferred from the data (order of first appearance")


def test_a_label_reading_won_or_lost_that_is_neither_is_an_error(tmp_path) -> None:
    raw = raw_csv(next((HS / "view_export").glob("*.csv")))
    raw.loc[1, "Deal Stage"] = "Won - awaiting PO"
    raw.to_csv(tmp_path / "hubspot-crm-exports-x.csv", index=False)
    with pytest.raises(DataSchemaError) as info:
        apply_mapping(tmp_path, "hubspot")
    assert "column 'Deal Stage'" in str(info.value) and "'Won - awaiting PO (1)'" in str(info.value)
    assert "Is Deal Closed?" in str(info.value)


# --------------------------------------------------------------------------- all-properties export
@pytest.fixture(scope="module")
def all_props() -> tuple:
    folder = HS / "all_properties"
    path = next(folder.glob("*.csv"))
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")  # a byte-order mark
    data, report = apply_mapping(folder, "hubspot")
    return data, report, raw_csv(path)


def test_all_properties_export_status_from_flag_and_probability(all_props: tuple) -> None:
    data, _report, raw = all_props
    r = raw.set_index("Record ID")
    # The imported deal without a stage (and without a pipeline) is set aside, counted.
    blank = r["Deal Stage"] == ""
    assert data.quality["tables"]["opportunities"]["set_aside"] == {"no stage (blank_stage)": int(blank.sum())}
    kept = r[~blank]
    opps = data.opportunities.set_index("opportunity_id")
    assert sorted(opps.index) == sorted(kept.index)
    # Is Deal Closed? false → open; else the probability: 1 won, 0 lost.
    p = kept["Deal probability"].astype(float)
    expected = np.where(kept["Is Deal Closed?"] == "false", "open",
                        np.where(p == 1, "won", np.where(p == 0, "lost", "open")))
    assert opps.loc[kept.index, "status"].tolist() == expected.tolist()
    assert opps.loc["7387465960", "status"] == "open"   # Closed: abandoned, probability 0.1
    assert opps["probability"].to_dict() == pytest.approx(p.to_dict())
    # Amounts written 130000.0, 168000000 and 30.0 in one column; a negative one emptied.
    amounts = pd.to_numeric(kept["Amount"].replace("", np.nan))
    assert opps["amount"].to_dict() == pytest.approx(amounts.where(amounts >= 0).to_dict(), nan_ok=True)
    assert data.quality["tables"]["opportunities"]["repaired"]["negative_amount"] == int((amounts < 0).sum())
    # Repeated headers: both copies kept apart, the first one read.
    assert "Associated Company (2)" in data.opportunities.columns
    assert data.quality["files"][next(iter(data.quality["files"]))]["encoding"] == "utf-8-sig"


def test_all_properties_export_stage_order_from_probabilities_not_the_alphabetical_columns(all_props: tuple) -> None:
    data, report, raw = all_props
    open_rows = raw[(raw["Is Deal Closed?"] == "false") & (raw["Deal Stage"] != "")]
    by_probability = open_rows.assign(p=open_rows["Deal probability"].astype(float)).sort_values("p")
    assert data.settings.pipelines["Sales Pipeline"] == tuple(by_probability["Deal Stage"])
    assert data.quality["stage_order"]["source"] == ("from the export: Deal probability of "
                                                      "hubspot-crm-exports-all-deals-2023-05-16.csv")
    assert any("alphabetical order" in step for step in report.steps)


def test_all_properties_export_history_from_the_date_entered_columns(all_props: tuple) -> None:
    data, _report, raw = all_props
    opps = data.opportunities.set_index("opportunity_id")
    columns = [c for c in raw.columns if c.startswith('Date entered "')]
    entries = []
    for _, row in raw.iterrows():
        for col in columns:  # one entry per filled cell, in column order
            if row[col] and row["Record ID"] in opps.index:
                stage = re.match(r'Date entered "(.+) \((.+)\)"', col).group(1)
                entries.append((row["Record ID"], stage, when(row[col])))
    frame = pd.DataFrame(entries, columns=["id", "stage", "t"]).sort_values(["id", "t"], kind="mergesort")
    frame["stage"] = frame["stage"].replace({"Closed: won": "won", "Closed: lost": "lost"})
    created = frame["id"].map(opps["created_at"])
    closed = frame["id"].map(opps["closed_at"])
    inside = (frame["t"] >= created) & ~(frame["t"] > closed)
    assert history_of(data) == by_deal(frame.loc[inside, "id"], frame.loc[inside, "stage"], frame.loc[inside, "t"])
    q = data.quality["tables"]["stage_history"]
    assert (q["rows_read"], q["rows_loaded"]) == (len(frame), int(inside.sum()))
    assert q["accounted_for"]


# --------------------------------------------------------------------------- older portal, two pipelines
def test_single_quoted_date_entered_columns_and_two_pipelines() -> None:
    folder = HS / "single_quotes_two_pipelines"
    path = next(folder.glob("*.csv"))
    raw = raw_csv(path)
    data, report = apply_mapping(folder, "hubspot")
    opps = data.opportunities.set_index("opportunity_id")
    r = raw.set_index("Record ID")
    flag_status = np.where(r["Is Deal Closed?"] == "false", "open",
                           np.where(r["Is Closed Won"] == "true", "won", "lost"))
    assert opps.loc[r.index, "status"].tolist() == flag_status.tolist()
    assert opps["pipeline"].to_dict() == r["Pipeline"].to_dict()
    # Each pipeline's order: its Date-entered columns, in the order the user arranged them.
    pattern = re.compile(r"^Date entered '(.+) \((.+)\)'$")
    cols = [(m.group(2), m.group(1)) for c in raw.columns if (m := pattern.match(c))]
    for pipeline in ("Sales Pipeline", "Partner Pipeline"):
        order = [s for p, s in cols if p == pipeline and not s.startswith("Closed")]
        assert data.settings.pipelines[pipeline] == tuple(order)
    assert data.quality["stage_order"]["source"].startswith("from the export: the order of the date columns")
    # An entry in a stage of another pipeline than the deal's is set aside.
    aside = report.set_aside[report.set_aside["table"] == "stage_history"]
    other = [(row["Record ID"], p) for _, row in raw.iterrows() for c in raw.columns
             if (m := pattern.match(c)) and row[c] and (p := m.group(2)) != row["Pipeline"]]
    assert sorted(aside["opportunity_id"]) == sorted(i for i, _ in other)
    assert set(aside["reason"]) == {f"entered a stage of pipeline {p!r}, the deal being in pipeline "
                                    f"{r.loc[i, 'Pipeline']!r}" for i, p in other}
    # Date exited / Time in columns are not history: kept as extra columns.
    assert "Date exited 'Qualified (Sales Pipeline)'" in data.opportunities.columns


# --------------------------------------------------------------------------- internal names
def test_internal_names_relabelled_stage_ids_and_both_date_entered_forms() -> None:
    folder = HS / "internal_names"
    raw = raw_csv(folder / "deals.csv")
    data, _report = apply_mapping(folder / "deals.csv", "hubspot")
    opps = data.opportunities.set_index("opportunity_id")
    r = raw.set_index("hs_object_id")
    flags = np.where(r["hs_is_closed"] == "false", "open", np.where(r["hs_is_closed_won"] == "true", "won", "lost"))
    assert opps.loc[r.index, "status"].tolist() == flags.tolist()
    # In this portal 'closedwon' is the LOST stage: the outcome comes from the flags, never the id.
    assert opps.loc["15874310002", "status"] == "lost" and opps.loc["15874310002", "stage"] == "lost"
    assert opps.loc["15874310001", "stage"] == "won"   # 'contractsent', held by the won deal
    assert opps["owner"].to_dict() == r["hubspot_owner_id"].to_dict()
    # History: hs_v2_date_entered_<id> first, else hs_date_entered_<id> (epoch milliseconds here).
    entries = []
    for oid, row in r.iterrows():
        for stage in ("appointmentscheduled", "contractsent", "closedwon"):
            value = row[f"hs_v2_date_entered_{stage}"] or row[f"hs_date_entered_{stage}"]
            if value:
                t = pd.Timestamp(int(value), unit="ms", tz="UTC") if value.isdigit() else when(value)
                outcome = {"15874310001": {"contractsent": "won"}, "15874310002": {"closedwon": "lost"}}
                entries.append((oid, outcome.get(oid, {}).get(stage, stage), t))
    frame = pd.DataFrame(entries, columns=["id", "stage", "t"]).sort_values(["id", "t"], kind="mergesort")
    assert history_of(data) == by_deal(frame["id"], frame["stage"], frame["t"])
    assert "hs_v2_date_entered_current_stage" in data.opportunities.columns  # not a stage
    # Stage order from the open deals' hs_deal_stage_probability.
    open_rows = r[r["hs_is_closed"] == "false"].assign(p=lambda f: f["hs_deal_stage_probability"].astype(float))
    assert data.settings.pipelines["default"] == tuple(open_rows.sort_values("p")["dealstage"])


# --------------------------------------------------------------------------- configured stages
def test_view_export_with_date_entered_columns_and_configured_stages() -> None:
    folder = HS / "view_date_entered"
    with pytest.warns(SalesnbWarning, match="'Presentation Scheduled'"):
        data, report = apply_mapping(folder, "hubspot")
    opps = data.opportunities.set_index("opportunity_id")
    assert opps["status"].tolist() == ["won", "lost", "open", "won"]
    assert data.settings.stages == ("Appointment Scheduled", "Qualified To Buy", "Presentation Scheduled",
                                    "Decision Maker Bought-In", "Contract Sent")
    assert data.quality["stage_order"]["source"].startswith("configured (")
    # 10000000301 entered Closed Won on 06-10, after its hand-edited Close Date 06-05: set aside.
    aside = report.set_aside
    assert aside[["opportunity_id", "stage", "line"]].values.tolist() == [["10000000301", "won", "line 5"]]
    doc = sn.kpi_summary(data, start="2024-05-01", end="2024-07-01")
    assert (doc["won"]["total"], doc["lost"]["total"]) == (2, 1)
    # 05-01 09:00 → 05-20 15:30 = 19 d 6.5 h; 06-01 10:00 → 06-05 00:00 = 3 d 14 h.
    assert doc["sales_cycle"]["mean_days"] == pytest.approx((19 + 6.5 / 24 + 3 + 14 / 24) / 2)
    funnel = {row["stage"]: (row["reached"], row["lost_here"]) for row in doc["funnel"]}
    assert funnel == {"Appointment Scheduled": (4, 0), "Qualified To Buy": (4, 1),
                      "Presentation Scheduled": (3, 0), "Decision Maker Bought-In": (2, 0),
                      "Contract Sent": (2, 0)}


def test_an_xlsx_export_reads_like_the_csv(tmp_path) -> None:
    raw = raw_csv(next((HS / "view_export").glob("*.csv")))
    raw.to_excel(tmp_path / "hubspot-crm-exports-all-deals-2023-04-03.xlsx", index=False)
    with pytest.warns(SalesnbWarning):
        from_csv, _ = apply_mapping(HS / "view_export", "hubspot")
        from_xlsx, _ = apply_mapping(tmp_path, "hubspot")
    pd.testing.assert_frame_equal(from_csv.opportunities[["opportunity_id", "status", "owner", "created_at"]],
                                  from_xlsx.opportunities[["opportunity_id", "status", "owner", "created_at"]])
    assert from_xlsx.quality["tables"]["opportunities"]["encoding"] == "xlsx"
