"""The errors a user can cause, each with the exit code the command line gives it.

Every module raises these instead of generic exceptions when the fault is the user's
(bad data, bad option, bad file), so the CLI can print one line and exit cleanly. They are
ValueErrors too (as scikit-learn's NotFittedError is), so Python code that catches a bad
value catches them.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any, Self


class ExitCode(enum.IntEnum):
    """What the command line's exit status means."""

    OK = 0
    DATA = 1  # bad data or a failed operation
    USAGE = 2  # bad usage: an option, a combination, a path
    INTERRUPTED = 130  # Ctrl-C
    TERMINATED = 143  # SIGTERM


class NormcliError(Exception):
    """A mistake the user can fix; its message is printed as `error: <message>`.

    The core names parameters, not flags: an error made with `about` keeps a template whose
    `{fields}` are parameter names (`{offset}`) or values given as keywords (user data goes
    there, never into the template). `str()` shows the parameters by their Python names;
    the command line shows them as its flags with `render` (`--log-offset`)."""

    exit_code: ExitCode = ExitCode.DATA
    template: str | None = None
    values: Mapping[str, Any] = {}

    @classmethod
    def about(cls, template: str, **values: Any) -> Self:
        exc = cls(fill(template, values, {}))
        exc.template, exc.values = template, values
        return exc

    def render(self, names: Mapping[str, str]) -> str:
        """The message with each parameter called by `names` (the others by their own name)."""
        return str(self) if self.template is None else fill(self.template, self.values, names)


def fill(template: str, values: Mapping[str, Any], names: Mapping[str, str]) -> str:
    """`template` with its value fields from `values` and its parameter fields named by `names`."""

    class Fields(dict[str, Any]):
        def __missing__(self, key: str) -> str:
            return names.get(key, key)

    return template.format_map(Fields(values))


class DataError(NormcliError, ValueError):
    """The data (or a scaler file) is unusable: exit code 1."""

    exit_code = ExitCode.DATA


class UsageError(NormcliError, ValueError):
    """The command was called wrongly (bad option value, impossible combination): exit code 2."""

    exit_code = ExitCode.USAGE


class OptionError(UsageError):
    """One option (or keyword argument) with a value it cannot take: names the parameter,
    the value and what it must be."""

    def __init__(self, parameter: str, value: Any, requirement: str, template: str | None = None) -> None:
        """`template` names the parameter as `{parameter}` and may use `{value}` and `{requirement}`."""
        self.parameter = parameter
        self.value = value
        self.requirement = requirement
        self.template = (template or "{parameter} must be {requirement}, not {value!r}").replace(
            "{parameter}", "{" + parameter + "}"
        )
        self.values = {"value": value, "requirement": requirement}
        super().__init__(fill(self.template, self.values, {}))
