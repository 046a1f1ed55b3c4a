"""The ``salesnb`` command line.

Subcommands: ``sample`` (write a synthetic dataset), ``validate DATA`` (check a
dataset and summarise it), ``kpi DATA`` (the five metrics and the funnel for a
window, as text or JSON), ``report`` (run the notebooks into an HTML report).
Exit codes: 0 success, 1 invalid data or failed run, 2 usage error.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

from salesnb.exceptions import SalesnbError, SalesnbWarning, WindowError

__all__ = ["main"]


def _add_data_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data", metavar="DATA",
                        help="dataset folder, .xlsx workbook, or database URL (sqlite:///..., postgresql+psycopg://...)")
    parser.add_argument("--settings", metavar="FILE",
                        help="funnel settings (funnel.yml format); overrides the dataset's funnel.yml")
    parser.add_argument("--encoding", default="utf-8",
                        help="text encoding of CSV files (default utf-8; e.g. cp1256)")


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser (exposed for documentation and tests)."""
    from salesnb import __version__

    parser = argparse.ArgumentParser(prog="salesnb", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action="version", version=f"salesnb {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("sample", help="write a synthetic dataset in the canonical layout")
    p.add_argument("out", metavar="OUT", help="folder to write (created if needed)")
    p.add_argument("--n", type=int, default=2000, help="number of opportunities (default 2000)")
    p.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    p.add_argument("--format", choices=("csv", "parquet"), default="csv", help="table format")
    p.add_argument("--sqlite", metavar="FILE",
                   help="also write the dataset to this SQLite file (replaced if it exists)")
    p.set_defaults(func=_cmd_sample)

    p = sub.add_parser("validate", help="check a dataset and print a summary")
    _add_data_args(p)
    p.set_defaults(func=_cmd_validate)

    p = sub.add_parser("kpi", help="the five metrics and the funnel for a window")
    _add_data_args(p)
    p.add_argument("--start", required=True, metavar="DATE",
                   help="window start (inclusive), in --calendar, e.g. 2025-10-01 or 1404-07-01")
    p.add_argument("--end", required=True, metavar="DATE", help="window end (exclusive)")
    p.add_argument("--as-of", metavar="TIMESTAMP",
                   help="evaluate with what was known at this moment (default: --end; not before it)")
    p.add_argument("--band", type=float, default=0.5,
                   help="relative band around the mean won amount for risky open deals (default 0.5)")
    p.add_argument("--calendar", choices=("gregorian", "jalali"),
                   help="calendar of the dates given (default: the dataset's calendar)")
    p.add_argument("--json", action="store_true", help="print one JSON document (for automation)")
    p.set_defaults(func=_cmd_kpi)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except WindowError as err:
        print(f"salesnb {args.command}: error: {err}", file=sys.stderr)
        return 2
    except SalesnbError as err:
        print(f"salesnb {args.command}: error: {err}", file=sys.stderr)
        return 1


def _load(args: argparse.Namespace):  # noqa: ANN202 - SalesData, imported lazily
    from salesnb.io import load

    return load(args.data, settings=args.settings, encoding=args.encoding)


def _cmd_sample(args: argparse.Namespace) -> int:
    from salesnb.sample import write_sample

    if args.n < 1:
        raise SystemExit("salesnb sample: --n must be at least 1")
    out = write_sample(Path(args.out), n=args.n, seed=args.seed, fmt=args.format)
    print(f"wrote a synthetic dataset of {args.n} opportunities (seed {args.seed}) to {out}")
    if args.sqlite:
        from salesnb.io import load
        from salesnb.sql import write_sql

        target = Path(args.sqlite)
        target.unlink(missing_ok=True)
        write_sql(load(out), f"sqlite:///{target}")
        print(f"wrote the same dataset to {target}")
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    from salesnb.exceptions import DataSchemaError

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SalesnbWarning)
        try:
            data = _load(args)
        except DataSchemaError as err:
            print(f"{args.data}: INVALID — {len(err.problems)} problem(s)\n", file=sys.stderr)
            print(str(err), file=sys.stderr)
            return 1
    print(data.describe())
    for w in caught:
        print(f"warning: {w.message}")
    print("\nOK: no problems found")
    return 0


def _cmd_kpi(args: argparse.Namespace) -> int:
    import json

    from salesnb.summary import kpi_summary

    if args.band < 0:
        raise WindowError(f"--band {args.band} is negative", fix="give a band >= 0, e.g. 0.5 for ±50%")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SalesnbWarning)
        data = _load(args)
    doc = kpi_summary(data, start=args.start, end=args.end, as_of=args.as_of, band=args.band,
                      calendar=args.calendar)
    if args.json:
        print(json.dumps(doc, ensure_ascii=False, indent=2))
    else:
        from salesnb.text import format_summary

        print(format_summary(doc, data, calendar=args.calendar or data.settings.calendar))
    return 0
