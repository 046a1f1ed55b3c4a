"""The pipedrive preset on each variant of a Pipedrive deals export, in five languages.

Every expected number is counted from the raw fixture with plain pandas / csv
(``presets_helpers``), never through salesnb.
"""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
from presets_helpers import FIXTURES, by_deal, history_of, raw_csv, when

import salesnb as sn
from salesnb.data.mapping_apply import apply_mapping
from salesnb.exceptions import DataSchemaError, SalesnbWarning

PD = FIXTURES / "pipedrive"
#: Status values as each language writes them (docs/presets.md lists the sources).
STATUS = {"Open": "open", "Won": "won", "Lost": "lost", "Deleted": "deleted", "Aberto": "open", "Ganho": "won",
          "Perdido": "lost", "Abierto": "open", "Ganado": "won", "Offen": "open", "Gewonnen": "won",
          "Verloren": "lost", "En cours": "open", "Gagnée": "won", "Perdue": "lost"}


def unprefixed(frame: pd.DataFrame, prefix: str) -> pd.DataFrame:
    return frame.rename(columns=lambda c: c[len(prefix):] if c.startswith(prefix) else c)


# --------------------------------------------------------------------------- English list view
@pytest.fixture(scope="module")
def english() -> tuple:
    folder = PD / "list_en"
    path = folder / "deals-list-export.csv"
    assert b"\r\n" in path.read_bytes()  # Windows line ends
    with pytest.warns(SalesnbWarning, match="placed by inference"):
        data, report = apply_mapping(folder, "pipedrive")
    return data, report, unprefixed(raw_csv(path), "Deal - ")


def test_english_list_view_statuses_dates_and_set_asides(english: tuple) -> None:
    data, _report, raw = english
    status = raw["Status"].map(STATUS)
    kept = raw[status != "deleted"].set_index("ID")
    opps = data.opportunities.set_index("opportunity_id")
    assert sorted(opps.index) == sorted(kept.index)
    assert opps["status"].to_dict() == kept["Status"].map(STATUS).to_dict()
    assert data.quality["tables"]["opportunities"]["set_aside"] == {"deleted in Pipedrive": int((status ==
                                                                                              "deleted").sum())}
    # closed_at: Deal closed on, else Won time, else Lost time; a reopened (open) deal's old time is emptied.
    closed_on = kept["Deal closed on"].where(kept["Deal closed on"] != "", kept["Won time"])
    closed_on = closed_on.where(closed_on != "", kept["Lost time"])
    is_open = kept["Status"].map(STATUS) == "open"
    assert opps.loc[~is_open, "closed_at"].to_dict() == closed_on[~is_open].map(when).to_dict()
    assert opps.loc[is_open, "closed_at"].isna().all()
    assert (kept.loc[is_open, "Lost time"] != "").any()  # the fixture has a reopened deal
    # Expected close dates of open deals; "0000-00-00" is empty.
    expected = kept["Expected close date"].replace({"": np.nan, "0000-00-00": np.nan})
    assert opps.loc[is_open, "expected_close_at"].to_dict() == expected[is_open].map(when, na_action="ignore").to_dict()
    # A negative value (a won credit note): amount emptied, the deal kept, counted.
    value = pd.to_numeric(kept["Value"])
    assert opps["amount"].to_dict() == pytest.approx(value.where(value >= 0).to_dict(), nan_ok=True)
    assert data.quality["tables"]["opportunities"]["repaired"] == {"negative_amount": int((value < 0).sum())}
    assert opps["currency"].to_dict() == kept["Currency of value"].to_dict()
    assert opps["pipeline"].to_dict() == kept["Pipeline"].to_dict()
    assert opps["probability"].to_dict() == pytest.approx((kept["Probability"].astype(float) / 100).to_dict())
    # The repeated "Deal - Label" header: both kept, the second as "Deal - Label (2)".
    assert data.opportunities.set_index("opportunity_id").loc["105", "Deal - Label (2)"] == "VIP"


def test_english_list_view_pipelines_history_and_currencies(english: tuple) -> None:
    data, _report, raw = english
    kept = raw[raw["Status"].map(STATUS) != "deleted"]
    # One history entry per deal: its Stage at Last stage change.
    assert history_of(data) == by_deal(kept["ID"], kept["Stage"], kept["Last stage change"].map(when))
    # Each pipeline its own stages; the order from the open deals' Probability, a stage without open
    # deals placed by inference (and said).
    for pipeline, rows in kept.groupby("Pipeline"):
        assert set(data.settings.pipelines[pipeline]) == set(rows["Stage"])
    assert data.settings.pipelines["Sales"] == ("Qualified", "Demo", "Proposal")
    assert data.settings.stages_inferred and data.quality["stage_order"]["inferred"] == ["Proposal", "Quote"]
    # Three currencies and no rates: said in the notes.
    currencies = kept["Currency of value"].value_counts().sort_index().to_dict()
    assert data.quality["currencies"]["currencies"] == currencies
    assert any(n.startswith(f"amounts are in {len(currencies)} currencies") for n in data.notes)


# --------------------------------------------------------------------------- account export, Portuguese
def test_account_export_folder_is_globbed_to_its_deals_file() -> None:
    folder = PD / "account_export_pt"
    assert len(list(folder.glob("*.csv"))) == 3   # deals, persons, organizations
    with pytest.warns(SalesnbWarning, match="stage order inferred"):
        data, _report = apply_mapping(folder, "pipedrive")
    raw = raw_csv(folder / "deals-21427617-53.csv").set_index("ID")
    opps = data.opportunities.set_index("opportunity_id")
    assert opps["status"].to_dict() == raw["Status"].map(STATUS).to_dict()
    assert opps["owner"].to_dict() == raw["Proprietário"].to_dict()
    assert opps["pipeline"].to_dict() == raw["Funil"].to_dict()
    closed = raw["Ganho em"].where(raw["Ganho em"] != "", raw["Data de perda"])
    is_closed = raw["Status"].map(STATUS) != "open"
    assert opps.loc[is_closed, "closed_at"].to_dict() == closed[is_closed].map(when).to_dict()
    assert opps.loc[is_closed, "lost_reason"].dropna().tolist() == raw.loc[
        is_closed & (raw["Motivo da perda"] != ""), "Motivo da perda"].tolist()
    assert "ID da organização" in data.opportunities.columns  # the company-id column is not the deal id
    assert data.quality["tables"]["opportunities"]["file"] == "deals-21427617-53.csv"


def test_portuguese_list_view_with_id_companion_columns() -> None:
    folder = PD / "list_pt"
    with pytest.warns(SalesnbWarning, match="inferred"):
        data, _ = apply_mapping(folder, "pipedrive")
    raw = unprefixed(raw_csv(folder / "negocios.csv"), "Negócio - ").set_index("ID")
    opps = data.opportunities.set_index("opportunity_id")
    assert opps["status"].to_dict() == raw["Status"].map(STATUS).to_dict()
    assert opps["stage"].to_dict() == raw["Etapa"].to_dict()                 # not "Etapa (id)"
    assert opps["owner"].to_dict() == raw["Proprietário"].to_dict()          # not "Proprietário (id)"
    assert opps["pipeline"].to_dict() == raw["Funil"].to_dict()
    assert history_of(data) == by_deal(raw.index, raw["Etapa"], raw["Última alteração de etapa"].map(when))
    # The order: inferred (one entry per deal: by the time from creation to the stage), and said so.
    assert data.settings.pipelines["Vendas"] == ("Contato feito", "Demonstração")
    assert data.quality["stage_order"]["source"].startswith("inferred from the data (time from creation")


# --------------------------------------------------------------------------- Spanish, German, French
def test_spanish_list_view_reads_its_labels() -> None:
    folder = PD / "list_es"
    data, _ = apply_mapping(folder, "pipedrive")
    raw = unprefixed(raw_csv(folder / "tratos.csv"), "Trato - ").set_index("ID")
    opps = data.opportunities.set_index("opportunity_id")
    assert opps["status"].to_dict() == raw["Estado"].map(STATUS).to_dict()
    assert opps["owner"].to_dict() == raw["Propietario"].to_dict()
    assert opps["currency"].to_dict() == raw["Moneda"].to_dict()
    assert opps["amount"].to_dict() == pytest.approx(raw["Valor"].astype(float).to_dict())
    expected = raw["Fecha de cierre prevista"].replace("", np.nan).map(when, na_action="ignore")
    assert opps["expected_close_at"].to_dict() == expected.to_dict()
    by_probability = raw.assign(p=raw["Probabilidad"].astype(float)).sort_values("p")["Etapa"]
    assert data.settings.stages == tuple(by_probability)


def test_a_closed_deal_without_a_known_close_time_column_is_a_clear_error(tmp_path) -> None:
    shutil.copytree(PD / "list_es", tmp_path / "es")
    raw = raw_csv(tmp_path / "es" / "tratos.csv")
    raw.loc[0, "Trato - Estado"] = "Ganado"
    raw.to_csv(tmp_path / "es" / "tratos.csv", index=False)
    with pytest.raises(DataSchemaError) as info:
        apply_mapping(tmp_path / "es", "pipedrive")
    message = str(info.value)
    assert "gives won or lost deals no close time" in message and "'701 (line 2)'" in message
    assert "'Won time'" in message and "columns.closed_at" in message


def test_german_list_view_reads_its_labels() -> None:
    folder = PD / "list_de"
    with pytest.warns(SalesnbWarning, match="Verhandlung placed by inference"):  # no open deal at it
        data, _ = apply_mapping(folder, "pipedrive")
    raw = unprefixed(raw_csv(folder / "deals.csv"), "Deal - ").set_index("ID")
    opps = data.opportunities.set_index("opportunity_id")
    assert opps["status"].to_dict() == raw["Status"].map(STATUS).to_dict()
    assert opps["owner"].to_dict() == raw["Besitzer"].to_dict()
    assert opps["stage"].to_dict() == raw["Phase"].to_dict()
    assert opps["account"].to_dict() == raw["Organisation"].to_dict()
    closed = raw["Status"].map(STATUS) != "open"
    assert opps.loc[closed, "closed_at"].to_dict() == raw.loc[closed, "Deal abgeschlossen am"].map(when).to_dict()
    assert opps.loc[closed, "lost_reason"].dropna().tolist() == ["Budget"]
    assert history_of(data) == by_deal(raw.index, raw["Phase"], raw["Letzte Phasenänderung"].map(when))
    open_rows = raw[~closed].assign(p=lambda f: f["Wahrscheinlichkeit"].astype(float))
    assert data.settings.pipelines["Vertrieb"][:2] == tuple(open_rows.sort_values("p")["Phase"])


def test_french_list_view_reads_its_labels() -> None:
    folder = PD / "list_fr"
    with pytest.warns(SalesnbWarning, match="inferred"):
        data, _ = apply_mapping(folder, "pipedrive")
    raw = unprefixed(raw_csv(folder / "affaires.csv"), "Affaire - ").set_index("ID")
    opps = data.opportunities.set_index("opportunity_id")
    assert opps["status"].to_dict() == raw["Statut"].map(STATUS).to_dict()
    assert opps["owner"].to_dict() == raw["Propriétaire"].to_dict()
    closed = raw["Heure de la conclusion"].where(raw["Heure de la conclusion"] != "", raw["Heure de l'échec"])
    is_closed = raw["Statut"].map(STATUS) != "open"
    assert opps.loc[is_closed, "closed_at"].to_dict() == closed[is_closed].map(when).to_dict()
    assert opps.loc[is_closed, "lost_reason"].dropna().tolist() == ["Trop cher"]
    doc = sn.kpi_summary(data, start="2024-05-01", end="2024-06-01")
    assert (doc["won"]["total"], doc["lost"]["total"]) == (1, 1)


def test_header_names_match_whatever_the_apostrophe(tmp_path) -> None:
    raw = raw_csv(PD / "list_fr" / "affaires.csv")
    raw = raw.rename(columns={"Affaire - Heure de l'échec": "Affaire - Heure de l’échec"})  # U+2019
    raw.to_csv(tmp_path / "affaires.csv", index=False)
    with pytest.warns(SalesnbWarning):
        data, _ = apply_mapping(tmp_path, "pipedrive")
    assert data.opportunities.set_index("opportunity_id").loc["902", "closed_at"] == when("2024-05-21 11:00:00")


# --------------------------------------------------------------------------- configured stages
def test_basic_english_export_with_configured_stages() -> None:
    data, report = apply_mapping(PD / "list_en_basic", "pipedrive")
    opps = data.opportunities.set_index("opportunity_id")
    assert opps.index.tolist() == ["1", "2", "3", "5"]  # deal 4 (Deleted, line 5) set aside
    assert report.set_aside[["line", "opportunity_id", "reason"]].values.tolist() == [
        ["line 5", "4", "deleted in Pipedrive"]]
    doc = sn.kpi_summary(data, start="2024-01-01", end="2024-03-01")
    assert (doc["won"]["total"], doc["lost"]["total"]) == (2, 1)
    assert doc["lost"]["by_reason"] == {"Price too high": 1}
    assert doc["sales_volume"]["mean_amount"] == pytest.approx((12000 + 4000) / 2)
    # Deal 1: 01-08 10:00 → 02-07 10:00 = 30 d; deal 5: 02-01 08:00 → 02-11 20:00 = 10.5 d.
    assert doc["sales_cycle"]["mean_days"] == pytest.approx((30 + 10.5) / 2)


def test_pipedrive_export_file_can_be_passed_directly() -> None:
    data = sn.load(PD / "list_en_basic" / "deals-export.csv", mapping="pipedrive")
    assert len(data.opportunities) == 4
    assert any("deleted in Pipedrive" in n for n in data.notes)


def test_a_list_view_without_id_owner_or_value_columns_still_loads(tmp_path) -> None:
    # The columns of a real Portuguese list view (a user's own selection: no ID, no owner, no value).
    header = ["Negócio - Título", "Negócio - Etapa", "Negócio - Status", "Negócio - Ganho em",
              "Negócio - Negócio criado em"]
    rows = [["Negócio Condoseg", "CANCELADO GE", "Ganho", "2025-10-14 00:00:00", "2021-05-05 14:40:24"],
            ["SSGR TECNOLOGIA", "BASE GE", "Ganho", "2025-06-25 10:51:01", "2021-08-26 18:56:16"]]
    pd.DataFrame(rows, columns=header).to_csv(tmp_path / "export.csv", index=False)
    with pytest.warns(SalesnbWarning, match="stage order inferred"):
        data, _ = apply_mapping(tmp_path, "pipedrive")
    opps = data.opportunities
    assert opps["opportunity_id"].tolist() == ["line 2", "line 3"]
    assert set(opps["owner"]) == {"(no owner)"} and opps["amount"].isna().all()
    assert opps["closed_at"].tolist() == [when(r[3]) for r in rows]
    assert "mapping: owner of 2 rows of export.csv is the value '(no owner)' (no column gave a value)" in data.notes
