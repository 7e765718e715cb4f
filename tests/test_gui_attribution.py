"""The Attribution panel: the table after Compute equals core.attribution.methods's; header sorting; CSV export
equals AttributionTable.to_csv_text(); the agreement scatter and its numbers; Data Shapley's running estimates in
the table before completion, cancelling it, and the app still working after; colouring the fit view by a column;
soft weights; stagewise influence; detection curves on the outliers preset; export of every plot."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from dataclasses import replace

import numpy as np
from gui_fixtures import *  # noqa: F403
from gui_fixtures import TIMEOUT_MS, wait_idle
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QAbstractButton, QAbstractSpinBox, QComboBox, QFileDialog

from core.attribution.methods import (
    Query,
    agreement,
    compute_table,
    detection_curve,
    detection_direction,
    soft_weight_estimates,
    teacher_validation,
)
from core.problem import fit_problem
from core.progress import drive
from gui.attribution_tasks import BIF, FAST_METHODS, SHAPLEY, shapley_config
from gui.export import export_figure
from gui.jobs import live_threads
from gui.panels.attribution.panel import REFRESH_MS

FAST = [m for m in FAST_METHODS if m != "ols"]


def panel_of(qtbot, w):
    """Raise the Attribution tab of a trained window and wait for its table (computed because it came into view)."""
    w.show_panel("attribution")
    panel = w.attribution_panel
    qtbot.waitUntil(lambda: panel.table is not None and not panel.is_busy(), timeout=TIMEOUT_MS)
    return panel


def wait_panel(qtbot, panel, timeout=TIMEOUT_MS):
    qtbot.waitUntil(lambda: not panel.is_busy(), timeout=timeout)


def core_table(w, methods=FAST, query=None):
    return compute_table(w.state.problem(), methods=methods, query=query, damping=w.state.damping)


def assert_same_columns(table, expected):
    assert list(table.columns) == list(expected.columns)
    for name in expected.columns:
        np.testing.assert_array_equal(table.columns[name], expected.columns[name], err_msg=name)


def test_table_fills_after_compute_and_exports_core_csv(qtbot, trained_window, tmp_path, monkeypatch):
    w = trained_window
    panel = panel_of(qtbot, w)
    assert set(panel.methods()) == set(FAST), "every fast method is ticked by default"
    # an explicit Compute (the button) recomputes the same table
    with qtbot.waitSignal(panel.tableChanged, timeout=TIMEOUT_MS):
        qtbot.mouseClick(panel.compute_btn, Qt.MouseButton.LeftButton)
    wait_panel(qtbot, panel)
    t = panel.table
    n = w.state.data.n
    expected = core_table(w)
    assert_same_columns(t, expected)
    m = panel.model
    assert m.rowCount() == n and m.columnCount() == 4 + len(expected.columns)
    assert m.columns()[:4] == ["index", "x", "y", "weight"]
    col = m.columns().index("if")
    assert m.data(m.index(3, col)) == f"{expected.columns['if'][3]:.4g}"
    assert m.headerData(col, Qt.Orientation.Horizontal) == "IF"
    assert "H⁻¹" in m.headerData(col, Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole)
    # Export CSV… writes exactly core's to_csv_text (atomically, through core.atomic)
    out = tmp_path / "table.csv"
    monkeypatch.setattr(
        QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(out), "CSV (*.csv)"))
    )
    qtbot.mouseClick(panel.export_btn, Qt.MouseButton.LeftButton)
    assert out.read_text() == expected.to_csv_text()
    # no corrupted points in the teacher data: the detection plot says what it needs
    assert not panel.detect_curves and "outliers" in panel.detect_empty.toPlainText()
    # the point query and the validation query are core's Query
    panel.set_methods(["loo_cold", "if"])
    with qtbot.waitSignal(panel.tableChanged, timeout=TIMEOUT_MS):
        panel.set_query("point", 4)
    wait_panel(qtbot, panel)
    assert panel.table.query == Query("point", index=4)
    assert_same_columns(panel.table, core_table(w, ["loo_cold", "if"], Query("point", index=4)))
    with qtbot.waitSignal(panel.tableChanged, timeout=TIMEOUT_MS):
        panel.set_query("validation")
    wait_panel(qtbot, panel)
    val = Query("validation", validation=teacher_validation(w.state.data))
    assert panel.table.query.kind == "validation"
    assert_same_columns(panel.table, core_table(w, ["loo_cold", "if"], val))


def test_clicking_a_header_sorts_numerically_nan_last(qtbot, trained_window):
    w = trained_window
    panel = panel_of(qtbot, w)
    m, view = panel.model, panel.view
    t = panel.table
    n = t.n
    header = view.horizontalHeader()

    def click(name):
        c = m.columns().index(name)
        view.scrollTo(m.index(0, c))
        x = header.sectionViewportPosition(c) + header.sectionSize(c) // 2
        qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(x, header.height() // 2))

    def rows():
        return [m.point_at(r) for r in range(n)]

    for name in ("if", "loo_cold", "tracin"):
        v = t.columns[name]
        click(name)  # a method column: largest first
        assert rows() == list(np.argsort(-v, kind="stable")), name
        assert view.model().data(m.index(0, m.columns().index("index"))) == str(int(np.argmax(v)))
        click(name)  # again: smallest first
        assert rows() == list(np.argsort(v, kind="stable")), name
    click("x")  # a data column: ascending first
    assert rows() == list(np.argsort(t.x, kind="stable"))
    # NaN last in both orders
    col = t.columns["if"].copy()
    col[[2, 5]] = np.nan
    m.set_table(replace(t, columns={**t.columns, "if": col}))
    c = m.columns().index("if")
    for order in (Qt.SortOrder.AscendingOrder, Qt.SortOrder.DescendingOrder):
        m.sort(c, order)
        assert set(rows()[-2:]) == {2, 5}
        key = col if order == Qt.SortOrder.AscendingOrder else -col
        assert rows() == list(np.argsort(key, kind="stable"))
    # clicking a row selects the point
    view.scrollTo(m.index(0, 0))
    rect = view.visualRect(m.index(0, 0))
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert w.state.selection == m.point_at(0)


def test_agreement_scatter_and_colouring_the_fit_view(qtbot, trained_window):
    w = trained_window
    panel = panel_of(qtbot, w)
    t = panel.table
    assert t.reference() == "loo_cold"
    for method in ("if", "pbrf", "tracin"):
        panel.scatter_method.setCurrentIndex(panel.scatter_method.findData(method))
        xs, ys = panel.scatter_item.getData()
        np.testing.assert_array_equal(xs, t.columns["loo_cold"])
        np.testing.assert_array_equal(ys, t.columns[method])
        a = agreement(t.columns[method], t.columns["loo_cold"])
        text = panel.agreement_label.text()
        for key in ("pearson", "spearman"):
            assert f"{a[key]:.4g}" in text, (method, key, text)
        assert f"top-{a['k']} overlap" in text and f"{a['top_k']:.3g}" in text
        assert panel.scatter_plot.getPlotItem().getAxis("bottom").labelText.startswith("LOO (cold)")
        assert panel.scatter_plot.getPlotItem().getAxis("left").labelText
    assert "loo_cold" not in [panel.scatter_method.itemData(i) for i in range(panel.scatter_method.count())]

    # colour the fit view's points by a column
    fv = w.fit_view
    panel.set_colour_column("self_influence")
    assert fv.colour_combo.currentData() == "external"
    assert fv.colour_combo.currentText() == "self-influence (Attribution)"
    v = t.columns["self_influence"]
    assert f"{v.min():.3g}" in fv.colour_range.text() and "Attribution" in fv.colour_range.text()
    brushes = {b.color().name() for b in fv.points.data["brush"]}
    assert len(brushes) > 5, "the points are coloured by the column"
    panel.set_colour_column("leverage")
    assert fv.colour_combo.currentText() == "leverage (Attribution)"
    assert f"{t.columns['leverage'].max():.3g}" in fv.colour_range.text()
    panel.set_colour_column(None)
    assert fv.colour_combo.findData("external") < 0 and fv.colour_key() == "none"


def test_shapley_partial_results_then_cancel_leaves_the_app_usable(qtbot, trained_window):
    w = trained_window
    panel = panel_of(qtbot, w)
    n = w.state.data.n
    panel.perm_spin.setValue(400)  # many batches of 20 permutations: seconds
    shown = []
    panel.tableChanged.connect(lambda t: shown.append((time.monotonic(), t)))
    qtbot.mouseClick(panel.shapley_btn, Qt.MouseButton.LeftButton)
    assert w.runner.is_running(SHAPLEY)
    # the running estimates reach the table while the job still runs, at most 5 times a second
    qtbot.waitUntil(lambda: "shapley" in panel.model.names, timeout=TIMEOUT_MS)
    assert w.runner.is_running(SHAPLEY), "partial results before completion"

    def estimates():  # distinct running estimates drawn so far
        return {id(t.columns["shapley"]) for _, t in shown if t is not None and "shapley" in t.columns}

    qtbot.waitUntil(lambda: len(estimates()) >= 2, timeout=TIMEOUT_MS)
    assert w.runner.is_running(SHAPLEY), "the estimates change as permutations arrive"
    times = np.array([s for s, _ in shown])
    assert np.all(np.diff(times) >= 0.9 * REFRESH_MS / 1000), (
        "partial results are drawn at most 5 times a second"
    )
    assert panel.table.info == {} or "shapley" not in panel.table.info, "no final Shapley record yet"
    col = panel.model.columns().index("shapley")
    assert np.isfinite(panel.model.values(col)).all()
    assert "Data Shapley" in w.status_label.text() and w.cancel_btn.isVisible()
    assert panel.cancel_btn.isEnabled()
    # cancel: the job stops between two yields, no thread is left, the running estimates stay
    qtbot.mouseClick(panel.cancel_btn, Qt.MouseButton.LeftButton)
    assert not w.runner.is_running(SHAPLEY)
    qtbot.waitUntil(w.runner.idle, timeout=TIMEOUT_MS)
    assert not live_threads()
    assert "cancelled" in panel.status.text() and "shapley" in panel.model.names
    # the app still works: Compute, then a deletion (retrain, recompute on the new points)
    with qtbot.waitSignal(panel.tableChanged, timeout=TIMEOUT_MS):
        panel.compute_now()
    wait_panel(qtbot, panel)
    assert "loo_cold" in panel.table.columns
    w.state.delete_point(3)
    assert panel.table is None, "the results belonged to the old points"
    wait_idle(qtbot, w)
    qtbot.waitUntil(lambda: panel.table is not None and not panel.is_busy(), timeout=TIMEOUT_MS)
    assert "shapley" not in panel.table.columns
    assert panel.table.columns["loo_cold"][3] == 0.0, "deleting a point of weight 0 changes nothing"
    assert_same_columns(panel.table, core_table(w))
    # a small Shapley budget runs to the end and equals core's numbers
    panel.perm_spin.setValue(20)
    with qtbot.waitSignal(panel.tableChanged, timeout=TIMEOUT_MS):
        panel.run_shapley()
    qtbot.waitUntil(lambda: not w.runner.is_running(SHAPLEY) and not panel.is_busy(), timeout=TIMEOUT_MS)
    expected = compute_table(w.state.problem(), methods=["shapley"], shapley=shapley_config(20))
    np.testing.assert_array_equal(panel.table.columns["shapley"], expected.columns["shapley"])
    assert panel.table.info["shapley"]["permutations"] == 20 and panel.model.rowCount() == n


def test_bif_runs_in_the_background_and_fills_its_column(qtbot, trained_window):
    w = trained_window
    panel = panel_of(qtbot, w)
    panel.chains_spin.setValue(2)
    panel.bif_steps_spin.setValue(400)
    with qtbot.waitSignal(panel.tableChanged, timeout=TIMEOUT_MS):
        qtbot.mouseClick(panel.bif_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not w.runner.is_running(BIF) and "bif" in panel.table.columns, timeout=TIMEOUT_MS)
    t = panel.table
    assert {"bif", "bif_se", "loo_cold", "if"} <= set(t.columns) and np.isfinite(t.columns["bif"]).all()
    assert list(t.columns).index("bif") > list(t.columns).index("tracin"), "canonical column order"
    assert "chains" in panel.status.text()
    # the BIF belongs to its query: another query drops it
    panel.set_methods(["loo_cold"])
    panel.set_query("point", 2)
    assert panel.table is None, "nothing is shown for the new query until it is computed"
    qtbot.waitUntil(lambda: panel.table is not None and not panel.is_busy(), timeout=TIMEOUT_MS)
    assert list(panel.table.columns) == ["loo_cold"] and panel.table.query.index == 2


def test_soft_weights_give_the_if_corrected_and_retrained_fits(qtbot, trained_window):
    w = trained_window
    panel = panel_of(qtbot, w)
    panel.tabs.setCurrentIndex(2)
    assert panel.set_weight(5, 0.0) and panel.set_weight(7, 0.5)
    assert not panel.set_weight(8, 1.5), "weights outside [0, 1] are refused"
    wc = panel.model.columns().index("weight")
    assert panel.model.flags(panel.model.index(0, wc)) & Qt.ItemFlag.ItemIsEditable
    with qtbot.waitSignal(panel.recordChanged, timeout=TIMEOUT_MS) as blocker:
        qtbot.mouseClick(panel.soft_btn, Qt.MouseButton.LeftButton)
    rec = blocker.args[0]
    weights = np.ones(w.state.data.n)
    weights[5], weights[7] = 0.0, 0.5
    np.testing.assert_array_equal(rec.weights, weights)
    problem = w.state.problem()
    fit = drive(fit_problem(problem))
    res = drive(soft_weight_estimates(problem, fit, weights))
    np.testing.assert_array_equal(rec.result.theta_if, res.theta_if)
    np.testing.assert_array_equal(rec.result.theta_cold, res.theta_cold)
    for name in ("original", "if", "cold"):
        xs, ys = panel.soft_curves[name].getData()
        assert xs is not None and len(xs) == len(rec.grid) and np.isfinite(ys).all(), name
    _, f_if = panel.soft_curves["if"].getData()
    _, f_cold = panel.soft_curves["cold"].getData()
    _, f0 = panel.soft_curves["original"].getData()
    assert not np.array_equal(f_if, f0) and not np.array_equal(f_cold, f0)
    assert f"{res.function_distance['if'][0]:.3g}" in panel.soft_label.text()
    panel.reset_weights()
    np.testing.assert_array_equal(panel.model.weights, w.state.data.weight)


def test_stagewise_plot(qtbot, trained_window):
    w = trained_window
    panel = panel_of(qtbot, w)
    panel.tabs.setCurrentIndex(3)
    panel.stage_method.setCurrentIndex(panel.stage_method.findData("if"))
    w.state.select(6)
    assert panel.stage_point.value() == 6, "the stagewise point follows the selection"
    with qtbot.waitSignal(panel.recordChanged, timeout=TIMEOUT_MS) as blocker:
        qtbot.mouseClick(panel.stage_btn, Qt.MouseButton.LeftButton)
    r = blocker.args[0].result
    xs, ys = panel.stage_curve.getData()
    np.testing.assert_array_equal(xs, r.times)
    np.testing.assert_array_equal(ys, r.values[:, 6])
    assert len(xs) > 10 and r.method == "if"
    assert panel.stage_final.isVisible() and panel.stage_loo.isVisible()
    assert panel.stage_plot.getPlotItem().getAxis("left").labelText == "IF of point 6"
    panel.stage_point.setValue(2)
    np.testing.assert_array_equal(panel.stage_curve.getData()[1], r.values[:, 2])


def test_detection_curves_on_the_outliers_preset(qtbot, trained_window):
    w = trained_window
    panel = panel_of(qtbot, w)
    panel.tabs.setCurrentIndex(1)
    w.new_from_preset("outliers")
    wait_idle(qtbot, w)
    qtbot.waitUntil(lambda: panel.table is not None and not panel.is_busy(), timeout=TIMEOUT_MS)
    t = panel.table
    bad = w.state.data.corrupted
    assert bad and t.corrupted == tuple(bad)
    assert "corrupted" in panel.model.columns()
    assert set(panel.detect_curves) == {c for c in t.columns if not c.endswith("_se")}
    c = detection_curve(t.columns["loo_cold"], bad, detection_direction("loo_cold", "self"))
    xs, ys = panel.detect_curves["loo_cold"].getData()
    np.testing.assert_array_equal(xs, c.inspected)
    np.testing.assert_array_equal(ys, c.found)
    assert f"LOO (cold) {c.auc:.2f}" in panel.detect_label.text()
    assert not panel.detect_empty.isVisible()
    legend = [lab.text for _, lab in panel.detect_legend.items]
    assert "LOO (cold)" in legend and "IF" in legend
    assert_same_columns(t, core_table(w))


def test_every_plot_exports_and_export_figures_includes_them(qtbot, trained_window, tmp_path):
    w = trained_window
    panel = panel_of(qtbot, w)
    w.new_from_preset("outliers")
    wait_idle(qtbot, w)
    qtbot.waitUntil(lambda: panel.table is not None and not panel.is_busy(), timeout=TIMEOUT_MS)
    panel.set_weight(0, 0.0)
    with qtbot.waitSignal(panel.recordChanged, timeout=TIMEOUT_MS):
        panel.run_soft()
    with qtbot.waitSignal(panel.recordChanged, timeout=TIMEOUT_MS):
        panel.run_stagewise()
    wait_panel(qtbot, panel)
    assert set(panel.exportable()) == set(panel.plots())
    for name, (plot, holder, provider) in panel.exportable().items():
        holder.show()  # brings its tab to the front
        qtbot.wait(10)
        assert plot.isVisible(), name
        png = export_figure(plot, tmp_path / f"{name}.png")
        img = QImage(str(png))
        assert not img.isNull() and img.width() >= plot.width()
        svg = export_figure(plot, tmp_path / f"{name}.svg").read_text()
        assert ET.fromstring(svg).tag.endswith("svg") and "<path" in svg
        assert export_figure(plot, tmp_path / f"{name}.pdf").read_bytes().startswith(b"%PDF")
        header, rows = provider()
        assert len(rows) > 2, name
        texts = [a.text() for a in plot.getPlotItem().getViewBox().menu.actions()]
        assert "Export plot…" in texts and "Export data (CSV)…" in texts
        for ax in ("left", "bottom"):
            assert plot.getPlotItem().getAxis(ax).labelText, (name, ax)
    w.show_panel("eps")
    files = w.export_figures(tmp_path / "all")
    assert files is not None
    names = {p.name for p in files}
    for name in panel.plots():
        assert {f"{name}.png", f"{name}.svg", f"{name}.pdf", f"{name}.csv"} <= names
    assert w.raised_panel() == "eps"


def test_every_control_has_a_tooltip_and_closing_cancels(qtbot, trained_window):
    w = trained_window
    panel = panel_of(qtbot, w)
    widgets = []
    for k in range(panel.tabs.count()):
        panel.tabs.setCurrentIndex(k)
        for cls in (QAbstractButton, QComboBox, QAbstractSpinBox):
            widgets += [x for x in panel.findChildren(cls) if x.isVisibleTo(panel) and x not in widgets]
    missing = [
        f"{type(x).__name__} {getattr(x, 'text', lambda: '')()!r}"
        for x in widgets
        if not x.toolTip() and not x.objectName().startswith("qt_") and not isinstance(x.parent(), QComboBox)
    ]
    assert len(widgets) > 20 and not missing, missing
    # a job of the panel stops with the window
    panel.perm_spin.setValue(1000)
    panel.run_shapley()
    qtbot.waitUntil(
        lambda: w.runner.job(SHAPLEY) is not None and w.runner.job(SHAPLEY).latest is not None,
        timeout=TIMEOUT_MS,
    )
    assert w.shutdown()
    assert not live_threads()
