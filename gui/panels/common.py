"""Pieces shared by the analysis panels: the 2D projection choice, the ε colour map, the frame (slider / Play)
control that animates at ~30 Hz dropping frames, a log₁₀ axis, and small helpers."""

from __future__ import annotations

import math
import time
import weakref
from collections.abc import Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSlider,
    QWidget,
)

from gui import style
from gui.jobs import LANE

#: Animation refresh rate (Hz): a QTimer draws the latest frame at most this often.
ANIMATION_FPS = 30

#: ε colour: ε = 0 (deleted) vermilion → ε = 1 (trained with z_j) blue.
EPS_CMAP = pg.ColorMap([0.0, 0.5, 1.0], [style.VERMILION, style.PURPLE, style.BLUE])

#: Colours of the parameters' curves (cycled).
PARAM_COLORS = [
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#D55E00",
    "#CC79A7",
    "#56B4E9",
    "#8C564B",
    "#202020",
    "#B8A100",
    "#7F7F7F",
]


def eps_color(eps: float, alpha: int = 255):
    c = EPS_CMAP.map(float(np.clip(eps, 0.0, 1.0)), mode="qcolor")
    c.setAlpha(alpha)
    return c


def param_label(names: list[str], k: int) -> str:
    """Axis text for parameter k: θ_k and its name in the layout (docs/science.md §1), e.g. θ₀ = W1[0,0]."""
    name = names[k] if 0 <= k < len(names) else "?"
    return f"θ<sub>{k}</sub> = {name}"


#: Pause between two staggered plot updates (ms): the event loop runs its timers and input in between.
STAGGER_MS = 8


class _Stagger(QObject):
    """Plot updates run one per turn of the event loop, STAGGER_MS apart, in the order they were asked for.

    Why: Qt paints every widget of a window that changed since the last paint in one pass. When a result updates
    several plots in one handler (or in a zero-delay timer, which Qt 6 runs before any due timer or input), their
    repaints add up to one long stall of the GUI thread; one plot per turn keeps each pass short.
    A later request under the same key replaces a pending one (only the newest state is drawn).
    """

    def __init__(self):
        super().__init__()
        self._queue: dict[object, Callable[[], None]] = {}
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(STAGGER_MS)
        self._timer.timeout.connect(self._run_one)

    def add(self, key: object, fn: Callable[[], None]) -> None:
        self._queue.pop(key, None)
        self._queue[key] = fn
        if not self._timer.isActive():
            self._timer.start()

    def pending(self) -> int:
        return len(self._queue)

    def _run_one(self) -> None:
        if not self._queue:
            return
        key = next(iter(self._queue))
        fn = self._queue.pop(key)
        try:
            with LANE.gui_busy():
                fn()
        finally:
            if self._queue:
                self._timer.start()


_stagger: _Stagger | None = None


def stagger(owner: QObject, name: str, method: Callable[[], None]) -> None:
    """Run ``method`` (a bound method of ``owner``, or a callable) in a later turn of the event loop, after the
    plot updates asked for before it, one per turn (see :class:`_Stagger`). Nothing runs if ``owner`` has been
    deleted meanwhile."""
    global _stagger
    if _stagger is None:
        _stagger = _Stagger()
    ref = weakref.ref(owner)

    def run() -> None:
        obj = ref()
        if obj is None:
            return
        try:
            obj.objectName()  # raises RuntimeError once the C++ object is gone
        except RuntimeError:
            return
        method()

    _stagger.add((id(owner), name), run)


def staggered_updates_pending() -> int:
    """How many staggered plot updates are waiting (the main window is not idle while any are)."""
    return 0 if _stagger is None else _stagger.pending()


def draggable_frame_line(plot: pg.PlotWidget, pos: float, tooltip: str, on_dragged) -> pg.InfiniteLine:
    """The orange vertical line marking the frame shown (ε, t) in ``plot``: drag it to choose the frame."""
    line = pg.InfiniteLine(
        pos=pos,
        angle=90,
        movable=True,
        pen=pg.mkPen(style.ORANGE, width=2),
        hoverPen=pg.mkPen(style.ORANGE, width=4),
    )
    line.setToolTip(tooltip)
    plot.getPlotItem().addItem(line, ignoreBounds=True)
    line.sigDragged.connect(on_dragged)
    return line


def fixed_height_box(label: QLabel, lines: int) -> QScrollArea:
    """``label`` in a box ``lines`` text lines high that scrolls when the text is longer.

    Why: a word-wrapped readout whose text grows by a line takes that height from the plots above it; the plots'
    resize re-lays out and repaints them, and it came exactly when results arrived (a main-thread stall). A box of
    fixed height keeps every plot's size whatever the text.
    """
    label.setWordWrap(True)
    label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
    box = QScrollArea()
    box.setObjectName(f"{label.objectName() or 'readout'}Box")
    box.setWidget(label)
    box.setWidgetResizable(True)
    box.setFrameShape(QFrame.Shape.NoFrame)
    box.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    box.setFixedHeight(lines * label.fontMetrics().lineSpacing() + 6)
    box.setToolTip(label.toolTip())
    return box


def fmt(v, digits: int = 3) -> str:
    if v is None:
        return "–"
    v = float(v)
    if not math.isfinite(v):
        return "–"
    return f"{v:.{digits}g}"


def make_plot(name: str, title: str, bottom: str, left: str, tooltip: str = "") -> pg.PlotWidget:
    style.configure_pyqtgraph()
    w = pg.PlotWidget()
    w.setObjectName(name)
    w.setWindowTitle(title)
    item = w.getPlotItem()
    style.style_plot(item, title)
    style.set_labels(item, bottom, left)
    item.setTitle(title, color=style.BLACK, size="10pt")
    for ax in ("left", "bottom"):
        item.getAxis(ax).enableAutoSIPrefix(False)
    if tooltip:
        w.setToolTip(tooltip)
    w.setMinimumSize(220, 180)
    return w


def legend_above(plot: pg.PlotWidget, columns: int) -> pg.LegendItem:
    """A legend in its own row between the title and the data (never drawn over the curves); named items added
    to the plot afterwards appear in it, and clicking an entry hides / shows its item."""
    item = plot.getPlotItem()
    legend = pg.LegendItem(
        colCount=columns,
        labelTextColor=style.BLACK,
        labelTextSize="8pt",
        horSpacing=6,
        verSpacing=-6,
        brush=None,
        pen=None,
    )
    # never widen the plot for the legend (in a narrow plot the legend's last column is clipped instead)
    legend.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
    top = item.getAxis("top")  # the (unused, hidden) top axis owns that layout cell
    item.layout.removeItem(top)
    top.hide()
    item.layout.addItem(legend, 1, 1)
    item.layout.setAlignment(legend, Qt.AlignmentFlag.AlignHCenter)
    item.legend = legend
    return legend


def set_axis_label(plot: pg.PlotWidget, axis: str, text: str) -> None:
    """Set an axis label only when it changes (each set re-renders HTML and re-lays out the plot)."""
    ax = plot.getPlotItem().getAxis(axis)
    if ax.labelText != text or not ax.label.isVisible():
        style.set_label(plot.getPlotItem(), axis, text)


def set_title(plot: pg.PlotWidget, text: str) -> None:
    """Set a plot title only when it changes."""
    item = plot.getPlotItem()
    if getattr(item, "_title_text", None) != text:
        item._title_text = text
        item.setTitle(text, color=style.BLACK, size="10pt")


def empty_text(plot: pg.PlotWidget, text: str) -> pg.TextItem:
    """A centred grey message in a plot (shown while there is nothing to draw)."""
    t = pg.TextItem(text, color=style.GREY, anchor=(0.5, 0.5))
    plot.getPlotItem().addItem(t, ignoreBounds=True)
    t.setPos(0.5, 0.5)
    return t


class Log10Axis(pg.AxisItem):
    """An axis for values that are already log₁₀: integer ticks labelled as powers of ten
    (``log10_mode = False`` turns it into an ordinary axis)."""

    log10_mode = True

    def tickValues(self, minVal, maxVal, size):
        if not self.log10_mode:
            return super().tickValues(minVal, maxVal, size)
        lo, hi = math.ceil(minVal), math.floor(maxVal)
        step = max(1, int(math.ceil((hi - lo) / 8)))
        major = [float(v) for v in range(lo, hi + 1, step)]
        return [(float(step), major)]

    def tickStrings(self, values, scale, spacing):
        if not self.log10_mode:
            return super().tickStrings(values, scale, spacing)
        return [_power_of_ten(int(round(v))) for v in values]


_SUP = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _power_of_ten(k: int) -> str:
    if k == 0:
        return "1"
    if k == 1:
        return "10"
    return "10" + str(k).translate(_SUP)


# ------------------------------------------------------------------------------------------------------
# projection choice
# ------------------------------------------------------------------------------------------------------


class ProjectionModel(QObject):
    """Which plane the parameter trajectories are drawn in, shared by the ε-path and homotopy panels:
    two coordinates (a, b) of θ, or the principal plane of the points drawn (``mode == "pca"``)."""

    changed = Signal()

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.mode = "params"
        self.a = 0
        self.b = 3
        self.names: list[str] = []

    def set_names(self, names: list[str]) -> None:
        """Called when a record arrives: keep the choice if it still exists, else the default neuron (w, b)."""
        names = list(names)
        if names == self.names:
            return
        self.names = names
        a, b = default_pair(names)
        if not (0 <= self.a < len(names) and 0 <= self.b < len(names)) or self.a == self.b:
            self.a, self.b = a, b
        self.changed.emit()

    def set(self, mode: str | None = None, a: int | None = None, b: int | None = None) -> None:
        new = (mode or self.mode, self.a if a is None else int(a), self.b if b is None else int(b))
        if new != (self.mode, self.a, self.b):
            self.mode, self.a, self.b = new
            self.changed.emit()

    def to_dict(self) -> dict:
        return {"mode": self.mode, "a": self.a, "b": self.b}

    def from_dict(self, d: dict) -> None:
        if not isinstance(d, dict):
            return
        mode = d.get("mode") if d.get("mode") in ("params", "pca") else self.mode
        a = d.get("a") if isinstance(d.get("a"), int) else self.a
        b = d.get("b") if isinstance(d.get("b"), int) else self.b
        self.set(mode, a, b)


def default_pair(names: list[str]) -> tuple[int, int]:
    """The first hidden neuron's (w, b) = (W1[0,0], b1[0]) as in the notes' Figure 3; else θ_0, θ_1."""
    if "W1[0,0]" in names and "b1[0]" in names:
        return names.index("W1[0,0]"), names.index("b1[0]")
    return 0, min(1, max(0, len(names) - 1))


class ProjectionSelector(QWidget):
    """Plane: [two parameters | principal components], x: [θ_a], y: [θ_b] — bound to a ProjectionModel."""

    def __init__(self, model: ProjectionModel, parent: QWidget | None = None):
        super().__init__(parent)
        self.model = model
        self._updating = False
        self.mode = QComboBox()
        self.mode.addItem("two parameters", "params")
        self.mode.addItem("principal components", "pca")
        self.mode.setToolTip(
            "The plane the parameter trajectories are drawn in: two coordinates θ_a, θ_b of θ "
            "(default: the first hidden neuron's weight and bias, as in the notes' Figure 3), or the plane of "
            "the first two principal components of the points drawn"
        )
        self.xa = QComboBox()
        self.xa.setToolTip("The parameter θ_a on the horizontal axis of the 2D projection")
        self.yb = QComboBox()
        self.yb.setToolTip("The parameter θ_b on the vertical axis of the 2D projection")
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(QLabel("Plane"))
        lay.addWidget(self.mode)
        lay.addWidget(QLabel("x"))
        lay.addWidget(self.xa)
        lay.addWidget(QLabel("y"))
        lay.addWidget(self.yb)
        self.mode.currentIndexChanged.connect(self._commit)
        self.xa.currentIndexChanged.connect(self._commit)
        self.yb.currentIndexChanged.connect(self._commit)
        model.changed.connect(self._load)
        self._load()

    def _load(self) -> None:
        m = self.model
        self._updating = True
        try:
            for combo in (self.xa, self.yb):
                if [combo.itemText(i) for i in range(combo.count())] != [
                    f"θ{subscript(k)} {n}" for k, n in enumerate(m.names)
                ]:
                    combo.clear()
                    for k, n in enumerate(m.names):
                        combo.addItem(f"θ{subscript(k)} {n}", k)
            self.mode.setCurrentIndex(self.mode.findData(m.mode))
            if m.names:
                self.xa.setCurrentIndex(m.a)
                self.yb.setCurrentIndex(m.b)
            params = m.mode == "params"
            self.xa.setEnabled(params)
            self.yb.setEnabled(params)
        finally:
            self._updating = False

    def _commit(self, *_) -> None:
        if self._updating:
            return
        a = self.xa.currentData()
        b = self.yb.currentData()
        self.model.set(self.mode.currentData(), a, b)


def subscript(k: int) -> str:
    return str(k).translate(str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉"))


# ------------------------------------------------------------------------------------------------------
# frames: slider + Play, drawn by a ~30 Hz timer
# ------------------------------------------------------------------------------------------------------


class FrameControl(QWidget):
    """A Play/Pause button and a slider over ``count`` frames.

    ``frameChanged(index)`` is emitted at most ~30 times a second: slider moves and playback only mark the
    wanted frame, and a QTimer draws the latest one (frames in between are dropped, never queued). Playback is
    time-based (``duration_s`` for the whole sweep), so a slow frame skips ahead instead of slowing down.
    ``set_count`` without an index keeps the slider where it was (clamped), or with ``last_by_default`` moves it
    to the last frame.
    """

    frameChanged = Signal(int)
    playingChanged = Signal(bool)

    def __init__(
        self,
        what: str,
        duration_s: float = 4.0,
        parent: QWidget | None = None,
        *,
        last_by_default: bool = False,
    ):
        super().__init__(parent)
        self.duration_s = duration_s
        self.last_by_default = last_by_default
        self.count = 0
        self._wanted = 0
        self._drawn = -1
        self._play_t0 = 0.0
        self._play_i0 = 0
        self.play_btn = QPushButton("▶ Play")
        self.play_btn.setCheckable(True)
        self.play_btn.setToolTip(f"Animate {what} (Space plays / pauses)")
        self.play_btn.setFixedWidth(80)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, 0)
        self.slider.setToolTip(f"Choose {what}; the plots follow")
        self.label = QLabel("")
        self.label.setMinimumWidth(170)
        self.label.setToolTip(f"The frame shown: {what}")
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.play_btn)
        lay.addWidget(self.slider, 1)
        lay.addWidget(self.label)
        self.timer = QTimer(self)
        self.timer.setInterval(int(1000 / ANIMATION_FPS))
        self.timer.timeout.connect(self._tick)
        self.slider.valueChanged.connect(self._on_slider)
        self.play_btn.toggled.connect(self._on_play_toggled)
        self.set_count(0)

    @property
    def index(self) -> int:
        return self._wanted

    @property
    def playing(self) -> bool:
        return self.play_btn.isChecked()

    def set_count(self, count: int, index: int | None = None) -> None:
        self.count = max(0, int(count))
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(0, self.count - 1))
        if index is None and self.last_by_default:
            index = self.count - 1
        if index is not None:
            self.slider.setValue(int(np.clip(index, 0, max(0, self.count - 1))))
        self.slider.blockSignals(False)
        self._wanted = self.slider.value()
        self._drawn = -1
        enabled = self.count > 1
        self.slider.setEnabled(enabled)
        self.play_btn.setEnabled(enabled)
        if not enabled and self.playing:
            self.play_btn.setChecked(False)

    def set_index(self, index: int, draw_now: bool = True) -> None:
        index = int(np.clip(index, 0, max(0, self.count - 1)))
        self.slider.blockSignals(True)
        self.slider.setValue(index)
        self.slider.blockSignals(False)
        self._wanted = index
        if draw_now:
            self._draw()
        else:
            self._kick()

    def set_label(self, text: str) -> None:
        self.label.setText(text)

    def toggle(self) -> None:
        if self.play_btn.isEnabled():
            self.play_btn.setChecked(not self.play_btn.isChecked())

    def stop(self) -> None:
        if self.playing:
            self.play_btn.setChecked(False)

    # -- internals ---------------------------------------------------------------------------------------
    def _on_slider(self, value: int) -> None:
        self._wanted = int(value)
        if self.playing:  # the user grabbed the slider: continue playing from there
            self._play_t0 = time.monotonic()
            self._play_i0 = self._wanted
        self._kick()

    def _kick(self) -> None:
        if not self.timer.isActive():
            self._draw()  # the first change is drawn at once, later ones at the frame rate
            self.timer.start()

    def _on_play_toggled(self, on: bool) -> None:
        self.play_btn.setText("❚❚ Pause" if on else "▶ Play")
        if on:
            if self._wanted >= self.count - 1:
                self._wanted = 0
            self._play_t0 = time.monotonic()
            self._play_i0 = self._wanted
            self.timer.start()
        self.playingChanged.emit(on)

    def _tick(self) -> None:
        if self.playing and self.count > 1:
            elapsed = time.monotonic() - self._play_t0
            i = self._play_i0 + int(elapsed / self.duration_s * (self.count - 1))
            if i >= self.count - 1:
                i = self.count - 1
                self.play_btn.setChecked(False)
            self._wanted = i
            self.slider.blockSignals(True)
            self.slider.setValue(i)
            self.slider.blockSignals(False)
        if self._wanted != self._drawn:
            self._draw()
        elif not self.playing:
            self.timer.stop()

    def _draw(self) -> None:
        self._drawn = self._wanted
        if self.count > 0:
            self.frameChanged.emit(self._wanted)


class ComputesWhenInView:
    """Mixin for a panel that recomputes (``compute_now``) after a debounce ``_timer`` only while it can be seen,
    in one job of kind ``JOB_KIND`` on the shared runner.

    A dock tabbed behind another still reports ``isVisible()`` but has no visible region, and raising its tab
    sends the panel no showEvent: the main window calls :meth:`came_into_view` instead. The panel provides
    ``_timer`` (a single-shot debounce connected to :meth:`_compute_if_in_view`), ``_dirty``, ``_loading``,
    ``compute_now``, a ``status`` label, ``_last_request`` (the request of the job it submitted last), the
    ``recordChanged`` signal, ``JOB_KIND``, ``RECORD_TYPE`` and ``_show_result(record)``; it connects the runner's
    ``resultReady`` / ``failed`` / ``progress`` to the handlers below.
    """

    JOB_KIND = ""
    RECORD_TYPE: type = object

    def _set_status(self, text: str, error: bool = False) -> None:
        self.status.setText(f"<span style='color:#b00020'>{text}</span>" if error else text)

    def _on_result(self, kind: str, revision: int, result) -> None:
        if kind != self.JOB_KIND or not isinstance(result, self.RECORD_TYPE):
            return
        if self._last_request is not None and result.request is not self._last_request:
            return  # the result of a request the panel has since replaced
        self._show_result(result)
        self.recordChanged.emit(result)

    def _on_failed(self, kind: str, message: str) -> None:
        if kind == self.JOB_KIND:
            self._set_status(message, error=True)

    def _on_progress(self, kind: str, p) -> None:
        if kind == self.JOB_KIND:
            self._set_status(f"{p.message} ({100 * p.fraction:.0f} %)")

    def in_view(self) -> bool:
        """Shown and not covered by another tab."""
        return self.isVisible() and not self.visibleRegion().isEmpty()

    def _compute_if_in_view(self) -> None:
        # the debounce fires later than the request: the tab may have been covered meanwhile (or, at start-up,
        # every tabbed dock reports itself visible before the tabs are laid out)
        if self.in_view():
            self.compute_now()

    def came_into_view(self) -> None:
        """Compute what changed while the panel was out of view (its dock tab was raised)."""
        if self._dirty and not self._loading:
            self._timer.start()
