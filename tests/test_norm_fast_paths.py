"""The float32 fast paths of `normcli norm` that take their sums as BLAS dot products: dots of
at most BLAS_PIECE values (OpenBLAS would run a longer one on its own threads, inside our
thread pool), 4 MB tiles of whole rows, and batch norm's per-channel moments from row sums
where every channel has |mean| <= std (the centred computation elsewhere). Each against the
float64 definition, through the command line and the Python API."""

from __future__ import annotations

from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_norm import assert_close, reference

import normcli
from normcli.tensor import norm_kernel, norm_rows

from conftest import run


@settings(max_examples=80, deadline=None)
@given(
    st.integers(1, 4),
    st.integers(0, 300),
    st.sampled_from([1, 3, 7, 64, norm_rows.BLAS_PIECE]),
    st.integers(0, 2**16),
    st.booleans(),
)
def test_row_sums_in_pieces_match_float64(rows, length, piece, seed, squares):
    """Any row length, cut into any number of pieces (and a shorter last one), sums as float64 does."""
    rng = np.random.default_rng(seed)
    a = (rng.standard_normal((rows, length)) * 3 + 1).astype(np.float32)
    with mock.patch.object(norm_rows, "BLAS_PIECE", piece):
        got = norm_rows._rowdot(a, a if squares else None)
    a64 = a.astype(np.float64)
    want = (a64 * a64).sum(axis=1) if squares else a64.sum(axis=1)
    size = float(np.abs(a64 * a64 if squares else a64).sum(axis=1).max(initial=0.0))
    assert got.dtype == np.float64 and got.shape == (rows,)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6 * max(size, 1.0))


def test_no_blas_dot_is_longer_than_a_piece():
    """A row of 100,003 values (no divisor near the piece size) goes to BLAS in pieces of at
    most BLAS_PIECE values: OpenBLAS runs a dot of more than 10,000 on its own threads."""
    assert norm_rows.BLAS_PIECE <= 10_000
    x = (np.random.default_rng(1).standard_normal((2, 1, 100_003)) + 0.5).astype(np.float32)
    with mock.patch.object(np, "matmul", wraps=np.matmul) as spy:
        y = normcli.norm(x, "layer", normalized_dims=2)
    lengths = [call.args[0].shape[-1] for call in spy.call_args_list]
    assert lengths and max(lengths) <= norm_rows.BLAS_PIECE
    assert_close(y, reference(x, "layer", dims=2), np.float32)


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from([("group", {"groups": 2}), ("instance", {}), ("layer", {"normalized_dims": 3})]),
    st.integers(1, 400),
    st.integers(0, 2**16),
)
def test_row_tiles_of_any_size_give_the_same_result(case, tile, seed):
    kind, options = case
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((5, 4, 6, 7)) * 2 + 0.5).astype(np.float32)
    with mock.patch.object(norm_kernel, "ROW_TILE_ELEMS", tile):
        y = normcli.norm(x, kind, **options)
    ref = reference(x, kind, groups=options.get("groups"), dims=options.get("normalized_dims"))
    assert_close(y, ref, np.float32)


def activations(offsets, shape=(6, 4, 9, 11), seed=0):
    """float32 NCHW activations, channel c at offsets[c] with std 0.5 to 3."""
    rng = np.random.default_rng(seed)
    c = shape[1]
    scale = rng.uniform(0.5, 3, c).reshape(1, c, 1, 1)
    return (rng.standard_normal(shape) * scale + np.asarray(offsets, dtype=np.float64).reshape(1, c, 1, 1)).astype(
        np.float32
    )


def folded_results(x, **options):
    """normcli.norm(x, "batch") and what each call of `_folded_moments` returned."""
    results = []
    real = norm_kernel._folded_moments

    def record(*args):
        results.append(real(*args))
        return results[-1]

    with mock.patch.object(norm_kernel, "_folded_moments", record):
        y = normcli.norm(x, "batch", **options)
    return y, results


def test_batch_norm_takes_row_sums_when_every_channel_is_centred_enough(tmp_path):
    x = activations([0.0, 0.3, -0.5, 0.2])
    np.save(tmp_path / "acts.npy", x)
    y, results = folded_results(x)
    assert len(results) == 1 and results[0] is not None
    assert_close(y, reference(x, "batch"), np.float32)
    r = run("norm", "acts.npy", "-o", "out.npy", "--kind", "batch", "-q", cwd=tmp_path)
    assert r.code == 0 and r.out == b"" and r.err == "", r.err
    assert_close(np.load(tmp_path / "out.npy"), reference(x, "batch"), np.float32)


def test_batch_norm_centres_when_a_channel_sits_far_from_zero(tmp_path):
    """One channel at 1e4 with std ~1: E[x^2] - mean^2 in float32 would lose it, so the
    statistics are taken on centred data; the result keeps mean 0 and std 1 to 1e-5."""
    x = activations([0.0, 1e4, -0.5, 0.2])
    np.save(tmp_path / "acts.npy", x)
    _, results = folded_results(x, eps=0.0)
    assert results == [None]
    r = run("norm", "acts.npy", "-o", "out.npy", "--kind", "batch", "--eps", "0", "-q", cwd=tmp_path)
    assert r.code == 0 and r.err == "", r.err
    y = np.load(tmp_path / "out.npy").astype(np.float64)
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), 0.0, atol=1e-5)
    np.testing.assert_allclose(y.std(axis=(0, 2, 3)), 1.0, atol=1e-5)
    assert_close(y.astype(np.float32), reference(x, "batch", eps=0.0), np.float32)


def test_batch_norm_with_a_nan_spoils_only_its_channel():
    x = activations([0.0, 0.3, -0.5, 0.2])
    x[2, 1, 3, 4] = np.nan
    y = normcli.norm(x, "batch")
    assert np.all(np.isnan(y[:, 1]))
    keep = [0, 2, 3]
    assert_close(y[:, keep], reference(x[:, keep], "batch"), np.float32)


def test_the_thread_pool_keeps_the_order_of_items_and_of_errors():
    """`_map` hands items to the calling thread and the pool as they free up: results come
    back in the order of the items, and of several failures the first item's is raised."""
    import threading
    import time

    seen: set[str] = set()
    caller = threading.current_thread().name
    helped = threading.Event()

    def slow_square(i: int) -> int:
        seen.add(threading.current_thread().name)
        if threading.current_thread().name != caller:
            helped.set()
        if i == 0:  # the caller's first item waits until the helper has taken one
            helped.wait(10)
        time.sleep(0.002 * (i % 3))  # items finish out of order
        return i * i

    with mock.patch.object(norm_kernel, "_threads", lambda: 2):
        assert norm_kernel._map(slow_square, list(range(40))) == [i * i for i in range(40)]
        assert len(seen) == 2  # the caller and one helper

        def fails_from_5(i: int) -> int:
            time.sleep(0.001 * (7 - i % 7))
            if i >= 5:
                raise ValueError(f"item {i}")
            return i

        for _ in range(5):
            try:
                norm_kernel._map(fails_from_5, list(range(12)))
            except ValueError as exc:
                assert str(exc) == "item 5"
            else:
                raise AssertionError("no error raised")


def test_calls_from_two_threads_at_once_give_their_own_results():
    """A Dask worker's threads may call the kernels together; the one helper thread serves
    whichever call comes first, and neither call waits for the other's work."""
    import threading

    rng = np.random.default_rng(4)
    xs = [(rng.standard_normal((6, 40, 33)) * (k + 1)).astype(np.float32) for k in range(4)]
    want = [normcli.norm(x, "layer", normalized_dims=2) for x in xs]
    got: dict[int, np.ndarray] = {}

    def call(k: int) -> None:
        for _ in range(20):
            got[k] = normcli.norm(xs[k], "layer", normalized_dims=2)

    small_tiles = mock.patch.object(norm_kernel, "ROW_TILE_ELEMS", 1 << 10)
    with small_tiles, mock.patch.object(norm_kernel, "_threads", lambda: 2):
        threads = [threading.Thread(target=call, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    for k in range(4):
        np.testing.assert_array_equal(got[k], want[k])


def test_row_buffers_shorten_numpys_buffer_only_inside_and_only_for_long_rows():
    """NumPy's buffer is cut to a multiple of 16 no longer than the row inside, restored
    after (also when the body raises), and left alone for short or very long rows."""
    from normcli.tensor.norm_base import row_buffers

    default = np.getbufsize()
    with row_buffers(729):
        assert np.getbufsize() == 720
    assert np.getbufsize() == default
    with row_buffers(3025):
        assert np.getbufsize() == 3024
    for length in (1, 300, 8192, 290_400):
        with row_buffers(length):
            assert np.getbufsize() == default
    previous = np.setbufsize(256)  # a caller's buffer already shorter than the row is kept
    try:
        with row_buffers(729):
            assert np.getbufsize() == 256
        assert np.getbufsize() == 256
    finally:
        np.setbufsize(previous)
    try:
        with row_buffers(1000):
            raise KeyError("inside")
    except KeyError:
        pass
    assert np.getbufsize() == default


def test_row_buffers_do_not_reach_another_thread():
    """The buffer size is per thread, so a caller's own NumPy work on another thread keeps
    its buffer while a kernel tile runs."""
    import threading

    from normcli.tensor.norm_base import row_buffers

    default = np.getbufsize()
    inside, seen = threading.Event(), threading.Event()
    other: list[int] = []

    def watch() -> None:
        assert inside.wait(5)
        other.append(np.getbufsize())
        seen.set()

    thread = threading.Thread(target=watch)
    thread.start()
    with row_buffers(729):
        inside.set()
        assert seen.wait(5), "the other thread did not look in time"
        assert np.getbufsize() == 720
    thread.join()
    assert other == [default]


@pytest.mark.parametrize(
    ("kind", "kw"),
    [("batch", {}), ("instance", {}), ("group", {"groups": 2}), ("batch", {"running": True})],
)
def test_the_elementwise_passes_run_with_a_buffer_no_longer_than_a_row(kind, kw):
    """Rows of 729 values (27x27 maps): every kernel that broadcasts along them (the float32
    row path, batch norm's apply, the centring of a tile) asks for a 720-value buffer."""
    default = np.getbufsize()
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((2, 4, 27, 27)) + 0.25).astype(np.float32)
    extra = {"running_mean": np.zeros(4), "running_var": np.ones(4)} if kw.pop("running", False) else {}
    sizes: list[int] = []
    real = np.setbufsize

    def spy(size: int) -> int:
        sizes.append(size)
        return real(size)

    with mock.patch.object(np, "setbufsize", spy):
        normcli.norm(x, kind, **kw, **extra)
        assert 720 in sizes
        if kind == "batch" and not extra:  # the exact moments: the tile is centred in float64
            sizes.clear()
            normcli.bn_stats(x, batch_size=2)
            assert 720 in sizes
    assert np.getbufsize() == default


@settings(max_examples=30, deadline=None)
@given(
    st.sampled_from([("batch", {}), ("instance", {}), ("group", {"groups": 2}), ("layer", {"normalized_dims": 2})]),
    st.sampled_from([np.float16, np.float32, np.float64]),
    st.integers(500, 1100),
    st.integers(0, 2**16),
)
def test_rows_in_numpys_buffer_range_give_the_same_bytes_as_the_default_buffer(case, dtype, row, seed):
    """Rows of 500-1100 values (the buffer is shortened from 512 on) give the same bytes with
    the shortened buffer as with NumPy's default: only the iteration changes, not the arithmetic."""
    from normcli.tensor import norm_base

    kind, kw = case
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((3, 4, row)) * 2 + 0.5).astype(dtype)
    gamma, beta = rng.standard_normal(4).astype(dtype), rng.standard_normal(4).astype(dtype)
    if kind == "layer":
        gamma, beta = rng.standard_normal((4, row)).astype(dtype), rng.standard_normal((4, row)).astype(dtype)
    got = normcli.norm(x, kind, gamma=gamma, beta=beta, **kw)
    with mock.patch.object(norm_base, "ROW_BUFFER_MIN", 10**9):
        want = normcli.norm(x, kind, gamma=gamma, beta=beta, **kw)
    np.testing.assert_array_equal(got, want)
    if dtype != np.float16:  # float16 is checked against torch in test_norm
        ref_kw = {"groups": kw.get("groups"), "dims": kw.get("normalized_dims")}
        assert_close(got, reference(x, kind, gamma=gamma, beta=beta, **ref_kw), dtype)
