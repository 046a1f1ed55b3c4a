"""Independent readers for the preset tests: the raw fixture files read with plain csv / pandas.

The expected numbers of every preset test are counted here from the export files as
they are, never through salesnb, so that a mapping bug cannot hide in both sides.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "presets"


def raw_csv(path: Path, encoding: str = "utf-8-sig") -> pd.DataFrame:
    """Every cell as text ('' when empty), columns as written (a repeated name gets pandas' '.1')."""
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding=encoding)


def raw_report(path: Path, encoding: str = "utf-8") -> tuple[list[str], list[list[str]], list[int], list[str]]:
    """A report export: header, data rows (up to the first blank line), their file lines, footer lines."""
    text = path.read_bytes().decode(encoding)
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader)
    rows: list[list[str]] = []
    lines: list[int] = []
    footer: list[str] = []
    line = reader.line_num
    in_footer = False
    for record in reader:
        start = line + 1
        line = reader.line_num
        if not any(cell.strip() for cell in record):
            in_footer = True
            continue
        if in_footer or (len([c for c in record if c.strip()]) == 1 and record[0].startswith("Grand Totals")):
            in_footer = True
            footer.append(record[0])
            continue
        rows.append(record)
        lines.append(start)
    return header, rows, lines, footer


def day(text: str, *, dayfirst: bool = False) -> pd.Timestamp:
    """The UTC midnight of a date written as the exports write it."""
    value = pd.to_datetime(text, dayfirst=dayfirst)
    return pd.Timestamp(value.date(), tz="UTC")


def when(text: str) -> pd.Timestamp:
    """A timestamp in UTC (naive text is UTC, as the fixtures' funnel settings say)."""
    value = pd.Timestamp(text)
    return value.tz_convert("UTC") if value.tzinfo else value.tz_localize("UTC")


def status_counts(statuses: Any) -> dict[str, int]:
    series = pd.Series(list(statuses))
    return {k: int(v) for k, v in series.value_counts().items()}


def by_deal(ids: Any, *columns: Any) -> dict[str, list[tuple[Any, ...]]]:
    """Entries grouped by opportunity, each deal's entries in their order (to compare histories)."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    for i, *values in zip(ids, *columns, strict=True):
        out.setdefault(str(i), []).append(tuple(values))
    return out


def history_of(data: Any) -> dict[str, list[tuple[Any, ...]]]:
    hist = data.stage_history
    return by_deal(hist["opportunity_id"], hist["stage"], hist["entered_at"])
