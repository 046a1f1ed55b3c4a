"""Currencies (issue 12, item 6): amounts converted with rates, split by currency without them.

Reporting currency USD. Rates (``rates.csv``)::

    EUR  since always  1.10      EUR  from 2025-03-01  1.20      MXN  from 2025-02-01  0.05

USD needs no row (the reporting currency: 1); GBP has none. Won and lost deals convert
at their close date, open deals at ``as_of`` — the latest ``valid_from`` at or before
that moment. Every expected number below is worked out by hand from :data:`DEALS`.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import salesnb as sn
from salesnb.exceptions import DataSchemaError

WINDOW = {"start": "2025-01-01", "end": "2025-05-01"}
RATES = pd.DataFrame({"currency": ["EUR", "EUR", "MXN"], "valid_from": ["", "2025-03-01", "2025-02-01"],
                      "rate": ["1.10", "1.20", "0.05"]})

# id, currency, status, closed_at, amount
DEALS = [
    ("W1", "USD", "won", "2025-01-15", 100.0),     # 100 × 1             = 100
    ("W2", "EUR", "won", "2025-02-10", 100.0),     # 100 × 1.10 (before 03-01) = 110
    ("W3", "EUR", "won", "2025-03-05", 200.0),     # 200 × 1.20          = 240
    ("W4", "MXN", "won", "2025-01-20", 1000.0),    # before MXN's first rate: no rate
    ("W5", "MXN", "won", "2025-03-01", 2000.0),    # 2000 × 0.05 (valid_from = close) = 100
    ("W6", "GBP", "won", "2025-02-01", 50.0),      # no GBP rate
    ("W7", None, "won", "2025-04-01", 70.0),       # no currency: no rate
    ("W8", "USD", "won", "2025-04-10", None),      # no amount (not a rate problem)
    ("L1", "EUR", "lost", "2025-02-20", 300.0),
    ("O1", "EUR", "open", "", 1000.0),             # at as_of 05-01: 1.20 -> 1200
    ("O2", "MXN", "open", "", 100.0),              # 0.05 -> 5
    ("O3", "GBP", "open", "", 10.0),               # no rate
    ("O4", "USD", "open", "", 150.0),              # 150
]


def frame() -> pd.DataFrame:
    return pd.DataFrame([{"opportunity_id": i, "owner": "Sara" if i[1] in "1357" else "Ali",
                          "created_at": "2025-01-02", "status": st, "closed_at": c, "amount": a,
                          "currency": cur} for i, cur, st, c, a in DEALS])


def with_rates() -> sn.SalesData:
    return sn.SalesData.from_frames(frame(), settings={"currency": "USD"}, rates=RATES)


def without_rates() -> sn.SalesData:
    return sn.SalesData.from_frames(frame(), settings={"currency": "USD"})


# --------------------------------------------------------------------------- converted
def test_won_amounts_convert_at_their_close_date_and_deals_without_a_rate_are_counted():
    v = sn.sales_volume(with_rates(), **WINDOW, by=None).iloc[0]
    # Converted: W1 100, W2 110, W3 240, W5 100 -> 4 deals, total 550, mean 137.5,
    # median (100 + 110) / 2 = 105. Without a rate: W4, W6, W7 (3); W8 has no amount.
    assert int(v["won"]) == 8
    assert int(v["won_with_amount"]) == 4
    assert int(v["won_without_rate"]) == 3
    assert int(v["won_without_amount"]) == 4  # the 3 without a rate and W8
    assert float(v["total_amount"]) == pytest.approx(550.0)
    assert float(v["mean_amount"]) == pytest.approx(137.5)
    assert float(v["median_amount"]) == pytest.approx(105.0)
    per_owner = sn.sales_volume(with_rates(), **WINDOW, by="owner")
    # Sara: W1 100, W3 240, W5 100 (W7 no rate) -> 440; Ali: W2 110 (W4, W6 no rate; W8 no amount).
    assert dict(zip(per_owner["owner"], per_owner["total_amount"], strict=True)) == pytest.approx(
        {"Ali": 110.0, "Sara": 440.0})
    assert dict(zip(per_owner["owner"], per_owner["won_without_rate"], strict=True)) == {"Ali": 2, "Sara": 1}


def test_open_amounts_convert_at_as_of():
    data = with_rates()
    opened = sn.open_opportunities(data, as_of="2025-05-01")
    # O1 1200 + O2 5 + O4 150 = 1355; O3 (GBP) has no rate: without amount.
    assert float(opened["open_value"].sum()) == pytest.approx(1355.0)
    assert int(opened["open_without_amount"].sum()) == 1
    # Seen at 2025-02-15 (window ending then): EUR's rate is still 1.10, so O1 is 1100;
    # W3 (closed 03-05) is still open and converts at as_of too: 200 × 1.10 = 220; W5
    # (2000 MXN, closed 03-01) is open: 2000 × 0.05 = 100; L1 (300 EUR, lost 02-20) is
    # open: 330. Open then: W3 W5 W7 W8 L1 O1-O4.
    early = sn.open_opportunities(data, as_of="2025-02-15")
    # 220 + 100 + 330 + 1100 + 5 + 150 = 1905; without amount: W7 (no currency), W8, O3.
    assert float(early["open_value"].sum()) == pytest.approx(1905.0)
    assert int(early["open_without_amount"].sum()) == 3


def test_flags_compare_converted_amounts_and_say_no_rate():
    flags = sn.deal_size_flags(with_rates(), **WINDOW).set_index("opportunity_id")
    # Mean 137.5, band 0.5: above 206.25, below 68.75. O1 1200 above, O2 5 below, O4 150 within.
    assert flags["flag"].to_dict() == {"O1": "above", "O2": "below", "O4": "within", "O3": "no rate"}
    assert flags.loc["O1", "amount"] == pytest.approx(1200.0)
    assert flags.attrs["currency"] == "USD"


def test_kpi_json_with_rates():
    doc = sn.kpi_summary(with_rates(), **WINDOW)["sales_volume"]
    assert (doc["mean_amount"], doc["median_amount"], doc["total_amount"]) == pytest.approx((137.5, 105.0, 550.0))
    assert (doc["currency"], doc["won_without_rate"], doc["open_without_rate"]) == ("USD", 3, 1)
    assert (doc["open_above_band"], doc["open_below_band"]) == (1, 1)
    # by_currency: the won deals of each currency, in that currency's own units.
    assert doc["by_currency"]["EUR"] == {"won": 2, "won_with_amount": 2, "won_without_amount": 0,
                                         "mean_amount": 150.0, "median_amount": 150.0, "total_amount": 300.0}
    assert doc["by_currency"]["MXN"]["total_amount"] == 3000.0
    assert list(doc["by_currency"]) == ["EUR", "GBP", "MXN", "USD", "(none)"]
    json.dumps(doc)


def test_rates_are_kept_by_subsets_and_named_in_the_notes():
    data = with_rates()
    assert data.rates["currency"].tolist() == ["EUR", "EUR", "MXN"]
    sub = data.subset(owners=["Sara"])
    pd.testing.assert_frame_equal(sub.rates, data.rates)
    assert float(sn.sales_volume(sub, **WINDOW, by=None)["total_amount"].iloc[0]) == pytest.approx(440.0)
    notes = " | ".join(data.notes)
    assert "no exchange rate for GBP (2 deals)" in notes
    assert "1 deal without a currency" in notes
    # EUR has a rate since always: only MXN has deals closed before its first rate (W4).
    assert "deals closed before their currency's first rate (MXN 1)" in notes


def test_a_folder_rates_csv_is_loaded(tmp_path: Path):
    frame().to_csv(tmp_path / "opportunities.csv", index=False)
    (tmp_path / "funnel.yml").write_text("currency: USD\nstages: [lead]\n")
    RATES.to_csv(tmp_path / "rates.csv", index=False)
    data = sn.load(tmp_path)
    assert data.rates is not None and data.rates["rate"].tolist() == [1.10, 1.20, 0.05]
    assert float(sn.sales_volume(data, **WINDOW, by=None)["total_amount"].iloc[0]) == pytest.approx(550.0)
    (tmp_path / "rates.csv").write_text("currency,valid_from,rate\nEUR,,-1\nUSD,,2\n")
    with pytest.raises(DataSchemaError, match="not positive numbers"):
        sn.load(tmp_path)


def test_a_rates_table_is_validated_by_from_frames():
    with pytest.raises(DataSchemaError, match="gives the reporting currency USD a rate other than 1"):
        sn.SalesData.from_frames(frame(), settings={"currency": "USD"},
                                 rates=pd.DataFrame({"currency": ["USD"], "rate": ["2"]}))


# --------------------------------------------------------------------------- split
def test_without_rates_amounts_are_split_by_currency_never_added():
    v = sn.sales_volume(without_rates(), **WINDOW, by=None)
    assert "never added or averaged across currencies" in v.attrs["note"]
    got = {c: (int(w), int(n), t) for c, w, n, t in v[["currency", "won", "won_with_amount",
                                                       "total_amount"]].itertuples(index=False)}
    # EUR: W2 100 + W3 200; GBP: W6 50; MXN: W4 1000 + W5 2000; USD: W1 100 (W8 no amount);
    # no currency: W7 70.
    assert got == {"EUR": (2, 2, 300.0), "GBP": (1, 1, 50.0), "MXN": (2, 2, 3000.0), "USD": (2, 1, 100.0),
                   "(none)": (1, 1, 70.0)}
    means = dict(zip(v["currency"], v["mean_amount"], strict=True))
    assert means["MXN"] == 1500.0 and means["EUR"] == 150.0
    per_owner = sn.sales_volume(without_rates(), **WINDOW, by="owner")
    assert per_owner.columns[:2].tolist() == ["owner", "currency"]
    sara = per_owner[per_owner["owner"] == "Sara"].set_index("currency")["total_amount"].to_dict()
    assert sara == {"EUR": 200.0, "GBP": 0.0, "MXN": 2000.0, "USD": 100.0, "(none)": 70.0}


def test_without_rates_flags_compare_each_deal_with_its_own_currency():
    flags = sn.deal_size_flags(without_rates(), **WINDOW).set_index("opportunity_id")
    # EUR mean 150: O1 1000 above. MXN mean 1500: O2 100 below. GBP mean 50: O3 10 below
    # (< 25). USD mean 100: O4 150 is not above 150: within.
    assert flags["flag"].to_dict() == {"O1": "above", "O2": "below", "O3": "below", "O4": "within"}
    assert flags["currency"].to_dict() == {"O1": "EUR", "O2": "MXN", "O3": "GBP", "O4": "USD"}
    assert flags.loc["O2", "reference_mean"] == 1500.0


def test_kpi_json_without_rates_splits_and_says_so():
    doc = sn.kpi_summary(without_rates(), **WINDOW)["sales_volume"]
    assert (doc["mean_amount"], doc["median_amount"], doc["total_amount"]) == (None, None, None)
    assert (doc["won_with_amount"], doc["won_without_amount"]) == (7, 1)
    assert "sales volume is split by currency" in doc["currency_note"]
    assert (doc["open_above_band"], doc["open_below_band"]) == (1, 2)
    assert doc["by_currency"]["GBP"] == {"won": 1, "won_with_amount": 1, "won_without_amount": 0,
                                         "mean_amount": 50.0, "median_amount": 50.0, "total_amount": 50.0,
                                         "open_above_band": 0, "open_below_band": 1}
    assert "currency" not in doc
    assert any("no exchange rates were given" in n for n in without_rates().notes)


def test_one_currency_without_rates_is_unchanged():
    one = frame().assign(currency="USD")
    data = sn.SalesData.from_frames(one, settings={"currency": "USD"})
    v = sn.sales_volume(data, **WINDOW, by=None)
    assert "currency" not in v.columns and "won_without_rate" not in v.columns
    # All eight won deals in USD: 100+100+200+1000+2000+50+70 = 3520 over 7 amounts.
    assert float(v["total_amount"].iloc[0]) == 3520.0
    doc = sn.kpi_summary(data, **WINDOW)["sales_volume"]
    assert "by_currency" not in doc and "currency_note" not in doc


def test_cli_kpi_json_converts_with_a_folder_rates_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    from salesnb.cli import main

    frame().to_csv(tmp_path / "opportunities.csv", index=False)
    (tmp_path / "funnel.yml").write_text("currency: USD\nstages: [lead]\n")
    args = ["kpi", str(tmp_path), "--start", WINDOW["start"], "--end", WINDOW["end"], "--json"]
    assert main(args) == 0
    split = json.loads(capsys.readouterr().out)["sales_volume"]
    assert split["total_amount"] is None and split["by_currency"]["MXN"]["total_amount"] == 3000.0
    RATES.to_csv(tmp_path / "rates.csv", index=False)
    assert main(args) == 0
    converted = json.loads(capsys.readouterr().out)["sales_volume"]
    assert converted["total_amount"] == pytest.approx(550.0) and converted["won_without_rate"] == 3


@pytest.mark.spark
def test_spark_converts_and_splits_like_duckdb(tmp_path: Path, spark: object):
    # The conversion is a non-equi join in the engine: Spark must give the same documents.
    from test_kpi_pipelines import DEALS as PIPELINE_DEALS
    from test_kpi_pipelines import HISTORY, SETTINGS

    frame().to_csv(tmp_path / "opportunities.csv", index=False)
    (tmp_path / "funnel.yml").write_text("currency: USD\nstages: [lead]\n")
    RATES.to_csv(tmp_path / "rates.csv", index=False)
    duck = sn.sales_volume(sn.load(tmp_path), **WINDOW, by=None)
    on_spark = sn.sales_volume(sn.load(tmp_path, engine="spark", spark=spark), **WINDOW, by=None)
    pd.testing.assert_frame_equal(on_spark, duck)
    assert float(on_spark["total_amount"].iloc[0]) == 550.0 and int(on_spark["won_without_rate"].iloc[0]) == 3
    pipes = tmp_path / "pipes"
    pipes.mkdir()
    pd.DataFrame(PIPELINE_DEALS, columns=["opportunity_id", "pipeline", "owner", "created_at", "status",
                                          "closed_at", "stage", "amount"]).to_csv(pipes / "opportunities.csv",
                                                                                 index=False)
    pd.DataFrame(HISTORY, columns=["opportunity_id", "stage", "entered_at"]).to_csv(pipes / "stage_history.csv",
                                                                                   index=False)
    import yaml

    (pipes / "funnel.yml").write_text(yaml.safe_dump(SETTINGS))
    window = {"start": "2025-01-01", "end": "2025-07-01"}
    duck = sn.funnel(sn.load(pipes), **window)
    on_spark = sn.funnel(sn.load(pipes, engine="spark", spark=spark), **window)
    pd.testing.assert_frame_equal(on_spark, duck)
    assert duck["pipeline"].tolist()[0] == "New"


def test_the_text_summary_says_amounts_are_split_or_converted():
    from salesnb.presentation.text import format_summary

    split = format_summary(sn.kpi_summary(without_rates(), **WINDOW), calendar="gregorian", currency="USD")
    assert "mean —   median —   total —" in split
    assert "sales volume is split by currency" in split
    assert "MXN      won     2   mean 1,500 MXN   total 3,000 MXN" in split
    converted = format_summary(sn.kpi_summary(with_rates(), **WINDOW), calendar="gregorian", currency="USD")
    assert "converted into USD; without an exchange rate (amount missing): 3 won, 1 open" in converted


def test_a_workbook_rates_sheet_is_loaded(tmp_path: Path):
    (tmp_path / "funnel.yml").write_text("currency: USD\nstages: [lead]\n")
    with pd.ExcelWriter(tmp_path / "crm.xlsx") as writer:
        frame().to_excel(writer, sheet_name="opportunities", index=False)
        RATES.to_excel(writer, sheet_name="rates", index=False)
    data = sn.load(tmp_path / "crm.xlsx")
    assert data.rates["currency"].tolist() == ["EUR", "EUR", "MXN"]
    assert float(sn.sales_volume(data, **WINDOW, by=None)["total_amount"].iloc[0]) == pytest.approx(550.0)


# --------------------------------------------------------------------------- split: every amount metric
def test_without_rates_won_value_per_period_is_per_currency_and_never_mixed():
    t = sn.won_lost(without_rates(), **WINDOW, by="owner", period="month")
    got = {(p, o): (v, c) for p, o, v, c in t[["period", "owner", "won_value", "currency"]].itertuples(index=False)}
    # January: Sara W1 100 USD, Ali W4 1000 MXN. February: Ali W2 100 EUR + W6 50 GBP (mixed).
    # March: Sara W3 200 EUR + W5 2000 MXN (mixed). April: Sara W7 70 without a currency;
    # Ali W8 without an amount.
    assert got[("2025-01", "Sara")] == (100.0, "USD") and got[("2025-01", "Ali")] == (1000.0, "MXN")
    assert got[("2025-02", "Ali")][1] == "(several)" and pd.isna(got[("2025-02", "Ali")][0])
    assert got[("2025-03", "Sara")][1] == "(several)" and pd.isna(got[("2025-03", "Sara")][0])
    assert got[("2025-04", "Sara")] == (70.0, "(none)") and got[("2025-04", "Ali")] == (0.0, "")
    assert got[("2025-02", "Sara")] == (0.0, "")
    assert "left empty" in t.attrs["currency_note"]
    lost = sn.lost_reasons(without_rates(), **WINDOW)
    assert lost[["lost_value", "currency"]].values.tolist() == [[300.0, "EUR"]]
    # With rates nothing changes shape: converted, no currency column.
    assert "currency" not in sn.won_lost(with_rates(), **WINDOW, by="owner").columns


def test_without_rates_open_and_created_values_are_per_currency():
    data = without_rates()
    per_owner = sn.open_opportunities(data, as_of="2025-05-01", by="owner").set_index("owner")
    # Sara: O1 1000 EUR + O3 10 GBP; Ali: O2 100 MXN + O4 150 USD: both mixed, counts kept.
    assert per_owner["open_count"].to_dict() == {"Ali": 2, "Sara": 2}
    assert per_owner["open_value"].isna().all() and set(per_owner["currency"]) == {"(several)"}
    per_code = sn.open_opportunities(data, as_of="2025-05-01", by="currency").set_index("currency")
    assert per_code["open_value"].to_dict() == {"EUR": 1000.0, "USD": 150.0, "MXN": 100.0, "GBP": 10.0,
                                                "(none)": 0.0}
    created = sn.new_opportunities(data, **WINDOW, by=None, period="month")
    # Every deal was created on 2025-01-02, in five currencies (or none).
    jan = created[created["period"] == "2025-01"].iloc[0]
    assert int(jan["created"]) == 13 and pd.isna(jan["created_value"]) and jan["currency"] == "(several)"
    over = sn.open_over_time(data, **WINDOW, by=None)
    assert over["open_value"].isna().all() and (over["currency"] == "(several)").all()
    velocity = sn.sales_velocity(data, **WINDOW, by=None)
    assert velocity["currency"].tolist() == ["EUR", "GBP", "MXN", "USD", "(none)"]
    assert "velocity per currency" in velocity.attrs["currency_note"]
    coverage = sn.pipeline_coverage(data, target=100.0, by="currency", as_of="2025-05-01").set_index("currency")
    # The target is in USD: only the USD pipeline has a coverage.
    assert coverage["coverage"].to_dict() == pytest.approx({"EUR": np.nan, "USD": 1.5, "MXN": np.nan, "GBP": np.nan,
                                                            "(none)": 0.0}, nan_ok=True)


def test_without_rates_the_pipeline_walk_is_one_walk_per_currency():
    walk = sn.pipeline_movement(without_rates(), **WINDOW, by="owner")
    sara_eur = walk[(walk["owner"] == "Sara") & (walk["currency"] == "EUR")].iloc[0]
    # Sara's EUR deals: W3 200 won, L1 300 lost, O1 1000 open at the end.
    assert (sara_eur["created_value"], sara_eur["won_value"], sara_eur["lost_value"],
            sara_eur["open_end_value"]) == (1500.0, 200.0, 300.0, 1000.0)
    assert walk["balanced"].all()
    assert walk.groupby("owner")["created_count"].sum().to_dict() == {"Ali": 6, "Sara": 7}
    assert "one walk per currency" in walk.attrs["currency_note"]


def test_with_rates_the_pipeline_walk_converts_each_deal_at_one_rate():
    walk = sn.pipeline_movement(with_rates(), **WINDOW, by=None).iloc[0]
    # Won as sales_volume converts them (550); L1 300 EUR lost on 02-20 at 1.10 = 330; open at
    # the end (05-01): O1 1000 x 1.20 + O2 100 x 0.05 + O4 150 = 1355 (O3 GBP: no rate).
    assert (walk["won_value"], walk["lost_value"], walk["open_end_value"]) == pytest.approx((550.0, 330.0, 1355.0))
    assert walk["created_value"] == pytest.approx(550.0 + 330.0 + 1355.0) and bool(walk["balanced"])


def test_without_rates_forecast_and_attainment_never_add_currencies():
    data = without_rates()
    fc = sn.forecast(data, as_of="2025-04-10", period="2025-04", calendar="gregorian", by="owner")
    assert fc["expected_amount"].isna().all() and set(fc["currency"]) == {"(several)"}
    assert fc["expected_count"].notna().all()
    per_code = sn.forecast(data, as_of="2025-04-10", period="2025-04", calendar="gregorian", by="currency")
    # W7 (no currency) won on 04-01: the only amount won so far.
    assert per_code.set_index("currency")["won_amount"].to_dict() == {
        "(none)": 70.0, "EUR": 0.0, "GBP": 0.0, "MXN": 0.0, "USD": 0.0}
    targets = pd.DataFrame({"owner": ["Sara", "Ali"], "period": ["2025-04"] * 2,
                            "measure": ["won_amount"] * 2, "target": [100, 100]})
    att = sn.attainment(data, targets, period="2025-04", as_of="2025-04-20", calendar="gregorian").set_index("owner")
    # Sara won W7 (no currency) and has EUR and GBP open: left empty. Ali won W8 (no amount)
    # and has MXN and USD open: 0 won, the pipeline left empty.
    assert pd.isna(att.loc["Sara", "actual"]) and att.loc["Ali", "actual"] == 0.0
    assert pd.isna(att.loc["Ali", "pipeline"])
    assert any("no exchange rates were given" in n for n in att.attrs["notes"])
    converted = sn.attainment(with_rates(), targets, period="2025-04", as_of="2025-04-20",
                              calendar="gregorian").set_index("owner")
    assert converted["pipeline"].to_dict() == pytest.approx({"Sara": 1200.0, "Ali": 155.0})


def test_tables_for_people_show_each_rows_own_currency():
    from salesnb.presentation import views
    from salesnb.presentation.notebook import prepare

    ctx = prepare(start=WINDOW["start"], end=WINDOW["end"], calendar="gregorian", interactive=False,
                  data=without_rates())
    section = views.won_lost_view(ctx)
    assert any("never added or averaged across currencies" in n for n in section.notes)
    walk = views.movement_view(ctx)
    by_value = next(t for k, t in walk.tables.items() if "value" in k)
    mxn = by_value[by_value["Currency"] == "MXN"].iloc[-1]
    assert mxn.iloc[3].endswith("MXN") and not any(str(v).endswith("USD") for v in mxn)
    assert any("one walk per currency" in n for n in walk.notes)


def test_without_rates_risk_size_bands_rank_each_amount_within_its_currency():
    from salesnb.metrics.deal_risk import _gather_risk_inputs
    from salesnb.metrics.window import resolve_moment

    data = without_rates()
    x = _gather_risk_inputs(data, resolve_moment(data, "2025-05-01", None))
    ids = x.opportunity_id.tolist()
    rank = dict(zip(ids, x.size_key, strict=True))
    # MXN: W4 1000 < W5 2000 > O2 100 -> ranks 2/3, 1, 1/3: O2 is the smallest MXN deal,
    # although 100 MXN is not small next to the USD amounts.
    assert (rank["O2"], rank["W4"], rank["W5"]) == pytest.approx((1 / 3, 2 / 3, 1.0))
    assert rank["W7"] == 1.0 and np.isnan(rank["W8"])
    assert _gather_risk_inputs(with_rates(), resolve_moment(data, "2025-05-01", None)).size_key is None
    table = sn.risk(data, as_of="2025-05-01")
    assert any("size bands rank each amount among the deals of its own currency" in n for n in table.attrs["notes"])
