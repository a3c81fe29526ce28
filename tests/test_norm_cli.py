"""`normcli norm` and `normcli bn-stats` end to end: kinds, layouts, affine, inference with
population statistics, reports, explain, and block streaming."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_norm import assert_close, reference

from normcli.norm_pipeline import norm_file
from normcli.tensor.norm import resolve_norm_spec

from conftest import assert_clean_error, run


def activations(path, shape=(8, 6, 5, 5), dtype=np.float32, seed=0):
    """Conv-like activations: each channel with its own offset and scale."""
    rng = np.random.default_rng(seed)
    c = shape[1]
    x = rng.standard_normal(shape) * rng.uniform(0.5, 3, c).reshape(1, c, *[1] * (len(shape) - 2))
    x += rng.uniform(-4, 4, c).reshape(1, c, *[1] * (len(shape) - 2))
    x = x.astype(dtype)
    np.save(path, x)
    return x


@pytest.mark.parametrize(
    ("kind", "args", "ref"),
    [
        ("batch", (), {}),
        ("layer", ("--normalized-dims", "3"), {"dims": 3}),
        ("instance", (), {}),
        ("group", ("--groups", "3"), {"groups": 3}),
        ("rms", ("--normalized-dims", "1"), {"dims": 1}),
    ],
)
def test_each_kind_writes_the_normalized_array_and_a_report(tmp_path, kind, args, ref):
    x = activations(tmp_path / "acts.npy")
    r = run("norm", "acts.npy", "-o", "out.npy", "--kind", kind, *args, cwd=tmp_path)
    assert r.code == 0 and r.out == b"", r.err
    eps = float(np.finfo(np.float32).eps) if kind == "rms" else 1e-5
    assert_close(np.load(tmp_path / "out.npy"), reference(x, kind, eps=eps, **ref), np.float32)
    assert f"norm ({kind}, torch" in r.err
    assert "before" in r.err and "after" in r.err
    label = "feature" if kind in ("layer", "rms") else "channel"
    assert f"the 5 {label}s whose scale changed most" in r.err


def test_nhwc_layout_and_keras_defaults(tmp_path):
    x = np.moveaxis(activations(tmp_path / "nchw.npy"), 1, -1).copy()
    np.save(tmp_path / "nhwc.npy", x)
    r = run(
        "norm", "nhwc.npy", "-o", "a.npy", "--kind", "group", "--groups", "2", "--layout", "NHWC", "-q", cwd=tmp_path
    )
    assert r.code == 0 and r.err == "", r.err
    assert_close(np.load(tmp_path / "a.npy"), reference(x, "group", axis=3, groups=2), np.float32)
    r = run("norm", "nhwc.npy", "-o", "k.npy", "--kind", "batch", "--convention", "keras", "-q", cwd=tmp_path)
    assert r.code == 0, r.err
    assert_close(np.load(tmp_path / "k.npy"), reference(x, "batch", axis=3, eps=1e-3), np.float32)


def test_affine_from_a_state_npz_and_from_npy_files(tmp_path):
    x = activations(tmp_path / "acts.npy")
    w, b = np.linspace(0.5, 2, 6), np.linspace(-1, 1, 6)
    np.savez(tmp_path / "bn.npz", weight=w, bias=b, running_mean=np.zeros(6), running_var=np.ones(6))
    np.save(tmp_path / "g.npy", w)
    np.save(tmp_path / "b.npy", b)
    want = reference(x, "batch", gamma=w, beta=b)
    r = run("norm", "acts.npy", "-o", "a.npy", "--kind", "batch", "--affine", "bn.npz", "-q", cwd=tmp_path)
    assert r.code == 0, r.err
    assert_close(np.load(tmp_path / "a.npy"), want, np.float32)
    r = run(
        "norm",
        "acts.npy",
        "-o",
        "g.npy.out.npy",
        "--kind",
        "batch",
        "--gamma",
        "g.npy",
        "--beta",
        "b.npy",
        "-q",
        cwd=tmp_path,
    )
    assert r.code == 0, r.err
    assert_close(np.load(tmp_path / "g.npy.out.npy"), want, np.float32)


def test_bn_stats_then_inference_with_the_population_statistics(tmp_path):
    batches = [activations(tmp_path / f"b{i}.npy", shape=(4, 3, 6, 6), seed=i) for i in range(3)]
    r = run("bn-stats", "b0.npy", "b1.npy", "b2.npy", "-o", "bn.npz", cwd=tmp_path)
    assert r.code == 0 and r.out == b"", r.err
    assert "3 mini-batches" in r.err and "m = 144 values per channel" in r.err and "running_var" in r.err
    with np.load(tmp_path / "bn.npz", allow_pickle=False) as bn:
        mean, var = bn["running_mean"], bn["running_var"]
        assert int(bn["num_batches_tracked"]) == 3
    m = 4 * 6 * 6
    means = [b.astype(np.float64).mean(axis=(0, 2, 3)) for b in batches]
    variances = [b.astype(np.float64).var(axis=(0, 2, 3)) for b in batches]
    np.testing.assert_allclose(mean, np.mean(means, axis=0), rtol=1e-12)
    np.testing.assert_allclose(var, m / (m - 1) * np.mean(variances, axis=0), rtol=1e-12)

    new = activations(tmp_path / "new.npy", shape=(2, 3, 6, 6), seed=9)
    r = run("norm", "new.npy", "-o", "out.npy", "--kind", "batch", "--stats", "bn.npz", cwd=tmp_path)
    assert r.code == 0, r.err
    assert "fixed statistics" in r.err
    assert_close(np.load(tmp_path / "out.npy"), reference(new, "batch", mean=mean, var=var), np.float32)


def test_bn_stats_splits_one_array_into_minibatches_with_keras_momentum(tmp_path):
    x = activations(tmp_path / "acts.npy", shape=(10, 3, 2, 2))
    nhwc = np.moveaxis(x, 1, -1).copy()
    np.save(tmp_path / "nhwc.npy", nhwc)
    args = ("--batch-size", "4", "--momentum", "0.9", "--convention", "keras", "-q")
    r = run("bn-stats", "nhwc.npy", "-o", "k.npz", *args, "--stats-json", "k.json", cwd=tmp_path)
    assert r.code == 0 and r.err == "", r.err
    moving_mean, moving_var = np.zeros(3), np.ones(3)
    for start in (0, 4, 8):
        b = nhwc[start : start + 4].astype(np.float64)
        moving_mean = 0.9 * moving_mean + 0.1 * b.mean(axis=(0, 1, 2))
        moving_var = 0.9 * moving_var + 0.1 * b.var(axis=(0, 1, 2))
    with np.load(tmp_path / "k.npz", allow_pickle=False) as k:
        assert sorted(k.files) == ["moving_mean", "moving_variance", "population_mean", "population_var"]
        np.testing.assert_allclose(k["moving_mean"], moving_mean, rtol=1e-12)
        np.testing.assert_allclose(k["moving_variance"], moving_var, rtol=1e-12)
    report = json.loads((tmp_path / "k.json").read_text())
    assert report["batches"] == 3 and report["values_per_batch"] == [16, 16, 8]
    assert report["arrays"]["moving_mean"] == pytest.approx(moving_mean.tolist(), rel=1e-12)


def test_stats_from_a_zscore_scaler_equal_training_mode(tmp_path):
    x = activations(tmp_path / "acts.npy", dtype=np.float64)
    r = run("fit", "acts.npy", "-m", "zscore", "--axis", "1", "-o", "z.json", "-q", cwd=tmp_path)
    assert r.code == 0, r.err
    r = run("norm", "acts.npy", "-o", "inf.npy", "--kind", "batch", "--stats", "z.json", "-q", cwd=tmp_path)
    assert r.code == 0, r.err
    # the scaler's std is the population one, so inference with it is training mode
    assert_close(np.load(tmp_path / "inf.npy"), reference(x, "batch"), np.float64)


def test_explain_writes_nothing(tmp_path):
    activations(tmp_path / "acts.npy")
    r = run("norm", "acts.npy", "--kind", "group", "--groups", "3", "--explain", cwd=tmp_path)
    assert r.code == 0, r.err
    lines = r.text.splitlines()
    assert lines[0] == "input: acts.npy float32 (8, 6, 5, 5)"
    assert "kind: group (torch.nn.functional.group_norm / nn.GroupNorm)" in lines
    statistics = "statistics: one per sample and group (3 groups of 2 channels), reduced over axes [2, 3]"
    assert statistics + " and over the channels of each group" in lines
    assert "eps: 1e-05 (torch default)" in lines
    assert "affine: none (gamma = 1, beta = 0)" in lines
    assert sorted(p.name for p in tmp_path.iterdir()) == ["acts.npy"]


def test_stats_json_and_quiet(tmp_path):
    activations(tmp_path / "acts.npy")
    r = run("norm", "acts.npy", "-o", "o.npy", "--kind", "instance", "-q", "--stats-json", "s.json", cwd=tmp_path)
    assert r.code == 0 and r.err == "" and r.out == b"", r.err
    data = json.loads((tmp_path / "s.json").read_text())
    assert data["kind"] == "instance" and data["eps"] == 1e-5 and data["shape"] == [8, 6, 5, 5]
    assert len(data["channels"]) == 6
    for channel in data["channels"]:
        assert channel["after"]["mean"] == pytest.approx(0, abs=1e-6)
        assert channel["after"]["std"] == pytest.approx(1, abs=1e-4)
        assert channel["before"]["count"] == 8 * 25


def test_float16_and_stdout(tmp_path):
    x = activations(tmp_path / "h.npy", dtype=np.float16)
    r = run("norm", "h.npy", "--kind", "batch", cwd=tmp_path)
    assert r.code == 0, r.err
    assert "float16 input was computed in float32 and cast back" in r.err
    out = tmp_path / "from_stdout.npy"
    out.write_bytes(r.out)
    y = np.load(out)
    assert y.dtype == np.float16
    np.testing.assert_allclose(y, reference(x, "batch"), atol=4e-3)


def test_a_failed_norm_leaves_the_existing_output(tmp_path):
    np.save(tmp_path / "c.npy", np.ones((4, 2, 3), dtype=np.float32))
    (tmp_path / "out.npy").write_bytes(b"keep")
    r = run("norm", "c.npy", "-o", "out.npy", "--kind", "instance", "--eps", "0", cwd=tmp_path)
    assert_clean_error(r, 1, "variance + eps <= 0", "--eps > 0")
    assert (tmp_path / "out.npy").read_bytes() == b"keep"


@pytest.mark.parametrize(
    ("kind", "options"),
    [("batch", {}), ("group", {"groups": 2}), ("layer", {"normalized_dims": 2}), ("rms", {"normalized_dims": 3})],
)
def test_small_blocks_give_the_same_output_as_one_block(tmp_path, kind, options):
    """Batch norm's two passes and the one-pass kinds agree whatever the block size."""
    x = (np.random.default_rng(1).standard_normal((37, 4, 3, 5)) * 3 + 100).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    src = np.load(tmp_path / "x.npy", mmap_mode="r")
    spec = resolve_norm_spec(ndim=4, shape=x.shape, kind=kind, **options)
    norm_file(src, str(tmp_path / "whole.npy"), spec, with_stats=True, block_bytes=1 << 30)
    small = norm_file(src, str(tmp_path / "small.npy"), spec, with_stats=True, block_bytes=4 * 60 * 7)
    # equal to float32 rounding (batch norm merges its per-block moments in another grouping)
    np.testing.assert_allclose(np.load(tmp_path / "whole.npy"), np.load(tmp_path / "small.npy"), rtol=0, atol=1e-6)
    assert small.after is not None and small.after.overall.count == x.size
    dims = options.get("normalized_dims")
    assert_close(
        np.load(tmp_path / "small.npy"),
        reference(
            x,
            kind,
            groups=options.get("groups"),
            dims=dims,
            eps=float(np.finfo(np.float32).eps) if kind == "rms" else 1e-5,
        ),
        np.float32,
    )
