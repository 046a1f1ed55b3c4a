"""salesnb: sales-team effectiveness metrics from CRM data.

Subcommands: ``sample`` (write a synthetic dataset), ``validate DATA`` (check a
dataset and summarise it), ``kpi DATA`` (the five metrics and the funnel for a
window, as text or JSON), ``backtest DATA`` (score the open-deal win probabilities
against what happened), ``forecast DATA`` (a period's forecast against its targets,
or ``--backtest``: past forecasts scored), ``report`` (run the notebooks into an HTML report),
``movement DATA`` (the open pipeline's walk between two moments),
``notebooks DEST`` (copy the notebooks to open in JupyterLab), ``app DATA`` (serve the
overview as a web app with Voilà).
Exit codes: 0 success, 1 invalid data or failed run, 2 usage error.

The library's errors name its parameters in backticks (`as_of`); the command line
shows its own flags there instead (`--as-of`). Options with a fixed set of values
are checked by the library's one option checker (any case).
"""

from __future__ import annotations

import argparse
import re
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from salesnb._options import CALENDARS, ENGINES, LANGUAGES, check_option
from salesnb._version import __version__
from salesnb.exceptions import OptionError, SalesnbError, SalesnbWarning, WindowError

if TYPE_CHECKING:
    from salesnb.data.dataset import SalesData
    from salesnb.data.recognise import Recognised

__all__ = ["build_parser", "main"]

_PARAMETER = re.compile(r"`([a-z_]+)`")


def _choice(name: str, options: Sequence[str]) -> Callable[[str], str]:
    """An argparse ``type`` checking a value with the option checker (any case)."""

    def parse(text: str) -> str:
        try:
            return check_option(name, text, options)
        except OptionError as err:
            raise argparse.ArgumentTypeError(f"{text!r} is not one of {', '.join(options)}") from err

    parse.__name__ = name
    return parse


def _flags(parser: argparse.ArgumentParser) -> dict[str, str]:
    """Parameter name -> how this subcommand spells it (``as_of`` -> ``--as-of``, ``data`` -> ``DATA``)."""
    out: dict[str, str] = {}
    for action in parser._actions:
        if action.option_strings:
            out[action.dest] = max(action.option_strings, key=len)
        elif action.metavar:
            out[action.dest] = str(action.metavar)
    return out


def in_flags(message: str, flags: dict[str, str]) -> str:
    """Write a library message with the command line's flags for the parameters it names.

    Examples
    --------
    >>> in_flags("`as_of` (2025) is before `end` (2026)", {"as_of": "--as-of", "end": "--end"})
    '`--as-of` (2025) is before `--end` (2026)'
    """
    return _PARAMETER.sub(lambda m: f"`{flags.get(m[1], m[1])}`", message)


def _add_data_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data", metavar="DATA",
                        help="dataset folder, .xlsx workbook, or database URL (sqlite:///..., postgresql+psycopg://...)")
    parser.add_argument("--settings", metavar="FILE",
                        help="funnel settings (funnel.yml format); overrides the dataset's funnel.yml")
    parser.add_argument("--encoding", default=None,
                        help="text encoding of CSV files (default: utf-8 for a dataset, detected for a CRM "
                             "export read with --mapping; e.g. cp1256)")
    parser.add_argument("--mapping", metavar="NAME_OR_FILE",
                        help="read a CRM export through a column mapping: a preset (maven, salesforce, "
                             "hubspot, pipedrive) or a mapping YAML file (docs/presets.md)")
    parser.add_argument("--strict", action="store_true",
                        help="with --mapping: make every quirk rule that would repair a value or set a row "
                             "aside an error, and every value only a catch-all rule translates")
    _add_engine_args(parser)


def _add_engine_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--engine", type=_choice("engine", ENGINES), metavar="{duckdb,database,spark}",
                        help="where to compute: duckdb (in this process; the default for files), "
                             "database (inside the database of a URL; its default), spark")
    parser.add_argument("--spark-master", metavar="URL",
                        help="Spark master for --engine spark (local[2], spark://host:7077, or "
                             "sc://host:15002 for Spark Connect); default: a local session")


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser (exposed for documentation and tests)."""
    parser = argparse.ArgumentParser(prog="salesnb", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action="version", version=f"salesnb {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("sample", help="write a synthetic dataset in the canonical layout")
    p.add_argument("out", metavar="OUT", help="folder to write (created if needed)")
    p.add_argument("--n", type=int, default=2000, help="number of opportunities (default 2000)")
    p.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    p.add_argument("--format", type=_choice("fmt", ("csv", "parquet")), default="csv",
                   metavar="{csv,parquet}", help="table format")
    p.add_argument("--sqlite", metavar="FILE",
                   help="also write the dataset to this SQLite file (replaced if it exists)")
    p.add_argument("--field-history", action="store_true",
                   help="also write expected close dates and a field history (pushes, amount "
                        "changes, owner reassignments) for the pipeline-movement views")
    p.set_defaults(func=_cmd_sample, flags={**_flags(p), "fmt": "--format"})

    p = sub.add_parser("validate", help="check a dataset and print a summary")
    _add_data_args(p)
    p.add_argument("--json", action="store_true",
                   help="print the machine-readable summary (rows read, loaded, set aside, repaired, "
                        "unmapped values, encodings, stage order) as one JSON document")
    p.set_defaults(func=_cmd_validate, flags=_flags(p))

    p = sub.add_parser("kpi", help="the five metrics and the funnel for a window")
    _add_data_args(p)
    p.add_argument("--start", required=True, metavar="DATE",
                   help="window start (inclusive), in --calendar, e.g. 2025-10-01 or 1404-07-01")
    p.add_argument("--end", required=True, metavar="DATE", help="window end (exclusive)")
    p.add_argument("--as-of", metavar="TIMESTAMP",
                   help="evaluate with what was known at this moment (default: --end; not before it)")
    p.add_argument("--band", type=float, default=0.5,
                   help="relative band around the mean won amount for risky open deals (default 0.5)")
    p.add_argument("--calendar", type=_choice("calendar", CALENDARS), metavar="{gregorian,jalali}",
                   help="calendar of the dates given (default: the dataset's calendar)")
    p.add_argument("--json", action="store_true", help="print one JSON document (for automation)")
    p.set_defaults(func=_cmd_kpi, flags=_flags(p))

    p = sub.add_parser("backtest", help="score the win-probability estimate at past moments")
    _add_data_args(p)
    p.add_argument("--as-of", required=True, action="append", metavar="TIMESTAMP", dest="as_of",
                   help="a past moment to replay, in --calendar (repeat for several); its outcome "
                        "(as_of + horizon) must be known in the data")
    p.add_argument("--horizon-days", type=float, default=90,
                   help="horizon of the scored probability, in days (default 90)")
    p.add_argument("--min-closed", type=int, default=200,
                   help="fewest won and fewest lost deals before a point for the model to be used; "
                        "below, the stage baseline is scored instead (default 200; 0: always the model)")
    p.add_argument("--calendar", type=_choice("calendar", CALENDARS), metavar="{gregorian,jalali}",
                   help="calendar of the dates given (default: the dataset's calendar)")
    p.add_argument("--json", action="store_true", help="print a JSON list, one object per point")
    p.set_defaults(func=_cmd_backtest, flags=_flags(p))

    p = sub.add_parser("forecast", help="forecast a period (won amount and count, 10-90%% interval) "
                                        "against its targets, or score past forecasts (--backtest)")
    _add_data_args(p)
    p.add_argument("--period", required=True, action="append", metavar="P", dest="period",
                   help="the period, in --calendar: a month (1404-08, 2025-10), a quarter (2025-Q3), a "
                        "year; with --backtest, repeat for each past period to score")
    p.add_argument("--as-of", metavar="TIMESTAMP",
                   help="forecast with what was known at this moment (default: the period's end or the "
                        "last event, whichever is first)")
    p.add_argument("--targets", metavar="FILE",
                   help="targets file (period, owner or team, measure, target); default: the "
                        "dataset's own targets.csv / targets sheet / targets table, if any")
    p.add_argument("--by", default="owner", metavar="{owner,team,none}",
                   help="rows per salesperson (default), team, or none (the team total only)")
    p.add_argument("--backtest", action="store_true",
                   help="score forecasts made --lead-days before the end of each --period against what "
                        "happened")
    p.add_argument("--lead-days", type=float, metavar="DAYS",
                   help="with --backtest: how long before each period's end the forecast is made")
    p.add_argument("--calendar", type=_choice("calendar", CALENDARS), metavar="{gregorian,jalali}",
                   help="calendar of the periods and dates given (default: the dataset's calendar)")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.set_defaults(func=_cmd_forecast, flags={**_flags(p), "periods": "--period"})

    p = sub.add_parser("movement", help="the open pipeline's walk from --start to --end (created, "
                                        "reassigned, grown, shrunk, won, lost; pulled in, pushed out)")
    _add_data_args(p)
    p.add_argument("--start", required=True, metavar="T0",
                   help="the first moment, in --calendar, e.g. 1404-07-01 or 2025-10-01T09:00")
    p.add_argument("--end", required=True, metavar="T1", help="the second moment (the window is [T0, T1))")
    p.add_argument("--by", default="none", metavar="{owner,team,pipeline,none}",
                   help="one walk per salesperson, team or pipeline, then the total; none (default): "
                        "the total only")
    p.add_argument("--calendar", type=_choice("calendar", CALENDARS), metavar="{gregorian,jalali}",
                   help="calendar of the dates given (default: the dataset's calendar)")
    p.add_argument("--json", action="store_true",
                   help="print a JSON list, one object per group (group null for the total)")
    p.set_defaults(func=_cmd_movement, flags=_flags(p))

    p = sub.add_parser("report", help="run the notebooks into a dated HTML report")
    p.add_argument("data", metavar="DATA", nargs="?", default=None,
                   help="dataset folder, .xlsx workbook or database URL (default: the bundled sample)")
    p.add_argument("--period", metavar="P",
                   help="last-week, last-month, last-quarter, last-year, this-month, this-quarter, "
                        "a month (2025-10, Jalali 1404-08), a quarter (2025-Q3) or a year; "
                        "default: the latest complete month")
    p.add_argument("--start", metavar="DATE", help="window start instead of --period (with --end)")
    p.add_argument("--end", metavar="DATE", help="window end (exclusive)")
    p.add_argument("--as-of", metavar="TIMESTAMP", help="evaluate with what was known then (default: end)")
    p.add_argument("--calendar", type=_choice("calendar", CALENDARS), metavar="{gregorian,jalali}",
                   help="calendar of the dates and periods (default: the dataset's)")
    p.add_argument("--owners", nargs="+", default=[], metavar="NAME", help="only these salespeople")
    p.add_argument("--teams", nargs="+", default=[], metavar="NAME", help="only these teams")
    p.add_argument("--language", type=_choice("language", LANGUAGES), default="en", metavar="{en,fa}",
                   help="report language (fa: Persian, RTL)")
    p.add_argument("--out", default="reports", help="parent folder of the reports (default: reports/)")
    p.add_argument("--pdf", action="store_true", help="also print every page to PDF (headless Chromium)")
    p.add_argument("--jobs", type=int, default=2, help="notebooks run in parallel (default 2)")
    p.add_argument("--notebooks", metavar="DIR",
                   help="notebooks folder (default: the notebooks shipped with salesnb)")
    p.add_argument("--mapping", default="", metavar="NAME_OR_FILE",
                   help="column mapping or preset for CRM exports (e.g. maven)")
    p.set_defaults(func=_cmd_report, flags={**_flags(p), "data_source": "DATA"})

    p = sub.add_parser("app", help="serve the overview as a web app (Voilà) on 127.0.0.1")
    p.add_argument("data", metavar="DATA", nargs="?", default=None,
                   help="dataset folder, .xlsx workbook or database URL (default: the bundled sample)")
    p.add_argument("--mapping", default="", metavar="NAME_OR_FILE",
                   help="column mapping or preset for CRM exports (e.g. maven)")
    p.add_argument("--port", type=int, default=8866, help="port to listen on (default 8866)")
    p.add_argument("--ip", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only; see the README "
                        "for a team server)")
    p.add_argument("--language", type=_choice("language", LANGUAGES), default="en", metavar="{en,fa}",
                   help="language of the page (fa: Persian, right to left)")
    p.add_argument("--start", metavar="DATE", help="first window start (default: 12 months before --end)")
    p.add_argument("--end", metavar="DATE", help="first window end (default: start of the last month)")
    p.add_argument("--calendar", type=_choice("calendar", CALENDARS), metavar="{gregorian,jalali}",
                   help="first calendar (default: the dataset's)")
    p.set_defaults(func=_cmd_app, flags={**_flags(p), "data_path": "DATA"})

    p = sub.add_parser("notebooks", help="copy the report notebooks into a folder, to open in JupyterLab")
    p.add_argument("dest", metavar="DEST", help="folder to copy them into (created if needed)")
    p.add_argument("--force", action="store_true", help="overwrite notebooks of the same name in DEST")
    p.set_defaults(func=_cmd_notebooks, flags={**_flags(p), "overwrite": "--force"})
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (WindowError, OptionError) as err:
        print(f"salesnb {args.command}: error: {in_flags(str(err), args.flags)}", file=sys.stderr)
        return 2
    except SalesnbError as err:
        print(f"salesnb {args.command}: error: {in_flags(str(err), args.flags)}", file=sys.stderr)
        return 1


def _load(args: argparse.Namespace) -> SalesData:
    from salesnb.data.loading import load

    return load(args.data, settings=args.settings, encoding=args.encoding, mapping=args.mapping,
                strict=getattr(args, "strict", False), engine=getattr(args, "engine", None),
                spark=getattr(args, "spark_master", None))


def _recognised(data: str) -> Recognised | None:
    """The preset that reads ``data``, when it looks like a known CRM export."""
    if "://" in str(data):
        return None
    from salesnb.data.recognise import recognise_export

    return recognise_export(data)


def _cmd_sample(args: argparse.Namespace) -> int:
    from salesnb.data.sample import write_sample

    if args.n < 1:
        raise SystemExit("salesnb sample: --n must be at least 1")
    out = write_sample(Path(args.out), n=args.n, seed=args.seed, fmt=args.format,
                       field_history=args.field_history)
    print(f"wrote a synthetic dataset of {args.n} opportunities (seed {args.seed}) to {out}")
    if args.sqlite:
        from salesnb.data.loading import load
        from salesnb.data.sql import write_sql

        target = Path(args.sqlite)
        target.unlink(missing_ok=True)
        write_sql(load(out), f"sqlite:///{target}")
        print(f"wrote the same dataset to {target}")
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    import json

    from salesnb.data.mapping_report import dataset_quality
    from salesnb.exceptions import DataFileError, DataSchemaError

    report = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SalesnbWarning)
        try:
            if args.mapping:
                from salesnb.data.mapping_apply import apply_mapping

                data, report = apply_mapping(args.data, args.mapping, settings=args.settings,
                                             encoding=args.encoding, strict=args.strict)
            else:
                data = _load(args)
        except DataSchemaError as err:
            if args.json:
                print(json.dumps(_failure(args, err.problems), ensure_ascii=False, indent=2))
            else:
                print(f"{args.data}: INVALID — {len(err.problems)} problem(s)\n", file=sys.stderr)
                print(str(err), file=sys.stderr)
            return 1
        except DataFileError as err:
            if not args.json:
                raise
            print(json.dumps(_failure(args, [], error=in_flags(str(err), args.flags)), ensure_ascii=False,
                             indent=2))
            return 1
    doc = dataset_quality(data, encoding=args.encoding or "utf-8")
    doc["warnings"] = list(dict.fromkeys([*doc.get("warnings", []), *(str(w.message) for w in caught)]))
    doc["problems"] = []
    if args.json:
        doc["dataset"] = _json_ready(data.summary())
        print(json.dumps(doc, ensure_ascii=False, indent=2))
        return 0 if doc["ok"] else 1
    if report is not None:  # what the mapping did, then the dataset (without repeating its notes)
        from dataclasses import replace

        print(report.describe() + "\n")
        data = replace(data, notes=tuple(n for n in data.notes if n not in report.notes))
    print(data.describe())
    if getattr(data, "targets", None) is not None:
        print(data.targets.describe())
    for message in doc["warnings"]:
        print(f"warning: {message}")
    if not doc["ok"]:
        off = [name for name, t in doc["tables"].items() if not t.get("accounted_for", True)]
        print(f"\nNOT OK: rows of {', '.join(off)} are not all accounted for (rows read != loaded + set aside)")
        return 1
    if report is not None:
        print("\nevery row read is loaded or set aside with its reason (per table: rows read = loaded + set aside)")
    print("\nOK: no problems found")
    return 0


def _failure(args: argparse.Namespace, problems: Sequence[object], *, error: str | None = None) -> dict[str, object]:
    """The JSON document of a failed validation: every problem with its file, column, rows and fix."""
    listed = []
    for p in problems:
        listed.append({"source": getattr(p, "source", None), "column": getattr(p, "column", None),
                       "rule": getattr(p, "rule", None), "rows": [str(i) for i in getattr(p, "ids", ())][:20],
                       "count": int(getattr(p, "rows", len(getattr(p, "ids", ())))),
                       "values": [str(v) for v in dict.fromkeys(getattr(p, "values", ()))][:20],
                       "fix": getattr(p, "fix", None)})
    doc: dict[str, object] = {"source": str(args.data), "mapping": args.mapping, "strict": bool(args.strict),
                              "ok": False, "problems": listed}
    if error is not None:
        doc["error"] = error
    if not args.mapping:
        found = _recognised(args.data)
        if found is not None:
            doc["recognised"] = found.as_dict()
    return doc


def _json_ready(value: object) -> object:
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()  # type: ignore[no-any-return,union-attr]
    if hasattr(value, "item"):
        return value.item()  # type: ignore[no-any-return,union-attr]
    return value


def _cmd_kpi(args: argparse.Namespace) -> int:
    import json

    from salesnb.metrics.summary import kpi_summary

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SalesnbWarning)
        data = _load(args)
    doc = kpi_summary(data, start=args.start, end=args.end, as_of=args.as_of, band=args.band,
                      calendar=args.calendar)
    if args.json:
        print(json.dumps(doc, ensure_ascii=False, indent=2, allow_nan=False))
    else:
        from salesnb.presentation.text import format_summary

        print(format_summary(doc, calendar=args.calendar or data.settings.calendar,
                             currency=data.settings.currency, amount_unit=data.settings.amount_unit))
    return 0


def movement_records(data: SalesData, *, start: str, end: str, by: str | None,
                     calendar: str | None) -> tuple[list[dict[str, Any]], list[str]]:
    """The ``salesnb movement --json`` list: one object per group (when ``by`` is given), then
    the total (``group`` null), each with exactly ``group``, the movement numbers and
    ``balanced``; and the notes of the walk."""
    from salesnb.metrics.movement import MOVEMENT_COLUMNS, pipeline_movement

    tables = ([pipeline_movement(data, start=start, end=end, by=by, calendar=calendar)] if by else [])
    tables.append(pipeline_movement(data, start=start, end=end, by=None, calendar=calendar))
    records: list[dict[str, Any]] = []
    for table, total in zip(tables, [False] * (len(tables) - 1) + [True], strict=True):
        col = table.columns[0]
        for rec, exact in zip(table.to_dict("records"), table.attrs["exact"], strict=True):
            item: dict[str, Any] = {"group": None if total else str(rec[col])}
            for key in MOVEMENT_COLUMNS:
                if key.endswith("_count"):
                    item[key] = int(rec[key])
                else:   # the exact sum: an integer when it is one (Rial), else the nearest float
                    value = exact[key]
                    item[key] = int(value) if value == value.to_integral_value() else float(value)
            item["balanced"] = bool(rec["balanced"])
            records.append(item)
    return records, list(tables[-1].attrs.get("notes", []))


def _movement_text(records: list[dict[str, Any]], notes: list[str], data: SalesData, by: str | None,
                   window: tuple[str, str]) -> str:
    from salesnb.presentation.text import format_amount

    cur, unit = data.settings.currency, data.settings.amount_unit

    def amount(v: Any) -> str:
        return format_amount(float(v), cur, unit)

    lines = [f"pipeline movement from {window[0]} to {window[1]}" + (f", by {by}" if by else "")]
    for r in records:
        lines.append(f"{r['group'] if r['group'] is not None else 'TOTAL'}")
        rows = [("open at start", "open_start", "+"), ("created", "created", "+"),
                ("reassigned in", "reassigned_in", "+"), ("reassigned out", "reassigned_out", "−"),
                ("increased", "increased", "+"), ("decreased", "decreased", "−"),
                ("won", "won", "−"), ("lost", "lost", "−"), ("open at end", "open_end", "="),
                ("pulled in", "pulled_in", " "), ("pushed out", "pushed_out", " ")]
        for label, key, sign in rows:
            count = r.get(f"{key}_count")
            shown = f"{count:>6,}" if count is not None else " " * 6
            lines.append(f"  {sign} {label:<15}{shown}  {amount(r[f'{key}_value'])}")
        lines.append(f"  balanced: {'yes' if r['balanced'] else 'NO'}")
    for note in notes:
        lines.append(f"note: {note}")
    return "\n".join(lines)


def _cmd_movement(args: argparse.Namespace) -> int:
    import json

    by = None if str(args.by).strip().lower() in ("none", "") else args.by
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SalesnbWarning)
        data = _load(args)
    records, notes = movement_records(data, start=args.start, end=args.end, by=by, calendar=args.calendar)
    if args.json:
        print(json.dumps(records, ensure_ascii=False, indent=2, allow_nan=False))
    else:
        print(_movement_text(records, notes, data, by, (args.start, args.end)))
    return 0 if all(r["balanced"] for r in records) else 1


def _cmd_report(args: argparse.Namespace) -> int:
    from salesnb.data.bundled import sample_path
    from salesnb.report.runner import run_report

    if args.jobs < 1:
        raise WindowError(f"--jobs {args.jobs} must be at least 1", fix="give --jobs 1 or more")
    result = run_report(
        args.data or str(sample_path()), period=args.period, start=args.start, end=args.end,
        as_of=args.as_of, calendar=args.calendar, owners=args.owners, teams=args.teams,
        language=args.language, mapping=args.mapping, out=args.out, pdf=args.pdf, jobs=args.jobs,
        notebooks=args.notebooks, progress=lambda line: print(line, flush=True),
    )
    print(f"open: {result.index.resolve()}")
    return 0 if result.ok else 1


def _cmd_backtest(args: argparse.Namespace) -> int:
    import json

    from salesnb.metrics.backtesting import backtest, backtest_records

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SalesnbWarning)
        data = _load(args)
    table = backtest(data, as_of=args.as_of, horizon_days=args.horizon_days, min_closed=args.min_closed,
                     calendar=args.calendar)
    records = backtest_records(table)
    if args.json:
        print(json.dumps(records, ensure_ascii=False, indent=2, allow_nan=False))
        return 0
    for rec in records:
        def num(key: str, rec: dict = rec) -> str:
            return "n/a" if rec[key] is None else f"{rec[key]:.4f}"

        def line(label: str, metric: str, rec: dict = rec) -> str:
            crm = f"  CRM probability {num(metric + '_crm')}" if rec["n_crm"] else ""
            model = "model" if rec["model"] == "landmark" else f"model (= {rec['model']})"
            return (f"  {label:<9} {model} {num(metric + '_model')}  stage baseline "
                    f"{num(metric + '_baseline')}  stage+horizon {num(metric + '_stage_horizon')}  "
                    f"stage×age {num(metric + '_stage_age')}{crm}")

        print(f"as_of {rec['as_of']}  horizon {rec['horizon_days']:g} d  (outcome at {rec['outcome_at']})")
        print(f"  open {rec['n_open']}, scored {rec['n_scored']} (not scored {rec['n_unscored']}): "
              f"won {rec['n_won']}, lost {rec['n_lost']}, still open {rec['n_still_open']}")
        if rec["note"]:
            print(f"  note: {rec['note']}")
        print(line("Brier", "brier"))
        print(line("log-loss", "log_loss"))
        print(line("AUC", "auc"))
        if rec["n_crm"]:
            print(f"  CRM probability ({rec['crm_scale']}) known for {rec['n_crm']} of {rec['n_scored']} "
                  f"scored deals; on those the model's Brier is {num('brier_model_crm_deals')}")
        elif rec["crm_scale"]:
            print(f"  {rec['crm_scale']}")
        print("  calibration (deciles of the model's predictions): predicted -> observed (n)")
        for row in rec["calibration"]:
            print(f"    {row['bin']:>2}  {row['mean_predicted']:.3f} -> {row['observed']:.3f}  ({row['n']})")
    return 0


def _cmd_app(args: argparse.Namespace) -> int:
    from salesnb.data.bundled import sample_path
    from salesnb.presentation.app import serve

    if not 0 < args.port < 65536:
        raise WindowError(f"--port {args.port} is not a port number", fix="give --port 1024–65535")
    parameters = {k: v for k, v in (("start", args.start), ("end", args.end), ("calendar", args.calendar)) if v}
    return serve(args.data or str(sample_path()), mapping=args.mapping, port=args.port, ip=args.ip,
                 language=args.language, parameters=parameters)


def _cmd_notebooks(args: argparse.Namespace) -> int:
    from salesnb.data.bundled import copy_notebooks

    copied = copy_notebooks(args.dest, overwrite=args.force)
    print(f"copied {len(copied)} notebooks to {Path(args.dest).resolve()}: "
          f"{', '.join(p.name for p in copied)}")
    print(f"open them with: jupyter lab {args.dest}")
    return 0


def _cmd_forecast(args: argparse.Namespace) -> int:
    import json

    by = None if str(args.by).strip().lower() in ("none", "") else check_option("by", args.by, ("owner", "team"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SalesnbWarning)
        data = _load(args)
    if args.backtest:
        from salesnb.metrics.forecasting import backtest_document, forecast_backtest

        if args.lead_days is None:
            raise WindowError("`--backtest` needs `lead_days`", fix="give e.g. `lead_days` 30")
        if args.targets or args.as_of:
            raise WindowError("`--backtest` replays each period from `lead_days` before its end",
                              fix="leave out `as_of` and `targets` with `--backtest`")
        table = forecast_backtest(data, periods=args.period, lead_days=args.lead_days, calendar=args.calendar)
        labels = list(dict.fromkeys(table["period"].astype(str)))
        doc = backtest_document(table, labels)
        if args.json:
            print(json.dumps(doc, ensure_ascii=False, indent=2, allow_nan=False))
        else:
            print(_backtest_text(table, data))
        return 0
    if args.lead_days is not None:
        raise WindowError("`lead_days` goes with `--backtest`", fix="add `--backtest`, or leave out `lead_days`")
    if len(args.period) != 1:
        raise WindowError("give one `period` to forecast (several only with `--backtest`)",
                          fix="keep one `period`, or add `--backtest` to score past periods")
    doc = forecast_document(data, period=args.period[0], as_of=args.as_of, by=by, targets=args.targets,
                            calendar=args.calendar)
    if args.json:
        print(json.dumps(doc, ensure_ascii=False, indent=2, allow_nan=False))
    else:
        print(_forecast_text(doc, data))
    return 0


def _plain(value: object) -> object:
    """A table value as JSON: timestamps as ISO text, NaN as None, numpy numbers as Python's."""
    import math

    import pandas as pd

    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if hasattr(value, "item") and type(value).__module__ == "numpy":
        value = value.item()  # type: ignore[attr-defined]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def forecast_document(data: SalesData, *, period: str, as_of: str | None, by: str | None,
                      targets: str | None, calendar: str | None) -> dict[str, Any]:
    """The ``salesnb forecast --json`` document: the period, its forecast per group and for the
    team total, and, when there are targets, the attainment of each measure."""
    from salesnb.metrics.forecasting import forecast
    from salesnb.metrics.quota import attainment, resolve_target_period

    view = resolve_target_period(data, period, as_of, calendar)
    total = forecast(data, period=period, as_of=view.as_of, by=None, calendar=calendar)
    per = forecast(data, period=period, as_of=view.as_of, by=by, calendar=calendar) if by else None
    have_targets = targets is not None or getattr(data, "targets", None) is not None
    goals: dict[str | None, object] = {}
    if have_targets:
        for level in {by, None}:
            goals[level] = attainment(data, targets, period=period, as_of=view.as_of, by=level, calendar=calendar)
    skip = {"period", "period_start", "period_end"}

    def rows(table: object, level: str | None) -> list[dict[str, object]]:
        import pandas as pd

        assert isinstance(table, pd.DataFrame)
        col = level if level else "group"
        out = []
        for rec in table.to_dict("records"):
            item = {str(k): _plain(v) for k, v in rec.items() if k not in skip}
            if level is None:
                item.pop("group", None)
            goal = goals.get(level)
            if isinstance(goal, pd.DataFrame):
                mine = goal[goal[col] == rec[col]]
                item["targets"] = {str(r["measure"]): {k: _plain(r[k]) for k in (
                    "target", "actual", "attainment", "expected_by_now", "gap", "remaining", "pipeline",
                    "coverage")} for r in mine.to_dict("records")}
            out.append(item)
        return out

    doc: dict[str, Any] = {
        "period": view.label, "start": view.start.isoformat(), "end": view.end.isoformat(),
        "as_of": view.as_of.isoformat(), "by": by,
        "groups": rows(per, by) if per is not None else [],
        "total": rows(total, None)[0],
        "notes": list(total.attrs.get("notes", [])),
    }
    if have_targets:
        goal = goals.get(None)
        doc["elapsed_share"] = _plain(getattr(goal, "attrs", {}).get("elapsed_share"))
    return doc


def _forecast_text(doc: dict[str, Any], data: SalesData) -> str:
    from salesnb import periods
    from salesnb.presentation.text import format_amount

    cur, unit, cal = data.settings.currency, data.settings.amount_unit, data.settings.calendar

    def amount(v: Any) -> str:
        return format_amount(v if isinstance(v, int | float) else None, cur, unit)

    def count(v: Any) -> str:
        return "—" if v is None else f"{v:,.0f}"

    when = periods.format_datetime(doc["as_of"], calendar=cal)
    lines = [f"forecast for {doc['period']}, as of {when}"]
    if doc.get("elapsed_share") is not None:
        lines.append(f"business days elapsed: {100 * float(doc['elapsed_share']):.0f}%")
    groups: list[dict[str, Any]] = [*doc["groups"], {**doc["total"], "_name": "TOTAL"}]
    for g in groups:
        name = g.get("_name") or g.get(str(doc["by"]), "")
        lines.append(f"{name}")
        lines.append(f"  won so far      {amount(g['won_amount'])} ({g['won_count']} deals)")
        lines.append(f"  salesnb         {amount(g['expected_amount'])} (10-90%: {amount(g['amount_low'])} – "
                     f"{amount(g['amount_high'])}); {g['expected_count']:.1f} deals ({g['count_low']}–"
                     f"{g['count_high']})")
        lines.append(f"  stage-weighted  {amount(g['stage_weighted_amount'])}; "
                     f"{g['stage_weighted_count']:.1f} deals")
        if "commit_amount" in g:
            lines.append(f"  commit {amount(g['commit_amount'])}, best case {amount(g['best_case_amount'])}, "
                         f"pipeline {amount(g['pipeline_amount'])}")
        for measure, t in (g.get("targets") or {}).items():
            if t.get("target") is None:
                continue
            shown = amount if measure == "won_amount" else count
            att = "—" if t["attainment"] is None else f"{100 * t['attainment']:.0f}%"
            lines.append(f"  target {measure}: {shown(t['target'])}, actual {shown(t['actual'])} ({att}), "
                         f"expected by now {shown(t['expected_by_now'])}")
    for note in doc.get("notes") or []:
        lines.append(f"note: {note}")
    return "\n".join(lines)


def _backtest_text(table: Any, data: SalesData) -> str:
    import pandas as pd

    from salesnb.presentation.text import format_amount

    cur, unit = data.settings.currency, data.settings.amount_unit

    def amount(v: Any) -> str:
        return format_amount(float(v) if v is not None and pd.notna(v) else None, cur, unit)

    lines = [f"forecasts made {table.attrs['lead_days']:g} days before each period's end"]
    records: list[dict[str, Any]] = table.to_dict("records")
    for period in dict.fromkeys(r["period"] for r in records):
        part = [r for r in records if r["period"] == period]
        first = part[0]
        lines.append(f"{period} (as of {first['as_of'].isoformat()}): actual {amount(first['actual_amount'])}, "
                     f"{first['actual_count']:.0f} deals")
        for r in part:
            interval = ""
            if pd.notna(r["amount_low"]):
                inside = "inside" if bool(r["inside_amount"]) else "outside"
                interval = f" (10-90%: {amount(r['amount_low'])} – {amount(r['amount_high'])}, {inside})"
            lines.append(f"  {r['method']:<17} {amount(r['forecast_amount'])}{interval}; "
                         f"{r['forecast_count']:.1f} deals")
    lines.append("summary (mean absolute error):")
    for r in table.attrs["summary"]:
        cov = "" if r["coverage"] is None or pd.isna(r["coverage"]) else \
            f", interval coverage {100 * r['coverage']:.0f}%"
        lines.append(f"  {r['method']:<17} {amount(r['mae_amount'])}; {r['mae_count']:.1f} deals{cov}")
    return "\n".join(lines)
