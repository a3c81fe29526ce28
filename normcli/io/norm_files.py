"""The small parameter files of `normcli norm` and `bn-stats`: gamma/beta (weight/bias) and
running statistics from .npz state files, .npy arrays, or a normcli z-score scaler; and
the .npz that `bn-stats` writes. Pickles are never loaded."""

from __future__ import annotations

import zipfile
from collections.abc import Mapping
from typing import Any

import numpy as np

from normcli.errors import DataError
from normcli.io.arrays import load_array
from normcli.io.atomic import open_output
from normcli.io.formats import STDIO
from normcli.validate import first_line

__all__ = ["AFFINE_NAMES", "STATS_NAMES", "load_affine", "load_running_stats", "npz_names", "write_npz"]

# (scale, shift) names, in the order they are looked for: torch's state dict, then Keras'.
AFFINE_NAMES = (("weight", "bias"), ("gamma", "beta"))
# (mean, variance) names: torch's buffers, Keras' weights, bn-stats' population estimates.
STATS_NAMES = (
    ("running_mean", "running_var"),
    ("moving_mean", "moving_variance"),
    ("population_mean", "population_var"),
    ("mean", "var"),
)


def npz_names(path: str) -> list[str]:
    """The member names of an .npz archive (without reading the arrays)."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            return list(archive.files)
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DataError(f"{path} is a directory, not an .npz file") from None
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise DataError(f"{path} is not a readable .npz archive ({first_line(exc)})") from None


def _is_npz(path: str) -> bool:
    return path != STDIO and path.lower().endswith(".npz")


def load_affine(path: str) -> tuple[np.ndarray | None, np.ndarray | None, str, tuple[str, str]]:
    """gamma and beta from an .npz with weight/bias (torch) or gamma/beta (Keras); one of the
    two may be missing. Returns them, where they came from ("bn.npz (weight/bias)") and a
    label for each ("weight in bn.npz")."""
    if not _is_npz(path):
        raise DataError(
            f"--affine {path}: expected an .npz with weight/bias or gamma/beta; use --gamma/--beta for .npy"
        )
    names = npz_names(path)
    for scale, shift in AFFINE_NAMES:
        if scale in names or shift in names:
            gamma = load_array(path, scale) if scale in names else None
            beta = load_array(path, shift) if shift in names else None
            found = "/".join(n for n in (scale, shift) if n in names)
            return gamma, beta, f"{path} ({found})", (f"{scale} in {path}", f"{shift} in {path}")
    shown = ", ".join(names[:10]) or "nothing"
    raise DataError(f"--affine {path} has no weight/bias or gamma/beta arrays (it holds {shown})")


def load_running_stats(path: str) -> tuple[np.ndarray, np.ndarray, str, str]:
    """Per-channel mean and variance from an .npz (running_mean/running_var,
    moving_mean/moving_variance, population_mean/population_var, or mean/var), with labels
    saying where each came from ("running_mean in bn.npz")."""
    names = npz_names(path)
    for mean_name, var_name in STATS_NAMES:
        if mean_name in names and var_name in names:
            mean, var = load_array(path, mean_name), load_array(path, var_name)
            return mean, var, f"{mean_name} in {path}", f"{var_name} in {path}"
        if mean_name in names:
            raise DataError(f"--stats {path} has {mean_name} but no {var_name}; inference needs the variance too")
        if var_name in names:
            raise DataError(f"--stats {path} has {var_name} but no {mean_name}; inference needs the mean too")
    shown = ", ".join(names[:10]) or "nothing"
    raise DataError(
        f"--stats {path} has no running_mean/running_var (or moving_mean/moving_variance) arrays (it holds {shown})"
    )


def write_npz(output: str, arrays: Mapping[str, np.ndarray]) -> None:
    """An .npz archive of plain numeric arrays, replaced atomically."""
    with open_output(output) as fh:
        members: dict[str, Any] = {name: np.asarray(a) for name, a in arrays.items()}
        np.savez(fh, **members)
