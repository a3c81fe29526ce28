"""The errors a user can cause, each with the exit code the command line gives it.

Every module raises these instead of generic exceptions when the fault is the user's
(bad data, bad option, bad file), so the CLI can print one line and exit cleanly. They are
ValueErrors too (as scikit-learn's NotFittedError is), so Python code that catches a bad
value catches them.
"""

from __future__ import annotations

import enum
from typing import Any


class ExitCode(enum.IntEnum):
    """What the command line's exit status means."""

    OK = 0
    DATA = 1  # bad data or a failed operation
    USAGE = 2  # bad usage: an option, a combination, a path
    INTERRUPTED = 130  # Ctrl-C
    TERMINATED = 143  # SIGTERM


class NormcliError(Exception):
    """A mistake the user can fix; its message is printed as `error: <message>`."""

    exit_code: ExitCode = ExitCode.DATA


class DataError(NormcliError, ValueError):
    """The data (or a scaler file) is unusable: exit code 1."""

    exit_code = ExitCode.DATA


class UsageError(NormcliError, ValueError):
    """The command was called wrongly (bad option value, impossible combination): exit code 2."""

    exit_code = ExitCode.USAGE


class OptionError(UsageError):
    """One option (or keyword argument) with a value it cannot take: names the parameter,
    the value and what it must be."""

    def __init__(self, parameter: str, value: Any, requirement: str, message: str | None = None) -> None:
        self.parameter = parameter
        self.value = value
        self.requirement = requirement
        super().__init__(message or f"{parameter} must be {requirement}, not {value!r}")
