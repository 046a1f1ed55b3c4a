"""Benchmark: `salesnb kpi` on 1,000,000 opportunities against an equivalent DuckDB script.

Generates the synthetic dataset as Parquet (1 M opportunities, ~3 M stage-history
rows) the way real exports come (benchmarks/datasets.py: rows shuffled, text padded and in
mixed case, ids unsorted), then runs, each in its own fresh process so start-up and peak
memory are comparable:

* ``salesnb kpi DATA --start 1404-01-01 --end 1405-01-01 --json`` (load + validate +
  the five metrics and the funnel);
* one DuckDB script computing the same numbers from the same Parquet files (open per
  owner at as_of, created, won/lost per owner, lost by reason, sales volume and band
  flags, win rates on both bases, the funnel with deepest stage and median days in
  stage, the sales cycle per owner).

Wall time and peak resident memory (ru_maxrss of the child) are reported for each,
best and median of ``--repeat`` runs, with the ratios against DuckDB. Headline numbers of both
outputs are compared, so the two sides provably computed the same thing.

Run::

    .venv/bin/python benchmarks/kpi_vs_duckdb.py [--n 1000000] [--repeat 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Window: Jalali year 1404 in Asia/Tehran local time (the dataset's calendar and zone).
START_J, END_J = "1404-01-01", "1405-01-01"
START_G, END_G = "2025-03-21 00:00:00", "2026-03-21 00:00:00"  # the same instants, local

DUCKDB_SCRIPT = Path(__file__).with_name("duckdb_kpi.py")


def measured(cmd: list[str]) -> tuple[float, float, str]:
    """Run ``cmd`` through a tiny wrapper so the reported peak RSS is that command's alone."""
    wrapper = [sys.executable, "-c",
               "import resource,subprocess,sys,time,json;"
               "t=time.perf_counter();p=subprocess.run(sys.argv[1:],capture_output=True,text=True);"
               "w=time.perf_counter()-t;"
               "sys.stderr.write(p.stderr);"
               "print(json.dumps({'wall':w,'rss':resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,"
               "'rc':p.returncode,'out':p.stdout}))", *cmd]
    res = json.loads(subprocess.run(wrapper, check=True, capture_output=True, text=True).stdout)
    if res["rc"] != 0:
        raise SystemExit(f"command failed: {' '.join(cmd)}")
    return res["wall"], res["rss"] / 1024, res["out"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", help="folder to keep (or reuse) the generated dataset in")
    parser.add_argument("--engine", default="duckdb", choices=("duckdb", "spark"),
                        help="the engine salesnb computes on (spark: a local session; no target)")
    parser.add_argument("--skip-duckdb", action="store_true",
                        help="run salesnb only (the 10 M run: a time and memory ceiling, no ratio)")
    parser.add_argument("--memory", help="DuckDB memory limit for salesnb (SALESNB_DUCKDB_MEMORY), e.g. 3GB")
    args = parser.parse_args()

    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="salesnb-bench-"))
    if args.memory:
        os.environ["SALESNB_DUCKDB_MEMORY"] = args.memory
        os.environ.setdefault("SALESNB_DUCKDB_TEMP", str(folder / ".spill"))
    if not (folder / ".messy.json").exists() or json.loads((folder / ".messy.json").read_text())["n"] != args.n:
        print(f"generating {args.n:,} opportunities as Parquet in {folder} ...", flush=True)
        from salesnb.data.sample import write_sample

        t = time.perf_counter()
        write_sample(folder, n=args.n, seed=7, fmt="parquet")
        print(f"  generated in {time.perf_counter() - t:.1f} s", flush=True)
    import pyarrow.parquet as pq

    rows = pq.ParquetFile(folder / "stage_history.parquet").metadata.num_rows
    print(f"dataset: {args.n:,} opportunities, {rows:,} history rows")

    salesnb_cmd = [sys.executable, "-m", "salesnb", "kpi", str(folder), "--start", START_J,
                   "--end", END_J, "--calendar", "jalali", "--json"]
    if args.engine != "duckdb":
        salesnb_cmd += ["--engine", args.engine]
    duck_cmd = [sys.executable, str(DUCKDB_SCRIPT), str(folder), START_G, END_G]
    results: dict[str, list[tuple[float, float]]] = {"salesnb": [], "duckdb": []}
    outputs: dict[str, str] = {}
    runs = (("duckdb", duck_cmd), ("salesnb", salesnb_cmd)) if not args.skip_duckdb else (
        ("salesnb", salesnb_cmd),)
    for i in range(args.repeat):
        for name, cmd in runs:
            wall, rss, out = measured(cmd)
            results[name].append((wall, rss))
            outputs[name] = out
            print(f"run {i + 1}: {name:8s} {wall:6.2f} s  peak {rss:7.0f} MiB", flush=True)

    if args.skip_duckdb:
        walls = [w for w, _ in results["salesnb"]]
        peaks = [r for _, r in results["salesnb"]]
        print(f"salesnb: best {min(walls):.2f} s, median {statistics.median(walls):.2f} s; "
              f"peak {max(peaks):.0f} MiB (max of {args.repeat})")
        return 0
    ours, duck = json.loads(outputs["salesnb"]), json.loads(outputs["duckdb"])
    checks = {
        "won": (ours["won"]["total"], sum(duck["won_by_owner"].values())),
        "lost": (ours["lost"]["total"], sum(duck["lost_by_owner"].values())),
        "open": (ours["opportunities"]["open_total"], sum(duck["open_by_owner"].values())),
        "mean_amount": (round(ours["sales_volume"]["mean_amount"] or 0, 2), round(duck["volume"][0] or 0, 2)),
        "win_rate": (round(ours["win_rate"]["closed"] or 0, 9), round(duck["win_rate_closed"] or 0, 9)),
        "funnel_reached": ([f["reached"] for f in ours["funnel"]], [f[1] for f in duck["funnel"]]),
        "cycle_mean": (round(ours["sales_cycle"]["mean_days"] or 0, 6), round(duck["cycle"][1] or 0, 6)),
    }
    for key, (a, b) in checks.items():
        print(f"check {key:15s} salesnb={a} duckdb={b} {'OK' if a == b else 'DIFFERENT'}")
    print()
    # Best and median: both sides vary from run to run (thread timing, allocator).
    for label, pick in (("best", min), ("median", statistics.median)):
        (sw, sr), (dw, dr) = ((pick(w for w, _ in results[k]), pick(r for _, r in results[k]))
                              for k in ("salesnb", "duckdb"))
        print(f"{label} of {args.repeat}: salesnb {sw:.2f} s / {sr:.0f} MiB; duckdb {dw:.2f} s / {dr:.0f} MiB"
              f" -> time {sw / dw:.2f}x (target <= 1.0x), memory {sr / dr:.2f}x (target <= 1.0x)")
    print(f"machine: {os.cpu_count()} cores; python {sys.version.split()[0]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
