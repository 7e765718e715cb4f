"""The main window's preferences: geometry, dock layout, last-used settings and λ, read from and written to
the INI file of :mod:`gui.settings`; and Reset layout.

Mixed into :class:`gui.main_window.MainWindow`.
"""

from __future__ import annotations

from PySide6.QtCore import QByteArray


class WindowPreferences:
    """The preferences of :class:`~gui.main_window.MainWindow`."""

    def restore_preferences(self, settings: bool = True) -> None:
        """Window geometry, dock layout and (``settings``) the last-used model/training settings and λ."""
        st = self.app_settings
        geom = st.get("geometry")
        if isinstance(geom, QByteArray) and not geom.isEmpty():
            self.restoreGeometry(geom)
        layout = st.get("window_state")
        if isinstance(layout, QByteArray) and not layout.isEmpty():
            self.restoreState(layout)
        if settings:
            s = st.training_settings()
            if s is not None and s != self.state.settings:
                self.state.replace_session(self.state.data, s)
            lam = st.damping()
            if lam != self.state.damping:
                self.state.set_damping(lam)

    def save_preferences(self) -> None:
        st = self.app_settings
        st.set("geometry", self.saveGeometry())
        st.set("window_state", self.saveState())
        st.set_training_settings(self.state.settings)
        st.set("damping", self.state.damping)
        st.sync()

    def reset_layout(self) -> None:
        self.restoreState(self._default_layout)
        for dock in (self.training_dock, self.eps_dock, self.homotopy_dock, self.decomposition_dock):
            dock.show()
        self.eps_dock.raise_()
