"""Write the golden outputs that later changes must reproduce (run from the project root).

    .venv/bin/python tests/golden/generate.py            # every golden
    .venv/bin/python tests/golden/generate.py CASE ...   # only these kpi cases (new ones)

It records, with the code as it is when run:

* ``kpi/<case>.json`` — the ``salesnb kpi --json`` document of each case in ``KPI_CASES``
  (bundled sample, Maven via its preset, several windows, ``--as-of``, ``--band``,
  Jalali and Gregorian, a generated Gregorian dataset);
* ``tables/<case>.pkl`` — every public KPI table of the bundled sample for a few windows
  (pickled DataFrames with their dtypes and ``attrs``).

The goldens were first written at commit baef83d (before the layered package and the
ibis engine); ``tests/test_golden.py`` checks today's code against them. The sample cases
read :func:`canonical_sample` (the bundled sample without the field history it gained
with issue 15, i.e. the data they were written on); the ``history_*`` cases, written when
the history came, read the bundled sample with it. Regenerate only
when a change of numbers is intended, and say why in the commit.
"""

from __future__ import annotations

import csv
import json
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent


def canonical_sample() -> str:
    """The bundled sample as the goldens were written: ``data/sample`` without the field
    history and the ``expected_close_at`` column it gained with issue 15 (so "open pipeline
    value at T" and the owners of past windows are today's, as they were then).

    Derived from ``data/sample`` on first use into ``tests/golden/sample/`` (not committed:
    the same rows, one column and one file fewer); returns its path relative to the root.
    Safe when several test processes call it at once (the folder appears whole, by rename).
    """
    target = HERE / "sample"
    source = ROOT / "data" / "sample"
    if not (target / "opportunities.csv").exists():
        staging = Path(tempfile.mkdtemp(prefix=".sample-", dir=HERE))
        for name in ("funnel.yml", "stage_history.csv", "targets.csv"):
            shutil.copy(source / name, staging / name)
        with open(source / "opportunities.csv", encoding="utf-8", newline="") as src, \
                open(staging / "opportunities.csv", "w", encoding="utf-8", newline="") as dst:
            rows = csv.reader(src)
            header = next(rows)
            keep = [i for i, name in enumerate(header) if name != "expected_close_at"]
            out = csv.writer(dst, lineterminator="\n")
            out.writerow([header[i] for i in keep])
            out.writerows([row[i] for i in keep] for row in rows)
        try:
            os.rename(staging, target)
        except OSError:  # another process made it first
            shutil.rmtree(staging, ignore_errors=True)
    return str(target.relative_to(ROOT))


SAMPLE = canonical_sample()
#: The bundled sample itself, with its field history (issue 15): goldens written then.
HISTORY_SAMPLE = "data/sample"
MAVEN = "data/maven"
GENERATED = "tests/golden/generated"  # written by generate.py: `salesnb sample --n 3000 --seed 7`

#: name -> (dataset, extra CLI arguments)
KPI_CASES: dict[str, tuple[str, list[str]]] = {
    "sample_1404_01": (SAMPLE, ["--start", "1404-01-01", "--end", "1404-02-01"]),
    "sample_1403_year": (SAMPLE, ["--start", "1403-01-01", "--end", "1404-01-01"]),
    "sample_1404_h1_asof": (SAMPLE, ["--start", "1404-01-01", "--end", "1404-07-01",
                                     "--as-of", "1404-08-15"]),
    "sample_1404_07_asof": (SAMPLE, ["--start", "1404-07-01", "--end", "1404-08-01",
                                     "--as-of", "1404-09-01T10:30:00"]),
    "sample_1402_12_asof_band": (SAMPLE, ["--start", "1402-12-01", "--end", "1403-01-01",
                                          "--as-of", "1403-03-01", "--band", "0.3"]),
    "sample_greg_week": (SAMPLE, ["--start", "2025-06-02", "--end", "2025-06-09",
                                  "--calendar", "gregorian"]),
    "sample_greg_quarter": (SAMPLE, ["--start", "2025-01-01", "--end", "2025-04-01",
                                     "--calendar", "gregorian", "--band", "1.0"]),
    "sample_all": (SAMPLE, ["--start", "1390-01-01", "--end", "1410-01-01"]),
    "sample_empty": (SAMPLE, ["--start", "1395-01-01", "--end", "1395-02-01"]),
    "history_1404_07_asof": (HISTORY_SAMPLE, ["--start", "1404-07-01", "--end", "1404-08-01",
                                               "--as-of", "1404-09-01T10:30:00"]),
    "history_1404_h1_asof": (HISTORY_SAMPLE, ["--start", "1404-01-01", "--end", "1404-07-01",
                                              "--as-of", "1404-08-15"]),
    "maven_2017": (MAVEN, ["--mapping", "maven", "--start", "2017-01-01", "--end", "2018-01-01"]),
    "maven_2017_06_asof": (MAVEN, ["--mapping", "maven", "--start", "2017-06-01", "--end",
                                   "2017-07-01", "--as-of", "2017-09-01"]),
    "maven_2016_q4_asof": (MAVEN, ["--mapping", "maven", "--start", "2016-10-01", "--end",
                                   "2017-01-01", "--as-of", "2017-03-15T12:00:00"]),
    "maven_all": (MAVEN, ["--mapping", "maven", "--start", "2016-01-01", "--end", "2019-01-01"]),
    "generated_2024": (GENERATED, ["--start", "2024-01-01", "--end", "2025-01-01",
                                   "--calendar", "gregorian"]),
    "generated_2025_03_asof": (GENERATED, ["--start", "2025-03-01", "--end", "2025-04-01",
                                           "--calendar", "gregorian", "--as-of", "2025-05-01"]),
    "generated_jalali_month": (GENERATED, ["--start", "1403-11-01", "--end", "1403-12-01",
                                           "--calendar", "jalali"]),
}

#: Windows of the sample whose public tables are kept (Jalali dates).
TABLE_WINDOWS = {
    "w1403": {"start": "1403-01-01", "end": "1404-01-01"},
    "w1404h1_asof": {"start": "1404-01-01", "end": "1404-07-01", "as_of": "1404-08-15"},
}


def salesnb(*args: str) -> str:
    exe = ROOT / ".venv" / "bin" / "salesnb"
    done = subprocess.run([str(exe), *args], cwd=ROOT, capture_output=True, text=True, check=True)
    return done.stdout


def kpi_goldens(only: set[str] | None = None) -> None:
    out = HERE / "kpi"
    out.mkdir(exist_ok=True)
    for name, (data, args) in KPI_CASES.items():
        if only is not None and name not in only:
            continue
        text = salesnb("kpi", data, *args, "--json")
        json.loads(text)  # must parse
        (out / f"{name}.json").write_text(text, encoding="utf-8")
        print("kpi", name)


def table_goldens() -> dict[str, object]:
    import salesnb as sn

    data = sn.load(ROOT / SAMPLE)
    tables: dict[str, object] = {}
    for wname, w in TABLE_WINDOWS.items():
        as_of = w.get("as_of")
        kw = dict(w)
        calls = {
            "open_opportunities": lambda: sn.open_opportunities(data, as_of=as_of or w["end"]),
            "open_opportunities_team": lambda: sn.open_opportunities(data, as_of=as_of or w["end"],
                                                                     by="team"),
            "open_over_time": lambda: sn.open_over_time(data, **kw),
            "open_over_time_owner": lambda: sn.open_over_time(data, **kw, by="owner", period="quarter"),
            "new_opportunities": lambda: sn.new_opportunities(data, **kw),
            "new_opportunities_week": lambda: sn.new_opportunities(data, **kw, period="week", by=None),
            "won_lost": lambda: sn.won_lost(data, **kw),
            "won_lost_team_quarter": lambda: sn.won_lost(data, **kw, by="team", period="quarter"),
            "won_lost_greg": lambda: sn.won_lost(data, start="2024-03-01", end="2025-03-01",
                                                 calendar="gregorian", by=None),
            "lost_reasons": lambda: sn.lost_reasons(data, **kw),
            "lost_reasons_stage": lambda: sn.lost_reasons(data, **kw, by="stage"),
            "lost_reasons_owner": lambda: sn.lost_reasons(data, **kw, by="owner"),
            "sales_volume": lambda: sn.sales_volume(data, **kw),
            "sales_volume_month": lambda: sn.sales_volume(data, **kw, period="month", by=None),
            "deal_size_flags": lambda: sn.deal_size_flags(data, **kw),
            "deal_size_bands": lambda: sn.deal_size_bands(data, **kw),
            "win_rate": lambda: sn.win_rate(data, **kw),
            "win_rate_created": lambda: sn.win_rate(data, **kw, basis="created", by="team"),
            "win_rate_month": lambda: sn.win_rate(data, **kw, period="month", by=None),
            "funnel": lambda: sn.funnel(data, **kw),
            "stage_transitions": lambda: sn.stage_transitions(data, **kw),
            "time_in_stage": lambda: sn.time_in_stage(data, **kw),
            "time_in_stage_owner": lambda: sn.time_in_stage(data, **kw, by="owner"),
            "time_in_stage_entered": lambda: sn.time_in_stage(data, **kw, cohort=False),
            "stuck_opportunities": lambda: sn.stuck_opportunities(data, as_of=as_of or w["end"]),
            "slowest_movers": lambda: sn.slowest_movers(data, as_of=as_of or w["end"]),
            "sales_cycle": lambda: sn.sales_cycle(data, **kw),
            "sales_cycle_quarter": lambda: sn.sales_cycle(data, **kw, period="quarter", by=None),
            "sales_cycle_qualified_bd": lambda: sn.sales_cycle(
                data, **kw, by="team", start_event="qualified", business_days=True),
            "cycle_durations": lambda: sn.cycle_durations(data, **kw),
            "cycle_survival": lambda: sn.cycle_survival(data, **kw),
            "cycle_survival_team": lambda: sn.cycle_survival(data, **kw, by="team"),
            "cycle_comparison": lambda: sn.cycle_comparison(data, **kw),
            "kpi_summary": lambda: sn.kpi_summary(data, **kw),
            "risk": lambda: sn.risk(data, as_of=as_of or w["end"]),
            "sales_velocity": lambda: sn.sales_velocity(data, **kw),
            "pipeline_coverage": lambda: sn.pipeline_coverage(data, as_of=as_of or w["end"], target=5e10),
        }
        for name, call in calls.items():
            tables[f"{wname}/{name}"] = call()
            print("table", wname, name)
    # min_closed=0: the model at both points, as when the goldens were written (issue 14
    # added the fallback to the stage baseline below 200 won / 200 lost deals).
    tables["backtest"] = sn.backtest(data, as_of=["1403-06-01", "1404-01-01"], min_closed=0)
    return tables


def main(argv: list[str]) -> int:
    if argv:  # named cases only: `generate.py history_1404_07_asof ...` (added cases)
        unknown = set(argv) - set(KPI_CASES)
        if unknown:
            raise SystemExit(f"unknown case(s): {sorted(unknown)}")
        kpi_goldens(set(argv))
        return 0
    gen = ROOT / GENERATED
    if not gen.exists():
        salesnb("sample", str(gen), "--n", "3000", "--seed", "7")
        # A Gregorian, UTC copy: the generator writes Jalali settings; rewrite them.
        yml = (gen / "funnel.yml").read_text(encoding="utf-8")
        yml = yml.replace("calendar: jalali", "calendar: gregorian").replace(
            "week_start: saturday", "week_start: monday").replace(
            "timezone: Asia/Tehran", "timezone: Europe/Berlin")
        (gen / "funnel.yml").write_text(yml, encoding="utf-8")
    kpi_goldens()
    tables = table_goldens()
    (HERE / "tables").mkdir(exist_ok=True)
    with open(HERE / "tables" / "sample.pkl", "wb") as fh:
        pickle.dump(tables, fh, protocol=5)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
