"""Exchange rates: the ``rates.csv`` table, read, validated and checked against the deals.

A dataset whose deals are in several currencies (a ``currency`` column) needs rates to
add or average their amounts; without them amounts are only ever summed per currency.
The rates table, in the canonical layout::

    currency,valid_from,rate
    USD,,1
    EUR,2025-01-01,1.08
    EUR,2025-07-01,1.15

* ``currency`` — a currency code, as in the deals' ``currency`` column (compared after
  trimming, in upper case);
* ``valid_from`` — the first moment the rate holds (ISO 8601; a date is midnight in the
  dataset's time zone); empty: since always. It holds until the currency's next
  ``valid_from``;
* ``rate`` — the value of one unit of ``currency`` in the reporting currency
  (``funnel.yml`` ``currency``): an amount converts as ``amount * rate``. The reporting
  currency's own rate, when listed, must be 1.

:func:`clean_rates` returns it as a DataFrame (the layout the metrics read): ``currency``
(str), ``valid_from`` and ``valid_to`` (timezone-aware timestamps, NaT for since always /
until further notice), ``rate`` (float64), sorted by currency and ``valid_from``.
Won and lost deals convert at their ``closed_at``, open deals at ``as_of`` (done by the
metrics). Salesforce exports map to it (``DatedConversionRate.csv``: ``IsoCode``,
``StartDate``, ``ConversionRate`` — units per one unit of the corporate currency, so the
rate is its inverse; else ``CurrencyType.csv``, one rate per currency since always).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from salesnb.data.readers import read_export
from salesnb.data.validation import clean_text, parse_timestamps
from salesnb.exceptions import DataSchemaError, Problem

__all__ = ["RATE_COLUMNS", "RatesCheck", "check_rates", "clean_rates", "load_rates"]

RATE_COLUMNS = ("currency", "valid_from", "valid_to", "rate")


def clean_rates(frame: pd.DataFrame, *, source: str, tz: str, reporting: str | None = None,
                invert: bool = False, labels: object = None) -> pd.DataFrame:
    """Validate a rates table (``currency``, optional ``valid_from``, ``rate``).

    Parameters
    ----------
    frame : DataFrame
        The raw table.
    source : str
        File name shown in errors.
    tz : str
        Time zone of naive ``valid_from`` values.
    reporting : str, optional
        The reporting currency: its rate, when listed, must be 1.
    invert : bool, default False
        The file gives units of the currency per unit of the reporting currency
        (Salesforce ``ConversionRate``): the rate is the inverse.

    Returns
    -------
    DataFrame
        ``currency``, ``valid_from``, ``valid_to``, ``rate`` (see the module docstring).

    Raises
    ------
    DataSchemaError
        Listing every problem: missing columns, blank currencies, unreadable dates,
        rates that are not positive numbers, a currency listed twice from the same
        moment, a reporting-currency rate other than 1.

    Examples
    --------
    >>> raw = pd.DataFrame({"currency": ["usd", "EUR", "EUR"], "valid_from": ["", "2025-01-01", "2025-07-01"],
    ...                     "rate": ["1", "1.08", "1.15"]})
    >>> rates = clean_rates(raw, source="rates.csv", tz="UTC", reporting="USD")
    >>> rates[["currency", "rate"]].values.tolist()
    [['EUR', 1.08], ['EUR', 1.15], ['USD', 1.0]]
    >>> str(rates.loc[0, "valid_to"].date())
    '2025-07-01'
    """
    missing = [c for c in ("currency", "rate") if c not in frame.columns]
    if missing:
        raise DataSchemaError(problems=[Problem(
            f"required column is missing; columns found: {', '.join(map(str, frame.columns)) or '(none)'}",
            source, "write the rates as currency, valid_from, rate (see docs/presets.md, 'Exchange rates')", c)
            for c in missing])
    label = labels if callable(labels) else (lambda pos: [f"row {int(p)}" for p in pos])
    frame = frame.reset_index(drop=True)
    currency = clean_text(frame["currency"]).str.upper()
    raw_rate = clean_text(frame["rate"])
    rate = pd.to_numeric(raw_rate, errors="coerce").astype("float64")
    if "valid_from" in frame.columns:
        valid_from, bad_from = parse_timestamps(frame["valid_from"], tz=tz)
    else:
        valid_from = pd.Series(pd.NaT, index=frame.index, dtype=f"datetime64[ns, {tz}]")
        bad_from = np.zeros(len(frame), dtype=bool)
    problems = []

    def rows_of(mask: np.ndarray) -> tuple[str, ...]:
        return tuple(label(np.flatnonzero(mask)))

    blank = currency.isna().to_numpy()
    if blank.any():
        problems.append(Problem("has blank currencies", source, "give every rate its currency code", "currency",
                                rows_of(blank)))
    if bad_from.any():
        problems.append(Problem("has values that cannot be read as a date", source,
                                "write valid_from as an ISO date (2025-01-01), or leave it empty for 'since always'",
                                "valid_from", rows_of(bad_from), tuple(frame["valid_from"].to_numpy()[bad_from])))
    bad_rate = (rate.isna() | (rate <= 0) | ~np.isfinite(rate.fillna(0))).to_numpy()
    if bad_rate.any():
        problems.append(Problem("has rates that are not positive numbers", source,
                                "write each rate as a plain positive number (1.08), the value of one unit in the "
                                "reporting currency", "rate", rows_of(bad_rate), tuple(raw_rate.to_numpy()[bad_rate])))
    if invert:
        rate = 1.0 / rate
    readable = ~blank & ~bad_from
    key = pd.DataFrame({"c": currency, "f": valid_from})[readable]
    twice = np.zeros(len(frame), dtype=bool)
    twice[np.flatnonzero(readable)[key.duplicated(keep=False).to_numpy()]] = True
    if twice.any():
        problems.append(Problem("lists a currency twice from the same moment", source,
                                "keep one rate per currency and valid_from", "valid_from", rows_of(twice),
                                tuple(currency.to_numpy()[twice])))
    if reporting:
        own = (currency == reporting.upper()).to_numpy() & ~bad_rate & ~np.isclose(rate.fillna(1), 1.0)
        if own.any():
            problems.append(Problem(f"gives the reporting currency {reporting} a rate other than 1", source,
                                    "give the reporting currency (funnel.yml 'currency') the rate 1, or set "
                                    "'currency' to the currency the rates convert into", "rate", rows_of(own),
                                    tuple(raw_rate.to_numpy()[own])))
    if problems:
        raise DataSchemaError.from_problems(problems)
    out = pd.DataFrame({"currency": currency.astype("str"), "valid_from": valid_from, "rate": rate})
    out = out.assign(_since=out["valid_from"].isna()).sort_values(
        ["currency", "_since", "valid_from"], ascending=[True, False, True], kind="mergesort").drop(columns="_since")
    out = out.reset_index(drop=True)
    nxt = out.groupby("currency", sort=False)["valid_from"].shift(-1)
    out.insert(2, "valid_to", nxt)
    return out[list(RATE_COLUMNS)]


def load_rates(path: str | Path, *, tz: str = "UTC", reporting: str | None = None) -> pd.DataFrame:
    """Read and validate a ``rates.csv`` file (see the module docstring).

    Parameters
    ----------
    path : str or Path
        The file (CSV: ``currency, valid_from, rate``; its encoding is detected).
    tz : str, default "UTC"
        Time zone of naive ``valid_from`` values (the dataset's).
    reporting : str, optional
        The reporting currency (``funnel.yml`` ``currency``): its rate, when listed, must be 1.

    Returns
    -------
    DataFrame
        ``currency``, ``valid_from``, ``valid_to``, ``rate``.

    Raises
    ------
    DataSchemaError
        Listing every problem of the table.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "rates.csv").write_text("currency,valid_from,rate\\nEUR,2025-01-01,1.1\\n")
    >>> load_rates(folder / "rates.csv")["rate"].tolist()
    [1.1]
    """
    export = read_export(Path(path), None)
    return clean_rates(export.frame, source=str(path), tz=tz, reporting=reporting, labels=export.labels)


@dataclass
class RatesCheck:
    """What the rates cover: currencies without a rate, deals closed before a currency's first rate."""

    currencies: dict[str, int] = field(default_factory=dict)
    without_rate: dict[str, int] = field(default_factory=dict)
    before_first_rate: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def check_rates(opps: pd.DataFrame, rates: pd.DataFrame | None, reporting: str | None) -> RatesCheck:
    """Count the deals per currency and what the rates leave uncovered (for the notes).

    Examples
    --------
    >>> opps = pd.DataFrame({"currency": ["USD", "MXN", "MXN", None]})
    >>> check_rates(opps, None, "USD").notes[0]
    'amounts are in 2 currencies (MXN 2, USD 1; 1 deal without a currency) and no exchange rates were given: every amount metric is split by currency, never added or averaged across currencies: give rates.csv to convert them'
    """
    out = RatesCheck()
    if "currency" not in opps.columns:
        return out
    cur = clean_text(opps["currency"]).str.upper()
    counts = cur.value_counts()
    out.currencies = {str(k): int(v) for k, v in sorted(counts.items())}
    blank = int(cur.isna().sum())
    listed = ", ".join(f"{k} {v:,}" for k, v in out.currencies.items())
    tail = f"; {blank:,} deal{'s' if blank != 1 else ''} without a currency" if blank else ""
    if len(out.currencies) > 1 and (rates is None or rates.empty):
        out.notes.append(f"amounts are in {len(out.currencies)} currencies ({listed}{tail}) and no exchange rates "
                         "were given: every amount metric is split by currency, never added or averaged "
                         "across currencies: give rates.csv to convert them")
        return out
    if rates is None or rates.empty:
        return out
    have = set(rates["currency"])
    if reporting:
        have.add(reporting.upper())
    out.without_rate = {k: v for k, v in out.currencies.items() if k not in have}
    if out.without_rate:
        shown = ", ".join(f"{k} ({v:,} deals)" for k, v in out.without_rate.items())
        out.notes.append(f"no exchange rate for {shown}: their amounts cannot be converted to "
                         f"{reporting or 'the reporting currency'}")
    if blank:
        out.notes.append(f"{blank:,} deal{'s' if blank != 1 else ''} without a currency: their amounts cannot "
                         f"be converted to {reporting or 'the reporting currency'}")
    # A currency with a rate since always (empty valid_from) has no first rate.
    since_always = set(rates.loc[rates["valid_from"].isna(), "currency"])
    dated = rates[~rates["currency"].isin(since_always)]
    if "closed_at" in opps.columns and len(dated):
        first = dated.groupby("currency")["valid_from"].min()
        starts = cur.map(first)
        early = (opps["closed_at"].notna() & starts.notna() & (opps["closed_at"] < starts)).to_numpy()
        if early.any():
            out.before_first_rate = {str(k): int(v) for k, v in cur[early].value_counts().sort_index().items()}
            shown = ", ".join(f"{k} {v:,}" for k, v in out.before_first_rate.items())
            out.notes.append(f"deals closed before their currency's first rate ({shown}): no rate holds at "
                             "their close date")
    return out
