"""Sessions, preferences, examples and exporting everything: File → Save / Open session (round trip with θ̂),
errors in files as messages with nothing lost, ``--session`` on the command line, recent files and window
geometry in an INI file under tmp_path, Help → Examples, File → Export figures and animation frames."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from gui_fixtures import *  # noqa: F403
from gui_fixtures import TIMEOUT_MS, wait_analysis
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QMessageBox

from core.session import load_session
from gui import examples
from gui.settings import AppSettings

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def analysed_window(qtbot, trained_window):
    w = trained_window
    w.state.delete_point(7)
    w.state.select(7)
    wait_analysis(qtbot, w)
    return w


def _new_window(qtbot):
    from core.problem import default_problem
    from gui.main_window import MainWindow

    w = MainWindow(default_problem())
    w.resize(1200, 800)
    w.show()
    qtbot.waitExposed(w)
    return w


def test_session_round_trip_keeps_the_trained_parameters(qtbot, analysed_window, tmp_path):
    w = analysed_window
    w.decomposition_panel.set_damping(0.02)
    wait_analysis(qtbot, w)
    w.show_panel("homotopy")
    hp = w.homotopy_panel
    hp.scalar.setCurrentIndex(hp.scalar.findData("distance"))
    hp.frames.set_index(60)
    w.eps_panel.frames.set_index(30)
    path = tmp_path / "study.json"
    assert w.save_session(path)
    doc = json.loads(path.read_text())
    assert doc["format"] == "influence-lab-session" and doc["selection"] == 7
    assert doc["analysis"]["damping"] == pytest.approx(0.02)
    assert doc["ui"]["analysed"] == 7 and doc["ui"]["panel"] == "homotopy"
    assert AppSettings().recent_sessions()[0] == str(path.resolve())
    fit = w.state.fit

    w2 = _new_window(qtbot)
    try:
        assert w2.open_session(path)
        wait_analysis(qtbot, w2)
        st = w2.state
        np.testing.assert_array_equal(st.data.x, w.state.data.x)
        np.testing.assert_array_equal(st.data.weight, w.state.data.weight)
        assert st.settings == w.state.settings
        assert st.fit.extra.get("restored"), "θ̂ was read from the file, not retrained"
        np.testing.assert_array_equal(st.fit.theta_hat, fit.theta_hat)
        np.testing.assert_array_equal(st.fit.theta_s, fit.theta_s)
        np.testing.assert_array_equal(st.fit.theta0, fit.theta0)
        assert st.fit.converged and st.fit.grad_norm == pytest.approx(fit.grad_norm, abs=1e-12)
        assert st.selection == 7 and st.analysis_target == 7 and st.damping == pytest.approx(0.02)
        assert st.analysis.complete() and st.analysis.estimates.damping == pytest.approx(0.02)
        assert w2.raised_panel() == "homotopy"
        assert w2.homotopy_panel.scalar.currentData() == "distance"
        assert w2.homotopy_panel.frames.index == 60 and w2.eps_panel.frames.index == 30
        assert st.undo_stack.count() == 0 and "study.json" in w2.windowTitle()
        # the restored analysis equals the original one
        np.testing.assert_allclose(st.analysis.epspath.theta, w.state.analysis.epspath.theta, atol=1e-9)
    finally:
        w2.close()
        assert w2.shutdown()


def test_a_bad_session_file_shows_a_message_and_keeps_everything(
    qtbot, analysed_window, tmp_path, monkeypatch
):
    w = analysed_window
    shown = []
    monkeypatch.setattr(
        QMessageBox, "critical", staticmethod(lambda parent, title, text, *a: shown.append(text))
    )
    good = tmp_path / "good.json"
    assert w.save_session(good)
    doc = json.loads(good.read_text())
    cases = {
        "broken.json": good.read_text()[:-40],
        "newer.json": json.dumps({**doc, "version": 99}),
        "badtheta.json": json.dumps({**doc, "theta_hat": [1.0, 2.0]}),
    }
    rev = w.state.revision
    x = w.state.data.x.copy()
    for name, text in cases.items():
        (tmp_path / name).write_text(text)
        assert not w.open_session(tmp_path / name)
        assert name in shown[-1]
    assert "line" in shown[0] and "newer" in shown[1] and "theta_hat" in shown[2]
    assert w.state.revision == rev and w.state.analysis_target == 7
    np.testing.assert_array_equal(w.state.data.x, x)
    assert not w.open_session(tmp_path / "missing.json") and "missing.json" in shown[-1]


def test_session_on_the_command_line(tmp_path):
    out = tmp_path / "shot.png"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", INFLUENCE_LAB_CONFIG_DIR=str(tmp_path / "cfg"))
    session = examples.EXAMPLES[1].path  # Figure 2: homotopy of point 19
    proc = subprocess.run(
        [
            sys.executable,
            "app.py",
            "--screenshot",
            str(out),
            "--session",
            str(session),
            "--panel",
            "homotopy",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    img = QImage(str(out))
    assert not img.isNull() and img.width() >= 1000
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    proc = subprocess.run(
        [sys.executable, "app.py", "--screenshot", str(out), "--session", str(bad)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and "bad.json" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("ex", examples.EXAMPLES, ids=lambda e: e.file)
def test_examples_open_in_one_click(qtbot, window, ex):
    w = window
    action = next(a for a in w.example_actions if a.text() == ex.title)
    action.trigger()
    wait_analysis(qtbot, w)
    a = w.state.analysis
    if ex.delete:
        assert a.j == ex.j and a.complete()
    else:
        assert w.state.analysis_target is None and w.state.selection == ex.j
    assert w.raised_panel() == ex.panel
    assert w.state.damping == pytest.approx(ex.damping)
    if ex.panel == "eps":
        assert (w.projection.a, w.projection.b) == (0, 3)  # the first hidden neuron's (w, b)
        assert a.epspath.reached == 100 and a.epspath.straightness["tangent_angle_deg"] > 20
    if ex.panel == "homotopy":
        assert w.homotopy_panel.scalar.currentData() == "distance"
    if ex.panel == "schedules":
        from gui.dynamics_tasks import MODE_FIG4

        sp = w.schedules_panel
        assert sp.mode == MODE_FIG4
        qtbot.waitUntil(lambda: sp.record is not None and not sp.is_busy(), timeout=60_000)
        assert sp.record.mode == MODE_FIG4
    if (
        ex.panel == "attribution"
    ):  # the table computes by itself once the tab shows; outliers 5, 10, 12 flagged
        panel = w.attribution_panel
        qtbot.waitUntil(lambda: panel.table is not None and not panel.is_busy(), timeout=60_000)
        assert panel.model.rowCount() == 20 and "loo_cold" in panel.table.columns
        assert tuple(w.state.data.corrupted) == (5, 10, 12)
    if ex.panel == "decomposition":
        gaps = a.estimates.result.decomposition
        first3 = [gaps["warm_start_gap"], gaps["proximity_gap"], gaps["non_convergence_gap"]]
        assert min(first3) > max(gaps["linearization_error"], gaps["solver_error"])


def test_examples_are_reproduced_by_core():
    """The committed example sessions are what gui/examples.py computes with core today."""
    assert examples.check_examples() == []
    for ex in examples.EXAMPLES:
        s = load_session(ex.path)
        assert s.selection == ex.j and s.theta_hat is not None
        assert s.data.weight[ex.j] == (0.0 if ex.delete else 1.0)


def test_export_figures_writes_every_plot_in_every_format(qtbot, analysed_window, tmp_path, monkeypatch):
    w = analysed_window
    w.show_panel("eps")
    out = tmp_path / "figs"
    files = w.export_figures(out)
    assert files is not None
    names = set(w.all_plots())
    assert {
        "data-and-fit",
        "training-loss",
        "eps-path-parameters",
        "eps-path-plane",
        "homotopy-heatmap",
        "homotopy-curves",
        "homotopy-trajectories",
        "error-decomposition",
    } <= names
    for name in names:
        img = QImage(str(out / f"{name}.png"))
        assert not img.isNull() and img.width() > 100, name
        svg = (out / f"{name}.svg").read_text()
        ET.fromstring(svg)
        assert "<path" in svg, name
        pdf = (out / f"{name}.pdf").read_bytes()
        assert pdf.startswith(b"%PDF") and len(pdf) > 1024, name
        lines = (out / f"{name}.csv").read_text().splitlines()
        assert len(lines) > 2, name
    meta = json.loads((out / "settings.json").read_text())
    assert meta["analysis"]["deleted"] == 7 and meta["session"]["selection"] == 7
    assert set(meta["analysis"]["estimates"]["decomposition"]) == {
        "warm_start_gap",
        "proximity_gap",
        "non_convergence_gap",
        "linearization_error",
        "solver_error",
    }
    assert w.raised_panel() == "eps", "the view is restored after exporting"

    # never overwrite silently: the user is asked; No keeps the files, Yes overwrites
    asked = []
    stamp = (out / "error-decomposition.png").stat().st_mtime_ns
    monkeypatch.setattr(
        QMessageBox,
        "question",
        staticmethod(lambda *a, **k: asked.append(a[2]) or QMessageBox.StandardButton.No),
    )
    assert w.export_figures(out) is None
    assert asked and "Overwrite" in asked[0]
    assert (out / "error-decomposition.png").stat().st_mtime_ns == stamp
    monkeypatch.setattr(QMessageBox, "question", staticmethod(lambda *a, **k: QMessageBox.StandardButton.Yes))
    assert w.export_figures(out) is not None
    assert (out / "error-decomposition.png").stat().st_mtime_ns != stamp


def test_export_animation_frames(qtbot, analysed_window, tmp_path):
    w = analysed_window
    files = w.export_frames(tmp_path / "anim", every=25, overwrite=True)
    eps = sorted((tmp_path / "anim" / "eps-path").glob("frame_*.png"))
    hom = sorted((tmp_path / "anim" / "homotopy").glob("frame_*.png"))
    assert len(eps) == 5 and len(hom) == 9 and len(files) == 14 + 4
    first, last = QImage(str(eps[0])), QImage(str(eps[-1]))
    assert not first.isNull() and first.height() > w.fit_view.height()
    assert first != last, "the frames differ"
    # the same animations as a looping GIF and an MP4: decoded, they hold the frames of the PNGs
    import imageio.v3 as iio

    from gui.animation_files import GIF_MAX_WIDTH, qimage_rgb

    for sub, pngs in (("eps-path", eps), ("homotopy", hom)):
        gif = iio.imread(tmp_path / "anim" / f"{sub}.gif", index=None)
        mp4 = iio.imread(tmp_path / "anim" / f"{sub}.mp4", index=None, plugin="FFMPEG")
        assert len(gif) == len(pngs) and len(mp4) == len(pngs), sub
        for k in (0, len(pngs) - 1):
            png = qimage_rgb(QImage(str(pngs[k]))).astype(float)
            h, w_ = png.shape[:2]
            video = mp4[k][:h, :w_, :3].astype(float)
            assert np.abs(video - png).mean() < 6, f"{sub}.mp4 frame {k} differs from its PNG"
            small = QImage(str(pngs[k])).scaledToWidth(min(GIF_MAX_WIDTH, w_))
            ref = qimage_rgb(small).astype(float)
            assert np.abs(gif[k][..., :3].astype(float) - ref).mean() < 12, f"{sub}.gif frame {k}"
    assert "eps-path.gif" in w.statusBar().currentMessage()
    assert w.export_frames(tmp_path / "anim", every=25, overwrite=False) is None


def test_preferences_are_remembered_in_the_ini_file(qtbot, window, isolated_config):
    from dataclasses import replace

    w = window
    w.homotopy_dock.close()  # a layout change to remember
    w.state.set_settings(replace(w.state.settings, steps=1500, lr=0.05))
    w.state.set_damping(0.03)
    w.close()
    ini = isolated_config / "influence-lab.ini"
    assert ini.exists()
    w2 = _new_window(qtbot)
    try:
        w2.restore_preferences()
        assert w2.state.settings.steps == 1500 and w2.state.settings.lr == 0.05
        assert w2.state.damping == pytest.approx(0.03)
        assert w2.homotopy_dock.isHidden(), "the dock layout is restored"
        assert not AppSettings().get("geometry").isEmpty()
    finally:
        w2.close()
        w2.shutdown()


def test_damaged_preferences_fall_back_to_defaults(qtbot, isolated_config):
    ini = isolated_config / "influence-lab.ini"
    ini.write_text('[General]\ntraining_settings="{not json"\ndamping=abc\nrecent_sessions=42\n')
    s = AppSettings()
    assert s.training_settings() is None and s.damping() == pytest.approx(1e-3) and s.recent_sessions() == []


def test_recent_sessions_menu(qtbot, analysed_window, tmp_path, monkeypatch):
    w = analysed_window
    p = tmp_path / "a.json"
    assert w.save_session(p)
    w._fill_recent_menu()
    texts = [a.text() for a in w.recent_menu.actions()]
    assert "a.json" in texts
    shown = []
    monkeypatch.setattr(
        QMessageBox, "critical", staticmethod(lambda parent, title, text, *a: shown.append(text))
    )
    p.unlink()
    w._open_recent(str(p.resolve()))
    assert shown and "no longer exists" in shown[0]
    assert str(p.resolve()) not in w.app_settings.recent_sessions()
    qtbot.wait(10)


def test_drop_a_session_file_opens_it(qtbot, analysed_window, tmp_path):
    w = analysed_window
    p = tmp_path / "drop.json"
    assert w.save_session(p)
    w.state.restore_point(7)
    assert w.open_file(p)
    assert w.state.data.weight[7] == 0.0
    wait_analysis(qtbot, w, timeout=TIMEOUT_MS)
