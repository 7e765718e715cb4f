"""LabState: undoable edits of points and settings, fine-grained signals, revisions, problem snapshots."""

from __future__ import annotations

import numpy as np
import pytest
from gui_fixtures import *  # noqa: F403

from core.points.dataset import make_preset
from core.problem import default_problem
from gui.state import LabState


@pytest.fixture
def state(qtbot):
    return LabState(default_problem())


def test_delete_restore_undo_redo(qtbot, state):
    w0 = state.data.weight.copy()
    rev = state.revision
    with qtbot.waitSignal(state.pointsChanged):
        state.delete_point(4)
    assert state.data.weight[4] == 0.0 and state.data.n == 20, "a deleted point stays, with weight 0"
    assert state.revision == rev + 1
    state.undo_stack.undo()
    np.testing.assert_array_equal(state.data.weight, w0)
    state.undo_stack.redo()
    assert state.data.weight[4] == 0.0
    state.restore_point(4)
    assert state.data.weight[4] == 1.0
    assert state.undo_stack.count() == 2
    state.delete_point(4)
    state.delete_point(4)  # already deleted: no new undo step
    assert state.undo_stack.count() == 3


def test_add_and_move_points(qtbot, state):
    n = state.data.n
    i = state.add_point(0.25, -0.5)
    assert i == n and state.data.n == n + 1
    assert (state.data.x[i], state.data.y[i], state.data.weight[i]) == (0.25, -0.5, 1.0)
    assert state.selection == i, "a new point is selected"
    state.move_point(2, 1.0, 2.0)
    assert (state.data.x[2], state.data.y[2]) == (1.0, 2.0)
    state.undo_stack.undo()
    assert state.data.x[2] != 1.0
    state.undo_stack.undo()
    assert state.data.n == n
    assert state.selection is None, "the selection of a removed point is cleared"


def test_moves_of_one_drag_merge_into_one_undo_step(qtbot, state):
    x0, y0 = state.data.x[5], state.data.y[5]
    for k in range(10):
        state.move_point(5, 0.1 * k, 0.2 * k, drag_id=77)
    assert state.undo_stack.count() == 1
    assert (state.data.x[5], state.data.y[5]) == pytest.approx((0.9, 1.8))
    state.move_point(5, 3.0, 3.0, drag_id=78)
    assert state.undo_stack.count() == 2
    state.undo_stack.undo()
    state.undo_stack.undo()
    assert (state.data.x[5], state.data.y[5]) == (x0, y0)


def test_set_weight_validates(qtbot, state):
    state.set_weight(1, 0.25)
    assert state.data.weight[1] == 0.25
    with pytest.raises(ValueError):
        state.set_weight(1, 1.5)
    with pytest.raises(IndexError):
        state.delete_point(99)


def test_settings_are_undoable_and_emit_model_changed(qtbot, state):
    from dataclasses import replace

    s0 = state.settings
    with qtbot.waitSignal(state.modelChanged):
        state.set_settings(replace(s0, hidden=(4, 4), lr=0.05))
    assert state.problem().model.describe()["layers"] == [1, 4, 4, 1]
    assert state.problem().config.lr == 0.05
    assert "hidden" in state.undo_stack.undoText()
    state.undo_stack.undo()
    assert state.settings == s0
    with pytest.raises(ValueError):
        state.set_settings(replace(s0, lr=-1.0))
    assert state.settings == s0


def test_replace_dataset_is_undoable(qtbot, state):
    old = state.data
    state.select(3)
    state.set_dataset(make_preset("sine", n=7))
    assert state.data.n == 7 and state.selection is None
    state.undo_stack.undo()
    assert state.data is old and state.selection == 3


def test_problem_is_an_independent_snapshot(qtbot, state):
    p = state.problem()
    state.delete_point(0)
    assert p.data.weight[0] == 1.0
    assert p.init_seed == 0 and p.converge


def test_selection_signal(qtbot, state):
    with qtbot.waitSignal(state.selectionChanged) as b:
        state.select(2)
    assert b.args == [2]
    with qtbot.waitSignal(state.selectionChanged) as b:
        state.select(None)
    assert b.args == [None]
