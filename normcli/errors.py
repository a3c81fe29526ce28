"""The errors a user can cause, each with the exit code the command line gives it.

Every module raises these instead of generic exceptions when the fault is the user's
(bad data, bad option, bad file), so the CLI can print one line and exit cleanly.
"""

from __future__ import annotations


class NormcliError(Exception):
    """A mistake the user can fix; its message is printed as `error: <message>`."""

    exit_code = 1


class DataError(NormcliError):
    """The data (or a scaler file) is unusable: exit code 1."""

    exit_code = 1


class UsageError(NormcliError):
    """The command was called wrongly (bad option value, impossible combination): exit code 2."""

    exit_code = 2
