"""The Attribution panel's table: one row per training point, one column per method of core's
:class:`core.attribution.methods.AttributionTable`, sortable by any column (numeric, NaN last), with an editable
soft-weight column (:class:`AttributionModel` and the spin box that edits a weight, :class:`WeightDelegate`)."""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QAbstractTableModel, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QDoubleSpinBox, QStyledItemDelegate

from core.attribution.methods import AttributionTable, column_doc, column_kind
from gui import style
from gui.attribution_tasks import label

#: Columns before the methods' ones.
FIXED = ("index", "x", "y", "corrupted", "weight")
FIXED_DOC = {
    "index": "The point's index in the data (as in the fit view)",
    "x": "The point's input x",
    "y": "The point's label y",
    "corrupted": "'yes' if the preset corrupted this point's label (the outliers preset; 1 / 0 in the CSV)",
    "weight": "Soft weight w_i ∈ [0, 1] for 'Run soft weights' (double-click to edit; starts at the data weights)",
}
CORRUPTED_BRUSH = QColor(204, 121, 167, 45)
WEIGHT_BRUSH = QColor(240, 228, 66, 40)


def _cell(v: float) -> str:
    return "nan" if not math.isfinite(v) else f"{v:.4g}"


class AttributionModel(QAbstractTableModel):
    """Rows = points, columns = FIXED (``corrupted`` only when the data marks corrupted points) + the methods'
    columns of an AttributionTable. Sorting keeps a row permutation (numeric, NaN last, stable)."""

    weightsEdited = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.point_index = np.zeros(0, dtype=int)
        self.x = np.zeros(0)
        self.y = np.zeros(0)
        self.corrupted = np.zeros(0, dtype=bool)
        self.weights = np.zeros(0)
        self.table: AttributionTable | None = None
        self.fixed: list[str] = ["index", "x", "y", "weight"]
        self.names: list[str] = []
        self.order = np.zeros(0, dtype=int)
        #: the column sorted by (its name: columns come and go) and the order
        self.sort_name: str | None = None
        self.sort_order = Qt.SortOrder.AscendingOrder

    # -- content -----------------------------------------------------------------------------------------
    @property
    def n(self) -> int:
        return int(self.x.size)

    def columns(self) -> list[str]:
        return self.fixed + self.names

    @property
    def sort_column(self) -> int:
        cols = self.columns()
        return cols.index(self.sort_name) if self.sort_name in cols else -1

    def set_points(self, x, y, corrupted, weights) -> None:
        """New points (the table is cleared: it belonged to other points)."""
        self.beginResetModel()
        self.x = np.asarray(x, dtype=np.float64).copy()
        self.y = np.asarray(y, dtype=np.float64).copy()
        n = self.x.size
        self.point_index = np.arange(n)
        self.corrupted = np.zeros(n, dtype=bool)
        bad = [int(i) for i in corrupted if 0 <= int(i) < n]
        self.corrupted[bad] = True
        self.weights = np.asarray(weights, dtype=np.float64).copy()
        self.fixed = ["index", "x", "y"] + (["corrupted"] if bad else []) + ["weight"]
        self.table = None
        self.names = []
        self.order = np.arange(n)
        self._resort()
        self.endResetModel()

    def set_table(self, table: AttributionTable | None) -> None:
        """Show ``table``'s columns (same points). New or removed columns reset the model; new values of the same
        columns only emit dataChanged (and re-sort when the sorted column changed)."""
        if table is not None and table.n != self.n:
            table = None
        names = [] if table is None else list(table.columns)
        if names != self.names:
            self.beginResetModel()
            self.table, self.names = table, names
            self._resort()
            self.endResetModel()
            return
        self.table = table
        if names and self.n:
            first = len(self.fixed)
            self.dataChanged.emit(self.index(0, first), self.index(self.n - 1, first + len(names) - 1))
            if self.sort_column >= first:
                self._apply_order(self._sorted_order(self.sort_column, self.sort_order))

    def set_weights(self, weights) -> None:
        self.weights = np.asarray(weights, dtype=np.float64).copy()
        c = self.fixed.index("weight")
        if self.n:
            self.dataChanged.emit(self.index(0, c), self.index(self.n - 1, c))

    def values(self, column: int | str) -> np.ndarray:
        """The numbers of a column by point (not in display order)."""
        name = self.columns()[column] if isinstance(column, int) else column
        if name == "index":
            return self.point_index.astype(np.float64)
        if name == "x":
            return self.x
        if name == "y":
            return self.y
        if name == "corrupted":
            return self.corrupted.astype(np.float64)
        if name == "weight":
            return self.weights
        return np.asarray(self.table.columns[name], dtype=np.float64)

    def point_at(self, row: int) -> int:
        """The point shown in display row ``row``."""
        return int(self.order[row])

    def row_of(self, point: int) -> int:
        hits = np.flatnonzero(self.order == point)
        return int(hits[0]) if hits.size else -1

    # -- Qt model API ------------------------------------------------------------------------------------
    def rowCount(self, parent=None) -> int:
        return 0 if parent is not None and parent.isValid() else self.n

    def columnCount(self, parent=None) -> int:
        return 0 if parent is not None and parent.isValid() else len(self.columns())

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        p = int(self.order[index.row()])
        name = self.columns()[index.column()]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            if name == "index":
                return str(p) if role == Qt.ItemDataRole.DisplayRole else p
            if name == "corrupted":
                return "yes" if self.corrupted[p] else ""
            v = float(self.values(name)[p])
            if role == Qt.ItemDataRole.EditRole:
                return v
            return f"{v:.3g}" if name == "weight" else _cell(v)
        if role == Qt.ItemDataRole.ToolTipRole:
            if name in ("index", "corrupted"):
                return FIXED_DOC[name]
            v = float(self.values(name)[p])
            doc = FIXED_DOC.get(name) or column_doc(name)
            return f"point {p}: {label(name)} = {v!r}\n{doc}"
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.BackgroundRole:
            if name == "weight":
                return WEIGHT_BRUSH
            if self.corrupted[p]:
                return CORRUPTED_BRUSH
            return None
        if role == Qt.ItemDataRole.ForegroundRole and name not in FIXED:
            if not math.isfinite(float(self.values(name)[p])):
                return QColor(style.GREY)
        return None

    def setData(self, index, value, role=Qt.ItemDataRole.EditRole) -> bool:
        if role != Qt.ItemDataRole.EditRole or self.columns()[index.column()] != "weight":
            return False
        try:
            v = float(value)
        except (TypeError, ValueError):
            return False
        if not (math.isfinite(v) and 0.0 <= v <= 1.0):
            return False
        self.weights[int(self.order[index.row()])] = v
        self.dataChanged.emit(index, index)
        self.weightsEdited.emit()
        return True

    def flags(self, index):
        f = super().flags(index)
        if index.isValid() and self.columns()[index.column()] == "weight":
            f |= Qt.ItemFlag.ItemIsEditable
        return f

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation != Qt.Orientation.Horizontal:
            if role == Qt.ItemDataRole.DisplayRole:
                return str(section + 1)
            return None
        cols = self.columns()
        if not 0 <= section < len(cols):
            return None
        name = cols[section]
        if role == Qt.ItemDataRole.DisplayRole:
            return "weight ✎" if name == "weight" else label(name)
        if role == Qt.ItemDataRole.ToolTipRole:
            if name in FIXED:
                return FIXED_DOC[name] + " — click to sort"
            kind = column_kind(name)
            return (
                f"{name} ({kind}): {column_doc(name)} — click to sort (largest first, again: smallest first)"
            )
        if role == Qt.ItemDataRole.InitialSortOrderRole:
            desc = name not in FIXED
            return Qt.SortOrder.DescendingOrder if desc else Qt.SortOrder.AscendingOrder
        return None

    def sort(self, column: int, order=Qt.SortOrder.AscendingOrder) -> None:
        cols = self.columns()
        self.sort_name = cols[column] if 0 <= column < len(cols) else None
        self.sort_order = order
        self._apply_order(self._sorted_order(self.sort_column, order))

    # -- sorting -----------------------------------------------------------------------------------------
    def _sorted_order(self, column: int, order) -> np.ndarray:
        n = self.n
        if not 0 <= column < len(self.columns()):
            return np.arange(n)
        v = np.array(self.values(column), dtype=np.float64)
        nan = np.isnan(v)
        key = v if order == Qt.SortOrder.AscendingOrder else -v
        key = np.where(nan, 0.0, key)
        return np.lexsort((np.arange(n), key, nan))  # NaN last, then by value, ties by point index

    def _resort(self) -> None:
        self.order = self._sorted_order(self.sort_column, self.sort_order)

    def _apply_order(self, new: np.ndarray) -> None:
        if np.array_equal(new, self.order):
            return
        self.layoutAboutToBeChanged.emit()
        old = self.persistentIndexList()  # the view's selection and current cell follow their points
        points = [int(self.order[i.row()]) for i in old]
        self.order = new
        pos = np.empty(self.n, dtype=int)
        pos[new] = np.arange(self.n)
        self.changePersistentIndexList(
            old, [self.index(int(pos[p]), i.column()) for i, p in zip(old, points)]
        )
        self.layoutChanged.emit()


class WeightDelegate(QStyledItemDelegate):
    """Edits the weight column with a spin box limited to [0, 1]."""

    def createEditor(self, parent, option, index):
        box = QDoubleSpinBox(parent)
        box.setRange(0.0, 1.0)
        box.setDecimals(3)
        box.setSingleStep(0.1)
        box.setToolTip("Soft weight w_i ∈ [0, 1] (0 = deleted, 1 = full)")
        return box

    def setEditorData(self, editor, index):
        editor.setValue(float(index.data(Qt.ItemDataRole.EditRole)))

    def setModelData(self, editor, model, index):
        editor.interpretText()
        model.setData(index, editor.value(), Qt.ItemDataRole.EditRole)
