"""The column picker: which columns of a delimited points file hold x, y, the weights and the labels.

Shown when a file's columns do not say (no x and y among them) or when it has columns the app would ignore, so
that the user sees what is read. Qt only; the reading itself is core.points.table.
"""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QDialog, QDialogButtonBox, QFormLayout, QLabel, QWidget

from core.points.table import Columns

NONE = "(none)"


class ColumnPicker(QDialog):
    def __init__(
        self, file_name: str, names: list[str], guess: Columns | None, parent: QWidget | None = None
    ):
        super().__init__(parent)
        self.setWindowTitle(f"Columns of {file_name}")
        self.names = list(names)
        form = QFormLayout(self)
        form.addRow(
            QLabel(
                f"{file_name} has the columns {', '.join(repr(n) for n in names)}.\nWhich hold the points?"
            )
        )
        self.boxes: dict[str, QComboBox] = {}
        default_x = guess.x if guess else names[0]
        default_y = guess.y if guess else names[min(1, len(names) - 1)]
        for role, optional, current in (
            ("x", False, default_x),
            ("y", False, default_y),
            ("weight", True, guess.weight if guess else None),
            ("label", True, guess.label if guess else None),
        ):
            box = QComboBox()
            if optional:
                box.addItem(NONE)
            box.addItems(self.names)
            if current in self.names:
                box.setCurrentIndex(box.findText(current))
            self.boxes[role] = box
            form.addRow(role, box)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form.addRow(self.buttons)

    def chosen(self) -> Columns:
        def pick(role):
            text = self.boxes[role].currentText()
            return None if text == NONE else text

        return Columns(pick("x"), pick("y"), pick("weight"), pick("label"))


def pick_columns(parent: QWidget, file_name: str, names: list[str], guess: Columns | None) -> Columns | None:
    """Ask; None when the user cancels."""
    dlg = ColumnPicker(file_name, names, guess, parent)
    return dlg.chosen() if dlg.exec() == QDialog.DialogCode.Accepted else None
