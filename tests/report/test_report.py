"""Leaderboard files, plots and the HTML page (rendered in headless Chromium)."""

import base64
import csv
import io
import re

import pytest
from PIL import Image

from tests.report.browser import has_colour, screenshot
from tests.report.synthetic import Tree, make_config
from tests.report.test_scoring import BASE, INSTRUCT
from workflow.report.plots import PLOTS, write_plots
from workflow.report.scoring import leaderboard
from workflow.report.tables import markdown, write_all

OUTPUTS = {"csv": "leaderboard.csv", "md": "leaderboard.md", "html": "leaderboard.html",
           "benchmarks": "benchmarks.csv", "cells": "cells.csv"}  # fmt: skip
# Colours the page must show once rendered: a flagged grid cell (CSS) and
# matplotlib's first bar colour (only inside the embedded ranking PNG).
FLAGGED_RGB = (0xFB, 0xD5, 0xD5)
BAR_RGB = (0x1F, 0x77, 0xB4)


def mixed_board(tmp_path):
    """Three agents: one clean with 2 seeds, one with a failed, a flagged and a
    missing-model cell, and one with a cell not yet run (incomplete)."""
    config = make_config({"clean": {"seeds": [1, 2]}, "messy": {}, "partial": {}, "again": {"reprompt": True}})
    tree = Tree(tmp_path, config)
    tree.baselines(BASE, INSTRUCT)
    for model in ("m1", "m2"):
        for bench in ("b1", "b2"):
            for seed, value in ((1, 0.6), (2, 0.7)):
                tree.cell("clean", model, bench, seed, value=value, seconds=5 * 3600)
            tree.cell("again", model, bench, value=0.8, mode="reprompted", seconds=9 * 3600)
            if (model, bench) != ("m2", "b2"):
                tree.cell("partial", model, bench, value=0.9)
    tree.cell("messy", "m1", "b1", value=0.9, status="failed", reason="Traceback\nValueError: vLLM died")
    tree.cell("messy", "m2", "b1", value=0.9, flagged=True, reasons=["contamination: trained on test questions"])
    tree.cell("messy", "m1", "b2", status="missing", reason="no model at job/final_model")
    tree.cell("messy", "m2", "b2", value=0.45, seconds=1800)
    return config, leaderboard(config, tree.results)


def write_everything(tmp_path):
    config, board = mixed_board(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    plots = {name: out / "plots" / f"{name}.png" for name in PLOTS}
    write_plots(board, plots)
    write_all(board, {k: out / v for k, v in OUTPUTS.items()}, plots)
    return board, out, plots


def test_leaderboard_csv_rows_and_sections(tmp_path):
    board, out, _ = write_everything(tmp_path)
    rows = {r["agent"]: r for r in csv.DictReader(open(out / "leaderboard.csv"))}
    assert list(rows) == ["clean", "messy", "partial", "again", "Base models (zero-shot)", "Official instruct models"]
    assert rows["clean"]["rank"] == "1" and float(rows["clean"]["score"]) == pytest.approx(0.65)
    assert float(rows["clean"]["std"]) == pytest.approx(0.0707106781)
    messy_b1 = (BASE[("m1", "b1")] + BASE[("m2", "b1")]) / 2  # failed and flagged: both base
    messy_b2 = (BASE[("m1", "b2")] + 0.45) / 2  # missing model: base
    assert float(rows["messy"]["b1"]) == pytest.approx(messy_b1)
    assert float(rows["messy"]["score"]) == pytest.approx(0.6 * messy_b1 + 0.4 * messy_b2)
    assert (rows["messy"]["n_failed"], rows["messy"]["n_flagged"], rows["messy"]["n_missing"]) == ("1", "1", "1")
    assert rows["partial"]["complete"] == "False" and rows["partial"]["score"] == "" and rows["partial"]["rank"] == ""
    assert rows["again"]["section"] == "reprompted" and rows["again"]["rank"] == "1"
    assert rows["Base models (zero-shot)"]["section"] == "reference"
    assert float(rows["clean"]["hours_mean"]) == pytest.approx(5.0)


def test_benchmark_and_cell_tables(tmp_path):
    _, out, _ = write_everything(tmp_path)
    bench = [r for r in csv.DictReader(open(out / "benchmarks.csv")) if r["agent"] == "clean"]
    assert {r["benchmark"] for r in bench} == {"b1", "b2"}
    assert all(float(r["mean"]) == pytest.approx(0.65) and r["seeds_scored"] == "2" for r in bench)
    cells = list(csv.DictReader(open(out / "cells.csv")))
    assert len(cells) == 8 + 4 + 4 + 4
    flagged = next(c for c in cells if c["agent"] == "messy" and c["outcome"] == "flagged")
    assert flagged["source"] == "base_fallback" and float(flagged["score"]) == BASE[("m2", "b1")]
    pending = next(c for c in cells if c["agent"] == "partial" and c["model"] == "m2" and c["benchmark"] == "b2")
    assert pending["source"] == "pending" and pending["score"] == ""


def test_markdown_shows_grid_marks_and_reasons(tmp_path):
    _, board = mixed_board(tmp_path)
    text = markdown(board)
    assert "## Reprompted agents" in text and "## Reference rows" in text
    assert "incomplete (3/4 cells scored)" in text
    messy = text.split("### messy")[1].split("###")[0]
    m1 = next(line for line in messy.splitlines() if line.startswith("| m1 |"))
    assert "10.0 F" in m1 and "30.0 M" in m1
    assert "X" in next(line for line in messy.splitlines() if line.startswith("| m2 |"))
    assert "failed: ValueError: vLLM died" in text and "flagged: contamination" in text
    clean = text.split("### clean")[1].split("###")[0]
    assert "65.0 ±7.1" in clean


def test_plots_are_pngs_that_open(tmp_path):
    board, _, plots = write_everything(tmp_path)
    for name, path in plots.items():
        with Image.open(path) as image:
            image.load()
            assert image.format == "PNG", name
            assert image.width > 300 and image.height > 200, (name, image.size)
            # Not a blank canvas: many distinct colours.
            assert len(image.convert("RGB").getcolors(maxcolors=1 << 20)) > 20, name


def test_plots_with_no_complete_agent_still_open(tmp_path):
    config = make_config({"a": {}})
    board = leaderboard(config, tmp_path / "results")  # nothing run at all
    plots = {name: tmp_path / f"{name}.png" for name in PLOTS}
    write_plots(board, plots)
    for path in plots.values():
        with Image.open(path) as image:
            image.load()


def test_html_embeds_every_plot(tmp_path):
    _, out, plots = write_everything(tmp_path)
    page = (out / "leaderboard.html").read_text()
    embedded = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(embedded) == len(plots)
    for data in embedded:
        with Image.open(io.BytesIO(base64.b64decode(data))) as image:
            image.load()
    assert 'class="flagged"' in page and 'class="fallback"' in page and 'class="pending"' in page
    assert "vLLM died" in page  # the reason, as a tooltip


def test_html_renders_in_headless_chromium(tmp_path):
    _, out, _ = write_everything(tmp_path)
    image = screenshot(out / "leaderboard.html", tmp_path / "shot.png", (1200, 4000))
    assert image.size == (1200, 4000)
    assert has_colour(image, FLAGGED_RGB), "the flagged grid cell is not on the rendered page"
    assert has_colour(image, BAR_RGB, at_least=500), "the embedded ranking plot did not render"
