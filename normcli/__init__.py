"""normcli: normalize tabular data and tensors, from the shell or from Python.

    >>> import normcli
    >>> scaler = normcli.fit(df, method="zscore")      # a pandas DataFrame or NumPy array
    >>> scaled = scaler.transform(df)
    >>> scaler.save("scaler.json"); normcli.load("scaler.json").inverse(scaled)
    >>> scaler = normcli.fit_dataset("lake/events/", method="zscore")  # files, globs, folders
    >>> scaler.transform_dataset("lake/events/", "scaled/", engine="dask", workers=2)
    >>> normcli.lrn(acts, convention="torch", size=5)  # Local Response Normalization
    >>> normcli.norm(acts, "group", groups=8)          # batch/layer/instance/group/rms norm
    >>> normcli.bn_stats(acts, batch_size=32)           # batch norm's population statistics

The names are loaded on first use, so `import normcli` (and the CLI's start) stays fast.
"""

from normcli._version import __version__

__all__ = [
    "DataError",
    "NormcliError",
    "Scaler",
    "UsageError",
    "__version__",
    "bn_stats",
    "fit",
    "fit_dataset",
    "load",
    "lrn",
    "norm",
]

_LAZY = {
    "fit": "normcli.api",
    "fit_dataset": "normcli.api",
    "load": "normcli.api",
    "Scaler": "normcli.api",
    "lrn": "normcli.lrn_kernel",
    "norm": "normcli.tensor.norm",
    "bn_stats": "normcli.tensor.bn_stats",
    "NormcliError": "normcli.errors",
    "DataError": "normcli.errors",
    "UsageError": "normcli.errors",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'normcli' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
