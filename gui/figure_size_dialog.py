"""File → Figure size…: the physical size of exported PDF and SVG figures (:class:`gui.paper_figure.FigureSize`).

Width and height in inches (0 means automatic: one paper column, or the full text width for a wide plot; the
height from the plot's aspect on screen) and the font size in points. PNG exports are the screen's pixels and
do not change.
"""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QDoubleSpinBox, QFormLayout, QLabel, QWidget

from gui.paper_figure import DEFAULT_SIZE, FigureSize


def _inches(value: float | None, tip: str) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setRange(0.0, 40.0)
    box.setDecimals(2)
    box.setSingleStep(0.25)
    box.setSuffix(" in")
    box.setSpecialValueText("automatic")
    box.setValue(0.0 if value is None else value)
    box.setToolTip(tip)
    return box


class FigureSizeDialog(QDialog):
    def __init__(self, size: FigureSize, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Figure size for PDF and SVG")
        self.width_box = _inches(
            size.width_in,
            f"automatic: {DEFAULT_SIZE.column_in:g} in (one column) for most plots, "
            f"{DEFAULT_SIZE.page_in:g} in (the text width) for a wide one",
        )
        self.height_box = _inches(size.height_in, "automatic: the plot's proportions on screen")
        self.font_box = QDoubleSpinBox()
        self.font_box.setRange(3.0, 40.0)
        self.font_box.setDecimals(1)
        self.font_box.setSuffix(" pt")
        self.font_box.setValue(size.font_pt)
        self.font_box.setToolTip("Tick labels, axis labels and the title; legends are a point smaller")
        form = QFormLayout(self)
        form.addRow(
            QLabel("Exported PDF and SVG figures are drawn at this size (PNG keeps the screen's pixels).")
        )
        form.addRow("Width", self.width_box)
        form.addRow("Height", self.height_box)
        form.addRow("Font size", self.font_box)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok
            | QDialogButtonBox.StandardButton.Cancel
            | QDialogButtonBox.StandardButton.RestoreDefaults
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        buttons.button(QDialogButtonBox.StandardButton.RestoreDefaults).clicked.connect(self.restore_defaults)
        form.addRow(buttons)

    def restore_defaults(self) -> None:
        self.width_box.setValue(0.0)
        self.height_box.setValue(0.0)
        self.font_box.setValue(DEFAULT_SIZE.font_pt)

    def size_chosen(self) -> FigureSize:
        w, h = self.width_box.value(), self.height_box.value()
        return FigureSize(
            width_in=None if w < 0.5 else w, height_in=None if h < 0.5 else h, font_pt=self.font_box.value()
        )
