"""Reading datasets from SQL: SQLite (embedded) and a real PostgreSQL server.

The PostgreSQL tests use SALESNB_PG_URL when set (CI sets it after starting a server
with .ci/postgres.sh), else start a server with that script when the binaries are
installed; otherwise they are skipped — unless SALESNB_REQUIRE_PG=1 (CI), where a
missing server fails the run.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

import salesnb as sn
from salesnb.cli import main
from salesnb.data.sample import write_sample
from salesnb.data.sql import load_sql, mask_url, write_sql
from salesnb.exceptions import DatabaseError

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def small_sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 300-deal synthetic dataset (Jalali, Asia/Tehran) as a CSV folder."""
    return write_sample(tmp_path_factory.mktemp("sample") / "csv", n=300, seed=3)


# --------------------------------------------------------------------------- SQLite
def test_sqlite_round_trip_keeps_tables_and_settings(small_sample: Path, tmp_path: Path) -> None:
    data = sn.load(small_sample)
    url = f"sqlite:///{tmp_path / 'crm.sqlite'}"
    write_sql(data, url)
    back = sn.load(url)  # a URL as DATA goes through load_sql
    pd.testing.assert_frame_equal(back.opportunities, data.opportunities)
    pd.testing.assert_frame_equal(back.stage_history, data.stage_history)
    assert back.settings == data.settings
    assert back.settings.calendar == "jalali" and back.settings.timezone == "Asia/Tehran"


def test_bundled_sample_sqlite_equals_the_csv_sample() -> None:
    folder = sn.load(ROOT / "data" / "sample")
    db = sn.load(f"sqlite:///{ROOT / 'data' / 'sample.sqlite'}")
    pd.testing.assert_frame_equal(db.opportunities, folder.opportunities)
    pd.testing.assert_frame_equal(db.stage_history, folder.stage_history)
    assert db.settings == folder.settings


def test_settings_argument_overrides_the_stored_settings(small_sample: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'crm.sqlite'}"
    write_sql(sn.load(small_sample), url)
    data = load_sql(url, settings={"calendar": "gregorian", "timezone": "Asia/Tehran",
                                   "stages": ["lead", "qualified", "proposal", "negotiation"]})
    assert data.settings.calendar == "gregorian"
    assert data.settings.week_start == "monday"


def test_sqlite_text_timestamps_without_offset_are_local_time(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'plain.sqlite'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE opportunities (opportunity_id TEXT, owner TEXT, "
                             "created_at TEXT, status TEXT, closed_at TEXT, amount REAL)"))
        conn.execute(sa.text("INSERT INTO opportunities VALUES "
                             "('a', 'Sara', '2025-03-01 09:00:00', 'WON', '2025-03-10', 1500.5),"
                             "('b', 'Ali', '2025-03-02', 'open', NULL, NULL)"))
    engine.dispose()
    data = load_sql(url, settings={"timezone": "Asia/Tehran"})
    opps = data.opportunities.set_index("opportunity_id")
    assert opps.loc["a", "created_at"] == pd.Timestamp("2025-03-01 09:00", tz="Asia/Tehran")
    assert opps.loc["a", "closed_at"] == pd.Timestamp("2025-03-10 00:00", tz="Asia/Tehran")
    assert opps.loc["a", "status"] == "won"
    assert opps.loc["a", "amount"] == 1500.5
    assert pd.isna(opps.loc["b", "amount"])
    assert not data.has_history  # no stage_history table: no history, not an error


def test_missing_sqlite_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DatabaseError, match="does not exist"):
        sn.load(f"sqlite:///{tmp_path / 'nope.sqlite'}")


def test_query_with_bound_parameters(small_sample: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'crm.sqlite'}"
    data = sn.load(small_sample)
    write_sql(data, url)
    owner = data.opportunities["owner"].iloc[0]
    sub = load_sql(
        url,
        opportunities="SELECT * FROM opportunities WHERE owner = :owner",
        history="SELECT h.* FROM stage_history h JOIN opportunities o USING (opportunity_id) "
                "WHERE o.owner = :owner",
        params={"owner": owner},
    )
    expected = (data.opportunities["owner"] == owner).sum()
    assert len(sub.opportunities) == expected
    assert set(sub.opportunities["owner"]) == {owner}
    # The value travelled as a parameter: a name with a quote is not SQL.
    tricky = load_sql(url, opportunities="SELECT * FROM opportunities WHERE owner = :owner OR 1=1",
                      history=None, params={"owner": "x' OR '1'='1"})
    assert len(tricky.opportunities) == len(data.opportunities)


def test_named_table_that_does_not_exist(small_sample: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'crm.sqlite'}"
    write_sql(sn.load(small_sample), url)
    with pytest.raises(DatabaseError) as info:
        load_sql(url, opportunities="deals")
    message = str(info.value)
    assert "table 'deals' does not exist" in message
    assert "opportunities" in message  # lists the tables that do exist
    assert "Fix:" in message


def test_not_a_table_name_nor_a_query(tmp_path: Path, small_sample: Path) -> None:
    url = f"sqlite:///{tmp_path / 'crm.sqlite'}"
    write_sql(sn.load(small_sample), url)
    with pytest.raises(DatabaseError, match="neither a table name nor a SELECT"):
        load_sql(url, opportunities="opportunities; DROP TABLE opportunities")


def test_mask_url_hides_passwords() -> None:
    assert mask_url("postgresql+psycopg://u:p%40ss@h:5432/db") == "postgresql+psycopg://u:***@h:5432/db"
    assert mask_url("sqlite:///x.sqlite") == "sqlite:///x.sqlite"


def test_cli_validate_accepts_a_database_url(small_sample: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'crm.sqlite'}"
    write_sql(sn.load(small_sample), url)
    assert main(["validate", url]) == 0
    out = capsys.readouterr().out
    assert "opportunities: 300" in out
    assert "calendar: jalali" in out


# --------------------------------------------------------------------------- PostgreSQL
PG_SCHEMA = """
CREATE TABLE opportunities (
    opportunity_id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
    status TEXT NOT NULL,
    closed_at TIMESTAMP WITH TIME ZONE,
    amount NUMERIC(20, 2),
    stage TEXT,
    lost_reason TEXT,
    team TEXT
);
CREATE TABLE stage_history (
    opportunity_id TEXT NOT NULL REFERENCES opportunities,
    stage TEXT NOT NULL,
    entered_at TIMESTAMP WITH TIME ZONE NOT NULL
);
INSERT INTO opportunities VALUES
  ('p1', 'Sara', '2025-01-05 09:30', 'won',  '2025-02-01 12:00+03:30', 1250000.50, NULL, NULL, 'east'),
  ('p2', 'Ali',  '2025-01-06 10:00', 'Lost', '2025-01-20 08:00+00:00', NULL, 'qualified', NULL, NULL),
  ('p3', 'Sara', '2025-01-07 00:00', 'open', NULL, 0, 'lead', NULL, 'east');
INSERT INTO stage_history VALUES
  ('p1', 'lead', '2025-01-05 09:30+03:30'),
  ('p1', 'qualified', '2025-01-10 10:00+03:30'),
  ('p1', 'won', '2025-02-01 12:00+03:30'),
  ('p2', 'lead', '2025-01-06 10:00+03:30'),
  ('p2', 'qualified', '2025-01-08 10:00+03:30'),
  ('p3', 'lead', '2025-01-07 00:00+03:30');
"""


def _run_sql(url: str, script: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql(script)
    engine.dispose()


def test_postgres_timestamps_numeric_and_nulls(pg_url: str) -> None:
    _run_sql(pg_url, PG_SCHEMA)
    data = load_sql(pg_url, settings={"timezone": "Asia/Tehran", "stages": ["lead", "qualified"]})
    opps = data.opportunities.set_index("opportunity_id")
    tehran = "Asia/Tehran"
    # TIMESTAMP WITHOUT TIME ZONE is local time in the dataset's zone.
    assert opps.loc["p1", "created_at"] == pd.Timestamp("2025-01-05 09:30", tz=tehran)
    # TIMESTAMP WITH TIME ZONE keeps its instant: 08:00 UTC is 11:30 in Tehran.
    assert opps.loc["p2", "closed_at"] == pd.Timestamp("2025-01-20 11:30", tz=tehran)
    assert str(opps["closed_at"].dtype) == "datetime64[ns, Asia/Tehran]"
    assert opps.loc["p1", "amount"] == 1250000.50  # NUMERIC -> float
    assert pd.isna(opps.loc["p2", "amount"]) and opps.loc["p3", "amount"] == 0
    assert opps.loc["p2", "status"] == "lost"
    assert pd.isna(opps.loc["p2", "team"])
    assert len(data.stage_history) == 6


def test_postgres_custom_query(pg_url: str) -> None:
    _run_sql(pg_url, PG_SCHEMA)
    data = load_sql(pg_url, opportunities="SELECT * FROM opportunities WHERE team = :team",
                    history="SELECT * FROM stage_history WHERE opportunity_id IN "
                            "(SELECT opportunity_id FROM opportunities WHERE team = :team) "
                            "ORDER BY opportunity_id, entered_at",
                    params={"team": "east"}, settings={"timezone": "Asia/Tehran"})
    assert sorted(data.opportunities["opportunity_id"]) == ["p1", "p3"]
    assert set(data.stage_history["opportunity_id"]) == {"p1", "p3"}


def test_postgres_missing_table(pg_url: str) -> None:
    with pytest.raises(DatabaseError, match="table 'opportunities' does not exist"):
        load_sql(pg_url)


def test_postgres_bad_credentials_are_masked(pg_url: str) -> None:
    url = sa.make_url(pg_url).set(username="nobody", password="s3cret-Pw")
    text_url = url.render_as_string(hide_password=False)
    with pytest.raises(DatabaseError) as info:
        sn.load(text_url)
    message = str(info.value)
    assert "s3cret-Pw" not in message
    assert "nobody:***@" in message
    assert "Fix:" in message
    assert info.value.__cause__ is None  # the driver's exception (with the URL) is not chained


def test_postgres_cli_errors_do_not_leak_the_password(pg_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    url = sa.make_url(pg_url).set(username="nobody", password="s3cret-Pw").render_as_string(
        hide_password=False)
    assert main(["validate", url]) == 1
    captured = capsys.readouterr()
    assert "s3cret-Pw" not in captured.out + captured.err


# --------------------------------------------------------------------------- every format agrees
def test_kpi_json_is_identical_across_formats(small_sample: Path, tmp_path: Path, pg_url: str,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    data = sn.load(small_sample)
    parquet = write_sample(tmp_path / "parquet", n=300, seed=3, fmt="parquet")
    xlsx_dir = tmp_path / "xlsx"
    xlsx_dir.mkdir()
    (xlsx_dir / "funnel.yml").write_text((small_sample / "funnel.yml").read_text(encoding="utf-8"),
                                         encoding="utf-8")
    with pd.ExcelWriter(xlsx_dir / "crm.xlsx") as writer:
        for name, file in (("opportunities", "opportunities.csv"), ("stage_history", "stage_history.csv")):
            pd.read_csv(small_sample / file, dtype=str, keep_default_na=False).to_excel(
                writer, sheet_name=name, index=False)
    sqlite = f"sqlite:///{tmp_path / 'crm.sqlite'}"
    write_sql(data, sqlite)
    write_sql(data, pg_url)

    docs = {}
    for name, source in (("csv", small_sample), ("parquet", parquet), ("excel", xlsx_dir),
                         ("sqlite", sqlite), ("postgres", pg_url)):
        assert main(["kpi", str(source), "--start", "1403-07-01", "--end", "1404-07-01", "--json"]) == 0
        docs[name] = json.loads(capsys.readouterr().out)
    assert docs["csv"]["won"]["total"] > 0
    for name, doc in docs.items():
        assert doc == docs["csv"], f"{name} differs from csv"


# --------------------------------------------------------------------------- rates and field history
def _currency_data() -> sn.SalesData:
    """The hand-worked currencies dataset (test_kpi_currencies) with a field history."""
    from test_kpi_currencies import RATES, frame

    opps = frame()
    fields = pd.DataFrame({"opportunity_id": ["O1", "O2", "W2"], "field": ["amount", "owner", "amount"],
                           "value": ["1000", "Ali", "100"],
                           "changed_at": ["2025-02-01", "2025-02-02", "2025-01-20"]})
    return sn.SalesData.from_frames(opps, settings={"currency": "USD"}, rates=RATES, field_history=fields)


@pytest.mark.parametrize("engine", ["database", "duckdb"])
def test_rates_and_field_history_round_trip_through_sqlite(tmp_path: Path, engine: str) -> None:
    data = _currency_data()
    url = f"sqlite:///{tmp_path / 'crm.sqlite'}"
    write_sql(data, url)
    back = load_sql(url, engine=engine)
    pd.testing.assert_frame_equal(back.rates, data.rates)
    pd.testing.assert_frame_equal(back.field_history, data.field_history)
    window = {"start": "2025-01-01", "end": "2025-05-01"}
    # Converted as before: W1 100 + W2 110 + W3 240 + W5 100 (test_kpi_currencies).
    assert float(sn.sales_volume(back, **window, by=None)["total_amount"].iloc[0]) == pytest.approx(550.0)
    assert sn.kpi_summary(back, **window) == sn.kpi_summary(data, **window)
    # Not asked for: no rates, amounts split by currency.
    assert load_sql(url, rates=None, engine=engine).rates is None
    with pytest.raises(DatabaseError, match="table 'fx' does not exist"):
        load_sql(url, rates="fx", engine=engine)


@pytest.mark.parametrize("engine", ["database", "duckdb"])
def test_a_query_of_some_deals_sets_aside_the_field_history_of_the_others(tmp_path: Path, engine: str) -> None:
    url = f"sqlite:///{tmp_path / 'crm.sqlite'}"
    write_sql(_currency_data(), url)
    some = load_sql(url, opportunities="SELECT * FROM opportunities WHERE status = 'open'", engine=engine)
    # O1 and O2 are open: their two changes are kept; W2's is set aside, counted in the notes.
    assert sorted(some.field_history["opportunity_id"]) == ["O1", "O2"]
    assert any("1 row(s) set aside: changes of deals the opportunities" in n for n in some.notes)


def test_rates_round_trip_through_postgres(pg_url: str) -> None:
    data = _currency_data()
    write_sql(data, pg_url)
    back = load_sql(pg_url)
    pd.testing.assert_frame_equal(back.rates, data.rates)
    assert sn.kpi_summary(back, start="2025-01-01", end="2025-05-01") == sn.kpi_summary(
        data, start="2025-01-01", end="2025-05-01")
    _run_sql(pg_url, "DROP TABLE rates; DROP TABLE field_history")
