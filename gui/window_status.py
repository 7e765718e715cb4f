"""The main window's status bar: the message, the progress bar and Cancel, the title, and which of the
point actions are enabled.

Mixed into :class:`gui.main_window.MainWindow`.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QProgressBar, QPushButton


class WindowStatus:
    """The status bar and the window title, following the jobs, the fit and the analysis."""

    def _build_status_bar(self) -> None:
        sb = self.statusBar()
        self.status_label = QLabel("")
        self.status_label.setObjectName("statusMessage")
        self.status_label.setTextFormat(Qt.TextFormat.PlainText)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setFixedWidth(220)
        self.progress.setTextVisible(False)
        self.progress.setToolTip("Progress of the running computation")
        self.cancel_btn = QPushButton("Cancel")
        self.cancel_btn.setToolTip("Stop every running computation")
        self.cancel_btn.clicked.connect(self.cancel_all)
        sb.addWidget(self.status_label, 1)
        sb.addPermanentWidget(self.progress)
        sb.addPermanentWidget(self.cancel_btn)

    # -- status --------------------------------------------------------------------------------------------
    def _on_progress(self, kind: str, progress) -> None:
        job = self.runner.job(kind)
        if job is None:
            return
        self.progress.setValue(int(1000 * progress.fraction))
        self._update_status()

    def _update_status(self) -> None:
        active = self.runner.active()
        busy = bool(active)
        self.progress.setVisible(busy)
        self.cancel_btn.setVisible(busy)
        if busy:
            parts = []
            for info in active:
                msg = info.progress.message if info.progress is not None else "starting…"
                if info.paused:
                    parts.append(f"Paused: {info.label} — {msg} (F5 resumes, F7 steps)")
                else:
                    parts.append(f"{info.label}: {msg}")
            self.status_label.setText(" · ".join(parts))
            self.act_cancel.setEnabled(True)
            return
        self.act_cancel.setEnabled(False)
        fit = self.state.fit
        a = self.state.analysis
        if a is not None and a.errors:
            self.status_label.setText(
                f"Ready — the analysis of point {a.j} had errors: " + "; ".join(a.errors.values())
            )
            return
        if fit is None:
            self.status_label.setText("Ready — not trained (F5 trains)")
        else:
            stale = "" if self.state.fit_is_current() else " (for an earlier version of the points/settings)"
            if fit.extra.get("diverged"):
                at = fit.extra.get("diverged_at")
                lr = fit.extra.get("suggested_lr")
                self.status_label.setText(
                    f"Training diverged{f' at step {at}' if at is not None else ''} with η = {fit.settings.lr:g}"
                    + (f" — try η = {lr:g} (the training panel applies it in one click)" if lr else "")
                )
                self.status_label.setToolTip(fit.message)
                return
            if fit.converged:
                how = "converged"
            elif not fit.settings.converge:
                how = "early-stopped"
            else:
                how = "NOT converged (see the training panel)"
            done = ""
            if a is not None and a.complete():
                t = self.controller.timings
                done = f" · deletion of point {a.j} analysed"
                if "estimates" in t:
                    done += f" (estimates drawn {1000 * t['estimates']:.0f} ms after the request)"
            self.status_label.setText(
                f"Ready — trained model{stale}: L = {fit.loss:.4g}, ‖∇L‖ = {fit.grad_norm:.2g}, {how}{done}"
            )
            self.status_label.setToolTip(fit.message)

    def _update_title(self) -> None:
        ds = self.state.data
        name = self.session_path.name if self.session_path is not None else ds.name or "untitled"
        deleted = int((ds.weight == 0).sum())
        extra = f", {deleted} deleted" if deleted else ""
        self.setWindowTitle(f"Influence Lab — {name} ({ds.n} points{extra})")

    def _update_actions(self, *_) -> None:
        i = self.state.selection
        has = i is not None
        w = float(self.state.data.weight[i]) if has else 0.0
        self.act_delete.setEnabled(has and w > 0)
        self.act_restore.setEnabled(has and w < 1)
        self.act_weight.setEnabled(has)
        self.act_analyse.setEnabled(has)
