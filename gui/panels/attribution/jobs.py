"""The Attribution panel's jobs (:class:`AttributionJobs`, a mixin of
:class:`gui.panels.attribution.panel.AttributionPanel`): starting the worker tasks of :mod:`gui.attribution_tasks`
(the fast table, Data Shapley, the BIF, soft weights, stagewise influence), cancelling them, and keeping the
results that still belong to the current points and query.

A table is kept with its key — what its columns depend on: the state revision and, except for Shapley (always
validation-based), the query — so that the panel shows only the columns of the current points and query. Partial
tables (Shapley's running estimates) wait in ``_pending`` and are drawn at most every ``REFRESH_MS``.

The panel provides ``state``, ``runner``, ``model``, the spin boxes of the Monte-Carlo settings, ``stage_method``,
``methods()``, ``query_choice()``, ``_load_points``, ``_rebuild``, ``_draw_soft``, ``_draw_stage``,
``_set_message``, ``_show_messages``, ``_update_buttons``, the ``recordChanged`` signal and the timers ``_timer``
and ``_refresh``.
"""

from __future__ import annotations

import functools

import numpy as np

from core.attribution.methods import AttributionTable
from gui.attribution_tasks import (
    BIF,
    KINDS,
    SHAPLEY,
    SOFT,
    STAGEWISE,
    TABLE,
    SoftRecord,
    SoftRequest,
    StagewiseRecord,
    StagewiseRequest,
    TableRecord,
    TableRequest,
    bif_config,
    label,
    shapley_config,
    soft_task,
    stagewise_task,
    table_task,
    validation_for,
)
from gui.panels.common import fmt
from gui.panels.schedules_panel import _cancel_kind


def _same_columns(a: AttributionTable, b: AttributionTable) -> bool:
    """The same columns with the same numbers (snapshots of a running table share unchanged arrays)."""
    if list(a.columns) != list(b.columns):
        return False
    return all(a.columns[c] is b.columns[c] or np.array_equal(a.columns[c], b.columns[c]) for c in a.columns)


def _table_key(kind: str, revision: int, query_key: tuple) -> tuple:
    """What a table's columns depend on: the points and settings (revision); and, except for Shapley (always
    validation-based), the query."""
    if kind == SHAPLEY:
        return (revision,)
    return (revision, query_key)


class AttributionJobs:
    """Starts, cancels and collects the panel's computations."""

    # -- starting and stopping ---------------------------------------------------------------------------
    def compute_now(self) -> None:
        """Compute the ticked fast methods for the current points, query and λ."""
        self._timer.stop()
        if self.runner.closed:
            return
        if self.state.data.n == 0:
            return
        methods = self.methods()
        self._dirty = False
        if not methods:
            self._set_message(TABLE, "tick at least one method", error=True)
            self._fast = None
            self._rebuild()
            return
        req = self._table_request(methods)
        self._submit(TABLE, table_task, req, f"Attribution table ({len(methods)} methods)", 5)

    def run_shapley(self) -> None:
        """Start TMC Data Shapley with the permutation budget of the spin box (its running estimates fill the
        table)."""
        if validation_for(self.state.problem()) is None:
            self._set_message(
                SHAPLEY,
                "Data Shapley needs a validation set: this data has no teacher function (use a preset; the "
                "command line's --holdout / --val-fraction hold points out)",
                error=True,
            )
            return
        perms = int(self.perm_spin.value())
        req = self._table_request(("shapley",), shapley=shapley_config(perms))
        self._slow.pop(SHAPLEY, None)
        self._submit(SHAPLEY, table_task, req, f"Data Shapley ({perms} permutations)", 6)

    def run_bif(self) -> None:
        """Start the Bayesian influence function (SGLD) for the current query."""
        chains, steps = int(self.chains_spin.value()), int(self.bif_steps_spin.value())
        req = self._table_request(("bif",), bif=bif_config(chains, steps))
        self._slow.pop(BIF, None)
        self._submit(BIF, table_task, req, f"Bayesian influence ({chains} SGLD chains)", 6)

    def run_soft(self) -> None:
        """Soft-weighted unlearning with the weight column's weights."""
        if self._points_stale:
            self._load_points()
        st = self.state
        req = SoftRequest(st.problem(), tuple(float(v) for v in self.model.weights), st.revision)
        self._submit(SOFT, soft_task, req, "Soft weights: IF-corrected vs retrained", 5)

    def run_stagewise(self) -> None:
        st = self.state
        kind, index = self.query_choice()
        req = StagewiseRequest(
            st.problem(), self.stage_method.currentData(), kind, index, float(st.damping), st.revision
        )
        self._submit(STAGEWISE, stagewise_task, req, f"Stagewise {label(req.method)}", 5)

    def cancel(self) -> None:
        """Stop every running job of this panel."""
        for kind in KINDS:
            if self.runner.is_running(kind):
                self.runner.cancel(kind)
                self._set_message(kind, "cancelled" + self._partial_note(kind))
        self._update_buttons()

    def shutdown(self) -> None:
        self._timer.stop()
        self._refresh.stop()
        for kind in KINDS:
            _cancel_kind(self.runner, kind)

    def _table_request(self, methods, **monte_carlo) -> TableRequest:
        """A table request for ``methods`` on the current problem, query and λ (``monte_carlo``: the Shapley or
        BIF settings)."""
        st = self.state
        kind, index = self.query_choice()
        return TableRequest(
            st.problem(), methods, kind, index, float(st.damping), revision=st.revision, **monte_carlo
        )

    def _submit(self, kind: str, task, req, text: str, priority: int) -> None:
        if self.runner.closed:
            return
        self._requests[kind] = req
        self._pending.pop(kind, None)
        self.runner.submit(
            kind, functools.partial(task, req), self.state.revision, label=text, priority=priority
        )
        self._set_message(kind, "running …")
        self._update_buttons()

    def _live(self, kind: str) -> bool:
        job = self.runner.job(kind)
        return job is not None and job.revision == self.state.revision

    # -- the runner's signals ----------------------------------------------------------------------------
    def _on_progress(self, kind: str, p) -> None:
        if kind not in KINDS or not self._live(kind):
            return
        self._messages[kind] = f"{p.message} ({100 * p.fraction:.0f} %)"
        if isinstance(p.partial, AttributionTable):
            self._pending[kind] = p.partial
        if not self._refresh.isActive():
            self._refresh.start()

    def _on_result(self, kind: str, revision: int, result) -> None:
        if (
            kind not in KINDS
            or result is None
            or getattr(result, "request", None) is not self._requests.get(kind)
        ):
            return
        self._pending.pop(kind, None)
        if isinstance(result, TableRecord):
            self._store(kind, self._key(kind, result.request), result.table, final=True)
            self._set_message(kind, self._done_text(kind, result))
            self._rebuild()
        elif isinstance(result, SoftRecord):
            self.soft = result
            changed = int(np.sum(result.weights != result.base_weights))
            self._set_message(SOFT, f"{changed} point(s) re-weighted")
            self._draw_soft()
            self.recordChanged.emit(result)
        elif isinstance(result, StagewiseRecord):
            self.stage = result
            self._set_message(
                STAGEWISE, f"{label(result.result.method)} at {len(result.result.steps)} checkpoints"
            )
            self._draw_stage()
            self.recordChanged.emit(result)
        self._update_buttons()

    def _on_failed(self, kind: str, message: str) -> None:
        if kind in KINDS:
            self._pending.pop(kind, None)
            self._set_message(kind, message, error=True)
            self._update_buttons()

    # -- the tables kept ---------------------------------------------------------------------------------
    def _key(self, kind: str, req: TableRequest) -> tuple:
        return _table_key(kind, req.revision, req.query_key)

    def _current_key(self, kind: str) -> tuple:
        return _table_key(kind, self.state.revision, self.query_choice())

    def _store(self, kind: str, key: tuple, table: AttributionTable, final: bool) -> None:
        if kind == TABLE:
            self._fast = (key, table)
        else:
            self._slow[kind] = (key, table, final)

    def _apply_pending(self) -> None:
        """Draw the latest partial tables (called at most every REFRESH_MS)."""
        changed = False
        for kind, table in list(self._pending.items()):
            req = self._requests.get(kind)
            if not isinstance(req, TableRequest) or not self._live(kind):
                continue
            key = self._key(kind, req)
            prev = self._fast if kind == TABLE else self._slow.get(kind)
            if prev is not None and prev[0] == key and _same_columns(prev[1], table):
                continue  # a progress step without new numbers (Shapley updates once per batch)
            self._store(kind, key, table, final=False)
            changed = True
        self._pending.clear()
        if changed:
            self._rebuild()
        else:
            self._show_messages()

    def _done_text(self, kind: str, rec: TableRecord) -> str:
        t = rec.table
        if kind == SHAPLEY:
            s = t.info.get("shapley", {})
            state = "converged" if s.get("converged") else "not converged"
            return f"{s.get('permutations', '?')} permutations, {state}, {rec.seconds:.1f} s"
        if kind == BIF:
            b = t.info.get("bif", {})
            return f"{b.get('chains', '?')} chains, split-R̂ {fmt(b.get('rhat'), 3)}, {rec.seconds:.1f} s"
        return f"{len(t.columns)} columns for {t.query.describe()}, λ = {t.damping:g}, {rec.seconds:.2f} s"

    def _partial_note(self, kind: str) -> str:
        entry = self._slow.get(kind)
        if kind == SHAPLEY and entry is not None and "shapley" in entry[1].columns:
            return " (the table keeps the running estimates reached)"
        return ""
