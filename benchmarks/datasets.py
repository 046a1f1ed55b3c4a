"""Benchmark datasets the way real exports come: rows in no order, text untrimmed and in
mixed case, ids not sorted.

``make_dataset(folder, n=..., seed=...)`` writes ``opportunities.parquet``,
``stage_history.parquet`` and ``funnel.yml`` (reused when already there with the same
size): the synthetic sample generator's data (Jalali, Asia/Tehran, Rial), then

* ids replaced by random-looking, unsorted ones (``8F3A21C0-123``);
* every text value (ids included) padded with 0-2 spaces on each side;
* statuses in mixed case (``WON``, ``Won``, ``won``);
* both tables' rows shuffled.

The KPIs of the messy copy equal those of the clean data: salesnb trims text and reads
statuses case-insensitively, and the hand-written DuckDB scripts do the same.

Run ``python benchmarks/datasets.py OUT --n 1000000`` to write one by hand.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

_MARK = ".messy.json"


def _pad(values: pa.Array, rng: np.random.Generator) -> pa.Array:
    n = len(values)
    lead = np.array(["", " ", "  "])[rng.integers(0, 3, n)]
    trail = np.array(["", " ", "  "])[rng.integers(0, 3, n)]
    padded = pc.binary_join_element_wise(pa.array(lead), values.cast(pa.string()), pa.array(trail), "")
    return pc.if_else(pc.is_null(values), pa.nulls(n, pa.string()), padded)


def _mixed_case(values: pa.Array, rng: np.random.Generator) -> pa.Array:
    k = rng.integers(0, 3, len(values))
    upper, title = pc.utf8_upper(values), pc.utf8_title(values)
    return pc.if_else(pa.array(k == 0), upper, pc.if_else(pa.array(k == 1), title, values))


def make_dataset(folder: str | Path, *, n: int = 1_000_000, seed: int = 7) -> Path:
    """Write (or reuse) a messy benchmark dataset of ``n`` opportunities in ``folder``."""
    from salesnb.data.sample import write_sample

    out = Path(folder)
    mark = out / _MARK
    if mark.exists() and json.loads(mark.read_text()) == {"n": n, "seed": seed}:
        return out
    out.mkdir(parents=True, exist_ok=True)
    write_sample(out, n=n, seed=seed, fmt="parquet")
    rng = np.random.default_rng(seed + 1000)
    opps = pq.read_table(out / "opportunities.parquet")
    hist = pq.read_table(out / "stage_history.parquet")
    old_ids = opps.column("opportunity_id").combine_chunks()
    tags = rng.permutation(n)
    noise = rng.integers(0, 2**32, n, dtype=np.uint64)
    new_ids = pa.array([f"{h:08X}-{t}" for h, t in zip(noise.tolist(), tags.tolist(), strict=True)])
    where = pc.index_in(hist.column("opportunity_id"), value_set=old_ids)
    hist_ids = pc.take(new_ids, where)

    cols = {}
    for name in opps.column_names:
        col = opps.column(name).combine_chunks()
        if name == "opportunity_id":
            col = _pad(new_ids, rng)
        elif name == "status":
            col = _pad(_mixed_case(col, rng), rng)
        elif pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
            col = _pad(col, rng)
        cols[name] = col
    messy_opps = pa.table(cols).take(pa.array(rng.permutation(n)))
    hcols = {}
    for name in hist.column_names:
        col = hist.column(name).combine_chunks()
        if name == "opportunity_id":
            col = _pad(hist_ids, rng)
        elif pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
            col = _pad(col, rng)
        hcols[name] = col
    messy_hist = pa.table(hcols).take(pa.array(rng.permutation(hist.num_rows)))
    pq.write_table(messy_opps, out / "opportunities.parquet")
    pq.write_table(messy_hist, out / "stage_history.parquet")
    mark.write_text(json.dumps({"n": n, "seed": seed}))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out")
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    folder = make_dataset(args.out, n=args.n, seed=args.seed)
    print(folder)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
