"""Time ``salesnb.risk`` and ``salesnb backtest`` on a large messy dataset (issue 14).

Targets (2 cores): ``risk()`` for 50,000 open deals among 1,000,000 opportunities in
≤ 10 s; ``salesnb backtest`` at 3 points on 1,000,000 opportunities in ≤ 60 s (wall,
a fresh process: start-up and loading included).

The data come from :func:`datasets.make_dataset` (rows shuffled, text untrimmed and in
mixed case, ids unsorted). ``risk()`` is timed in-process after loading, at the moments
given with ``--as-of`` (Jalali dates; ``end`` is the last event, where this generator
has ~173,000 deals open among 1,000,000; 1403-01-01 has ~53,500 open among the 124,000
created by then), best and median of ``--repeat`` runs, wall and CPU time (the sweep
is single-threaded: on a busy machine CPU time is the better guide to an idle one's
wall time). Peak memory is the process's max RSS after each stage.

``--open K`` builds the target's case exactly: a larger generated dataset of which
randomly chosen open deals (with their history) are dropped until ``--n`` deals remain,
``K`` of them open at the end (still shuffled, untrimmed, unsorted).

    .venv/bin/python benchmarks/risk_speed.py --n 1000000 --open 50000 --keep /tmp/salesnb-bench
    .venv/bin/python benchmarks/risk_speed.py --n 1000000 --keep /tmp/salesnb-bench \\
        --as-of 1403-01-01 --as-of end --backtest 1403-06-01 1403-12-01 1404-04-01
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import numpy as np
from datasets import make_dataset


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _with_open(folder: Path, *, n: int, n_open: int, seed: int) -> Path:
    """Write (or reuse) ``n`` deals of which ``n_open`` are open: a thinned generated dataset."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    out = folder / f"n{n}-open{n_open}-s{seed}"
    if (out / "opportunities.parquet").exists():
        return out
    # The generator leaves ~17 % open at the end: draw enough closed deals, then drop
    # open ones at random.
    source = make_dataset(folder / f"source-n{n}-open{n_open}-s{seed}",
                          n=int((n - n_open) / 0.80) + n_open, seed=seed)
    opps = pq.read_table(source / "opportunities.parquet")
    hist = pq.read_table(source / "stage_history.parquet")
    status = pc.utf8_lower(pc.utf8_trim_whitespace(opps.column("status"))).to_numpy(zero_copy_only=False)
    is_open = np.flatnonzero(status == "open")
    closed = np.flatnonzero(status != "open")
    rng = np.random.default_rng(seed)
    keep = np.sort(np.r_[rng.choice(closed, n - n_open, replace=False), rng.choice(is_open, n_open, replace=False)])
    kept = opps.take(pa.array(keep))
    ids = pc.utf8_trim_whitespace(kept.column("opportunity_id"))
    in_kept = pc.is_in(pc.utf8_trim_whitespace(hist.column("opportunity_id")), value_set=ids)
    out.mkdir(parents=True, exist_ok=True)
    pq.write_table(kept, out / "opportunities.parquet")
    pq.write_table(hist.filter(in_kept), out / "stage_history.parquet")
    (out / "funnel.yml").write_text((source / "funnel.yml").read_text(encoding="utf-8"), encoding="utf-8")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", help="folder to generate the dataset in once and reuse")
    parser.add_argument("--as-of", action="append", dest="as_of", default=None,
                        help="a Jalali moment for risk(), or 'end' (repeatable)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--open", type=int, dest="n_open",
                        help="thin a larger generated dataset to --n deals with this many open at the end")
    parser.add_argument("--backtest", nargs="*", default=[], metavar="AS_OF",
                        help="time `salesnb backtest` at these moments (a fresh process)")
    args = parser.parse_args()
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="salesnb-risk-"))
    if args.n_open:
        folder = _with_open(folder, n=args.n, n_open=args.n_open, seed=args.seed)
    else:
        make_dataset(folder, n=args.n, seed=args.seed)

    import salesnb as sn

    started = time.perf_counter()
    data = sn.load(folder)
    print(f"load: {time.perf_counter() - started:.1f} s, {len(data.opportunities):,} opportunities, "
          f"max RSS {_rss_mib():,.0f} MiB", flush=True)
    for moment in args.as_of or ["end"]:
        as_of = data.span[1] if moment == "end" else moment
        times, cpu = [], []
        for _ in range(args.repeat):
            started, started_cpu = time.perf_counter(), time.process_time()
            table = sn.risk(data, as_of=as_of)
            times.append(time.perf_counter() - started)
            cpu.append(time.process_time() - started_cpu)
        print(f"risk(as_of={moment}): {len(table):,} open deals among {len(data.opportunities):,}, "
              f"wall best {min(times):.2f} s, median {statistics.median(times):.2f} s; CPU best "
              f"{min(cpu):.2f} s ({args.repeat} runs; load average {os.getloadavg()[0]:.1f}); model "
              f"{table.attrs['model']}, landmarks {table.attrs['landmarks']}, max RSS {_rss_mib():,.0f} MiB",
              flush=True)
    if args.backtest:
        command = [sys.executable, "-m", "salesnb", "backtest", str(folder), "--json"]
        for point in args.backtest:
            command += ["--as-of", point]
        started = time.perf_counter()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        child_cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
        if done.returncode:
            print(done.stderr, file=sys.stderr)
            return done.returncode
        print(f"salesnb backtest at {len(args.backtest)} points: {wall:.1f} s wall, {child_cpu:.1f} s CPU, "
              f"max RSS {after.ru_maxrss / 1024:,.0f} MiB, load average {os.getloadavg()[0]:.1f} "
              f"({' '.join(command[1:])})", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
