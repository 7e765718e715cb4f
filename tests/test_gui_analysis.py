"""The deletion workflow driven as a user would: click a point, Del → the estimates overlay the fit, the ε-path,
homotopy and error-decomposition panels fill for that point; undo clears it; λ recomputes; sliders animate;
a new click cancels the old analysis; closing mid-computation leaves no thread; the main thread stays fluid."""

from __future__ import annotations

import os
import time
from dataclasses import replace

import numpy as np
import pytest
from gui_fixtures import *  # noqa: F403
from gui_fixtures import TIMEOUT_MS, click_data, wait_analysis, wait_drawn, wait_idle
from PySide6.QtCore import QElapsedTimer, Qt, QTimer

from core.deletion.responses import GAP_NAMES
from gui.analysis import OVERLAY_ESTIMATES, AnalysisKey, homotopy_task
from gui.jobs import live_threads


def delete_by_click(qtbot, w, j: int) -> float:
    """Click point j, press Del; return the time of the key press (perf_counter)."""
    ds = w.state.data
    click_data(qtbot, w.fit_view, ds.x[j], ds.y[j])
    assert w.state.selection == j
    w.fit_view.plot.setFocus()
    t0 = time.perf_counter()
    qtbot.keyClick(w.fit_view.plot, Qt.Key.Key_Delete)
    return t0


@pytest.fixture
def analysed_window(qtbot, trained_window):
    w = trained_window
    delete_by_click(qtbot, w, 7)
    wait_analysis(qtbot, w)
    return w


def test_click_delete_fills_every_panel_and_undo_clears_it(qtbot, trained_window, capsys):
    w = trained_window
    drawn = {}
    w.state.analysisChanged.connect(lambda part: drawn.setdefault(part, time.perf_counter()))
    t0 = delete_by_click(qtbot, w, 7)
    assert w.state.data.weight[7] == 0.0 and w.state.analysis_target == 7
    wait_analysis(qtbot, w)
    a = w.state.analysis
    assert a.j == 7 and a.complete() and not a.errors
    # the model the deletion is analysed against is the one trained WITH the point (w_7 = 1)
    assert a.base.fingerprint != w.state.fit.fingerprint
    # estimates overlay: six curves on the display grid, each in the legend (which toggles them)
    for name in OVERLAY_ESTIMATES:
        xs, ys = w.fit_view.estimate_curves[name].getData()
        assert len(xs) == len(w.state.fit.grid) and np.all(np.isfinite(ys))
        np.testing.assert_allclose(ys, a.estimates.curves[name])
    assert len(w.fit_view._analysis_in_legend) == 7  # six estimates + f(θ(ε); x)
    # the LOO cold estimate is the retrained model without the point: the current fit
    np.testing.assert_allclose(a.estimates.curves["loo_cold"], w.state.fit.curve, atol=1e-6)
    # ε-path panel: every parameter against ε, the projection, the fit view follows the slider
    ep = w.eps_panel
    assert ep.record is not None and ep.record.j == 7 and ep.record.reached == 100
    d = w.state.fit.theta_hat.size
    assert len(ep.param_curves) == d
    assert len(ep.param_curves[0].getData()[0]) == 101
    assert len(ep.proj_path.getData()[0]) == 101
    assert "Straightness" in ep.readout.text()
    # homotopy panel: heatmap over (t, ε), family of curves, trajectories
    hp = w.homotopy_panel
    assert hp.record is not None and hp.record.j == 7
    assert hp.image.image.shape == (41, 201)
    assert len(hp.family) == 41 and len(hp.trajs) == 41
    # decomposition: five bars
    dp = w.decomposition_panel
    assert dp.record is not None and dp.record.j == 7
    assert set(dp.gaps()) == set(GAP_NAMES)
    click_to_drawn = drawn["estimates"] - t0
    with capsys.disabled():
        print(
            f"\n[timing] click → estimates drawn {1000 * click_to_drawn:.0f} ms; kinds: "
            + ", ".join(f"{k} {1000 * v:.0f} ms" for k, v in sorted(w.controller.timings.items()))
        )
    assert click_to_drawn < 5.0

    # undo: the point is back, the analysis gone, every overlay cleared
    qtbot.keyClick(w.fit_view.plot, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert w.state.data.weight[7] == 1.0
    assert w.state.analysis_target is None and w.state.analysis is None
    for curve in w.fit_view.estimate_curves.values():
        assert len(curve.getData()[0] or []) == 0
    assert ep.record is None and hp.record is None and dp.record is None
    assert not w.fit_view.analysis_legend.isVisible()
    wait_idle(qtbot, w)
    # redo brings the analysis back
    qtbot.keyClick(
        w.fit_view.plot, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    )
    assert w.state.analysis_target == 7
    wait_analysis(qtbot, w)
    assert w.state.analysis.complete()


def test_damping_control_recomputes_the_decomposition(qtbot, analysed_window):
    w = analysed_window
    dp = w.decomposition_panel
    before = dp.gaps()
    assert dp.record.damping == pytest.approx(1e-3)
    dp.set_damping(0.1)
    assert w.state.damping == pytest.approx(0.1)
    assert "computing" in dp.lam_status.text()
    qtbot.waitUntil(
        lambda: dp.record is not None and dp.record.damping == pytest.approx(0.1), timeout=TIMEOUT_MS
    )
    after = dp.gaps()
    # docs/science.md §3: more damping raises the proximity gap and lowers the linearisation error
    assert after["proximity_gap"] > before["proximity_gap"]
    assert after["linearization_error"] < before["linearization_error"]
    # the ε-path and homotopy were not recomputed
    assert w.state.analysis.epspath is not None and w.state.analysis.homotopy is not None
    # the slider works too (log scale), debounced: several moves → one recompute with the last value
    submitted = []
    w.runner.jobsChanged.connect(lambda: submitted.append(w.runner.is_running("estimates")))
    for v in (-20, -25, -30):
        dp.lam_slider.setValue(v)
    assert w.state.damping == pytest.approx(1e-3)
    qtbot.waitUntil(lambda: dp.record.damping == pytest.approx(1e-3), timeout=TIMEOUT_MS)
    wait_analysis(qtbot, w)
    # bad input is refused and marked
    dp.lam_edit.setText("-1")
    dp.lam_edit.editingFinished.emit()
    assert w.state.damping == pytest.approx(1e-3) and "fde2e1" in dp.lam_edit.styleSheet()


def test_parameter_space_toggle_and_linear_scale(qtbot, analysed_window):
    dp = analysed_window.decomposition_panel
    dp.param_space.setChecked(True)
    assert dp.gaps() == dp.record.result.decomposition_params
    dp.log.setChecked(False)
    heights = dp.bars.opts["height"]
    np.testing.assert_allclose(heights, [dp.record.result.decomposition_params[g] for g in GAP_NAMES])
    dp.function_space.setChecked(True)
    dp.log.setChecked(True)


def test_eps_slider_and_play_move_the_fit_view(qtbot, analysed_window):
    w = analysed_window
    ep = w.eps_panel
    rec = ep.record
    for k in (0, 37, 100):
        ep.frames.set_index(k)
        xs, ys = w.fit_view.eps_curve.getData()
        np.testing.assert_allclose(ys, rec.curves[k])
        assert ep.eps_line.value() == pytest.approx(rec.eps[k])
    # projection: default the first hidden neuron (W1[0,0], b1[0]); principal components on request
    assert (w.projection.a, w.projection.b) == (0, 3)
    np.testing.assert_allclose(ep.proj_path.getData()[0], rec.theta[:, 0])
    w.eps_panel.selector.mode.setCurrentIndex(w.eps_panel.selector.mode.findData("pca"))
    assert w.projection.mode == "pca"
    wait_drawn(qtbot)  # the panels redraw their planes in a later turn of the event loop
    np.testing.assert_allclose(ep.proj_path.getData()[1], rec.pc_theta[:, 1])
    assert "PC 1" in ep.proj_plot.getPlotItem().getAxis("bottom").labelText
    # Space plays the animation in view, at ~30 Hz; Space again pauses
    ep.frames.set_index(0)
    w.show_panel("eps")
    qtbot.wait(50)
    w.fit_view.plot.setFocus()
    qtbot.keyClick(w.fit_view.plot, Qt.Key.Key_Space)
    assert ep.frames.playing
    qtbot.waitUntil(lambda: ep.frames.index > 10, timeout=TIMEOUT_MS)
    qtbot.keyClick(w.fit_view.plot, Qt.Key.Key_Space)
    assert not ep.frames.playing
    k = ep.frames.index
    qtbot.wait(120)
    assert ep.frames.index == k


def test_homotopy_time_slider_and_scalars(qtbot, analysed_window):
    w = analysed_window
    w.show_panel("homotopy")
    hp = w.homotopy_panel
    rec = hp.record
    hp.frames.set_index(40)
    for e in (0, 20, 40):
        np.testing.assert_allclose(hp.family[e].getData()[1], rec.curves[40, e])
    assert hp.time_line.value() == pytest.approx(rec.times[40])
    pts = hp.traj_now.getData()
    np.testing.assert_allclose(pts[0], rec.theta[40, :, 0])
    for name in ("loss_j", "distance", "train_loss", "full_loss", "param"):
        hp.scalar.setCurrentIndex(hp.scalar.findData(name))
        field, is_log = hp.scalar_field()
        assert field.shape == (201, 41)
        np.testing.assert_allclose(hp.image.image, field.T[::-1])
    assert hp.param.isEnabled()
    hp.param.setCurrentIndex(5)
    np.testing.assert_allclose(hp.image.image, rec.theta[:, :, 5].T[::-1])
    assert "θ" in hp.heat_plot.getPlotItem().titleLabel.text
    # distance field: 0 nowhere but θ*₋ⱼ is θ(∞, 0), the polished end of the ε = 0 run
    assert rec.scalars["distance"][-1, -1] < rec.scalars["distance"][0, -1]


def test_a_new_deletion_cancels_the_old_analysis(qtbot, trained_window):
    w = trained_window
    seen = []
    w.state.analysisChanged.connect(lambda part: seen.append((part, getattr(w.state.analysis, "j", None))))
    w.state.delete_point(3)
    w.state.select(3)
    qtbot.wait(80)  # the analysis of 3 has started
    w.state.delete_point(12)
    w.state.select(12)
    wait_analysis(qtbot, w)
    a = w.state.analysis
    assert a.j == 12
    for part in ("epspath", "estimates", "homotopy"):
        assert getattr(a, part).j == 12
    # no result for point 3 was ever installed after 12 was requested
    after = seen[[p for p, _ in seen].index("clear", 1) :] if seen.count(("clear", None)) > 1 else seen
    assert all(j in (12, None) for part, j in after if part in ("epspath", "estimates", "homotopy"))


def test_analyse_without_deleting_uses_the_current_fit(qtbot, trained_window):
    w = trained_window
    w.state.select(5)
    w.fit_view.plot.setFocus()
    qtbot.keyClick(w.fit_view.plot, Qt.Key.Key_I)
    assert w.state.analysis_target == 5 and w.state.data.weight[5] == 1.0
    wait_analysis(qtbot, w)
    a = w.state.analysis
    assert a.base is w.state.fit, "no retraining: the base of the analysis is the current fit"
    assert a.epspath.j == 5 and a.estimates.j == 5


def test_an_edit_reruns_the_analysis_for_the_new_points(qtbot, analysed_window):
    w = analysed_window
    old = w.state.analysis.key
    w.state.move_point(2, -1.8, 0.4)
    assert w.state.analysis.stale
    wait_analysis(qtbot, w)
    new = w.state.analysis
    assert new.key != old and new.key.revision == w.state.revision and new.j == 7 and not new.stale


def test_close_during_the_analysis_leaves_no_thread(qtbot, trained_window):
    w = trained_window
    w.state.delete_point(4)
    qtbot.waitUntil(lambda: w.runner.is_running("homotopy"), timeout=TIMEOUT_MS)
    assert live_threads()
    w.close()
    assert live_threads() == []


def test_status_bar_names_the_analysis_jobs(qtbot, trained_window):
    w = trained_window
    w.state.delete_point(9)
    qtbot.waitUntil(lambda: w.runner.is_running("homotopy"), timeout=TIMEOUT_MS)
    assert "point 9" in w.status_label.text()
    wait_analysis(qtbot, w)
    assert "deletion of point 9 analysed" in w.status_label.text()


def _probe(qtbot, condition, timeout_ms=TIMEOUT_MS) -> tuple[float, int]:
    """Run a 10 ms QTimer on the main thread until ``condition()``; return (largest gap in ms, ticks)."""
    gaps = []
    clock = QElapsedTimer()
    clock.start()
    last = [clock.nsecsElapsed()]

    def tick():
        now = clock.nsecsElapsed()
        gaps.append((now - last[0]) / 1e6)
        last[0] = now

    timer = QTimer()
    timer.setInterval(10)
    timer.setTimerType(Qt.TimerType.PreciseTimer)
    timer.timeout.connect(tick)
    timer.start()
    try:
        qtbot.waitUntil(condition, timeout=timeout_ms)
    finally:
        timer.stop()
    return (max(gaps[1:]) if len(gaps) > 1 else float("nan")), len(gaps)


def test_main_thread_stays_fluid_while_the_homotopy_computes(qtbot, trained_window, capsys):
    """A QTimer probe at 10 ms keeps ticking while a long homotopy computes (41 ε × 12,000 GD steps, about 1 s in a
    worker): the event loop runs throughout.

    The largest gaps (homotopy alone, the whole deletion analysis of the default problem, the homotopy animation)
    are printed, not asserted: a test asserts no time (they depend on the machine's load). benchmarks/run.py
    measures the "GUI stall" row against its 50 ms target; the mechanism that keeps gaps short (workers pause
    while the GUI thread works) is tested in tests/test_gui_jobs.py without timing."""
    w = trained_window
    j = 7
    problem = w.state.problem()
    problem = replace(problem, config=replace(problem.config, steps=12_000))
    theta0 = problem.theta0()
    key = AnalysisKey(j, w.state.revision, "probe")
    done = []
    w.runner.resultReady.connect(
        lambda kind, rev, res: done.append(kind) if kind == "probe-homotopy" else None
    )
    attempts = []
    for _ in range(3):
        done.clear()
        w.runner.submit(
            "probe-homotopy", lambda: homotopy_task(problem, theta0, key), label="Homotopy (probe)"
        )
        t0 = time.perf_counter()
        gap, ticks = _probe(qtbot, lambda: bool(done))
        attempts.append((gap, ticks, time.perf_counter() - t0))
        if gap < 50.0:
            break  # (three attempts at most only to keep the test short)
    # the whole deletion workflow on the default problem (four jobs at once) under the same probe
    w.homotopy_panel.frames.set_index(0)
    w.show_panel("homotopy")
    w.state.delete_point(j)
    gap2, _ = _probe(qtbot, lambda: w.is_idle() and w.analysis_complete() and w.state.fit_is_current())
    # and playing the homotopy animation (41 curves + 41 trajectory markers per frame)
    qtbot.wait(50)
    w.homotopy_panel.frames.toggle()
    gap3, _ = _probe(qtbot, lambda: not w.homotopy_panel.frames.playing, timeout_ms=20_000)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    with capsys.disabled():
        print(
            "\n[responsiveness] homotopy 41 ε × 12,000 steps: "
            + "; ".join(f"{s:.2f} s, {n} probe ticks, largest gap {g:.1f} ms" for g, n, s in attempts)
            + f" | full deletion analysis: largest gap {gap2:.1f} ms | homotopy animation: {gap3:.1f} ms"
            + f" | load average {load:.1f}"
        )
    # the loop kept running: every attempt saw the probe tick many times while the worker computed
    assert all(ticks >= 10 for _, ticks, _ in attempts), attempts


def test_every_control_has_a_tooltip(qtbot, analysed_window):
    from PySide6.QtWidgets import (
        QAbstractButton,
        QAbstractSlider,
        QAbstractSpinBox,
        QComboBox,
        QDockWidget,
        QLineEdit,
        QScrollBar,
    )

    w = analysed_window
    widgets = []
    for panel in ("eps", "homotopy", "decomposition"):  # tabbed docks: each in view in turn
        w.show_panel(panel)
        qtbot.wait(10)
        for cls in (QAbstractButton, QComboBox, QAbstractSlider, QLineEdit, QAbstractSpinBox):
            widgets += [x for x in w.findChildren(cls) if x.isVisibleTo(w) and x not in widgets]

    def internal(x) -> bool:
        parent = x.parent()
        return (
            isinstance(parent, (QDockWidget, QComboBox, QAbstractSpinBox))  # docks' buttons, editors inside
            or isinstance(x, QScrollBar)
            or x.objectName().startswith("qt_")
        )

    missing = [
        f"{type(x).__name__} {getattr(x, 'text', lambda: '')()!r}"
        for x in widgets
        if not internal(x) and not x.toolTip()
    ]
    assert len(widgets) > 40
    assert not missing, missing


def test_the_eps_slider_says_why_a_point_is_missing():
    """'beyond the fold' only when the path reports a fold; otherwise where or why it stopped."""
    from types import SimpleNamespace

    import numpy as np

    from gui.panels.eps_path import stopped_reason

    eps = np.linspace(1, 0, 11)
    fold = SimpleNamespace(
        reached=6, eps=eps, messages=["point 3: the continuation meets a fold near ε = 0.35"]
    )
    assert stopped_reason(fold).startswith("beyond the fold after ε = 0.4")
    newton = SimpleNamespace(reached=6, eps=eps, messages=["point 3: Newton could not follow the branch"])
    assert "fold" not in stopped_reason(newton) and "stopped, ε = 0.4" in stopped_reason(newton)
    refused = SimpleNamespace(reached=-1, eps=eps, messages=["point 3: θ̂ is not converged"])
    assert "not started" in stopped_reason(refused)
