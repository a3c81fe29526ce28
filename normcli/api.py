"""The Python API: fit on a pandas DataFrame or a NumPy array, transform, save, load.

It drives the same core (`plan_columns`, `fit_batches`, `Scaler`) as the command line;
the data are simply one batch held in memory.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from normcli import scaler as core
from normcli import scaler_fit
from normcli.errors import DataError, UsageError
from normcli.layout import Layout
from normcli.sketch import Histogram

__all__ = ["MAX_SCALER_BYTES", "Scaler", "fit", "fit_dataset", "load"]

MAX_SCALER_BYTES = 64 << 20  # a scaler file is small; a huge one is a mistake, not a scaler


class Scaler(core.Scaler):
    """A fitted scaler (see `normcli.fit`). `transform` and `inverse` take what `fit` took
    (a DataFrame, an array, or a mapping of column -> array) and return the same kind."""

    @classmethod
    def from_core(cls, s: core.Scaler) -> Scaler:
        return cls(s.columns, s.input_columns, s.layout, s.dialect)

    def transform(self, data: Any) -> Any:
        """The data with the scaler's columns scaled (float64); other columns unchanged."""
        return self._apply_data(data, inverse=False)

    def inverse(self, data: Any) -> Any:
        """Scaled data mapped back to the original units."""
        return self._apply_data(data, inverse=True)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the scaler as JSON, atomically (a failure leaves any old file intact)."""
        from normcli.io.atomic import atomic_path

        with atomic_path(os.fspath(path)) as tmp, open(tmp, "w", encoding="utf-8") as fh:
            fh.write(self.to_json())

    def transform_dataset(self, src: Any, dst: str | os.PathLike[str], **options: Any) -> int:
        """Transform the files `src` (paths, globs, a directory) into `dst` (a directory with
        a trailing '/': one part per input part, all or nothing; else one file), with
        `engine="local"|"dask"`; see `normcli.api_dataset.transform_dataset`. Returns the rows."""
        from normcli.api_dataset import transform_dataset

        return transform_dataset(self, src, dst, **options)

    def _apply_data(self, data: Any, inverse: bool) -> Any:
        axis = self.layout.axis
        table = _Columns.of(data, axis)
        self.check_layout(table.layout, table.names, "the data")
        new = self.inverse_columns(table.arrays) if inverse else self.transform_columns(table.arrays)
        return table.rebuild(new)


def fit(
    data: Any,
    method: str | None = "zscore",
    *,
    columns: Iterable[str] | None = None,
    exclude: Iterable[str] = (),
    methods: Mapping[str, str] | None = None,
    axis: int | None = None,
    memory: int | None = None,
    **options: Any,
) -> Scaler:
    """Fit a scaler on `data`: a pandas DataFrame, a mapping of column -> array, or a
    NumPy array (2-D: rows x features; N-D: features on `axis`, named "0", "1", ...).

    `method` applies to every numeric column (or to `columns`, minus `exclude`);
    `methods` maps single columns to their own method. Method options: `range=(lo, hi)`,
    `clip`, `ddof`, `base`, `offset`, `normalize`, `invalid="error"|"nan"`; robust:
    `quantile_range=(25, 75)`, `with_centering`, `with_scaling`, `unit_variance`; quantile:
    `n_quantiles=1000`, `output_distribution="uniform"|"normal"`; yeo-johnson and box-cox:
    `standardize`. `memory` (bytes) bounds the values robust, quantile and the power
    transforms keep for an exact fit (beyond it: a quantile sketch, or a seeded sample).
    Warnings (a constant column, say) are issued as Python warnings."""
    table = _Columns.of(data, axis)
    plans = scaler_fit.plan_columns(
        table.names,
        table.numeric,
        method=method,
        overrides=methods,
        columns=columns,
        exclude=exclude,
        options=options,
        source="the data",
    )
    columns = {p.name: table.arrays[p.name] for p in plans}
    batch = (columns, table.arrays[plans[0].name].size)
    result = scaler_fit.fit_batches(
        plans, table.names, table.layout, [batch], "the data", scaler_fit.DEFAULT_MEMORY if memory is None else memory
    )
    for message in result.warnings:
        warnings.warn(message, UserWarning, stacklevel=2)
    profiles = {p.name: Histogram() for p in plans}  # what `normcli check` compares new data with
    for name, histogram in profiles.items():
        histogram.update(table.arrays[name])
    return Scaler.from_core(core.with_profiles(result.scaler, profiles))


def fit_dataset(paths: Any, method: str | None = "zscore", **options: Any) -> Scaler:
    """Fit a scaler on the files named by `paths` (a path, a glob, a directory, or a list of
    them) as on their concatenation; see `normcli.api_dataset.fit_dataset` for the options
    (`engine="dask"`, `scheduler=`, `workers=`, `format=`, and those of `fit`)."""
    from normcli.api_dataset import fit_dataset as fit_files

    return Scaler.from_core(fit_files(paths, method, **options))


def load(path: str | os.PathLike[str]) -> Scaler:
    """Read a scaler file written by `fit`/`save` (or `normcli fit`); '-' reads stdin."""
    path = os.fspath(path)
    if path == "-":
        from normcli.io.atomic import std_stream

        text = std_stream("stdin").read(MAX_SCALER_BYTES + 1)
    elif "://" in path:  # s3://, gs://, ... through fsspec; file:// as the path it names
        from normcli.io.dataset import local_path
        from normcli.io.fs import read_url, remote_file

        if not remote_file(path):
            return load(local_path(path))
        text = read_url(path, MAX_SCALER_BYTES + 1)
    else:
        try:
            if os.path.isdir(path):
                raise DataError(f"scaler {path} is a directory, not a scaler file")
            with open(path, "rb") as fh:
                text = fh.read(MAX_SCALER_BYTES + 1)
        except FileNotFoundError:
            raise DataError(f"scaler file {path}: no such file") from None
        except OSError as exc:
            raise DataError(f"scaler file {path}: {exc.strerror or exc}") from None
    source = "scaler <stdin>" if path == "-" else f"scaler file {path}"
    if len(text) > MAX_SCALER_BYTES:
        raise DataError(f"{source} is over {MAX_SCALER_BYTES >> 20} MiB; that is not a normcli scaler")
    if not text.strip():
        raise DataError(f"{source} is empty")
    return Scaler.from_core(core.Scaler.from_json(text, source))


class _Columns:
    """In-memory data seen as named float64 columns, and how to put results back."""

    def __init__(self, names, numeric, arrays, layout, rebuild) -> None:
        self.names: list[str] = names
        self.numeric: list[str] = numeric
        self.arrays: dict[str, np.ndarray] = arrays
        self.layout: Layout = layout
        self.rebuild = rebuild

    @classmethod
    def of(cls, data: Any, axis: int | None) -> _Columns:
        if _is_dataframe(data):
            return cls._of_frame(data)
        if isinstance(data, Mapping):
            return cls._of_mapping(data)
        if isinstance(data, np.ndarray | list | tuple):
            return cls._of_array(np.asarray(data), axis)
        raise UsageError(f"cannot scale a {type(data).__name__}; pass a pandas DataFrame, a dict or a NumPy array")

    @classmethod
    def _of_frame(cls, df) -> _Columns:
        import pandas as pd

        names = [str(c) for c in df.columns]
        if len(set(names)) != len(names):
            raise DataError("the DataFrame has duplicate column names")
        numeric, arrays = [], {}
        for label, name in zip(df.columns, names, strict=True):
            series = df[label]
            if pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype):
                numeric.append(name)
                arrays[name] = series.to_numpy(dtype=np.float64, na_value=np.nan)
        labels = dict(zip(names, df.columns, strict=True))

        def rebuild(new: Mapping[str, np.ndarray]):
            out = df.copy()
            for name, values in new.items():
                out[labels[name]] = values
            return out

        return cls(names, numeric, arrays, Layout.table(), rebuild)

    @classmethod
    def _of_mapping(cls, data: Mapping) -> _Columns:
        names = [str(k) for k in data]
        arrays, numeric = {}, []
        for key, name in zip(data, names, strict=True):
            values = np.asarray(data[key])
            if values.dtype.kind in "iuf":
                numeric.append(name)
                arrays[name] = values.astype(np.float64)
            else:
                arrays[name] = values

        def rebuild(new: Mapping[str, np.ndarray]):
            out = dict(data)
            keys = dict(zip(names, data, strict=True))
            for name, values in new.items():
                out[keys[name]] = values
            return out

        return cls(names, numeric, arrays, Layout.table(), rebuild)

    @classmethod
    def _of_array(cls, x: np.ndarray, axis: int | None) -> _Columns:
        if x.dtype.kind not in "biuf":
            raise DataError(f"cannot scale an array of dtype {x.dtype}; it must be numeric")
        shape = x.shape
        if x.ndim == 0:
            raise DataError("cannot scale a single number (a 0-D array)")
        if x.ndim == 1:
            x, axis = x.reshape(-1, 1), 1
        elif axis is None:
            if x.ndim > 2:
                raise UsageError(f"a {x.ndim}-D array needs axis= (the feature axis)")
            axis = 1
        if not -x.ndim <= axis < x.ndim:
            raise UsageError(f"axis {axis} is out of range for a {x.ndim}-D array")
        axis %= x.ndim
        names = [str(j) for j in range(x.shape[axis])]
        arrays = {n: np.take(x, j, axis=axis).astype(np.float64) for j, n in enumerate(names)}

        def rebuild(new: Mapping[str, np.ndarray]):
            out = x.astype(np.float64, copy=True)
            for name, values in new.items():
                out[(slice(None),) * axis + (int(name),)] = values
            return out.reshape(shape)

        return cls(names, list(names), arrays, Layout.array(x.ndim, axis), rebuild)


def _is_dataframe(data: Any) -> bool:
    module = type(data).__module__
    return module.startswith("pandas") and hasattr(data, "columns") and hasattr(data, "iloc")
