"""Local Response Normalization: every convention against a naive float64 reference,
the identities between conventions, golden outputs of the real frameworks, and the
edge cases (dtypes, NaN, non-positive divisors, memmaps, option errors)."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from normcli.errors import DataError, UsageError
from normcli.lrn_kernel import (
    LRNSpec,
    count_overflow,
    explain,
    lrn,
    lrn_apply,
    output_dtype,
    resolve_spec,
)

DATA = Path(__file__).resolve().parent / "data"

# --------------------------------------------------------------------------------------
# The naive reference, written from the convention table with explicit loops
# --------------------------------------------------------------------------------------


def reference_lrn(
    x: np.ndarray,
    convention: str,
    *,
    size: int,
    alpha: float,
    beta: float,
    bias: float,
    channel_axis: int,
    region: str = "across",
) -> np.ndarray:
    """y_c = x_c * (k + s * sum_{j=c-lo..c+hi} x_j^2)^-beta in float64, straight from the table.

    For tf, `size` is 2*depth_radius+1 and alpha is s itself.
    """
    x = np.asarray(x, dtype=np.float64)
    if region == "within":  # Caffe: n x n box over the two axes after the channel axis
        n = size
        h_axis, w_axis = channel_axis + 1, channel_axis + 2
        xm = np.moveaxis(x, (h_axis, w_axis), (-2, -1))
        height, width = xm.shape[-2:]
        total = np.zeros_like(xm)
        half = (n - 1) // 2
        for i in range(height):
            for j in range(width):
                for di in range(-half, half + 1):
                    for dj in range(-half, half + 1):
                        if 0 <= i + di < height and 0 <= j + dj < width:
                            total[..., i, j] += xm[..., i + di, j + dj] ** 2
        y = xm * (1.0 + alpha / (n * n) * total) ** (-beta)
        return np.moveaxis(y, (-2, -1), (h_axis, w_axis))
    if convention == "tf":
        lo = hi = (size - 1) // 2
        s = alpha
    elif convention == "torch":
        lo, hi = size // 2, (size - 1) // 2
        s = alpha / size
    elif convention == "onnx":
        lo, hi = int(np.floor((size - 1) / 2)), int(np.ceil((size - 1) / 2))
        s = alpha / size
    else:  # caffe across
        lo = hi = (size - 1) // 2
        s = alpha / size
    xm = np.moveaxis(x, channel_axis, -1)
    channels = xm.shape[-1]
    total = np.zeros_like(xm)
    for c in range(channels):
        for j in range(c - lo, c + hi + 1):
            if 0 <= j < channels:  # channels outside the array count as zero
                total[..., c] += xm[..., j] ** 2
    y = xm * (bias + s * total) ** (-beta)
    return np.moveaxis(y, -1, channel_axis)


def assert_matches(y: np.ndarray, ref: np.ndarray, dtype: np.dtype) -> None:
    rtol = 1e-6 if np.dtype(dtype) == np.float32 else 1e-12
    assert y.dtype == dtype
    assert y.shape == ref.shape
    np.testing.assert_allclose(y, ref, rtol=rtol, atol=0)


# --------------------------------------------------------------------------------------
# Every preset against the reference (hypothesis)
# --------------------------------------------------------------------------------------


@st.composite
def lrn_case(draw, convention: str, region: str = "across"):
    """A random small array plus options for `convention`, native layout or an explicit axis."""
    if region == "within":
        ndim = draw(st.integers(3, 5))
        axis = draw(st.integers(0, ndim - 3))
        explicit = ndim != 4 or axis != 1 or draw(st.booleans())
    else:
        native_ndims = {"tf": [4], "torch": [3, 4, 5], "onnx": [2, 3, 4, 5], "caffe": [4]}[convention]
        if draw(st.booleans()):
            ndim = draw(st.sampled_from(native_ndims))
            axis = ndim - 1 if convention == "tf" else 1
            explicit = False
        else:
            ndim = draw(st.integers(2, 5))
            axis = draw(st.integers(0, ndim - 1))
            explicit = True
    shape = [draw(st.integers(1, 4)) for _ in range(ndim)]
    shape[axis] = draw(st.integers(1, 12))
    if region == "within":
        shape[axis + 1] = draw(st.integers(1, 7))
        shape[axis + 2] = draw(st.integers(1, 7))
    odd_only = convention in ("tf", "caffe")
    size = draw(st.integers(1, 9).filter(lambda n: n % 2 == 1 or not odd_only))
    opts: dict = {"convention": convention, "region": region}
    if convention == "tf" and draw(st.booleans()):
        opts["depth_radius"] = (size - 1) // 2
    else:
        opts["size"] = size
    alpha = draw(st.floats(1e-4, 4.0))
    beta = draw(st.sampled_from([0.0, 0.5, 0.75, 1.0]) | st.floats(0.0, 1.5))
    bias = 1.0 if region == "within" else draw(st.floats(0.05, 3.0))
    opts.update(alpha=alpha, beta=beta)
    if region != "within" or draw(st.booleans()):
        opts["bias"] = bias
    if explicit:
        opts["channel_axis"] = axis - ndim if draw(st.booleans()) else axis
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * draw(st.sampled_from([0.1, 1.0, 3.0, 30.0]))).astype(dtype)
    block_bytes = draw(st.sampled_from([8, 64, 512, 1 << 21]))
    ref = reference_lrn(x, convention, size=size, alpha=alpha, beta=beta, bias=bias, channel_axis=axis, region=region)
    return x, opts, block_bytes, ref


def check_case(case) -> None:
    x, opts, block_bytes, ref = case
    spec = resolve_spec(ndim=x.ndim, **opts)
    assert_matches(lrn_apply(x, spec, block_bytes=block_bytes), ref, x.dtype)
    assert_matches(lrn(x, **opts), ref, x.dtype)


@settings(max_examples=60, deadline=None)
@given(lrn_case("tf"))
def test_tf_matches_reference(case):
    check_case(case)


@settings(max_examples=60, deadline=None)
@given(lrn_case("torch"))
def test_torch_matches_reference(case):
    check_case(case)


@settings(max_examples=60, deadline=None)
@given(lrn_case("onnx"))
def test_onnx_matches_reference(case):
    check_case(case)


@settings(max_examples=60, deadline=None)
@given(lrn_case("caffe"))
def test_caffe_across_matches_reference(case):
    check_case(case)


@settings(max_examples=40, deadline=None)
@given(lrn_case("caffe", region="within"))
def test_caffe_within_matches_reference(case):
    check_case(case)


@pytest.mark.parametrize(
    "opts",
    [
        {"convention": "tf"},
        {"convention": "torch", "size": 5},
        {"convention": "torch", "size": 4, "alpha": 2.0},
        {"convention": "onnx", "size": 4, "alpha": 2.0},
        {"convention": "caffe"},
        {"convention": "caffe", "region": "within", "size": 3, "alpha": 3.0},
    ],
)
def test_float32_accurate_when_channel_magnitudes_differ_by_1e4(opts):
    """Big and small channels side by side: direct sums keep small ones exact (no cumsum)."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 12, 5, 6))
    magnitudes = np.where(np.arange(12) % 3 == 0, 1e2, 1e-2)  # 1e4 apart
    if opts["convention"] == "tf":
        x = (np.moveaxis(x, 1, -1) * magnitudes).astype(np.float32)
        axis = 3
    else:
        x = (x * magnitudes[:, None, None]).astype(np.float32)
        axis = 1
    spec = resolve_spec(ndim=4, **opts)
    ref = reference_lrn(
        x,
        spec.convention,
        size=spec.size,
        alpha=spec.alpha,
        beta=spec.beta,
        bias=spec.bias,
        channel_axis=axis,
        region=spec.region,
    )
    assert_matches(lrn(x, **opts), ref, np.float32)


@pytest.mark.parametrize("size", range(1, 34))
def test_every_window_size_up_to_33(size):
    """Window sums are built by doubling; every combination of binary digits must add up."""
    x = np.random.default_rng(size).standard_normal((2, 40, 3))
    for convention in ("torch", "onnx"):
        y = lrn(x, convention=convention, size=size, alpha=2.0, beta=0.75, bias=0.5)
        ref = reference_lrn(x, convention, size=size, alpha=2.0, beta=0.75, bias=0.5, channel_axis=1)
        np.testing.assert_allclose(y, ref, rtol=1e-12, atol=0)


# --------------------------------------------------------------------------------------
# Identities between conventions, and the worked example
# --------------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    radius=st.integers(0, 4),
    bias=st.floats(0.1, 3.0),
    alpha=st.floats(1e-3, 3.0),
    beta=st.floats(0.0, 1.5),
    seed=st.integers(0, 2**32 - 1),
)
def test_tf_on_nhwc_equals_torch_on_nchw(radius, bias, alpha, beta, seed):
    """TF(r, bias, alpha, beta) on NHWC == torch(size=2r+1, alpha*(2r+1), beta, k=bias) on NCHW."""
    x_nhwc = np.random.default_rng(seed).standard_normal((2, 3, 4, 11)) * 2
    y_tf = lrn(x_nhwc, convention="tf", depth_radius=radius, bias=bias, alpha=alpha, beta=beta)
    size = 2 * radius + 1
    x_nchw = np.ascontiguousarray(x_nhwc.transpose(0, 3, 1, 2))
    y_torch = lrn(x_nchw, convention="torch", size=size, alpha=alpha * size, beta=beta, bias=bias)
    np.testing.assert_allclose(y_tf, y_torch.transpose(0, 2, 3, 1), rtol=1e-12, atol=0)


@settings(max_examples=40, deadline=None)
@given(
    half=st.integers(1, 5),
    alpha=st.floats(0.1, 3.0),
    beta=st.floats(0.1, 1.5),
    ndim=st.integers(3, 5),
    seed=st.integers(0, 2**32 - 1),
)
def test_even_torch_is_onnx_mirrored(half, alpha, beta, ndim, seed):
    """For even sizes torch's window (size/2 before) is ONNX's (size/2 after) reflected."""
    size = 2 * half
    shape = (2, 9, 3, 2, 2)[:ndim]
    x = np.random.default_rng(seed).standard_normal(shape) * 2
    y_torch = lrn(x, convention="torch", size=size, alpha=alpha, beta=beta)
    y_onnx = lrn(np.flip(x, axis=1), convention="onnx", size=size, alpha=alpha, beta=beta)
    np.testing.assert_allclose(y_torch, np.flip(y_onnx, axis=1), rtol=1e-12, atol=0)
    # and they really differ, so the mirror is not trivial
    assert not np.allclose(y_torch, lrn(x, convention="onnx", size=size, alpha=alpha, beta=beta))


def test_tf_worked_example():
    """TF's lrn of 2*ones([2,2,2,3]) with depth_radius=1, bias=0, alpha=1, beta=1."""
    y = lrn(2 * np.ones((2, 2, 2, 3), np.float32), convention="tf", depth_radius=1, bias=0, alpha=1, beta=1)
    expected = np.broadcast_to(np.array([0.25, 1 / 6, 0.25], np.float32), y.shape)
    np.testing.assert_allclose(y, expected, rtol=1e-7)


# --------------------------------------------------------------------------------------
# Golden outputs of the real frameworks (tests/data/make_lrn_golden.py)
# --------------------------------------------------------------------------------------


def golden_cases(name: str) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    with np.load(DATA / f"lrn_golden_{name}.npz", allow_pickle=False) as data:
        count = sum(1 for key in data.files if key.endswith("_x"))
        return [(data[f"case{i}_x"], data[f"case{i}_y"], data[f"case{i}_params"]) for i in range(count)]


@pytest.mark.parametrize("framework", ["torch", "onnx"])
def test_matches_framework_golden_outputs(framework):
    cases = golden_cases(framework)
    assert len(cases) >= 6
    sizes = {int(params[0]) for _, _, params in cases}
    assert any(n % 2 == 0 for n in sizes) and any(n % 2 == 1 for n in sizes)
    if framework == "torch":
        assert {x.ndim for x, _, _ in cases} == {3, 4, 5}
    for x, expected, (size, alpha, beta, k) in cases:
        y = lrn(x, convention=framework, size=int(size), alpha=alpha, beta=beta, bias=k)
        assert y.dtype == expected.dtype
        np.testing.assert_allclose(y, expected, rtol=1e-6, atol=0)
        assert not np.allclose(x, expected, rtol=1e-3) or alpha < 1e-3  # the divisor mattered


# --------------------------------------------------------------------------------------
# Dtypes, NaN and inf, non-positive divisors
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dtype", "expected"),
    [
        (np.float16, np.float16),
        (np.float32, np.float32),
        (np.float64, np.float64),
        (np.int8, np.float32),
        (np.int64, np.float32),
        (np.uint16, np.float32),
        (np.bool_, np.float32),
    ],
)
def test_output_dtype(dtype, expected):
    assert output_dtype(dtype) == np.dtype(expected)


@pytest.mark.parametrize("dtype", [np.complex64, np.object_, np.str_, np.longdouble])
def test_output_dtype_refuses_non_real(dtype):
    if np.dtype(dtype) == np.float64:  # platforms where longdouble is float64
        assert output_dtype(dtype) == np.float64
        return
    with pytest.raises(DataError, match="convert it to float32 or float64"):
        output_dtype(dtype)


def test_float16_is_computed_in_float32_and_overflow_is_counted():
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((2, 6, 3, 3)) * 4).astype(np.float16)
    y = lrn(x, convention="torch", size=3, alpha=1.0)
    assert y.dtype == np.float16
    np.testing.assert_array_equal(
        y, lrn(x.astype(np.float32), convention="torch", size=3, alpha=1.0).astype(np.float16)
    )
    assert count_overflow(x, y) == 0

    # 60000 / (1e-3 + 1e-12/1 * 60000^2)^0.75 = 60000 * 4.6e-3^-0.75 ~ 3.4e6: past float16's 65504
    big = np.zeros((1, 3, 2, 2), np.float16)
    big[0, 1, 0, :] = 60000
    y16 = lrn(big, convention="torch", size=1, alpha=1e-12, bias=1e-3)
    assert np.isinf(y16).sum() == 2
    assert count_overflow(big, y16) == 2
    assert count_overflow(big, lrn(big.astype(np.float32), convention="torch", size=1, alpha=1e-12, bias=1e-3)) == 0


def test_count_overflow_ignores_infinite_input():
    x = np.array([[np.inf, 1.0, -np.inf]], np.float16)
    y = np.array([[np.nan, np.inf, -np.inf]], np.float16)
    assert count_overflow(x, y) == 1


@pytest.mark.parametrize("dtype", [np.int32, np.uint8, np.bool_])
def test_integer_and_bool_input_give_float32(dtype):
    x = np.random.default_rng(0).integers(0, 4, (2, 5, 3)).astype(dtype)
    y = lrn(x, convention="torch", size=3, alpha=1.0)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y, lrn(x.astype(np.float32), convention="torch", size=3, alpha=1.0))


def test_large_integers_are_squared_as_floats_not_wrapped():
    x = np.full((1, 3, 1), 100_000, np.int32)  # 1e10 overflows int32, not float32
    y = lrn(x, convention="torch", size=3, alpha=3.0, beta=0.5, bias=0.0)
    np.testing.assert_allclose(y[0, 1], 100_000 / np.sqrt(3e10), rtol=1e-6)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_and_inf_stay_inside_their_windows(bad):
    """A bad value at channel 5 reaches only outputs whose window contains channel 5."""
    x = np.random.default_rng(1).standard_normal((2, 12, 3, 3)).astype(np.float32)
    x[1, 5, 2, 0] = bad
    y = lrn(x, convention="torch", size=4, alpha=1.0)  # window: 2 before, 1 after
    touched = np.zeros(x.shape, bool)
    touched[1, 4:8, 2, 0] = True  # outputs c with c-2 <= 5 <= c+1
    clean = reference_lrn(
        np.where(np.isfinite(x), x, 0), "torch", size=4, alpha=1.0, beta=0.75, bias=1.0, channel_axis=1
    )
    np.testing.assert_allclose(y[~touched], clean[~touched], rtol=1e-6)
    assert np.isfinite(y[~touched]).all()
    if np.isnan(bad):
        assert np.isnan(y[touched]).all()
    else:  # x / inf -> 0 for the neighbours; inf / inf -> NaN at the inf itself
        assert np.isnan(y[1, 5, 2, 0])
        np.testing.assert_array_equal(y[1, [4, 6, 7], 2, 0], 0.0)


@pytest.mark.parametrize(
    ("opts", "count", "fix"),
    [
        ({"bias": 0.0}, 6 + 2, "bias > 0"),  # the all-zero windows give base 0
        ({"bias": -1.0}, 2 * 6 * 4, "bias > 0"),  # base <= -1 + small: negative everywhere
        ({"alpha": -50.0}, None, "alpha >= 0"),
    ],
)
def test_non_positive_base_is_a_data_error(opts, count, fix):
    x = np.random.default_rng(2).uniform(0.5, 1.0, (2, 6, 4)).astype(np.float32)
    x[0, :, 0] = 0  # a pixel where all 6 windows are zero
    x[0, :3, 1] = 0  # a pixel where the windows of channels 0 and 1 are zero (size 3)
    with pytest.raises(DataError) as info:
        lrn(x, convention="torch", size=3, **opts)
    message = str(info.value)
    assert fix in message and "positions" in message
    if count is not None:
        assert f" {count} of {x.size} positions" in message


def test_negative_alpha_with_small_values_is_fine():
    """Negative alpha is allowed when the base stays positive."""
    x = np.full((1, 3, 2), 0.1)
    y = lrn(x, convention="torch", size=3, alpha=-1.0, beta=1.0)
    np.testing.assert_allclose(y, reference_lrn(x, "torch", size=3, alpha=-1.0, beta=1.0, bias=1.0, channel_axis=1))


def test_beta_zero_is_identity_even_for_zero_bias():
    x = np.random.default_rng(4).standard_normal((2, 4, 3)).astype(np.float32)
    x[0, 0, 0] = np.nan
    y = lrn(x, convention="torch", size=3, beta=0.0, bias=0.0)
    np.testing.assert_array_equal(y, x)


def test_empty_array():
    y = lrn(np.zeros((0, 4, 3), np.float32), convention="torch", size=3)
    assert y.shape == (0, 4, 3) and y.dtype == np.float32


# --------------------------------------------------------------------------------------
# Blocks, out= and memmaps
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "opts",
    [
        {"convention": "torch", "size": 5},  # beta 0.75 fast path
        {"convention": "tf", "depth_radius": 2, "channel_axis": 1},  # beta 0.5
        {"convention": "torch", "size": 4, "beta": 0.6, "alpha": 2.0},  # np.power path
        {"convention": "caffe", "region": "within", "size": 3},
    ],
)
def test_memmap_blocks_match_one_shot(tmp_path, opts):
    x = np.random.default_rng(5).standard_normal((7, 9, 6, 5)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    x_map = np.load(tmp_path / "x.npy", mmap_mode="r")
    spec = resolve_spec(ndim=4, **opts)
    out = np.lib.format.open_memmap(tmp_path / "y.npy", mode="w+", dtype=np.float32, shape=x.shape)
    result = lrn_apply(x_map, spec, out=out, block_bytes=800)  # ragged blocks inside a sample
    assert result is out
    out.flush()
    del out, result
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), lrn(x, **opts))


def test_out_may_be_the_input():
    x = np.random.default_rng(6).standard_normal((3, 8, 4)).astype(np.float32)
    expected = lrn(x, convention="torch", size=3)
    spec = resolve_spec(ndim=3, size=3)
    assert lrn_apply(x, spec, out=x, block_bytes=100) is x
    np.testing.assert_array_equal(x, expected)


def test_peak_memory_is_a_few_blocks(tmp_path):
    """A 4 MB memmap in 64 KB blocks: Python-side allocations stay far below the array size."""
    x = np.lib.format.open_memmap(tmp_path / "x.npy", mode="w+", dtype=np.float32, shape=(64, 16, 32, 32))
    x[:] = 1.5
    out = np.lib.format.open_memmap(tmp_path / "y.npy", mode="w+", dtype=np.float32, shape=x.shape)
    spec = resolve_spec(ndim=4, size=5)
    tracemalloc.start()
    try:
        lrn_apply(x, spec, out=out, block_bytes=64 * 1024)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000, peak
    assert x.nbytes == 4 * 1024 * 1024
    np.testing.assert_allclose(out[0, 8, 0, 0], 1.5 * (1 + 1e-4 / 5 * 5 * 1.5**2) ** -0.75, rtol=1e-6)


def test_lrn_apply_checks_out_and_rank():
    x = np.ones((2, 3, 4), np.float32)
    spec = resolve_spec(ndim=3, size=3)
    with pytest.raises(ValueError, match="shape"):
        lrn_apply(x, spec, out=np.empty((2, 3, 5), np.float32))
    with pytest.raises(ValueError, match="3-D"):
        lrn_apply(np.ones((2, 3)), spec)


# --------------------------------------------------------------------------------------
# resolve_spec and explain
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("opts", "axis", "lo", "hi", "size", "scale", "bias", "beta"),
    [
        ({"convention": "tf"}, 3, 5, 5, 11, 1.0, 1.0, 0.5),
        ({"convention": "tf", "size": 3, "alpha": 2.0}, 3, 1, 1, 3, 2.0, 1.0, 0.5),
        ({"convention": "torch", "size": 5}, 1, 2, 2, 5, 1e-4 / 5, 1.0, 0.75),
        ({"convention": "torch", "size": 4}, 1, 2, 1, 4, 1e-4 / 4, 1.0, 0.75),
        ({"convention": "torch", "depth_radius": 2}, 1, 2, 2, 5, 1e-4 / 5, 1.0, 0.75),
        ({"convention": "onnx", "size": 4}, 1, 1, 2, 4, 1e-4 / 4, 1.0, 0.75),
        ({"convention": "caffe"}, 1, 2, 2, 5, 1 / 5, 1.0, 0.75),
        ({"convention": "caffe", "region": "within"}, 1, 2, 2, 5, 1 / 25, 1.0, 0.75),
        ({"convention": "caffe", "region": "within", "bias": 1.0}, 1, 2, 2, 5, 1 / 25, 1.0, 0.75),
        ({"convention": "torch", "size": 3, "layout": "NHWC"}, 3, 1, 1, 3, 1e-4 / 3, 1.0, 0.75),
        ({"convention": "tf", "layout": "nchw"}, 1, 5, 5, 11, 1.0, 1.0, 0.5),
        ({"convention": "onnx", "size": 2, "channel_axis": -2}, 2, 0, 1, 2, 1e-4 / 2, 1.0, 0.75),
        ({"convention": "TORCH", "size": 1, "alpha": 3, "beta": 1, "bias": 2}, 1, 0, 0, 1, 3.0, 2.0, 1.0),
    ],
)
def test_resolve_spec_presets(opts, axis, lo, hi, size, scale, bias, beta):
    spec = resolve_spec(ndim=4, **opts)
    assert isinstance(spec, LRNSpec)
    assert (spec.channel_axis, spec.lo, spec.hi, spec.size) == (axis, lo, hi, size)
    assert spec.scale == pytest.approx(scale, rel=1e-15)
    assert (spec.bias, spec.beta) == (bias, beta)


def test_notes_explain_even_windows_and_borrowed_layouts():
    torch_spec = resolve_spec(ndim=4, convention="torch", size=4)
    assert torch_spec.notes == ("even size 4: window is 2 before, 1 after (torch); ONNX puts the extra channel after",)
    onnx_spec = resolve_spec(ndim=4, convention="onnx", size=4)
    assert "1 before, 2 after (ONNX)" in onnx_spec.notes[0]
    tf_spec = resolve_spec(ndim=4, convention="tf", channel_axis=1)
    assert "TF accepts only 4-D NHWC" in tf_spec.notes[0] and "channel_axis 1 given" in tf_spec.notes[0]
    tf_3d = resolve_spec(ndim=3, convention="tf", layout="NHWC")
    assert "layout NHWC given" in tf_3d.notes[0]
    torch_2d = resolve_spec(ndim=2, convention="torch", size=3, channel_axis=1)
    assert "torch" in torch_2d.notes[0]
    assert resolve_spec(ndim=4, convention="tf", layout="NHWC").notes == ()
    assert resolve_spec(ndim=5, convention="torch", size=5, channel_axis=1).notes == ()


def test_explain_names_axis_window_formula_and_notes():
    lines = explain(resolve_spec(ndim=4, convention="torch", size=4, alpha=2.0))
    text = "\n".join(lines)
    assert "channel axis: 1 of a 4-D array" in text
    assert "2 channel(s) before and 1 after" in text
    assert "y = x * (1 + 0.5 * sum(x^2 over window))^(-0.75)" in text
    assert "note: even size 4" in text
    within = "\n".join(explain(resolve_spec(ndim=4, convention="caffe", region="within", size=3)))
    assert "3 x 3 box over axes 2 and 3" in within and "0.1111111111" in within
    tf = "\n".join(explain(resolve_spec(ndim=4, convention="tf")))
    assert "does not divide by the window size" in tf and "channel axis: 3" in tf


@pytest.mark.parametrize(
    ("opts", "error", "fragment"),
    [
        ({"ndim": 1}, DataError, "1-D"),
        ({"ndim": 4, "convention": "keras"}, UsageError, "convention 'keras'"),
        ({"ndim": 4, "convention": "caffe", "region": "inside"}, UsageError, "region 'inside'"),
        ({"ndim": 4, "size": 3, "region": "within"}, UsageError, "use convention caffe"),
        ({"ndim": 4, "convention": "tf", "region": "within"}, UsageError, "region within"),
        ({"ndim": 4, "convention": "caffe", "region": "within", "channel_axis": 2}, UsageError, "channel_axis <= 1"),
        ({"ndim": 2, "convention": "caffe", "region": "within", "channel_axis": 0}, UsageError, "two spatial axes"),
        ({"ndim": 4, "convention": "caffe", "region": "within", "bias": 2.0}, UsageError, "fixes k=1"),
        ({"ndim": 4, "layout": "NWHC", "size": 3}, UsageError, "layout 'NWHC'"),
        ({"ndim": 4, "channel_axis": 4, "size": 3}, UsageError, "channel_axis 4 is out of range"),
        ({"ndim": 4, "channel_axis": -5, "size": 3}, UsageError, "use -4..3"),
        ({"ndim": 4, "channel_axis": 1.5, "size": 3}, UsageError, "channel_axis 1.5"),
        ({"ndim": 4, "layout": "NHWC", "channel_axis": 1, "size": 3}, UsageError, "pass only one"),
        ({"ndim": 3, "convention": "tf"}, UsageError, "pass channel_axis"),
        ({"ndim": 5, "convention": "tf"}, UsageError, "4-D NHWC"),
        ({"ndim": 2, "convention": "torch", "size": 3}, UsageError, "3 or more axes"),
        ({"ndim": 3, "convention": "caffe"}, UsageError, "4-D NCHW"),
        ({"ndim": 4, "convention": "torch"}, UsageError, "size is required"),
        ({"ndim": 4, "convention": "onnx"}, UsageError, "size is required"),
        ({"ndim": 4, "size": 3, "depth_radius": 1}, UsageError, "not both"),
        ({"ndim": 4, "size": 0}, UsageError, "size 0 must be >= 1"),
        ({"ndim": 4, "size": 2.5}, UsageError, "size 2.5"),
        ({"ndim": 4, "size": True}, UsageError, "size True"),
        ({"ndim": 4, "depth_radius": -1}, UsageError, "depth_radius -1"),
        ({"ndim": 4, "convention": "tf", "size": 4}, UsageError, "size 4 is even"),
        ({"ndim": 4, "convention": "caffe", "size": 4}, UsageError, "use size 3 or 5"),
        ({"ndim": 4, "convention": "caffe", "region": "within", "size": 2}, UsageError, "must be odd"),
        ({"ndim": 4, "size": 3, "beta": -0.5}, UsageError, "beta -0.5 must be >= 0"),
        ({"ndim": 4, "size": 3, "alpha": float("nan")}, UsageError, "alpha nan"),
        ({"ndim": 4, "size": 3, "alpha": "big"}, UsageError, "alpha 'big'"),
        ({"ndim": 4, "size": 3, "bias": float("inf")}, UsageError, "bias inf"),
        ({"ndim": 4, "size": 3, "beta": float("-inf")}, UsageError, "beta -inf"),
    ],
)
def test_resolve_spec_errors(opts, error, fragment):
    with pytest.raises(error) as info:
        resolve_spec(**opts)
    message = str(info.value)
    assert fragment in message
    assert "\n" not in message


def test_lrn_refuses_complex_input():
    with pytest.raises(DataError, match="complex64"):
        lrn(np.ones((2, 3, 4), np.complex64), size=3)
