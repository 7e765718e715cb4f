"""``influence-lab schedules`` (docs/science.md §4): flows of schedules ε(t) (``--schedule SPEC``, see
core.dynamics.schedule.parse_schedule) from one or more θ_0, the criterion 𝓔 = ½‖θ(T) − θ*_{−j}‖² and its
function-space twin, scans over step times and linear-decay end points, and the best schedule found.
``--linear-phase`` runs the notes' Figure-4 problem instead (core.dynamics.figure4.figure4_problem) with exact
closed forms, d𝓔/dτ at s and the phase-portrait vector fields."""

from __future__ import annotations

import argparse
import time

import numpy as np

from cli.dynamics_options import (
    MAX_GRID,
    MAX_SCAN,
    MAX_SNAPSHOTS,
    MAX_THETA0,
    add_dynamics_options,
    check_delete,
    check_dynamics_outputs,
    initial_points,
    write_npz,
)
from cli.errors import CliError, DivergedError
from cli.options import check_float, check_int, check_ints, check_problem_args, problem_from_args
from cli.output import diverged_message, run_with_progress, write_json
from core.dynamics.analysis import ScheduleAnalysis, analyze_schedules
from core.dynamics.criterion import loo_target
from core.dynamics.figure4 import (
    FIG4_J,
    FIG4_LR,
    FIG4_S,
    FIG4_T,
    FIG4_THETA0S,
    default_figure4_schedules,
    exact_criteria,
    figure4_dataset,
    figure4_problem,
    phase_portrait,
)
from core.dynamics.flow import INTEGRATORS
from core.dynamics.quadratic import QuadraticFamily
from core.dynamics.schedule import ExponentialDecay, LinearDecay, Step, eps_curves, parse_schedule, step_grid
from core.limits import MAX_STEPS, check_elements, check_problem_size
from core.model import LinearFeatures
from core.problem import problem_summary
from core.progress import Progress, scaled

HELP = "deletion schedules ε(t): flows, the criterion 𝓔, step-time scans, Figure-4 phase portraits"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_dynamics_options(p)
    g = p.add_argument_group("schedules (docs/science.md §4)")
    g.add_argument(
        "--schedule",
        action="append",
        metavar="SPEC",
        default=None,
        help="a schedule (repeatable): step[:TAU], linear[:S]:T1, exp[:S]:RATE, const:V, points:T0=E0,T1=E1,… "
        "(default: step at s, step at 2s, linear decay s→T, exponential decay)",
    )
    # not "--s": the top-level parser would take it for an abbreviation of --screenshot / --session
    g.add_argument(
        "--s-time",
        dest="s",
        type=float,
        default=None,
        metavar="S",
        help="deletion request time s (default T/4; 0.5 with --linear-phase)",
    )
    g.add_argument("--T", type=float, default=None, help="horizon T (default steps·η; 2 with --linear-phase)")
    g.add_argument(
        "--eta",
        type=float,
        default=None,
        help="step η of the flow (default the training --lr; 0.01 with --linear-phase)",
    )
    g.add_argument("--integrator", choices=INTEGRATORS, default="gd", help="gradient descent or RK4")
    g.add_argument("--scan", type=int, default=21, metavar="N", help="grid size of both scans (0: no scans)")
    g.add_argument("--snapshots", type=int, default=200, metavar="N", help="trajectory snapshots (about N)")
    g.add_argument(
        "--theta0",
        action="append",
        metavar="V1,V2,…",
        default=None,
        help="an initial point θ_0 (repeatable; write --theta0=-1,2 when it starts with a minus)",
    )
    g.add_argument(
        "--theta0-seeds", type=int, nargs="+", metavar="SEED", default=None, help="θ_0 from these init seeds"
    )
    g.add_argument(
        "--linear-phase",
        action="store_true",
        help="the notes' Figure-4 problem (linear, X ∈ R^{20×2}) with exact closed forms and vector fields",
    )
    g.add_argument(
        "--grid", type=int, default=21, metavar="N", help="vector-field grid N × N (--linear-phase)"
    )


def _schedule_list(args, s: float, T: float, lr: float, default) -> list:
    if not args.schedule:
        return list(default)
    try:
        return [parse_schedule(spec, s, T) for spec in args.schedule]
    except ValueError as exc:
        raise CliError(str(exc)) from None


def _flow_times(
    args, default_s: float, default_T: float, default_lr: float
) -> tuple[float, float, float, int]:
    lr = default_lr if args.eta is None else args.eta
    if not (np.isfinite(lr) and lr > 0):
        raise CliError(f"--eta must be a positive number, got {lr}")
    check_float(args.T, "--T", "the horizon T", 0.0, strict=True)
    check_float(args.s, "--s-time", "the deletion time s", 0.0)
    T = default_T if args.T is None else args.T
    if not (np.isfinite(T) and T > 0):
        raise CliError(f"the horizon T = steps·η = {T:g} must be > 0: give --T, or --steps ≥ 1")
    if T / lr > MAX_STEPS:
        raise CliError(
            f"T / η = {T:g} / {lr:g} = {T / lr:,.0f} flow steps; at most {MAX_STEPS:,} are supported: "
            "lower --T or raise --eta"
        )
    steps, T_grid = step_grid(lr, T)
    if steps < 1 or abs(T_grid - T) > 1e-9 * max(1.0, abs(T)):
        raise CliError(f"--T {T:g} must be a positive whole number of flow steps η = {lr:g}")
    s = default_s if args.s is None else args.s
    _, s_grid = step_grid(lr, s)
    if not 0 <= s_grid < T_grid:
        raise CliError(f"need 0 ≤ s < T, got s = {s:g}, T = {T_grid:g}")
    return s_grid, T_grid, lr, steps


def _schedules_doc(ana: ScheduleAnalysis, exact=None) -> dict:
    doc = {
        "deleted": ana.j,
        "s": ana.s,
        "T": ana.T,
        "eta": ana.flow.lr,
        "steps": int(ana.flow.steps[-1]),
        "integrator": ana.flow.integrator,
        "theta0s": ana.flow.theta0s,
        "target": {
            "theta": ana.target.theta,
            "grad_norm": ana.target.grad_norm,
            "converged": ana.target.converged,
            "method": ana.target.method,
            "message": ana.target.message,
        },
        "schedules": [
            {
                "schedule": sc.describe(),
                "label": sc.label(),
                "in_class_E_s": sc.in_class(ana.s, ana.T),
                "criterion": ana.criterion[k],
                "criterion_function": ana.criterion_function[k],
                "criterion_exact": None if exact is None else exact[k],
                "theta_T": ana.flow.final[k],
                "diverged": ana.flow.diverged[k],
            }
            for k, sc in enumerate(ana.flow.schedules)
        ],
        "step_scan": None if ana.step_scan is None else ana.step_scan.to_dict(),
        "linear_scan": None if ana.linear_scan is None else ana.linear_scan.to_dict(),
        "best": ana.overall(),
        "messages": ana.messages,
    }
    return doc


def _schedules_npz(ana: ScheduleAnalysis) -> dict:
    flow = ana.flow
    t_plot = np.linspace(0.0, ana.T, 401)
    out = {
        "times": flow.times,
        "steps": flow.steps,
        "theta": flow.theta,  # (K, S, P, d)
        "eps": flow.eps,  # (K, S)
        "schedule_labels": np.array([sc.label() for sc in flow.schedules]),
        "eps_plot_times": t_plot,
        "eps_plot": eps_curves(flow.schedules, t_plot),
        "theta0s": flow.theta0s,
        "target": ana.target.theta,
        "criterion": ana.criterion,
        "criterion_function": ana.criterion_function,
    }
    for name, scan in (("step_scan", ana.step_scan), ("linear_scan", ana.linear_scan)):
        if scan is not None:
            out[f"{name}_params"] = scan.params
            out[f"{name}_criterion"] = scan.criterion
            out[f"{name}_criterion_function"] = scan.criterion_function
    return out


#: shared options that --linear-phase ignores (it has its own data and model): refused when given
_LINEAR_PHASE_IGNORES = (
    ("n", "--n"),
    ("noise", "--noise"),
    ("data_seed", "--data-seed"),
    ("hidden", "--hidden"),
    ("activation", "--activation"),
    ("degree", "--degree"),
    ("batch_size", "--batch-size"),
)


def run(args: argparse.Namespace) -> int:
    check_dynamics_outputs(args)
    check_int(args.scan, "--scan", "the grid size of the scans (0: none)", 0, MAX_SCAN)
    check_int(args.snapshots, "--snapshots", "the number of trajectory snapshots", 1, MAX_SNAPSHOTS)
    check_int(args.grid, "--grid", "the vector-field grid size", 2, MAX_GRID)
    check_ints(args.theta0_seeds, "--theta0-seeds", "every seed", 0, most=MAX_THETA0)
    check_float(args.eta, "--eta", "the flow step η", 0.0, strict=True)
    j_arg = getattr(args, "delete", None)
    start = time.perf_counter()
    npz_extra: dict = {}
    if args.linear_phase:
        if args.data or args.preset:
            raise CliError("--linear-phase uses its own data (the notes' Figure 4); drop --data / --preset")
        check_problem_args(args)
        ignored = [o for dest, o in _LINEAR_PHASE_IGNORES if getattr(args, dest, None) is not None]
        ignored += ["--model linear"] if args.model != "mlp" else []
        ignored += ["--standardize"] if args.standardize else []
        if ignored:
            raise CliError(
                f"--linear-phase uses the notes' Figure-4 data and linear model: drop {', '.join(ignored)}"
            )
        data = figure4_dataset()
        j = check_delete(j_arg, data.n, FIG4_J)
        s, T, lr, steps = _flow_times(args, FIG4_S, FIG4_T, FIG4_LR)
        pr = figure4_problem(j, s, T, lr)
        scheds = _schedule_list(args, s, T, lr, default_figure4_schedules(s, T, lr))
        theta0s = initial_points(args, pr.model, 0, list(FIG4_THETA0S))
        every = max(1, steps // args.snapshots)
        pp = run_with_progress(
            phase_portrait(pr, scheds, theta0s, args.grid, args.scan, args.integrator, every), args.quiet
        )
        ana = pp.analysis
        doc = {
            "command": "schedules",
            "mode": "linear-phase",
            "data": {"x": data.x, "y": data.y, "weight": data.weight, "name": data.name},
            "model": pr.model.describe(),
            "weight_decay": pr.kappa,
            "theta_star": pr.theta_star,
            "theta_star_deleted": pr.theta_star_del,
        }
        doc.update(_schedules_doc(ana, pp.criterion_exact))
        doc["step_scan_exact"] = None if pp.step_scan_exact is None else pp.step_scan_exact.T
        doc["derivative_at_s"] = pp.derivative_at_s
        doc["later_step_better_at_s"] = pp.derivative_at_s < 0
        npz_extra = {
            "theta_star": pr.theta_star,
            "theta_star_deleted": pr.theta_star_del,
            "grid_1": pp.grid_1,
            "grid_2": pp.grid_2,
            "field_eps": pp.field_eps,
            "field": pp.field,
            "criterion_exact": pp.criterion_exact,
            "data_x": data.x,
            "data_y": data.y,
        }
    else:
        problem = problem_from_args(args, feature=None)
        x, y, w, model, kappa = (
            problem.data.x,
            problem.data.y,
            problem.weights(),
            problem.model,
            problem.kappa,
        )
        j = check_delete(j_arg, problem.data.n, 0, problem)
        T_default = problem.config.steps * (problem.config.lr if args.eta is None else args.eta)
        s_default = T_default / 4 if args.T is None else args.T / 4
        s, T, lr, steps = _flow_times(args, s_default, T_default, problem.config.lr)
        default = [
            Step(s),
            Step(min(step_grid(lr, 2 * s)[1], T)),
            LinearDecay(s, T),
            ExponentialDecay(s, 3.0 / (T - s), T),
        ]
        scheds = _schedule_list(args, s, T, lr, default)
        theta0s = initial_points(args, model, problem.init_seed)
        every = max(1, steps // args.snapshots)
        # one batched flow of (schedules + 2 scans) × θ_0s; snapshots of all of them are kept
        flows = (len(scheds) + 2 * args.scan) * len(theta0s)
        check_problem_size(problem, "schedules", batch=flows, hessian=not isinstance(model, LinearFeatures))
        check_elements(
            flows * (steps // every + 2) * model.n_params,
            f"the snapshots of {flows:,} flows",
            "Lower --snapshots, --scan or the number of θ_0",
        )

        def pipeline():
            theta_hat = None
            if isinstance(model, LinearFeatures):
                target = loo_target(model, None, x, y, w, kappa, j)
            else:
                from core.problem import fit_problem

                fit = yield from scaled(fit_problem(problem), 0.0, 0.3, 1.0, "fit: ")
                if fit.training.diverged.any():
                    raise DivergedError(diverged_message(problem, fit.training.message))
                theta_hat = fit.theta_hat
                yield Progress(0.3, 1.0, "LOO minimiser")
                target = loo_target(model, theta_hat, x, y, w, kappa, j)
            ana = yield from scaled(
                analyze_schedules(
                    model,
                    theta0s,
                    x,
                    y,
                    w,
                    kappa,
                    j,
                    scheds,
                    s,
                    T,
                    lr,
                    target,
                    args.scan,
                    every,
                    args.integrator,
                ),
                0.3,
                1.0,
                1.0,
                "flows: ",
            )
            return theta_hat, ana

        theta_hat, ana = run_with_progress(pipeline(), args.quiet)
        exact = None
        if isinstance(model, LinearFeatures):
            fam = QuadraticFamily.from_linear_model(model, x, y, w, kappa, j)
            exact = exact_criteria(fam, theta0s, scheds, T)
        doc = {"command": "schedules", "mode": "data"}
        doc.update(problem_summary(problem))
        doc["theta_hat"] = theta_hat
        doc.update(_schedules_doc(ana, exact))
    doc["seconds"] = time.perf_counter() - start
    if args.npz:
        arrays = _schedules_npz(ana)
        arrays.update(npz_extra)
        write_npz(arrays, args.npz, args.force)
    if args.json:
        write_json(doc, args.json, args.force)
    if not args.json or args.json != "-":
        _print_schedules(doc)
    return 0


def _print_schedules(doc: dict) -> None:
    print(f"schedules: delete point {doc['deleted']}, s = {doc['s']:g}, T = {doc['T']:g}, η = {doc['eta']:g}")
    P = len(doc["theta0s"])
    for entry in doc["schedules"]:
        vals = ", ".join(f"{float(v):.4g}" for v in np.atleast_1d(entry["criterion"]))
        print(f"  𝓔[{entry['label']}] = {vals}")
    for p in range(P):
        b = doc["best"][p]
        if b.get("best_schedule") is None:
            continue
        flag = b.get("step_at_s_optimal")
        note = (
            ""
            if flag is None
            else ("; the step at s is optimal" if flag else "; a later/other schedule beats the step at s")
        )
        print(f"  θ_0 #{p}: best {b['best_label']} with 𝓔 = {b['best_criterion']:.4g}{note}")
    for m in doc["messages"]:
        print(f"  note: {m}")
