"""Points documents in the main window: new from a preset, open and save points files (with the column picker),
drag and drop, and :meth:`WindowPoints.open_file` (a points file or a session).

Mixed into :class:`gui.main_window.MainWindow`.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QSpinBox,
    QWidget,
)

from core.points.dataset import (
    DEFAULT_N,
    DEFAULT_NOISE,
    DEFAULT_SEED,
    DELIMITED_SUFFIXES,
    POINTS_SUFFIXES,
    PRESETS,
    DataError,
    make_preset,
    points_columns,
    read_points,
    save_points,
)
from gui.column_picker import pick_columns
from gui.state import PRESET_SETTINGS, Settings, describe_settings

PRESET_HELP = {
    "teacher": "20 points from the notes' Figure 3 teacher: a fixed random 1 → 3 → 1 tanh MLP plus noise",
    "sine": "y = sin(2x) + noise on [−π/2, π/2]",
    "linear": "y = 0.5 + x + noise on [−2, 2]",
    "outliers": "the linear data with 15 % of the labels shifted by ±2 (marked as corrupted)",
}

POINTS_FILTER = "Points (*.csv *.tsv *.txt *.json);;All files (*)"


class PresetDialog(QDialog):
    """New from preset: name, number of points, noise and seed."""

    def __init__(self, parent: QWidget | None = None, name: str = "teacher"):
        super().__init__(parent)
        self.setWindowTitle("New from preset")
        self.name = QComboBox()
        for p in PRESETS:
            self.name.addItem(p, p)
            self.name.setItemData(self.name.count() - 1, PRESET_HELP.get(p, ""), Qt.ItemDataRole.ToolTipRole)
        self.name.setCurrentText(name)
        self.name.setToolTip("The generating function of the points")
        self.n = QSpinBox()
        self.n.setRange(2, 100_000)
        self.n.setValue(DEFAULT_N)
        self.n.setToolTip("Number of points n")
        self.noise = QDoubleSpinBox()
        self.noise.setRange(0.0, 100.0)
        self.noise.setDecimals(3)
        self.noise.setSingleStep(0.05)
        self.noise.setValue(DEFAULT_NOISE)
        self.noise.setToolTip("Standard deviation of the Gaussian label noise")
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setValue(DEFAULT_SEED)
        self.seed.setToolTip("Seed of the x positions and the noise")
        form = QFormLayout(self)
        form.addRow("Preset", self.name)
        form.addRow("Points n", self.n)
        form.addRow("Noise σ", self.noise)
        form.addRow("Seed", self.seed)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)


class WindowPoints:
    """The points documents of :class:`~gui.main_window.MainWindow`."""

    def new_from_preset(
        self, name: str, n: int | None = None, noise: float | None = None, seed: int | None = None
    ) -> bool:
        try:
            ds = make_preset(name, n=n, noise=noise, seed=seed)
        except DataError as exc:
            self.report_error("Cannot make the preset", str(exc))
            return False
        settings = PRESET_SETTINGS.get(name, Settings())
        self.state.set_dataset_and_settings(ds, settings, f"New from preset {name}")
        self.fit_view.fit_range()
        self.statusBar().showMessage(
            f"New {name} data ({ds.n} points) with its recommended settings: {describe_settings(settings)}",
            8000,
        )
        return True

    def preset_dialog(self) -> None:
        dlg = PresetDialog(self, self.state.data.name if self.state.data.name in PRESETS else "teacher")
        if dlg.exec() == QDialog.DialogCode.Accepted:
            self.new_from_preset(dlg.name.currentData(), dlg.n.value(), dlg.noise.value(), dlg.seed.value())

    def open_points(self, path: str | Path, columns=None) -> bool:
        """Load points from a file; on any problem show it and keep the current points. A delimited file whose
        columns do not say which are x and y, or that has columns the app would ignore, opens the column
        picker (interactive runs)."""
        path = Path(path)
        try:
            if columns is None and self.interactive and path.suffix.lower() in DELIMITED_SUFFIXES:
                names, guess = points_columns(path)
                standard = guess is not None and all(
                    n.lower() in ("x", "y", "weight", "label") for n in names
                )
                if not standard:
                    columns = pick_columns(self, path.name, names, guess)
                    if columns is None:
                        return False
            ds, notes = read_points(path, columns)
        except DataError as exc:
            self.report_error("Cannot open points", str(exc), critical=True)
            return False
        self.state.set_dataset(ds, f"Open {path.name}")
        self.fit_view.fit_range()
        said = "; ".join(notes)
        self.statusBar().showMessage(
            f"Opened {path.name}: {ds.n} points" + (f" ({said})" if said else ""), 10000
        )
        return True

    def open_points_dialog(self) -> None:
        start = self.app_settings.folder("last_points_dir")
        path, _ = QFileDialog.getOpenFileName(self, "Open points", start, POINTS_FILTER)
        if path:
            self._remember_folder("last_points_dir", path)
            self.open_points(path)

    def save_points(self, path: str | Path) -> bool:
        try:
            save_points(self.state.data, path)
        except DataError as exc:
            self.report_error("Cannot save points", str(exc), critical=True)
            return False
        self.statusBar().showMessage(f"Saved {self.state.data.n} points to {path}", 4000)
        return True

    def save_points_dialog(self) -> None:
        start = Path(self.app_settings.folder("last_points_dir")) / f"{self.state.data.name or 'points'}.csv"
        path, chosen = QFileDialog.getSaveFileName(
            self, "Save points", str(start), "CSV (*.csv);;JSON (*.json)"
        )
        if path:
            self._remember_folder("last_points_dir", path)
            p = Path(path)
            if p.suffix.lower() not in (".csv", ".json"):
                p = p.with_suffix(".json" if "json" in chosen.lower() else ".csv")
            self.save_points(p)

    def _remember_folder(self, key: str, path: str | Path) -> None:
        if self.remember:
            self.app_settings.set(key, str(Path(path).parent))

    # -- drag and drop of points files -------------------------------------------------------------------
    def dragEnterEvent(self, event):
        urls = event.mimeData().urls() if event.mimeData().hasUrls() else []
        if any(u.isLocalFile() and Path(u.toLocalFile()).suffix.lower() in POINTS_SUFFIXES for u in urls):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event):
        for u in event.mimeData().urls():
            if u.isLocalFile() and Path(u.toLocalFile()).suffix.lower() in POINTS_SUFFIXES:
                self.open_file(u.toLocalFile())
                event.acceptProposedAction()
                return

    def open_file(self, path: str | Path) -> bool:
        """A points file, or a session (a JSON document whose format is a session)."""
        path = Path(path)
        if path.suffix.lower() == ".json" and _looks_like_session(path):
            return self.open_session(path)
        return self.open_points(path)


def _looks_like_session(path: Path) -> bool:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            head = fh.read(4096)
    except OSError:
        return False
    return '"influence-lab-session"' in head
