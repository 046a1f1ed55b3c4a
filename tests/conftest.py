"""Shared fixtures: small datasets written to ``tmp_path`` by the tests themselves."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent

#: A valid three-deal dataset. Every deal enters ``lead`` first, so the stage order
#: inferred from the history is unambiguous: lead → qualified → proposal.
GOOD_OPPORTUNITIES = """\
opportunity_id,owner,created_at,status,closed_at,amount,stage,lost_reason,region
o1,Sara,2025-01-05,won,2025-02-01,1000,,,north
o2,Ali,2025-01-06,lost,2025-02-10,500,qualified,price,south
o3,Sara,2025-01-07,open,,,proposal,,north
"""

GOOD_HISTORY = """\
opportunity_id,stage,entered_at
o1,lead,2025-01-05
o1,qualified,2025-01-10
o1,proposal,2025-01-20
o1,won,2025-02-01
o2,lead,2025-01-06
o2,qualified,2025-01-08
o2,lost,2025-02-10
o3,lead,2025-01-07
o3,qualified,2025-01-09
o3,proposal,2025-01-15
"""

MakeDataset = Callable[..., Path]


@pytest.fixture
def make_dataset(tmp_path: Path) -> MakeDataset:
    """Return a factory writing a dataset folder; ``None`` leaves a file out.

    ``make_dataset(opportunities=..., history=..., funnel=..., name=...)`` writes
    ``opportunities.csv``, ``stage_history.csv`` and ``funnel.yml`` (UTF-8 text) into
    ``tmp_path / name`` and returns that folder.
    """

    def make(
        opportunities: str | None = GOOD_OPPORTUNITIES,
        history: str | None = GOOD_HISTORY,
        funnel: str | None = None,
        *,
        name: str = "data",
    ) -> Path:
        folder = tmp_path / name
        folder.mkdir(parents=True, exist_ok=True)
        for filename, text in (("opportunities.csv", opportunities),
                               ("stage_history.csv", history),
                               ("funnel.yml", funnel)):
            if text is not None:
                (folder / filename).write_text(text, encoding="utf-8")
        return folder

    return make


@pytest.fixture
def good_dataset(make_dataset: MakeDataset) -> Path:
    """A valid CSV dataset folder without funnel.yml (stage order inferred)."""
    return make_dataset()


# --------------------------------------------------------------------------- engines
# PostgreSQL: SALESNB_PG_URL when set (CI sets it after starting a server with
# .ci/postgres.sh), else a server started with that script when the binaries are
# installed; otherwise the tests are skipped, unless SALESNB_REQUIRE_PG=1 (CI).
# Spark: a local session shared by the run (pyspark and Java 17+); skipped when missing,
# unless SALESNB_REQUIRE_SPARK=1 (CI).
def _no_server(reason: str) -> None:
    if os.environ.get("SALESNB_REQUIRE_PG") == "1":
        pytest.fail(f"PostgreSQL required (SALESNB_REQUIRE_PG=1) but {reason}")
    pytest.skip(f"no PostgreSQL server: {reason} (set SALESNB_PG_URL, or install postgresql)")


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """URL of the maintenance database of a running PostgreSQL server."""
    url = os.environ.get("SALESNB_PG_URL")
    if url:
        yield url
        return
    script = ROOT / ".ci" / "postgres.sh"
    probe = subprocess.run(["bash", "-c", f"source {script}; pg_bin"], capture_output=True, text=True)
    if probe.returncode != 0:
        _no_server("the server binaries are not installed")
    started = subprocess.run(["bash", "-c", f"source {script}; pg_start >&2; echo $PGPORT $PGTMP"],
                             capture_output=True, text=True)
    if started.returncode != 0:
        _no_server(f"starting one failed: {started.stderr.strip()[-300:]}")
    port, tmp = started.stdout.split()
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        stop = (f"source {script}; PGTMP={tmp}; RUN=(); "
                "[ $(id -u) = 0 ] && RUN=(runuser -u postgres --); pg_stop")
        subprocess.run(["bash", "-c", stop], capture_output=True)


@pytest.fixture
def pg_url(pg_server_url: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test; dropped afterwards."""
    name = f"salesnb_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(pg_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.make_url(pg_server_url).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()




@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """A local Spark session for the run (2 cores, no UI, loopback)."""
    required = os.environ.get("SALESNB_REQUIRE_SPARK") == "1"
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        if required:
            pytest.fail("Spark required (SALESNB_REQUIRE_SPARK=1) but pyspark is not installed")
        pytest.skip("pyspark is not installed")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        if required:
            pytest.fail("Spark required (SALESNB_REQUIRE_SPARK=1) but no Java runtime was found")
        pytest.skip("no Java runtime (apt-get install openjdk-17-jre-headless)")
    session = (SparkSession.builder.master("local[2]").appName("salesnb-tests")
               .config("spark.ui.enabled", "false").config("spark.driver.bindAddress", "127.0.0.1")
               .config("spark.sql.shuffle.partitions", "2")
               .config("spark.sql.execution.arrow.pyspark.enabled", "true").getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
