"""Column mappings, the report: what a mapping did to an export, for people and machines.

:class:`MappingReport` holds the tables (rows set aside, values repaired, values mapped)
and :meth:`MappingReport.describe` says it in plain lines; :func:`quality_document`
builds the machine-readable summary that ``SalesData.quality`` holds and
``salesnb validate --json`` prints (see ``docs/presets.md``, "The quality document").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from salesnb.data.dataset import SalesData
from salesnb.data.mapping_tables import rows

__all__ = ["MappedDataset", "MappingReport", "dataset_quality", "quality_document"]


@dataclass(frozen=True, eq=False)
class MappingReport:
    """What a mapping did to an export.

    Attributes
    ----------
    mapping : str
        The mapping's name, variant and origin.
    rows_read : dict
        Rows read per file (main file first).
    opportunities : int
        Opportunities loaded.
    history_rows : int
        Stage-history entries loaded.
    set_aside : DataFrame
        One row per row set aside: ``table`` (opportunities / stage_history), ``file``,
        ``line``, ``opportunity_id``, ``reason``, then the row's export columns
        (history rows: ``stage`` and ``entered_at``).
    values_mapped : DataFrame
        ``column``, ``from_value``, ``to_value``, ``rows``: every translation made.
    steps : tuple of str
        The other steps in plain words (files read, lookups, clears, history...).
    notes : tuple of str
        The lines added to ``SalesData.notes``.
    repaired : DataFrame
        One row per value repaired by a quirk rule: ``table``, ``file``, ``line``,
        ``opportunity_id``, ``rule``, ``column``, ``before``, ``after``.
    quality : dict
        The machine-readable summary (``SalesData.quality``).
    rates : DataFrame or None
        The exchange rates read (see :mod:`salesnb.data.rates`), None without any.
    warnings : tuple of str
        Warnings of the run (a stage order inferred, values caught by a catch-all...).
    """

    mapping: str
    rows_read: dict[str, int]
    opportunities: int
    history_rows: int
    set_aside: pd.DataFrame
    values_mapped: pd.DataFrame
    steps: tuple[str, ...]
    notes: tuple[str, ...]
    repaired: pd.DataFrame = field(default_factory=pd.DataFrame)
    quality: dict[str, Any] = field(default_factory=dict)
    rates: pd.DataFrame | None = None
    warnings: tuple[str, ...] = ()

    def set_aside_counts(self) -> pd.DataFrame:
        """Return the rows set aside counted by table, file and reason."""
        if self.set_aside.empty:
            return pd.DataFrame({"table": [], "file": [], "reason": [], "rows": []})
        return (self.set_aside.groupby(["table", "file", "reason"], sort=False).size()
                .rename("rows").reset_index())

    def describe(self) -> str:
        """Describe in plain lines what the mapping did: rows read, set aside and why, values mapped."""
        lines = [f"mapping: {self.mapping}"]
        lines.append("rows read: " + ", ".join(f"{n:,} from {name}" for name, n in self.rows_read.items()))
        files = self.quality.get("files", {})
        encodings = ", ".join(f"{name} {info['encoding_detected']}" for name, info in files.items()
                              if info.get("encoding") not in ("xlsx", "parquet"))
        if encodings:
            lines.append(f"encoding: {encodings}")
        lines.append(f"loaded: {self.opportunities:,} opportunities, {self.history_rows:,} stage-history entries")
        counts = self.set_aside_counts()
        lines.append(f"set aside: {rows(len(self.set_aside))}" + (", by reason:" if len(counts) else ""))
        lines.extend(f"  - {rows(int(n))} of {file} ({table}): {reason}"
                     for table, file, reason, n in counts[["table", "file", "reason", "rows"]].to_numpy())
        if len(self.repaired):
            lines.append(f"repaired: {rows(len(self.repaired), 'value')}, by rule:")
            grouped = self.repaired.groupby(["table", "rule", "column"], sort=False).size().reset_index(name="n")
            lines.extend(f"  - {rule}: {column} on {rows(int(n))} ({table})"
                         for table, rule, column, n in grouped.itertuples(index=False))
        else:
            lines.append("repaired: none")
        if len(self.values_mapped):
            lines.append("values mapped:")
            for col, grp in self.values_mapped.groupby("column", sort=False):
                pairs = ", ".join(f"{r.from_value!r} → {_show(r.to_value)} ({r.rows:,})"
                                  for r in grp.itertuples(index=False))
                lines.append(f"  {col}: {pairs}")
        else:
            lines.append("values mapped: none")
        unmapped = {f"{table}.{col}": values for table, info in self.quality.get("tables", {}).items()
                    for col, values in info.get("unmapped_values", {}).items()}
        if unmapped:
            lines.append("values the mapping does not name (caught by a catch-all rule):")
            lines.extend(f"  {col}: " + ", ".join(f"{v!r} ({n:,})" for v, n in values.items())
                         for col, values in unmapped.items())
        sources = self.quality.get("columns", {})
        if sources:
            lines.append("columns read from several sources (rows read, by source):")
            lines.extend(f"  {col}: " + ", ".join(f"{src} {n:,}" for src, n in counts.items())
                         for col, counts in sources.items())
        order = self.quality.get("stage_order")
        if order:
            lines.append(f"stage order: {order['source']}")
        if self.steps:
            lines.append("steps:")
            lines.extend(f"  {step}" for step in self.steps)
        return "\n".join(lines)


def _show(value: Any) -> str:
    return "(empty)" if value is None or (isinstance(value, float) and np.isnan(value)) else repr(value)


class MappedDataset(NamedTuple):
    """The result of :func:`~salesnb.data.mapping_apply.apply_mapping`: the dataset and the report."""

    data: SalesData
    report: MappingReport


def quality_document(*, source: str, mapping: str | None, variant: str | None, strict: bool,
                     tables: dict[str, dict[str, Any]], files: dict[str, dict[str, Any]],
                     stage_order: dict[str, Any], columns: dict[str, dict[str, int]],
                     currencies: dict[str, Any], notes: list[str], warnings: list[str]) -> dict[str, Any]:
    """Assemble the quality document (every value JSON-ready).

    ``ok`` is true when every table's rows are accounted for: rows read (plus entries a
    rule added) = rows loaded + rows set aside.
    """
    ok = all(t.get("accounted_for", True) for t in tables.values())
    return {
        "source": source,
        "mapping": mapping,
        "variant": variant,
        "strict": strict,
        "ok": ok,
        "tables": tables,
        "files": files,
        "stage_order": stage_order,
        "columns": columns,
        "currencies": currencies,
        "notes": list(notes),
        "warnings": list(warnings),
    }


def dataset_quality(data: SalesData, *, encoding: str = "utf-8") -> dict[str, Any]:
    """The quality document of a dataset: its own (a mapping's) or one made for a canonical dataset.

    A canonical dataset is held to the strict contract: every row read is loaded or the
    load fails, so nothing is set aside or repaired.

    Examples
    --------
    >>> import salesnb as sn
    >>> doc = dataset_quality(sn.load(sn.sample_path()))
    >>> doc["tables"]["opportunities"]["rows_read"] == doc["tables"]["opportunities"]["rows_loaded"]
    True
    """
    if data.quality:
        return dict(data.quality)
    settings = data.settings
    if settings.stages_source:
        source = settings.stages_source
    elif settings.stages_inferred:
        source = "inferred from the stage history"
    else:
        source = f"configured ({settings.source})"

    def table(n: int, file: str) -> dict[str, Any]:
        return {"file": file, "encoding": encoding, "rows_read": n, "rows_loaded": n, "set_aside": {},
                "repaired": {}, "unmapped_values": {}, "footer_lines": 0, "blank_lines": 0, "accounted_for": True}

    tables = {"opportunities": table(len(data.opportunities), data.source)}
    if data.has_history:
        tables["stage_history"] = table(len(data.stage_history), "stage_history")
    currencies = {}
    if "currency" in data.opportunities.columns:
        counts = data.opportunities["currency"].dropna().astype(str).str.upper().value_counts().sort_index()
        currencies = {"currencies": {str(k): int(v) for k, v in counts.items()},
                      "reporting_currency": settings.currency, "rates_file": None}
    return quality_document(
        source=data.source, mapping=None, variant=None, strict=True, tables=tables, files={},
        stage_order={"source": source, "stages": list(settings.stages),
                     "pipelines": {k: list(v) for k, v in settings.pipelines.items()},
                     "inferred": list(settings.stages) if settings.stages_inferred else []},
        columns={}, currencies=currencies, notes=list(data.notes), warnings=[])
