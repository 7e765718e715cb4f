"""Where does the GUI's main thread spend a stall? (diagnostic for issues #4 / #7, not a benchmark row)

Opens the main window offscreen on the default problem, deletes a few points (the full deletion analysis), and
from a watchdog thread samples the main thread's Python stack whenever its 5 ms heartbeat timer is late by more
than --late ms. Prints the most frequent stacks.

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/stall_probe.py [--points 7 3] [--late 80]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("INFLUENCE_LAB_CONFIG_DIR", tempfile.mkdtemp())
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, nargs="+", default=[7, 3])
    ap.add_argument("--late", type=float, default=80.0, help="heartbeat lateness (ms) that counts as a stall")
    ap.add_argument("--top", type=int, default=5)
    args = ap.parse_args(argv)

    import torch  # noqa: F401  (before Qt, as the app does)
    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    from benchmarks.gui_bench import _wait
    from core.problem import default_problem
    from gui.main_window import MainWindow

    w = MainWindow(default_problem())
    w.resize(1400, 900)
    w.show()
    w.start()
    _wait(app, lambda: w.is_idle() and w.state.fit_is_current(), 60)
    main_id = threading.main_thread().ident
    beat = [time.perf_counter()]
    heartbeat = QTimer()
    heartbeat.setTimerType(Qt.TimerType.PreciseTimer)
    heartbeat.timeout.connect(lambda: beat.__setitem__(0, time.perf_counter()))
    heartbeat.start(5)
    samples: list[str] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(0.01):
            if time.perf_counter() - beat[0] > args.late / 1000:
                frame = sys._current_frames().get(main_id)
                samples.append("".join(traceback.format_stack(frame, limit=14)[-7:]) if frame else "?")

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    for j in args.points:
        _wait(app, lambda: w.is_idle() and w.state.fit_is_current(), 60)
        w.state.delete_point(j)
        _wait(app, lambda: w.is_idle() and w.analysis_complete() and w.state.fit_is_current(), 60)
        w.state.undo_stack.undo()
    stop.set()
    watcher.join()
    heartbeat.stop()
    w.close()
    print(f"{len(samples)} samples of a main thread late by > {args.late:g} ms")
    for stack, count in Counter(samples).most_common(args.top):
        print(f"=== {count} samples\n{stack}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
