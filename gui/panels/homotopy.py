"""The homotopy panel (docs/science.md §4): gradient flow θ(t, ε) with the deleted point weighted by ε, from the same
θ_0 for every ε (the notes' Figure 2).

Left: a heatmap over (t, ε) of a chosen scalar — the loss on z_j, the distance to θ*_{−j} (= θ(∞, 0), the ε = 0
end polished on L_{−j}), a parameter θ_k, the training loss L_{w(ε)} or the loss on all points — with a colour
bar. Middle: the family of curves f(θ(t, ε); x) for every ε at the time t shown, over the data. Right: the
trajectories θ(t, ε) in the plane chosen in the ε-path panel (shared), with a marker at time t on each. The time
slider / Play animates t (a ~30 Hz timer draws the latest frame, dropping frames).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from gui import style
from gui.analysis import HOMOTOPY_EPS, SCALAR_LABELS, HomotopyRecord
from gui.export import Table, install_export_actions
from gui.panels.common import (
    EPS_CMAP,
    FrameControl,
    ProjectionModel,
    ProjectionSelector,
    draggable_frame_line,
    eps_color,
    fixed_height_box,
    fmt,
    make_plot,
    param_label,
    set_axis_label,
    set_title,
    stagger,
)
from gui.state import LabState

IDLE_TEXT = "Delete a point (select it, press Del) to see the homotopy θ(t, ε) of its deletion."
#: Heatmap colour map.
HEAT_CMAP = "viridis"
SCALAR_ORDER = ("loss_j", "distance", "param", "train_loss", "full_loss")
SHORT_LABELS = {
    "loss_j": "ℓ<sub>j</sub>(θ(t, ε))",
    "distance": "‖θ(t, ε) − θ*<sub>−j</sub>‖",
    "param": "θ<sub>k</sub>(t, ε)",
    "train_loss": "L<sub>w(ε)</sub>(θ(t, ε))",
    "full_loss": "L(θ(t, ε))",
}


class HomotopyPanel(QWidget):
    def __init__(self, state: LabState, projection: ProjectionModel, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.projection = projection
        self.record: HomotopyRecord | None = None

        self.scalar = QComboBox()
        for name in SCALAR_ORDER:
            self.scalar.addItem(SCALAR_LABELS[name], name)
        self.scalar.setToolTip(
            "The scalar drawn over (t, ε): the loss ℓ_j on the deleted point, the distance ‖θ(t, ε) − θ*_{−j}‖ "
            "to the model without z_j, a parameter θ_k, the training loss L_{w(ε)} (z_j weighted by ε), or the "
            "loss on all points"
        )
        self.param = QComboBox()
        self.param.setToolTip("The parameter θ_k drawn when the scalar is 'a parameter'")
        self.log = QCheckBox("log₁₀")
        self.log.setChecked(True)
        self.log.setToolTip("Colour by log₁₀ of the scalar (losses and distances span decades over t)")
        self.selector = ProjectionSelector(projection)
        self.frames = FrameControl("the training time t", duration_s=6.0)

        # -- heatmap ------------------------------------------------------------------------------------------
        self.heat_plot = make_plot(
            "homotopyHeatmap",
            "θ(t, ε): loss on z_j",
            "time t = kη",
            "weight ε of z<sub>j</sub>",
            "The chosen scalar over training time t (horizontal) and the weight ε of the deleted point (vertical); "
            "ε = 1 is ordinary training, ε = 0 training without z_j. The orange line is the time shown.",
        )
        hp = self.heat_plot.getPlotItem()
        self.image = pg.ImageItem(axisOrder="row-major")
        hp.addItem(self.image)
        self.colorbar = pg.ColorBarItem(
            values=(0, 1), colorMap=HEAT_CMAP, interactive=False, width=14, label="", colorMapMenu=False
        )
        self.colorbar.setImageItem(self.image, insert_in=hp)
        self.time_line = draggable_frame_line(
            self.heat_plot, 0.0, "The time t shown (drag it, or use the slider / Play)", self._on_line_dragged
        )

        # -- family of curves --------------------------------------------------------------------------------
        self.curves_plot = make_plot(
            "homotopyCurves",
            "f(θ(t, ε); x) for every ε at time t",
            "x",
            "y",
            "The fits of the whole family at the time t shown, one curve per ε (colour: ε, red 0 → blue 1), "
            "over the data (the deleted point z_j ringed)",
        )
        cp = self.curves_plot.getPlotItem()
        self.points = pg.ScatterPlotItem(size=7, pen=pg.mkPen("w", width=0.8), brush=pg.mkBrush(style.GREY))
        self.deleted_point = pg.ScatterPlotItem(
            size=15, pen=pg.mkPen(style.VERMILION, width=2.5), brush=pg.mkBrush(None)
        )
        cp.addItem(self.points)
        cp.addItem(self.deleted_point)
        # the time shown, inside the plot (a title that changes every frame would re-lay out the plot)
        self.time_text = pg.TextItem("", color=style.BLACK, anchor=(1, 0))
        self.time_text.setParentItem(cp.vb)
        cp.vb.sigResized.connect(lambda vb: self.time_text.setPos(vb.width() - 6, 4))
        self.family: list[pg.PlotCurveItem] = []
        self.eps_bar = pg.ColorBarItem(
            values=(0, 1), colorMap=EPS_CMAP, interactive=False, width=10, label="ε", colorMapMenu=False
        )
        self.eps_bar.axis.setWidth(32)  # ticks 0 … 1 need 32 px, not pyqtgraph's 45 (this plot is narrow)
        cp.layout.addItem(self.eps_bar, 2, 5)

        # -- trajectories ------------------------------------------------------------------------------------
        self.traj_plot = make_plot(
            "homotopyTrajectories",
            "Trajectories θ(t, ε)",
            "θ<sub>a</sub>",
            "θ<sub>b</sub>",
            "The training trajectories θ(t, ε) of every ε in the plane chosen (colour: ε), from θ_0 (square); the dots "
            "are the time t shown; the star is θ*_{−j}",
        )
        tp = self.traj_plot.getPlotItem()
        self.trajs: list[pg.PlotCurveItem] = []
        self.traj_now = pg.ScatterPlotItem(size=8, pen=pg.mkPen("w", width=0.5))
        self.traj_start = pg.ScatterPlotItem(
            size=11, symbol="s", pen=pg.mkPen("w"), brush=pg.mkBrush(style.BLACK)
        )
        self.traj_target = pg.ScatterPlotItem(
            size=16, symbol="star", pen=pg.mkPen("w"), brush=pg.mkBrush(style.VERMILION)
        )
        tp.addItem(self.traj_now)
        tp.addItem(self.traj_start)
        tp.addItem(self.traj_target)

        self.note = QLabel(IDLE_TEXT)
        self.note.setObjectName("homotopyNote")
        self.note.setWordWrap(True)
        self.note.setToolTip("What is drawn, and how θ*_{−j} was obtained")

        controls = QHBoxLayout()
        controls.setContentsMargins(0, 0, 0, 0)
        controls.addWidget(QLabel("Colour by"))
        controls.addWidget(self.scalar, 1)
        controls.addWidget(self.param)
        controls.addWidget(self.log)
        controls.addSpacing(8)
        controls.addWidget(self.selector)
        split = QSplitter(Qt.Orientation.Horizontal)
        for w in (self.heat_plot, self.curves_plot, self.traj_plot):
            split.addWidget(w)
        split.setSizes([380, 330, 300])
        split.setChildrenCollapsible(False)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.setSpacing(3)
        lay.addLayout(controls)
        lay.addWidget(self.frames)
        lay.addWidget(split, 1)
        lay.addWidget(fixed_height_box(self.note, 2))

        install_export_actions(self.heat_plot, "homotopy-heatmap", self.heat_table)
        install_export_actions(self.curves_plot, "homotopy-curves", self.curves_table)
        install_export_actions(self.traj_plot, "homotopy-trajectories", self.traj_table)

        self._ensure_items(HOMOTOPY_EPS)  # created once, up front: not while a result is being shown
        self.scalar.currentIndexChanged.connect(self._draw_heatmap)
        self.param.currentIndexChanged.connect(self._draw_heatmap)
        self.log.toggled.connect(self._draw_heatmap)
        self.frames.frameChanged.connect(self._draw_frame)
        projection.changed.connect(lambda: stagger(self, "trajectories", self._draw_trajectories))
        state.analysisChanged.connect(self._on_analysis)
        state.pointsChanged.connect(self._draw_points)
        self._update_param_enabled()
        self._on_analysis("clear")

    def plots(self) -> dict[str, pg.PlotWidget]:
        return {
            "homotopy-heatmap": self.heat_plot,
            "homotopy-curves": self.curves_plot,
            "homotopy-trajectories": self.traj_plot,
        }

    # -- state -------------------------------------------------------------------------------------------
    def _on_analysis(self, part: str) -> None:
        a = self.state.analysis
        if part == "stale":
            if self.record is not None:
                set_title(self.heat_plot, self._heat_title() + " (updating…)")
            return
        rec = a.homotopy if a is not None else None
        if rec is not self.record or part in ("homotopy", "clear"):
            self.show_record(rec)
        if a is not None and rec is None:
            if "homotopy" in a.errors:
                self.note.setText(a.errors["homotopy"])
            else:
                self.note.setText(f"Computing the homotopy θ(t, ε) of point {a.j} …")

    def show_record(self, rec: HomotopyRecord | None) -> None:
        self.record = rec
        if rec is None:
            self.frames.stop()
            self.frames.set_count(0)
            self.frames.set_label("")
            self.image.clear()
            for c in self.family + self.trajs:
                c.setData([], [])
            for s in (self.traj_now, self.traj_start, self.traj_target, self.deleted_point):
                s.setData([], [])
            self.note.setText(IDLE_TEXT)
            set_title(self.heat_plot, "θ(t, ε)")
            self._draw_points()
            return
        self.projection.set_names(rec.param_names)
        if [self.param.itemData(i) for i in range(self.param.count())] != list(range(len(rec.param_names))):
            self.param.blockSignals(True)
            self.param.clear()
            for k, n in enumerate(rec.param_names):
                self.param.addItem(f"θ{k} {n}", k)
            self.param.blockSignals(False)
        keep = self.frames.index if self.frames.count == len(rec.times) else len(rec.times) // 3
        self.frames.set_count(len(rec.times), keep)
        self._ensure_items(len(rec.eps))
        self._draw_points()
        self._draw_heatmap()
        what = "gradient descent" if rec.optimizer == "gd" else rec.optimizer.upper()
        self.note.setText(
            f"Point {rec.j}: {len(rec.eps)} values of ε × {len(rec.times)} snapshots of {what} (η = {rec.lr:g}, "
            f"t = kη up to {fmt(rec.times[-1])}), every run from the same θ_0. {rec.target_note}."
        )
        # trajectories and the frame in later turns of the event loop: no single long stall of the GUI thread
        stagger(self, "trajectories", self._draw_trajectories)

    def _ensure_items(self, E: int) -> None:
        cp = self.curves_plot.getPlotItem()
        tp = self.traj_plot.getPlotItem()
        if len(self.family) == E:
            return
        for c in self.family:
            cp.removeItem(c)
        for c in self.trajs:
            tp.removeItem(c)
        self.family, self.trajs = [], []
        rec = self.record
        for e in range(E):
            eps = float(rec.eps[e]) if rec is not None else 1.0 - e / max(1, E - 1)
            # width-1 (cosmetic) pens: Qt draws wide antialiased lines several times slower (48 → 7 ms a frame)
            c = pg.PlotCurveItem(pen=pg.mkPen(eps_color(eps, 220), width=1))
            t = pg.PlotCurveItem(pen=pg.mkPen(eps_color(eps, 200), width=1))
            cp.addItem(c)
            tp.addItem(t)
            self.family.append(c)
            self.trajs.append(t)

    def _draw_points(self, *_) -> None:
        ds = self.state.data
        self.points.setData(ds.x, ds.y)
        rec = self.record
        j = rec.j if rec is not None else self.state.analysis_target
        if j is not None and 0 <= j < ds.n:
            self.deleted_point.setData([ds.x[j]], [ds.y[j]])
        else:
            self.deleted_point.setData([], [])

    def _update_param_enabled(self) -> None:
        self.param.setEnabled(self.scalar.currentData() == "param")

    def scalar_field(self) -> tuple[np.ndarray, bool] | None:
        """The field drawn (S, E) and whether it is log₁₀ (None without a record)."""
        rec = self.record
        if rec is None:
            return None
        name = self.scalar.currentData()
        if name == "param":
            k = max(0, self.param.currentData() or 0)
            return rec.theta[:, :, k], False
        if self.log.isChecked() and rec.log_scalars.get(name) is not None:
            return rec.log_scalars[name], True
        return rec.scalars[name], False

    def _heat_title(self) -> str:
        rec = self.record
        name = self.scalar.currentData()
        if name == "param" and rec is not None:
            what = param_label(rec.param_names, max(0, self.param.currentData() or 0))
        else:
            what = SHORT_LABELS[name]
        j = f" of point {rec.j}" if rec is not None else ""
        return f"{what} over (t, ε){j}"

    def _draw_heatmap(self, *_) -> None:
        self._update_param_enabled()
        rec = self.record
        got = self.scalar_field()
        if rec is None or got is None:
            return
        field, is_log = got
        # rows = ε from 0 (bottom) to 1 (top), columns = time: the record's ε runs 1 → 0
        img = np.ascontiguousarray(field.T[::-1])
        finite = img[np.isfinite(img)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        if hi <= lo:
            hi = lo + 1e-12
        self.image.setImage(img, autoLevels=False, levels=(lo, hi))
        t0, t1 = float(rec.times[0]), float(rec.times[-1])
        S, E = field.shape
        dt = (t1 - t0) / max(1, S - 1)
        de = 1.0 / max(1, E - 1)
        self.image.setRect(QRectF(t0 - dt / 2, -de / 2, (t1 - t0) + dt, 1.0 + de))
        self.colorbar.setLevels((lo, hi))
        name = self.scalar.currentData()
        label = SHORT_LABELS[name].replace("<sub>", "").replace("</sub>", "")
        if name == "param":
            label = f"θ{max(0, self.param.currentData() or 0)}(t, ε)"
        bar_label = ("log₁₀ " if is_log else "") + label
        if self.colorbar.getAxis("left").labelText != bar_label:
            self.colorbar.getAxis("left").setLabel(bar_label, color=style.BLACK)
        hp = self.heat_plot.getPlotItem()
        set_title(self.heat_plot, self._heat_title())
        hp.setXRange(t0, t1, padding=0.01)
        hp.setYRange(0, 1, padding=0.02)

    def _traj_coords(self, rec: HomotopyRecord):
        p = self.projection
        if p.mode == "pca":
            ev = rec.plane.explained
            return (
                rec.pc_theta,
                rec.pc_target,
                rec.plane.project(rec.theta0),
                f"PC 1 of the trajectories ({100 * ev[0]:.0f} %)",
                f"PC 2 ({100 * ev[1]:.0f} %)",
            )
        a, b = p.a, p.b
        return (
            rec.theta[:, :, [a, b]],
            rec.target[[a, b]],
            rec.theta0[[a, b]],
            param_label(rec.param_names, a),
            param_label(rec.param_names, b),
        )

    def _draw_trajectories(self) -> None:
        rec = self.record
        if rec is None:
            return
        pts, target, start, xl, yl = self._traj_coords(rec)
        for e, c in enumerate(self.trajs):
            c.setData(pts[:, e, 0], pts[:, e, 1], skipFiniteCheck=True)
        self.traj_start.setData([start[0]], [start[1]])
        self.traj_target.setData([target[0]], [target[1]])
        set_axis_label(self.traj_plot, "bottom", xl)
        set_axis_label(self.traj_plot, "left", yl)
        self.traj_plot.getPlotItem().enableAutoRange()
        stagger(self, "frame", self._draw_current_frame)

    def _draw_current_frame(self) -> None:
        self._draw_frame(self.frames.index)

    def _draw_frame(self, s: int) -> None:
        rec = self.record
        if rec is None or s < 0:
            return
        s = min(s, len(rec.times) - 1)
        t = float(rec.times[s])
        self.time_line.blockSignals(True)
        self.time_line.setValue(t)
        self.time_line.blockSignals(False)
        grid = rec.grid
        for e, c in enumerate(self.family):
            c.setData(grid, rec.curves[s, e], skipFiniteCheck=True)
        pts = self._traj_coords(rec)[0]
        if getattr(self, "_traj_brushes", None) is None or len(self._traj_brushes) != len(rec.eps):
            self._traj_brushes = [pg.mkBrush(eps_color(float(e))) for e in rec.eps]
        self.traj_now.setData(pts[s, :, 0], pts[s, :, 1], brush=self._traj_brushes)
        self.time_text.setText(f"t = {t:.3g}")
        self.frames.set_label(f"t = {t:.3g} (step {int(rec.steps[s])})")

    def _on_line_dragged(self) -> None:
        rec = self.record
        if rec is None:
            return
        s = int(np.argmin(np.abs(rec.times - float(self.time_line.value()))))
        self.frames.set_index(s, draw_now=False)

    # -- export ------------------------------------------------------------------------------------------
    def heat_table(self) -> Table:
        rec = self.record
        got = self.scalar_field()
        if rec is None or got is None:
            return ("t", "eps", "value"), []
        field, is_log = got
        name = ("log10 " if is_log else "") + str(self.scalar.currentData())
        rows = [
            [float(rec.times[s]), float(rec.eps[e]), float(field[s, e])]
            for s in range(field.shape[0])
            for e in range(field.shape[1])
        ]
        return ("t", "eps", name), rows

    def curves_table(self) -> Table:
        rec = self.record
        if rec is None:
            return ("t", "eps", "x", "f"), []
        s = min(self.frames.index, len(rec.times) - 1)
        t = float(rec.times[s])
        rows = [
            [t, float(rec.eps[e]), float(x), float(f)]
            for e in range(len(rec.eps))
            for x, f in zip(rec.grid, rec.curves[s, e])
        ]
        return ("t", "eps", "x", "f"), rows

    def traj_table(self) -> Table:
        rec = self.record
        if rec is None:
            return ("t", "eps", "a", "b"), []
        pts, _, _, xl, yl = self._traj_coords(rec)
        strip = lambda s: s.replace("<sub>", "").replace("</sub>", "")  # noqa: E731
        rows = [
            [float(rec.times[s]), float(rec.eps[e]), float(pts[s, e, 0]), float(pts[s, e, 1])]
            for e in range(len(rec.eps))
            for s in range(len(rec.times))
        ]
        return ("t", "eps", strip(xl), strip(yl)), rows
