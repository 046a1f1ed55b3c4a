"""Exceptions and warnings raised by salesnb.

Every error a user can cause derives from :class:`SalesnbError`. Errors about
input data carry the context needed to fix them: the file, the column, the
offending row ids (the first few and how many) and the fix, and they render it
all in their message.

Errors about arguments speak in parameter names, written in backticks
("`as_of` (...) is before `end` (...)"); the command line shows its own flags there
instead (``--as-of``). This module imports nothing from salesnb: every layer uses it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "DataFileError",
    "DataSchemaError",
    "DatabaseError",
    "NotebookParameterError",
    "OptionError",
    "Problem",
    "ReportError",
    "SalesnbError",
    "SalesnbWarning",
    "SettingsError",
    "WindowError",
    "format_ids",
    "shorten",
]

#: How many offending ids an error message lists before summarising.
MAX_IDS_SHOWN = 5
#: Characters of one id or value a message shows before cutting it (``…`` marks the cut).
MAX_VALUE_CHARS = 60


def shorten(value: object, limit: int = MAX_VALUE_CHARS) -> str:
    r"""Return ``str(value)`` on one line, cut to ``limit`` characters (messages stay short).

    Examples
    --------
    >>> shorten("a" * 100, 10)
    'aaaaaaaaa…'
    >>> print(shorten("two" + chr(10) + "lines"))
    two\nlines
    """
    text = str(value).replace("\r", "\\r").replace("\n", "\\n")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def format_ids(ids: Iterable[object], limit: int = MAX_IDS_SHOWN, *, count: int | None = None) -> str:
    """Render the first ``limit`` ids and the total count, e.g. ``'a', 'b' … (7 rows)``.

    ``count`` is the number of offending rows when ``ids`` holds only the first few.

    Examples
    --------
    >>> format_ids(["a", "b"], count=7)
    "'a', 'b' … (7 rows)"
    """
    items = list(ids)
    total = len(items) if count is None else max(int(count), len(items))
    shown = ", ".join(repr(shorten(i)) for i in items[:limit])
    more = " …" if total > min(limit, len(items)) else ""
    noun = "row" if total == 1 else "rows"
    return f"{shown}{more} ({total} {noun})"


def _plain(value: object) -> object:
    """Turn numpy scalars into Python ones so messages show ``-5.0``, not ``np.float64(-5.0)``."""
    item = getattr(value, "item", None)
    if callable(item) and type(value).__module__ == "numpy":
        return item()
    return value


class SalesnbError(Exception):
    """Base class of every error salesnb raises on purpose."""


class SalesnbWarning(UserWarning):
    """Base class of salesnb's warnings (data excluded, settings inferred, ...)."""


class DataFileError(SalesnbError, OSError):
    """A data file is missing, empty, unreadable or wrongly encoded.

    Parameters
    ----------
    message : str
        What went wrong.
    path : str, optional
        The file concerned.
    fix : str, optional
        What the user should do.
    """

    def __init__(self, message: str, *, path: str | None = None, fix: str | None = None):
        self.path = path
        self.fix = fix
        parts = [f"{path}: {message}" if path else message]
        if fix:
            parts.append(f"Fix: {fix}")
        super().__init__("\n".join(parts))


@dataclass(frozen=True)
class Problem:
    """One broken rule: where it is, which rows break it and how to fix it.

    Parameters
    ----------
    rule : str
        The rule that is broken, in plain words.
    source : str
        The file (or table) the rows come from.
    column : str, optional
        The column concerned.
    ids : tuple
        The offending row ids (opportunity ids, or line numbers when there is no id).
    fix : str
        What the user should do.
    values : tuple
        The offending values (the first few are shown).
    count : int, optional
        How many rows break the rule, when ``ids`` holds only the first few.
    """

    rule: str
    source: str
    fix: str
    column: str | None = None
    ids: tuple[object, ...] = ()
    values: tuple[object, ...] = ()
    count: int | None = None

    @property
    def rows(self) -> int:
        """How many rows break the rule."""
        return int(self.count) if self.count is not None else len(self.ids)

    def __str__(self) -> str:
        where = f"{self.source}, column '{self.column}'" if self.column else self.source
        lines = [f"{where}: {self.rule}"]
        if self.ids:
            lines.append(f"  offending rows: {format_ids(self.ids, count=self.count)}")
        if self.values:
            distinct = list(dict.fromkeys(_plain(v) for v in self.values))
            shown = ", ".join(repr(shorten(v)) if isinstance(v, str) else repr(v)
                              for v in distinct[:MAX_IDS_SHOWN])
            more = " …" if len(distinct) > MAX_IDS_SHOWN else ""
            lines.append(f"  offending values: {shown}{more}")
        lines.append(f"  Fix: {self.fix}")
        return "\n".join(lines)


class DataSchemaError(SalesnbError, ValueError):
    """A table breaks one or more rules of the canonical data layout.

    Raise it with the keywords of :class:`Problem` for a single problem, or with
    :meth:`from_problems` for several; ``problems`` lists them all and the message
    shows every one (file, column, offending rows, fix).
    """

    def __init__(
        self,
        rule: str | None = None,
        *,
        source: str = "data",
        column: str | None = None,
        ids: Sequence[object] = (),
        fix: str = "",
        values: Sequence[object] = (),
        problems: Sequence[Problem] = (),
        count: int | None = None,
    ):
        if rule is not None:
            problems = [Problem(rule, source, fix, column, tuple(ids), tuple(values), count), *problems]
        if not problems:
            raise TypeError("DataSchemaError needs a rule or a list of problems")
        self.problems = list(problems)
        first = self.problems[0]
        self.rule, self.source, self.column, self.fix = first.rule, first.source, first.column, first.fix
        self.ids = list(first.ids)
        if len(self.problems) == 1:
            message = str(first)
        else:
            body = "\n".join(f"{n}. {p}" for n, p in enumerate(self.problems, 1))
            message = f"{len(self.problems)} problems found in the data:\n{body}"
        super().__init__(message)

    @classmethod
    def from_problems(cls, problems: Sequence[Problem]) -> DataSchemaError:
        """Build one error that reports every problem in ``problems``."""
        return cls(problems=problems)


class SettingsError(SalesnbError, ValueError):
    """The funnel settings (``funnel.yml`` or ``settings=``) are malformed."""

    def __init__(self, message: str, *, source: str = "funnel settings", fix: str):
        self.source = source
        self.fix = fix
        super().__init__(f"{source}: {message}\n  Fix: {fix}")


class OptionError(SalesnbError, ValueError):
    """An option was given a value it does not accept (an unknown calendar, period, basis...).

    Raised by :func:`salesnb._options.check_option`, the one checker of every option
    with a fixed set of values.

    Parameters
    ----------
    name : str
        The parameter.
    value : object
        What was passed.
    options : sequence of str
        What the parameter accepts.
    """

    def __init__(self, name: str, value: object, options: Sequence[str]):
        self.name = name
        self.value = value
        self.options = tuple(options)
        super().__init__(f"The value for `{name}` must be one of {list(self.options)}, "
                         f"but {value!r} was passed.")

    def __reduce__(self) -> tuple[type, tuple[str, object, tuple[str, ...]]]:
        return type(self), (self.name, self.value, self.options)


class WindowError(SalesnbError, ValueError):
    """A KPI argument is invalid: a bad date, an empty window, ``as_of`` before ``end``, a negative band."""

    def __init__(self, message: str, *, fix: str | None = None):
        self.fix = fix
        super().__init__(f"{message}\n  Fix: {fix}" if fix else message)


class DatabaseError(SalesnbError):
    """Reading from a database failed (connection, missing table, bad query).

    The message never contains a password: URLs are masked before they are shown.
    """


class NotebookParameterError(SalesnbError, ValueError):
    """A notebook run was asked for a parameter the notebook does not declare, or missed one."""


class ReportError(SalesnbError):
    """A report could not be produced (one or more notebooks failed)."""
