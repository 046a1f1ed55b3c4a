"""Where the numbers are computed: one ibis backend and what salesnb needs of it.

Files and DataFrames are computed by DuckDB in this process (the embedded default); a
database URL is computed inside that database (PostgreSQL, SQLite); a Spark session, or
any ibis backend (a warehouse), is used as it is. :class:`Engine` wraps the connection:
it puts in-memory tables into the engine, materialises the cleaned tables where the
backend allows it (temporary tables, Spark's cache), fetches results as Arrow, and knows
each backend's few differences, so that the metric expressions are written once.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from salesnb._options import ENGINES

if TYPE_CHECKING:
    import ibis.expr.types as ir
    import pandas as pd
    import pyarrow as pa

__all__ = ["ENGINES", "Engine", "EngineLike", "make_engine"]


#: Backends whose SQL parser or planner cannot take the deeply nested coercion
#: expressions: their intermediate steps are materialised (:meth:`Engine.checkpoint`).
_CHECKPOINTED = frozenset({"sqlite", "postgres"})

_names = itertools.count()


@dataclass(eq=False)
class Engine:
    """An ibis backend and how salesnb uses it.

    Build it with :meth:`duckdb` (the embedded default), :meth:`from_backend` (any ibis
    connection: a database, a warehouse) or :meth:`spark`.

    Attributes
    ----------
    con : ibis backend
        The connection.
    kind : str
        The backend's name: ``duckdb``, ``postgres``, ``sqlite``, ``pyspark``...
    owned : bool
        Whether salesnb opened the connection (then it may close it).
    label : str
        How the engine is named to the user (``DuckDB (in process)``, a masked URL...).
    """

    con: Any
    kind: str
    owned: bool = True
    label: str = ""
    temp_tables: list[str] = field(default_factory=list, repr=False)
    registered: set[str] = field(default_factory=set, repr=False)

    # ------------------------------------------------------------------ creation
    @classmethod
    def duckdb(cls, *, memory_limit: str | None = None, threads: int | None = None,
               temp_directory: str | None = None) -> Engine:
        """Open an in-process DuckDB (the embedded default).

        Parameters
        ----------
        memory_limit : str, optional
            DuckDB's memory limit (e.g. ``"3GB"``); beyond it DuckDB spills to
            ``temp_directory``. Default: ``$SALESNB_DUCKDB_MEMORY``, else DuckDB's own
            (80 % of the machine's memory).
        threads : int, optional
            Threads DuckDB may use (default: every core).
        temp_directory : str, optional
            Where DuckDB spills when over its memory limit (default: ``$SALESNB_DUCKDB_TEMP``,
            else DuckDB's own).
        """
        import ibis

        config: dict[str, Any] = {}
        limit = memory_limit or os.environ.get("SALESNB_DUCKDB_MEMORY")
        if limit:
            config["memory_limit"] = limit
        spill = temp_directory or os.environ.get("SALESNB_DUCKDB_TEMP")
        if spill:
            config["temp_directory"] = spill
        if threads:
            config["threads"] = threads
        return cls(ibis.duckdb.connect(**config), "duckdb", True, "DuckDB (in process)")

    @classmethod
    def from_backend(cls, con: Any, *, owned: bool = False, label: str = "") -> Engine:
        """Wrap an ibis backend connection (a database, a warehouse, a Spark session's backend)."""
        return cls(con, str(con.name), owned, label or str(con.name))

    @classmethod
    def spark(cls, session: Any) -> Engine:
        """Wrap a Spark session (``pyspark.sql.SparkSession``, local or a cluster's)."""
        import ibis

        return cls(ibis.pyspark.connect(session), "pyspark", False, "Spark")

    # ------------------------------------------------------------------ tables
    def table_from_arrow(self, table: pa.Table, hint: str) -> ir.Table:
        """Put an in-memory Arrow table into the engine (DuckDB scans it without a copy)."""
        name = f"_salesnb_{hint}_{next(_names)}"
        if self.kind == "duckdb":
            self.con.con.register(name, table)
            self.registered.add(name)
            return self.con.table(name)
        if self.kind == "pyspark":
            session = self.con._session
            if table.num_rows == 0:
                # Spark cannot infer a schema from no rows (a dataset without history).
                from pyspark.sql.pandas.types import from_arrow_schema

                frame = session.createDataFrame([], schema=from_arrow_schema(table.schema))
            else:
                frame = session.createDataFrame(table.to_pandas())
            frame.createOrReplaceTempView(name)
            return self.con.table(name)
        created = self.con.create_table(name, table, temp=True, overwrite=True)
        self.temp_tables.append(name)
        return created

    def materialize(self, expr: ir.Table, hint: str) -> ir.Table:
        """Compute ``expr`` once into a temporary table (Spark: its cache) and return it.

        A backend that cannot create temporary tables (a read-only replica) keeps the
        expression: it is then computed inside each query that uses it.
        """
        if self.kind == "pyspark":
            return expr.cache()
        name = f"_salesnb_{hint}_{next(_names)}"
        try:
            table = self.con.create_table(name, expr, temp=True)
        except Exception:
            return expr
        self.temp_tables.append(name)
        return table

    def checkpoint(self, expr: ir.Table, *, heavy: bool = False) -> ir.Table:
        """Materialise an intermediate step where it pays.

        Always on SQLite and PostgreSQL (SQLite's parser overflows and PostgreSQL's
        planner inlines the nested coercion steps, re-evaluating them many times), and on
        every engine for a ``heavy`` step (text timestamps read by long expressions: they
        are compiled and computed once, not in every query that follows). Elsewhere
        ``expr`` is returned as it is.
        """
        if self.kind in _CHECKPOINTED or (heavy and self.kind != "pyspark"):
            return self.materialize(expr, "step")
        return expr

    def drop(self, table: ir.Table) -> None:
        """Drop a temporary table made here (a no-op for an expression)."""
        try:
            name = table.get_name()
        except Exception:
            return
        try:
            if name in self.registered:
                self.registered.discard(name)
                self.con.con.unregister(name)
            elif name in self.temp_tables:
                self.temp_tables.remove(name)
                self.con.drop_table(name, force=True)
        except Exception:
            pass

    def close(self) -> None:
        """Close the connection when salesnb opened it (temporary tables go with it)."""
        if self.owned:
            try:
                self.con.disconnect()
            except Exception:
                pass

    # ------------------------------------------------------------------ results
    def arrow(self, expr: ir.Expr) -> pa.Table:
        """Run ``expr`` and return its result as an Arrow table."""
        return self.con.to_pyarrow(expr)

    def frame(self, expr: ir.Expr) -> pd.DataFrame:
        """Run ``expr`` and return its result as a pandas DataFrame."""
        return self.arrow(expr).to_pandas()

    def rows(self, expr: ir.Table) -> list[dict[str, Any]]:
        """Run ``expr`` and return its rows as dicts of Python values."""
        return self.arrow(expr).to_pylist()

    def one(self, expr: ir.Table) -> dict[str, Any]:
        """Run an aggregate ``expr`` and return its single row (``{}`` when it has none)."""
        rows = self.rows(expr)
        return rows[0] if rows else {}


EngineLike = str | Engine | None


def make_engine(engine: EngineLike, spark: Any = None) -> Engine:
    """Return the engine a load computes on (see :func:`load`'s ``engine``).

    Examples
    --------
    >>> make_engine(None).kind
    'duckdb'
    """
    if isinstance(engine, Engine):
        return engine
    from salesnb._options import check_option

    choice = check_option("engine", engine or "duckdb", ENGINES)
    if choice == "spark":
        session = spark if spark is not None and not isinstance(spark, str) else _spark_session(spark)
        return Engine.spark(session)
    return Engine.duckdb()


def _spark_session(master: str | None = None) -> Any:
    """A Spark session: at ``master`` (``local[2]``, ``spark://host:7077``, or ``sc://host`` for
    Spark Connect) when given, else the active one, else a local one (2 cores, no UI,
    loopback only)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as err:
        from salesnb.exceptions import OptionError

        raise OptionError("engine", "spark", [e for e in ENGINES if e != "spark"]) from err
    if master and master.startswith("sc://"):
        return SparkSession.builder.remote(master).appName("salesnb").getOrCreate()
    active = SparkSession.getActiveSession()
    if active is not None and master is None:
        return active
    return (SparkSession.builder.master(master or "local[2]").appName("salesnb")
            .config("spark.ui.enabled", "false").config("spark.driver.bindAddress", "127.0.0.1")
            .config("spark.sql.shuffle.partitions", "4")
            .config("spark.sql.execution.arrow.pyspark.enabled", "true").getOrCreate())
