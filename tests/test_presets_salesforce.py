"""The salesforce preset on each variant of a Salesforce export, read unchanged.

Fixtures (``tests/fixtures/presets/salesforce/<variant>/``, written by
``make_fixtures.py``; their README says what each mirrors and where it was seen). Every
expected number is counted from the raw files with plain pandas / csv
(``presets_helpers``), never through salesnb.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from presets_helpers import FIXTURES, by_deal, day, history_of, raw_csv, raw_report, status_counts

import salesnb as sn
from salesnb.data.mapping_apply import apply_mapping
from salesnb.exceptions import DataSchemaError, SalesnbWarning

SF = FIXTURES / "salesforce"


def sf_status(frame: pd.DataFrame) -> pd.Series:
    closed = frame["IsClosed"].str.lower().isin(["1", "true"])
    won = frame["IsWon"].str.lower().isin(["1", "true"])
    return pd.Series(np.select([closed & won, closed & ~won], ["won", "lost"], "open"), index=frame.index)


# --------------------------------------------------------------------------- Data Export, cp1252
@pytest.fixture(scope="module")
def export() -> tuple[sn.SalesData, object, pd.DataFrame]:
    folder = SF / "data_export_cp1252"
    data, report = apply_mapping(folder, "salesforce")
    raw = raw_csv(folder / "Opportunity.csv", "cp1252")
    return data, report, raw


def test_data_export_opportunities_match_the_raw_file(export: tuple) -> None:
    data, report, raw = export
    kept = raw[raw["IsDeleted"] == "0"].reset_index(drop=True)
    opps = data.opportunities.set_index("opportunity_id")
    assert sorted(opps.index) == sorted(kept["Id"])
    k = kept.set_index("Id")
    # Status from IsClosed / IsWon.
    assert opps["status"].to_dict() == sf_status(kept).set_axis(kept["Id"]).to_dict()
    # Owners: User.csv has no Name: FirstName + LastName, else the one filled, else Alias, else the OwnerId.
    users = raw_csv(SF / "data_export_cp1252" / "User.csv", "cp1252").set_index("Id")
    names = (users["FirstName"] + " " + users["LastName"]).str.strip()
    names = names.where(names != "", users["Alias"])
    expected_owner = k["OwnerId"].map(names).fillna(k["OwnerId"])
    assert opps["owner"].to_dict() == expected_owner.to_dict()
    assert "0058a00000GONEXAA9" in set(opps["owner"])  # an owner missing from User.csv keeps the id
    # Lost reasons: the first non-empty of the custom fields (LossReason__c, then Loss_Reason__c).
    reason = k["LossReason__c"].where(k["LossReason__c"] != "", k["Loss_Reason__c"]).replace("", np.nan)
    lost = opps["status"] == "lost"
    assert opps.loc[lost, "lost_reason"].to_dict() == reason[lost[k.index].to_numpy()].to_dict()
    # Amounts: numbers as written, a negative one emptied (the deal kept), empty ones empty.
    amount = pd.to_numeric(k["Amount"].replace("", np.nan))
    assert opps["amount"].to_dict() == pytest.approx(amount.where(amount >= 0).to_dict(), nan_ok=True)
    assert report.repaired.set_index("opportunity_id").loc["0068a00001KLsTuAAD", "before"] == "-500.0"
    # Currency, probability (0-1), forecast category (the label), accounts (ids: no Account.csv).
    assert opps["currency"].to_dict() == k["CurrencyIsoCode"].to_dict()
    assert opps["probability"].to_dict() == pytest.approx((k["Probability"].astype(float) / 100).to_dict())
    assert opps["forecast_category"].to_dict() == k["ForecastCategoryName"].to_dict()
    assert opps["account"].to_dict() == k["AccountId"].replace("000000000000000AAA", np.nan).to_dict()
    # Close dates of closed deals; open deals get expected_close_at instead.
    closed = sf_status(kept).set_axis(kept["Id"]) != "open"
    close_day = k["CloseDate"].map(day)
    assert opps.loc[closed, "closed_at"].to_dict() == close_day[closed].to_dict()
    assert opps.loc[~closed, "closed_at"].isna().all()
    assert opps.loc[~closed, "expected_close_at"].to_dict() == close_day[~closed].to_dict()
    assert opps.loc[closed, "expected_close_at"].isna().all()
    # Created before closed: the deal closed before the record was created (imported) is repaired.
    created = k["CreatedDate"].map(day)
    early = closed & (close_day < created)
    assert early.sum() == 1
    assert opps["created_at"].to_dict() == created.where(~early, close_day).to_dict()


def test_data_export_history_matches_the_raw_file(export: tuple) -> None:
    data, _report, raw = export
    hist = raw_csv(SF / "data_export_cp1252" / "OpportunityHistory.csv", "cp1252")
    kept_ids = set(raw.loc[raw["IsDeleted"] == "0", "Id"])
    opps = data.opportunities.set_index("opportunity_id")
    h = hist[hist["OpportunityId"].isin(kept_ids)].copy()
    # In time order (the file is in Id order), repeats of the stage before merged into the first.
    h["t"] = pd.to_datetime(h["CreatedDate"])
    h = h.sort_values(["OpportunityId", "t"], kind="mergesort")
    h = h[~((h["OpportunityId"] == h["OpportunityId"].shift()) & (h["StageName"] == h["StageName"].shift()))]
    h["stage"] = h["StageName"].replace({"Closed Won": "won", "Closed Lost": "lost"})
    h["day"] = h["CreatedDate"].map(day)
    life_start = h["OpportunityId"].map(opps["created_at"])
    life_end = h["OpportunityId"].map(opps["closed_at"])
    inside = (h["day"] >= life_start) & ~(h["day"] > life_end)
    expected = by_deal(h.loc[inside, "OpportunityId"], h.loc[inside, "stage"], h.loc[inside, "day"])
    assert history_of(data) == expected
    # The O1 deal entered Firmas at 21:34:19 and Closed Won at 21:34:31 the same day: kept in that order.
    o1 = data.stage_history[data.stage_history["opportunity_id"] == "0068a00001JMUl0AAH"]["stage"].tolist()
    assert o1 == ["Interes", "Diseño Propuesta", "Firmas", "won"]
    counts = data.quality["tables"]["stage_history"]
    assert counts["rows_read"] == len(hist)
    assert counts["rows_loaded"] == int(inside.sum())
    assert counts["set_aside"] == {
        "its opportunity was set aside (deleted in Salesforce (IsDeleted), in the recycle bin when exported)": 1,
        "entry of an opportunity that is not in the export's opportunities (deleted, or outside the export's "
        "filter) (history_unknown_opportunity)": 1,
        "repeats the stage of the entry before it (same opportunity): merged into that first entry": 1,
        "entered after the opportunity was closed (its closed_at; a close date edited afterwards) "
        "(history_outside_life)": 1}
    assert counts["accounted_for"]


def test_data_export_quality_stage_order_and_rates(export: tuple) -> None:
    data, report, raw = export
    q = data.quality
    opp = q["tables"]["opportunities"]
    assert (opp["rows_read"], opp["rows_loaded"]) == (len(raw), int((raw["IsDeleted"] == "0").sum()))
    assert opp["set_aside"] == {"deleted in Salesforce (IsDeleted), in the recycle bin when exported": 1}
    assert opp["repaired"] == {"negative_amount": 1, "closed_before_created": 1}
    assert opp["encoding"] == "cp1252" and opp["accounted_for"] and q["ok"]
    assert q["variant"] == "Data Export Service"
    assert q["files"]["User.csv"]["encoding"] == "cp1252"
    # Stage order: StageSortOrder of the open deals, as in the raw file.
    open_rows = raw[(raw["IsDeleted"] == "0") & (raw["IsClosed"] == "0")]
    expected = open_rows.drop_duplicates("StageName").sort_values("StageSortOrder", key=lambda s: s.astype(int))
    assert data.settings.stages == tuple(expected["StageName"])
    assert q["stage_order"]["source"] == "from the export: StageSortOrder of Opportunity.csv"
    assert not data.settings.stages_inferred
    # Rates: DatedConversionRate.csv is header-only, so CurrencyType.csv (inverted; USD corporate).
    rates = report.rates.set_index("currency")["rate"]
    currency_type = raw_csv(SF / "data_export_cp1252" / "CurrencyType.csv").set_index("IsoCode")
    assert rates.to_dict() == pytest.approx((1 / currency_type["ConversionRate"].astype(float)).to_dict())
    assert q["currencies"]["reporting_currency"] == "USD"
    assert data.settings.currency == "USD"   # the corporate currency (IsCorporate = 1), not configured
    assert q["currencies"]["currencies"] == raw.loc[raw["IsDeleted"] == "0", "CurrencyIsoCode"].value_counts() \
        .sort_index().to_dict()
    # Lost deals by reason, through the KPI summary.
    doc = sn.kpi_summary(data, start="2023-01-01", end="2024-01-01")
    kept = raw[raw["IsDeleted"] == "0"]
    status = sf_status(kept)
    assert doc["won"]["total"] == int((status == "won").sum())
    assert doc["lost"]["total"] == int((status == "lost").sum())
    reasons = kept.loc[status == "lost", "LossReason__c"].where(lambda s: s != "",
                                                                 kept.loc[status == "lost", "Loss_Reason__c"])
    assert doc["lost"]["by_reason"] == status_counts(reasons)


# --------------------------------------------------------------------------- no User.csv, imported
def test_export_without_user_csv_reads_owners_as_ids_and_repairs_imported_dates() -> None:
    folder = SF / "no_user_csv"
    data, _report = apply_mapping(folder, "salesforce")
    raw = raw_csv(folder / "Opportunity.csv")
    opps = data.opportunities.set_index("opportunity_id")
    assert opps["owner"].to_dict() == raw.set_index("Id")["OwnerId"].to_dict()
    assert any("no User.csv in the export: owner is the OwnerId" in n for n in data.notes)
    assert data.quality["columns"]["owner"] == {"OwnerId (no User.csv)": len(raw)}
    status = sf_status(raw).set_axis(raw["Id"])
    close = raw.set_index("Id")["CloseDate"].map(day)
    created = raw.set_index("Id")["CreatedDate"].map(day)
    early = (status != "open") & (close < created)
    assert data.quality["tables"]["opportunities"]["repaired"] == {"closed_before_created": int(early.sum())}
    assert opps.loc[early, "created_at"].to_dict() == close[early].to_dict()
    # Every history row was written on the load day: the repeats merge, and the closed deals' entries
    # (after their backdated close) are set aside.
    hist = raw_csv(folder / "OpportunityHistory.csv")
    assert data.quality["tables"]["stage_history"]["rows_read"] == len(hist)
    expected = hist.drop_duplicates("OpportunityId")
    expected = expected[expected["OpportunityId"].map(status) == "open"]
    assert sorted(data.stage_history["opportunity_id"]) == sorted(expected["OpportunityId"])
    open_rows = raw[status.to_numpy() == "open"]
    assert data.settings.stages == tuple(open_rows.sort_values("StageSortOrder", key=lambda s: s.astype(int))
                                         ["StageName"].drop_duplicates())
    assert "currency" in data.opportunities and data.opportunities["currency"].isna().all()


# --------------------------------------------------------------------------- field history
def test_field_history_gives_stage_entries_and_first_stages() -> None:
    folder = SF / "field_history"
    with pytest.warns(SalesnbWarning, match="stage order inferred from the data"):
        data, _report = apply_mapping(folder, "salesforce")
    fh = raw_csv(folder / "OpportunityFieldHistory.csv")
    opp = raw_csv(folder / "Opportunity.csv").set_index("Id")
    changes = fh[fh["Field"] == "StageName"].copy()
    created = fh[fh["Field"].isin(["created", "opportunityCreatedFromLead", "Created by lead convert"])].copy()
    changes["t"] = pd.to_datetime(changes["CreatedDate"])
    first_old = changes.sort_values("t").drop_duplicates("OpportunityId").set_index("OpportunityId")["OldValue"]
    created["stage"] = created["OpportunityId"].map(first_old).fillna(created["OpportunityId"].map(opp["StageName"]))
    entries = pd.concat([created.assign(NewValue=created["stage"]), changes])[["OpportunityId", "NewValue",
                                                                               "CreatedDate"]]
    entries["stage"] = entries["NewValue"].replace({"Closed Won": "won", "Closed Lost": "lost"})
    entries["day"] = entries["CreatedDate"].map(day)
    entries["t"] = pd.to_datetime(entries["CreatedDate"])
    entries = entries.sort_values(["OpportunityId", "t"], kind="mergesort")
    assert history_of(data) == by_deal(entries["OpportunityId"], entries["stage"], entries["day"])
    others = fh[~fh.index.isin(changes.index) & ~fh.index.isin(created.index)]
    assert data.quality["tables"]["stage_history"]["set_aside"] == {
        f"not a stage change (Field = {f})": int(n) for f, n in others["Field"].value_counts().items()}
    assert data.quality["tables"]["stage_history"]["accounted_for"]
    # Owners from User.csv (FirstName + LastName); booleans as true/false; ISO datetimes with Z.
    assert set(data.opportunities["owner"]) == {"Hana Ito", "Omar Haddad"}
    assert data.settings.stages_inferred
    assert data.quality["stage_order"]["source"].startswith("inferred from the data")


# --------------------------------------------------------------------------- report exports
@pytest.mark.parametrize(("variant", "encoding", "dayfirst"), [
    ("report_us", "utf-8", False), ("report_eu", "utf-8", True), ("report_cp1256", "cp1256", False)])
def test_report_exports_read_labels_locale_dates_and_drop_the_footer(variant: str, encoding: str,
                                                                     dayfirst: bool) -> None:
    folder = SF / variant
    path = next(folder.glob("report*.csv"))
    header, rows, lines, footer = raw_report(path, encoding)
    with pytest.warns(SalesnbWarning):  # open stages read as open by the catch-all rule (no flags in a report)
        data, _report = apply_mapping(folder, "salesforce")
    frame = pd.DataFrame(rows, columns=header)
    q = data.quality
    assert q["variant"] == "report export"
    assert q["tables"]["opportunities"]["rows_read"] == len(rows)
    assert q["tables"]["opportunities"]["footer_lines"] == len(footer)
    assert q["tables"]["opportunities"]["encoding"] == encoding
    ids = frame["Opportunity ID"].tolist() if "Opportunity ID" in frame else [f"line {n}" for n in lines]
    opps = data.opportunities.set_index("opportunity_id").loc[ids]
    expected_status = frame["Stage"].map({"Closed Won": "won", "Closed Lost": "lost"}).fillna("open")
    assert opps["status"].tolist() == expected_status.tolist()
    assert opps["owner"].tolist() == frame["Opportunity Owner"].tolist()
    created = frame["Created Date"].map(lambda s: day(s, dayfirst=dayfirst))
    close = frame["Close Date"].map(lambda s: day(s, dayfirst=dayfirst))
    assert opps["created_at"].tolist() == created.tolist()
    closed = (expected_status != "open").to_numpy()
    assert opps["closed_at"].to_numpy()[closed].tolist() == close[closed].tolist()
    assert opps["expected_close_at"].to_numpy()[~closed].tolist() == close[~closed].tolist()
    amounts = pd.to_numeric(frame["Amount"].replace("", np.nan))
    assert opps["amount"].tolist() == pytest.approx(amounts.where(amounts >= 0).tolist(), nan_ok=True)
    unmapped = q["tables"]["opportunities"]["unmapped_values"].get("status", {})
    assert unmapped == status_counts(frame.loc[expected_status == "open", "Stage"])
    # Stage order from Probability (%) of the open deals (one deal per stage here); a tie keeps the
    # order of first appearance (no history to tell).
    open_rows = frame[expected_status == "open"].assign(p=lambda f: f["Probability (%)"].astype(float))
    expected_order = open_rows.reset_index().sort_values(["p", "index"])["Stage"].drop_duplicates()
    assert data.settings.stages == tuple(expected_order)


def test_report_day_month_order_is_decided_for_the_whole_file() -> None:
    # report_eu: 27/11/2025 reads only day-first, so every date of the file is read day-first.
    with pytest.warns(SalesnbWarning, match="catch-all"):
        data, _ = apply_mapping(SF / "report_eu", "salesforce")
    opps = data.opportunities.set_index("opportunity_id")
    assert opps.loc["0065g00000XyZ02", "created_at"] == day("2025-10-24")
    assert opps.loc["0065g00000XyZ04", "closed_at"] == day("2025-11-25")


def test_a_report_stage_that_reads_closed_but_is_neither_won_nor_lost_is_an_error(tmp_path) -> None:
    header, rows, _, _ = raw_report(next((SF / "report_us").glob("report*.csv")))
    rows[2][header.index("Stage")] = "Closed - Disqualified"
    frame = pd.DataFrame(rows, columns=header)
    frame.to_csv(tmp_path / "report1.csv", index=False)
    with pytest.raises(DataSchemaError) as info:
        apply_mapping(tmp_path, "salesforce")
    message = str(info.value)
    assert "column 'Stage'" in message and "'Closed - Disqualified (1)'" in message
    assert "line 4" in message and "values.status" in message


# --------------------------------------------------------------------------- Data Loader extract
def test_data_loader_extract_with_user_names_and_accounts() -> None:
    with pytest.warns(SalesnbWarning, match="Prospecting placed by inference"):
        data, _report = apply_mapping(SF / "data_loader", "salesforce")
    opps = data.opportunities.set_index("opportunity_id")
    raw = raw_csv(SF / "data_loader" / "Opportunity.csv").set_index("Id")
    users = raw_csv(SF / "data_loader" / "User.csv").set_index("Id")["Name"]
    accounts = raw_csv(SF / "data_loader" / "Account.csv").set_index("Id")["Name"]
    assert opps["owner"].to_dict() == raw["OwnerId"].map(users).to_dict()
    assert opps["account"].to_dict() == raw["AccountId"].map(accounts).to_dict()
    assert opps["status"].to_dict() == sf_status(raw.reset_index()).set_axis(raw.index).to_dict()
    # Same-day creation and win (2024-02-05T13:45Z, CloseDate 2024-02-05): dates only, no repair needed.
    assert opps.loc["0061x00000AAAA4", "created_at"] == opps.loc["0061x00000AAAA4", "closed_at"]
    assert data.quality["tables"]["opportunities"]["repaired"] == {}
    doc = sn.kpi_summary(data, start="2024-01-01", end="2024-05-01")
    assert (doc["won"]["total"], doc["lost"]["total"]) == (2, 1)
    # AAAA1: 2024-01-10 → 2024-03-15 = 65 days (2024 is a leap year); AAAA4: 0 days.
    assert doc["sales_cycle"]["mean_days"] == pytest.approx((65 + 0) / 2)


# --------------------------------------------------------------------------- strict
def test_strict_turns_every_quirk_rule_into_an_error() -> None:
    with pytest.raises(DataSchemaError) as info:
        apply_mapping(SF / "data_export_cp1252", "salesforce", strict=True)
    rules = {p.rule for p in info.value.problems}
    assert "negative amount (negative_amount)" in rules
    assert "closed_at is before created_at (as in records imported or entered after they closed) " \
           "(closed_before_created)" in rules
    for problem in info.value.problems:
        assert "without --strict / strict=True" in problem.fix
        assert problem.source.endswith("Opportunity.csv") and problem.ids
