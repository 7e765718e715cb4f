"""Stress: delete, restore (undo) and re-delete points as fast as events allow, change λ and the
learning rate while the jobs compute, then close the window mid-computation. No crash, no leaked thread (the
autouse ``no_leaked_threads`` fixture), the analysis shown belongs to the final state, memory stays bounded."""

from __future__ import annotations

import os
import sys
import time
from dataclasses import replace

import numpy as np
from gui_fixtures import *  # noqa: F403
from gui_fixtures import TIMEOUT_MS, wait_analysis
from PySide6.QtWidgets import QApplication

from gui.jobs import live_threads

#: seconds of frantic editing per round
BURST_S = 1.5
#: RSS growth allowed between the first measured round and the last (generous: caches, fragmentation)
MAX_GROWTH_MB = 150.0
MAX_DELETED = 8
DAMPINGS = (1e-3, 3e-3, 1e-2, 5e-2)
LRS = (0.06, 0.08, 0.1, 0.12)


def _rss_mb() -> float | None:
    try:
        with open("/proc/self/statm") as fh:
            pages = int(fh.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _burst(w, rng, seconds: float) -> dict[str, int]:
    """Random edits with one turn of the event loop between them; counts of what was done (and done busy)."""
    st, stack = w.state, w.state.undo_stack
    counts = dict(ops=0, busy_settings=0)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        r = rng.random()
        i = int(rng.integers(st.data.n))
        busy = not w.is_idle()
        if r < 0.35:
            if int((st.data.weight == 0).sum()) < MAX_DELETED:
                st.delete_point(i)
            st.select(i)
        elif r < 0.55:
            if stack.canUndo():
                stack.undo()  # restores the point deleted last (or undoes a settings change)
        elif r < 0.65:
            if stack.canRedo():
                stack.redo()  # re-deletes it
        elif r < 0.75:
            st.restore_point(i)
        elif r < 0.88:
            st.set_damping(float(rng.choice(DAMPINGS)))
            counts["busy_settings"] += busy
        else:
            st.set_settings(replace(st.settings, lr=float(rng.choice(LRS))))
            counts["busy_settings"] += busy
        counts["ops"] += 1
        QApplication.processEvents()
    # end on a deletion under analysis, so there is a final analysis to check
    deleted = np.flatnonzero(st.data.weight == 0)
    j = int(deleted[-1]) if len(deleted) else int(rng.integers(st.data.n))
    st.delete_point(j)
    st.select(j)
    return counts


def _check_final_state(w) -> None:
    st = w.state
    assert st.fit_is_current(), "the fit shown belongs to an older revision"
    a = st.analysis
    key = w.controller.current_key()
    assert key is not None and a is not None
    assert a.key == key, f"analysis {a.key} shown for state {key}"
    assert a.j == st.analysis_target and a.key.revision == st.revision and not a.stale
    assert a.complete() and not a.errors, a.errors
    for part in (a.epspath, a.estimates, a.homotopy):
        assert part.key == key
    assert a.estimates.damping == st.damping, "the estimates shown were computed with another λ"
    # what the panels draw is exactly this analysis
    assert w.eps_panel.record is a.epspath
    assert w.homotopy_panel.record is a.homotopy
    assert w.decomposition_panel.record is a.estimates


def test_frantic_edits_then_close_mid_computation(qtbot, trained_window, monkeypatch):
    w = trained_window
    errors: list[str] = []
    monkeypatch.setattr(
        w, "report_error", lambda title, msg, critical=False: errors.append(f"{title}: {msg}")
    )
    rng = np.random.default_rng(8)
    rss: list[float | None] = []
    total = dict(ops=0, busy_settings=0)
    started = time.monotonic()
    for _round in range(4):
        counts = _burst(w, rng, BURST_S)
        for k in total:
            total[k] += counts[k]
        wait_analysis(qtbot, w)
        _check_final_state(w)
        rss.append(_rss_mb())
    assert not errors, errors
    assert total["ops"] > 50, f"only {total['ops']} edits: the event loop was stalled"
    assert total["busy_settings"] > 0, "no setting was changed while a computation was running"
    if rss[1] is not None:
        growth = rss[-1] - rss[1]  # round 0 warms the caches (fits, pyqtgraph items)
        assert growth < MAX_GROWTH_MB, f"RSS grew by {growth:.0f} MB over three rounds: {rss}"
    print(f"stress: {total} in {time.monotonic() - started:.1f} s, RSS MB {rss}", file=sys.stderr)

    # one more burst, and close while the new analysis computes
    _burst(w, rng, 0.5)
    st = w.state
    st.set_settings(replace(st.settings, lr=0.09 if st.settings.lr != 0.09 else 0.11))
    qtbot.waitUntil(lambda: w.controller.is_training() and bool(live_threads()), timeout=TIMEOUT_MS)
    assert not w.is_idle(), "the close below happens mid-computation"
    w.close()
    assert w.shutdown()
    assert live_threads() == []
    QApplication.processEvents()  # late signals of the cancelled jobs reach a closed window harmlessly
    assert not errors, errors
