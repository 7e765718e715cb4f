"""The Attribution panel: every training point's influence by every method, side
by side with exact leave-one-out.

- The table: one row per point (index, x, y, [corrupted], a soft weight, then one column per method of core's
  :class:`core.attribution.methods.AttributionTable`), sortable by clicking a header (numeric, NaN last; method columns
  sort largest first on the first click). The fast methods (ticked check boxes) are computed by "Compute", or by
  themselves when the tab is shown after a fit; Data Shapley and the BIF (Monte Carlo, seconds to minutes) by
  their own buttons, their running estimates filling the table as they arrive (at most 5 times a second).
  "Export CSV…" writes exactly ``AttributionTable.to_csv_text()``. Clicking a row selects the point.
- What an effect is measured on (the query, core.attribution.methods.Query): each point's own loss, one chosen point's
  loss, or the mean loss on the validation set (the teacher grid of a preset, as the CLI's default).
- Colour the fit view's points by a chosen column (``colouringRequested``; the main window forwards it to
  :meth:`gui.panels.fit_view.FitView.set_external_colouring`).
- The plots (agreement, detection, soft weights, stagewise): :mod:`gui.panels.attribution.plots`.

This module assembles the panel from its controls (:mod:`.controls`), plots (:mod:`.plots`) and jobs (:mod:`.jobs`),
and reacts to the state: it merges the columns that belong to the current points and query. Every number comes
from :mod:`core.attribution.methods` through the worker tasks of :mod:`gui.attribution_tasks`.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from core.atomic import atomic_write_text
from core.attribution.methods import AttributionTable, column_doc, column_kind
from gui.attribution_tasks import (
    BIF,
    KINDS,
    SHAPLEY,
    SOFT,
    STAGEWISE,
    TABLE,
    SoftRecord,
    StagewiseRecord,
    label,
    merge_tables,
)
from gui.jobs import JobRunner
from gui.panels.attribution.controls import AttributionControls
from gui.panels.attribution.jobs import AttributionJobs
from gui.panels.attribution.plots import AttributionPlots
from gui.panels.common import ComputesWhenInView
from gui.panels.schedules_panel import _cancel_kind
from gui.state import LabState

#: Debounce of the automatic recomputation after an edit (ms).
UPDATE_DELAY_MS = 200
#: Partial results (Shapley's running estimates) refresh the table and plots at most this often (ms): ≤ 5 Hz.
REFRESH_MS = 200
#: The job kinds by their name in the status line.
KIND_NAMES = {TABLE: "Table", SHAPLEY: "Shapley", BIF: "BIF", SOFT: "Soft weights", STAGEWISE: "Stagewise"}


def _single_shot(parent: QWidget, ms: int, slot) -> QTimer:
    timer = QTimer(parent)
    timer.setSingleShot(True)
    timer.setInterval(ms)
    timer.timeout.connect(slot)
    return timer


# The mixins come before ComputesWhenInView: AttributionJobs' runner handlers replace its single-kind ones.
class AttributionPanel(AttributionJobs, AttributionPlots, AttributionControls, ComputesWhenInView, QWidget):
    """The attribution table, its agreement and detection plots, soft weights and stagewise influence."""

    #: colour the fit view's points by a column: (name, values by point) or (None, None) to stop
    colouringRequested = Signal(object, object)
    #: the merged table shown changed (an AttributionTable or None)
    tableChanged = Signal(object)
    #: a soft-weights or stagewise record arrived
    recordChanged = Signal(object)

    def __init__(self, state: LabState, runner: JobRunner, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("attributionPanel")
        self.state = state
        self.runner = runner
        self._dirty = True
        self._loading = False
        #: the requests of the live / last jobs, by kind (results of other requests are ignored)
        self._requests: dict[str, object] = {}
        #: the fast methods' table: (key, table) with key = (revision, query key)
        self._fast: tuple[tuple, AttributionTable] | None = None
        #: Monte-Carlo tables by kind: (key, table, final)
        self._slow: dict[str, tuple[tuple, AttributionTable, bool]] = {}
        self._pending: dict[str, AttributionTable] = {}
        self._messages: dict[str, str] = {}
        self.table: AttributionTable | None = None
        self.soft: SoftRecord | None = None
        self.stage: StagewiseRecord | None = None
        self.agreement: dict | None = None
        self._points_stale = True
        self._colour_sent: tuple | None = None

        self._timer = _single_shot(self, UPDATE_DELAY_MS, self._compute_if_in_view)
        self._refresh = _single_shot(self, REFRESH_MS, self._apply_pending)

        self._build_controls()
        self._build_table()
        self._build_plots()
        self._build_layout()

        self.model.weightsEdited.connect(self._on_weights_edited)
        state.revisionChanged.connect(self._on_revision)
        state.dampingChanged.connect(self._on_edit)
        state.fitChanged.connect(self._on_fit)
        state.selectionChanged.connect(self._on_selection)
        runner.resultReady.connect(self._on_result)
        runner.failed.connect(self._on_failed)
        runner.progress.connect(self._on_progress)
        runner.jobsChanged.connect(self._update_buttons)
        for kind in KINDS:
            self.destroyed.connect(functools.partial(_cancel_kind, runner, kind))
        self._load_points()

    # -- public API --------------------------------------------------------------------------------------
    def methods(self) -> tuple[str, ...]:
        return tuple(m for m, box in self.method_boxes.items() if box.isChecked() and box.isEnabled())

    def set_methods(self, methods) -> None:
        methods = set(methods)
        self._loading = True
        try:
            for m, box in self.method_boxes.items():
                box.setChecked(m in methods)
        finally:
            self._loading = False
        self.request_update()

    def query_choice(self) -> tuple[str, int | None]:
        kind = self.query_combo.currentData()
        return kind, (int(self.query_point.value()) if kind == "point" else None)

    def set_query(self, kind: str, index: int | None = None) -> None:
        self._loading = True
        try:
            if index is not None:
                self.query_point.setValue(int(index))
            self.query_combo.setCurrentIndex(self.query_combo.findData(kind))
        finally:
            self._loading = False
        self._on_query_changed()

    def request_update(self) -> None:
        self._dirty = True
        if self.in_view() and not self._loading and self.state.fit_is_current():
            self._timer.start()

    def is_busy(self) -> bool:
        """A computation of this panel is scheduled or running, or partial results wait to be drawn."""
        return (
            self._timer.isActive()
            or self._refresh.isActive()
            or any(self.runner.is_running(k) for k in KINDS)
        )

    def reset_weights(self) -> None:
        self.model.set_weights(self.state.data.weight)

    def set_weight(self, point: int, w: float) -> bool:
        """Set one soft weight (as editing its cell does)."""
        row = self.model.row_of(int(point))
        return row >= 0 and self.model.setData(self.model.index(row, self.model.fixed.index("weight")), w)

    def set_colour_column(self, name: str | None) -> None:
        k = self.colour_combo.findData(name)
        self.colour_combo.setCurrentIndex(max(0, k))

    def write_csv(self, path) -> None:
        """The table as CSV (exactly core's AttributionTable.to_csv_text), written atomically."""
        if self.table is None:
            raise ValueError("nothing to export yet: compute the table first")
        atomic_write_text(path, self.table.to_csv_text())

    def export_csv_dialog(self) -> None:
        if self.table is None:
            QMessageBox.information(self, "Nothing to export", "Compute the table first.")
            return
        from gui.export import announce_written, start_folder

        start = str(start_folder(self.window()) / "attribution.csv")
        path, _ = QFileDialog.getSaveFileName(self, "Export the attribution table", start, "CSV (*.csv)")
        if not path:
            return
        try:
            self.write_csv(path)
        except OSError as exc:
            QMessageBox.warning(self, "Export failed", f"{path}: {exc.strerror or exc}")
            return
        announce_written(self.window(), Path(path))

    # -- reacting ----------------------------------------------------------------------------------------
    def _on_edit(self, *_) -> None:
        if not self._loading:
            self.request_update()

    def _on_query_changed(self, *_) -> None:
        kind = self.query_combo.currentData()
        self.query_point.setEnabled(kind == "point")
        if self._loading:
            return
        if self.runner.is_running(BIF):  # the BIF depends on the query: its result would not be shown
            self.runner.cancel(BIF)
            self._set_message(BIF, "cancelled (the query changed)")
        self._rebuild()
        self.request_update()

    def _on_revision(self, *_) -> None:
        """New points or settings: every result belonged to the old ones."""
        for kind in KINDS:
            if self.runner.is_running(kind):
                self.runner.cancel(kind)
        self._fast = None
        self._slow.clear()
        self._pending.clear()
        self._messages.clear()
        self.soft = None
        self.stage = None
        self._points_stale = True
        self._stop_colouring()  # the fit view must not colour the new points by the old values
        if self.in_view():  # out of view (e.g. while a point is dragged elsewhere) the table waits
            self._load_points()
        else:
            self.table = None
            self.agreement = None
        self.request_update()

    def came_into_view(self) -> None:
        if self._points_stale:
            self._load_points()
        super().came_into_view()

    def _on_fit(self) -> None:
        if self._dirty:
            self.request_update()

    def _on_selection(self, i) -> None:
        if i is None or not 0 <= int(i) < self.model.n:
            self.view.clearSelection()
        else:
            row = self.model.row_of(int(i))
            if row >= 0:
                self.view.selectRow(row)
            self.stage_point.setValue(int(i))
        self._draw_selected()

    def _on_row_clicked(self, index) -> None:
        if index.isValid() and self.model.columns()[index.column()] != "weight":
            self.state.select(self.model.point_at(index.row()))

    def _on_weights_edited(self) -> None:
        changed = int(np.sum(self.model.weights != self.state.data.weight))
        self._set_message(SOFT, f"{changed} weight(s) differ from the data's; press 'Run soft weights'")

    def _compute_if_in_view(self) -> None:
        if self.in_view() and self.state.fit_is_current():
            self.compute_now()

    def _load_points(self) -> None:
        """The current points into the table (no columns until computed) and the controls' ranges."""
        ds = self.state.data
        self._points_stale = False
        self.model.set_points(ds.x, ds.y, ds.corrupted, ds.weight)
        n = max(1, ds.n)
        for spin in (self.query_point, self.stage_point):
            spin.blockSignals(True)
            spin.setRange(0, n - 1)
            spin.blockSignals(False)
        has_val = ds.teacher is not None  # the validation set is the teacher grid (validation_for)
        item = self.query_combo.model().item(2)
        item.setEnabled(has_val)
        item.setToolTip("" if has_val else "needs data with a teacher function (a preset)")
        if not has_val and self.query_combo.currentData() == "validation":
            self.query_combo.setCurrentIndex(0)
        self.shapley_btn.setEnabled(has_val)
        ols = self.method_boxes.get("ols")
        if ols is not None:
            linear = self.state.settings.model_kind == "linear"
            ols.setVisible(linear)
            ols.setEnabled(linear)
        self._rebuild()
        self._draw_soft()
        self._draw_stage()

    def _after_reset(self) -> None:
        self.view.resizeColumnsToContents()
        c = self.model.fixed.index("weight")
        if c != self._weight_col:
            if self._weight_col >= 0:
                self.view.setItemDelegateForColumn(self._weight_col, None)
            self.view.setItemDelegateForColumn(c, self.weight_delegate)
            self._weight_col = c
        header = self.view.horizontalHeader()
        if header.sortIndicatorSection() != self.model.sort_column:
            header.setSortIndicator(self.model.sort_column, self.model.sort_order)

    def _update_buttons(self, *_) -> None:
        running = any(self.runner.is_running(k) for k in KINDS)
        self.cancel_btn.setEnabled(running)
        self.shapley_btn.setText("Restart Shapley" if self.runner.is_running(SHAPLEY) else "Run Shapley")
        self.bif_btn.setText("Restart BIF" if self.runner.is_running(BIF) else "Run BIF")

    # -- the merged table --------------------------------------------------------------------------------
    def _rebuild(self) -> None:
        """Merge the fast table and the Monte-Carlo columns that belong to the current points and query, and
        redraw the table, the agreement and detection plots and the colouring."""
        if self._points_stale:  # the rows first (this comes back here)
            self._load_points()
            return
        fast = self._fast[1] if self._fast is not None and self._fast[0] == self._current_key(TABLE) else None
        extras = [t for kind, (key, t, _) in self._slow.items() if key == self._current_key(kind)]
        table = merge_tables(fast, extras)
        self.table = table
        self.model.set_table(table)
        self._update_choices()
        self._draw_scatter()
        self._draw_detection()
        self._send_colouring()
        self._show_messages()
        self.tableChanged.emit(table)

    def _update_choices(self) -> None:
        """The agreement scatter's and the colouring's choices of columns, keeping the current ones."""
        t = self.table
        names = [] if t is None else [c for c in t.columns if column_kind(c) != "se"]
        ref = None if t is None else t.reference()
        others = [c for c in names if c != ref]
        for combo, items, extra in (
            (self.scatter_method, others, []),
            (self.colour_combo, list(t.columns) if t is not None else [], [None]),
        ):
            keys = extra + items
            if [combo.itemData(i) for i in range(combo.count())] == keys:
                continue
            current = combo.currentData()
            combo.blockSignals(True)
            combo.clear()
            for k in keys:
                combo.addItem("nothing" if k is None else label(k), k)
                if k is not None:
                    combo.setItemData(combo.count() - 1, column_doc(k), Qt.ItemDataRole.ToolTipRole)
            if current in keys:
                combo.setCurrentIndex(keys.index(current))
            elif combo is self.scatter_method and "if" in keys:
                combo.setCurrentIndex(keys.index("if"))
            combo.blockSignals(False)

    def _send_colouring(self, *_) -> None:
        name = self.colour_combo.currentData()
        t = self.table
        if name is None or t is None or name not in t.columns:
            self._stop_colouring()
            return
        values = np.asarray(t.columns[name], dtype=np.float64)
        sent = self._colour_sent
        if sent is not None and sent[0] == name and np.array_equal(sent[1], values):
            return  # unchanged (a partial result of another column arrived)
        if not np.isfinite(values).all():
            self._stop_colouring()
            self._set_message("colour", f"cannot colour by {label(name)}: it has undefined (nan) values")
            return
        self._colour_sent = (name, values)
        self.colouringRequested.emit(f"{label(name)} (Attribution)", values)

    def _stop_colouring(self) -> None:
        if self._colour_sent is not None:
            self._colour_sent = None
            self.colouringRequested.emit(None, None)

    # -- the status line ---------------------------------------------------------------------------------
    def _set_message(self, kind: str, text: str, error: bool = False) -> None:
        self._messages[kind] = f"<span style='color:#b00020'>{text}</span>" if error else text
        self._show_messages()

    def _show_messages(self) -> None:
        parts = [f"<b>{KIND_NAMES.get(k, k)}</b>: {m}" for k, m in self._messages.items() if m]
        t = self.table
        if t is not None and t.warnings:
            parts.append("<span style='color:#8a5a00'>" + " · ".join(dict.fromkeys(t.warnings)) + "</span>")
        text = " · ".join(parts)
        if self.status.text() != text:
            self.status.setText(text)

    # -- Qt events ---------------------------------------------------------------------------------------
    def showEvent(self, ev):
        super().showEvent(ev)
        if self._points_stale:
            self._load_points()
        if self._dirty and self.state.fit_is_current():
            self._timer.start()

    def closeEvent(self, ev):
        self.shutdown()
        super().closeEvent(ev)


def register(window) -> AttributionPanel:
    """Add the panel to a MainWindow as the dock "attribution" (uses the window's state and job runner)."""
    panel = AttributionPanel(window.state, window.runner)
    window.add_dock_panel("attribution", "Attribution", panel)
    return panel
