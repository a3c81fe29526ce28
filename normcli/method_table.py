"""Every scaling method by name: the classic five (methods.py), the scalers of
methods_more.py and the power transforms (power.py)."""

from __future__ import annotations

from normcli.errors import UsageError
from normcli.methods import CLASSIC_METHODS, Method
from normcli.methods_more import MaxAbs, Quantile, Robust, Scale
from normcli.power import BoxCox, YeoJohnson

__all__ = ["METHODS", "get_method"]

METHODS: dict[str, Method] = {
    **CLASSIC_METHODS,
    **{m.name: m for m in (Scale(), MaxAbs(), Robust(), Quantile(), YeoJohnson(), BoxCox())},
}


def get_method(name: object) -> Method:
    """The method called `name` (any value read from a file or an option), or a UsageError
    listing the known ones."""
    if not isinstance(name, str) or name not in METHODS:
        raise UsageError.about("unknown method {name!r}; choose one of {known}", name=name, known=", ".join(METHODS))
    return METHODS[name]
