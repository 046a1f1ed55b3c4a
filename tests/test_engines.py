"""One metric engine, several places to run it: the numbers are the same everywhere.

Every KPI is one ibis expression computed where the data is: DuckDB in this process
(files, DataFrames), inside PostgreSQL or SQLite (a database URL), or on Spark. These
tests load the same datasets into each engine and compare the whole ``kpi --json``
document: identical between engines (exact JSON equality), and equal to the golden
outputs written by the pandas implementation before the engine move (floats to 1e-12).
The pushdown test counts, on a real PostgreSQL server, the rows that cross the wire.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa

import salesnb as sn
from salesnb.data.sql import write_sql

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden"
sys.path.insert(0, str(GOLDEN))
from generate import KPI_CASES  # noqa: E402

sys.path.remove(str(GOLDEN))
from test_golden import same  # noqa: E402

#: Cases of the golden outputs run on every engine (Spark: the first three).
CASES = ["sample_1404_07_asof", "generated_2025_03_asof", "maven_2017_06_asof", "sample_1403_year",
         "sample_greg_week", "generated_jalali_month", "sample_empty"]
# Spark answers each query in ~0.1–0.5 s: two cases (the Jalali sample with as_of, the messy
# generated data) keep the suite fast; DuckDB, SQLite and PostgreSQL run every case.
SPARK_CASES = CASES[:2]


def _kwargs(args: list[str]) -> tuple[dict[str, Any], str | None]:
    """The KPI keyword arguments (and the mapping) of a golden case's command line."""
    kwargs: dict[str, Any] = {}
    mapping = None
    it = iter(args)
    for flag in it:
        value = next(it)
        if flag == "--mapping":
            mapping = value
        elif flag == "--band":
            kwargs["band"] = float(value)
        else:
            kwargs[flag.lstrip("-").replace("-", "_")] = value
    return kwargs, mapping


def _document(data: sn.SalesData, kwargs: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(sn.kpi_summary(data, **kwargs), allow_nan=False))


def _golden(case: str) -> dict[str, Any]:
    return json.loads((GOLDEN / "kpi" / f"{case}.json").read_text(encoding="utf-8"))


def _folder(case: str) -> Path:
    return ROOT / KPI_CASES[case][0]


def _write_raw(folder: Path, url: str) -> None:
    """A canonical dataset folder's tables (and its field history when it has one), as the text
    its CSV files hold, into a database (plus its funnel.yml as the ``salesnb_settings`` table)."""
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            for name in ("opportunities", "stage_history", "field_history"):
                if not (folder / f"{name}.csv").exists():
                    continue
                frame = pd.read_csv(folder / f"{name}.csv", dtype=str, keep_default_na=False)
                frame.to_sql(name, conn, index=False, if_exists="replace")
            settings = (folder / "funnel.yml").read_text(encoding="utf-8")
            pd.DataFrame({"funnel_yml": [settings]}).to_sql("salesnb_settings", conn, index=False,
                                                            if_exists="replace")
    finally:
        engine.dispose()


def _in_database(case: str, url: str) -> sn.SalesData:
    _, mapping = _kwargs(KPI_CASES[case][1])
    if mapping:
        # An export read through its mapping, then stored in the canonical layout.
        write_sql(sn.load(_folder(case), mapping=mapping), url)
    else:
        _write_raw(_folder(case), url)
    data = sn.load(url)
    assert data.engine.kind in ("sqlite", "postgres")
    return data


def _duckdb(case: str) -> sn.SalesData:
    _, mapping = _kwargs(KPI_CASES[case][1])
    return sn.load(_folder(case), mapping=mapping) if mapping else sn.load(_folder(case))


@pytest.fixture(scope="module")
def expected() -> dict[str, dict[str, Any]]:
    """The DuckDB documents of every case (checked against the goldens once)."""
    out = {}
    for case in CASES:
        kwargs, _ = _kwargs(KPI_CASES[case][1])
        doc = _document(_duckdb(case), kwargs)
        assert same(doc, _golden(case)) == [], case
        out[case] = doc
    return out


@pytest.mark.parametrize("case", CASES)
def test_sqlite_computes_the_same_numbers(case: str, tmp_path: Path,
                                          expected: dict[str, dict[str, Any]]) -> None:
    data = _in_database(case, f"sqlite:///{tmp_path / 'crm.sqlite'}")
    kwargs, _ = _kwargs(KPI_CASES[case][1])
    assert _document(data, kwargs) == expected[case]


@pytest.mark.postgres
@pytest.mark.parametrize("case", CASES)
def test_postgres_computes_the_same_numbers(case: str, pg_url: str,
                                            expected: dict[str, dict[str, Any]]) -> None:
    data = _in_database(case, pg_url)
    kwargs, _ = _kwargs(KPI_CASES[case][1])
    assert _document(data, kwargs) == expected[case]


@pytest.mark.spark
@pytest.mark.parametrize("case", SPARK_CASES)
def test_spark_computes_the_same_numbers(case: str, spark: Any, expected: dict[str, dict[str, Any]]) -> None:
    kwargs, mapping = _kwargs(KPI_CASES[case][1])
    data = sn.load(_folder(case), mapping=mapping, engine="spark", spark=spark)
    assert data.engine.kind == "pyspark"
    assert _document(data, kwargs) == expected[case]


def test_database_copied_into_duckdb_gives_the_same_numbers(tmp_path: Path,
                                                            expected: dict[str, dict[str, Any]]) -> None:
    case = CASES[0]
    url = f"sqlite:///{tmp_path / 'crm.sqlite'}"
    _write_raw(_folder(case), url)
    data = sn.load(url, engine="duckdb")
    assert data.engine.kind == "duckdb"
    kwargs, _ = _kwargs(KPI_CASES[case][1])
    assert _document(data, kwargs) == expected[case]


def test_parquet_is_read_by_the_engine(tmp_path: Path, expected: dict[str, dict[str, Any]]) -> None:
    case = "generated_2025_03_asof"
    folder = tmp_path / "pq"
    folder.mkdir()
    src = _folder(case)
    for name in ("opportunities", "stage_history"):
        frame = pd.read_csv(src / f"{name}.csv", dtype=str, keep_default_na=False)
        for col in ("created_at", "closed_at", "entered_at"):
            if col in frame:
                frame[col] = pd.to_datetime(frame[col].replace("", None))  # typed, naive
        if "amount" in frame:
            frame["amount"] = pd.to_numeric(frame["amount"].replace("", None))
        frame.to_parquet(folder / f"{name}.parquet", index=False)
    (folder / "funnel.yml").write_text((src / "funnel.yml").read_text(encoding="utf-8"), encoding="utf-8")
    data = sn.load(folder)
    kwargs, _ = _kwargs(KPI_CASES[case][1])
    assert _document(data, kwargs) == expected[case]


def test_kpi_tables_agree_between_engines(tmp_path: Path) -> None:
    """Beyond the summary: period tables, funnel details and risk inputs on SQLite and DuckDB."""
    folder = ROOT / "data" / "sample"
    url = f"sqlite:///{tmp_path / 'crm.sqlite'}"
    _write_raw(folder, url)
    a, b = sn.load(folder), sn.load(url)
    window = {"start": "1403-01-01", "end": "1404-01-01", "as_of": "1404-03-01"}
    for name in ("won_lost", "sales_volume", "win_rate", "funnel", "time_in_stage", "stage_transitions",
                 "new_opportunities", "open_over_time", "sales_cycle", "deal_size_bands", "lost_reasons"):
        fn = getattr(sn, name)
        pd.testing.assert_frame_equal(fn(a, **window), fn(b, **window), check_exact=True, obj=name)
    for name in ("open_opportunities", "stuck_opportunities", "slowest_movers"):
        fn = getattr(sn, name)
        pd.testing.assert_frame_equal(fn(a, as_of="1404-03-01"), fn(b, as_of="1404-03-01"),
                                      check_exact=True, obj=name)
    pd.testing.assert_frame_equal(sn.lost_reasons(a, **window, by="stage"),
                                  sn.lost_reasons(b, **window, by="stage"), check_exact=True)
    pd.testing.assert_frame_equal(sn.sales_cycle(a, **window, business_days=True, start_event="qualified"),
                                  sn.sales_cycle(b, **window, business_days=True, start_event="qualified"),
                                  check_exact=True)


# --------------------------------------------------------------------------- pushdown
def _copy_into(url: str, name: str, frame: pd.DataFrame) -> None:
    """Write a frame into PostgreSQL as text columns with COPY (fast for 100,000s of rows)."""
    import io

    import psycopg

    conninfo = sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    text = frame.astype("string")
    columns = ", ".join(f'"{c}" text' for c in text.columns)
    buffer = io.StringIO()
    text.to_csv(buffer, index=False, header=False, na_rep="")
    with psycopg.connect(conninfo) as conn, conn.cursor() as cur:
        cur.execute(f'CREATE TABLE "{name}" ({columns})')
        with cur.copy(f'COPY "{name}" FROM STDIN WITH (FORMAT csv)') as copy:
            copy.write(buffer.getvalue())


@pytest.mark.postgres
def test_kpi_inside_postgres_returns_under_five_percent_of_the_rows(pg_url: str) -> None:
    """On 100,000 opportunities, a month's ``kpi`` pulls < 5 % of the tables' rows to the client.

    pg_stat_statements (preloaded by .ci/postgres.sh) counts the rows every statement
    returned; statements that create temporary tables keep their rows on the server and
    are not counted.
    """
    from salesnb.data.sample import make_sample

    tables = make_sample(100_000, seed=3)
    _copy_into(pg_url, "opportunities", tables.opportunities)
    _copy_into(pg_url, "stage_history", tables.stage_history)
    total = len(tables.opportunities) + len(tables.stage_history)
    engine = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_stat_statements"))
        conn.execute(sa.text("SELECT pg_stat_statements_reset()"))
    data = sn.load(pg_url, settings=tables.settings)
    doc = sn.kpi_summary(data, start="1404-06-01", end="1404-07-01")
    assert doc["opportunities"]["created_total"] > 1000
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT query, rows FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid "
            "WHERE d.datname = current_database()")).fetchall()
    engine.dispose()
    returned = [(q, n) for q, n in rows if not q.lstrip().upper().startswith(("CREATE", "DROP", "SET", "INSERT"))
                and "pg_stat_statements" not in q]
    fetched = sum(int(n) for _, n in returned)
    assert 0 < fetched < 0.05 * total, sorted(returned, key=lambda r: -r[1])[:5]


@pytest.mark.parametrize("keys", [[], ["g"]])
def test_quantiles_picked_by_rank_in_the_engine_equal_pandas(keys: list[str],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Order statistics picked in the engine, interpolated in Python: pandas' quantiles exactly."""
    import numpy as np

    from salesnb.metrics import _tables

    rng = np.random.default_rng(5)
    values = rng.integers(0, 10**12, 501)
    frame = pd.DataFrame({"g": rng.choice(["a", "b", "c"], 501), "v": values})
    frame.loc[3, "v"] = None
    data = sn.load(ROOT / "data" / "sample")
    table = data.engine.table_from_arrow(
        __import__("pyarrow").Table.from_pandas(frame.assign(_row=range(len(frame))), preserve_index=False), "q")
    quantiles = {"median": 0.5, "p75": 0.75, "p90": 0.9, "p33": 1 / 3}
    fetched = _tables.summarize(data, table, keys, "v", quantiles=quantiles, mean="mean")
    monkeypatch.setattr(_tables, "FETCH_VALUES_BELOW", 0)
    ranked = _tables.summarize(data, table, keys, "v", quantiles=quantiles, mean="mean")
    pd.testing.assert_frame_equal(fetched.sort_values(keys or ["n"], ignore_index=True),
                                  ranked.sort_values(keys or ["n"], ignore_index=True), check_exact=True)
    expected = frame.dropna().astype({"v": "float64"})
    groups = expected.groupby(keys)["v"] if keys else None
    for name, q in quantiles.items():
        want = groups.quantile(q).sort_index().tolist() if keys else [expected["v"].quantile(q)]
        got = ranked.sort_values(keys)[name].tolist() if keys else ranked[name].tolist()
        assert got == want, name
