"""Export from the main window: the Data & fit plot, every figure at once (PNG, SVG, PDF, CSV and a
settings.json), the animations (PNG frames, GIF, MP4) and the physical figure size.

Mixed into :class:`gui.main_window.MainWindow`; the file formats are :mod:`gui.export`'s.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QApplication, QDialog, QDockWidget, QFileDialog, QMessageBox, QWidget

from core.atomic import atomic_write_text
from gui.export import ExportError, export_csv, export_figure, export_figure_set, plot_table


class WindowExport:
    """Export of :class:`~gui.main_window.MainWindow`'s plots and animations."""

    def export_plot(self, path: str | Path) -> Path | None:
        try:
            return export_figure(self.fit_view.plot, path, size=self.figure_size)
        except ExportError as exc:
            self.report_error("Export failed", str(exc))
            return None

    def all_plots(self) -> dict[str, tuple[QWidget, QDockWidget | None, object]]:
        """name → (plot widget, its dock or None, CSV data provider)."""
        out: dict = {
            "data-and-fit": (self.fit_view.plot, None, self.fit_view.table),
            "training-loss": (self.training_panel.loss_plot, self.training_dock, None),
        }
        providers = {
            "eps-path-parameters": self.eps_panel.params_table,
            "eps-path-plane": self.eps_panel.projection_table,
            "homotopy-heatmap": self.homotopy_panel.heat_table,
            "homotopy-curves": self.homotopy_panel.curves_table,
            "homotopy-trajectories": self.homotopy_panel.traj_table,
            "error-decomposition": self.decomposition_panel.bars_table,
        }
        for panel, dock in (
            (self.eps_panel, self.eps_dock),
            (self.homotopy_panel, self.homotopy_dock),
            (self.decomposition_panel, self.decomposition_dock),
        ):
            for name, plot in panel.plots().items():
                out[name] = (plot, dock, providers[name])
        # the Schedules and Unlearning plots once they have computed (only while their tab was in view)
        for panel, dock in (
            (self.schedules_panel, self.schedules_dock),
            (self.unlearn_panel, self.unlearn_dock),
        ):
            for name, (plot, provider) in panel.exportable().items():
                out[name] = (plot, dock, provider)
        # the attribution plots that have been computed (they compute on demand)
        attribution = self.attribution_panel.exportable(self.attribution_dock)
        for name, (plot, holder, provider) in attribution.items():
            out[name] = (plot, holder, provider)
        return out

    def export_targets(self, folder: Path) -> list[Path]:
        names = [f"{n}.{ext}" for n in self.all_plots() for ext in ("png", "svg", "pdf", "csv")]
        return [folder / n for n in names] + [folder / "settings.json"]

    def export_figures(self, folder: str | Path, overwrite: bool | None = None) -> list[Path] | None:
        """Write every plot as PNG, SVG and PDF with its data as CSV, and settings.json, into ``folder``.

        Existing files are never overwritten silently: ``overwrite=None`` asks the user, False refuses (returns
        None), True overwrites. Docks not in view are brought up in turn (a plot must be laid out to export)
        and the previous view restored."""
        folder = Path(folder)
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            self.report_error("Export failed", f"{folder}: {exc.strerror or exc}", critical=True)
            return None
        existing = [p for p in self.export_targets(folder) if p.exists()]
        if existing and not self._confirm_overwrite(folder, existing, overwrite):
            return None
        raised = self.raised_panel()
        written: list[Path] = []
        try:
            for name, (plot, dock, provider) in self.all_plots().items():
                if dock is not None and plot.visibleRegion().isEmpty():
                    _bring_up(dock)
                written += export_figure_set(plot, folder / name, size=self.figure_size)
                table = provider() if provider is not None else plot_table(plot)
                written.append(export_csv(folder / f"{name}.csv", table))
            meta = self.export_metadata(written)
            atomic_write_text(folder / "settings.json", json.dumps(meta, indent=1, allow_nan=False) + "\n")
            written.append(folder / "settings.json")
        except (ExportError, OSError, ValueError) as exc:
            self.report_error("Export failed", str(exc), critical=True)
            return None
        finally:
            self.show_panel(raised)
        self._remember_export_dir(folder)
        self.statusBar().showMessage(f"Exported {len(written)} files to {folder}", 6000)
        return written

    def export_metadata(self, files: list[Path]) -> dict:
        """settings.json: the session that produced the figures (without the data arrays' duplication) and the
        analysis numbers shown."""
        doc = {"format": "influence-lab-figures", "version": 1, "created": time.strftime("%Y-%m-%dT%H:%M:%S")}
        doc["session"] = self.current_session().to_dict()
        fs = self.figure_size
        doc["figure_size"] = {"width_in": fs.width_in, "height_in": fs.height_in, "font_pt": fs.font_pt}
        a = self.state.analysis
        if a is not None:
            an: dict = {"deleted": a.j, "damping": self.state.damping}
            if a.estimates is not None:
                an["estimates"] = _plain(a.estimates.result.to_json())
            if a.epspath is not None:
                an["eps_path"] = {
                    "points": int(a.epspath.reached + 1),
                    "straightness": _plain(a.epspath.straightness),
                    "messages": list(a.epspath.messages),
                    "eps_shown": self.eps_panel.current_eps(),
                }
            if a.homotopy is not None:
                h = a.homotopy
                an["homotopy"] = {
                    "n_eps": int(len(h.eps)),
                    "n_snapshots": int(len(h.times)),
                    "t_max": float(h.times[-1]),
                    "scalar_shown": self.homotopy_panel.scalar.currentData(),
                    "time_shown": float(h.times[min(self.homotopy_panel.frames.index, len(h.times) - 1)]),
                    "target_note": h.target_note,
                }
            doc["analysis"] = an
        doc["files"] = [p.name for p in files]
        return doc

    def _confirm_overwrite(self, folder: Path, existing: list[Path], overwrite: bool | None) -> bool:
        if overwrite is not None:
            return bool(overwrite)
        if not self.interactive:
            print(f"influence-lab: {folder} already holds exported files; not overwriting", file=sys.stderr)
            return False
        names = ", ".join(p.name for p in existing[:4]) + (" …" if len(existing) > 4 else "")
        answer = QMessageBox.question(
            self,
            "Overwrite files?",
            f"{folder} already holds {len(existing)} of the files to write ({names}).\nOverwrite them?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    def export_figures_dialog(self) -> None:
        folder = self._ask_export_folder("Export figures into a folder")
        if folder:
            self.export_figures(folder)

    def _ask_export_folder(self, title: str) -> str:
        return QFileDialog.getExistingDirectory(self, title, self.app_settings.folder("last_export_dir"))

    def _remember_export_dir(self, folder: Path) -> None:
        if self.remember:
            self.app_settings.set("last_export_dir", str(folder))

    def export_frames(
        self, folder: str | Path, which=("eps", "homotopy"), every: int = 1, overwrite: bool | None = None
    ) -> list[Path] | None:
        """The ε-path animation (Data & fit above the ε-path panel) and the homotopy animation (its panel) as
        numbered PNG frames in ``folder``/eps-path and ``folder``/homotopy, and each as a GIF and an MP4
        (``folder``/eps-path.gif, …; gui.animation_files). Asks before overwriting."""
        folder = Path(folder)
        jobs = self._animation_jobs(which)
        if not jobs:
            self.report_error(
                "Nothing to export", "Delete a point first: the animations belong to its analysis."
            )
            return None
        existing = [p for sub, *_ in jobs for p in (folder / sub).glob("frame_*.png")]
        existing += [folder / f"{sub}.{ext}" for sub, *_ in jobs for ext in ("gif", "mp4")]
        existing = [p for p in existing if p.exists()]
        if existing and not self._confirm_overwrite(folder, existing, overwrite):
            return None
        raised = self.raised_panel()
        written = []
        movies = []
        try:
            for sub, panel, dock, widgets in jobs:
                (folder / sub).mkdir(parents=True, exist_ok=True)
                for old in (folder / sub).glob("frame_*.png"):
                    old.unlink()
                _bring_up(dock)
                new, names = _write_animation(folder, sub, panel.frames, widgets, every)
                written += new
                movies += names
        except (OSError, RuntimeError, ValueError) as exc:  # a full disk, ffmpeg failing
            self.report_error("Export failed", str(exc), critical=True)
            return None
        finally:
            self.show_panel(raised)
        self._remember_export_dir(folder)
        n_frames = sum(1 for p in written if p.suffix == ".png")
        self.statusBar().showMessage(f"Wrote {n_frames} frames and {', '.join(movies)} to {folder}", 8000)
        return written

    def _animation_jobs(self, which) -> list[tuple[str, QWidget, QDockWidget, list[QWidget]]]:
        """(sub-folder, panel, its dock, the widgets stacked into a frame) of each animation to export."""
        jobs = []
        if "eps" in which and self.eps_panel.record is not None:
            jobs.append(("eps-path", self.eps_panel, self.eps_dock, [self.fit_view, self.eps_panel]))
        if "homotopy" in which and self.homotopy_panel.record is not None:
            jobs.append(("homotopy", self.homotopy_panel, self.homotopy_dock, [self.homotopy_panel]))
        return jobs

    def figure_size_dialog(self) -> None:
        from gui.figure_size_dialog import FigureSizeDialog

        dlg = FigureSizeDialog(self.figure_size, self)
        if dlg.exec() == QDialog.DialogCode.Accepted:
            self.set_figure_size(dlg.size_chosen())

    def set_figure_size(self, size) -> None:
        size.check()
        self.figure_size = size
        if self.remember:
            self.app_settings.set_figure_size(size)
        w = "automatic width" if size.width_in is None else f"{size.width_in:g} in wide"
        h = "automatic height" if size.height_in is None else f"{size.height_in:g} in high"
        self.statusBar().showMessage(f"PDF and SVG figures: {w}, {h}, {size.font_pt:g} pt", 6000)

    def export_frames_dialog(self) -> None:
        folder = self._ask_export_folder("Export the animations into a folder")
        if folder:
            self.export_frames(folder)


def _plain(obj):
    """JSON-safe copy: numpy scalars/arrays to Python, non-finite floats to None."""
    import math

    import numpy as np

    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _plain(obj.tolist())
    if isinstance(obj, (np.floating, float)):
        v = float(obj)
        return v if math.isfinite(v) else None
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj


def _stack_grabs(widgets: list[QWidget]) -> QImage:
    """The widgets grabbed and stacked vertically into one image (an animation frame)."""
    grabs = [w.grab().toImage() for w in widgets]
    width = max(g.width() for g in grabs)
    height = sum(g.height() for g in grabs)
    img = QImage(width, height, QImage.Format.Format_ARGB32)
    img.fill(Qt.GlobalColor.white)
    p = QPainter(img)
    try:
        y = 0
        for g in grabs:
            p.drawImage(QRect(0, y, g.width(), g.height()), g)
            y += g.height()
    finally:
        p.end()
    return img


def _bring_up(dock: QDockWidget) -> None:
    """Show and raise a dock and let it lay out: a plot must be laid out to be exported or grabbed."""
    dock.show()
    dock.raise_()
    QApplication.processEvents()


def _write_animation(
    folder: Path, sub: str, frames, widgets: list[QWidget], every: int
) -> tuple[list[Path], list[str]]:
    """Step ``frames`` through every ``every``-th frame, grabbing ``widgets`` into the animation files
    ``folder``/``sub``…, then show the frame shown before again. Returns the files written and the names of
    the GIF and MP4; on failure the partial files are removed and the error raised."""
    from gui.animation_files import AnimationFiles

    frames.stop()
    keep = frames.index
    steps = range(0, frames.count, max(1, every))
    # the files play at the speed of the on-screen playback (the whole sweep in duration_s)
    files = AnimationFiles(folder, sub, len(steps), len(steps) / frames.duration_s)
    try:
        for k in steps:
            frames.set_index(k)
            QApplication.processEvents()
            files.add(_stack_grabs(widgets))
        frames.set_index(keep)
        written = files.close()
    except (OSError, RuntimeError, ValueError):
        files.abort()
        raise
    return written, [files.gif_path.name, files.mp4_path.name]
