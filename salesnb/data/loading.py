"""Loading datasets from folders (CSV / Parquet), Excel workbooks and databases.

A dataset folder holds ``opportunities.csv`` or ``opportunities.parquet``, optionally
``stage_history.csv`` / ``.parquet``, ``field_history.csv`` / ``.parquet``,
``targets.csv`` / ``.parquet``, ``rates.csv`` (exchange rates) and ``funnel.yml``;
instead of the tables it may hold one Excel workbook (``*.xlsx``) with sheets ``opportunities`` and (optionally)
``stage_history`` and ``targets``. A workbook path may also be given directly. A
database's ``targets`` table is picked up too (:mod:`salesnb.data.targets`).
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from salesnb._memory import release_memory
from salesnb.data.dataset import SalesData, SettingsLike, require_rows
from salesnb.data.engine import Engine, EngineLike, make_engine
from salesnb.data.mapping_spec import MappingLike
from salesnb.data.readers import (
    WORKBOOK_SUFFIXES,
    check_encoding,
    find_table,
    folder_settings,
    read_table,
    read_workbook,
)
from salesnb.data.settings import FunnelSettings, coerce_settings
from salesnb.data.validation import RawTable, line_labels, position_labels
from salesnb.exceptions import DataFileError

__all__ = ["load"]



def load(
    source: str | Path,
    *,
    settings: SettingsLike = None,
    encoding: str | None = None,
    mapping: MappingLike | None = None,
    strict: bool = False,
    engine: EngineLike = None,
    spark: Any = None,
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
    encoding : str, optional
        Text encoding of CSV files. Default: UTF-8 for a dataset folder (a byte-order
        mark is accepted); detected (UTF-8, UTF-16, cp1252, cp1256) for a CRM export
        read through ``mapping``. Use for example ``"cp1256"`` for Windows
        Persian/Arabic exports.
    mapping : str, Path or dict, optional
        Read a CRM export through a column mapping: a preset name (``maven``,
        ``salesforce``, ``hubspot``, ``pipedrive``) or a mapping YAML file (see
        ``docs/presets.md``). ``source`` is then the export folder or file. Rows the
        mapping sets aside are counted in ``notes``; use
        :func:`salesnb.apply_mapping` for the full report.
    strict : bool, default False
        With ``mapping``: every quirk rule that would repair a value or set a row aside,
        and every value only a catch-all rule translates, is an error instead. A
        canonical dataset is always strict.
    engine : {"duckdb", "database", "spark"} or Engine, optional
        Where the numbers are computed. Default: DuckDB in this process for files and
        DataFrames, the database itself for a database URL (``"database"``).
        ``"duckdb"`` with a URL copies the tables into DuckDB first; ``"spark"`` runs
        on ``spark`` (a SparkSession; default: the active one, else a local one). An
        :class:`~salesnb.data.engine.Engine` is used as it is.
    spark : SparkSession, optional
        The Spark session of ``engine="spark"``.

    Returns
    -------
    SalesData
        With ``targets`` (:class:`~salesnb.data.targets.Targets`) when the folder has a
        ``targets.csv`` / ``.parquet``, the workbook a ``targets`` sheet or the database a
        ``targets`` table (validated like the rest).

    Raises
    ------
    DataFileError
        A file is missing, empty, unreadable or wrongly encoded.
    DataSchemaError
        The data break the canonical layout's rules (every problem is listed), or the
        targets do (:func:`salesnb.load_targets`).
    SettingsError
        ``funnel.yml`` is malformed.

    Examples
    --------
    >>> import salesnb as sn
    >>> data = sn.load(sn.sample_path())
    >>> data.settings.calendar
    'jalali'
    """
    if encoding is not None:
        check_encoding(encoding, str(source))
    if mapping is not None:
        if isinstance(source, str) and "://" in source:
            raise DataFileError("a column mapping reads export files, not databases", path=source,
                                fix="select canonical column names in the query (load_sql), or export to CSV")
        from salesnb.data.mapping_apply import apply_mapping

        data = apply_mapping(source, mapping, settings=settings, encoding=encoding, strict=strict).data
        return data if engine in (None, "duckdb", "database") else _moved(data, make_engine(engine, spark))
    if isinstance(source, str) and "://" in source:
        from salesnb.data.sql import load_sql
        from salesnb.data.targets import database_targets

        data = load_sql(source, settings=settings, engine=engine, spark=spark)
        return _with_targets(data, source) if database_targets(source) else data
    path = Path(source)
    if not path.exists():
        raise DataFileError("no such file or folder", path=str(path),
                            fix="pass a dataset folder (with opportunities.csv or .parquet), "
                                "an .xlsx workbook, or a database URL")
    if path.is_file():
        if path.suffix.lower() in WORKBOOK_SUFFIXES:
            return _load_workbook(path, settings=settings, base=folder_settings(path.parent),
                                  engine=make_engine(engine, spark))
        raise DataFileError("is a single file", path=str(path),
                            fix=f"pass the folder that holds it ({path.parent}); a dataset folder has "
                                "opportunities.csv or .parquet, optional stage_history and funnel.yml")
    base = folder_settings(path)
    opp_file = find_table(path, "opportunities")
    if opp_file is None:
        workbooks = sorted(p for p in path.glob("*.xlsx") if not p.name.startswith("~$"))
        if len(workbooks) == 1:
            return _load_workbook(workbooks[0], settings=settings, base=base,
                                  engine=make_engine(engine, spark))
        from salesnb.data.recognise import recognise_export

        known = recognise_export(path)
        if known is not None:
            raise DataFileError(f"is not a dataset folder (no opportunities table); {known.advice(str(path))}",
                                path=str(path), fix=f"add --mapping {known.preset} (in Python: mapping='{known.preset}')")
        found = ", ".join(sorted(p.name for p in path.iterdir())) or "(empty folder)"
        raise DataFileError(
            f"no opportunities table found (files here: {found})", path=str(path),
            fix="add opportunities.csv or opportunities.parquet (or one .xlsx workbook with an "
                "'opportunities' sheet)",
        )
    resolved = coerce_settings(settings, base=base)
    eng = make_engine(engine, spark)
    encoding = "utf-8" if encoding is None else encoding
    hist_file = find_table(path, "stage_history")
    raw_o = _raw_table(eng, opp_file, encoding, "opportunities")
    require_rows(eng, raw_o)
    raw_h = None if hist_file is None else _raw_table(eng, hist_file, encoding, "stage_history")
    fields_file = find_table(path, "field_history")
    raw_f = None if fields_file is None else _raw_table(eng, fields_file, encoding, "field_history")
    rates_file = path / "rates.csv"
    rates = None
    if rates_file.is_file():
        from salesnb.data.rates import load_rates

        rates = load_rates(rates_file, tz=resolved.timezone if resolved else "UTC",
                           reporting=resolved.currency if resolved else None)
    data = SalesData.from_raw(eng, raw_o, raw_h, resolved, source=str(opp_file), field_history=raw_f,
                              rates=rates)
    release_memory()  # the readers' scratch buffers
    targets_file = find_table(path, "targets")
    return data if targets_file is None else _with_targets(data, targets_file, encoding)


def _with_targets(data: SalesData, source: Any, encoding: str = "utf-8") -> SalesData:
    """The dataset with its own targets (a folder's ``targets.csv``, a database's table) attached."""
    from salesnb.data.targets import attach, load_targets

    return attach(data, load_targets(source, data, encoding=encoding))


def _raw_table(engine: Engine, path: Path, encoding: str, name: str) -> RawTable:
    """A table file as a raw engine table: Parquet read by the engine, CSV by salesnb's reader."""
    from salesnb.data.frames import frame_to_arrow

    if path.suffix == ".parquet" and engine.kind in ("duckdb", "pyspark"):
        table = _parquet(engine, path)
        return RawTable(table, str(path), position_labels)
    frame, labels = read_table(path, encoding)
    arrow_table = frame_to_arrow(frame, str(path))
    del frame
    return RawTable(engine.table_from_arrow(arrow_table, f"{name}_raw"), str(path), labels)


def _parquet(engine: Engine, path: Path) -> Any:
    """A Parquet file read by the engine itself, with ``_row`` (its row positions)."""
    if path.stat().st_size == 0:
        raise DataFileError("the file is empty", path=str(path),
                            fix="export the table again; a Parquet file has at least its metadata")
    try:
        if engine.kind == "duckdb":
            table = engine.con.read_parquet(str(path), file_row_number=True)
            table = table.rename(_row="file_row_number")
        else:
            table = _spark_parquet(engine, path)
        table.columns  # noqa: B018 - reads the schema: a broken file fails here
    except DataFileError:
        raise
    except Exception as err:  # the engines raise several unrelated types
        raise DataFileError(f"cannot be read as Parquet ({str(err).splitlines()[0]})", path=str(path),
                            fix="check the file is a complete Parquet file (re-export it)") from err
    renames = {c.strip(): c for c in table.columns if c != c.strip()}
    return table.rename(renames) if renames else table


def _spark_parquet(engine: Engine, path: Path) -> Any:
    """A Parquet file read by Spark (where the cluster can read it), rows numbered in file order."""
    from pyspark.sql import functions as F
    from pyspark.sql.window import Window as SparkWindow

    frame = engine.con._session.read.parquet(str(path))
    frame = frame.withColumn("_mid", F.monotonically_increasing_id())
    frame = frame.withColumn("_row", F.row_number().over(SparkWindow.orderBy("_mid")) - 1).drop("_mid")
    name = f"_salesnb_parquet_{next(_views)}"
    frame.createOrReplaceTempView(name)
    return engine.con.table(name)


_views = itertools.count()


def _moved(data: SalesData, engine: Engine) -> SalesData:
    """The same dataset computed on another engine (its clean tables copied there)."""
    opps = data.opportunities
    hist = data.stage_history[["opportunity_id", "stage", "entered_at"]] if data.has_history else None
    return SalesData.from_frames(opps, hist, data.settings, source=data.source, notes=data.notes,
                                 quality=data.quality, engine=engine, rates=data.rates)


def _load_workbook(path: Path, *, settings: SettingsLike, base: FunnelSettings | None,
                   engine: Engine) -> SalesData:
    sheets = read_workbook(path)
    by_name = {str(k).strip().lower(): v for k, v in sheets.items()}
    if "opportunities" not in by_name:
        raise DataFileError(
            f"has no 'opportunities' sheet (sheets: {', '.join(map(str, sheets))})", path=str(path),
            fix="name the sheet with one row per deal 'opportunities' (and the history 'stage_history')",
        )
    resolved = coerce_settings(settings, base=base)
    hist = by_name.get("stage_history")
    data = SalesData.from_frames(
        by_name["opportunities"], hist, resolved,
        source=f"{path} [opportunities]", history_source=f"{path} [stage_history]",
        opportunities_rows=line_labels(2), history_rows=line_labels(2), engine=engine,
        rates=by_name.get("rates"),
    )
    if "targets" not in by_name:
        return data
    from salesnb.data.targets import attach, from_raw

    return attach(data, from_raw(by_name["targets"], data, labels=line_labels(2), source=f"{path} [targets]"))
