"""Funnel settings: the business's own stage order, calendar, time zone and currency.

Settings come from a dataset's ``funnel.yml``, from ``settings=`` (a mapping, a
path or a :class:`FunnelSettings`), or from the defaults below. Every key is
optional; unknown keys are errors (a typo must not silently fall back to a
default).

=====================  =====================================================
key                    default
=====================  =====================================================
``stages``             inferred from the stage history (reported as inferred); with
                       ``pipelines`` and no ``stages``: every pipeline's stages, merged
``pipelines``          none: ``{name: [stage, ...]}``, each pipeline's own open stages in
                       funnel order (for data with a ``pipeline`` column)
``won`` / ``lost``     ``won`` / ``lost``
``timezone``           ``UTC`` (naive timestamps are local time here)
``currency``           none (amounts shown without a unit)
``calendar``           ``gregorian`` (or ``jalali``)
``week_start``         ``monday`` for gregorian, ``saturday`` for jalali
``weekend``            ``[saturday, sunday]`` for gregorian, ``[friday]`` for jalali
``holidays``           none (Gregorian ISO dates, ``YYYY-MM-DD``)
``fiscal_year_start``  ``1`` (month of the calendar in use where the year starts)
``amount_unit``        ``auto``: Rial shown in million/billion Rial; ``toman`` shows
                       Toman (Rial / 10); ``plain`` shows the number as stored
``rotting_days``       none: ``{stage: days}``, how long a deal may stay in an open stage
                       before the stuck-deal view flags it (beside the historical rule)
=====================  =====================================================
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import yaml

from salesnb._options import CALENDARS, WEEKDAYS, check_option
from salesnb.exceptions import OptionError, SalesnbWarning, SettingsError

__all__ = ["DEFAULTS", "FunnelSettings", "load_settings", "merge_orders"]

AMOUNT_UNITS = ("auto", "plain", "toman")

#: Documented defaults (``None`` means "depends on the calendar" or "inferred").
DEFAULTS: dict[str, Any] = {
    "stages": None,
    "pipelines": None,
    "won": "won",
    "lost": "lost",
    "timezone": "UTC",
    "currency": None,
    "calendar": "gregorian",
    "week_start": None,
    "weekend": None,
    "holidays": [],
    "fiscal_year_start": 1,
    "amount_unit": "auto",
    "rotting_days": None,
}


@dataclass(frozen=True)
class FunnelSettings:
    """The funnel and calendar settings of one dataset.

    Build it with :meth:`from_mapping` (which validates and fills defaults) rather
    than directly.

    Attributes
    ----------
    stages : tuple of str
        The open stages in funnel order (empty when unknown).
    stages_inferred : bool
        True when ``stages`` was inferred from the data rather than configured.
    pipelines : dict of str to tuple of str
        Each pipeline's open stages in funnel order (empty when the data have a single
        funnel). ``stages`` then holds every pipeline's stages merged into one order.
    stages_source : str
        Where the stage order came from, in words (``funnel.yml``, the export's
        ``StageSortOrder``, inferred...); empty when configured the usual way.
    won, lost : str
        The stage labels meaning won / lost in the stage history.
    timezone : str
        IANA time zone; naive timestamps are local time here.
    currency : str or None
        Currency code of ``amount`` (for example ``IRR``).
    calendar : {"gregorian", "jalali"}
        Calendar used for periods and for reading dates given by the user.
    week_start : str
        First day of the week (``saturday`` for Jalali by default).
    weekend : tuple of str
        Days excluded from business-day durations.
    holidays : tuple of datetime.date
        Dates excluded from business-day durations.
    fiscal_year_start : int
        Month (1-12, in ``calendar``) where the fiscal year starts.
    amount_unit : {"auto", "plain", "toman"}
        How amounts are displayed in plots and reports.
    rotting_days : dict of str to float
        Per open stage, the days a deal may stay in it before it counts as stuck (empty:
        only the historical rule).
    source : str
        Where the settings came from.
    defaulted : tuple of str
        The keys that took their default value.
    """

    stages: tuple[str, ...] = ()
    stages_inferred: bool = False
    pipelines: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    stages_source: str = field(default="", compare=False)
    won: str = "won"
    lost: str = "lost"
    timezone: str = "UTC"
    currency: str | None = None
    calendar: str = "gregorian"
    week_start: str = "monday"
    weekend: tuple[str, ...] = ("saturday", "sunday")
    holidays: tuple[dt.date, ...] = ()
    fiscal_year_start: int = 1
    amount_unit: str = "auto"
    rotting_days: Mapping[str, float] = field(default_factory=dict)
    source: str = field(default="defaults", compare=False)
    defaulted: tuple[str, ...] = field(default=(), compare=False)

    @classmethod
    def from_mapping(
        cls, mapping: Mapping[str, Any] | None, *, source: str = "settings"
    ) -> FunnelSettings:
        """Validate a settings mapping (the content of ``funnel.yml``) and fill defaults.

        Parameters
        ----------
        mapping : mapping or None
            Settings keys as documented in this module.
        source : str
            Name shown in error messages (for example the file path).

        Returns
        -------
        FunnelSettings

        Examples
        --------
        >>> s = FunnelSettings.from_mapping({"calendar": "jalali", "timezone": "Asia/Tehran"})
        >>> s.week_start, s.weekend
        ('saturday', ('friday',))
        """
        raw = dict(mapping or {})
        unknown = sorted(set(raw) - set(DEFAULTS))
        if unknown:
            raise SettingsError(
                f"unknown setting(s) {', '.join(map(repr, unknown))}",
                source=source,
                fix=f"use only these keys: {', '.join(DEFAULTS)}",
            )
        defaulted = tuple(k for k in DEFAULTS if raw.get(k) is None)
        values = {**DEFAULTS, **{k: v for k, v in raw.items() if v is not None}}

        calendar = _choice(values["calendar"], CALENDARS, "calendar", source)
        stages = _stages(values["stages"], source)
        won = _label(values["won"], "won", source)
        lost = _label(values["lost"], "lost", source)
        if won.casefold() == lost.casefold():
            raise SettingsError(
                f"'won' and 'lost' are the same label {won!r}",
                source=source,
                fix="give the won and lost outcomes different stage labels",
            )
        clash = [s for s in stages if s in (won, lost)]
        if clash:
            raise SettingsError(
                f"stages lists the outcome label(s) {clash}",
                source=source,
                fix="list only the open stages in 'stages'; outcomes are set by 'won' and 'lost'",
            )
        pipelines = _pipelines(values["pipelines"], (won, lost), source)
        explicit_stages = bool(stages)
        if pipelines:
            if stages:
                missing = sorted({s for order in pipelines.values() for s in order} - set(stages))
                if missing:
                    raise SettingsError(
                        f"'stages' does not list the pipeline stage(s) {missing}", source=source,
                        fix="with both 'stages' and 'pipelines', 'stages' is the overall order and must "
                            "list every pipeline's stages; or leave 'stages' out (it is then the "
                            "pipelines' stages merged)")
            else:
                stages = merge_orders(list(pipelines.values()))
            disagree = {name: order for name, order in pipelines.items()
                        if [st for st in stages if st in set(order)] != list(order)}
            if disagree and explicit_stages:
                name, order = next(iter(disagree.items()))
                raise SettingsError(
                    f"'stages' orders the stages of pipeline {name!r} differently ({' → '.join(order)} "
                    f"in 'pipelines', {' → '.join(st for st in stages if st in set(order))} in 'stages')",
                    source=source, fix="list each pipeline's stages in 'stages' in the pipeline's own order, "
                                       "or leave 'stages' out")
            if disagree:
                names = ", ".join(repr(n) for n in disagree)
                warnings.warn(
                    f"{source}: the pipelines {names} order shared stages differently; one funnel order "
                    f"is used for all ({' → '.join(stages)}): give the stages of different pipelines "
                    "different names to keep each pipeline's order", SalesnbWarning, stacklevel=4)
        timezone = _timezone(values["timezone"], source)
        week_start = values["week_start"] or ("saturday" if calendar == "jalali" else "monday")
        week_start = _choice(str(week_start).lower(), WEEKDAYS, "week_start", source)
        weekend_raw = values["weekend"]
        if weekend_raw is None:
            weekend_raw = ["friday"] if calendar == "jalali" else ["saturday", "sunday"]
        if isinstance(weekend_raw, str):
            weekend_raw = [weekend_raw]
        if not isinstance(weekend_raw, list | tuple):
            raise SettingsError(
                f"'weekend' must be a list of weekday names, got {weekend_raw!r}",
                source=source,
                fix="write for example: weekend: [friday]",
            )
        weekend = tuple(
            _choice(str(d).lower(), WEEKDAYS, "weekend", source) for d in weekend_raw
        )
        holidays = _holidays(values["holidays"], source)
        fys = values["fiscal_year_start"]
        if isinstance(fys, bool) or not isinstance(fys, int) or not 1 <= fys <= 12:
            raise SettingsError(
                f"'fiscal_year_start' must be a month number 1-12, got {fys!r}",
                source=source,
                fix="write for example: fiscal_year_start: 1 (the first month of the calendar year)",
            )
        amount_unit = _choice(str(values["amount_unit"]).lower(), AMOUNT_UNITS, "amount_unit", source)
        rotting = _rotting_days(values["rotting_days"], stages, source)
        currency = values["currency"]
        if currency is not None:
            currency = str(currency).strip().upper() or None
        return cls(
            stages=stages,
            stages_inferred=False,
            pipelines=pipelines,
            won=won,
            lost=lost,
            timezone=timezone,
            currency=currency,
            calendar=calendar,
            week_start=week_start,
            weekend=weekend,
            holidays=holidays,
            fiscal_year_start=fys,
            amount_unit=amount_unit,
            rotting_days=rotting,
            source=source,
            defaulted=defaulted,
        )

    def with_stages(self, stages: tuple[str, ...], *, inferred: bool,
                    pipelines: Mapping[str, tuple[str, ...]] | None = None,
                    source: str | None = None) -> FunnelSettings:
        """Return a copy with ``stages`` (and optionally ``pipelines``) set.

        Used when the order is inferred, or read from the export by a column mapping;
        ``source`` says where it came from (shown by :meth:`describe`).
        """
        changes: dict[str, Any] = {"stages": tuple(stages), "stages_inferred": inferred}
        if pipelines is not None:
            changes["pipelines"] = {str(k): tuple(v) for k, v in pipelines.items()}
        if source is not None:
            changes["stages_source"] = source
        return replace(self, **changes)

    def pipeline_stages(self, pipeline: str | None) -> tuple[str, ...]:
        """Return the open stages of ``pipeline`` in funnel order (``stages`` when it has none).

        Examples
        --------
        >>> s = FunnelSettings.from_mapping({"pipelines": {"New": ["lead", "demo"], "Renewal": ["review"]}})
        >>> s.pipeline_stages("Renewal"), s.stages
        (('review',), ('lead', 'demo', 'review'))
        """
        if pipeline is not None and pipeline in self.pipelines:
            return tuple(self.pipelines[pipeline])
        return self.stages

    def to_dict(self) -> dict[str, Any]:
        """Return the settings as a ``funnel.yml`` mapping (round-trips through from_mapping)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            if f.name in ("stages_inferred", "source", "defaulted", "stages_source"):
                continue
            value = getattr(self, f.name)
            if f.name == "rotting_days":
                if value:
                    out[f.name] = dict(value)
                continue
            if f.name == "pipelines":
                value = {name: list(order) for name, order in value.items()}
            elif isinstance(value, tuple):
                value = [v.isoformat() if isinstance(v, dt.date) else v for v in value]
            out[f.name] = value
        return out

    def describe(self) -> list[str]:
        """Describe the settings in plain lines, saying which were defaulted or inferred."""
        lines = []
        order = " → ".join(self.stages) if self.stages else "(none)"
        how = self.stages_source or ("inferred from the stage history" if self.stages_inferred
                                     else "configured")
        lines.append(f"stages: {order} ({how}); outcomes: {self.won} / {self.lost}")
        for name, stages in self.pipelines.items():
            lines.append(f"pipeline {name}: {' → '.join(stages)}")
        for key in ("timezone", "currency", "calendar", "week_start", "weekend", "holidays",
                    "fiscal_year_start", "amount_unit"):
            value = getattr(self, key)
            if isinstance(value, tuple):
                value = ", ".join(str(v) for v in value) or "(none)"
            note = " (default)" if key in self.defaulted else ""
            lines.append(f"{key}: {value}{note}")
        if self.rotting_days:
            lines.append("rotting_days: " + ", ".join(f"{k} {v:g}" for k, v in self.rotting_days.items()))
        return lines


def load_settings(path: str | Path) -> FunnelSettings:
    """Read and validate a ``funnel.yml`` file.

    Parameters
    ----------
    path : str or Path
        The YAML file.

    Returns
    -------
    FunnelSettings

    Raises
    ------
    SettingsError
        The file is missing, not UTF-8, malformed YAML, or breaks a setting's rule.

    Examples
    --------
    >>> import salesnb as sn
    >>> settings = sn.load_settings(sn.sample_path() / "funnel.yml")
    >>> settings.calendar, settings.stages
    ('jalali', ('lead', 'qualified', 'proposal', 'negotiation'))
    """
    path = Path(path)
    try:
        text = read_yaml_file(path, kind="settings file")
    except FileNotFoundError as err:
        raise SettingsError("file not found", source=str(path),
                            fix="check the path, or leave the settings out to use the defaults") from err
    return parse_settings_text(text, source=str(path))


def read_yaml_file(path: Path, *, kind: str) -> str:
    """The UTF-8 text of a YAML file (settings or a mapping); a folder in its place, an
    unreadable file or other bytes are a :class:`SettingsError` naming it. A missing file
    raises ``FileNotFoundError`` for the caller to word."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise
    except IsADirectoryError as err:
        raise SettingsError("is a folder, not a file", source=str(path),
                            fix=f"replace the folder with the {kind} (or remove it)") from err
    except OSError as err:
        raise SettingsError(f"cannot be read ({err.strerror or err})", source=str(path),
                            fix="check the file's permissions") from err
    except UnicodeDecodeError as err:
        raise SettingsError(f"not UTF-8 text ({err.reason} at byte {err.start})", source=str(path),
                            fix=f"save the {kind} as UTF-8") from err


#: Deepest nesting of YAML lists and mappings accepted; settings need three levels.
MAX_YAML_DEPTH = 50


def check_yaml_depth(text: str, *, source: str, fix: str) -> None:
    """Refuse YAML nested deeper than :data:`MAX_YAML_DEPTH` before parsing it.

    PyYAML composes nested flow collections recursively: ``[[[[...]]]]`` a few thousand
    levels deep exhausts Python's stack (a ``RecursionError``, after seconds). Counting
    brackets first turns that into one clear error. Brackets inside quotes count too,
    which only matters for text holding dozens of unmatched brackets.
    """
    depth = deepest = 0
    for char in text:
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > MAX_YAML_DEPTH:
                raise SettingsError(f"YAML nested more than {MAX_YAML_DEPTH} levels deep", source=source, fix=fix)
        elif char in "]}" and depth:
            depth -= 1


def parse_settings_text(text: str, *, source: str) -> FunnelSettings:
    """Parse the YAML text of a ``funnel.yml`` into :class:`FunnelSettings`."""
    check_yaml_depth(text, source=source, fix="write the settings as plain 'key: value' lines and lists")
    try:
        content = yaml.safe_load(text)
    except RecursionError as err:  # deep block nesting (indentation) the bracket count does not see
        raise SettingsError("YAML nested too deeply to read", source=source,
                            fix="write the settings as plain 'key: value' lines and lists") from err
    except ValueError as err:  # an impossible unquoted date, e.g. holidays: [2025-02-30]
        raise SettingsError(f"{_bad_date_location(text)}is not a valid calendar date ({err})", source=source,
                            fix="correct the date (Gregorian ISO, e.g. 2025-03-21)") from err
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise SettingsError(f"malformed YAML{where}: {getattr(err, 'problem', err)}", source=source,
                            fix="correct the YAML syntax (key: value, lists in [a, b] or '- a' lines)") from err
    if content is None:
        content = {}
    if not isinstance(content, dict):
        raise SettingsError(f"expected a mapping of settings, got {type(content).__name__}",
                            source=source, fix="write one 'key: value' per line, e.g. 'calendar: jalali'")
    return FunnelSettings.from_mapping(content, source=source)


def _bad_date_location(text: str) -> str:
    """Find the first impossible ISO date in YAML text: "line 4 (holidays): '2025-02-30' "."""
    key = None
    for number, line in enumerate(text.splitlines(), 1):
        head = re.match(r"^([A-Za-z_]\w*)\s*:", line)
        if head:
            key = head.group(1)
        for found in re.findall(r"\b(\d{4}-\d{1,2}-\d{1,2})\b", line.split("#", 1)[0]):
            try:
                dt.date.fromisoformat(found)
            except ValueError:
                where = f" ({key})" if key else ""
                return f"line {number}{where}: {found!r} "
    return "a date "


def coerce_settings(settings: FunnelSettings | Mapping[str, Any] | str | Path | None,
                    *, base: FunnelSettings | None = None) -> FunnelSettings | None:
    """Turn a ``settings=`` argument into :class:`FunnelSettings`.

    A mapping is merged over ``base`` (the dataset's ``funnel.yml``) when given.
    """
    if settings is None:
        return base
    if isinstance(settings, FunnelSettings):
        return settings
    if isinstance(settings, str | Path):
        return load_settings(settings)
    if isinstance(settings, Mapping):
        merged: dict[str, Any] = {}
        if base is not None:
            merged = {k: v for k, v in base.to_dict().items() if k not in base.defaulted}
            if base.stages_inferred:
                merged.pop("stages", None)
        merged.update(settings)
        source = "settings argument" if base is None else f"{base.source} + settings argument"
        return FunnelSettings.from_mapping(merged, source=source)
    raise SettingsError(f"settings must be a mapping, a path or FunnelSettings, got {type(settings).__name__}",
                        source="settings argument", fix="pass e.g. settings={'calendar': 'jalali'}")


def _choice(value: Any, allowed: tuple[str, ...], key: str, source: str) -> str:
    """Check a setting with the option checker; a bad value is an error of the settings file."""
    try:
        return check_option(key, str(value), allowed)
    except OptionError as err:
        raise SettingsError(f"'{key}' is {value!r}, which is not one of {', '.join(allowed)}",
                            source=source, fix=f"set '{key}' to one of: {', '.join(allowed)}") from err


def _label(value: Any, key: str, source: str) -> str:
    text = str(value).strip()
    if not text or isinstance(value, list | dict):
        raise SettingsError(f"'{key}' must be a non-empty stage label, got {value!r}", source=source,
                            fix=f"write e.g. '{key}: {key}'")
    return text


def _rotting_days(value: Any, stages: tuple[str, ...], source: str) -> dict[str, float]:
    """``rotting_days``: a mapping of open stage -> days (a number > 0)."""
    if value is None:
        return {}
    example = "write e.g. rotting_days: {proposal: 14, negotiation: 21}"
    if not isinstance(value, Mapping):
        raise SettingsError(f"'rotting_days' must map stage names to days, got {value!r}", source=source,
                            fix=example)
    out: dict[str, float] = {}
    for stage, days in value.items():
        name = str(stage).strip()
        if isinstance(days, bool) or not isinstance(days, int | float) or not days > 0 or days != days:
            raise SettingsError(f"'rotting_days' of {name!r} must be a number of days above 0, got {days!r}",
                                source=source, fix=example)
        out[name] = float(days)
    unknown = sorted(set(out) - set(stages)) if stages else []
    if unknown:
        raise SettingsError(f"'rotting_days' names stage(s) {unknown} that 'stages' does not list "
                            f"({', '.join(stages)})", source=source,
                            fix="use the open stages' names as in 'stages' (not won or lost)")
    return out


def _stages(value: Any, source: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list | tuple) or not all(isinstance(v, str | int) for v in value):
        raise SettingsError(f"'stages' must be a list of stage names, got {value!r}", source=source,
                            fix="write e.g. stages: [lead, qualified, proposal, negotiation]")
    stages = tuple(str(v).strip() for v in value)
    blank = [i for i, s in enumerate(stages) if not s]
    dupes = sorted({s for s in stages if stages.count(s) > 1})
    if blank or dupes:
        raise SettingsError(f"'stages' has blank or repeated names {dupes or blank}", source=source,
                            fix="list each open stage once, in funnel order")
    return stages


def _pipelines(value: Any, outcomes: tuple[str, str], source: str) -> dict[str, tuple[str, ...]]:
    """Validate ``pipelines: {name: [stage, ...]}``: each pipeline its own open-stage order."""
    if value is None:
        return {}
    fix = "write e.g. pipelines: {New business: [lead, demo, proposal], Renewals: [review, quote]}"
    if not isinstance(value, Mapping):
        raise SettingsError(f"'pipelines' must map each pipeline name to its stages, got {value!r}",
                            source=source, fix=fix)
    out: dict[str, tuple[str, ...]] = {}
    for name, stages in value.items():
        key = str(name).strip() if isinstance(name, str | int) and not isinstance(name, bool) else ""
        if not key:
            raise SettingsError(f"'pipelines' has a blank or invalid pipeline name {name!r}", source=source,
                                fix=fix)
        if key in out:
            raise SettingsError(f"'pipelines' names the pipeline {key!r} twice", source=source, fix=fix)
        if not isinstance(stages, list | tuple) or not stages:
            raise SettingsError(f"pipeline {key!r} must list its open stages, got {stages!r}", source=source,
                                fix=fix)
        order = _stages(list(stages), f"{source} [pipelines.{key}]")
        clash = [s for s in order if s in outcomes]
        if clash:
            raise SettingsError(f"pipeline {key!r} lists the outcome label(s) {clash}", source=source,
                                fix="list only the open stages; outcomes are set by 'won' and 'lost'")
        out[key] = order
    return out


def merge_orders(orders: list[tuple[str, ...]] | list[list[str]]) -> tuple[str, ...]:
    """Merge several stage orders into one that keeps each order where they agree.

    A stage comes after every stage that precedes it in some order (a topological
    order); where the orders conflict, or say nothing, the order of first appearance
    decides.

    Examples
    --------
    >>> merge_orders([["lead", "demo", "won deal"], ["lead", "quote", "demo"]])
    ('lead', 'quote', 'demo', 'won deal')
    """
    first: dict[str, int] = {}
    before: dict[str, set[str]] = {}
    for order in orders:
        for i, stage in enumerate(order):
            first.setdefault(stage, len(first))
            before.setdefault(stage, set()).update(order[:i])
    out: list[str] = []
    left = sorted(first, key=first.__getitem__)
    while left:
        ready = [s for s in left if not (before[s] - set(out))]
        pick = ready[0] if ready else left[0]  # a cycle: first appearance breaks it
        out.append(pick)
        left.remove(pick)
    return tuple(out)


def _timezone(value: Any, source: str) -> str:
    name = str(value).strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as err:
        zones = sorted(available_timezones())
        close = [z for z in zones if name.lower() in z.lower()][:5]
        if not close:
            lowered = {z.lower(): z for z in zones}
            close = [lowered[z] for z in difflib.get_close_matches(name.lower(), lowered, n=3, cutoff=0.75)]
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise SettingsError(f"unknown timezone {name!r}{hint}", source=source,
                            fix="use an IANA time zone name such as Asia/Tehran, Europe/Berlin or UTC") from err
    return name


def _holidays(value: Any, source: str) -> tuple[dt.date, ...]:
    if value is None:
        return ()
    if not isinstance(value, list | tuple):
        value = [value]
    out = []
    for item in value:
        if isinstance(item, dt.datetime):
            out.append(item.date())
        elif isinstance(item, dt.date):
            out.append(item)
        else:
            try:
                out.append(dt.date.fromisoformat(str(item).strip()))
            except ValueError as err:
                raise SettingsError(f"holiday {item!r} is not a date", source=source,
                                    fix="write holidays as Gregorian ISO dates, e.g. [2025-03-21, 2025-03-22]") from err
    return tuple(sorted(set(out)))
