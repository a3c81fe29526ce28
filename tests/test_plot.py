"""`--plot FILE`: a figure of the distributions before and after, as PNG, SVG, PDF or a
self-contained HTML page, beside the command's main output (which is the same either way)."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from normcli import plot
from normcli.errors import UsageError

from conftest import assert_clean_error, run


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("plot")
    rng = np.random.default_rng(11)
    price, temp = rng.lognormal(12, 0.5, 800), rng.normal(14, 7, 800)
    rows = "".join(f"{p:.2f},{t:.1f}\n" for p, t in zip(price.tolist(), temp.tolist(), strict=True))
    (path / "houses.csv").write_text("price,temperature_c\n" + rows)
    assert run("fit", "houses.csv", "-m", "zscore", "-o", "s.json", "-q", cwd=path).code == 0
    return path


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_a_png_of_the_stated_size_per_column(folder):
    r = run("fit", "houses.csv", "-m", "zscore", "-o", "s2.json", "-q", "--plot", "fit.png", cwd=folder)
    assert r.code == 0, r.err
    width, height = plot.PNG_SIZE
    # one row of panels (before, after) per column
    assert png_size((folder / "fit.png").read_bytes()) == (width * plot.DPI, 2 * height * plot.DPI)
    assert (folder / "s2.json").read_text() == (folder / "s.json").read_text()  # the scaler is written as ever


@pytest.mark.parametrize("ext", ["svg", "html"])
def test_svg_and_html_name_every_column_and_stand_alone(folder, ext):
    r = run("transform", "houses.csv", "-s", "s.json", "-o", "out.csv", "-q", "--plot", f"t.{ext}", cwd=folder)
    assert r.code == 0, r.err
    text = (folder / f"t.{ext}").read_text()
    if ext == "html":
        assert "<th>price</th>" in text and "<th>temperature_c</th>" in text
        assert text.count("<div>before: mean") == 2 and text.count("<div>after: mean") == 2
        assert text.startswith("<!DOCTYPE html>") and text.count("<svg") == 4
        assert "<script" not in text and "src=" not in text and "href=" not in text  # nothing fetched
    else:
        for title in ("price (before)", "price (after)", "temperature_c (before)", "temperature_c (after)"):
            assert title in text, title
        assert text.lstrip().startswith("<?xml") and "<svg" in text


def test_a_pdf_and_the_main_output_is_the_same_with_or_without_a_plot(folder):
    r = run("transform", "houses.csv", "-s", "s.json", "-o", "plain.csv", "-q", cwd=folder)
    assert r.code == 0, r.err
    r = run("transform", "houses.csv", "-s", "s.json", "-o", "plotted.csv", "-q", "--plot", "t.pdf", cwd=folder)
    assert r.code == 0, r.err
    pdf = (folder / "t.pdf").read_bytes()
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    assert (folder / "plotted.csv").read_bytes() == (folder / "plain.csv").read_bytes()


def test_stats_and_inverse_plot_too(folder):
    r = run("stats", "houses.csv", "--plot", "stats.svg", cwd=folder)
    assert r.code == 0 and "temperature_c" in (folder / "stats.svg").read_text(), r.err
    assert "(after)" not in (folder / "stats.svg").read_text()  # stats has one distribution per column
    run("transform", "houses.csv", "-s", "s.json", "-o", "z.csv", "-q", cwd=folder)
    r = run("inverse", "z.csv", "-s", "s.json", "-o", "back.csv", "-q", "--plot", "inv.html", cwd=folder)
    assert r.code == 0 and "inverse: z.csv" in (folder / "inv.html").read_text(), r.err


def test_names_are_text_not_markup_in_every_format(tmp_path):
    (tmp_path / "t.csv").write_text('"<b>$x$</b>",y\n1,2\n3,5\n4,4\n')
    for ext in ("svg", "html"):
        r = run("stats", "t.csv", "--plot", f"p.{ext}", cwd=tmp_path)
        assert r.code == 0, r.err
        assert "&lt;b&gt;$x$&lt;/b&gt;" in (tmp_path / f"p.{ext}").read_text()


def test_an_unknown_extension_is_a_usage_error_and_nothing_is_written(folder):
    r = run("transform", "houses.csv", "-s", "s.json", "-o", "never.csv", "--plot", "t.txt", cwd=folder)
    assert_clean_error(r, 2, "--plot t.txt", ".png, .svg, .pdf or .html")
    assert not (folder / "never.csv").exists()


def test_without_matplotlib_the_error_names_the_extra(monkeypatch):
    real = plot.importlib.util.find_spec
    monkeypatch.setattr(plot.importlib.util, "find_spec", lambda n: None if n == "matplotlib" else real(n))
    with pytest.raises(UsageError, match=r'pip install "normcli\[plot\]"'):
        plot.check_plot_path("report.png")
    assert plot.check_plot_path("report.html") == "html"  # the HTML page needs no matplotlib


def test_lrn_plots_every_value_and_each_channels_mean_and_std(tmp_path):
    rng = np.random.default_rng(5)
    np.save(tmp_path / "acts.npy", rng.gamma(2.0, 3.0, (4, 40, 6, 6)).astype(np.float32))
    r = run("lrn", "acts.npy", "-o", "out.npy", "--size", "5", "-q", cwd=tmp_path)
    assert r.code == 0, r.err
    r = run("lrn", "acts.npy", "-o", "plotted.npy", "--size", "5", "-q", "--plot", "lrn.html", cwd=tmp_path)
    assert r.code == 0, r.err
    assert (tmp_path / "plotted.npy").read_bytes() == (tmp_path / "out.npy").read_bytes()
    page = (tmp_path / "lrn.html").read_text()
    assert "<th>all values</th>" in page and "the 32 most changed of 40 channels" in page
    assert page.count("<tr><td>") == 32
    r = run("lrn", "acts.npy", "-o", "out2.npy", "--size", "5", "-q", "--plot", "lrn.png", cwd=tmp_path)
    assert r.code == 0, r.err
    width, height = plot.PNG_SIZE  # a row for every value, a row for the channels
    assert png_size((tmp_path / "lrn.png").read_bytes()) == (width * plot.DPI, 2 * height * plot.DPI)


def test_norm_plots_like_lrn_and_names_features_for_layer_norm(tmp_path):
    rng = np.random.default_rng(6)
    np.save(tmp_path / "acts.npy", rng.normal(3.0, 2.0, (8, 6, 5, 5)).astype(np.float32))
    r = run("norm", "acts.npy", "-o", "plain.npy", "--kind", "batch", "-q", cwd=tmp_path)
    assert r.code == 0, r.err
    r = run("norm", "acts.npy", "-o", "out.npy", "--kind", "batch", "-q", "--plot", "bn.html", cwd=tmp_path)
    assert r.code == 0, r.err
    assert (tmp_path / "out.npy").read_bytes() == (tmp_path / "plain.npy").read_bytes()
    page = (tmp_path / "bn.html").read_text()
    assert "per channel: mean ± std" in page and page.count("<tr><td>") == 6
    # after batch norm every channel has mean 0 and std 1 (float32 rounding aside)
    rows = [line.split("</td><td>") for line in page.split("<tr><td>")[1:]]
    assert all(abs(float(r[3])) < 1e-5 and abs(float(r[4].split("<")[0]) - 1) < 1e-3 for r in rows), rows
    args = ("--kind", "layer", "--normalized-dims", "3", "-q", "--plot", "ln.svg")
    r = run("norm", "acts.npy", "-o", "ln.npy", *args, cwd=tmp_path)
    assert r.code == 0 and "per feature: mean ± std" in (tmp_path / "ln.svg").read_text(), r.err


@pytest.mark.parametrize("ext", ["png", "html"])
def test_a_column_spanning_the_float64_range_is_drawn_in_stated_units(tmp_path, ext):
    # widths and positions of -1e308..1e308 overflow: the panel is drawn in units of 1e308,
    # which its title or axis says, with no warning and no internal error
    (tmp_path / "big.csv").write_text("a,b\n0,1e308\n0,-1e308\n1,0\n")
    r = run("stats", "big.csv", "--plot", f"big.{ext}", cwd=tmp_path)
    assert r.code == 0, r.err
    assert "warning" not in r.err and "error" not in r.err, r.err
    data = (tmp_path / f"big.{ext}").read_bytes()
    if ext == "html":
        assert b"x 1e+308" in data
    else:
        assert png_size(data) == (plot.PNG_SIZE[0] * plot.DPI, 2 * plot.PNG_SIZE[1] * plot.DPI)
