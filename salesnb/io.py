"""Loading datasets from folders (CSV / Parquet), Excel workbooks and databases.

A dataset folder holds ``opportunities.csv`` or ``opportunities.parquet``, optionally
``stage_history.csv`` / ``.parquet`` and ``funnel.yml``; instead of the tables it may
hold one Excel workbook (``*.xlsx``) with sheets ``opportunities`` and (optionally)
``stage_history``. A workbook path may also be given directly.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from salesnb.data import SalesData, SettingsLike
from salesnb.exceptions import DataFileError
from salesnb.memory import release_memory
from salesnb.settings import FunnelSettings, coerce_settings, load_settings
from salesnb.validation import RowLabel, line_labels, position_labels

if TYPE_CHECKING:
    from salesnb.mapping import MappingLike

__all__ = ["load"]

TABLES = ("opportunities", "stage_history")
SETTINGS_FILE = "funnel.yml"


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
        :func:`salesnb.mapping.apply_mapping` for the full report.

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
        from salesnb.mapping import apply_mapping

        return apply_mapping(source, mapping, settings=settings, encoding=encoding).data
    if isinstance(source, str) and "://" in source:
        from salesnb.sql import load_sql

        return load_sql(source, settings=settings)
    path = Path(source)
    if not path.exists():
        raise DataFileError("no such file or folder", path=str(path),
                            fix="pass a dataset folder (with opportunities.csv or .parquet), "
                                "an .xlsx workbook, or a database URL")
    if path.is_file():
        if path.suffix.lower() in (".xlsx", ".xlsm"):
            return _load_workbook(path, settings=settings, base=_folder_settings(path.parent))
        raise DataFileError("is a single file", path=str(path),
                            fix=f"pass the folder that holds it ({path.parent}); a dataset folder has "
                                "opportunities.csv or .parquet, optional stage_history and funnel.yml")
    base = _folder_settings(path)
    opp_file = _find_table(path, "opportunities")
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
    opps, opp_rows = _read_table(opp_file, encoding)
    hist_file = _find_table(path, "stage_history")
    hist, hist_rows = (None, position_labels) if hist_file is None else _read_table(hist_file, encoding)
    release_memory()  # the Parquet/CSV readers' scratch buffers, before validation needs its own
    data = SalesData.from_frames(
        opps, hist, resolved, source=str(opp_file),
        history_source=str(hist_file) if hist_file else None,
        opportunities_rows=opp_rows, history_rows=hist_rows,
    )
    del opps, hist
    release_memory()
    return data


def _folder_settings(folder: Path) -> FunnelSettings | None:
    candidate = folder / SETTINGS_FILE
    if not candidate.exists():
        alt = folder / "funnel.yaml"
        candidate = alt if alt.exists() else candidate
    return load_settings(candidate) if candidate.exists() else None


def _find_table(folder: Path, name: str) -> Path | None:
    found = [folder / f"{name}{ext}" for ext in (".csv", ".parquet")
             if (folder / f"{name}{ext}").exists()]
    if len(found) > 1:
        raise DataFileError(f"both {found[0].name} and {found[1].name} exist", path=str(folder),
                            fix="keep one format per table so it is clear which one is read")
    return found[0] if found else None


def _read_table(path: Path, encoding: str) -> tuple[pd.DataFrame, RowLabel]:
    if path.stat().st_size == 0:
        raise DataFileError("the file is empty", path=str(path),
                            fix="export the table again; a CSV needs at least a header line")
    if path.suffix == ".parquet":
        try:
            return pd.read_parquet(path), position_labels
        except Exception as err:  # pyarrow raises several unrelated types
            raise DataFileError(f"cannot be read as Parquet ({err})", path=str(path),
                                fix="check the file is a complete Parquet file (re-export it)") from err
    enc = "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding
    try:
        # index_col=False: a trailing comma on every line must not shift the columns.
        frame = pd.read_csv(path, dtype="str", keep_default_na=False, na_values=[""],
                            encoding=enc, index_col=False)
    except UnicodeDecodeError as err:
        raise DataFileError(
            f"is not valid {encoding} text ({_decode_position(path, enc, err)})", path=str(path),
            fix="save the file as UTF-8 (in Excel: 'CSV UTF-8'), or pass the file's encoding, "
                "e.g. encoding='cp1256' (salesnb ... --encoding cp1256)",
        ) from err
    except pd.errors.EmptyDataError as err:
        raise DataFileError("the file is empty", path=str(path),
                            fix="export the table again; a CSV needs at least a header line") from err
    except pd.errors.ParserError as err:
        raise DataFileError(f"is not a well-formed CSV ({err})", path=str(path),
                            fix="check the quoting and that every line has the same number of fields") from err
    return frame, _csv_line_labels(path, enc)


def _decode_position(path: Path, encoding: str, err: UnicodeDecodeError) -> str:
    """Describe where decoding fails, as a byte offset and line in the whole file.

    pandas reports offsets within its read buffer; decoding the file again gives the
    true position (only done when there is an error).
    """
    raw = path.read_bytes()
    try:
        raw.decode(encoding)
    except UnicodeDecodeError as exact:
        line = raw.count(b"\n", 0, exact.start) + 1
        return f"{exact.reason} at byte {exact.start}, line {line}"
    return f"{err.reason}"


def _csv_line_labels(path: Path, encoding: str) -> RowLabel:
    """Label data rows by their first line in the file, counting blank lines and quoted newlines.

    The file is scanned only when a label is needed, i.e. when there is an error.
    """

    def label(positions: np.ndarray) -> list[str]:
        starts: list[int] = []
        with path.open(encoding=encoding, newline="") as handle:
            reader = csv.reader(handle)
            previous = 0
            for row in reader:
                if row:  # pandas skips blank lines
                    starts.append(previous + 1)
                previous = reader.line_num
        data_starts = starts[1:]  # the first record is the header
        return [f"line {data_starts[int(p)]}" if int(p) < len(data_starts) else f"row {int(p)}"
                for p in positions]

    return label


def _load_workbook(path: Path, *, settings: SettingsLike, base: FunnelSettings | None) -> SalesData:
    try:
        sheets: Mapping[str, Any] = pd.read_excel(path, sheet_name=None, dtype=object)
    except Exception as err:  # openpyxl raises zipfile/KeyError/ValueError variants
        raise DataFileError(f"cannot be read as an Excel workbook ({err})", path=str(path),
                            fix="save it as .xlsx from Excel or LibreOffice") from err
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
