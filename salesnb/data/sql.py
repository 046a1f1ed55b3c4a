"""Reading datasets from SQL databases through SQLAlchemy.

Each table argument is a table name (optionally ``schema.table``) or a SELECT query;
values reach queries only as bound parameters (``params=``), never by string
formatting. The funnel settings come from ``settings=`` (``--settings FILE``), else from
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

from salesnb.data.dataset import SalesData, SettingsLike
from salesnb.data.settings import FunnelSettings, coerce_settings, parse_settings_text
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
    url_or_engine: str | sa.URL | Engine,
    *,
    opportunities: str = "opportunities",
    history: str | None = "stage_history",
    settings: SettingsLike = None,
    params: Mapping[str, Any] | None = None,
) -> SalesData:
    """Load and validate a dataset from a database.

    Parameters
    ----------
    url_or_engine : str, URL or Engine
        SQLAlchemy URL (``sqlite:///data/sample.sqlite``,
        ``postgresql+psycopg://user@host:5432/db``) or an engine.
    opportunities : str, default "opportunities"
        Table name or SELECT query giving the opportunities in the canonical layout.
    history : str or None, default "stage_history"
        Table name or SELECT query for the stage history. With the default name, a
        missing table means "no history"; a table or query you name must exist.
        For ties in ``entered_at`` the order of the rows as returned decides: give a
        query with ``ORDER BY`` when ties matter.
    settings : mapping, path or FunnelSettings, optional
        Funnel settings (``funnel.yml`` format); defaults and inference otherwise.
    params : mapping, optional
        Bound parameters for the queries (``:name`` placeholders).

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
    >>> len(data.opportunities), data.settings.calendar
    (2000, 'jalali')
    """
    engine, owned = _engine(url_or_engine)
    shown = mask_url(engine)
    try:
        with engine.connect() as conn:
            opps = _read(conn, opportunities, params, shown, engine.url)
            stored = _stored_settings(conn, shown)
            hist = None
            if history is not None:
                if history == "stage_history" and not _exists(conn, history):
                    hist = None
                else:
                    hist = _read(conn, history, params, shown, engine.url)
    except sa.exc.SQLAlchemyError as err:
        raise DatabaseError(
            f"{shown}: cannot connect or read ({_first_line(err, engine.url)})\n"
            "  Fix: check the host, port, database name and credentials (password in the URL "
            "or the environment, e.g. PGPASSWORD)"
        ) from None  # the driver's own exception may carry the connection string
    finally:
        if owned:
            engine.dispose()
    resolved = coerce_settings(settings) if settings is not None else stored
    return SalesData.from_frames(
        opps, hist, resolved, source=f"{shown} [{_label(opportunities)}]",
        history_source=f"{shown} [{_label(history)}]" if history else None,
    )


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

    Timestamps are stored as ISO 8601 text with their offset in SQLite (which has no
    timestamp type) and as ``TIMESTAMP WITH TIME ZONE`` elsewhere.
    """
    engine, owned = _engine(url_or_engine, must_exist=False)
    sqlite = engine.url.get_backend_name() == "sqlite"
    opps = data.opportunities.copy()
    hist = data.stage_history.drop(columns=["seq"])
    if sqlite:
        for frame, cols in ((opps, ("created_at", "closed_at")), (hist, ("entered_at",))):
            for col in cols:
                frame[col] = frame[col].map(lambda t: t.isoformat() if pd.notna(t) else None)
    try:
        with engine.begin() as conn:
            opps.to_sql("opportunities", conn, if_exists=if_exists, index=False)
            if data.has_history:
                hist.to_sql("stage_history", conn, if_exists=if_exists, index=False)
            settings = data.settings.to_dict()
            if data.settings.stages_inferred:
                settings.pop("stages")
            text = yaml.safe_dump(settings, allow_unicode=True, sort_keys=False)
            pd.DataFrame({"funnel_yml": [text]}).to_sql(SETTINGS_TABLE, conn, if_exists=if_exists,
                                                        index=False)
    finally:
        if owned:
            engine.dispose()
