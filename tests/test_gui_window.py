"""The main window driven as a user would: train, click, delete, undo, add, drag, load files, pause, close."""

from __future__ import annotations

import numpy as np
import pytest
from gui_fixtures import *  # noqa: F403
from gui_fixtures import TIMEOUT_MS, click_data, data_to_view, wait_analysis, wait_idle
from PySide6.QtCore import QPointF, Qt
from PySide6.QtWidgets import QApplication, QInputDialog, QMessageBox

from gui.jobs import live_threads
from gui.tasks import steps_per_yield


def test_window_opens_and_trains_on_the_default_data(qtbot, window):
    assert window.state.data.n == 20 and window.state.fit is None
    with qtbot.waitSignal(window.state.fitChanged, timeout=TIMEOUT_MS):
        window.start()
    fit = window.state.fit
    assert window.state.fit_is_current()
    assert fit.converged and fit.grad_norm <= 1e-10
    xs, ys = window.fit_view.fit_curve.getData()
    assert len(xs) > 100 and np.all(np.isfinite(ys))
    lx, ly = window.training_panel.loss_curve.getData()
    assert len(lx) > 10
    assert window.fit_view.teacher_curve.getData()[0] is not None
    wait_idle(qtbot, window)
    assert "Ready" in window.status_label.text() and "converged" in window.status_label.text()
    assert not window.progress.isVisible()


def test_status_bar_says_what_is_computed(qtbot, window):
    window.controller.train()
    assert "Training" in window.status_label.text()
    assert window.cancel_btn.isVisible() and window.progress.isVisible()
    with qtbot.waitSignal(window.state.fitChanged, timeout=TIMEOUT_MS):
        pass


def test_click_selects_delete_key_deletes_and_undo_restores(qtbot, trained_window):
    w = trained_window
    ds = w.state.data
    j = 7
    click_data(qtbot, w.fit_view, ds.x[j], ds.y[j])
    assert w.state.selection == j
    w.fit_view.plot.setFocus()
    qtbot.keyClick(w.fit_view.plot, Qt.Key.Key_Delete)
    assert w.state.data.weight[j] == 0.0
    xs, _ = w.fit_view.deleted.getData()
    assert list(xs) == [ds.x[j]], "the deleted point is drawn hollow"
    wait_idle(qtbot, w)  # the model retrained without the point
    assert w.state.fit.revision == w.state.revision
    qtbot.keyClick(w.fit_view.plot, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert w.state.data.weight[j] == 1.0
    assert len(w.fit_view.deleted.getData()[0]) == 0
    qtbot.keyClick(
        w.fit_view.plot, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    )
    assert w.state.data.weight[j] == 0.0
    qtbot.keyClick(w.fit_view.plot, Qt.Key.Key_R)  # restore the selected point
    assert w.state.data.weight[j] == 1.0
    qtbot.keyClick(w.fit_view.plot, Qt.Key.Key_Backspace)
    assert w.state.data.weight[j] == 0.0
    wait_idle(qtbot, w)


def test_click_on_empty_space_clears_selection_and_shift_click_adds(qtbot, trained_window):
    w = trained_window
    w.state.select(3)
    click_data(qtbot, w.fit_view, 0.0, -0.35)
    assert w.state.selection is None and w.state.data.n == 20
    click_data(qtbot, w.fit_view, 0.0, -0.35, Qt.KeyboardModifier.ShiftModifier)
    assert w.state.data.n == 21
    assert w.state.data.x[20] == pytest.approx(0.0, abs=0.02) and w.state.data.y[20] == pytest.approx(
        -0.35, abs=0.02
    )
    assert w.state.selection == 20
    wait_idle(qtbot, w)
    assert len(w.state.fit.fitted) == 21


def test_add_points_mode(qtbot, trained_window):
    w = trained_window
    w.act_add_mode.setChecked(True)
    click_data(qtbot, w.fit_view, -1.5, 0.6)
    click_data(qtbot, w.fit_view, -1.2, 0.7)
    assert w.state.data.n == 22
    w.act_add_mode.setChecked(False)
    click_data(qtbot, w.fit_view, -1.0, 0.8)
    assert w.state.data.n == 22
    w.state.undo_stack.undo()
    assert w.state.data.n == 21
    wait_idle(qtbot, w)


def test_drag_moves_a_point_in_one_undo_step(qtbot, trained_window):
    w = trained_window
    fv = w.fit_view
    j = 10
    x0, y0 = float(w.state.data.x[j]), float(w.state.data.y[j])
    vp = fv.plot.viewport()
    start = data_to_view(fv, x0, y0)
    end = data_to_view(fv, x0 + 0.3, y0 - 0.2)
    qtbot.mousePress(vp, Qt.MouseButton.LeftButton, pos=start)
    for t in np.linspace(0.1, 1.0, 8):
        p = start + (end - start) * float(t)
        qtbot.mouseMove(vp, p)
        qtbot.wait(20)  # pyqtgraph drops mouse moves closer together than a screen refresh
    qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton, pos=end)
    assert w.state.data.x[j] == pytest.approx(x0 + 0.3, abs=0.02)
    assert w.state.data.y[j] == pytest.approx(y0 - 0.2, abs=0.02)
    assert w.state.selection == j
    assert w.state.undo_stack.count() == 1, "a drag is one undo step"
    w.state.undo_stack.undo()
    assert (w.state.data.x[j], w.state.data.y[j]) == (x0, y0)
    wait_idle(qtbot, w)


def test_move_and_add_through_the_state_api_retrain(qtbot, trained_window):
    w = trained_window
    rev = w.state.revision
    w.state.move_point(0, -1.9, 0.5)
    w.state.add_point(2.5, 0.0)
    wait_idle(qtbot, w)
    assert w.state.fit.revision == rev + 2
    xs, _ = w.fit_view.fit_curve.getData()
    assert xs.max() > 2.5, "the display grid follows the data"


def test_context_menu_actions(qtbot, trained_window, monkeypatch):
    w = trained_window
    menu = w.fit_view.point_menu(2)
    actions = {a.text(): a for a in menu.actions()}
    assert {"Delete point", "Restore", "Set weight…", "Export plot…", "Export data (CSV)…"} <= set(actions)
    assert not actions["Restore"].isEnabled()
    actions["Delete point"].trigger()
    assert w.state.data.weight[2] == 0.0
    menu = w.fit_view.point_menu(2)
    actions = {a.text(): a for a in menu.actions()}
    assert not actions["Delete point"].isEnabled() and actions["Restore"].isEnabled()
    monkeypatch.setattr(QInputDialog, "getDouble", staticmethod(lambda *a, **k: (0.5, True)))
    actions["Set weight…"].trigger()
    assert w.state.data.weight[2] == 0.5
    assert len(w.fit_view.partial.getData()[0]) == 1, "a down-weighted point has its own style"
    wait_idle(qtbot, w)


def test_hover_text_names_index_position_and_residual(qtbot, trained_window):
    w = trained_window
    text = w.fit_view.point_tooltip(5)
    ds, fit = w.state.data, w.state.fit
    assert "point 5" in text and f"{ds.x[5]:.4g}" in text
    assert f"{ds.y[5] - fit.fitted[5]:.4g}" in text


def test_bad_csv_shows_a_message_and_keeps_the_points(qtbot, trained_window, tmp_path, monkeypatch):
    w = trained_window
    shown = []
    monkeypatch.setattr(
        QMessageBox, "critical", staticmethod(lambda parent, title, text, *a: shown.append(text))
    )
    bad = tmp_path / "bad.csv"
    bad.write_text("x,y\n0.1,0.2\n0.3,abc\n")
    x_before = w.state.data.x.copy()
    rev = w.state.revision
    assert not w.open_points(bad)
    assert len(shown) == 1 and "bad.csv" in shown[0] and "line 3" in shown[0]
    np.testing.assert_array_equal(w.state.data.x, x_before)
    assert w.state.revision == rev and w.state.undo_stack.count() == 0


def test_open_save_round_trip_and_undo_of_open(qtbot, trained_window, tmp_path):
    w = trained_window
    w.state.delete_point(1)
    out = tmp_path / "pts.csv"
    assert w.save_points(out)
    good = tmp_path / "three.csv"
    good.write_text("x,y\n0,0\n1,1\n2,0.5\n")
    assert w.open_points(good)
    assert w.state.data.n == 3 and "three" in w.windowTitle()
    wait_idle(qtbot, w)
    assert w.open_points(out)
    assert w.state.data.n == 20 and w.state.data.weight[1] == 0.0
    w.state.undo_stack.undo()
    assert w.state.data.n == 3
    wait_idle(qtbot, w)


def test_new_from_preset(qtbot, trained_window):
    w = trained_window
    assert w.new_from_preset("outliers", n=30)
    assert w.state.data.n == 30 and len(w.fit_view.corrupted.getData()[0]) == len(w.state.data.corrupted) > 0
    wait_idle(qtbot, w)
    assert len(w.state.fit.fitted) == 30


def test_a_preset_brings_its_settings_and_clears_the_analysis(qtbot, trained_window):
    """New from preset after other work: the preset's recommended model and training settings (not η = 50
    from before), no analysed deletion left over, a status line that says so; one undo brings it all back."""
    from dataclasses import replace

    w = trained_window
    w.state.set_settings(replace(w.state.settings, lr=50.0, steps=300))
    w.state.delete_point(7)
    w.state.select(7)
    assert w.state.analysis_target == 7
    before = (w.state.data.copy(), w.state.settings)
    assert w.new_from_preset("linear")
    s = w.state.settings
    assert (s.model_kind, s.degree, s.weight_decay, s.lr, s.steps) == ("linear", 1, 0.0, 0.1, 2000)
    assert w.state.analysis_target is None and w.state.selection is None
    assert "recommended settings" in w.statusBar().currentMessage()
    assert "linear model" in w.statusBar().currentMessage()
    wait_idle(qtbot, w)
    assert "without point" not in w.fit_view.plot.getPlotItem().titleLabel.text
    w.state.undo_stack.undo()
    assert w.state.settings == before[1] and w.state.data.n == before[0].n
    assert w.state.analysis_target == 7
    wait_idle(qtbot, w)


def test_settings_panel_edits_retrain_and_reject_bad_input(qtbot, trained_window):
    w = trained_window
    panel = w.training_panel
    panel.hidden.setText("4,4")
    panel.hidden.editingFinished.emit()
    assert w.state.settings.hidden == (4, 4)
    wait_idle(qtbot, w)
    assert w.state.fit.theta_hat.size == w.state.settings.model().n_params == 1 * 4 + 4 + 4 * 4 + 4 + 4 + 1
    panel.hidden.setText("3,x")
    panel.hidden.editingFinished.emit()
    assert w.state.settings.hidden == (4, 4)
    assert panel.error.isVisibleTo(panel) and "hidden" in panel.error.text()
    panel.lr.setText("-1")
    panel.lr.editingFinished.emit()
    assert w.state.settings.lr == 0.1
    w.state.undo_stack.undo()  # back to 1 → 3 → 1; the panel follows
    assert panel.hidden.text() == "3" and not panel.error.isVisibleTo(panel)
    panel.optimizer.setCurrentIndex(panel.optimizer.findData("adam"))
    assert w.state.settings.optimizer == "adam"
    wait_idle(qtbot, w)


def test_start_pause_step_resume(qtbot, window):
    w = window
    panel = w.training_panel
    from dataclasses import replace

    w.controller.auto_retrain = False
    w.state.set_settings(replace(w.state.settings, steps=200_000))
    lives = []
    w.controller.liveFit.connect(lives.append)
    panel.start_btn.click()
    qtbot.waitUntil(lambda: bool(lives) and lives[-1].step > 0, timeout=TIMEOUT_MS)
    assert not panel.start_btn.isEnabled() and panel.pause_btn.isEnabled()
    panel.pause_btn.click()
    assert w.controller.is_paused() and panel.start_btn.text() == "Resume"
    assert "Paused" in w.status_label.text()
    job = w.runner.job("fit")
    # the pause takes effect at the worker's next yield (one chunk of steps, longer on a loaded machine)
    import time

    seen = {}

    def settled():  # the step has not changed for 200 ms
        step_now, now = job.latest.partial.step, time.monotonic()
        if seen.get("step") != step_now:
            seen.update(step=step_now, since=now)
        return now - seen["since"] >= 0.2

    qtbot.waitUntil(settled, timeout=TIMEOUT_MS)
    step = job.latest.partial.step
    qtbot.wait(300)
    assert job.latest.partial.step == step
    panel.step_btn.click()
    chunk = steps_per_yield(200_000)
    qtbot.waitUntil(lambda: job.latest.partial.step == step + chunk, timeout=TIMEOUT_MS)
    panel.start_btn.click()  # resume
    qtbot.waitUntil(lambda: job.latest.partial.step > step + 2000, timeout=TIMEOUT_MS)
    assert not w.controller.is_paused()
    w.cancel_btn.click()
    qtbot.waitUntil(w.is_idle, timeout=TIMEOUT_MS)
    assert w.state.fit is None


def test_reset_goes_back_to_theta0_and_waits(qtbot, trained_window):
    w = trained_window
    lives = []
    w.controller.liveFit.connect(lives.append)
    w.training_panel.reset_btn.click()
    assert w.state.fit is None
    qtbot.waitUntil(lambda: bool(lives), timeout=TIMEOUT_MS)
    assert lives[-1].phase == "init" and lives[-1].step == 0
    np.testing.assert_allclose(lives[-1].theta, w.state.problem().theta0())
    assert w.controller.is_paused()
    with qtbot.waitSignal(w.state.fitChanged, timeout=TIMEOUT_MS):
        w.training_panel.start_btn.click()
    assert w.state.fit.converged


def test_close_during_training_leaves_no_thread(qtbot, window):
    from dataclasses import replace

    w = window
    w.controller.auto_retrain = False
    w.state.set_settings(replace(w.state.settings, steps=1_000_000))
    w.start()
    qtbot.waitUntil(
        lambda: w.controller.last_live is not None and w.controller.last_live.step > 0, timeout=TIMEOUT_MS
    )
    assert live_threads()
    w.close()
    assert live_threads() == []


def test_errors_in_jobs_reach_the_user(qtbot, window, monkeypatch):
    shown = []
    monkeypatch.setattr(
        QMessageBox, "warning", staticmethod(lambda parent, title, text, *a: shown.append(text))
    )

    def broken():
        raise ValueError("no luck")
        yield

    window.runner.submit("demo", broken, label="Demo")
    qtbot.waitUntil(lambda: bool(shown), timeout=TIMEOUT_MS)
    assert "Demo failed" in shown[0] and "no luck" in shown[0]


def test_hovering_a_point_shows_its_tooltip(qtbot, trained_window):
    w = trained_window
    ds = w.state.data
    qtbot.mouseMove(w.fit_view.plot.viewport(), data_to_view(w.fit_view, ds.x[5], ds.y[5]))
    qtbot.waitUntil(lambda: "point 5" in w.fit_view.viewbox.toolTip(), timeout=TIMEOUT_MS)
    assert "residual" in w.fit_view.viewbox.toolTip()


def test_linear_model_from_the_panel(qtbot, trained_window):
    w = trained_window
    panel = w.training_panel
    assert w.new_from_preset("linear")
    panel.model_kind.setCurrentIndex(panel.model_kind.findData("linear"))
    assert (
        w.state.settings.model_kind == "linear" and not panel.hidden.isEnabled() and panel.degree.isEnabled()
    )
    wait_idle(qtbot, w)
    assert w.state.fit.theta_hat.shape == (2,) and w.state.fit.converged
    assert w.state.fit.theta_hat[1] == pytest.approx(1.0, abs=0.2)  # the preset's slope


def test_backspace_in_a_text_field_edits_the_text_not_the_points(qtbot, trained_window):
    w = trained_window
    w.state.select(4)
    field = w.training_panel.lr
    field.setFocus()
    field.setText("0.15")
    field.setCursorPosition(4)
    qtbot.keyClick(field, Qt.Key.Key_Backspace)
    assert field.text() == "0.1"
    assert w.state.data.weight[4] == 1.0


def test_points_coloured_by_self_influence_and_hover_shows_it(qtbot, trained_window):
    """Issue 4 item 1: per-point self-influence (checked against a torch autograd Hessian solve) in the hover
    text, and the points coloured by it."""
    import torch
    from torch.func import hessian

    w = trained_window
    fit = w.state.fit
    scores = fit.extra["scores"]
    ds = w.state.data
    model = fit.model
    net = model.to_torch_sequential(fit.theta_hat)
    names = [(n, p.shape) for n, p in net.named_parameters()]
    xt, yt = torch.tensor(ds.x)[:, None], torch.tensor(ds.y)
    kappa = w.state.settings.weight_decay

    def unpack(t):
        out, o = {}, 0
        for name, shape in names:
            size = int(np.prod(shape))
            out[name] = t[o : o + size].reshape(shape)
            o += size
        return out

    def loss(t):
        f = torch.func.functional_call(net, unpack(t), (xt,))[:, 0]
        return 0.5 * ((f - yt) ** 2).mean() + 0.5 * kappa * (t * t).sum()

    t = torch.tensor(fit.theta_hat)
    H = hessian(loss)(t).numpy()
    for i in (0, 7, 13):

        def li(t, i=i):
            f = torch.func.functional_call(net, unpack(t), (xt[i : i + 1],))[0, 0]
            return 0.5 * (f - yt[i]) ** 2

        g = torch.func.grad(li)(t).numpy()
        assert scores["self_influence"][i] == pytest.approx(g @ np.linalg.solve(H, g), rel=1e-8)
        assert f"self-influence s_i = {scores['self_influence'][i]:.4g}" in w.fit_view.point_tooltip(i)
    assert "leverage" in scores and (scores["leverage"] > 0).all() and (scores["leverage"] < 1).all()

    fv = w.fit_view
    fv.colour_combo.setCurrentIndex(fv.colour_combo.findData("self_influence"))
    brushes = {b.color().name() for b in fv.points.data["brush"]}
    assert len(brushes) > 5  # a colour ramp, not one colour
    assert "self-influence" in fv.colour_range.text()
    fv.colour_combo.setCurrentIndex(fv.colour_combo.findData("none"))
    assert len({b.color().name() for b in fv.points.data["brush"]}) == 1


def test_a_model_beyond_the_size_limits_is_refused_with_a_message(qtbot, trained_window, monkeypatch):
    from dataclasses import replace

    w = trained_window
    shown = []
    monkeypatch.setattr(w, "interactive", True)
    monkeypatch.setattr(QMessageBox, "warning", lambda *a: shown.append(a[1:3]))
    w.state.set_settings(replace(w.state.settings, hidden=(5000, 5000)))
    qtbot.waitUntil(lambda: bool(shown), timeout=TIMEOUT_MS)
    title, message = shown[-1]
    assert "too large" in title and "parameters" in message
    assert not live_threads()  # nothing was started
    assert w.state.data.n == 20  # the points are untouched


def test_open_points_with_other_columns_asks_which_ones(qtbot, trained_window, tmp_path, monkeypatch):
    """A file with columns the app would ignore, or whose columns do not say which are x and y, opens the
    column picker (here answered by a stub); a standard file opens directly; Cancel keeps the points."""
    import gui.window_points as window_points
    from core.points.table import Columns
    from gui.column_picker import ColumnPicker

    w = trained_window
    asked = []

    def answer(parent, name, names, guess):
        asked.append((name, names, guess))
        return Columns("t", "temp")

    monkeypatch.setattr(window_points, "pick_columns", answer)
    wide = tmp_path / "logger.csv"
    wide.write_text("t;temp;flow\n1;2,5;9\n2;3,5;9\n3;5,5;9\n")
    assert w.open_points(wide)
    assert asked == [("logger.csv", ["t", "temp", "flow"], None)]
    np.testing.assert_array_equal(w.state.data.y, [2.5, 3.5, 5.5])
    message = w.statusBar().currentMessage()
    assert "3 points" in message and "ignored column(s) 'flow'" in message and "decimal commas" in message
    plain = tmp_path / "plain.tsv"
    plain.write_text("x\ty\n0\t1\n1\t2\n")
    assert w.open_points(plain) and len(asked) == 1 and w.state.data.n == 2
    monkeypatch.setattr(window_points, "pick_columns", lambda *a: None)
    assert not w.open_points(wide) and w.state.data.n == 2  # cancelled: nothing changed
    # the dialog itself: prefilled from the automatic choice, optional roles may stay empty
    dlg = ColumnPicker("f.csv", ["id", "x", "y", "w"], Columns("x", "y"))
    assert dlg.chosen() == Columns("x", "y", None, None)
    dlg.boxes["weight"].setCurrentText("w")
    assert dlg.chosen().weight == "w"
    dlg.deleteLater()
    wait_idle(qtbot, w)


def test_divergence_is_said_with_a_remedy_and_nothing_is_analysed_on_it(qtbot, trained_window):
    from dataclasses import replace

    from gui.jobs import user_message

    w = trained_window
    panel = w.training_panel
    w.state.set_settings(replace(w.state.settings, lr=50.0))
    w.controller.train()
    wait_idle(qtbot, w)
    fit = w.state.fit
    assert fit.extra["diverged"] and fit.extra["suggested_lr"] < 50
    assert panel.advice.isVisible() and "diverged at step" in panel.advice.text()
    assert panel.remedy_btn.isVisible() and f"{fit.extra['suggested_lr']:g}" in panel.remedy_btn.text()
    assert "diverged" in w.status_label.text() and "try η" in w.status_label.text()
    w.state.delete_point(7)
    w.state.select(7)
    wait_analysis(qtbot, w)
    a = w.state.analysis
    assert a.estimates is None and a.epspath is None and a.homotopy is None
    assert all("not analysed" in m and "diverged" in m for m in a.errors.values())
    assert "not analysed" in w.decomposition_panel.readout.text()
    w.state.undo_stack.undo()  # the point back
    qtbot.mouseClick(panel.remedy_btn, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, w)
    assert w.state.settings.lr == fit.extra["suggested_lr"]
    assert not w.state.fit.extra["diverged"] and not panel.remedy_btn.isVisible()
    # a failed job's message never shows an exception class name
    assert user_message(ValueError("the damping must be positive")) == "the damping must be positive"
    assert "KeyError" not in user_message(KeyError("theta")) and "bug" in user_message(KeyError("theta"))


def test_a_wild_estimate_does_not_rescale_the_view_and_is_named(qtbot, trained_window):
    """An estimate far off (a Newton step at y ≈ 280) is drawn clipped and named; the view keeps framing the
    data; a dragged point stays inside the view; adding points does not rescale it."""
    from dataclasses import replace

    w = trained_window
    fv = w.fit_view
    w.state.delete_point(7)
    w.state.select(7)
    wait_analysis(qtbot, w)
    before = fv.viewbox.viewRange()
    rec = w.state.analysis.estimates
    wild = replace(rec, curves={**rec.curves, "newton": rec.curves["newton"] + 280.0})
    fv.show_estimates(wild)
    QApplication.processEvents()
    assert fv.viewbox.viewRange() == before
    assert "Newton step (y from" in fv.off_view_note.toPlainText()
    fv.show_estimates(rec)
    assert fv.off_view_note.toPlainText() == ""
    fv._on_drag_started(3)
    fv._on_drag_moved(3, 0.0, 1e6)
    fv._on_drag_finished(3)
    (_, _), (y0, y1) = fv.viewbox.viewRange()
    assert y0 <= w.state.data.y[3] <= y1
    for k in range(5):
        w.state.add_point(-1.0 + 0.3 * k, 3.0)  # above the data: the view does not move between additions
        assert fv.viewbox.viewRange() == before
    wait_idle(qtbot, w)


def test_the_view_menu_lists_every_panel(trained_window):
    from PySide6.QtWidgets import QDockWidget

    w = trained_window
    listed = {a.text() for a in w.view_menu.actions()}
    for dock in w.findChildren(QDockWidget):
        assert dock.toggleViewAction().text() in listed, dock.windowTitle()
    assert len(w.findChildren(QDockWidget)) >= 7


def test_a_restored_model_says_so_without_the_trained_label_on_top(qtbot, trained_window):
    from pathlib import Path

    w = trained_window
    example = Path(__file__).resolve().parents[1] / "resources" / "examples" / "figure3_eps_path.json"
    assert w.open_session(example)
    wait_idle(qtbot, w)
    panel = w.training_panel
    assert "no training history" in panel.no_history.toPlainText()
    assert not panel.final_line.label.isVisible()


class _FakeDrag:
    """What pyqtgraph hands ViewBox.mouseDragEvent, for a left-button drag through scene points."""

    def __init__(self, vb, points, k):
        self.vb, self.points, self.k = vb, points, k

    def button(self):
        return Qt.MouseButton.LeftButton

    def isStart(self):
        return self.k == 0

    def isFinish(self):
        return self.k == len(self.points) - 1

    def _local(self, i):
        return self.vb.mapFromView(QPointF(*self.points[i]))

    def buttonDownPos(self):
        return self._local(0)

    def pos(self):
        return self._local(self.k)

    def accept(self):
        pass


def _stroke(vb, points):
    for k in range(len(points)):
        vb.mouseDragEvent(_FakeDrag(vb, points, k))


def test_pen_tools_brush_lasso_and_sketch_each_one_undo_step(qtbot, trained_window, monkeypatch):
    fv = trained_window.fit_view
    st = trained_window.state
    vb = fv.viewbox
    n0 = st.data.n
    # brush: a horizontal stroke across half the view drops points every `spacing` of the view width
    fv.set_tool("brush")
    fv.noise_box.setValue(0.0)
    fv.spacing_box.setValue(0.05)
    (x0, x1), (y0, y1) = vb.viewRange()
    width = x1 - x0
    xs = np.linspace(x0 + 0.2 * width, x0 + 0.7 * width, 30)
    _stroke(vb, [(x, 0.9 * y1) for x in xs])
    added = st.data.n - n0
    assert added == 11  # 0.5 of the view every 0.05 → 11 points
    np.testing.assert_allclose(st.data.y[n0:], 0.9 * y1)
    assert vb.viewRange()[0] == [x0, x1]  # the brush never pans
    st.undo_stack.undo()
    assert st.data.n == n0  # one undo step for the stroke
    # lasso around the three leftmost points: delete them in one step
    fv.set_tool("lasso")
    order = np.argsort(st.data.x)[:3]
    lx, hx = st.data.x[order].min() - 0.01, st.data.x[order].max() + 0.01
    ly, hy = st.data.y[order].min() - 0.05, st.data.y[order].max() + 0.05
    box = [(lx, ly), (hx, ly), (hx, hy), (lx, hy), (lx, ly)]
    shown = []
    monkeypatch.setattr(fv, "show_menu", lambda menu: shown.append([a.text() for a in menu.actions()]))
    _stroke(vb, box)
    assert shown and shown[0][0].startswith(f"{len(set(fv.lasso_indices(*zip(*box))))} point(s)")
    inside = fv.lasso_indices(*np.array(box).T)
    assert set(order) <= set(inside.tolist())
    st.set_weights(inside, 0.0, "Delete")
    assert np.all(st.data.weight[inside] == 0)
    st.undo_stack.undo()
    assert np.all(st.data.weight[inside] == 1)
    # sketch: the points are replaced by n samples of the drawn function, which is the teacher
    fv.set_tool("sketch")
    fv.count_box.setValue(15)
    curve = [(x, 0.5 * np.sin(3 * x)) for x in np.linspace(x0 + 0.1 * width, x1 - 0.1 * width, 40)]
    _stroke(vb, curve)
    assert st.data.n == 15 and st.data.teacher["kind"] == "curve"
    np.testing.assert_allclose(st.data.y, st.data.teacher_curve(st.data.x))  # noise 0
    st.undo_stack.undo()
    assert st.data.n == n0
    fv.set_tool("select")
    wait_idle(qtbot, trained_window)
