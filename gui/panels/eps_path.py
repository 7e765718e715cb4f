"""The ε-path panel (docs/science.md §2): θ(ε) as the deleted point's weight goes from 1 to 0.

Left: every parameter against ε — the continuation path (solid; the stationary branch followed from θ̂, each
point converged to ‖∇L‖ ≤ 1e-10) and the cold path θ(T, ε) (markers; trained from θ_0 for each ε), with the
implicit-function tangents θ'(1) (the classical influence, Δθ_IF = −θ'(1)) and θ'(0) drawn as short dashed
segments. By default the parameters are drawn relative to θ̂ (θ_k(ε) − θ̂_k), because deleting one point moves
θ little compared with its size. Right: the path in a plane — two chosen parameters (default the first hidden
neuron's (w, b), the notes' Figure 3) or the path's principal plane. The ε slider / Play animates ε; the Data &
fit view follows with f(θ(ε); x). Below: how straight the path is, and any fold or failed continuation.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QSplitter, QVBoxLayout, QWidget

from gui import style
from gui.analysis import TANGENT_SPAN, EpsPathRecord
from gui.export import Table, install_export_actions
from gui.panels.common import (
    PARAM_COLORS,
    FrameControl,
    ProjectionModel,
    ProjectionSelector,
    draggable_frame_line,
    fixed_height_box,
    fmt,
    legend_above,
    make_plot,
    param_label,
    set_axis_label,
    set_title,
    stagger,
    subscript,
)
from gui.state import LabState

IDLE_TEXT = "Delete a point (select it, press Del) to see its ε-path θ(ε)."


class EpsPathPanel(QWidget):
    #: the ε frame shown changed (index into the record's ε grid); the fit view follows
    epsFrameChanged = Signal(int)

    def __init__(self, state: LabState, projection: ProjectionModel, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.projection = projection
        self.record: EpsPathRecord | None = None

        self.relative = QCheckBox("relative to θ(1)")
        self.relative.setChecked(True)
        self.relative.setToolTip(
            "Draw θ_k(ε) − θ_k(1), the change from the trained parameters θ(1) = θ̂ caused by down-weighting z_j, "
            "instead of θ_k(ε); deleting one point "
            "moves the parameters little compared with their size"
        )
        self.selector = ProjectionSelector(projection)
        self.frames = FrameControl("the weight ε of the deleted point (1 → 0)", duration_s=4.0)

        # -- parameters against ε --------------------------------------------------------------------------
        self.params_plot = make_plot(
            "epsParamsPlot",
            "Parameters along the ε-path",
            "weight ε of z<sub>j</sub>  (1 = trained with it → 0 = deleted)",
            "θ<sub>k</sub>(ε) − θ<sub>k</sub>(1)",
            "Every parameter θ_k against ε: continuation path (lines), cold path θ(T, ε) (markers), "
            f"tangents θ'(1) and θ'(0) over Δε = {TANGENT_SPAN:g} (dashed). Click a legend entry to hide a curve.",
        )
        pp = self.params_plot.getPlotItem()
        style.reserve_tick_text(pp)
        pp.invertX(True)
        pp.setXRange(0, 1, padding=0.03)
        self.params_legend = legend_above(self.params_plot, 5)
        self.eps_line = draggable_frame_line(
            self.params_plot, 1.0, "The ε shown (drag it, or use the slider / Play)", self._on_line_dragged
        )
        self.param_curves: list[pg.PlotCurveItem] = []
        self.param_cold: list[pg.ScatterPlotItem] = []
        self.param_tangents: list[pg.PlotCurveItem] = []

        # -- 2D projection -------------------------------------------------------------------------------
        self.proj_plot = make_plot(
            "epsProjectionPlot",
            "ε-path in a plane",
            "θ<sub>a</sub>",
            "θ<sub>b</sub>",
            "The path θ(ε) in the chosen plane: continuation (line), cold path (crosses), θ̂ at ε = 1 (dot), the end "
            "at ε = 0 (star), tangents at both ends (dashed), the ε shown (orange ring)",
        )
        qp = self.proj_plot.getPlotItem()
        style.reserve_tick_text(qp)
        self.proj_legend = legend_above(self.proj_plot, 2)
        self.proj_path = pg.PlotDataItem(pen=pg.mkPen(style.BLUE, width=2.5), name="continuation θ(ε)")
        self.proj_cold = pg.PlotDataItem(
            pen=None,
            symbol="x",
            symbolSize=9,
            symbolPen=pg.mkPen(style.BLACK, width=1.5),
            name="cold path θ(T, ε)",
        )
        self.proj_tan1 = pg.PlotDataItem(
            pen=pg.mkPen(style.GREEN, width=2.5, style=Qt.PenStyle.DashLine), name="tangent at ε = 1 (IF)"
        )
        self.proj_tan0 = pg.PlotDataItem(
            pen=pg.mkPen(style.PURPLE, width=2.5, style=Qt.PenStyle.DashLine), name="tangent at ε = 0"
        )
        self.proj_start = pg.PlotDataItem(
            pen=None, symbol="o", symbolSize=11, symbolBrush=style.BLUE, symbolPen="w", name="θ(1), trained"
        )
        self.proj_end = pg.PlotDataItem(
            pen=None,
            symbol="star",
            symbolSize=15,
            symbolBrush=style.VERMILION,
            symbolPen="w",
            name="θ(0) = θ*₋ⱼ, deleted",
        )
        self.proj_now = pg.ScatterPlotItem(
            size=17, pen=pg.mkPen(style.ORANGE, width=3), brush=pg.mkBrush(None)
        )
        for it in (
            self.proj_path,
            self.proj_cold,
            self.proj_tan1,
            self.proj_tan0,
            self.proj_start,
            self.proj_end,
        ):
            qp.addItem(it)
        qp.addItem(self.proj_now)

        self.readout = QLabel(IDLE_TEXT)
        self.readout.setObjectName("epsReadout")
        self.readout.setWordWrap(True)
        self.readout.setTextFormat(Qt.TextFormat.RichText)
        self.readout.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.readout.setToolTip(
            "Straightness of the path (chord ‖θ(0) − θ(1)‖, largest distance of θ(ε) from the chord, difference and "
            "angle of the tangents θ'(1), θ'(0)), and how the continuation and the cold path went"
        )

        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.frames, 1)
        top.addSpacing(8)
        top.addWidget(self.relative)
        top.addSpacing(8)
        top.addWidget(self.selector)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.params_plot)
        split.addWidget(self.proj_plot)
        split.setSizes([560, 420])
        split.setChildrenCollapsible(False)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.setSpacing(3)
        lay.addLayout(top)
        lay.addWidget(split, 1)
        lay.addWidget(fixed_height_box(self.readout, 5))

        install_export_actions(self.params_plot, "eps-path-parameters", self.params_table)
        install_export_actions(self.proj_plot, "eps-path-plane", self.projection_table)

        self.frames.frameChanged.connect(self._draw_frame)
        self.relative.toggled.connect(self._redraw)
        projection.changed.connect(lambda: stagger(self, "projection", self._draw_projection_if_any))
        state.analysisChanged.connect(self._on_analysis)
        state.fitChanged.connect(self._on_fit)
        self._on_analysis("clear")

    # -- plots for export --------------------------------------------------------------------------------
    def plots(self) -> dict[str, pg.PlotWidget]:
        return {"eps-path-parameters": self.params_plot, "eps-path-plane": self.proj_plot}

    # -- state -------------------------------------------------------------------------------------------
    def _on_analysis(self, part: str) -> None:
        a = self.state.analysis
        if part == "stale" and a is not None:
            self._set_titles(stale=True)
            return
        rec = a.epspath if a is not None else None
        if part in ("epspath", "clear", "errors") or rec is not self.record:
            self.show_record(rec)
        if part == "errors" and a is not None and "epspath" in a.errors and rec is None:
            self.readout.setText(f"<span style='color:#b00020'>{a.errors['epspath']}</span>")
        elif part == "base" and a is not None and rec is None:
            self.readout.setText(f"Computing the ε-path of point {a.j} …")
        elif a is not None and rec is None and part == "clear":
            self.readout.setText(f"Computing the ε-path of point {a.j} …")

    def show_record(self, rec: EpsPathRecord | None) -> None:
        self.record = rec
        if rec is None:
            self.frames.stop()
            self.frames.set_count(0)
            self.frames.set_label("")
            for it in self.param_curves + self.param_cold + self.param_tangents:
                it.setData([], [])
            for it in (
                self.proj_path,
                self.proj_cold,
                self.proj_tan1,
                self.proj_tan0,
                self.proj_start,
                self.proj_end,
            ):
                it.setData([], [])
            self.proj_now.setData([], [])
            self.readout.setText(IDLE_TEXT)
            self._set_titles()
            self.epsFrameChanged.emit(-1)
            return
        self.projection.set_names(rec.param_names)
        keep = self.frames.index if self.frames.count == len(rec.eps) else len(rec.eps) // 2
        self.frames.set_count(len(rec.eps), keep)
        self._ensure_param_items(len(rec.param_names), rec.param_names)
        self._redraw(projection=False)
        self.readout.setText(self._readout_html(rec))
        # the plane and then the frame in later turns of the event loop, one plot per paint (common.stagger)
        stagger(self, "projection", self._draw_projection_if_any)
        stagger(self, "frame", self._draw_current_frame)

    def _draw_projection_if_any(self) -> None:
        if self.record is not None:
            self._draw_projection()

    def _draw_current_frame(self) -> None:
        if self.record is not None:
            self.frames.set_index(self.frames.index)

    def _on_fit(self) -> None:
        """Create the per-parameter plot items as soon as the model is known (not when a result arrives)."""
        fit = self.state.fit
        if fit is not None:
            names = list(fit.model.param_names())
            self._ensure_param_items(len(names), names)
            self.projection.set_names(names)  # now, not in the handler of the ε-path result

    def _set_titles(self, stale: bool = False) -> None:
        rec = self.record
        suffix = " (updating…)" if stale else ""
        if rec is None:
            set_title(self.params_plot, "Parameters along the ε-path")
            set_title(self.proj_plot, "ε-path in a plane")
            return
        set_title(self.params_plot, f"Parameters along the ε-path of point {rec.j}{suffix}")
        set_title(self.proj_plot, f"ε-path of point {rec.j} in a plane{suffix}")

    def _ensure_param_items(self, d: int, names: list[str]) -> None:
        pp = self.params_plot.getPlotItem()
        if len(self.param_curves) == d and all(
            c.name() == n for c, n in zip(self.param_curves, [self._param_name(k, names) for k in range(d)])
        ):
            return
        for it in self.param_curves + self.param_cold + self.param_tangents:
            pp.removeItem(it)
        self.params_legend.clear()
        self.param_curves, self.param_cold, self.param_tangents = [], [], []
        show_legend = d <= 12
        for k in range(d):
            c = PARAM_COLORS[k % len(PARAM_COLORS)]
            # unnamed, light items (PlotCurveItem / ScatterPlotItem): PlotItem would add every named item to the
            # legend (it is filled below), and PlotDataItem costs several times more per update
            curve = pg.PlotCurveItem(pen=pg.mkPen(c, width=2))
            cold = pg.ScatterPlotItem(symbol="x", size=7, pen=pg.mkPen(c, width=1.3), brush=pg.mkBrush(c))
            tan = pg.PlotCurveItem(pen=pg.mkPen(c, width=2, style=Qt.PenStyle.DashLine), connect="pairs")
            tan.setZValue(5)
            for it in (curve, cold, tan):
                pp.addItem(it)
            curve.opts["name"] = self._param_name(k, names)
            # the legend's entry toggles the parameter's curve, its cold-path markers and its tangents together
            curve.visibleChanged.connect(
                lambda curve=curve, cold=cold, tan=tan: self._sync_visibility(curve, cold, tan)
            )
            if show_legend:
                self.params_legend.addItem(curve, f"θ{subscript(k)} {self._param_name(k, names)}")
            self.param_curves.append(curve)
            self.param_cold.append(cold)
            self.param_tangents.append(tan)
        if not show_legend:
            self.params_legend.hide()
        else:
            self.params_legend.show()

    @staticmethod
    def _sync_visibility(curve, cold, tan) -> None:
        cold.setVisible(curve.isVisible())
        tan.setVisible(curve.isVisible())

    @staticmethod
    def _param_name(k: int, names: list[str]) -> str:
        return names[k] if k < len(names) else f"θ{k}"

    def _redraw(self, *_, projection: bool = True) -> None:
        rec = self.record
        if rec is None:
            return
        rel = self.relative.isChecked()
        th = rec.d_theta if rel else rec.theta
        cold = rec.d_cold if rel else rec.cold_theta
        s1 = rec.d_seg1 if rel else rec.seg1
        s0 = rec.d_seg0 if rel else rec.seg0
        last = rec.reached
        seg_eps = np.concatenate([rec.seg1_eps, rec.seg0_eps])
        for k, (curve, cm, tan) in enumerate(zip(self.param_curves, self.param_cold, self.param_tangents)):
            curve.setData(rec.eps[: last + 1], th[: last + 1, k], skipFiniteCheck=True)
            ok = np.isfinite(cold[:, k])
            cm.setData(rec.cold_eps[ok], cold[ok, k])
            if last >= 0:
                tan.setData(seg_eps, np.concatenate([s1[k], s0[k]]), connect="pairs", skipFiniteCheck=True)
            else:
                tan.setData([], [])
        set_axis_label(
            self.params_plot,
            "left",
            "θ<sub>k</sub>(ε) − θ<sub>k</sub>(1)" if rel else "θ<sub>k</sub>(ε)",
        )
        self._set_titles()
        if projection:
            self._draw_projection()

    def _coords(self, rec: EpsPathRecord):
        """(path (K, 2), cold (Kc, 2), seg1 (2, 2), seg0 (2, 2), x label, y label) in the chosen plane."""
        p = self.projection
        if p.mode == "pca":
            ev = rec.plane.explained
            return (
                rec.pc_theta,
                rec.pc_cold,
                rec.pc_seg1,
                rec.pc_seg0,
                f"PC 1 of the path ({100 * ev[0]:.0f} % of its variance)",
                f"PC 2 ({100 * ev[1]:.0f} %)",
            )
        a, b = p.a, p.b
        return (
            rec.theta[:, [a, b]],
            rec.cold_theta[:, [a, b]],
            rec.seg1[[a, b]].T,
            rec.seg0[[a, b]].T,
            param_label(rec.param_names, a),
            param_label(rec.param_names, b),
        )

    def _draw_projection(self) -> None:
        rec = self.record
        if rec is None:
            return
        path, cold, s1, s0, xl, yl = self._coords(rec)
        last = rec.reached
        ok = np.isfinite(cold).all(axis=1)
        self.proj_cold.setData(cold[ok, 0], cold[ok, 1])
        if last < 0:  # the continuation could not start (e.g. θ̂ not converged): only the cold path
            for it in (self.proj_path, self.proj_tan1, self.proj_tan0, self.proj_start, self.proj_end):
                it.setData([], [])
            set_axis_label(self.proj_plot, "bottom", xl)
            set_axis_label(self.proj_plot, "left", yl)
            self.proj_now.setData([], [])
            return
        self.proj_path.setData(path[: last + 1, 0], path[: last + 1, 1])
        self.proj_tan1.setData(s1[:, 0], s1[:, 1])
        self.proj_tan0.setData(s0[:, 0], s0[:, 1])
        self.proj_start.setData([path[0, 0]], [path[0, 1]])
        self.proj_end.setData([path[last, 0]], [path[last, 1]])
        set_axis_label(self.proj_plot, "bottom", xl)
        set_axis_label(self.proj_plot, "left", yl)
        self._draw_frame(self.frames.index, emit=False)
        self.proj_plot.getPlotItem().enableAutoRange()

    def _draw_frame(self, k: int, emit: bool = True) -> None:
        rec = self.record
        if rec is None or k < 0:
            return
        k = min(k, len(rec.eps) - 1)
        eps = float(rec.eps[k])
        self.eps_line.blockSignals(True)
        self.eps_line.setValue(eps)
        self.eps_line.blockSignals(False)
        path = self._coords(rec)[0]
        if np.isfinite(path[k]).all():
            self.proj_now.setData([path[k, 0]], [path[k, 1]])
        else:
            self.proj_now.setData([], [])
        beyond = "" if k <= rec.reached else f" ({stopped_reason(rec)}: not computed)"
        self.frames.set_label(f"ε = {eps:.2f}{beyond}")
        if emit:
            self.epsFrameChanged.emit(k)

    def _on_line_dragged(self) -> None:
        rec = self.record
        if rec is None:
            return
        v = float(self.eps_line.value())
        k = int(np.argmin(np.abs(rec.eps - v)))
        self.frames.set_index(k, draw_now=False)

    def current_eps(self) -> float | None:
        rec = self.record
        return None if rec is None else float(rec.eps[min(self.frames.index, len(rec.eps) - 1)])

    # -- text --------------------------------------------------------------------------------------------
    def _readout_html(self, rec: EpsPathRecord) -> str:
        st = rec.straightness
        parts = []
        if st:
            rel = st.get("relative_chord_distance", float("nan"))
            parts.append(
                f"<b>Straightness</b> (point {rec.j}): chord ‖θ(0) − θ(1)‖ = {fmt(st['chord_length'])}, largest "
                f"distance of θ(ε) from the chord {fmt(st['max_chord_distance'])} "
                f"({fmt(100 * rel, 2)} % of the chord); ‖θ'(1) − θ'(0)‖ = {fmt(st['tangent_difference'])}, angle "
                f"between the tangents {fmt(st['tangent_angle_deg'], 3)}°."
            )
        if rec.reached == len(rec.eps) - 1:
            parts.append(
                f"Continuation: {len(rec.eps)} points from ε = 1 to 0, each ‖∇L‖ ≤ 1e-10 "
                f"(smallest Hessian eigenvalue along the path {fmt(np.nanmin(rec.min_eig))})."
            )
        for m in rec.messages:
            parts.append(f"<span style='color:#b00020'>{m}</span>")
        fd = rec.cold_end_function_distance
        how = "polished to ‖∇L‖ ≤ 1e-10" if rec.cold_polished else "not polished"
        if np.isfinite(fd):
            same = fd < 1e-6
            verdict = (
                "the same minimum as the continuation"
                if same
                else "<span style='color:#b00020'>another minimum than the continuation: the deletion "
                "moved training to another basin</span>"
            )
            parts.append(
                f"Cold path θ(T, ε) ({len(rec.cold_eps)} points from θ_0, {how}): at ε = 0 it ends "
                f"{fmt(fd)} from the continuation's end in function space (mean |Δf|), "
                f"‖Δθ‖ = {fmt(rec.cold_end_param_distance)} — {verdict}."
            )
        return "<br>".join(parts)

    # -- export ------------------------------------------------------------------------------------------
    def params_table(self) -> Table:
        rec = self.record
        if rec is None:
            return ("path", "eps"), []
        header = ["path", "eps", *rec.param_names]
        rows = []
        for k in range(rec.reached + 1):
            rows.append(["continuation", float(rec.eps[k]), *map(float, rec.theta[k])])
        for k in range(len(rec.cold_eps)):
            rows.append(["cold", float(rec.cold_eps[k]), *map(float, rec.cold_theta[k])])
        rows.append(["tangent at 1", 1.0, *map(float, rec.tangent[0])])
        rows.append(["tangent at end", rec.eps_end, *map(float, rec.tangent[max(rec.reached, 0)])])
        return header, rows

    def projection_table(self) -> Table:
        rec = self.record
        if rec is None:
            return ("path", "eps", "a", "b"), []
        path, cold, _, _, xl, yl = self._coords(rec)
        rows = [
            ["continuation", float(rec.eps[k]), float(path[k, 0]), float(path[k, 1])]
            for k in range(rec.reached + 1)
        ]
        rows += [
            ["cold", float(rec.cold_eps[k]), float(cold[k, 0]), float(cold[k, 1])]
            for k in range(len(rec.cold_eps))
        ]
        strip = lambda s: s.replace("<sub>", "").replace("</sub>", "")  # noqa: E731
        return ("path", "eps", strip(xl), strip(yl)), rows


def stopped_reason(rec) -> str:
    """Why the ε-path has no point at this ε, in the words of the path's own messages."""
    text = " ".join(rec.messages)
    if rec.reached < 0:
        return "the path was not started, see below"
    if "fold" in text:
        at = rec.eps[rec.reached]
        return f"beyond the fold after ε = {at:.3g}"
    return f"beyond where the path stopped, ε = {rec.eps[rec.reached]:.3g}"
