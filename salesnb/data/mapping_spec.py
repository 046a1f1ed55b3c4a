"""Column mappings, the specification: what a mapping document says, read and checked.

A *mapping* is a small YAML document (a file, or a preset shipped in
``salesnb/presets/*.yml`` and named by its stem, e.g. ``maven``) that says which file
holds the deals, which export column becomes which canonical column, how status and
stage values translate, how timestamps are written, which lookup tables to join, how
to build the stage history (from a history file, or wide ``Date entered ...`` columns),
which rows to set aside and why, and funnel settings the export implies.
The schema, with a full example, is documented in ``docs/presets.md``.

This module reads and validates mapping documents (:func:`read_mapping`) into a
:class:`ColumnMapping`; :mod:`salesnb.data.mapping_apply` applies one to an export.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from salesnb._options import check_option
from salesnb.data.settings import FunnelSettings
from salesnb.exceptions import OptionError, SettingsError

__all__ = [
    "HISTORY_TARGETS",
    "MAPPING_KEYS",
    "OTHER",
    "TIMESTAMP_TARGETS",
    "ColumnMapping",
    "ColumnSpec",
    "Condition",
    "HistorySpec",
    "Lookup",
    "MappingLike",
    "Rule",
    "list_presets",
    "read_mapping",
]

#: Top-level keys of a mapping document and what each one is for (see docs/presets.md).
MAPPING_KEYS: dict[str, str] = {
    "description": "free text: which export the mapping expects",
    "file": "the file holding one row per deal (a name or a glob such as 'deals-*.csv')",
    "columns": "canonical (or new) column name: export column",
    "values": "column: {export value: canonical value}",
    "lookups": "tables joined to add columns (e.g. manager → team)",
    "timestamp_format": "strftime format of the timestamps (default ISO 8601)",
    "date_only": "true to keep only the date of every timestamp",
    "set_aside": "rules for rows that are not loaded, each with its reason",
    "clear": "rules that empty a column on some rows, each with its reason",
    "history": "where the stage history comes from (a file, or wide date columns)",
    "settings": "funnel settings implied by the export (funnel.yml keys)",
}
TIMESTAMP_TARGETS = ("created_at", "closed_at", "entered_at")
#: What to do with history entries outside their opportunity's life.
OUTSIDE_LIFE = ("error", "set_aside")
HISTORY_TARGETS = ("opportunity_id", "stage", "entered_at")
OTHER = "*"


# --------------------------------------------------------------------------- the schema
@dataclass(frozen=True)
class ColumnSpec:
    """Where one mapped column comes from.

    ``sources`` are export columns, the first non-empty value wins (one column is the
    usual case); ``flags`` is ``(closed, won)`` for a status made of two true/false
    columns; an ``optional`` column absent from the file is skipped and reported.
    """

    sources: tuple[str, ...] = ()
    optional: bool = False
    flags: tuple[str, str] | None = None


@dataclass(frozen=True)
class Condition:
    """``column`` holds one of ``values`` (``None`` matches an empty cell)."""

    column: str
    values: tuple[str | None, ...]


@dataclass(frozen=True)
class Rule:
    """A ``set_aside`` rule (``column`` None) or a ``clear`` rule (``column`` emptied)."""

    when: tuple[Condition, ...]
    reason: str
    column: str | None = None


@dataclass(frozen=True)
class Lookup:
    """Join ``file`` on ``left`` (mapped table) = ``right`` (lookup file) to add ``columns``."""

    file: str
    left: str
    right: str
    columns: tuple[tuple[str, str], ...]
    optional: bool = False


@dataclass(frozen=True)
class HistorySpec:
    """The stage history: a long ``file``, or ``wide`` columns of the main file."""

    file: str | None = None
    columns: tuple[tuple[str, ColumnSpec], ...] = ()
    wide: tuple[tuple[str, str], ...] = ()
    wide_pattern: re.Pattern[str] | None = None
    outside_life: str = "error"
    optional: bool = False


@dataclass(frozen=True)
class ColumnMapping:
    """A validated column mapping (build it with :func:`read_mapping`).

    Attributes
    ----------
    name : str
        The preset name or the file stem.
    origin : str
        Where it was read from (shown in messages).
    description : str
        The export it expects.
    file : str
        Name or glob of the main file (one row per deal).
    columns : tuple of (str, ColumnSpec)
        Mapped column name and where it comes from, in mapping order.
    values : dict
        Column name → {export value: new value}; key ``"*"`` catches every other value.
    lookups, set_aside, clear : tuple
        Joins, rules for rows not loaded, rules emptying a column.
    timestamp_format : dict
        Format per timestamp column (``created_at``, ``closed_at``, ``entered_at``);
        absent means ISO 8601.
    date_only : bool
        Keep only the date of every timestamp (in the dataset's time zone).
    history : HistorySpec or None
        Where the stage history comes from.
    settings : dict
        Funnel settings the export implies (under the folder's ``funnel.yml``).
    """

    name: str
    origin: str
    description: str = ""
    file: str = ""
    columns: tuple[tuple[str, ColumnSpec], ...] = ()
    values: dict[str, dict[str, str | None]] = field(default_factory=dict)
    lookups: tuple[Lookup, ...] = ()
    timestamp_format: dict[str, str] = field(default_factory=dict)
    date_only: bool = False
    set_aside: tuple[Rule, ...] = ()
    clear: tuple[Rule, ...] = ()
    history: HistorySpec | None = None
    settings: dict[str, Any] = field(default_factory=dict)


MappingLike = ColumnMapping | Mapping[str, Any] | str | Path


def _presets_dir() -> Any:
    return resources.files("salesnb.data") / "presets"


def list_presets() -> list[str]:
    """Return the names of the presets shipped with salesnb.

    Examples
    --------
    >>> "maven" in list_presets()
    True
    """
    return sorted(p.name[: -len(".yml")] for p in _presets_dir().iterdir() if p.name.endswith(".yml"))


def read_mapping(mapping: MappingLike) -> ColumnMapping:
    """Read and validate a column mapping.

    Parameters
    ----------
    mapping : str, Path, mapping or ColumnMapping
        A preset name (``maven``, ``salesforce``, ``hubspot``, ``pipedrive``), a path to
        a YAML file, or the mapping's content as a dict.

    Returns
    -------
    ColumnMapping

    Raises
    ------
    SettingsError
        Unknown preset (the presets are listed), missing file, malformed YAML, or a
        mapping that breaks the schema (the message says what to write instead).

    Examples
    --------
    >>> read_mapping("maven").file
    'sales_pipeline.csv'
    """
    if isinstance(mapping, ColumnMapping):
        return mapping
    if isinstance(mapping, Mapping):
        return _parse(dict(mapping), name="mapping", origin="mapping argument")
    if not isinstance(mapping, str | Path):
        raise SettingsError(f"mapping must be a preset name, a YAML path or a dict, got {type(mapping).__name__}",
                            source="mapping argument", fix="pass e.g. mapping='maven' or mapping='my_crm.yml'")
    text_arg = str(mapping).strip()
    path = Path(text_arg)
    looks_like_path = isinstance(mapping, Path) or path.suffix.lower() in (".yml", ".yaml") \
        or "/" in text_arg or "\\" in text_arg
    if looks_like_path:
        if not path.is_file():
            raise SettingsError("mapping file not found", source=str(path),
                                fix=f"check the path, or use a preset name: {', '.join(list_presets())}")
        return _parse_text(_read_text(path), name=path.stem, origin=str(path))
    preset = _presets_dir() / f"{text_arg}.yml"
    if not preset.is_file():
        near = difflib.get_close_matches(text_arg.lower(), list_presets(), n=1)
        hint = f" (did you mean {near[0]!r}?)" if near else ""
        raise SettingsError(
            f"unknown preset {text_arg!r}{hint}", source="mapping argument",
            fix=f"use one of the presets: {', '.join(list_presets())}, or the path to a mapping YAML file",
        )
    return _parse_text(preset.read_text(encoding="utf-8"), name=text_arg, origin=f"preset {text_arg}")


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise SettingsError(f"not UTF-8 text ({err.reason} at byte {err.start})", source=str(path),
                            fix="save the mapping file as UTF-8") from err


class _Loader(yaml.SafeLoader):
    """YAML loader with YAML 1.2 booleans: only true/false, so ``on:``, ``yes`` or ``No`` stay text."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                              list("tTfF"))


def _parse_text(text: str, *, name: str, origin: str) -> ColumnMapping:
    try:
        content = yaml.load(text, Loader=_Loader)  # a SafeLoader subclass: no arbitrary objects
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise SettingsError(
            f"malformed YAML{where}: {getattr(err, 'problem', err)}", source=f"mapping {origin}",
            fix="correct the YAML syntax (key: value; quote names holding ':' or '#', e.g. 'Deal - ID')",
        ) from err
    if not isinstance(content, dict):
        raise SettingsError(f"expected a mapping of keys, got {type(content).__name__}",
                            source=f"mapping {origin}",
                            fix="start from the full example in docs/presets.md (file:, columns:, ...)")
    return _parse(content, name=name, origin=origin)


class _Checker:
    """Validation helpers raising :class:`SettingsError` that name the mapping and the key."""

    def __init__(self, origin: str):
        self.source = f"mapping {origin}"

    def fail(self, where: str, message: str, fix: str) -> SettingsError:
        return SettingsError(f"'{where}' {message}", source=self.source, fix=fix)

    def text(self, value: Any, where: str, fix: str) -> str:
        if isinstance(value, bool) or not isinstance(value, str | int | float) or not str(value).strip():
            raise self.fail(where, f"must be a non-empty text, got {value!r}", fix)
        return str(value).strip()

    def mapping(self, value: Any, where: str, fix: str) -> dict[Any, Any]:
        if not isinstance(value, dict) or not value:
            raise self.fail(where, f"must be a non-empty mapping, got {value!r}", fix)
        return value

    def keys(self, value: dict[str, Any], where: str, allowed: Sequence[str], required: Sequence[str] = ()) -> None:
        unknown = [k for k in value if k not in allowed]
        if unknown:
            near = [m for k in unknown for m in difflib.get_close_matches(str(k), list(allowed), n=1)]
            hint = f" (did you mean {', '.join(map(repr, near))}?)" if near else ""
            raise self.fail(where, f"has unknown key(s) {', '.join(map(repr, unknown))}{hint}",
                            f"use only: {', '.join(allowed)}")
        missing = [k for k in required if k not in value]
        if missing:
            raise self.fail(where, f"is missing {', '.join(map(repr, missing))}",
                            f"add {', '.join(missing)} (see docs/presets.md)")

    def flag(self, value: Any, where: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(where, f"must be true or false, got {value!r}", f"write {where}: true")
        return value


def _value_text(value: Any) -> str | None:
    """Turn a YAML scalar into the text a cell holds (``true`` → ``'true'``, ``1`` → ``'1'``)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip()


def _parse(content: dict[str, Any], *, name: str, origin: str) -> ColumnMapping:
    c = _Checker(origin)
    c.keys(content, "mapping", list(MAPPING_KEYS), required=("file", "columns"))
    file = c.text(content["file"], "file", "write e.g. file: sales_pipeline.csv (a glob such as 'deals-*.csv' works)")
    description = str(content.get("description") or "").strip()

    raw_columns = c.mapping(content["columns"], "columns",
                            "write one 'canonical_name: Export column' per line, e.g. owner: sales_agent")
    columns = tuple((c.text(k, "columns", "use column names as keys"), _column_spec(c, k, v))
                    for k, v in raw_columns.items())
    targets = {k for k, _ in columns}

    values: dict[str, dict[str, str | None]] = {}
    if content.get("values") is not None:
        raw_values = c.mapping(content["values"], "values",
                               "write e.g. values: {status: {Won: won, Lost: lost}}")
        for col, table in raw_values.items():
            table = c.mapping(table, f"values.{col}",
                              f"write e.g. values: {{{col}: {{'export value': new value}}}}")
            values[str(col)] = {_value_text(k) or "": _value_text(v) for k, v in table.items()}
            if "" in values[str(col)]:
                raise c.fail(f"values.{col}", "has a blank key",
                             "map empty cells with a clear or set_aside rule instead")

    lookups = tuple(_lookup(c, i, item, targets)
                    for i, item in enumerate(_list(c, content.get("lookups"), "lookups")))

    fmt_raw = content.get("timestamp_format")
    fmt: dict[str, str] = {}
    if isinstance(fmt_raw, dict):
        c.keys(fmt_raw, "timestamp_format", TIMESTAMP_TARGETS)
        fmt = {k: c.text(v, f"timestamp_format.{k}", "write e.g. '%m/%d/%Y'") for k, v in fmt_raw.items()}
    elif fmt_raw is not None:
        one = c.text(fmt_raw, "timestamp_format", "write e.g. timestamp_format: '%m/%d/%Y %H:%M'")
        fmt = dict.fromkeys(TIMESTAMP_TARGETS, one)
    for key, value in fmt.items():
        if value.upper() != "ISO8601" and "%" not in value:
            raise c.fail(f"timestamp_format.{key}" if isinstance(fmt_raw, dict) else "timestamp_format",
                         f"is {value!r}, which has no % directive",
                         "write a strftime format such as '%m/%d/%Y' or '%d.%m.%Y %H:%M', or ISO8601")

    date_only = c.flag(content.get("date_only", False), "date_only")
    set_aside = tuple(_rule(c, f"set_aside[{i}]", item, clear=False)
                      for i, item in enumerate(_list(c, content.get("set_aside"), "set_aside")))
    clear = tuple(_rule(c, f"clear[{i}]", item, clear=True)
                  for i, item in enumerate(_list(c, content.get("clear"), "clear")))
    history = _history(c, content["history"]) if content.get("history") is not None else None

    settings = content.get("settings") or {}
    if not isinstance(settings, dict):
        raise c.fail("settings", f"must be a mapping of funnel.yml keys, got {settings!r}",
                     "write e.g. settings: {stages: [lead, proposal], currency: USD}")
    FunnelSettings.from_mapping(settings, source=f"{c.source} [settings]")  # validate early
    return ColumnMapping(name=name, origin=origin, description=description, file=file, columns=columns,
                         values=values, lookups=lookups, timestamp_format=fmt, date_only=date_only,
                         set_aside=set_aside, clear=clear, history=history, settings=dict(settings))


def _list(c: _Checker, value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise c.fail(where, f"must be a list ('- ...' items), got {value!r}",
                     f"write each {where} entry as a '- ' item (see docs/presets.md)")
    return value


def _column_spec(c: _Checker, target: Any, value: Any) -> ColumnSpec:
    where = f"columns.{target}"
    fix = f"write {target}: Export column, a list [First, Second] (first non-empty wins), or " \
          f"{{from: Export column, optional: true}}"
    if isinstance(value, str | int) and not isinstance(value, bool):
        return ColumnSpec((c.text(value, where, fix),))
    if isinstance(value, list):
        if not value:
            raise c.fail(where, "is an empty list", fix)
        return ColumnSpec(tuple(c.text(v, where, fix) for v in value))
    if isinstance(value, dict):
        if set(value) == {"closed", "won"}:
            if target != "status":
                raise c.fail(where, "uses closed/won flags, which only make a status", "use flags under columns.status")
            return ColumnSpec(flags=(c.text(value["closed"], f"{where}.closed", fix),
                                     c.text(value["won"], f"{where}.won", fix)))
        c.keys(value, where, ("from", "optional"), required=("from",))
        inner = _column_spec(c, target, value["from"])
        return ColumnSpec(inner.sources, c.flag(value.get("optional", False), f"{where}.optional"))
    raise c.fail(where, f"must name an export column, got {value!r}", fix)


def _conditions(c: _Checker, where: str, value: Any) -> tuple[Condition, ...]:
    fix = "write e.g. when: {status: [deleted]} or when: {created_at: null} (null = empty cell)"
    when = c.mapping(value, where, fix)
    out = []
    for col, wanted in when.items():
        items = wanted if isinstance(wanted, list) else [wanted]
        if not items or any(isinstance(v, dict | list) for v in items):
            raise c.fail(f"{where}.{col}", f"must be a value or a list of values, got {wanted!r}", fix)
        out.append(Condition(str(col), tuple(_value_text(v) for v in items)))
    return tuple(out)


def _rule(c: _Checker, where: str, item: Any, *, clear: bool) -> Rule:
    allowed = ("column", "when", "reason") if clear else ("when", "reason")
    item = c.mapping(item, where, f"write e.g. - {{{'column: closed_at, ' if clear else ''}when: {{status: [open]}}, "
                                  "reason: why}")
    c.keys(item, where, allowed, required=allowed)
    reason = c.text(item["reason"], f"{where}.reason", "say in words why, it is shown to the analyst")
    column = c.text(item["column"], f"{where}.column", "name the column to empty") if clear else None
    return Rule(_conditions(c, f"{where}.when", item["when"]), reason, column)


def _lookup(c: _Checker, i: int, item: Any, targets: set[str]) -> Lookup:
    where = f"lookups[{i}]"
    item = c.mapping(item, where, "write e.g. - {file: teams.csv, on: {owner: sales_agent}, columns: {team: manager}}")
    c.keys(item, where, ("file", "on", "columns", "optional"), required=("file", "on", "columns"))
    on = item["on"]
    if isinstance(on, str):
        left = right = c.text(on, f"{where}.on", "name the key column")
    else:
        on = c.mapping(on, f"{where}.on", "write on: {mapped column: lookup file column}")
        if len(on) != 1:
            raise c.fail(f"{where}.on", "must have exactly one key pair", "write on: {owner: sales_agent}")
        ((left, right),) = on.items()
        left = c.text(left, f"{where}.on", "name the mapped table's key column")
        right = c.text(right, f"{where}.on", "name the lookup file's key column")
    cols = c.mapping(item["columns"], f"{where}.columns", "write columns: {new column: lookup file column}")
    pairs = tuple((c.text(k, f"{where}.columns", "name the new column"),
                   c.text(v, f"{where}.columns", "name the lookup file column")) for k, v in cols.items())
    clash = [k for k, _ in pairs if k in targets]
    if clash:
        raise c.fail(f"{where}.columns", f"adds {clash}, already made by 'columns'",
                     "make each column in one place: either columns or a lookup")
    return Lookup(c.text(item["file"], f"{where}.file", "name the lookup file"), left, right, pairs,
                  c.flag(item.get("optional", False), f"{where}.optional"))


def _history(c: _Checker, value: Any) -> HistorySpec:
    fix = ("write history: {file: History.csv, columns: {opportunity_id: ..., stage: ..., entered_at: ...}}, "
           "history: {wide: {Stage name: date column}} or history: {wide_pattern: 'Date entered \"(?P<stage>.+)\"'}")
    value = c.mapping(value, "history", fix)
    c.keys(value, "history", ("file", "columns", "wide", "wide_pattern", "outside_life", "optional"))
    kinds = [k for k in ("file", "wide", "wide_pattern") if k in value]
    if len(kinds) != 1:
        raise c.fail("history", f"needs exactly one of file, wide, wide_pattern (got {kinds or 'none'})", fix)
    try:
        outside = check_option("outside_life", value.get("outside_life", "error"), OUTSIDE_LIFE)
    except OptionError as err:
        raise c.fail("history.outside_life", f"is {err.value!r}",
                     "write outside_life: error (default) or set_aside") from err
    optional = c.flag(value.get("optional", False), "history.optional")
    if "file" in value:
        cols = c.mapping(value.get("columns"), "history.columns",
                         "write columns: {opportunity_id: ..., stage: ..., entered_at: ...}")
        c.keys(cols, "history.columns", HISTORY_TARGETS, required=HISTORY_TARGETS)
        specs = tuple((k, _column_spec(c, k, v)) for k, v in cols.items())
        return HistorySpec(file=c.text(value["file"], "history.file", fix), columns=specs,
                           outside_life=outside, optional=optional)
    if "columns" in value:
        raise c.fail("history.columns", "is only used with history.file", fix)
    if "wide" in value:
        wide = c.mapping(value["wide"], "history.wide", "write wide: {Stage name: date column}")
        pairs = tuple((_value_text(k) or "", c.text(v, f"history.wide.{k}", "name the date column"))
                      for k, v in wide.items())
        return HistorySpec(wide=pairs, outside_life=outside, optional=optional)
    pattern_text = c.text(value["wide_pattern"], "history.wide_pattern", fix)
    try:
        pattern = re.compile(pattern_text)
    except re.error as err:
        raise c.fail("history.wide_pattern", f"is not a valid regular expression ({err})",
                     "write e.g. '^Date entered \"(?P<stage>.+) \\((?P<pipeline>[^()]*)\\)\"$'") from err
    if "stage" not in pattern.groupindex:
        raise c.fail("history.wide_pattern", "has no (?P<stage>...) group",
                     "capture the stage name with a named group: (?P<stage>.+)")
    return HistorySpec(wide_pattern=pattern, outside_life=outside, optional=optional)
