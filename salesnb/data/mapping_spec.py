"""Column mappings, the specification: what a mapping document says, read and checked.

A *mapping* is a small YAML document (a file, or a preset shipped in
``salesnb/data/presets/*.yml`` and named by its stem, e.g. ``salesforce``) that says
which file holds the deals, which export column becomes which canonical column (several
candidate names, concatenations and fallbacks allowed), how status and stage values
translate (exactly, ignoring case, or by pattern), how timestamps are written (several
candidate formats), which lookup tables to join, how to build the stage history (from
a history file, a field-history file, the main file's own columns, or wide
``Date entered ...`` columns), where the stage order comes from, which rows to set aside
and how to repair the quirks a CRM's data are known for, where exchange rates come
from, and funnel settings the export implies. A preset may hold several *variants*
(a Salesforce Data Export folder, a Salesforce report export...): the first whose file
and columns are present is used.
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
from salesnb.data.settings import FunnelSettings, check_yaml_depth, read_yaml_file
from salesnb.exceptions import OptionError, SettingsError

__all__ = [
    "HISTORY_TARGETS",
    "MAPPING_KEYS",
    "OTHER",
    "RULES",
    "TIMESTAMP_TARGETS",
    "ColumnMapping",
    "ColumnSpec",
    "Condition",
    "HistorySource",
    "HistorySpec",
    "Lookup",
    "MappingLike",
    "PatternRule",
    "ProbabilitySpec",
    "RatesSource",
    "ReadOptions",
    "Rule",
    "StageOrderSource",
    "Term",
    "list_presets",
    "read_mapping",
]

#: Top-level keys of a mapping document and what each one is for (see docs/presets.md).
MAPPING_KEYS: dict[str, str] = {
    "description": "free text: which export the mapping expects",
    "file": "the file holding one row per deal: a name or glob, or a list of them (the first found)",
    "columns": "canonical (or new) column name: export column(s)",
    "values": "column: {export value: canonical value}",
    "patterns": "column: [{match: regex, value: ...}] for values no exact entry names",
    "stage_outcomes": "from_status: stage values held only by won (lost) deals mean won (lost)",
    "lookups": "tables joined to add columns (e.g. owner id → owner name)",
    "timestamp_format": "strftime format(s) of the timestamps (default ISO 8601)",
    "date_only": "true to keep only the date of every timestamp",
    "set_aside": "rules for rows that are not loaded, each with its reason",
    "clear": "rules that empty a column on some rows, each with its reason",
    "rules": "what to do with each known CRM quirk: repair, set_aside, keep or error",
    "history": "where the stage history comes from (a file, a field history, date columns)",
    "stage_order": "where the export keeps its stage order (a rank column, probabilities...)",
    "rates": "where exchange rates come from (rates.csv, Salesforce DatedConversionRate...)",
    "settings": "funnel settings implied by the export (funnel.yml keys)",
    "read": "how to read the files: footer, null_values, strip_prefix",
    "detect": "columns that tell this export (or variant) apart",
    "variants": "alternative layouts of the same export, each overriding keys; the first that fits is used",
}
#: Keys a variant may override (every key but ``variants`` and ``description``).
VARIANT_KEYS = ("name", *[k for k in MAPPING_KEYS if k not in ("variants", "description")])
#: Keys whose entries a variant merges into the base (others it replaces whole).
MERGED_KEYS = ("read", "columns", "values", "patterns", "rules", "settings")
TIMESTAMP_TARGETS = ("created_at", "closed_at", "expected_close_at", "entered_at")
HISTORY_TARGETS = ("opportunity_id", "stage", "entered_at")
RATE_TARGETS = ("currency", "valid_from", "rate")
OTHER = "*"
#: The CRM quirks a mapping handles by rule, the actions each accepts, and the default
#: (the canonical layout's strict contract: an error).
RULES: dict[str, tuple[str, ...]] = {
    "closed_before_created": ("error", "repair", "set_aside"),
    "negative_amount": ("error", "repair", "set_aside"),
    "blank_stage": ("keep", "set_aside", "error"),
    "history_unknown_opportunity": ("error", "set_aside"),
    "history_outside_life": ("error", "set_aside"),
}
#: Special values of timestamp formats.
ISO = "ISO8601"
EPOCH_MS = "epoch_ms"


# --------------------------------------------------------------------------- the schema
@dataclass(frozen=True)
class Term:
    """One way to get a value: a column, several columns joined, the row's file line, or a
    fixed ``value`` (a last resort such as ``(no owner)``)."""

    columns: tuple[str, ...] = ()
    sep: str = " "
    line: bool = False
    value: str | None = None

    @property
    def label(self) -> str:
        """The term in words (``FirstName + LastName``)."""
        if self.line:
            return "the line number in the file"
        if self.value is not None:
            return f"the value {self.value!r}"
        return " + ".join(self.columns)


@dataclass(frozen=True)
class ProbabilitySpec:
    """A status read from a stage probability: ``won`` (e.g. 1.0) is won, ``lost`` (0) is lost."""

    terms: tuple[Term, ...]
    won: float = 1.0
    lost: float = 0.0


@dataclass(frozen=True)
class ColumnSpec:
    """Where one mapped column comes from.

    ``terms`` are tried row by row, the first non-empty value wins; a term whose column
    the file lacks is skipped (the column is missing only when every term is). For a
    status, ``flags`` ((closed candidates), (won candidates)) and ``probability`` come
    first, row by row, and ``terms`` (values translated by ``values.status``) last.
    ``scale`` makes the column a number multiplied by it (``0.01`` turns 0-100 into
    0-1). An ``optional`` column absent from the file is skipped and reported.
    """

    terms: tuple[Term, ...] = ()
    optional: bool = False
    scale: float | None = None
    flags: tuple[tuple[str, ...], tuple[str, ...]] | None = None
    probability: ProbabilitySpec | None = None

    @property
    def sources(self) -> tuple[str, ...]:
        """Every export column this spec may read."""
        names = [c for t in self.terms for c in t.columns]
        if self.flags:
            names.extend([*self.flags[0], *self.flags[1]])
        if self.probability:
            names.extend(c for t in self.probability.terms for c in t.columns)
        return tuple(dict.fromkeys(names))


@dataclass(frozen=True)
class Condition:
    """``column`` holds one of ``values`` (``None`` matches an empty cell)."""

    column: str
    values: tuple[str | None, ...]


@dataclass(frozen=True)
class Rule:
    """A ``set_aside`` rule (``column`` None) or a ``clear`` rule (``column`` emptied).

    An ``optional`` rule whose tested column the table lacks is skipped (and reported).
    """

    when: tuple[Condition, ...]
    reason: str
    column: str | None = None
    optional: bool = False


@dataclass(frozen=True)
class PatternRule:
    """A value pattern: values matching ``match`` become ``value`` (``\\g<name>`` groups
    allowed), or are an ``error`` (its message); ``unmapped`` marks a catch-all whose hits
    are counted and warned about as values the mapping does not name."""

    match: re.Pattern[str]
    value: str | None = None
    error: str | None = None
    unmapped: bool = False


@dataclass(frozen=True)
class Lookup:
    """Join ``file`` on ``left`` (mapped table) = ``right`` (lookup file) to add ``columns``.

    ``fallback`` names, per added column, a column of the mapped table used where the
    lookup gives nothing (no file, no match, empty value).
    """

    file: str
    left: str
    right: str
    columns: tuple[tuple[str, ColumnSpec], ...]
    optional: bool = False
    fallback: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class HistorySource:
    """One place the stage history may come from.

    With ``file``: a long table, one row per stage entry (``columns`` map
    opportunity_id, stage, entered_at). ``where`` keeps only the rows that are stage
    entries (a field history: ``Field = StageName``); ``created`` marks the rows that
    record the creation of a deal, whose stage is the first change's ``stage_before``
    value (else the deal's current stage). Without ``file``: ``columns`` name stage and
    entered_at columns of the main file (one entry per deal), or ``wide`` /
    ``wide_patterns`` its date columns (one entry per filled cell).
    """

    file: str | None = None
    columns: tuple[tuple[str, ColumnSpec], ...] = ()
    where: tuple[Condition, ...] = ()
    created: tuple[Condition, ...] = ()
    stage_before: ColumnSpec | None = None
    wide: tuple[tuple[str, str], ...] = ()
    wide_patterns: tuple[re.Pattern[str], ...] = ()

    @property
    def kind(self) -> str:
        if self.file is not None:
            return "file"
        if self.wide or self.wide_patterns:
            return "wide"
        return "columns"


@dataclass(frozen=True)
class HistorySpec:
    """Where the stage history comes from: the first of ``sources`` present is used."""

    sources: tuple[HistorySource, ...]
    optional: bool = False


@dataclass(frozen=True)
class StageOrderSource:
    """A place the export keeps its stage order: a main-file ``column`` holding a rank or a
    probability per deal at its current stage, or (``kind`` ``history_columns``) the order
    of the history's date columns."""

    kind: str
    column: ColumnSpec | None = None


@dataclass(frozen=True)
class RatesSource:
    """An exchange-rate table: ``file`` with currency, valid_from, rate columns.

    ``invert``: the file gives units of the currency per unit of the reporting currency
    (Salesforce's ``ConversionRate``), so the rate is 1 / value. ``reporting`` marks the
    row of the reporting currency (Salesforce: ``IsCorporate = 1``).
    """

    file: str
    columns: tuple[tuple[str, ColumnSpec], ...]
    invert: bool = False
    reporting: tuple[Condition, ...] = ()


@dataclass(frozen=True)
class ReadOptions:
    """How the export files are read.

    ``footer`` drops a report footer; ``null_values`` are cells meaning empty;
    ``strip_prefix`` are header prefixes (``Deal - ``) a column name may carry.
    """

    footer: bool = False
    null_values: tuple[str, ...] = ()
    strip_prefix: tuple[str, ...] = ()


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
    file : tuple of str
        Names or globs of the main file (one row per deal); the first found is used.
    columns : tuple of (str, ColumnSpec)
        Mapped column name and where it comes from, in mapping order.
    values : dict
        Column name → {export value: new value}; key ``"*"`` catches every other value.
    patterns : dict
        Column name → pattern rules, tried after ``values``.
    stage_outcomes : str or None
        ``from_status``: stage values held only by won (lost) deals map to won (lost).
    lookups, set_aside, clear : tuple
        Joins, rules for rows not loaded, rules emptying a column.
    timestamp_format : dict
        Candidate formats per timestamp column (``created_at``, ``closed_at``,
        ``expected_close_at``, ``entered_at``); absent means ISO 8601.
    date_only : bool
        Keep only the date of every timestamp (in the dataset's time zone).
    rules : dict
        Quirk rule → action (see :data:`RULES`).
    history : HistorySpec or None
        Where the stage history comes from.
    stage_order : tuple of StageOrderSource
        Where the export keeps its stage order, in order of trust.
    rates : tuple of RatesSource
        Exchange-rate tables, the first present is used (a folder's ``rates.csv`` first).
    read : ReadOptions
        How the files are read.
    detect : tuple of ColumnSpec
        Columns the main file must have for this mapping (or variant) to fit it.
    variants : tuple of ColumnMapping
        Alternative layouts (each a complete mapping); empty for a plain mapping.
    variant : str
        The name of this variant (empty for the base).
    settings : dict
        Funnel settings the export implies (under the folder's ``funnel.yml``).
    """

    name: str
    origin: str
    description: str = ""
    file: tuple[str, ...] = ()
    columns: tuple[tuple[str, ColumnSpec], ...] = ()
    values: dict[str, dict[str, str | None]] = field(default_factory=dict)
    patterns: dict[str, tuple[PatternRule, ...]] = field(default_factory=dict)
    stage_outcomes: str | None = None
    lookups: tuple[Lookup, ...] = ()
    timestamp_format: dict[str, tuple[str, ...]] = field(default_factory=dict)
    date_only: bool = False
    set_aside: tuple[Rule, ...] = ()
    clear: tuple[Rule, ...] = ()
    rules: dict[str, str] = field(default_factory=dict)
    history: HistorySpec | None = None
    stage_order: tuple[StageOrderSource, ...] = ()
    rates: tuple[RatesSource, ...] = ()
    read: ReadOptions = field(default_factory=ReadOptions)
    detect: tuple[ColumnSpec, ...] = ()
    variants: tuple[ColumnMapping, ...] = ()
    variant: str = ""
    settings: dict[str, Any] = field(default_factory=dict)

    def rule(self, name: str) -> str:
        """Return the action of quirk rule ``name`` (its default when the mapping is silent)."""
        return self.rules.get(name, RULES[name][0])

    @property
    def title(self) -> str:
        """The mapping's name with its variant (``salesforce: Data Export Service``)."""
        return f"{self.name}: {self.variant}" if self.variant else self.name


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
    ('sales_pipeline.csv',)
    >>> [v.variant for v in read_mapping("salesforce").variants]
    ['Data Export Service', 'report export']
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
    return read_yaml_file(path, kind="mapping file")


class _Loader(yaml.SafeLoader):
    """YAML loader with YAML 1.2 booleans: only true/false, so ``on:``, ``yes`` or ``No`` stay text."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                              list("tTfF"))


def _parse_text(text: str, *, name: str, origin: str) -> ColumnMapping:
    fix_nesting = "start from the full example in docs/presets.md (file:, columns:, ...)"
    check_yaml_depth(text, source=f"mapping {origin}", fix=fix_nesting)
    try:
        content = yaml.load(text, Loader=_Loader)  # a SafeLoader subclass: no arbitrary objects
    except RecursionError as err:
        raise SettingsError("YAML nested too deeply to read", source=f"mapping {origin}", fix=fix_nesting) from err
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

    def texts(self, value: Any, where: str, fix: str) -> tuple[str, ...]:
        items = value if isinstance(value, list) else [value]
        if not items:
            raise self.fail(where, "is an empty list", fix)
        return tuple(self.text(v, where, fix) for v in items)

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

    def number(self, value: Any, where: str, fix: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(where, f"must be a number, got {value!r}", fix)
        return float(value)

    def regex(self, value: Any, where: str, fix: str) -> re.Pattern[str]:
        text = self.text(value, where, fix)
        try:
            return re.compile(text)
        except re.error as err:
            raise self.fail(where, f"is not a valid regular expression ({err})", fix) from err


def _value_text(value: Any) -> str | None:
    """Turn a YAML scalar into the text a cell holds (``true`` → ``'true'``, ``1`` → ``'1'``)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip()


def _parse(content: dict[str, Any], *, name: str, origin: str) -> ColumnMapping:
    c = _Checker(origin)
    c.keys(content, "mapping", list(MAPPING_KEYS))
    variants_raw = content.get("variants")
    if variants_raw is None:
        c.keys(content, "mapping", list(MAPPING_KEYS), required=("file", "columns"))
        return _parse_one(c, content, name=name, origin=origin)
    items = _list(c, variants_raw, "variants")
    if not items:
        raise c.fail("variants", "is an empty list", "list at least one variant, or leave 'variants' out")
    base = {k: v for k, v in content.items() if k != "variants"}
    variants = []
    for i, item in enumerate(items):
        where = f"variants[{i}]"
        item = c.mapping(item, where, "write each variant as a mapping: - {name: ..., file: ..., columns: {...}}")
        c.keys(item, where, VARIANT_KEYS, required=("name",))
        merged = dict(base)
        for key, value in item.items():
            if key == "name":
                continue
            if key in MERGED_KEYS and isinstance(value, dict) and isinstance(base.get(key), dict):
                merged[key] = {**base[key], **value}
            else:
                merged[key] = value
        c.keys(merged, where, list(MAPPING_KEYS), required=("file", "columns"))
        variant = _parse_one(c, merged, name=name, origin=origin,
                             variant=c.text(item["name"], f"{where}.name", "name the variant"))
        variants.append(variant)
    first = variants[0]
    return ColumnMapping(name=name, origin=origin, description=str(content.get("description") or "").strip(),
                         file=first.file, columns=first.columns, variants=tuple(variants),
                         settings=first.settings)


def _parse_one(c: _Checker, content: dict[str, Any], *, name: str, origin: str, variant: str = "") -> ColumnMapping:
    file = c.texts(content["file"], "file",
                   "write e.g. file: sales_pipeline.csv, a glob such as 'deals-*.csv', or a list of them")
    description = str(content.get("description") or "").strip()
    read = _read_options(c, content.get("read"))

    raw_columns = c.mapping(content["columns"], "columns",
                            "write one 'canonical_name: Export column' per line, e.g. owner: sales_agent")
    columns = tuple((c.text(k, "columns", "use column names as keys"), _column_spec(c, k, v, f"columns.{k}"))
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

    patterns: dict[str, tuple[PatternRule, ...]] = {}
    if content.get("patterns") is not None:
        raw_patterns = c.mapping(content["patterns"], "patterns",
                                 "write e.g. patterns: {status: [{match: '(?i)^closed\\W*won$', value: won}]}")
        for col, items in raw_patterns.items():
            patterns[str(col)] = tuple(_pattern(c, f"patterns.{col}[{i}]", item)
                                       for i, item in enumerate(_list(c, items, f"patterns.{col}")))

    stage_outcomes = None
    if content.get("stage_outcomes") is not None:
        if content["stage_outcomes"] != "from_status":
            raise c.fail("stage_outcomes", f"is {content['stage_outcomes']!r}",
                         "write stage_outcomes: from_status, or leave it out")
        stage_outcomes = "from_status"

    lookups = tuple(_lookup(c, i, item, targets)
                    for i, item in enumerate(_list(c, content.get("lookups"), "lookups")))
    fmt = _timestamp_formats(c, content.get("timestamp_format"))
    date_only = c.flag(content.get("date_only", False), "date_only")
    set_aside = tuple(_rule(c, f"set_aside[{i}]", item, clear=False)
                      for i, item in enumerate(_list(c, content.get("set_aside"), "set_aside")))
    clear = tuple(_rule(c, f"clear[{i}]", item, clear=True)
                  for i, item in enumerate(_list(c, content.get("clear"), "clear")))
    rules = _rules(c, content.get("rules"))
    history = None
    if content.get("history") is not None:
        history, outside = _history(c, content["history"])
        if outside is not None and "history_outside_life" not in rules:
            rules["history_outside_life"] = outside
    stage_order = tuple(_stage_order(c, i, item)
                        for i, item in enumerate(_list(c, content.get("stage_order"), "stage_order")))
    rates = tuple(_rates(c, i, item) for i, item in enumerate(_list(c, content.get("rates"), "rates")))
    detect = tuple(_column_spec(c, "detect", v, f"detect[{i}]")
                   for i, v in enumerate(_list(c, content.get("detect"), "detect")))

    settings = content.get("settings") or {}
    if not isinstance(settings, dict):
        raise c.fail("settings", f"must be a mapping of funnel.yml keys, got {settings!r}",
                     "write e.g. settings: {stages: [lead, proposal], currency: USD}")
    FunnelSettings.from_mapping(settings, source=f"{c.source} [settings]")  # validate early
    return ColumnMapping(name=name, origin=origin, description=description, file=file, columns=columns,
                         values=values, patterns=patterns, stage_outcomes=stage_outcomes, lookups=lookups,
                         timestamp_format=fmt, date_only=date_only, set_aside=set_aside, clear=clear,
                         rules=rules, history=history, stage_order=stage_order, rates=rates, read=read,
                         detect=detect, variant=variant, settings=dict(settings))


def _list(c: _Checker, value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise c.fail(where, f"must be a list ('- ...' items), got {value!r}",
                     f"write each {where} entry as a '- ' item (see docs/presets.md)")
    return value


def _read_options(c: _Checker, value: Any) -> ReadOptions:
    if value is None:
        return ReadOptions()
    value = c.mapping(value, "read", "write e.g. read: {footer: true, null_values: ['000000000000000AAA']}")
    c.keys(value, "read", ("footer", "null_values", "strip_prefix"))
    nulls = tuple(str(v) for v in _list(c, value.get("null_values"), "read.null_values"))
    prefixes = tuple(str(v) for v in _list(c, value.get("strip_prefix"), "read.strip_prefix"))
    if any(not p.strip() for p in prefixes):
        raise c.fail("read.strip_prefix", "has a blank prefix", "write prefixes such as 'Deal - '")
    return ReadOptions(c.flag(value.get("footer", False), "read.footer"), nulls, prefixes)


def _term(c: _Checker, value: Any, where: str, fix: str) -> Term:
    if isinstance(value, dict):
        if value == {"line": True}:
            return Term(line=True)
        if set(value) == {"value"}:
            return Term(value=c.text(value["value"], f"{where}.value", "write e.g. {value: (no owner)}"))
        c.keys(value, where, ("join", "sep"), required=("join",))
        cols = c.texts(value["join"], f"{where}.join", "write join: [FirstName, LastName]")
        sep = value.get("sep", " ")
        if not isinstance(sep, str):
            raise c.fail(f"{where}.sep", f"must be a text, got {sep!r}", "write sep: ' '")
        return Term(cols, sep)
    return Term((c.text(value, where, fix),))


def _terms(c: _Checker, value: Any, where: str, fix: str) -> tuple[Term, ...]:
    items = value if isinstance(value, list) else [value]
    if not items:
        raise c.fail(where, "is an empty list", fix)
    return tuple(_term(c, v, where, fix) for v in items)


def _column_spec(c: _Checker, target: Any, value: Any, where: str) -> ColumnSpec:
    fix = (f"write {target}: Export column, a list [First, Second] (the first present and non-empty wins), "
           f"{{join: [A, B]}}, or {{from: Export column, optional: true}}")
    if isinstance(value, str | int) and not isinstance(value, bool):
        return ColumnSpec((Term((c.text(value, where, fix),)),))
    if isinstance(value, list):
        return ColumnSpec(_terms(c, value, where, fix))
    if isinstance(value, dict):
        if set(value) == {"closed", "won"}:
            if target != "status":
                raise c.fail(where, "uses closed/won flags, which only make a status", "use flags under columns.status")
            return ColumnSpec(flags=(c.texts(value["closed"], f"{where}.closed", fix),
                                     c.texts(value["won"], f"{where}.won", fix)))
        if "join" in value or value == {"line": True} or set(value) == {"value"}:
            return ColumnSpec((_term(c, value, where, fix),))
        allowed = ["from", "optional", "scale"]
        if target == "status":
            allowed += ["flags", "probability"]
        c.keys(value, where, allowed)
        if not ({"from", "flags", "probability"} & set(value)):
            raise c.fail(where, "names no column", fix)
        terms = _terms(c, value["from"], f"{where}.from", fix) if "from" in value else ()
        flags = None
        if "flags" in value:
            raw = c.mapping(value["flags"], f"{where}.flags", "write flags: {closed: IsClosed, won: IsWon}")
            c.keys(raw, f"{where}.flags", ("closed", "won"), required=("closed", "won"))
            flags = (c.texts(raw["closed"], f"{where}.flags.closed", fix),
                     c.texts(raw["won"], f"{where}.flags.won", fix))
        probability = None
        if "probability" in value:
            raw = c.mapping(value["probability"], f"{where}.probability",
                            "write probability: {from: Deal probability, won: 1, lost: 0}")
            c.keys(raw, f"{where}.probability", ("from", "won", "lost"), required=("from",))
            probability = ProbabilitySpec(_terms(c, raw["from"], f"{where}.probability.from", fix),
                                          c.number(raw.get("won", 1), f"{where}.probability.won", "write won: 1"),
                                          c.number(raw.get("lost", 0), f"{where}.probability.lost", "write lost: 0"))
        scale = None
        if value.get("scale") is not None:
            scale = c.number(value["scale"], f"{where}.scale", "write e.g. scale: 0.01 (percent → fraction)")
        return ColumnSpec(terms, c.flag(value.get("optional", False), f"{where}.optional"), scale, flags, probability)
    raise c.fail(where, f"must name an export column, got {value!r}", fix)


def _pattern(c: _Checker, where: str, item: Any) -> PatternRule:
    fix = "write e.g. - {match: '(?i)^closed\\W*won$', value: won} or - {match: '.', value: open, unmapped: true}"
    item = c.mapping(item, where, fix)
    c.keys(item, where, ("match", "value", "error", "unmapped"), required=("match",))
    if ("value" in item) == ("error" in item):
        raise c.fail(where, "needs exactly one of value, error", fix)
    error = c.text(item["error"], f"{where}.error", "say in words what is wrong") if "error" in item else None
    return PatternRule(c.regex(item["match"], f"{where}.match", fix), _value_text(item.get("value")), error,
                       c.flag(item.get("unmapped", False), f"{where}.unmapped"))


def _timestamp_formats(c: _Checker, fmt_raw: Any) -> dict[str, tuple[str, ...]]:
    fmt: dict[str, tuple[str, ...]] = {}
    fix = "write a strftime format such as '%m/%d/%Y' or '%d.%m.%Y %H:%M', ISO8601, epoch_ms, or a list of them"
    if isinstance(fmt_raw, dict):
        c.keys(fmt_raw, "timestamp_format", TIMESTAMP_TARGETS)
        fmt = {k: c.texts(v, f"timestamp_format.{k}", fix) for k, v in fmt_raw.items()}
    elif fmt_raw is not None:
        one = c.texts(fmt_raw, "timestamp_format", fix)
        fmt = dict.fromkeys(TIMESTAMP_TARGETS, one)
    for key, formats in fmt.items():
        for value in formats:
            if value.upper() != ISO and value != EPOCH_MS and "%" not in value:
                raise c.fail(f"timestamp_format.{key}" if isinstance(fmt_raw, dict) else "timestamp_format",
                             f"is {value!r}, which has no % directive", fix)
    return fmt


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
    allowed = ("column", "when", "reason", "optional") if clear else ("when", "reason", "optional")
    item = c.mapping(item, where, f"write e.g. - {{{'column: closed_at, ' if clear else ''}when: {{status: [open]}}, "
                                  "reason: why}")
    c.keys(item, where, allowed, required=[k for k in allowed if k != "optional"])
    reason = c.text(item["reason"], f"{where}.reason", "say in words why, it is shown to the analyst")
    column = c.text(item["column"], f"{where}.column", "name the column to empty") if clear else None
    return Rule(_conditions(c, f"{where}.when", item["when"]), reason, column,
                c.flag(item.get("optional", False), f"{where}.optional"))


def _rules(c: _Checker, value: Any) -> dict[str, str]:
    if value is None:
        return {}
    value = c.mapping(value, "rules", "write e.g. rules: {negative_amount: repair, blank_stage: set_aside}")
    c.keys(value, "rules", list(RULES))
    out = {}
    for key, action in value.items():
        try:
            out[key] = check_option(key, str(action), RULES[key])
        except OptionError as err:
            raise c.fail(f"rules.{key}", f"is {action!r}", f"write one of: {', '.join(RULES[key])}") from err
    return out


def _lookup(c: _Checker, i: int, item: Any, targets: set[str]) -> Lookup:
    where = f"lookups[{i}]"
    item = c.mapping(item, where, "write e.g. - {file: teams.csv, on: {owner: sales_agent}, columns: {team: manager}}")
    c.keys(item, where, ("file", "on", "columns", "optional", "fallback"), required=("file", "on", "columns"))
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
                   _column_spec(c, k, v, f"{where}.columns.{k}")) for k, v in cols.items())
    clash = [k for k, _ in pairs if k in targets]
    if clash:
        raise c.fail(f"{where}.columns", f"adds {clash}, already made by 'columns'",
                     "make each column in one place: either columns or a lookup")
    fallback: tuple[tuple[str, str], ...] = ()
    if item.get("fallback") is not None:
        raw = c.mapping(item["fallback"], f"{where}.fallback", "write fallback: {owner: OwnerId}")
        names = {k for k, _ in pairs}
        fallback = tuple((c.text(k, f"{where}.fallback", "name a column the lookup adds"),
                          c.text(v, f"{where}.fallback", "name a column of the mapped table"))
                         for k, v in raw.items())
        unknown = [k for k, _ in fallback if k not in names]
        if unknown:
            raise c.fail(f"{where}.fallback", f"names {unknown}, which the lookup does not add",
                         f"use columns the lookup adds: {', '.join(sorted(names))}")
    return Lookup(c.text(item["file"], f"{where}.file", "name the lookup file"), left, right, pairs,
                  c.flag(item.get("optional", False), f"{where}.optional"), fallback)


_HISTORY_FIX = ("write history: {file: History.csv, columns: {opportunity_id: ..., stage: ..., entered_at: ...}}, "
                "history: {wide: {Stage name: date column}}, history: {wide_pattern: 'Date entered \"(?P<stage>.+)\"'}, "
                "history: {columns: {stage: ..., entered_at: ...}} (main-file columns), or a list of these")


def _history(c: _Checker, value: Any) -> tuple[HistorySpec, str | None]:
    """Parse ``history``: one source or a list of alternatives; returns the legacy outside_life too."""
    items = value if isinstance(value, list) else [value]
    if not items:
        raise c.fail("history", "is an empty list", _HISTORY_FIX)
    sources, optional, outside = [], False, None
    for i, item in enumerate(items):
        where = "history" if not isinstance(value, list) else f"history[{i}]"
        item = c.mapping(item, where, _HISTORY_FIX)
        c.keys(item, where, ("file", "columns", "where", "created", "stage_before", "wide", "wide_pattern",
                             "outside_life", "optional"))
        optional = optional or c.flag(item.get("optional", False), f"{where}.optional")
        if "outside_life" in item:
            try:
                outside = check_option("outside_life", item["outside_life"], RULES["history_outside_life"])
            except OptionError as err:
                raise c.fail(f"{where}.outside_life", f"is {err.value!r}",
                             "write outside_life: error (default) or set_aside") from err
        sources.append(_history_source(c, where, item))
    return HistorySpec(tuple(sources), optional), outside


def _history_source(c: _Checker, where: str, item: dict[str, Any]) -> HistorySource:
    kinds = [k for k in ("file", "wide", "wide_pattern") if k in item]
    if len(kinds) > 1:
        raise c.fail(where, f"needs exactly one of file, wide, wide_pattern (got {kinds})", _HISTORY_FIX)
    if "file" in item:
        cols = c.mapping(item.get("columns"), f"{where}.columns",
                         "write columns: {opportunity_id: ..., stage: ..., entered_at: ...}")
        c.keys(cols, f"{where}.columns", HISTORY_TARGETS, required=HISTORY_TARGETS)
        specs = tuple((k, _column_spec(c, k, v, f"{where}.columns.{k}")) for k, v in cols.items())
        where_ = _conditions(c, f"{where}.where", item["where"]) if item.get("where") is not None else ()
        created = _conditions(c, f"{where}.created", item["created"]) if item.get("created") is not None else ()
        before = (_column_spec(c, "stage_before", item["stage_before"], f"{where}.stage_before")
                  if item.get("stage_before") is not None else None)
        if before is not None and not created:
            raise c.fail(f"{where}.stage_before", "is only used with 'created'",
                         "write created: {Field: created} to mark the rows recording a deal's creation")
        return HistorySource(file=c.text(item["file"], f"{where}.file", _HISTORY_FIX), columns=specs,
                             where=where_, created=created, stage_before=before)
    for key in ("where", "created", "stage_before"):
        if key in item:
            raise c.fail(f"{where}.{key}", "is only used with a history file", _HISTORY_FIX)
    if "wide" in item:
        if "columns" in item:
            raise c.fail(f"{where}.columns", "is not used with wide", _HISTORY_FIX)
        wide = c.mapping(item["wide"], f"{where}.wide", "write wide: {Stage name: date column}")
        pairs = tuple((_value_text(k) or "", c.text(v, f"{where}.wide.{k}", "name the date column"))
                      for k, v in wide.items())
        return HistorySource(wide=pairs)
    if "wide_pattern" in item:
        if "columns" in item:
            raise c.fail(f"{where}.columns", "is not used with wide_pattern", _HISTORY_FIX)
        raw = item["wide_pattern"] if isinstance(item["wide_pattern"], list) else [item["wide_pattern"]]
        fix = "write e.g. '^Date entered \"(?P<stage>.+) \\((?P<pipeline>[^()]*)\\)\"$'"
        patterns = tuple(c.regex(p, f"{where}.wide_pattern", fix) for p in raw)
        for pattern in patterns:
            if "stage" not in pattern.groupindex:
                raise c.fail(f"{where}.wide_pattern", "has no (?P<stage>...) group",
                             "capture the stage name with a named group: (?P<stage>.+)")
        return HistorySource(wide_patterns=patterns)
    cols = c.mapping(item.get("columns"), f"{where}.columns", _HISTORY_FIX)
    c.keys(cols, f"{where}.columns", ("stage", "entered_at"), required=("stage", "entered_at"))
    return HistorySource(columns=tuple((k, _column_spec(c, k, v, f"{where}.columns.{k}")) for k, v in cols.items()))


def _stage_order(c: _Checker, i: int, item: Any) -> StageOrderSource:
    where = f"stage_order[{i}]"
    fix = "write - {column: StageSortOrder} (a rank or probability per deal's stage) or - history_columns"
    if item == "history_columns":
        return StageOrderSource("history_columns")
    item = c.mapping(item, where, fix)
    c.keys(item, where, ("column",), required=("column",))
    return StageOrderSource("column", _column_spec(c, "stage_order", item["column"], f"{where}.column"))


def _rates(c: _Checker, i: int, item: Any) -> RatesSource:
    where = f"rates[{i}]"
    fix = "write - {file: DatedConversionRate.csv, columns: {currency: IsoCode, valid_from: StartDate, rate: ConversionRate}}"
    item = c.mapping(item, where, fix)
    c.keys(item, where, ("file", "columns", "invert", "reporting"), required=("file", "columns"))
    cols = c.mapping(item["columns"], f"{where}.columns", fix)
    c.keys(cols, f"{where}.columns", RATE_TARGETS, required=("currency", "rate"))
    reporting = _conditions(c, f"{where}.reporting", item["reporting"]) if item.get("reporting") is not None else ()
    return RatesSource(c.text(item["file"], f"{where}.file", fix),
                       tuple((k, _column_spec(c, k, v, f"{where}.columns.{k}")) for k, v in cols.items()),
                       c.flag(item.get("invert", False), f"{where}.invert"), reporting)
