"""The long fuzz profile: the hostile-input property test run in chunks, with figures.

Runs ``tests/test_fuzz.py::test_hostile_input_is_refused_cleanly_or_loaded_whole`` again
and again, each chunk ``--chunk`` examples from a new seed, until ``--examples`` examples
have run or ``--minutes`` have passed, and prints what ran: examples, failures and the
time. A failing chunk keeps Hypothesis' shrunk example in the log file.

    .venv/bin/python benchmarks/fuzz_long.py --examples 10000 --chunk 500 --log fuzz.log

Each example writes a dataset, mutates it (1 to 3 of ~40 kinds), loads it, describes it
and summarises it three times; it fails on any exception other than a SalesnbError, a
case over 30 s, a message over 4,000 characters, non-strict JSON, odd-but-valid data
refused, or a row of the file not loaded.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEST = "tests/test_fuzz.py::test_hostile_input_is_refused_cleanly_or_loaded_whole"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=10_000, help="examples in all (default 10000)")
    parser.add_argument("--chunk", type=int, default=500, help="examples per seed (default 500)")
    parser.add_argument("--minutes", type=float, default=float("inf"), help="stop after this long")
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--log", type=Path, default=Path("fuzz-long.log"))
    args = parser.parse_args(argv)
    started, done, failed, seed = time.monotonic(), 0, [], args.first_seed
    with args.log.open("a", encoding="utf-8") as log:
        while done < args.examples and (time.monotonic() - started) / 60 < args.minutes:
            n = min(args.chunk, args.examples - done)
            env = {**os.environ, "SALESNB_FUZZ_EXAMPLES": str(n), "SALESNB_FUZZ_SEED": str(seed)}
            t0 = time.monotonic()
            run = subprocess.run([sys.executable, "-m", "pytest", TEST, "-q", "-p", "no:cacheprovider",
                                  "--hypothesis-show-statistics", "-W", "ignore"],
                                 cwd=ROOT, env=env, capture_output=True, text=True)
            counts = re.findall(r"(\d+) passing, (\d+) failing", run.stdout)
            ran = sum(int(p) + int(f) for p, f in counts)
            done += ran
            status = "ok" if run.returncode == 0 else f"FAILED (exit {run.returncode})"
            line = f"seed {seed}: {ran} examples, {time.monotonic() - t0:.0f} s, {status}"
            print(line, flush=True)
            log.write(line + "\n")
            if run.returncode != 0:
                failed.append(seed)
                log.write(run.stdout[-20_000:] + "\n")
            log.flush()
            seed += 1
    minutes = (time.monotonic() - started) / 60
    print(f"{done} examples in {minutes:.1f} min, {len(failed)} failing chunk(s)"
          + (f" (seeds {failed}; see {args.log})" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
