"""The float32 fast path for statistics that are contiguous rows (instance and group norm on
channels-first data, layer and RMS norm): BLAS float32 dot products over pieces added in
float64, the mean folded into the shift where |mean| <= std, a centred copy where it is
not. Each route, and blocks that mix them, against the float64 definition."""

from __future__ import annotations

from unittest import mock

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from test_norm import assert_close, reference

import normcli
from normcli.tensor import norm_kernel, norm_rows

KINDS = {
    "instance": {},
    "group": {"groups": 2},
    "layer": {"normalized_dims": 2},
    "rms": {"normalized_dims": 2},
}


def mixed_rows(rng, shape, offsets):
    """float32 activations whose channels (axis 1) sit at the given offsets, std 0.5 to 3."""
    c = shape[1]
    scale = rng.uniform(0.5, 3, c).reshape(1, c, *[1] * (len(shape) - 2))
    offset = np.resize(np.asarray(offsets, dtype=np.float64), c).reshape(scale.shape)
    return (rng.standard_normal(shape) * scale + offset).astype(np.float32)


def run_and_reference(x, kind, affine, rng):
    options = KINDS[kind]
    pshape = x.shape[-2:] if kind in ("layer", "rms") else (x.shape[1],)
    gamma = rng.uniform(0.5, 2, pshape).astype(np.float32) if affine else None
    beta = rng.uniform(-1, 1, pshape).astype(np.float32) if affine and kind != "rms" else None
    y = normcli.norm(x, kind, eps=1e-5, gamma=gamma, beta=beta, **options)
    ref = reference(
        x,
        kind,
        groups=options.get("groups"),
        dims=options.get("normalized_dims"),
        gamma=gamma,
        beta=beta,
    )
    return y, ref


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(sorted(KINDS)),
    st.lists(st.sampled_from([0.0, 0.3, -2.0, 40.0, -1e4]), min_size=1, max_size=4),
    st.integers(0, 2**16),
    st.booleans(),
    st.sampled_from([None, 7, 50]),
    st.sampled_from([None, 5, 64]),
)
def test_rows_at_any_offset_match_the_definition(kind, offsets, seed, affine, chunk, piece):
    """Rows whose mean is below their spread (folded) and far above it (centred), in one block,
    cut into pieces smaller than a row (chunk) or summed in small BLAS pieces (piece)."""
    rng = np.random.default_rng(seed)
    x = mixed_rows(rng, (3, 4, 5, 6), offsets)
    chunk = norm_kernel.CHUNK_ELEMS if chunk is None else chunk
    piece = norm_rows.BLAS_PIECE if piece is None else piece
    with mock.patch.object(norm_kernel, "CHUNK_ELEMS", chunk), mock.patch.object(norm_rows, "BLAS_PIECE", piece):
        y, ref = run_and_reference(x, kind, affine, rng)
    assert_close(y, ref, np.float32)


def test_the_fast_path_serves_channels_first_float32_only():
    rng = np.random.default_rng(0)
    x = mixed_rows(rng, (2, 4, 3, 3), [0.0])
    with mock.patch.object(norm_rows, "normalize_rows", wraps=norm_rows.normalize_rows) as spy:
        normcli.norm(x, "group", groups=2)
        normcli.norm(x, "layer", normalized_dims=3)
        assert spy.call_count >= 2
        spy.reset_mock()
        normcli.norm(np.moveaxis(x, 1, -1).copy(), "group", groups=2, layout="NHWC")  # rows are not contiguous
        normcli.norm(x.astype(np.float64), "group", groups=2)  # float64 keeps its own path
        assert spy.call_count == 0


def test_float32_at_1e4_with_std_1_comes_out_with_mean_0_and_std_1():
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((4, 8, 40, 40)) + 1e4).astype(np.float32)
    for kind, options, axes in (
        ("group", {"groups": 4}, (2, 3, 4)),
        ("instance", {}, (2, 3)),
        ("layer", {"normalized_dims": 3}, (1, 2, 3)),
    ):
        y = normcli.norm(x, kind, eps=0.0, **options).astype(np.float64)
        if kind == "group":
            y = y.reshape(4, 4, 2, 40, 40)
        np.testing.assert_allclose(y.mean(axis=axes), 0.0, atol=1e-5)
        np.testing.assert_allclose(y.std(axis=axes), 1.0, atol=1e-5)


def test_a_row_longer_than_a_blas_piece_keeps_float32_accuracy():
    """One statistic of 2^20 values at a positive mean: sums of squares of pieces, added in
    float64, stay at ~1e-7 (one float32 dot over all of it drifts to ~1e-6)."""
    rng = np.random.default_rng(4)
    x = (rng.standard_normal((2, 1, 1024, 1024)) * 0.5 + 0.4).astype(np.float32)
    y = normcli.norm(x, "layer", normalized_dims=3)
    assert_close(y, reference(x, "layer", dims=3), np.float32)
    z = normcli.norm(x, "rms", normalized_dims=3, eps=1e-6)
    assert_close(z, reference(x, "rms", dims=3, eps=1e-6), np.float32)


def test_values_whose_squares_overflow_float32_are_centred_first():
    """At 1e20 with std 1e14, x^2 overflows float32 but (x - mean)^2 does not."""
    rng = np.random.default_rng(5)
    x = (1e20 + rng.standard_normal((2, 4, 8, 8)) * 1e14).astype(np.float32)
    for kind, options in (("group", {"groups": 2}), ("layer", {"normalized_dims": 3})):
        y = normcli.norm(x, kind, eps=0.0, **options)
        assert np.all(np.isfinite(y))
        assert_close(
            y,
            reference(x, kind, eps=0.0, groups=options.get("groups"), dims=options.get("normalized_dims")),
            np.float32,
        )
