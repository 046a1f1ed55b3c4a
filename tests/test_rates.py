"""Exchange rates: the rates.csv table validated, and what it leaves uncovered."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from salesnb.data.rates import RATE_COLUMNS, check_rates, clean_rates, load_rates
from salesnb.exceptions import DataSchemaError


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def test_rates_hold_from_valid_from_until_the_next() -> None:
    raw = pd.DataFrame({"currency": ["EUR", " usd ", "EUR", "EUR"],
                        "valid_from": ["2025-07-01", "", "2025-01-01", ""], "rate": ["1.15", "1", "1.08", "1.05"]})
    rates = clean_rates(raw, source="rates.csv", tz="UTC", reporting="USD")
    assert list(rates.columns) == list(RATE_COLUMNS)
    # Sorted by currency, "since always" first, then by valid_from; each holds until the next.
    assert rates["currency"].tolist() == ["EUR", "EUR", "EUR", "USD"]
    assert rates["rate"].tolist() == [1.05, 1.08, 1.15, 1.0]
    assert pd.isna(rates.loc[0, "valid_from"]) and rates.loc[0, "valid_to"] == ts("2025-01-01")
    assert rates.loc[1, "valid_to"] == ts("2025-07-01")
    assert pd.isna(rates.loc[2, "valid_to"]) and pd.isna(rates.loc[3, "valid_to"])
    assert str(rates["valid_from"].dtype) == "datetime64[ns, UTC]"


def test_salesforce_conversion_rates_are_inverted() -> None:
    # ConversionRate = units of the currency per unit of the corporate currency (USD).
    raw = pd.DataFrame({"currency": ["MXN", "USD"], "rate": ["18.2", "1"]})
    rates = clean_rates(raw, source="CurrencyType.csv", tz="UTC", reporting="USD", invert=True)
    assert rates.set_index("currency")["rate"].to_dict() == pytest.approx({"MXN": 1 / 18.2, "USD": 1.0})


def test_every_problem_of_a_rates_table_is_listed() -> None:
    raw = pd.DataFrame({"currency": ["EUR", "", "GBP", "GBP", "USD", "JPY"],
                        "valid_from": ["2025-01-01", "", "2025-13-01", "", "", ""],
                        "rate": ["1.1", "2", "1.2", "x", "1.3", "-1"]})
    with pytest.raises(DataSchemaError) as info:
        clean_rates(raw, source="rates.csv", tz="UTC", reporting="USD")
    rules = [p.rule for p in info.value.problems]
    assert rules == ["has blank currencies", "has values that cannot be read as a date",
                     "has rates that are not positive numbers", "gives the reporting currency USD a rate other than 1"]
    assert info.value.problems[2].ids == ("row 3", "row 5")
    twice = pd.DataFrame({"currency": ["EUR", "eur"], "valid_from": ["2025-01-01", "2025-01-01"], "rate": ["1", "2"]})
    with pytest.raises(DataSchemaError, match="lists a currency twice from the same moment"):
        clean_rates(twice, source="rates.csv", tz="UTC")
    with pytest.raises(DataSchemaError, match="column 'rate': required column is missing"):
        clean_rates(pd.DataFrame({"currency": ["EUR"]}), source="rates.csv", tz="UTC")


def test_load_rates_reads_a_file(tmp_path: Path) -> None:
    path = tmp_path / "rates.csv"
    path.write_text("currency,valid_from,rate\nEUR,2025-01-01,1.1\nEUR,2025-02-30,1.2\n", encoding="utf-8")
    with pytest.raises(DataSchemaError) as info:
        load_rates(path)
    assert info.value.problems[0].ids == ("line 3",)


def test_check_rates_counts_currencies_and_what_is_not_covered() -> None:
    opps = pd.DataFrame({"currency": ["USD", "mxn", "MXN", "PEN", None],
                         "closed_at": [ts("2025-01-05"), ts("2024-12-01"), pd.NaT, ts("2025-02-01"), pd.NaT]})
    none = check_rates(opps, None, "USD")
    assert none.currencies == {"MXN": 2, "PEN": 1, "USD": 1}
    assert "amounts are in 3 currencies (MXN 2, PEN 1, USD 1; 1 deal without a currency)" in none.notes[0]
    rates = clean_rates(pd.DataFrame({"currency": ["MXN"], "valid_from": ["2025-01-01"], "rate": ["0.055"]}),
                        source="rates.csv", tz="UTC", reporting="USD")
    covered = check_rates(opps, rates, "USD")
    assert covered.without_rate == {"PEN": 1}
    assert covered.before_first_rate == {"MXN": 1}  # closed 2024-12-01, the first MXN rate from 2025-01-01
    # With rates, the deal without a currency cannot be converted: said too (issue 12).
    assert len(covered.notes) == 3
    assert covered.notes[1] == "1 deal without a currency: their amounts cannot be converted to USD"
    # A rate since always (empty valid_from) leaves no deal before the currency's first rate.
    always = clean_rates(pd.DataFrame({"currency": ["MXN", "MXN"], "valid_from": ["", "2025-01-01"],
                                       "rate": ["0.05", "0.055"]}), source="rates.csv", tz="UTC", reporting="USD")
    assert check_rates(opps, always, "USD").before_first_rate == {}
    assert check_rates(pd.DataFrame({"x": [1]}), None, None).notes == []
    single = check_rates(pd.DataFrame({"currency": ["EUR", "EUR"]}), None, "EUR")
    assert single.notes == [] and single.currencies == {"EUR": 2}
    assert np.isnan(np.nan)
