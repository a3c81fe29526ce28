"""Population statistics for batch norm's inference mode, from mini-batches.

Ioffe and Szegedy (2015), Algorithm 2: with m the number of values per channel in one
mini-batch (N x H x W for a convolution's output, not N),

    E[x]   = mean over mini-batches of the batch means
    Var[x] = m / (m - 1) * mean over mini-batches of the (biased) batch variances

which is what PyTorch's BatchNorm keeps with momentum=None (a cumulative average of the
batch means and of the unbiased batch variances; for mini-batches of unequal size this is
the mean of each batch's own unbiased variance, as torch does). With a momentum M the
frameworks keep exponential averages instead, starting from mean 0 and variance 1:

    torch:  running = (1 - M) * running + M * batch   (unbiased batch variance)
    keras:  moving  = M * moving + (1 - M) * batch    (biased batch variance, as Keras'
                                                       BatchNormalization updates it)

`PopulationStats` takes the samples in order, a block at a time, cuts them into
mini-batches of `batch_size` samples (or one mini-batch per array with `end_array`), and
gathers each batch's moments in float64 (Chan merges, so a batch may span blocks and
arrays). Pure NumPy: no file I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from normcli.errors import DataError, OptionError, UsageError
from normcli.tensor.layout import as_float, as_int, fmt, output_dtype, resolve_channel_axis
from normcli.tensor.norm import Moments, channel_moments

__all__ = ["BNStats", "PopulationStats", "bn_stats"]


@dataclass
class BNStats:
    """What `PopulationStats.finish` returns: the population estimates, the running
    averages (equal to them without a momentum), and how many batches made them."""

    convention: str
    momentum: float | None
    population_mean: np.ndarray
    population_var: np.ndarray
    running_mean: np.ndarray
    running_var: np.ndarray
    batches: int
    values_per_batch: list[int] = field(default_factory=list)

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays of the .npz file, under the names the framework's state uses."""
        out: dict[str, np.ndarray] = {}
        if self.convention == "keras":
            out["moving_mean"], out["moving_variance"] = self.running_mean, self.running_var
        else:
            out["running_mean"], out["running_var"] = self.running_mean, self.running_var
            out["num_batches_tracked"] = np.array(self.batches, dtype=np.int64)
        if self.momentum is not None:  # without one, the running arrays are the population estimates
            out["population_mean"], out["population_var"] = self.population_mean, self.population_var
        return out


class PopulationStats:
    """Accumulate batch norm's population (and running) statistics over mini-batches."""

    def __init__(
        self,
        *,
        channel_axis: int,
        batch_size: int | None = None,
        momentum: float | None = None,
        convention: str = "torch",
    ) -> None:
        if convention not in ("torch", "keras"):
            raise UsageError.about("{convention} {given!r} is not one of torch, keras", given=convention)
        if batch_size is not None:
            batch_size = as_int("batch_size", batch_size)
            if batch_size < 1:
                raise OptionError("batch_size", batch_size, ">= 1", "{parameter} {value} must be {requirement}")
        if momentum is not None:
            momentum = as_float("momentum", momentum)
            if not 0 <= momentum <= 1:
                raise OptionError(
                    "momentum", fmt(momentum), "between 0 and 1", "{parameter} {value} must be {requirement}"
                )
        self.channel_axis = channel_axis
        self.batch_size = batch_size
        self.momentum = momentum
        self.convention = convention
        self._current: Moments | None = None
        self._in_batch = 0  # samples in the current batch
        self._mean_sum: np.ndarray | None = None
        self._var_sum: np.ndarray | None = None
        self._running: tuple[np.ndarray, np.ndarray] | None = None
        self._sizes: list[int] = []
        self._source = ""

    def add(self, block: np.ndarray, source: str = "") -> None:
        """The next samples (along axis 0), in order."""
        self._source = source or self._source
        start = 0
        n = block.shape[0]
        while start < n:
            take = n - start if self.batch_size is None else min(n - start, self.batch_size - self._in_batch)
            part = block[start : start + take]
            moments = channel_moments(part, self.channel_axis)
            self._current = moments if self._current is None else self._current.merge(moments)
            self._in_batch += take
            start += take
            if self.batch_size is not None and self._in_batch == self.batch_size:
                self._close_batch()

    def end_array(self) -> None:
        """Without a batch size, each array is one mini-batch: close it."""
        if self.batch_size is None:
            self._close_batch()

    def _close_batch(self) -> None:
        m = self._current
        if m is None:
            return
        values = int(m.count[0]) if m.count.size else 0
        index = len(self._sizes) + 1
        if values < 2:
            hint = (
                "use a larger {batch_size}"
                if self.batch_size is not None
                else "give {batch_size} m to split the arrays into mini-batches of m samples"
            )
            raise DataError.about(
                "mini-batch {index}{where} has {values} value per channel, "
                "so its unbiased variance (m/(m-1)) is undefined; " + hint,
                index=index,
                where=" of " + self._source if self._source else "",
                values=values,
            )
        mean, biased = m.mean, m.var
        unbiased = biased * (values / (values - 1))
        self._mean_sum = mean.copy() if self._mean_sum is None else self._mean_sum + mean
        self._var_sum = unbiased.copy() if self._var_sum is None else self._var_sum + unbiased
        if self.momentum is not None:
            if self._running is None:
                self._running = (np.zeros_like(mean), np.ones_like(mean))
            run_mean, run_var = self._running
            mo = self.momentum
            if self.convention == "torch":
                self._running = ((1 - mo) * run_mean + mo * mean, (1 - mo) * run_var + mo * unbiased)
            else:
                self._running = (mo * run_mean + (1 - mo) * mean, mo * run_var + (1 - mo) * biased)
        self._sizes.append(values)
        self._current = None
        self._in_batch = 0

    def finish(self) -> BNStats:
        """Close a last, partial mini-batch and return the statistics."""
        self._close_batch()
        if self._mean_sum is None or self._var_sum is None:
            raise DataError("no mini-batches: the input has no samples")
        batches = len(self._sizes)
        mean = self._mean_sum / batches
        var = self._var_sum / batches
        running = self._running if self._running is not None else (mean, var)
        return BNStats(self.convention, self.momentum, mean, var, running[0], running[1], batches, self._sizes)


def bn_stats(
    batches: Any,
    *,
    batch_size: int | None = None,
    momentum: float | None = None,
    convention: str = "torch",
    layout: str | None = None,
    channel_axis: int | None = None,
) -> dict[str, np.ndarray]:
    """Batch norm's statistics for inference from mini-batches of activations.

    `batches` is one array (split into mini-batches of `batch_size` samples along axis 0)
    or an iterable of arrays (each one mini-batch, or with `batch_size`, consecutive parts
    of one stream of samples). Returns the arrays `normcli bn-stats` writes: torch's
    running_mean, running_var and num_batches_tracked (keras: moving_mean and
    moving_variance), equal to the population estimates (what a torch
    BatchNorm(momentum=None) holds after seeing the same mini-batches) unless `momentum`
    is given, in which case they are the framework's running averages and the population
    estimates are added as population_mean and population_var.
    """
    if isinstance(batches, np.ndarray):
        if batch_size is None:
            raise UsageError("a single array needs batch_size (the samples per mini-batch along axis 0)")
        arrays = [batches]
    else:
        arrays = [np.asarray(b) for b in batches]
    if not arrays:
        raise DataError("no mini-batches given")
    ndim = arrays[0].ndim
    if ndim < 2:
        raise DataError(f"mini-batches must be (N, C, ...) arrays with a batch axis; got a {ndim}-D array")
    axis, _ = resolve_channel_axis(ndim, layout, channel_axis, 1 if convention == "torch" else ndim - 1)
    if axis == 0:
        raise UsageError("mini-batches run along axis 0, so the channels cannot be axis 0")
    acc = PopulationStats(channel_axis=axis, batch_size=batch_size, momentum=momentum, convention=convention)
    for i, arr in enumerate(arrays):
        output_dtype(arr.dtype, "bn_stats")
        if arr.shape[1:] != arrays[0].shape[1:]:
            raise DataError(f"mini-batch {i} has shape {arr.shape} but the first has {arrays[0].shape}")
        acc.add(arr, f"array {i}")
        acc.end_array()
    return acc.finish().arrays()
