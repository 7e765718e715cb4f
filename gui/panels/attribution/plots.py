"""The Attribution panel's four plots (:class:`AttributionPlots`, a mixin of
:class:`gui.panels.attribution.panel.AttributionPanel`): their construction, drawing and data for export.

- Agreement: a chosen column against the exact-LOO reference column (scatter, y = x diagonal), with Pearson,
  Spearman and top-k overlap (core.attribution.methods.agreement).
- Detection: fraction of the known corrupted points found against the fraction inspected, one curve per method
  (core.attribution.methods.detection_curve), when the data marks corrupted points (the ``outliers`` preset).
- Soft weights: the influence-corrected fit against retraining under the weight column's weights
  (core.attribution.methods.soft_weight_estimates).
- Stagewise: a point's influence by a chosen method along training (core.attribution.methods.stagewise_influence).

The panel provides ``state``, ``table`` (the merged AttributionTable or None), ``soft``, ``stage`` (the last
records), the slots ``run_soft``, ``run_stagewise``, ``reset_weights``, and the ``tabs`` holding the plots' cards.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox

from core.attribution.methods import STAGEWISE_METHODS, agreement, column_kind
from gui import style
from gui.attribution_tasks import FAST_METHODS, SOFT_FITS, SOFT_LABELS, label
from gui.export import Table, install_export_actions
from gui.panels.attribution.widgets import button, note, spin
from gui.panels.common import (
    PARAM_COLORS,
    empty_text,
    fmt,
    legend_above,
    make_plot,
    set_axis_label,
    set_title,
)

#: Pens of the soft-weights plot's fits.
SOFT_PENS = {
    "original": dict(color=style.GREY, width=2),
    "if": dict(color=style.GREEN, width=2.4),
    "newton": dict(color=style.PURPLE, width=2, style=Qt.PenStyle.DotLine),
    "warm": dict(color=style.SKY, width=2.2, style=Qt.PenStyle.DashLine),
    "cold": dict(color=style.BLACK, width=2.2),
}


def _method_color(name: str) -> str:
    base = name[:-3] if name.endswith("_se") else name
    order = list(FAST_METHODS) + [
        "bif",
        "shapley",
        "cooks_distance",
        "studentized_residual",
        "dfbetas_max_abs",
    ]
    k = order.index(base) if base in order else len(order) + sum(map(ord, base)) % 5
    return PARAM_COLORS[k % len(PARAM_COLORS)]


def agreement_text(method: str, reference: str, a: dict) -> str:
    """The agreement label: Pearson, Spearman and top-k overlap of ``method`` with ``reference``."""
    return (
        f"{label(method)} vs {label(reference)}: Pearson r = {fmt(a['pearson'], 4)} · Spearman ρ = "
        f"{fmt(a['spearman'], 4)} · top-{a['k']} overlap (by |value|) = {fmt(a['top_k'], 3)} · n = {a['n']}"
    )


def _warnings_html(warnings, sep: str) -> str:
    return "".join(f"{sep}<span style='color:#b00020'>{w}</span>" for w in warnings)


class AttributionPlots:
    """Builds, draws and exports the agreement, detection, soft-weights and stagewise plots."""

    # -- construction ------------------------------------------------------------------------------------
    def _build_plots(self) -> None:
        self._build_agreement_plot()
        self._build_detection_plot()
        self._build_soft_plot()
        self._build_stage_plot()
        for name, (plot, table) in self._plot_exports().items():
            install_export_actions(plot, name, table)

    def _build_agreement_plot(self) -> None:
        self.scatter_method = QComboBox()
        self.scatter_method.setToolTip("The column plotted against the exact-LOO reference")
        self.scatter_method.currentIndexChanged.connect(self._draw_scatter)
        self.scatter_plot = make_plot(
            "attributionScatterPlot",
            "Agreement with exact LOO",
            "exact LOO",
            "method",
            "Every point's value by the chosen method (vertical) against exact leave-one-out (horizontal); the "
            "dashed line is y = x; corrupted points (outliers preset) are squares, the selected point is ringed",
        )
        sp = self.scatter_plot.getPlotItem()
        self.diagonal = pg.InfiniteLine(
            pos=(0, 0), angle=45, pen=pg.mkPen(style.GREY, width=1.2, style=Qt.PenStyle.DashLine)
        )
        sp.addItem(self.diagonal, ignoreBounds=True)
        self.scatter_item = pg.ScatterPlotItem(
            size=8, pen=pg.mkPen("w", width=0.8), brush=pg.mkBrush(style.BLUE), name="points"
        )
        self.scatter_bad = pg.ScatterPlotItem(
            size=13, symbol="s", pen=pg.mkPen(style.CORRUPTED_COLOR, width=1.8), brush=pg.mkBrush(None)
        )
        self.scatter_sel = pg.ScatterPlotItem(
            size=17, pen=pg.mkPen(style.SELECT_COLOR, width=2.5), brush=pg.mkBrush(None)
        )
        for it in (self.scatter_bad, self.scatter_item, self.scatter_sel):
            sp.addItem(it)
        self.scatter_empty = empty_text(self.scatter_plot, "")
        self.agreement_label = note(
            "attributionAgreement",
            "Pearson's r, Spearman's ρ and the overlap of the top-k points by |value| (k = ⌈0.15 n⌉) between the "
            "chosen column and exact LOO (core.attribution.methods.agreement)",
        )

    def _build_detection_plot(self) -> None:
        self.detect_plot = make_plot(
            "attributionDetectionPlot",
            "Mislabel detection",
            "fraction of points inspected",
            "fraction of corrupted found",
            "Inspect the points in each method's ranking (most suspicious first) and count the corrupted points "
            "found; the dashed diagonal is a random ranking. Needs data with known corrupted points (the outliers "
            "preset)",
        )
        dp = self.detect_plot.getPlotItem()
        dp.setXRange(0, 1, padding=0.02)
        dp.setYRange(0, 1, padding=0.02)
        dp.getViewBox().disableAutoRange()
        dp.addItem(
            pg.PlotDataItem([0, 1], [0, 1], pen=pg.mkPen(style.GREY, width=1, style=Qt.PenStyle.DashLine)),
            ignoreBounds=True,
        )
        self.detect_legend = legend_above(self.detect_plot, 4)  # one entry per method: never over the curves
        self.detect_curves: dict[str, pg.PlotDataItem] = {}
        self.detect_empty = empty_text(self.detect_plot, "")
        self.detect_label = note(
            "attributionDetection",
            "Area under each detection curve (1 = every corrupted point ranked first, ≈ 0.5 = random)",
        )

    def _build_soft_plot(self) -> None:
        self.soft_reset_btn = button(
            "Reset weights", "Set the weight column back to the data's weights", self.reset_weights
        )
        self.soft_btn = button(
            "Run soft weights",
            "Compare the influence-corrected fit θ̂ + H⁻¹ Σ_i (w⁰_i − w_i) ∇ℓ_i / n with retraining under the "
            "weight column's weights (from θ₀, and warm by LM from θ̂) — soft-weighted unlearning, Qiao et al. 2025",
            self.run_soft,
        )
        self.soft_plot = make_plot(
            "attributionSoftPlot",
            "Soft weights: IF-corrected vs retrained",
            "x",
            "f(θ; x)",
            "The original fit, the influence-corrected fit and the fits retrained with the soft weights; "
            "down-weighted points are orange, their fill fading with the weight (hollow: weight 0)",
        )
        sfp = self.soft_plot.getPlotItem()
        self.soft_legend = legend_above(self.soft_plot, 3)
        self.soft_points = pg.ScatterPlotItem(size=8)
        sfp.addItem(self.soft_points)
        self.soft_curves = {
            k: pg.PlotDataItem(pen=pg.mkPen(**SOFT_PENS[k]), name=SOFT_LABELS[k]) for k in SOFT_FITS
        }
        for it in self.soft_curves.values():
            sfp.addItem(it)
        self.soft_empty = empty_text(self.soft_plot, "")
        self.soft_label = note(
            "attributionSoft",
            "Distance of each fit to the model retrained from θ₀ with the soft weights: mean_i |Δf(x_i)| (function "
            "space, the primary metric) and ‖Δθ‖",
        )

    def _build_stage_plot(self) -> None:
        self.stage_method = QComboBox()
        for m in STAGEWISE_METHODS:
            self.stage_method.addItem(label(m), m)
        self.stage_method.setToolTip(
            "The method evaluated at checkpoints θ_k along training (TracIn: its running sum; BIF: one SGLD "
            "posterior per checkpoint, slow)"
        )
        self.stage_point = spin(0, 0, "The point whose influence is drawn (follows the selection)")
        self.stage_point.valueChanged.connect(self._draw_stage)
        self.stage_btn = button(
            "Run",
            "Compute the chosen method at checkpoints along training (in the background)",
            self.run_stagewise,
        )
        self.stage_plot = make_plot(
            "attributionStagewisePlot",
            "Stagewise influence",
            "training time t = η·step",
            "influence",
            "The chosen point's influence by the chosen method at checkpoints θ_k along training (Lee et al. "
            "2025); dashed: its value in the table (at θ̂), dotted: exact LOO",
        )
        stp = self.stage_plot.getPlotItem()
        self.stage_curve = pg.PlotDataItem(pen=pg.mkPen(style.BLUE, width=2.2), name="stagewise")
        self.stage_final = pg.InfiniteLine(
            angle=0, pen=pg.mkPen(style.BLUE, width=1.2, style=Qt.PenStyle.DashLine)
        )
        self.stage_loo = pg.InfiniteLine(
            angle=0, pen=pg.mkPen(style.BLACK, width=1.2, style=Qt.PenStyle.DotLine)
        )
        stp.addItem(self.stage_curve)
        for ln in (self.stage_final, self.stage_loo):
            ln.hide()
            stp.addItem(ln)
        self.stage_empty = empty_text(self.stage_plot, "")
        self.stage_label = note("attributionStagewise", "The method, point and query of the stagewise curve")

    # -- the plots for File → Export figures -------------------------------------------------------------
    def _plot_exports(self) -> dict[str, tuple[pg.PlotWidget, object]]:
        """Each plot by its export name, with the provider of its data table."""
        return {
            "attribution-agreement": (self.scatter_plot, self.scatter_table),
            "attribution-detection": (self.detect_plot, self.detection_table),
            "attribution-soft-weights": (self.soft_plot, self.soft_table),
            "attribution-stagewise": (self.stage_plot, self.stagewise_table),
        }

    def plots(self) -> dict[str, pg.PlotWidget]:
        return {name: plot for name, (plot, _) in self._plot_exports().items()}

    def exportable(self, dock=None) -> dict[str, tuple[pg.PlotWidget, object, object]]:
        """The plots that have something drawn: name → (plot, what to raise to lay it out, CSV provider), for
        File → Export figures (``dock``: the panel's dock; the holder also brings the plot's tab to the front)."""
        have = {
            "attribution-agreement": self.agreement is not None,
            "attribution-detection": self.table is not None and bool(self.detect_curves),
            "attribution-soft-weights": self.soft is not None,
            "attribution-stagewise": self.stage is not None,
        }
        return {
            name: (plot, PlotHolder(self, plot, dock), table)
            for name, (plot, table) in self._plot_exports().items()
            if have[name]
        }

    def reveal(self, plot: pg.PlotWidget) -> None:
        """Bring the tab holding ``plot`` to the front."""
        for i in range(self.tabs.count()):
            if self.tabs.widget(i).isAncestorOf(plot):
                self.tabs.setCurrentIndex(i)
                return

    # -- drawing -----------------------------------------------------------------------------------------
    def _agreement_columns(self) -> tuple[str, str] | None:
        """The agreement scatter's (reference, method) columns, or None while the table lacks either."""
        t = self.table
        ref = None if t is None else t.reference()
        method = self.scatter_method.currentData()
        if t is None or ref is None or method not in t.columns:
            return None
        return ref, method

    def _draw_scatter(self, *_) -> None:
        t = self.table
        cols = self._agreement_columns()
        if cols is None:
            for it in (self.scatter_item, self.scatter_bad, self.scatter_sel):
                it.setData([], [])
            self.agreement = None
            self.agreement_label.setText("")
            self.scatter_empty.setText(
                "Compute the table first" if t is None else "Tick LOO (cold or warm): the reference column"
            )
            self.scatter_empty.show()
            return
        ref, method = cols
        self.scatter_empty.hide()
        xs, ys = np.asarray(t.columns[ref]), np.asarray(t.columns[method])
        idx = np.arange(t.n)
        self.scatter_item.setData(xs, ys, data=idx)
        bad = np.array(t.corrupted, dtype=int)
        self.scatter_bad.setData(xs[bad], ys[bad])
        self._draw_selected()
        self.agreement = agreement(t.columns[method], t.columns[ref])  # = t.agreement(ref)[method]
        self.agreement_label.setText(agreement_text(method, ref, self.agreement))
        set_axis_label(self.scatter_plot, "bottom", f"{label(ref)} (exact LOO)")
        set_axis_label(self.scatter_plot, "left", label(method))
        set_title(self.scatter_plot, f"{label(method)} vs exact LOO — query: {t.query.kind}")

    def _draw_selected(self) -> None:
        """Ring the selected point in the scatter."""
        t = self.table
        cols = self._agreement_columns()
        sel = self.state.selection
        if cols is None or sel is None or not 0 <= sel < t.n:
            self.scatter_sel.setData([], [])
        else:
            ref, method = cols
            self.scatter_sel.setData([t.columns[ref][sel]], [t.columns[method][sel]])

    def _draw_detection(self) -> None:
        t = self.table
        dp = self.detect_plot.getPlotItem()
        curves = t.detection() if t is not None else {}
        for name in list(self.detect_curves):
            if name not in curves:
                dp.removeItem(self.detect_curves.pop(name))
        for name, c in curves.items():
            item = self.detect_curves.get(name)
            if item is None:
                item = pg.PlotDataItem(pen=pg.mkPen(_method_color(name), width=2), name=label(name))
                dp.addItem(item)
                self.detect_curves[name] = item
            item.setData(c.inspected, c.found)
        if t is None:
            self.detect_empty.setText("Compute the table first")
        elif not t.corrupted:
            self.detect_empty.setText(
                "Detection needs known corrupted points:\nFile → New from preset → outliers"
            )
        if curves:
            self.detect_empty.hide()
            aucs = sorted(((c.auc, name) for name, c in curves.items()), reverse=True)
            self.detect_label.setText(
                f"AUC ({len(t.corrupted)} corrupted; random ≈ 0.5): "
                + ", ".join(f"{label(n)} {a:.2f}" for a, n in aucs)
            )
        else:
            self.detect_empty.show()
            self.detect_label.setText("")

    def _draw_soft(self) -> None:
        rec = self.soft
        for k, curve in self.soft_curves.items():
            if rec is None:
                curve.setData([], [])
            else:
                curve.setData(rec.grid, rec.curves[k])
        if rec is None:
            self.soft_points.setData([], [])
            self.soft_label.setText("")
            self.soft_empty.setText("Edit the weight column, then 'Run soft weights'")
            self.soft_empty.show()
            return
        self.soft_empty.hide()
        down = rec.weights < rec.base_weights
        brushes = [
            pg.mkBrush(style.color(style.ORANGE, int(255 * w)) if d else style.BLUE)
            for d, w in zip(down, np.clip(rec.weights, 0, 1))
        ]
        pens = [pg.mkPen(style.ORANGE if d else "w", width=1.6 if d else 0.6) for d in down]
        self.soft_points.setData(rec.data_x, rec.data_y, brush=brushes, pen=pens)
        fd, pd = rec.function_distance, rec.param_distance
        parts = [
            f"{SOFT_LABELS[k]}: mean |Δf| {fmt(fd[k])}, ‖Δθ‖ {fmt(pd[k])}"
            for k in ("if", "newton", "warm", "original")
        ]
        changed = int(np.sum(rec.weights != rec.base_weights))
        self.soft_label.setText(
            f"{changed} point(s) re-weighted; distance to the model retrained from θ₀ — "
            + "; ".join(parts)
            + _warnings_html(rec.warnings, "<br>")
        )

    def _draw_stage(self, *_) -> None:
        rec = self.stage
        j = int(self.stage_point.value())
        if rec is None or j >= rec.result.values.shape[1]:
            self.stage_curve.setData([], [])
            self.stage_final.hide()
            self.stage_loo.hide()
            self.stage_label.setText("")
            self.stage_empty.setText("Choose a method and a point, then 'Run'")
            self.stage_empty.show()
            return
        self.stage_empty.hide()
        r = rec.result
        self.stage_curve.setData(r.times, r.values[:, j])
        self._draw_stage_marks(r.method, r.query, j)
        set_axis_label(self.stage_plot, "left", f"{label(r.method)} of point {j}")
        set_title(self.stage_plot, f"Stagewise {label(r.method)}, point {j}")
        lines = []
        if self.stage_final.isVisible():
            lines.append("dashed: its value in the table (at the trained θ̂)")
        if self.stage_loo.isVisible():
            lines.append("dotted: exact LOO")
        self.stage_label.setText(
            f"{label(r.method)} of point {j} at {len(r.steps)} checkpoints; query: {r.query.describe()}"
            + "".join(f" · {t}" for t in lines)
            + _warnings_html(r.warnings, " ")
        )

    def _draw_stage_marks(self, method: str, query, j: int) -> None:
        """The table's value of point ``j`` (dashed) and its exact LOO (dotted), when the table has the
        stagewise curve's query."""
        t = self.table
        same_query = t is not None and t.query.kind == query.kind and t.query.index == query.index
        if same_query and method in t.columns and method != "tracin":
            self.stage_final.setValue(float(t.columns[method][j]))
            self.stage_final.show()
        else:
            self.stage_final.hide()
        ref = t.reference() if same_query else None
        if ref is not None and column_kind(method) == "effect" and method != "tracin":
            self.stage_loo.setValue(float(t.columns[ref][j]))
            self.stage_loo.show()
        else:
            self.stage_loo.hide()

    # -- export tables -----------------------------------------------------------------------------------
    def scatter_table(self) -> Table:
        t = self.table
        cols = self._agreement_columns()
        if cols is None:
            return ("index", "x", "y", "reference", "method"), []
        ref, method = cols
        rows = [
            [
                int(t.index[i]),
                float(t.x[i]),
                float(t.y[i]),
                float(t.columns[ref][i]),
                float(t.columns[method][i]),
            ]
            for i in range(t.n)
        ]
        return ("index", "x", "y", ref, method), rows

    def detection_table(self) -> Table:
        t = self.table
        rows = []
        for name, c in (t.detection() if t is not None else {}).items():
            rows += [[name, c.direction, float(a), float(b)] for a, b in zip(c.inspected, c.found)]
        return ("method", "direction", "fraction_inspected", "fraction_found"), rows

    def soft_table(self) -> Table:
        rec = self.soft
        header = ("series", "x", "y", "weight")
        if rec is None:
            return header, []
        rows = [
            ["point", float(a), float(b), float(w)] for a, b, w in zip(rec.data_x, rec.data_y, rec.weights)
        ]
        for k in SOFT_FITS:
            rows += [[k, float(a), float(b), ""] for a, b in zip(rec.grid, rec.curves[k])]
        return header, rows

    def stagewise_table(self) -> Table:
        rec = self.stage
        header = ("method", "point", "step", "time", "value")
        if rec is None:
            return header, []
        r = rec.result
        rows = [
            [r.method, j, int(s), float(t), float(r.values[k, j])]
            for j in range(r.values.shape[1])
            for k, (s, t) in enumerate(zip(r.steps, r.times))
        ]
        return header, rows


class PlotHolder:
    """What File → Export figures raises to lay a plot out before rendering it (it calls ``show()`` and
    ``raise_()``): the panel's dock, then the plot's tab."""

    def __init__(self, panel: AttributionPlots, plot: pg.PlotWidget, dock=None):
        self.panel, self.plot, self.dock = panel, plot, dock

    def show(self) -> None:
        if self.dock is not None:
            self.dock.show()
        self.panel.reveal(self.plot)

    def raise_(self) -> None:
        if self.dock is not None:
            self.dock.raise_()
