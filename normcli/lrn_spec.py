"""Local Response Normalization conventions as data: one record per convention (TF, PyTorch,
ONNX, Caffe across channels, Caffe within a channel), and `resolve_spec`, which turns a
convention name and the user's options into one explicit `LRNSpec` for the kernel.

Every convention computes y_c = x_c * (k + s * sum_{j = c-lo .. c+hi} x_j^2) ** (-beta); they
differ only in their defaults, where the window sits (lo, hi), how alpha becomes the scale s,
and which axis holds the channels (the table in the design guide, section 4, row for row).

Pure Python and NumPy: no Click, rich, pandas or pyarrow, and no file I/O.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from normcli.errors import DataError, OptionError, UsageError, fill
from normcli.tensor.layout import LAYOUTS, as_float, as_int, fmt, resolve_channel_axis

__all__ = ["CONVENTIONS", "LAYOUTS", "REGIONS", "TABLE", "Convention", "LRNSpec", "explain", "resolve_spec"]

CONVENTIONS = ("tf", "torch", "onnx", "caffe")
REGIONS = ("across", "within")


@dataclass(frozen=True)
class Convention:
    """One framework's LRN: its defaults, its window, its scale, and the input it accepts."""

    framework: str  # the framework's name for it, in messages and explanations
    short: str  # the framework, in notes
    alpha: float
    beta: float
    bias: float
    default_size: int | None  # None: the framework has no default window
    window: Callable[[int], tuple[int, int]]  # size -> channels (or positions) before, after
    scale: Callable[[float, int], float]  # alpha, size -> s
    default_axis: Callable[[int], int]  # ndim -> the channel axis when none is given
    native: Callable[[int, int], bool]  # ndim, channel axis -> the framework accepts it
    rule: str  # the framework's own rank/layout rule, for errors and notes
    fix: str  # how to lift that rule (a message template: `{channel_axis}` is the parameter)
    odd_only: str | None = None  # the error template for an even size, where the window must be odd
    even_note: str | None = None  # where the extra channel of an even window goes
    fixed_bias: float | None = None  # k, where the framework does not let it be chosen


def _centred(size: int) -> tuple[int, int]:
    return (size - 1) // 2, (size - 1) // 2


def _channels_on_axis_1(ndim: int) -> int:
    return 1


TABLE: dict[tuple[str, str], Convention] = {
    ("tf", "across"): Convention(
        framework="tf.nn.local_response_normalization",
        short="TF",
        alpha=1.0,
        beta=0.5,
        bias=1.0,
        default_size=2 * 5 + 1,
        window=_centred,
        scale=lambda alpha, size: alpha,
        default_axis=lambda ndim: ndim - 1,
        native=lambda ndim, axis: ndim == 4 and axis == 3,
        rule="TF accepts only 4-D NHWC input",
        fix="pass {channel_axis} (e.g. -1) to apply TF's formula on another layout",
        odd_only=(
            "{size} {window} is even but TF's window is 2*depth_radius+1 channels; "
            "use an odd {size} or {depth_radius} (or {convention} torch/onnx for even windows)"
        ),
    ),
    ("torch", "across"): Convention(
        framework="torch.nn.LocalResponseNorm",
        short="torch",
        alpha=1e-4,
        beta=0.75,
        bias=1.0,
        default_size=None,
        window=lambda size: (size // 2, (size - 1) // 2),
        scale=lambda alpha, size: alpha / size,
        default_axis=_channels_on_axis_1,
        native=lambda ndim, axis: ndim >= 3 and axis == 1,
        rule="torch accepts only (N, C, ...) input with 3 or more axes",
        fix="pass {channel_axis} to apply torch's formula on another layout",
        even_note="even size {window}: window is {lo} before, {hi} after (torch); ONNX puts the extra channel after",
    ),
    ("onnx", "across"): Convention(
        framework="ONNX LRN",
        short="ONNX",
        alpha=1e-4,
        beta=0.75,
        bias=1.0,
        default_size=None,
        window=lambda size: ((size - 1) // 2, size // 2),
        scale=lambda alpha, size: alpha / size,
        default_axis=_channels_on_axis_1,
        native=lambda ndim, axis: axis == 1,
        rule="ONNX LRN takes channels on axis 1 (N x C x D1 ... Dn)",
        fix="pass {channel_axis}",
        even_note="even size {window}: window is {lo} before, {hi} after (ONNX); torch puts the extra channel before",
    ),
    ("caffe", "across"): Convention(
        framework="Caffe LRN layer",
        short="Caffe",
        alpha=1.0,
        beta=0.75,
        bias=1.0,
        default_size=5,
        window=_centred,
        scale=lambda alpha, size: alpha / size,
        default_axis=_channels_on_axis_1,
        native=lambda ndim, axis: ndim == 4 and axis == 1,
        rule="Caffe's LRN layer accepts only 4-D NCHW input",
        fix="pass {channel_axis} to apply Caffe's formula on another layout",
        odd_only="{size} {window} is even but Caffe's local_size must be odd; use {size} {smaller} or {larger}",
    ),
    ("caffe", "within"): Convention(
        framework="Caffe LRN layer",
        short="Caffe",
        alpha=1.0,
        beta=0.75,
        bias=1.0,
        default_size=5,
        window=_centred,
        scale=lambda alpha, size: alpha / (size * size),
        default_axis=_channels_on_axis_1,
        native=lambda ndim, axis: ndim == 4 and axis == 1,
        rule="Caffe's LRN layer accepts only 4-D NCHW input",
        fix="pass {channel_axis} to apply Caffe's formula on another layout",
        odd_only="{size} {window} is even but Caffe's local_size must be odd; use {size} {smaller} or {larger}",
        fixed_bias=1.0,
    ),
}


@dataclass(frozen=True)
class LRNSpec:
    """A fully resolved LRN: everything the kernel needs, with no convention left to guess.

    `lo` and `hi` are the channels taken before and after each channel (for the Caffe
    "within" region they are the box's reach before and after along each of the two axes
    after the channel axis), `size` is the window length (lo + hi + 1), `scale` is s and
    `bias` is k in y = x * (k + s * sum x^2) ** -beta. `alpha` is the user's alpha as the
    convention defines it, kept for reports. `notes` are sentences for a human about
    choices that differ from the framework's own behaviour (kept as templates that name
    parameters, so the command line can show its flags).
    """

    convention: str
    region: str
    ndim: int
    channel_axis: int
    lo: int
    hi: int
    size: int
    scale: float
    bias: float
    beta: float
    alpha: float
    note_templates: tuple[str, ...] = ()

    @property
    def notes(self) -> tuple[str, ...]:
        return tuple(fill(note, {}, {}) for note in self.note_templates)

    @property
    def window_axes(self) -> tuple[int, ...]:
        """The axes a window spans: the channel axis, or the two box axes for "within"."""
        if self.region == "within":
            return (self.channel_axis + 1, self.channel_axis + 2)
        return (self.channel_axis,)


def _convention_notes(conv: Convention, ndim: int, axis: int, chosen_by: str | None) -> list[str]:
    """Check the framework's own rank/layout rule; an explicit axis option lifts it with a note."""
    if conv.native(ndim, axis):
        return []
    if chosen_by is None:
        raise UsageError.about(conv.rule + " but the array is {ndim}-D; " + conv.fix, ndim=ndim)
    return [
        f"{conv.rule}; {chosen_by} given (channels on axis {axis} of a {ndim}-D array), "
        f"so this is {conv.short}'s formula on another layout"
    ]


def _resolve_size(name: str, conv: Convention, size: Any, depth_radius: Any) -> int:
    """The window length from `size` or `depth_radius`, with the convention's rules."""
    if size is not None and depth_radius is not None:
        raise UsageError.about(
            "give {size} or {depth_radius}, not both (got {size} {size_value} and "
            "{depth_radius} {radius_value}); {depth_radius} R means {size} 2R+1",
            size_value=size,
            radius_value=depth_radius,
        )
    if depth_radius is not None:
        radius = as_int("depth_radius", depth_radius)
        if radius < 0:
            raise OptionError("depth_radius", radius, ">= 0", "{parameter} {value} must be {requirement}")
        return 2 * radius + 1
    if size is None:
        if conv.default_size is None:
            raise UsageError.about(
                "{size} is required for {convention} {name} ({framework} has no default window); e.g. {size} 5",
                name=name,
                framework=conv.framework,
            )
        return conv.default_size
    window = as_int("size", size)
    if window < 1:
        raise OptionError("size", window, ">= 1", "{parameter} {value} must be {requirement}")
    if window % 2 == 0 and conv.odd_only:
        raise UsageError.about(conv.odd_only, window=window, smaller=window - 1, larger=window + 1)
    return window


def resolve_spec(
    *,
    ndim: int,
    convention: str = "torch",
    size: int | None = None,
    depth_radius: int | None = None,
    alpha: float | None = None,
    beta: float | None = None,
    bias: float | None = None,
    region: str = "across",
    layout: str | None = None,
    channel_axis: int | None = None,
) -> LRNSpec:
    """Turn a convention name and the user's options into an explicit `LRNSpec`.

    Missing parameters take the convention's defaults (its row of `TABLE`), so `lrn` with
    only a convention reproduces that framework. A framework's own input rule (TF: 4-D NHWC;
    torch: 3 or more axes, channels on axis 1; Caffe: 4-D NCHW) is enforced unless the user
    names the channel axis (`layout` "NHWC"/"NCHW" or `channel_axis`), which lifts it with a
    note. Raises UsageError for any bad option, naming the parameter and the fix.
    """
    name = str(convention).lower()
    if name not in CONVENTIONS:
        raise UsageError.about(
            "{convention} {value!r} is not one of {known}", value=convention, known=", ".join(CONVENTIONS)
        )
    reg = str(region).lower()
    if reg not in REGIONS:
        raise UsageError.about("{region} {value!r} is not one of {known}", value=region, known=", ".join(REGIONS))
    conv = TABLE.get((name, reg))
    if conv is None:
        raise UsageError.about(
            "{region} within is Caffe's spatial LRN but {convention} is {name}; "
            "use {convention} caffe (tf, torch and onnx normalize across channels only)",
            name=name,
        )
    ndim = operator.index(ndim)
    if ndim < 2:
        raise DataError(f"LRN needs an array with a channel axis and at least one other axis; got a {ndim}-D array")
    axis, chosen_by = resolve_channel_axis(ndim, layout, channel_axis, conv.default_axis(ndim))
    notes = _convention_notes(conv, ndim, axis, chosen_by)
    if reg == "within" and axis + 2 >= ndim:
        if ndim >= 3:
            raise UsageError.about(
                "{region} within sums an n x n box over the two axes after the channel axis, "
                "but channel axis {axis} of a {ndim}-D array has {after} after it; "
                "pass {channel_axis} <= {highest}",
                axis=axis,
                ndim=ndim,
                after=ndim - 1 - axis,
                highest=ndim - 3,
            )
        raise UsageError.about(
            "{region} within needs a channel axis followed by two spatial axes; got a {ndim}-D array", ndim=ndim
        )
    window = _resolve_size(name, conv, size, depth_radius)

    alpha_v = conv.alpha if alpha is None else as_float("alpha", alpha)
    beta_v = conv.beta if beta is None else as_float("beta", beta)
    if beta_v < 0:
        raise OptionError(
            "beta", fmt(beta_v), ">= 0", "{parameter} {value} must be {requirement} (the divisor is raised to beta)"
        )
    bias_v = conv.bias if bias is None else as_float("bias", bias)
    if conv.fixed_bias is not None:
        if bias_v != conv.fixed_bias:
            raise UsageError.about(
                "{bias} {value} cannot be used with {region} within: Caffe fixes k=1 there "
                "(drop {bias}, or use {region} across)",
                value=fmt(bias_v),
            )
        bias_v = conv.fixed_bias

    lo, hi = conv.window(window)
    if window % 2 == 0 and conv.even_note:
        notes.append(conv.even_note.format(window=window, lo=lo, hi=hi))
    return LRNSpec(
        convention=name,
        region=reg,
        ndim=ndim,
        channel_axis=axis,
        lo=lo,
        hi=hi,
        size=window,
        scale=conv.scale(alpha_v, window),
        bias=bias_v,
        beta=beta_v,
        alpha=alpha_v,
        note_templates=tuple(notes),
    )


def explain(spec: LRNSpec, names: Mapping[str, str] | None = None) -> list[str]:
    """Human lines saying which axis, which window and which formula `spec` means.

    Printed by `normcli lrn --explain`, so a user can check the convention before running
    it on a large array.
    """
    lines = [f"convention: {spec.convention} ({TABLE[spec.convention, spec.region].framework})"]
    lines.append(f"channel axis: {spec.channel_axis} of a {spec.ndim}-D array")
    if spec.region == "within":
        a, b = spec.window_axes
        lines.append(
            f"window: a {spec.size} x {spec.size} box over axes {a} and {b} "
            f"({spec.lo} before and {spec.hi} after along each), within each channel; "
            f"positions outside the array count as zero"
        )
        how_s = f"s = alpha/size^2 = {fmt(spec.alpha)}/{spec.size * spec.size}; Caffe fixes k at 1 here"
    else:
        lines.append(
            f"window: {spec.lo} channel(s) before and {spec.hi} after each channel "
            f"({spec.size} in all); channels past the edges count as zero"
        )
        if spec.convention == "tf":
            how_s = f"s = alpha = {fmt(spec.alpha)} (TF does not divide by the window size); depth_radius = {spec.lo}"
        else:
            how_s = f"s = alpha/size = {fmt(spec.alpha)}/{spec.size}"
    lines.append(f"formula: y = x * ({fmt(spec.bias)} + {fmt(spec.scale)} * sum(x^2 over window))^(-{fmt(spec.beta)})")
    lines.append(f"  where {how_s}")
    lines.extend(f"note: {fill(note, {}, names or {})}" for note in spec.note_templates)
    return lines
