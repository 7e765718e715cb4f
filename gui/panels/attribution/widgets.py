"""Small widget factories shared by the Attribution panel's controls and plots: a button, a spin box, a note
label, a row of widgets and a plot card (controls row, plot, note)."""

from __future__ import annotations

from collections.abc import Callable

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSizePolicy, QSpinBox, QVBoxLayout, QWidget


def button(text: str, tip: str, slot: Callable) -> QPushButton:
    b = QPushButton(text)
    b.setToolTip(tip)
    b.clicked.connect(slot)
    return b


def spin(lo: int, hi: int, tip: str, value: int | None = None, step: int = 1) -> QSpinBox:
    box = QSpinBox()
    box.setRange(lo, hi)
    if step != 1:
        box.setSingleStep(step)
    if value is not None:
        box.setValue(value)
    box.setToolTip(tip)
    return box


def note(name: str, tip: str) -> QLabel:
    """An empty label, named for the tests, that a plot or the panel writes its numbers into."""
    lab = QLabel("")
    lab.setObjectName(name)
    lab.setToolTip(tip)
    return lab


def hbox(*items) -> QHBoxLayout:
    """A row without margins of ``items``: a widget, ``(widget, stretch)``, a string (a label), an int (a
    spacing) or None (a stretch)."""
    row = QHBoxLayout()
    row.setContentsMargins(0, 0, 0, 0)
    for c in items:
        if c is None:
            row.addStretch(1)
        elif isinstance(c, str):
            row.addWidget(QLabel(c))
        elif isinstance(c, int):
            row.addSpacing(c)
        elif isinstance(c, tuple):
            row.addWidget(*c)
        else:
            row.addWidget(c)
    return row


def card(plot: pg.PlotWidget, controls: list | None, text: QLabel) -> QWidget:
    """A tab of the plots: an optional row of controls (as :func:`hbox`), the plot and its note ``text``."""
    w = QWidget()
    lay = QVBoxLayout(w)
    lay.setContentsMargins(0, 0, 0, 0)
    lay.setSpacing(2)
    if controls:
        lay.addLayout(hbox(*controls))
    lay.addWidget(plot, 1)
    text.setWordWrap(True)
    text.setTextFormat(Qt.TextFormat.RichText)
    text.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
    lay.addWidget(text)
    return w
