"""Exporting plots: PNG decodes, SVG is XML with the curves as paths, PDF is a real PDF, CSV holds the data;
and ``app.py --screenshot`` writes a PNG of the whole window."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from gui_fixtures import *  # noqa: F403
from PySide6.QtGui import QImage

from gui.export import ExportError, export_csv, export_figure, pdf_bytes, plot_table

ROOT = Path(__file__).resolve().parents[1]


def run_app(*args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """``python app.py ARGS`` from the repository root (offscreen unless ``env`` says otherwise)."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen") if env is None else env
    return subprocess.run(
        [sys.executable, "app.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(params=["fit", "loss"])
def plot(request, trained_window):
    w = trained_window
    return w.fit_view.plot if request.param == "fit" else w.training_panel.loss_plot


def test_png(plot, tmp_path):
    out = export_figure(plot, tmp_path / "plot.png")
    img = QImage(str(out))
    assert not img.isNull()
    assert img.width() >= plot.width() and img.height() >= 100
    # non-trivial: more than a blank page
    colours = {img.pixel(x, y) for x in range(0, img.width(), 7) for y in range(0, img.height(), 7)}
    assert len(colours) > 5


def test_svg(plot, tmp_path):
    out = export_figure(plot, tmp_path / "plot.svg")
    text = out.read_text()
    root = ET.fromstring(text)
    assert root.tag.endswith("svg")
    assert "<path" in text
    assert text.count("<path") >= 3  # axes, grid and the curves


def test_pdf(plot, tmp_path):
    out = export_figure(plot, tmp_path / "plot.pdf")
    data = out.read_bytes()
    assert data.startswith(b"%PDF") and len(data) > 1024
    assert pdf_bytes(plot).startswith(b"%PDF")


def test_csv_of_the_fit_view(trained_window, tmp_path):
    w = trained_window
    out = export_csv(tmp_path / "fit.csv", w.fit_view.table())
    rows = list(csv.DictReader(out.open()))
    points = [r for r in rows if r["series"] == "point"]
    assert len(points) == 20
    assert float(points[3]["x"]) == w.state.data.x[3]
    assert float(points[3]["residual"]) == pytest.approx(w.state.data.y[3] - w.state.fit.fitted[3])
    assert {r["series"] for r in rows} == {"point", "fit", "teacher"}


def test_generic_csv_of_a_plot(trained_window, tmp_path):
    header, rows = plot_table(trained_window.training_panel.loss_plot)
    assert tuple(header) == ("series", "x", "y") and len(rows) > 10


def test_unknown_format_and_unwritable_path(trained_window, tmp_path):
    with pytest.raises(ExportError):
        export_figure(trained_window.fit_view.plot, tmp_path / "plot.bmp")
    with pytest.raises(ExportError):
        export_figure(trained_window.fit_view.plot, tmp_path / "missing-dir" / "plot.png")


def test_export_menu_entries_exist(trained_window):
    texts = [a.text() for a in trained_window.fit_view.viewbox.menu.actions()]
    assert "Export plot…" in texts and "Export data (CSV)…" in texts


def test_screenshot_command(tmp_path):
    out = tmp_path / "shot.png"
    proc = run_app("--screenshot", str(out), "--delete", "3")
    assert proc.returncode == 0, proc.stderr
    img = QImage(str(out))
    assert not img.isNull() and img.width() >= 1000 and img.height() >= 600


def test_export_figures_command_writes_what_the_menu_writes(tmp_path):
    """``app.py --export-figures DIR`` (headless, no QT_QPA_PLATFORM needed) writes every plot in every format
    with its data and settings.json, says so, and refuses to replace them without --overwrite."""
    out = tmp_path / "figs"
    env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}
    env["INFLUENCE_LAB_CONFIG_DIR"] = str(tmp_path / "config")
    cmd = ["--export-figures", str(out), "--delete", "3", "--figure-width", "3"]
    proc = run_app(*cmd, env=env, timeout=180)
    assert proc.returncode == 0, proc.stderr
    names = {"data-and-fit", "training-loss", "eps-path-parameters", "eps-path-plane", "homotopy-heatmap"}
    names |= {"homotopy-curves", "homotopy-trajectories", "error-decomposition"}
    expected = {f"{n}.{ext}" for n in names for ext in ("png", "svg", "pdf", "csv")} | {"settings.json"}
    assert {p.name for p in out.iterdir()} == expected
    assert f"wrote {len(expected)} files to {out}" in proc.stdout
    import json

    meta = json.loads((out / "settings.json").read_text())
    assert meta["analysis"]["deleted"] == 3 and meta["figure_size"]["width_in"] == 3.0
    again = run_app(*cmd, env=env, timeout=60)
    assert again.returncode == 2 and "--overwrite" in again.stderr and "Traceback" not in again.stderr


def test_lab_file_opens_a_points_file(tmp_path):
    """``app.py FILE`` opens the file as a drop on the window does (here headless, the session dumped)."""
    import json

    pts = tmp_path / "pts.tsv"
    pts.write_text("# from a logger\nx\ty\n-1\t0.5\n0\t1.5\n1\t0.25\n2\t1\n")
    dump = tmp_path / "session.json"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", INFLUENCE_LAB_DUMP_SESSION=str(dump))
    proc = run_app(str(pts), "--screenshot", str(tmp_path / "s.png"), env=env)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(dump.read_text())["data"]["x"] == [-1.0, 0.0, 1.0, 2.0]


def test_the_context_menu_has_one_export(trained_window):
    plot = trained_window.fit_view.plot
    vb_texts = [a.text() for a in trained_window.fit_view.viewbox.menu.actions()]
    assert vb_texts.count("Export plot…") == 1
    assert plot.scene().contextMenu == []  # no second "Export..." from pyqtgraph's scene
