"""Histograms: mergeable (streamed == whole, exactly), the same counts as NumPy on the same
bins, NaN and inf counted apart; drawn in the fit/transform/stats tables and written to
--stats-json as edges and counts."""

from __future__ import annotations

import json

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from normcli.sketch import Histogram

from conftest import run

finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
values = arrays(np.float64, st.integers(1, 300), elements=st.one_of(finite, st.sampled_from([np.nan, np.inf, -np.inf])))


def whole(x: np.ndarray) -> Histogram:
    h = Histogram()
    h.update(x)
    return h


@settings(max_examples=200, deadline=None)
@given(values, st.lists(st.integers(0, 300), max_size=6))
def test_merged_batches_give_the_counts_of_the_whole_data(x, cuts):
    h = whole(x)
    merged = Histogram()
    for part in np.split(x, sorted(c % (x.size + 1) for c in cuts)):
        merged = merged.merge(whole(part))
    assert merged.to_dict() == h.to_dict()
    streamed = Histogram()  # update batch after batch, as the pipeline does
    for part in np.split(x, sorted(c % (x.size + 1) for c in cuts)):
        streamed.update(part)
    assert streamed.to_dict() == h.to_dict()


@settings(max_examples=200, deadline=None)
@given(values)
def test_counts_equal_numpys_on_the_same_bins_and_nan_inf_are_counted_apart(x):
    h = whole(x)
    ok = x[np.isfinite(x)]
    assert h.nulls == np.isnan(x).sum()
    assert (h.neg_inf, h.pos_inf) == ((x == -np.inf).sum(), (x == np.inf).sum())
    assert h.count == ok.size
    if ok.size:
        assert h.counts.size <= h.max_bins
        counts, _ = np.histogram(ok, bins=h.edges)
        assert counts.tolist() == h.counts.tolist()
        assert h.edges[0] <= ok.min() and ok.max() <= h.edges[-1]


def test_the_range_adapts_and_keeps_the_bins_narrow():
    h = whole(np.linspace(0, 1, 1000, endpoint=False))
    assert h.edges[0] == 0 and h.edges[-1] == 1 and h.counts.size == 64  # width 1/64: [0, 1) in 64 bins
    h.update(np.array([1.0]))  # 1 is in bin 64 of that grid: the width doubles
    assert h.edges[-1] == 1.03125 and h.counts.size == 33  # width 1/32
    h.update(np.array([100.0]))  # a wider range: bins regroup, none is lost
    assert h.count == 1002 and h.edges[-1] >= 100 and h.counts.size <= 64
    assert Histogram.from_dict(json.loads(json.dumps(h.to_dict()))).to_dict() == h.to_dict()


def csv_file(path, rows=3000, seed=7):
    rng = np.random.default_rng(seed)
    price = rng.lognormal(12, 0.5, rows).round(2)
    age = rng.integers(18, 90, rows)
    lines = ["price,age"] + [f"{float(p)!r},{a}" for p, a in zip(price, age, strict=True)]
    path.write_text("\n".join(lines) + "\n")
    return {"price": price, "age": age.astype(float)}


def test_stats_json_holds_the_histograms_before_and_after(tmp_path):
    data = csv_file(tmp_path / "houses.csv")
    r = run("fit", "houses.csv", "-m", "zscore", "-o", "s.json", "--stats-json", "fit.json", cwd=tmp_path)
    assert r.code == 0, r.err
    r = run("transform", "houses.csv", "-s", "s.json", "-o", "out.csv", "--stats-json", "tr.json", cwd=tmp_path)
    assert r.code == 0, r.err
    out = np.genfromtxt(tmp_path / "out.csv", delimiter=",", names=True)
    for name, x in data.items():
        for path in ("fit.json", "tr.json"):
            before = json.loads((tmp_path / path).read_text())["columns"][name]["before"]["histogram"]
            assert before["counts"] == np.histogram(x, bins=before["edges"])[0].tolist()
        after = json.loads((tmp_path / "tr.json").read_text())["columns"][name]["after"]["histogram"]
        assert after["counts"] == np.histogram(out[name], bins=after["edges"])[0].tolist()
        # fit derives the after histogram without a second pass: the same counts in the images of the bins
        fit_after = json.loads((tmp_path / "fit.json").read_text())["columns"][name]["after"]["histogram"]
        assert sum(fit_after["counts"]) == x.size
        assert fit_after["edges"][0] == min(out[name]) or abs(fit_after["edges"][0] - min(out[name])) < 1e-9


def table_lines(err: str, name: str) -> list[str]:
    return [line for line in err.splitlines() if "│" in line and (line.startswith(name) or line.startswith(" "))]


def test_the_tables_draw_a_histogram_per_column_before_and_after(tmp_path):
    csv_file(tmp_path / "houses.csv")
    r = run("fit", "houses.csv", "-m", "zscore", "-o", "s.json", cwd=tmp_path)  # COLUMNS=200: wide enough
    assert r.code == 0 and "histogram" in r.err, r.err
    rows = [line for line in r.err.splitlines() if "before" in line or "after" in line]
    assert len(rows) == 4
    for line in rows:
        bars = line.split("│")[-1].strip()
        assert len(bars) >= 12 and set(bars) <= set(" ▁▂▃▄▅▆▇█") and "█" in bars, line
    r = run("fit", "houses.csv", "-m", "zscore", "-o", "s.json", "--no-hist", cwd=tmp_path)
    assert r.code == 0 and "histogram" not in r.err and "█" not in r.err, r.err
    r = run("stats", "houses.csv", "--hist", cwd=tmp_path)
    assert r.code == 0 and "histogram" in r.text, r.text
    drawn = [line for line in r.text.splitlines() if "│" in line and "█" in line.split("│")[-1]]
    assert [line.split("│")[0].strip() for line in drawn] == ["price", "age"], r.text
    r = run("stats", "houses.csv", "--no-hist", cwd=tmp_path)
    assert r.code == 0 and "█" not in r.text


def test_a_uniform_column_draws_flat_and_a_skewed_one_leans(tmp_path):
    rng = np.random.default_rng(3)
    flat, skew = np.arange(1600.0), rng.exponential(1.0, 1600)
    (tmp_path / "t.csv").write_text(
        "flat,skew\n" + "".join(f"{a},{b}\n" for a, b in zip(flat.tolist(), skew.tolist(), strict=True))
    )
    r = run("stats", "t.csv", "--hist", cwd=tmp_path)
    lines = {line.split("│")[0].strip(): line.split("│")[-1].strip() for line in r.text.splitlines() if "│" in line}
    assert set(lines["flat"]) == {"█"}, lines
    assert lines["skew"][0] == "█" and lines["skew"][-1] in "▁ ", lines
