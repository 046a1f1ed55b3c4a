"""Loading datasets from folders (CSV / Parquet), Excel workbooks and databases.

A dataset folder holds ``opportunities.csv`` or ``opportunities.parquet``, optionally
``stage_history.csv`` / ``.parquet`` and ``funnel.yml``; instead of the tables it may
hold one Excel workbook (``*.xlsx``) with sheets ``opportunities`` and (optionally)
``stage_history``. A workbook path may also be given directly.
"""

from __future__ import annotations

from pathlib import Path

from salesnb._memory import release_memory
from salesnb.data.dataset import SalesData, SettingsLike
from salesnb.data.mapping_spec import MappingLike
from salesnb.data.readers import (
    WORKBOOK_SUFFIXES,
    find_table,
    folder_settings,
    read_table,
    read_workbook,
)
from salesnb.data.settings import FunnelSettings, coerce_settings
from salesnb.data.validation import line_labels, position_labels
from salesnb.exceptions import DataFileError

__all__ = ["load"]



def load(
    source: str | Path,
    *,
    settings: SettingsLike = None,
    encoding: str = "utf-8",
    mapping: MappingLike | None = None,
) -> SalesData:
    """Load and validate a dataset.

    Parameters
    ----------
    source : str or Path
        A dataset folder, an Excel workbook (``.xlsx``), or a database URL
        (``sqlite:///data/sample.sqlite``, ``postgresql+psycopg://...``) whose tables use
        the canonical names.
    settings : mapping, path or FunnelSettings, optional
        Funnel settings. A mapping is merged over the folder's ``funnel.yml``; a path
        or a FunnelSettings replaces it.
    encoding : str, default "utf-8"
        Text encoding of CSV files (a UTF-8 byte-order mark is accepted). Use for
        example ``"cp1256"`` for Windows Persian/Arabic exports.
    mapping : str, Path or dict, optional
        Read a CRM export through a column mapping: a preset name (``maven``,
        ``salesforce``, ``hubspot``, ``pipedrive``) or a mapping YAML file (see
        ``docs/presets.md``). ``source`` is then the export folder or file. Rows the
        mapping sets aside are counted in ``notes``; use
        :func:`salesnb.apply_mapping` for the full report.

    Returns
    -------
    SalesData

    Raises
    ------
    DataFileError
        A file is missing, empty, unreadable or wrongly encoded.
    DataSchemaError
        The data break the canonical layout's rules (every problem is listed).
    SettingsError
        ``funnel.yml`` is malformed.

    Examples
    --------
    >>> import salesnb as sn
    >>> data = sn.load(sn.sample_path())
    >>> data.settings.calendar
    'jalali'
    """
    if mapping is not None:
        if isinstance(source, str) and "://" in source:
            raise DataFileError("a column mapping reads export files, not databases", path=source,
                                fix="select canonical column names in the query (load_sql), or export to CSV")
        from salesnb.data.mapping_apply import apply_mapping

        return apply_mapping(source, mapping, settings=settings, encoding=encoding).data
    if isinstance(source, str) and "://" in source:
        from salesnb.data.sql import load_sql

        return load_sql(source, settings=settings)
    path = Path(source)
    if not path.exists():
        raise DataFileError("no such file or folder", path=str(path),
                            fix="pass a dataset folder (with opportunities.csv or .parquet), "
                                "an .xlsx workbook, or a database URL")
    if path.is_file():
        if path.suffix.lower() in WORKBOOK_SUFFIXES:
            return _load_workbook(path, settings=settings, base=folder_settings(path.parent))
        raise DataFileError("is a single file", path=str(path),
                            fix=f"pass the folder that holds it ({path.parent}); a dataset folder has "
                                "opportunities.csv or .parquet, optional stage_history and funnel.yml")
    base = folder_settings(path)
    opp_file = find_table(path, "opportunities")
    if opp_file is None:
        workbooks = sorted(p for p in path.glob("*.xlsx") if not p.name.startswith("~$"))
        if len(workbooks) == 1:
            return _load_workbook(workbooks[0], settings=settings, base=base)
        found = ", ".join(sorted(p.name for p in path.iterdir())) or "(empty folder)"
        raise DataFileError(
            f"no opportunities table found (files here: {found})", path=str(path),
            fix="add opportunities.csv or opportunities.parquet (or one .xlsx workbook with an "
                "'opportunities' sheet)",
        )
    resolved = coerce_settings(settings, base=base)
    opps, opp_rows = read_table(opp_file, encoding)
    hist_file = find_table(path, "stage_history")
    hist, hist_rows = (None, position_labels) if hist_file is None else read_table(hist_file, encoding)
    release_memory()  # the Parquet/CSV readers' scratch buffers, before validation needs its own
    data = SalesData.from_frames(
        opps, hist, resolved, source=str(opp_file),
        history_source=str(hist_file) if hist_file else None,
        opportunities_rows=opp_rows, history_rows=hist_rows,
    )
    del opps, hist
    release_memory()
    return data


def _load_workbook(path: Path, *, settings: SettingsLike, base: FunnelSettings | None) -> SalesData:
    sheets = read_workbook(path)
    by_name = {str(k).strip().lower(): v for k, v in sheets.items()}
    if "opportunities" not in by_name:
        raise DataFileError(
            f"has no 'opportunities' sheet (sheets: {', '.join(map(str, sheets))})", path=str(path),
            fix="name the sheet with one row per deal 'opportunities' (and the history 'stage_history')",
        )
    resolved = coerce_settings(settings, base=base)
    hist = by_name.get("stage_history")
    return SalesData.from_frames(
        by_name["opportunities"], hist, resolved,
        source=f"{path} [opportunities]", history_source=f"{path} [stage_history]",
        opportunities_rows=line_labels(2), history_rows=line_labels(2),
    )
