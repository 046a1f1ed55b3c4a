"""Datasets in SQL databases: computed inside the database (ibis), or copied into DuckDB.

By default the tables stay where they are: salesnb connects through ibis and every
check and KPI runs as SQL inside the database (PostgreSQL, SQLite, and the other
databases ibis knows); only compact results come back. ``engine="duckdb"`` copies the
tables into an in-process DuckDB instead (through SQLAlchemy), ``engine="spark"`` into
Spark.

Each table argument is a table name (optionally ``schema.table``) or a SELECT query;
values reach queries only as bound parameters (``params=``), rendered by SQLAlchemy's
quoting for the database's dialect, never by string formatting. The funnel settings come from ``settings=`` (``--settings FILE``), else from
an optional one-row table ``salesnb_settings`` (column ``funnel_yml``: the text of a
``funnel.yml``, written by :func:`write_sql`), else the defaults and inference.
Credentials come from the URL or the environment (for PostgreSQL, libpq's
``PGPASSWORD`` / ``~/.pgpass`` work as usual) and are masked wherever salesnb shows a
URL: messages, ``SalesData.source``, reports.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

import pandas as pd
import sqlalchemy as sa
import yaml
from sqlalchemy.engine import Engine, make_url

from salesnb.data.dataset import SalesData, SettingsLike, require_rows
from salesnb.data.engine import Engine as Compute
from salesnb.data.settings import FunnelSettings, coerce_settings, parse_settings_text
from salesnb.data.validation import RawTable, position_labels
from salesnb.exceptions import DatabaseError

__all__ = ["load_sql", "mask_url", "write_sql"]

_QUERY = re.compile(r"^\s*(select|with)\b", re.IGNORECASE)
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$")


def mask_url(url: str | sa.URL | Engine) -> str:
    """Return a database URL with its password replaced by ``***``.

    Examples
    --------
    >>> mask_url("postgresql+psycopg://sales:s3cret@db.example:5432/crm")
    'postgresql+psycopg://sales:***@db.example:5432/crm'
    """
    if isinstance(url, Engine):
        url = url.url
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparseable URL: hide everything between '//' and '@'
        return re.sub(r"//[^@/]*@", "//***@", str(url))


def _scrub(text: str, url: sa.URL | None) -> str:
    if url is not None and url.password:
        text = text.replace(str(url.password), "***")
    return re.sub(r"(://[^:/@\s]*:)[^@\s]*@", r"\1***@", text)


def load_sql(
    url_or_engine: str | sa.URL | Engine | Any,
    *,
    opportunities: str = "opportunities",
    history: str | None = "stage_history",
    settings: SettingsLike = None,
    params: Mapping[str, Any] | None = None,
    engine: str | Compute | None = None,
    spark: Any = None,
    field_history: str | None = "field_history",
    rates: str | None = "rates",
) -> SalesData:
    """Load and validate a dataset from a database.

    Parameters
    ----------
    url_or_engine : str, URL, SQLAlchemy Engine or ibis backend
        SQLAlchemy URL (``sqlite:///data/sample.sqlite``,
        ``postgresql+psycopg://user@host:5432/db``), a SQLAlchemy engine, or an ibis
        connection (a warehouse: Snowflake, BigQuery, Trino...).
    opportunities : str, default "opportunities"
        Table name or SELECT query giving the opportunities in the canonical layout.
    history : str or None, default "stage_history"
        Table name or SELECT query for the stage history. With the default name, a
        missing table means "no history"; a table or query you name must exist.
        For ties in ``entered_at`` the storage order of a table decides (SQLite's rowid,
        PostgreSQL's physical order); for a query, the order of its rows: give it an
        ``ORDER BY`` when ties matter.
    settings : mapping, path or FunnelSettings, optional
        Funnel settings (``funnel.yml`` format); else a ``salesnb_settings`` table in the
        database; else defaults and inference.
    params : mapping, optional
        Bound parameters for the queries (``:name`` placeholders).
    engine : {"database", "duckdb", "spark"}, optional
        ``database`` (default): compute inside the database; nothing is pulled whole.
        ``duckdb``: copy the tables into DuckDB in this process. ``spark``: copy them into
        ``spark`` (a SparkSession).
    spark : SparkSession, optional
        The session of ``engine="spark"``.
    field_history : str or None, default "field_history"
        Table name or SELECT query for the field history (``opportunity_id, field,
        value, changed_at``; see ``docs/data-format.md``). As with
        ``history``: the default name may be missing; a name you give must exist.
        Rows of deals that ``opportunities`` does not return (a query selecting some
        deals) are set aside and counted in the dataset's notes, not refused.
    rates : str or None, default "rates"
        Table name or SELECT query for the exchange rates (``currency, valid_from,
        rate``, as in ``rates.csv``); same rule for a missing table. With rates and a
        ``currency`` column amounts are converted into ``funnel.yml``'s ``currency``.

    Returns
    -------
    SalesData

    Raises
    ------
    DatabaseError
        Connection refused, bad credentials (password masked), missing table, bad query.

    Examples
    --------
    >>> import salesnb as sn
    >>> data = sn.load_sql(f"sqlite:///{sn.sample_path('sample.sqlite')}")
    >>> len(data.opportunities), data.settings.calendar, data.engine.kind
    (2000, 'jalali', 'sqlite')
    """
    from salesnb._options import check_option
    from salesnb.data.engine import ENGINES

    if isinstance(engine, Compute):
        choice = "copy"
    else:
        choice = check_option("engine", engine or "database", ENGINES)
    if not isinstance(url_or_engine, str | sa.URL | Engine):  # an ibis backend
        compute = Compute.from_backend(url_or_engine, owned=False)
        return _load_inside(compute, str(getattr(url_or_engine, "name", "database")), opportunities,
                            history, settings, params, None, field_history, rates)
    if choice == "database":
        sa_engine, owned = _engine(url_or_engine)
        try:
            compute = _ibis_connect(sa_engine)
        finally:
            if owned:
                sa_engine.dispose()
        return _load_inside(compute, mask_url(sa_engine), opportunities, history, settings, params,
                            sa_engine.url, field_history, rates)
    # copied: read through SQLAlchemy, then into DuckDB or Spark
    from salesnb.data.engine import make_engine

    target = engine if isinstance(engine, Compute) else make_engine(choice, spark)
    sa_engine, owned = _engine(url_or_engine)
    shown = mask_url(sa_engine)
    try:
        with sa_engine.connect() as conn:
            opps = _read(conn, opportunities, params, shown, sa_engine.url)
            stored = _stored_settings(conn, shown)
            hist, fields, raw_rates = (
                _read_optional(conn, table, default, params, shown, sa_engine.url)
                for table, default in ((history, "stage_history"), (field_history, "field_history"),
                                       (rates, "rates")))
    except sa.exc.SQLAlchemyError as err:
        raise DatabaseError(
            f"{shown}: cannot connect or read ({_first_line(err, sa_engine.url)})\n"
            "  Fix: check the host, port, database name and credentials (password in the URL "
            "or the environment, e.g. PGPASSWORD)"
        ) from None  # the driver's own exception may carry the connection string
    finally:
        if owned:
            sa_engine.dispose()
    resolved = coerce_settings(settings) if settings is not None else stored
    fields, notes = _known_deals_only(fields, opps, f"{shown} [{_label(field_history)}]")
    return SalesData.from_frames(
        opps, hist, resolved, source=f"{shown} [{_label(opportunities)}]",
        history_source=f"{shown} [{_label(history)}]" if history else None, engine=target,
        field_history=fields, field_history_source=f"{shown} [{_label(field_history)}]",
        rates=_rates_frame(raw_rates), notes=notes,
    )


def _read_optional(conn: sa.Connection, table: str | None, default: str, params: Mapping[str, Any] | None,
                   shown: str, url: sa.URL) -> pd.DataFrame | None:
    """An optional table: None when not asked for, or when the default name is missing."""
    if table is None or (table == default and not _exists(conn, table)):
        return None
    return _read(conn, table, params, shown, url)


def _rates_frame(raw: pd.DataFrame | None) -> pd.DataFrame | None:
    """The rates as read (a database column may come back typed or as text), for clean_rates."""
    if raw is None:
        return None
    return raw.drop(columns=["_row"], errors="ignore").reset_index(drop=True)


def _known_deals_only(fields: pd.DataFrame | None, opps: pd.DataFrame,
                      source: str) -> tuple[pd.DataFrame | None, tuple[str, ...]]:
    """The field history of the deals ``opportunities`` returned, and a note of what was set aside.

    A query selecting some deals (one team, one year) must not be refused because the
    whole ``field_history`` table holds changes of the other deals: those rows are set
    aside and counted.
    """
    if fields is None or "opportunity_id" not in fields.columns or "opportunity_id" not in opps.columns:
        return fields, ()
    key = lambda s: s.astype("string").str.strip()  # noqa: E731
    known = key(fields["opportunity_id"]).isin(set(key(opps["opportunity_id"]).dropna()))
    dropped = int((~known).sum())
    if not dropped:
        return fields, ()
    return (fields[known].reset_index(drop=True),
            (f"{source}: {dropped:,} row(s) set aside: changes of deals the opportunities "
             "table or query does not return",))


def _ibis_connect(sa_engine: Engine) -> Compute:
    """An ibis connection to the database of a SQLAlchemy engine (computing inside it)."""
    import ibis

    url = sa_engine.url
    shown = mask_url(sa_engine)
    backend = url.get_backend_name()
    try:
        if backend == "sqlite":
            con = ibis.sqlite.connect(url.database or ":memory:")
        elif backend == "postgresql":
            con = ibis.postgres.connect(host=url.host or "localhost", port=url.port or 5432,
                                        user=url.username, password=url.password, database=url.database)
            # Aware timestamps are read as UTC fields on every engine.
            con.raw_sql("SET TIME ZONE 'UTC'")
        else:
            plain = url.set(drivername=backend)
            con = ibis.connect(plain.render_as_string(hide_password=False))
    except Exception as err:
        raise DatabaseError(
            f"{shown}: cannot connect ({_scrub(str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__, url)})\n"
            "  Fix: check the host, port, database name and credentials (password in the URL "
            "or the environment, e.g. PGPASSWORD)") from None
    return Compute.from_backend(con, owned=True, label=shown)


def _load_inside(compute: Compute, shown: str, opportunities: str, history: str | None,
                 settings: SettingsLike, params: Mapping[str, Any] | None,
                 url: sa.URL | None, field_history: str | None = "field_history",
                 rates: str | None = "rates") -> SalesData:
    """Validate and keep the tables inside the database (every query runs there)."""
    raw_o = _raw_inside(compute, opportunities, params, shown, url, required=True)
    assert raw_o is not None
    require_rows(compute, raw_o)
    raw_h = None
    if history is not None:
        raw_h = _raw_inside(compute, history, params, shown, url, required=history != "stage_history")
    raw_f = None
    notes: tuple[str, ...] = ()
    if field_history is not None:
        raw_f = _raw_inside(compute, field_history, params, shown, url,
                            required=field_history != "field_history")
    if raw_f is not None:
        raw_f, notes = _known_deals_inside(compute, raw_f, raw_o)
    raw_r = None
    if rates is not None:
        raw_r = _raw_inside(compute, rates, params, shown, url, required=rates != "rates")
    stored = _stored_settings_inside(compute, shown)
    resolved = coerce_settings(settings) if settings is not None else stored
    resolved = resolved or FunnelSettings.from_mapping({}, source="defaults")
    return SalesData.from_raw(compute, raw_o, raw_h, resolved, source=f"{shown} [{_label(opportunities)}]",
                              field_history=raw_f, notes=notes,
                              rates=None if raw_r is None else _rates_frame(compute.frame(raw_r.table)))


def _known_deals_inside(compute: Compute, raw_f: RawTable, raw_o: RawTable) -> tuple[RawTable, tuple[str, ...]]:
    """:func:`_known_deals_only` inside the database (a semi-join on the trimmed id)."""
    fields, opps = raw_f.table, raw_o.table
    if "opportunity_id" not in fields.columns or "opportunity_id" not in opps.columns:
        return raw_f, ()
    ids = opps.select(_id=opps["opportunity_id"].cast("string").strip()).distinct()
    kept = fields.semi_join(ids, fields["opportunity_id"].cast("string").strip() == ids["_id"])
    dropped = int(compute.one(fields.aggregate(n=fields.count()))["n"]) - int(
        compute.one(kept.aggregate(n=kept.count()))["n"])
    if not dropped:
        return raw_f, ()
    return (RawTable(kept, raw_f.source, raw_f.row_label),
            (f"{raw_f.source}: {dropped:,} row(s) set aside: changes of deals the opportunities "
             "table or query does not return",))


def _tables(compute: Compute, schema: str | None) -> list[str]:
    try:
        return list(compute.con.list_tables(database=schema) if schema else compute.con.list_tables())
    except Exception:
        return []


def _raw_inside(compute: Compute, table: str, params: Mapping[str, Any] | None, shown: str,
                url: sa.URL | None, *, required: bool) -> RawTable | None:
    """A table or query of the database as a raw table with ``_row`` (its storage order)."""
    kind = compute.kind
    if _QUERY.match(table):
        sql = _bind(table, params, url)
        query = f"SELECT (row_number() OVER () - 1) AS _row, q.* FROM ({sql}) AS q"
        label = f"{shown} [query]"
    else:
        if not _IDENT.match(table):
            raise DatabaseError(f"{shown}: {table!r} is neither a table name nor a SELECT query\n"
                                "  Fix: give a plain table name (schema.table) or a query starting "
                                "with SELECT or WITH")
        schema, _, name = table.rpartition(".")
        names = _tables(compute, schema or None)
        if names is not None and name not in names:
            if not required:
                return None
            raise DatabaseError(f"{shown}: table {table!r} does not exist (tables: "
                                f"{', '.join(n for n in names if not n.startswith('_salesnb')) or 'none'})\n"
                                "  Fix: create it in the canonical layout, or pass the table name "
                                "or a SELECT query that returns the canonical columns")
        quoted = ".".join(f'"{part}"' for part in table.split("."))
        if kind == "sqlite":
            query = f"SELECT (rowid - 1) AS _row, * FROM {quoted}"
        elif kind == "postgres":
            query = f"SELECT (row_number() OVER (ORDER BY ctid) - 1) AS _row, t.* FROM {quoted} AS t"
        else:
            query = f"SELECT (row_number() OVER () - 1) AS _row, t.* FROM {quoted} AS t"
        label = f"{shown} [{table}]"
    try:
        expr = compute.con.sql(query)
        renames = {c.strip(): c for c in expr.columns if c != c.strip()}
        if renames:
            expr = expr.rename(renames)
    except Exception as err:
        raise DatabaseError(f"{shown}: reading {table if not _QUERY.match(table) else 'the query'} failed "
                            f"({_scrub(str(err).strip().splitlines()[0], url)})\n"
                            "  Fix: check the query and its parameters (bound as :name)") from None
    return RawTable(expr, label, position_labels)


def _bind(query: str, params: Mapping[str, Any] | None, url: sa.URL | None) -> str:
    """The query with its ``:name`` parameters rendered as literals by SQLAlchemy's dialect."""
    statement = sa.text(query)
    if params:
        statement = statement.bindparams(**dict(params))
    dialect = (url or make_url("sqlite://")).get_dialect()()
    return str(statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))


def _stored_settings_inside(compute: Compute, shown: str) -> FunnelSettings | None:
    if SETTINGS_TABLE not in (_tables(compute, None) or []):
        return None
    rows = compute.rows(compute.con.table(SETTINGS_TABLE).select("funnel_yml"))
    if len(rows) != 1:
        raise DatabaseError(f"{shown}: table {SETTINGS_TABLE} must have exactly one row, has {len(rows)}\n"
                            "  Fix: keep one row holding the funnel.yml text, or drop the table")
    return parse_settings_text(rows[0]["funnel_yml"] or "", source=f"{shown} [{SETTINGS_TABLE}]")


SETTINGS_TABLE = "salesnb_settings"


def _stored_settings(conn: sa.Connection, shown: str) -> FunnelSettings | None:
    if not _exists(conn, SETTINGS_TABLE):
        return None
    rows = conn.execute(sa.text(f"SELECT funnel_yml FROM {SETTINGS_TABLE}")).fetchall()
    if len(rows) != 1:
        raise DatabaseError(f"{shown}: table {SETTINGS_TABLE} must have exactly one row, has {len(rows)}\n"
                            "  Fix: keep one row holding the funnel.yml text, or drop the table")
    return parse_settings_text(rows[0][0] or "", source=f"{shown} [{SETTINGS_TABLE}]")


def _engine(url_or_engine: str | sa.URL | Engine, *, must_exist: bool = True) -> tuple[Engine, bool]:
    if isinstance(url_or_engine, Engine):
        return url_or_engine, False
    try:
        url = make_url(url_or_engine)
    except sa.exc.ArgumentError as err:
        raise DatabaseError(
            f"{mask_url(str(url_or_engine))}: not a database URL\n"
            "  Fix: write e.g. sqlite:///path/to/file.sqlite or "
            "postgresql+psycopg://user@host:5432/database") from err
    if must_exist and url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        from pathlib import Path

        if not Path(url.database).exists():
            raise DatabaseError(f"{mask_url(url)}: the SQLite file {url.database} does not exist\n"
                                "  Fix: check the path (sqlite:///relative/path or sqlite:////absolute/path)")
    try:
        return sa.create_engine(url), True
    except Exception as err:  # missing driver, bad options
        raise DatabaseError(f"{mask_url(url)}: cannot create an engine ({_scrub(str(err), url)})\n"
                            "  Fix: install the database driver (psycopg for PostgreSQL) or "
                            "correct the URL") from None


def _label(table: str | None) -> str:
    if table is None:
        return "-"
    return "query" if _QUERY.match(table) else table


def _exists(conn: sa.Connection, table: str) -> bool:
    schema, _, name = table.rpartition(".")
    return sa.inspect(conn).has_table(name, schema=schema or None)


def _read(conn: sa.Connection, table: str, params: Mapping[str, Any] | None, shown: str,
          url: sa.URL) -> pd.DataFrame:
    statement: sa.Executable
    if _QUERY.match(table):
        statement = sa.text(table)
        what = "query"
    else:
        if not _IDENT.match(table):
            raise DatabaseError(f"{shown}: {table!r} is neither a table name nor a SELECT query\n"
                                "  Fix: give a plain table name (schema.table) or a query starting "
                                "with SELECT or WITH")
        if not _exists(conn, table):
            names = sa.inspect(conn).get_table_names()
            raise DatabaseError(f"{shown}: table {table!r} does not exist (tables: "
                                f"{', '.join(names) or 'none'})\n"
                                "  Fix: create it in the canonical layout, or pass the table name "
                                "or a SELECT query that returns the canonical columns")
        schema, _, name = table.rpartition(".")
        statement = sa.select(sa.text("*")).select_from(sa.table(name, schema=schema or None))
        what = f"table {table}"
    try:
        return pd.read_sql(statement, conn, params=dict(params or {}))
    except sa.exc.SQLAlchemyError as err:
        raise DatabaseError(f"{shown}: reading {what} failed ({_first_line(err, url)})\n"
                            "  Fix: check the query and its parameters (bound as :name)") from None


def _first_line(err: Exception, url: sa.URL | None) -> str:
    orig = getattr(err, "orig", None) or err
    text = str(orig).strip().splitlines()
    return _scrub(text[0] if text else type(err).__name__, url)


def write_sql(data: SalesData, url_or_engine: str | sa.URL | Engine, *,
              if_exists: Literal["fail", "replace", "append"] = "replace") -> None:
    """Write a dataset's tables to a database in the canonical layout.

    Tables: ``opportunities``, ``stage_history`` (when the dataset has one),
    ``field_history`` and ``rates`` (when it has them) and ``salesnb_settings`` (the
    ``funnel.yml`` text): :func:`load_sql` reads them all back. Timestamps are stored as
    ISO 8601 text with their offset in SQLite (which has no timestamp type) and as
    ``TIMESTAMP WITH TIME ZONE`` elsewhere.
    """
    engine, owned = _engine(url_or_engine, must_exist=False)
    sqlite = engine.url.get_backend_name() == "sqlite"
    opps = data.opportunities.copy()
    hist = data.stage_history[["opportunity_id", "stage", "entered_at"]]
    fields = data.field_history
    fields = None if fields is None else fields.copy()
    rates = None if data.rates is None else data.rates[["currency", "valid_from", "rate"]].copy()
    if sqlite:
        times = [(opps, [c for c in ("created_at", "closed_at", "expected_close_at") if c in opps.columns]),
                 (hist, ["entered_at"])] + ([(fields, ["changed_at"])] if fields is not None else []) + (
                     [(rates, ["valid_from"])] if rates is not None else [])
        for frame, cols in times:
            for col in cols:
                frame[col] = frame[col].map(lambda t: t.isoformat() if pd.notna(t) else None)
    try:
        with engine.begin() as conn:
            opps.to_sql("opportunities", conn, if_exists=if_exists, index=False)
            if data.has_history:
                hist.to_sql("stage_history", conn, if_exists=if_exists, index=False)
            if fields is not None:
                fields.to_sql("field_history", conn, if_exists=if_exists, index=False)
            if rates is not None:
                rates.to_sql("rates", conn, if_exists=if_exists, index=False)
            settings = data.settings.to_dict()
            if data.settings.stages_inferred:
                settings.pop("stages")
            text = yaml.safe_dump(settings, allow_unicode=True, sort_keys=False)
            pd.DataFrame({"funnel_yml": [text]}).to_sql(SETTINGS_TABLE, conn, if_exists=if_exists,
                                                        index=False)
    finally:
        if owned:
            engine.dispose()
