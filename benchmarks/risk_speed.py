"""Time ``salesnb.risk`` and ``salesnb backtest`` on a large messy dataset (issue 14).

Targets (2 cores): ``risk()`` for 50,000 open deals among 1,000,000 opportunities in
≤ 10 s; ``salesnb backtest`` at 3 points on 1,000,000 opportunities in ≤ 60 s (wall,
a fresh process: start-up and loading included).

The data come from :func:`datasets.make_dataset` (rows shuffled, text untrimmed and in
mixed case, ids unsorted). ``risk()`` is timed in-process after loading, at the moments
given with ``--as-of`` (Jalali dates; ``end`` is the last event, where this generator
has ~173,000 deals open among 1,000,000 — a harder case than the target's 50,000;
1403-01-01 has ~53,500 open), best and median of ``--repeat`` runs. Peak memory is
the process's max RSS after each stage.

    .venv/bin/python benchmarks/risk_speed.py --n 1000000 --keep /tmp/salesnb-bench \\
        --as-of 1403-01-01 --as-of end --backtest 1403-06-01 1403-12-01 1404-04-01
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from datasets import make_dataset


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", help="folder to generate the dataset in once and reuse")
    parser.add_argument("--as-of", action="append", dest="as_of", default=None,
                        help="a Jalali moment for risk(), or 'end' (repeatable)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--backtest", nargs="*", default=[], metavar="AS_OF",
                        help="time `salesnb backtest` at these moments (a fresh process)")
    args = parser.parse_args()
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="salesnb-risk-"))
    make_dataset(folder, n=args.n, seed=args.seed)

    import salesnb as sn

    started = time.perf_counter()
    data = sn.load(folder)
    print(f"load: {time.perf_counter() - started:.1f} s, {len(data.opportunities):,} opportunities, "
          f"max RSS {_rss_mib():,.0f} MiB", flush=True)
    for moment in args.as_of or ["end"]:
        as_of = data.span[1] if moment == "end" else moment
        times = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            table = sn.risk(data, as_of=as_of)
            times.append(time.perf_counter() - started)
        print(f"risk(as_of={moment}): {len(table):,} open deals, best {min(times):.2f} s, median "
              f"{statistics.median(times):.2f} s ({args.repeat} runs), model {table.attrs['model']}, "
              f"max RSS {_rss_mib():,.0f} MiB", flush=True)
    if args.backtest:
        command = [sys.executable, "-m", "salesnb", "backtest", str(folder), "--json"]
        for point in args.backtest:
            command += ["--as-of", point]
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - started
        if done.returncode:
            print(done.stderr, file=sys.stderr)
            return done.returncode
        print(f"salesnb backtest at {len(args.backtest)} points: {wall:.1f} s wall "
              f"({' '.join(command[1:])})", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
