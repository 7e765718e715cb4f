"""The deletion-dynamics panels (Schedules, Unlearning), each standalone on a LabState and a JobRunner:
schedules → 𝓔 in a worker equal to an independent core call; the Figure-4 phase portrait; drawn schedules;
unlearning curves (R2D with K = T on retraining); export of every plot; no thread left after closing a panel
while its job runs."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import replace

import numpy as np
import pytest
from gui_fixtures import *  # noqa: F403
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QImage
from PySide6.QtTest import QTest

from core.dynamics.criterion import criterion, criterion_function, loo_target
from core.dynamics.figure4 import FIG4_J, figure4_problem
from core.dynamics.flow import schedule_flow
from core.dynamics.schedule import ExponentialDecay, LinearDecay, PiecewiseLinear, Step, step_grid
from core.problem import default_problem
from core.progress import drive
from gui.dynamics_tasks import MODE_FIG4, MODE_MLP, SCHEDULES, UNLEARN, base_problem
from gui.export import export_csv, export_figure
from gui.jobs import JobRunner, live_threads
from gui.panels.schedules_panel import SchedulesPanel
from gui.panels.unlearn_panel import UnlearnPanel
from gui.state import LabState
from gui.tasks import fit_task

WAIT_MS = 20_000


def small_problem():
    """The default data and MLP with 600 GD steps (T = 60): a few tenths of a second per job."""
    p = default_problem()
    return replace(p, config=replace(p.config, steps=600))


@pytest.fixture
def state(qtbot):
    return LabState(small_problem())


@pytest.fixture
def trained_state(state):
    """The state with a finished fit of the current revision (as the controller would install it)."""
    fit = drive(fit_task(state.problem(), state.revision, state.settings))
    state.set_fit(fit)
    assert state.fit_is_current()
    return state


@pytest.fixture
def runner(qtbot, state):
    r = JobRunner(lambda: state.revision)
    yield r
    assert r.shutdown(10.0)
    assert not live_threads()


def show(qtbot, panel, size=(1400, 850)):
    qtbot.addWidget(panel)
    panel.resize(*size)
    panel.show()
    qtbot.waitExposed(panel)
    return panel


def next_record(qtbot, panel, trigger=None):
    with qtbot.waitSignal(panel.recordChanged, timeout=WAIT_MS) as blocker:
        if trigger is not None:
            trigger()
    return blocker.args[0]


def first_record(qtbot, panel):
    if panel.record is not None and not panel.is_busy():
        return panel.record
    return next_record(qtbot, panel)


def view_pos(plot, x, y):
    """Viewport pixel of the data point (x, y) of a plot."""
    return plot.mapFromScene(plot.getPlotItem().getViewBox().mapViewToScene(QPointF(x, y)))


def independent_criterion(problem, j, theta_hat, theta0s, schedule, s, T, lr):
    """𝓔 of one schedule by a direct core call: one schedule_flow run and core.dynamics.criterion.criterion."""
    model = problem.model
    x, y, w, kappa = problem.data.x, problem.data.y, problem.weights(), problem.kappa
    target = loo_target(model, theta_hat, x, y, w, kappa, j)
    steps = step_grid(lr, T)[0]
    flow = drive(schedule_flow(model, theta0s, x, y, w, kappa, j, [schedule], lr, steps))
    return criterion(flow.final, target.theta)[0], criterion_function(model, flow.final, target.theta, x)[0]


# ------------------------------------------------------------------------------------------------------
# schedules
# ------------------------------------------------------------------------------------------------------


def test_changing_a_schedule_updates_the_criterion(qtbot, trained_state, runner):
    state = trained_state
    panel = show(qtbot, SchedulesPanel(state, runner))
    rec1 = first_record(qtbot, panel)
    assert rec1.mode == MODE_MLP and rec1.j == 0
    assert rec1.request.theta_hat is not None, "the session's current fit is the θ̂ the LOO target starts from"
    np.testing.assert_array_equal(rec1.request.theta_hat, state.fit.theta_hat)
    s, T, lr = rec1.s, rec1.T, rec1.lr
    assert (s, T, lr) == (15.0, 60.0, 0.1), "the CLI's defaults: T = steps·η, s = T/4"
    assert [type(sc) for sc in rec1.schedules] == [Step, Step, LinearDecay, ExponentialDecay]
    # the table and the bars show the record's numbers
    assert panel.table.item(0, 1).text() == f"{rec1.criterion[0, 0]:.4g}"
    np.testing.assert_allclose(panel.bars.opts["height"], rec1.criterion[:, 0])

    # edit the second schedule (the step at 2s) through its editor: τ → 40
    panel.table.selectRow(1)
    assert panel.editor.currentWidget() is panel.tau_spin
    rec2 = next_record(qtbot, panel, lambda: panel.tau_spin.spin.setValue(40.0))
    assert rec2.schedules[1] == Step(40.0)
    assert rec2.criterion[1, 0] != rec1.criterion[1, 0], "𝓔 of the edited schedule changed"
    np.testing.assert_allclose(rec2.criterion[[0, 2, 3]], rec1.criterion[[0, 2, 3]], rtol=1e-12)

    # … and equals an independent core call
    problem = base_problem(state.problem(), 0)
    theta0s = problem.model.init_params(state.settings.init_seed)[None, :]
    e, ef = independent_criterion(problem, 0, state.fit.theta_hat, theta0s, Step(40.0), s, T, lr)
    np.testing.assert_allclose(rec2.criterion[1], e, rtol=1e-9)
    np.testing.assert_allclose(rec2.criterion_function[1], ef, rtol=1e-9)
    assert panel.table.item(1, 1).text() == f"{rec2.criterion[1, 0]:.4g}"
    # the best schedule found is marked
    assert any(panel.table.item(r, 0).text().startswith("★") for r in range(panel.table.rowCount()))
    assert panel.scan_step.getData()[0] is not None and len(panel.scan_step.getData()[0]) == len(
        rec2.step_params
    )


def test_deleting_a_point_in_the_session_analyses_its_schedules(qtbot, trained_state, runner):
    state = trained_state
    panel = show(qtbot, SchedulesPanel(state, runner))
    first_record(qtbot, panel)
    rec = next_record(qtbot, panel, lambda: state.delete_point(5))
    assert rec.j == 5 and "j = 5" in panel.j_label.text()
    assert rec.request.problem.data.weight[5] == 1.0, "the base problem keeps z_j (weight 1)"
    assert rec.request.theta_hat is None, "the session's fit is without z_j: the worker trains the base model"
    # another θ₀ and another plane
    rec2 = next_record(qtbot, panel, lambda: (panel.set_theta0_text("0, 1"), panel.set_plane(1, 4)))
    assert rec2.theta0s.shape[0] == 2 and rec2.dims == (1, 4) and rec2.flows.shape[-1] == 2
    model = rec2.request.problem.model
    np.testing.assert_array_equal(rec2.theta0s, np.stack([model.init_params(0), model.init_params(1)]))
    np.testing.assert_allclose(rec2.flows[0, 0], rec2.theta0s[:, [1, 4]])
    np.testing.assert_allclose(rec2.flows[-1], rec2.theta_T[..., [1, 4]])


def test_figure4_mode_phase_portrait(qtbot, state, runner):
    panel = show(qtbot, SchedulesPanel(state, runner))
    first_record(qtbot, panel)
    rec = next_record(qtbot, panel, lambda: panel.set_mode(MODE_FIG4))
    pr = figure4_problem()
    assert rec.mode == MODE_FIG4 and rec.j == FIG4_J == 19 and (rec.s, rec.T, rec.lr) == (0.5, 2.0, 0.01)
    assert "outlier" in panel.j_label.text()
    # θ* and θ*₋ⱼ are drawn and labelled
    x, y = panel.star_item.getData()
    np.testing.assert_allclose([x[0], y[0]], pr.theta_star, rtol=1e-12)
    x, y = panel.target_item.getData()
    np.testing.assert_allclose([x[0], y[0]], pr.theta_star_del, rtol=1e-12)
    assert panel.star_text.toPlainText() == "θ*" and panel.target_text.toPlainText() == "θ*₋ⱼ"
    legend = [lab.text for _, lab in panel.phase_legend.items]
    assert any("θ*₋ⱼ" in t for t in legend) and any(t.startswith("θ*") for t in legend)
    # one flow curve per schedule, every θ₀'s flow in it
    S, P = rec.criterion.shape
    assert S == 5 and P == 4 and len(panel.flow_items) == S
    for item in panel.flow_items:
        fx, fy = item.getData()
        assert np.isfinite(fx).sum() == P * len(rec.times)
        np.testing.assert_allclose(fx[0], rec.theta0s[0, 0])
    fx, _ = panel.field_item.getData()
    assert fx is not None and len(fx) > 100, "the vector field is drawn"
    assert panel.phase_plot.getPlotItem().getAxis("bottom").labelText.startswith("θ₁")
    assert panel.phase_plot.getPlotItem().getAxis("left").labelText.startswith("θ₂")
    # the core's findings: the step at s wins from (0, 0) and loses from (3, 3)
    assert rec.best[0]["step_at_s_optimal"] is True
    assert rec.best[1]["step_at_s_optimal"] is False
    np.testing.assert_allclose(rec.criterion_exact[1, 0], 0.0158, atol=5e-5)
    assert "step at s is optimal" in panel.status.text()

    # the animation along t: the dots follow the flows; Space plays
    panel.frames.set_index(0)
    nx, ny = panel.now_item.getData()
    np.testing.assert_allclose(np.column_stack([nx, ny]), rec.flows[0].reshape(-1, 2))
    assert panel.eps_now.value() == 0.0
    panel.frames.set_index(len(rec.times) // 2)
    assert panel.eps_now.value() == pytest.approx(rec.times[len(rec.times) // 2])
    panel.phase_plot.setFocus()
    qtbot.keyClick(panel.phase_plot, Qt.Key.Key_Space)
    assert panel.frames.playing
    qtbot.waitUntil(lambda: panel.frames.index > len(rec.times) // 2 + 2, timeout=5000)
    qtbot.keyClick(panel.phase_plot, Qt.Key.Key_Space)
    assert not panel.frames.playing


def test_drawn_schedule_by_clicking_and_dragging(qtbot, state, runner):
    panel = show(qtbot, SchedulesPanel(state, runner))
    first_record(qtbot, panel)
    next_record(qtbot, panel, lambda: panel.set_mode(MODE_FIG4))
    row = panel.add_schedule("drawn")
    rec = next_record(qtbot, panel)
    assert panel.editor.currentWidget() is panel.draw_plot
    draw = panel.draw_plot
    n0 = len(draw.times)
    # a click on empty space adds a knot there
    pos = view_pos(draw, 1.2, 0.1)
    rec = next_record(
        qtbot, panel, lambda: qtbot.mouseClick(draw.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    )
    assert len(draw.times) == n0 + 1
    k = draw.times.index(min(draw.times, key=lambda t: abs(t - 1.2)))
    assert draw.times[k] == pytest.approx(1.2, abs=0.02) and draw.values[k] == pytest.approx(0.1, abs=0.02)

    # dragging a knot with the mouse moves it
    def drag(t0, e0, t1, e1):
        a, b = view_pos(draw, t0, e0), view_pos(draw, t1, e1)
        vp = draw.viewport()
        QTest.mousePress(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, a)
        for k in range(1, 9):
            QTest.mouseMove(vp, a + (b - a) * (k / 8), 5)
        QTest.mouseRelease(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, b)

    t2, e2 = draw.times[2], draw.values[2]
    next_record(qtbot, panel, lambda: drag(t2, e2, t2 + 0.05, 0.6))
    assert draw.times[2] == pytest.approx(t2 + 0.05, abs=0.02) and draw.values[2] == pytest.approx(
        0.6, abs=0.02
    )
    # … and a knot stays between its neighbours (the drag handler's own call)
    rec = next_record(qtbot, panel, lambda: draw.move_knot(2, 9.0, -3.0))
    assert draw.times[2] == draw.times[3] and draw.values[2] == 0.0
    sc = rec.schedules[row]
    assert (
        isinstance(sc, PiecewiseLinear) and sc.times == tuple(draw.times) and sc.values == tuple(draw.values)
    )
    # 𝓔 of the drawn schedule equals a direct core call (Figure-4 problem, RK-free GD)
    pr = figure4_problem()
    th0 = np.array([list(v) for v in rec.request.theta0s])
    flow = drive(schedule_flow(pr.model, th0, pr.x, pr.y, pr.w, 0.0, 19, [sc], 0.01, 200))
    np.testing.assert_allclose(rec.criterion[row], criterion(flow.final, pr.theta_star_del)[0], rtol=1e-9)

    # a double click removes a knot
    def double_click(t, e):
        p = view_pos(draw, t, e)
        vp = draw.viewport()
        qtbot.mouseClick(vp, Qt.MouseButton.LeftButton, pos=p)
        qtbot.mouseDClick(vp, Qt.MouseButton.LeftButton, pos=p)
        qtbot.mouseRelease(
            vp, Qt.MouseButton.LeftButton, pos=p
        )  # pyqtgraph reports the double click on release

    rec = next_record(qtbot, panel, lambda: double_click(draw.times[1], draw.values[1]))
    assert len(rec.schedules[row].times) == n0


# ------------------------------------------------------------------------------------------------------
# unlearning
# ------------------------------------------------------------------------------------------------------


def test_unlearning_curves_and_r2d_with_K_equal_T_is_retraining(qtbot, state, runner):
    panel = UnlearnPanel(state, runner)
    overlays = {}
    panel.overlayRequested.connect(lambda name, xs, ys: overlays.__setitem__(name, (xs, ys)))
    show(qtbot, panel)
    first_record(qtbot, panel)
    T = 200
    panel.K_edit.setText("20, 50, 200")
    panel.budget_edit.setText("20, 100, 200")
    rec = next_record(qtbot, panel, lambda: panel.T_spin.setValue(T))
    assert rec.T == T and list(rec.Ks) == [20, 50, 200] and list(rec.budgets) == [20, 100, 200]
    for item in [panel.retrain_curve, panel.d2d_curve, *panel.r2d_curves]:
        x, y = item.getData()
        assert x is not None and len(x) == len(rec.steps) and np.isfinite(y).sum() > 10
    # R2D with K = T coincides with retraining in the plotted data (both parameter and function distances)
    for radio in (panel.func_radio, panel.param_radio):
        radio.setChecked(True)
        _, retrain = panel.retrain_curve.getData()
        _, r2d_T = panel.r2d_curves[2].getData()
        finite = np.isfinite(retrain)
        assert finite.sum() > 10
        np.testing.assert_array_equal(r2d_T[finite], retrain[finite])
        assert np.isnan(retrain[rec.steps == T]).all(), "distance 0 at k = T (no point on the log axis)"
    assert rec.canonical[2]["param"] == 0.0 and rec.canonical[2]["function"] == 0.0
    np.testing.assert_array_equal(rec.r2d_param[2][rec.steps <= T], rec.retrain_param[rec.steps <= T])
    # the three unlearned models go to the fit view (and the panel's own fit plot)
    shown = panel.overlays()
    assert set(shown) == {"retrained without zⱼ (exact)", "D2D, 200 steps", "R2D, K = 20"}
    assert set(overlays) >= set(shown) and all(len(overlays[n][0]) == len(rec.grid) for n in shown)
    assert set(panel.fit_curves) == set(shown)
    panel.set_shown(["R2D, K = 50"])
    assert len(overlays["retrained without zⱼ (exact)"][0]) == 0, "unticking removes the overlay"
    assert set(panel.fit_curves) == {"R2D, K = 50"}
    # the noise study
    rec = next_record(qtbot, panel, lambda: (panel.draws_spin.setValue(20), panel.sigma_spin.setValue(0.01)))
    assert (
        rec.noise is not None
        and panel.noise_table.rowCount() == len(rec.noise)
        and panel.noise_table.isVisible()
    )


def test_bad_inputs_are_reported_not_computed(qtbot, state, runner):
    panel = show(qtbot, UnlearnPanel(state, runner))
    first_record(qtbot, panel)
    panel.K_edit.setText("5, 99999")
    panel.compute_now()
    assert "1..T" in panel.status.text() and not runner.is_running(UNLEARN)
    sp = show(qtbot, SchedulesPanel(state, runner))
    first_record(qtbot, sp)
    sp.s_spin.setValue(100.0)
    sp.compute_now()
    assert "s < T" in sp.status.text() and not runner.is_running(SCHEDULES)


# ------------------------------------------------------------------------------------------------------
# export
# ------------------------------------------------------------------------------------------------------


def check_exports(plot, tmp_path, name):
    png = export_figure(plot, tmp_path / f"{name}.png")
    img = QImage(str(png))
    assert not img.isNull() and img.width() >= plot.width()
    colours = {img.pixel(x, y) for x in range(0, img.width(), 9) for y in range(0, img.height(), 9)}
    assert len(colours) > 5, f"{name}: blank PNG"
    svg = export_figure(plot, tmp_path / f"{name}.svg").read_text()
    assert ET.fromstring(svg).tag.endswith("svg") and "<path" in svg
    pdf = export_figure(plot, tmp_path / f"{name}.pdf").read_bytes()
    assert pdf.startswith(b"%PDF") and len(pdf) > 1024
    texts = [a.text() for a in plot.getPlotItem().getViewBox().menu.actions()]
    assert "Export plot…" in texts and "Export data (CSV)…" in texts


def test_every_plot_exports(qtbot, state, runner, tmp_path):
    sp = show(qtbot, SchedulesPanel(state, runner))
    first_record(qtbot, sp)
    next_record(qtbot, sp, lambda: sp.set_mode(MODE_FIG4))
    sp.add_schedule("drawn")  # shows the drawing plot
    next_record(qtbot, sp)
    up = show(qtbot, UnlearnPanel(state, runner))
    first_record(qtbot, up)
    plots = {**sp.plots(), **up.plots()}
    assert len(plots) == 7
    for name, plot in plots.items():
        assert plot.isVisible(), name
        check_exports(plot, tmp_path, name)
        assert len(plot._export_actions) == 2
    for table in (
        sp.eps_table(),
        sp.criterion_table(),
        sp.scan_table(),
        sp.phase_table(),
        sp.draw_plot.table(),
        up.distance_table(),
        up.models_table(),
    ):
        out = export_csv(tmp_path / "t.csv", table)
        assert len(out.read_text().splitlines()) > 2


# ------------------------------------------------------------------------------------------------------
# lifetime
# ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["schedules", "unlearn"])
def test_closing_a_panel_while_its_job_runs_leaves_no_thread(qtbot, state, runner, which):
    if which == "schedules":
        panel = SchedulesPanel(state, runner)
        kind = SCHEDULES
        panel.show()
        qtbot.waitExposed(panel)
        panel.T_spin.setValue(15_000.0)  # 150 000 flow steps: many seconds
    else:
        panel = UnlearnPanel(state, runner)
        kind = UNLEARN
        panel.show()
        qtbot.waitExposed(panel)
        panel.T_spin.setValue(150_000)
    panel.compute_now()
    assert runner.is_running(kind)
    qtbot.waitUntil(
        lambda: runner.job(kind) is not None and runner.job(kind).latest is not None, timeout=WAIT_MS
    )
    panel.close()
    panel.deleteLater()
    qtbot.wait(20)
    assert not runner.is_running(kind), "closing the panel cancelled its job"
    qtbot.waitUntil(runner.idle, timeout=WAIT_MS)
    assert not live_threads()


def test_register_adds_docks(qtbot, window):
    from gui.panels import schedules_panel, unlearn_panel

    sp = schedules_panel.register(window)
    up = unlearn_panel.register(window)
    assert "schedules" in window.panels and "unlearn" in window.panels
    assert sp.runner is window.runner and up.state is window.state
    # in the window, the schedules job waits for the session's training and starts from its θ̂
    with qtbot.waitSignal(window.state.fitChanged, timeout=WAIT_MS):
        window.start()
    qtbot.waitUntil(lambda: sp.record is not None and not sp.is_busy(), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: up.record is not None and not up.is_busy(), timeout=WAIT_MS)
    assert window.state.fit_is_current()
    np.testing.assert_array_equal(sp.record.request.theta_hat, window.state.fit.theta_hat)
    assert up.record.T == window.state.settings.steps


def test_export_figures_includes_schedules_and_unlearning_once_computed(qtbot, trained_window, tmp_path):
    """File → Export figures writes the Schedules and Unlearning plots (PNG, SVG, PDF, CSV) once they have a
    result, and leaves them out before (they compute only while their tab is in view)."""
    w = trained_window
    names = set(w.all_plots())
    assert not any(n.startswith(("schedules-", "unlearn-")) for n in names)
    for name, panel in (("schedules", w.schedules_panel), ("unlearn", w.unlearn_panel)):
        w.show_panel(name)
        qtbot.waitUntil(lambda p=panel: p.record is not None and not p.is_busy(), timeout=WAIT_MS)
    w.show_panel("eps")
    expected = {
        "schedules-eps",
        "schedules-criterion",
        "schedules-step-scan",
        "schedules-phase-portrait",
        "unlearn-distance",
        "unlearn-models",
    }
    assert expected <= set(w.all_plots())
    out = tmp_path / "figs"
    assert w.export_figures(out) is not None
    for name in expected:
        img = QImage(str(out / f"{name}.png"))
        assert not img.isNull() and img.width() > 100, name
        svg = (out / f"{name}.svg").read_text()
        ET.fromstring(svg)
        assert "<path" in svg, name
        assert (out / f"{name}.pdf").read_bytes().startswith(b"%PDF"), name
        assert len((out / f"{name}.csv").read_text().splitlines()) > 2, name
    assert w.raised_panel() == "eps"


def test_d2d_moving_away_from_the_t_step_reference_is_explained(qtbot, state, runner):
    """On the default problem D2D's distance to the 2000-step retrained model grows with its steps (the
    reference is GD stopped at T, not the minimiser without z_j): the panel says so, with ‖∇L₋ⱼ(θ_R)‖."""
    from gui.panels.unlearn_panel import d2d_reference_note

    panel = UnlearnPanel(state, runner)
    show(qtbot, panel)
    rec = first_record(qtbot, panel)
    d = rec.d2d_function[np.isfinite(rec.d2d_function)]
    grows = d[-1] > 1.05 * d.min()
    assert grows, "the default problem is the case the note is for"
    note = d2d_reference_note(rec, "function")
    assert f"{rec.retrain_grad_norm:.2g}" in note and "stopped after T" in note
    assert "D2D moves away" in panel.status.text()
    flat = replace(rec, d2d_function=np.linspace(1.0, 0.1, d.size))  # a D2D that only approaches: no note
    assert d2d_reference_note(flat, "function") == ""
    # ‖∇L₋ⱼ(θ_R)‖ from an independent evaluation: autograd-free finite differences of L₋ⱼ at θ_R
    pr = rec.request.problem
    w = np.array(pr.weights(), dtype=float)
    w[rec.j] = 0.0
    th = rec.theta_retrain
    h = 1e-6
    g = np.array(
        [
            (
                pr.model.loss_and_grad(th + h * e, pr.data.x, pr.data.y, w, pr.kappa)[0][0]
                - pr.model.loss_and_grad(th - h * e, pr.data.x, pr.data.y, w, pr.kappa)[0][0]
            )
            / (2 * h)
            for e in np.eye(th.size)
        ]
    )
    assert rec.retrain_grad_norm == pytest.approx(np.linalg.norm(g), rel=1e-4, abs=1e-9)
