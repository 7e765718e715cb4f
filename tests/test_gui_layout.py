"""The window at the screen sizes people have: at 1280×720, 1366×768 and 1920×1080 it fits (its minimum size is
smaller), every control of the panels in view lies inside it, and the data plot keeps at least a third of the
height; a remembered size larger than the screen is shrunk to the screen's available area."""

from __future__ import annotations

import pytest
from gui_fixtures import *  # noqa: F403
from PySide6.QtCore import QPoint, QRect
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QDockWidget,
    QSlider,
    QTabBar,
)

CONTROLS = (QAbstractButton, QSlider, QComboBox, QAbstractSpinBox, QTabBar)


def _in_view(widget, window) -> bool:
    """Shown now: visible, and not inside a dock whose tab is not the current one."""
    if not widget.isVisible():
        return False
    p = widget.parentWidget()
    while p is not None and p is not window:
        if isinstance(p, QDockWidget) and p.visibleRegion().isEmpty():
            return False
        p = p.parentWidget()
    return True


def _outside(window) -> list[str]:
    r = window.rect()
    bad = []
    for cls in CONTROLS:
        for c in window.findChildren(cls):
            if not _in_view(c, window):
                continue
            g = QRect(c.mapTo(window, QPoint(0, 0)), c.size())
            if not r.contains(g):
                bad.append(f"{type(c).__name__} {c.objectName() or getattr(c, 'text', str)()!r} at {g}")
    return bad


@pytest.mark.parametrize("size", [(1280, 720), (1366, 768), (1920, 1080)])
def test_window_fits_and_keeps_the_data_plot(qtbot, window, size):
    w = window
    hint = w.minimumSizeHint()
    assert hint.width() <= size[0] and hint.height() <= size[1] - 40, f"minimum {hint} does not fit {size}"
    w.resize(*size)
    w.balance_docks()
    for _ in range(3):
        QApplication.processEvents()
    assert (w.width(), w.height()) == size
    for panel in ("eps", "homotopy", "decomposition", "training"):
        w.show_panel(panel)
        QApplication.processEvents()
        assert _outside(w) == [], f"{panel} at {size}"
    assert w.fit_view.plot.height() >= w.height() / 3, f"data plot {w.fit_view.plot.height()} px at {size}"


def test_a_size_larger_than_the_screen_is_shrunk_into_it(qtbot, window):
    w = window
    area = QRect(0, 0, 1366, 768 - 32)  # a laptop screen less a panel
    w.resize(1400, 900)  # the size remembered from a larger screen
    w.move(200, 100)
    w.fit_to_screen(area)
    QApplication.processEvents()
    g = w.frameGeometry()
    assert g.width() <= area.width() + 1 and g.height() <= area.height() + 1
    assert area.contains(g.topLeft())
