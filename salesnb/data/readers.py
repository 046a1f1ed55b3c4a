"""File readers: CSV and Parquet tables, Excel workbooks, a folder's ``funnel.yml``.

One reader per format, used by the canonical loader (:mod:`salesnb.data.loading`) and by
column mappings (:mod:`salesnb.data.mapping_apply`) alike:

* CSV: every column as text (``dtype=str``, blank cells missing), UTF-8 by default
  with an optional byte-order mark, rows labelled by their line in the file;
* Parquet: as stored, rows labelled by position;
* Excel (:func:`read_workbook`): **every sheet**, each cell as the value the workbook
  stores (``dtype=object``: numbers stay numbers, dates stay datetimes), never pandas'
  text rendering of it, rows labelled by their sheet line. Validation and mappings turn
  those values into text and timestamps by one rule (a whole number written as a float
  reads ``1``, not ``1.0``). The canonical loader picks the ``opportunities`` and
  ``stage_history`` sheets by name; a mapping reads an export's first sheet.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd

from salesnb.data.settings import FunnelSettings, load_settings
from salesnb.data.validation import RowLabel, position_labels
from salesnb.exceptions import DataFileError

__all__ = ["SETTINGS_FILE", "WORKBOOK_SUFFIXES", "find_table", "folder_settings", "read_table",
           "read_workbook"]

SETTINGS_FILE = "funnel.yml"
#: File suffixes read as Excel workbooks.
WORKBOOK_SUFFIXES = (".xlsx", ".xlsm")


def folder_settings(folder: Path) -> FunnelSettings | None:
    """Return the settings of a folder's ``funnel.yml`` (or ``funnel.yaml``), None without one."""
    candidate = folder / SETTINGS_FILE
    if not candidate.exists():
        alt = folder / "funnel.yaml"
        candidate = alt if alt.exists() else candidate
    return load_settings(candidate) if candidate.exists() else None


def find_table(folder: Path, name: str) -> Path | None:
    """Return the folder's ``name.csv`` or ``name.parquet`` (None when neither exists)."""
    found = [folder / f"{name}{ext}" for ext in (".csv", ".parquet")
             if (folder / f"{name}{ext}").exists()]
    if len(found) > 1:
        raise DataFileError(f"both {found[0].name} and {found[1].name} exist", path=str(folder),
                            fix="keep one format per table so it is clear which one is read")
    return found[0] if found else None


def read_table(path: Path, encoding: str) -> tuple[pd.DataFrame, RowLabel]:
    """Read a CSV (every column as text) or Parquet table, with its row labeller."""
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


def read_workbook(path: Path) -> dict[str, pd.DataFrame]:
    """Read every sheet of an Excel workbook, cells as stored (``dtype=object``).

    Returns
    -------
    dict
        Sheet name (as written in the workbook) to its table; the first sheet first.

    Raises
    ------
    DataFileError
        The file cannot be read as a workbook.
    """
    try:
        return dict(pd.read_excel(path, sheet_name=None, dtype=object))
    except Exception as err:  # openpyxl raises zipfile/KeyError/ValueError variants
        raise DataFileError(f"cannot be read as an Excel workbook ({err})", path=str(path),
                            fix="save it as .xlsx from Excel or LibreOffice, or export it as CSV") from err
