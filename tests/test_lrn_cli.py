"""`normcli lrn` end to end: conventions, layouts, dtypes, reports and bad input."""

import json

import numpy as np
import pytest

from normcli.lrn_kernel import lrn

from conftest import SAMPLE, assert_clean_error, run
from inprocess import invoke

ACTS = SAMPLE / "activations.npy"


def naive_across(x, lo, hi, k, s, beta, axis):
    x64 = np.moveaxis(x.astype(np.float64), axis, -1)
    c = x64.shape[-1]
    sq = x64**2
    acc = np.zeros_like(x64)
    for i in range(c):
        acc[..., i] = sq[..., max(0, i - lo) : min(c, i + hi + 1)].sum(-1)
    return np.moveaxis(x64 * (k + s * acc) ** -beta, -1, axis)


def test_torch_convention_on_the_sample_activations(tmp_path):
    out = tmp_path / "normed.npy"
    args = ("--convention", "torch", "--size", "5", "--alpha", "1e-4", "--beta", "0.75", "--bias", "2")
    r = run("lrn", ACTS, "-o", out, *args)
    assert r.code == 0 and r.out == b"", r.err
    assert "before" in r.err and "after" in r.err and "zeros" in r.err
    x = np.load(ACTS)
    y = np.load(out)
    assert y.dtype == np.float32 and y.shape == x.shape
    np.testing.assert_allclose(y, naive_across(x, 2, 2, 2.0, 1e-4 / 5, 0.75, 1), rtol=1e-6)


def test_tf_nhwc_and_the_k_alias(tmp_path):
    x = np.random.default_rng(0).random((2, 5, 5, 7)).astype(np.float32)
    np.save(tmp_path / "nhwc.npy", x)
    args = ("--convention", "tf", "--depth-radius", "2", "-k", "1", "--alpha", "1e-4", "--beta", "0.75", "-q")
    r = run("lrn", tmp_path / "nhwc.npy", "-o", tmp_path / "o.npy", *args)
    assert r.code == 0 and r.err == "", r.err
    np.testing.assert_allclose(np.load(tmp_path / "o.npy"), naive_across(x, 2, 2, 1.0, 1e-4, 0.75, 3), rtol=1e-6)


def test_caffe_within_channel(tmp_path):
    x = np.random.default_rng(1).random((2, 3, 6, 6))
    np.save(tmp_path / "a.npy", x)
    r = run(
        "lrn",
        tmp_path / "a.npy",
        "-o",
        tmp_path / "o.npy",
        "--convention",
        "caffe",
        "--region",
        "within",
        "--size",
        "3",
        "-q",
    )
    assert r.code == 0, r.err
    assert np.allclose(np.load(tmp_path / "o.npy"), lrn(x, convention="caffe", region="within", size=3))
    padded = np.pad(x**2, ((0, 0), (0, 0), (1, 1), (1, 1)))
    box = sum(padded[:, :, i : i + 6, j : j + 6] for i in range(3) for j in range(3))
    np.testing.assert_allclose(np.load(tmp_path / "o.npy"), x * (1 + 1.0 / 9 * box) ** -0.75, rtol=1e-12)


def test_explain_prints_window_and_scale_and_writes_nothing(tmp_path):
    r = run("lrn", ACTS, "--convention", "tf", "--depth-radius", "2", "--explain", "-o", tmp_path / "o.npy")
    assert r.code == 0
    assert "channel axis: 3" in r.text and "2 channel(s) before and 2 after" in r.text and "s = alpha" in r.text
    assert not (tmp_path / "o.npy").exists()


def test_stdout_output_and_stats_json(tmp_path):
    r = run("lrn", ACTS, "--size", "3", "-q", "--stats-json", tmp_path / "s.json")
    assert r.code == 0 and r.out[:6] == b"\x93NUMPY"
    (tmp_path / "o.npy").write_bytes(r.out)
    np.testing.assert_allclose(np.load(tmp_path / "o.npy"), lrn(np.load(ACTS), size=3))
    stats = json.loads((tmp_path / "s.json").read_text())
    assert stats["overall"]["before"]["count"] == np.load(ACTS).size
    assert len(stats["channels"]) == 16
    assert stats["overall"]["after"]["max"] < stats["overall"]["before"]["max"]


def test_float16_is_computed_in_float32_and_integers_become_float32(tmp_path):
    x = (np.random.default_rng(2).random((2, 4, 3, 3)) * 100).astype(np.float16)
    np.save(tmp_path / "h.npy", x)
    r = run("lrn", tmp_path / "h.npy", "-o", tmp_path / "o.npy", "--size", "3")
    assert r.code == 0, r.err
    assert "float16 input was computed in float32" in r.err
    y = np.load(tmp_path / "o.npy")
    assert y.dtype == np.float16
    np.testing.assert_allclose(y, lrn(x.astype(np.float32), size=3).astype(np.float16), rtol=1e-3)
    np.save(tmp_path / "i.npy", np.arange(24, dtype=np.int32).reshape(2, 3, 2, 2))
    r = run("lrn", tmp_path / "i.npy", "-o", tmp_path / "i_out.npy", "--size", "3")
    assert r.code == 0 and "int32 input was computed as float32" in r.err
    assert np.load(tmp_path / "i_out.npy").dtype == np.float32


def test_npz_member(tmp_path):
    x = np.random.default_rng(3).random((2, 4, 3, 3)).astype(np.float32)
    np.savez(tmp_path / "a.npz", conv1=x, conv2=x * 2)
    assert_clean_error(run("lrn", tmp_path / "a.npz", "-o", tmp_path / "o.npy"), 2, "--key", "conv1")
    r = run("lrn", tmp_path / "a.npz", "--key", "conv2", "--size", "5", "-o", tmp_path / "o.npy", "-q")
    assert r.code == 0, r.err
    np.testing.assert_allclose(np.load(tmp_path / "o.npy"), lrn(x * 2, size=5), rtol=1e-6)


@pytest.mark.parametrize(
    ("args", "code", "fragment"),
    [
        (("--size", "0"), 2, "--size"),
        (("--depth-radius", "-1", "--convention", "tf"), 2, "--depth-radius"),
        (("--size", "5", "--beta", "-1"), 2, "--beta"),
        (("--size", "5", "--channel-axis", "7"), 2, "--channel-axis"),
        (("--convention", "caffe", "--size", "4"), 2, "odd"),
        (("--convention", "torch", "--region", "within"), 2, "within"),
        (
            (
                "--convention",
                "mxnet",
            ),
            2,
            "mxnet",
        ),
        (("--size", "5", "--bias", "0", "--alpha", "-1"), 1, "<= 0"),
    ],
)
def test_bad_parameters_are_one_line_errors(tmp_path, args, code, fragment):
    out = tmp_path / "o.npy"
    assert_clean_error(invoke("lrn", ACTS, "-o", out, *args), code, fragment)
    assert not out.exists()


def test_bad_arrays(tmp_path):
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    assert_clean_error(invoke("lrn", tmp_path / "obj.npy", "-o", tmp_path / "o.npy"), 1, "pickle")
    np.save(tmp_path / "one.npy", np.ones(5, dtype=np.float32))
    assert_clean_error(invoke("lrn", tmp_path / "one.npy", "-o", tmp_path / "o.npy"), 1, "1-D")
    full = tmp_path / "t.npy"
    np.save(full, np.ones((4, 8, 8, 8), dtype=np.float32))
    full.write_bytes(full.read_bytes()[:-100])
    assert_clean_error(invoke("lrn", full, "-o", tmp_path / "o.npy"), 1, "truncated")
    assert_clean_error(invoke("lrn", ACTS, "--size", "5", "-o", ACTS), 2, "is an input file")
    assert_clean_error(invoke("lrn", ACTS, "--size", "5", "-o", tmp_path / "o.csv"), 2, ".npy")
    assert not (tmp_path / "o.npy").exists()


def test_block_streaming_equals_the_one_shot_kernel(tmp_path):
    from normcli.io.arrays import load_npy
    from normcli.lrn_kernel import resolve_spec
    from normcli.pipeline import lrn_file

    x = np.random.default_rng(5).random((9, 6, 4, 4)).astype(np.float32)
    x[4, 2, 1, 1] = np.nan
    np.save(tmp_path / "x.npy", x)
    spec = resolve_spec(ndim=4, convention="onnx", size=4)
    mm = load_npy(str(tmp_path / "x.npy"))
    result = lrn_file(mm, str(tmp_path / "y.npy"), spec, with_stats=True, block_bytes=2 * x[0].nbytes + 1)
    expected = lrn(x, convention="onnx", size=4)
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), expected)
    assert result.before.overall.count == x.size - 1 and result.before.overall.nulls == 1
    assert result.after.overall.max == pytest.approx(float(np.nanmax(expected)))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.npy", "y.npy"]


def test_huge_activations_are_reported_not_crashed(tmp_path):
    # regression: the report's per-channel RMS squared a Python float, which raises
    # OverflowError past 1e154 (found by the fuzz test)
    x = np.zeros((1, 3, 2, 2), dtype=np.float64)
    x[0, 1] = 2.68e154
    np.save(tmp_path / "big.npy", x)
    r = run("lrn", tmp_path / "big.npy", "-o", tmp_path / "out.npy", "--convention", "torch", "--size", "3")
    assert r.code == 0, r.err
    assert "Traceback" not in r.err and "internal error" not in r.err
    y = np.load(tmp_path / "out.npy")
    assert y.shape == x.shape and np.isfinite(y).all()


def test_a_window_wider_than_the_channels_is_clamped_not_allocated(tmp_path):
    # channels past the edges are zeros, so depth_radius 1e11 is depth_radius C-1 in cost and result
    x = np.random.default_rng(1).random((2, 3, 3, 5)).astype(np.float32)
    np.save(tmp_path / "nhwc.npy", x)
    r = run(
        "lrn",
        tmp_path / "nhwc.npy",
        "-o",
        tmp_path / "out.npy",
        "--convention",
        "tf",
        "--depth-radius",
        "100000000000",
        "-q",
    )
    assert r.code == 0, r.err
    expected = naive_across(x, 4, 4, 1.0, 1.0, 0.5, 3)  # tf defaults: bias 1, alpha 1, beta 0.5
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), expected, rtol=1e-6)
