"""Study ``deep-sets`` (Lab 7): permutation equivariance by construction, and a set task learned.

Part 1, the lab's check. The layer ``f(x) = sigma(x (lambda I + gamma 1 1^T))`` (the lab: a set of
200 numbers, ``lambda = 0.25``, ``gamma = 0.4``, ``sigma = mish``;
:meth:`learnability.models.PermutationEquivariant.from_coefficients`) is applied to a set and to
random permutations of it. Measured in float64: ``max |f(pi x) - pi f(x)| / max |f(x)|`` over the
permutations (equivariance), and the same for a *perturbed* layer ``sigma(x (lambda I + gamma
1 1^T + delta R))`` with a random ``R`` — a generic linear layer, which the measurement must catch
even for a small ``delta``. The invariance of a randomly initialised Deep Sets model
``rho(sum_i phi(x)_i)`` (:class:`learnability.models.DeepSets`) is measured the same way.

Part 2, a set task. Sets of ``n`` numbers ``U[0, 1)`` labelled by their sum (or maximum)
(:func:`learnability.models.make_set_task`); a Deep Sets model and a non-invariant baseline — an
MLP on the concatenated set — trained through the engine (Adam; the learning rate of each model
chosen by a sweep scored on a validation set; several seeds; 95% CIs). Reported: test MSE and
MSE relative to the variance of the target; the invariance error of each trained model on
randomly permuted test sets; the Deep Sets model on set sizes not seen in training (the MLP's
input size is fixed, so it cannot be evaluated there).

Reference: M. Zaheer et al., "Deep Sets", NeurIPS 2017 (arXiv:1703.06114); AdvML UniTS 2024, Lab 7.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np
import torch
from pydantic import Field
from torch import Tensor, nn

from learnability.analysis import geometric_mean_ratio
from learnability.config import ConfigSection, StudyConfig
from learnability.engine import (
    Adam,
    EvalSet,
    FixedSource,
    LRGrid,
    ModuleEnsemble,
    Selection,
    TrainResult,
    TrainSpec,
    lr_sweep,
    make_schedule,
    mse,
    train,
)
from learnability.models import ACTIVATIONS, DeepSets, PermutationEquivariant, make_set_task
from learnability.report import (
    Chart,
    Figure,
    Heading,
    Hist,
    Line,
    Panel,
    Report,
    Table,
    Text,
    curve_lines,
    fmt,
    fmt_ci,
)
from learnability.runs import Run
from learnability.studies import Study, StudyContext, register
from learnability.studies._groups_common import estimate, fmt_est, machine_eps, nan_to_none

__all__ = ["DeepSetsConfig", "SetMLP", "invariance_errors", "lab_layer_errors", "perturbed_layer"]

NAME = "deep-sets"
#: Moving-average window (steps) of the training curves in the report.
CURVE_SMOOTHING = 50
#: A member whose relative test MSE is at least this is no better than predicting the mean.
COLLAPSED = 0.95
#: A perturbed layer whose error exceeds the exact layer's (or epsilon) this many times is "detected".
DETECTION = 1e3
#: Exact zeros of the invariance error are drawn at this fraction of float32's epsilon (log axis).
INVARIANCE_FLOOR_FRACTION = 1e-2


class LabCheck(ConfigSection):
    """The lab's equivariance check of the scalar layer."""

    set_size: int = Field(200, ge=2, description="Numbers per set (the lab: 200).")
    n_permutations: int = Field(200, ge=1, description="Random permutations (the lab: 200).")
    lam: float = Field(0.25, description="lambda (the lab: 0.25).")
    gamma: float = Field(0.4, description="gamma (the lab: 0.4).")
    activation: Literal["mish", "relu", "tanh", "elu", "identity"] = Field("mish", description="sigma (the lab: mish).")
    perturbation: float = Field(
        1e-3,
        gt=0,
        description="delta of the non-equivariant baseline lambda I + gamma 1 1^T + delta R, R ~ N(0, 1).",
    )


class SetTask(ConfigSection):
    """The learned set function."""

    target: Literal["sum", "max"] = Field("sum", description="Label of a set: the sum or the maximum of its numbers.")
    set_size: int = Field(10, ge=2, description="Numbers per training set.")
    n_train: int = Field(4096, ge=16, description="Training sets.")
    n_val: int = Field(1024, ge=16, description="Validation sets (learning-rate selection only).")
    n_test: int = Field(4096, ge=16, description="Test sets per size (reporting only).")
    test_sizes: list[int] = Field(
        default_factory=lambda: [2, 5, 10, 20, 40],
        min_length=1,
        description="Set sizes evaluated for Deep Sets (the MLP only at the training size).",
    )


class SetModels(ConfigSection):
    """Architectures (ReLU everywhere)."""

    phi_hidden: list[int] = Field(
        default_factory=lambda: [64, 64], min_length=1, description="Equivariant layers of phi."
    )
    rho_hidden: list[int] = Field(default_factory=lambda: [64], description="Hidden layers of the head rho.")
    poolings: list[Literal["sum", "mean", "max"]] = Field(
        default_factory=lambda: ["sum", "mean"],
        min_length=1,
        description="Pooling inside the equivariant layers, one Deep Sets model each (the lab: sum, "
        "1 1^T x; mean keeps the per-element features independent of the set size).",
    )
    readout: Literal["sum", "mean", "max"] = Field("sum", description="Pooling before rho (Deep Sets: sum).")
    mlp_hidden: list[int] = Field(
        default_factory=lambda: [128, 64],
        min_length=1,
        description="Hidden layers of the MLP baseline (about as many parameters as Deep Sets).",
    )


class SetTrain(ConfigSection):
    """Optimisation (Adam), identical for both models."""

    steps: int = Field(2000, ge=1, description="Adam steps.")
    batch_size: int = Field(64, ge=1, description="Sets per batch.")
    seeds: int = Field(5, ge=2, description="Independent members per model (CIs over them).")
    lr_low: float = Field(1e-4, gt=0, description="Lowest rate of the sweep.")
    lr_high: float = Field(1e-1, gt=0, description="Highest rate of the sweep.")
    lr_num: int = Field(4, ge=2, description="Rates in the sweep (log-spaced).")
    eval_every: int = Field(250, ge=1, description="Steps between evaluations.")
    schedule: Literal["constant", "cosine", "linear"] = Field(
        "cosine",
        description="Learning-rate schedule (decay to 1% of the rate: a stable final error).",
    )


class DeepSetsConfig(StudyConfig):
    """Permutation-equivariant layers are exactly equivariant; Deep Sets learns a set function.

    Command:  learnability run deep-sets            (smoke: learnability run deep-sets --smoke)
    Runtime:  ~2 min on the shared 2-core CPU (measured: 105 s of training + 10 s of report,
              one thread, 3 models x (sweep + 5 seeds) x 2000 steps); smoke ~5 s.
    Expected: the lab's layer is equivariant to 3.6e-16 (1.6 eps, float64) over 200
              permutations, the perturbed layer (delta = 1e-3) is off by 1.1e-3, an untrained Deep
              Sets model is invariant to 3.5e-15. Sum of 10 numbers, relative test MSE: Deep Sets
              with the lab's sum pooling 2.5e-4, with mean pooling 2.3e-5; the MLP fits the
              (linear) sum to <= 4e-6 in 4 of 5 seeds and collapses (1.0) in one; invariance error
              5e-7 (sum) and 5e-8 (mean) vs 1e-5 for the MLP. Unseen sizes 2-40: the sum-pooling
              model breaks (relative MSE 7 to 4e4), the mean-pooling one stays <= 0.04.
    """

    lab: LabCheck = Field(default_factory=LabCheck)
    task: SetTask = Field(default_factory=SetTask)
    models: SetModels = Field(default_factory=SetModels)
    train: SetTrain = Field(default_factory=SetTrain)


# ----------------------------------------------------------------------------------------------
# Models and measurements
# ----------------------------------------------------------------------------------------------
class SetMLP(nn.Module):
    """The non-invariant baseline: an MLP on the concatenated set ``(B, n, 1) -> (B, 1)``."""

    def __init__(self, set_size: int, hidden: Sequence[int]) -> None:
        super().__init__()
        dims = [set_size, *hidden]
        layers: list[nn.Module] = [nn.Flatten()]
        for a, b in itertools.pairwise(dims):
            layers += [nn.Linear(a, b), nn.ReLU()]
        layers.append(nn.Linear(dims[-1], 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


def perturbed_layer(
    lam: float, gamma: float, delta: float, n: int, activation: str, *, generator: torch.Generator
) -> Callable[[Tensor], Tensor]:
    """``x (B, n, 1) -> sigma(x^T (lam I + gamma 1 1^T + delta R))`` with ``R ~ N(0, 1)``, float64:
    the lab's layer with a generic (non-equivariant) perturbation."""
    theta = lam * torch.eye(n, dtype=torch.float64) + gamma * torch.ones(n, n, dtype=torch.float64)
    theta = theta + delta * torch.randn(n, n, generator=generator, dtype=torch.float64)
    act = ACTIVATIONS[activation]()
    return lambda x: act(x.squeeze(-1) @ theta).unsqueeze(-1)


def lab_layer_errors(f: Callable[[Tensor], Tensor], x: Tensor, perms: Tensor) -> dict[str, float]:
    """Equivariance of a set map on one set under many permutations.

    Args:
        f: ``(B, n, d) -> (B, n, d')``.
        x: ``(1, n, d)`` one set.
        perms: ``(P, n)`` permutations.

    Returns:
        ``equivariance``: ``max_p max |f(x[p]) - f(x)[p]| / max |f(x)|``; ``sorted``: the lab's
        test, the same with both sides sorted over the elements (a necessary condition).
    """
    fx = f(x)  # (1, n, d')
    xp = x[0][perms]  # (P, n, d)
    fxp = f(xp)  # (P, n, d')
    target = fx[0][perms]  # (P, n, d')
    scale = fx.abs().max()
    return {
        "equivariance": float((fxp - target).abs().max() / scale),
        "sorted": float((fxp.sort(dim=1).values - fx.sort(dim=1).values).abs().max() / scale),
    }


def invariance_errors(predict: Callable[[Tensor], Tensor], x: Tensor, perms: Tensor) -> Tensor:
    """Relative invariance error ``|F(pi x) - F(x)| / |F(x)|`` of each member on each set.

    Args:
        predict: ``(N, n, 1) -> (K, N, 1)`` (an ensemble's prediction).
        x: ``(N, n, 1)`` sets.
        perms: ``(N, n)`` one permutation per set.

    Returns:
        ``(K, N)``.
    """
    xp = torch.gather(x, 1, perms.unsqueeze(-1).expand_as(x))
    fx, fxp = predict(x), predict(xp)  # (K, N, 1)
    rel = (fxp - fx).abs() / fx.abs().clamp_min(torch.finfo(fx.dtype).tiny)
    return rel.squeeze(-1)


def _random_perms(n_sets: int, n: int, generator: torch.Generator) -> Tensor:
    return torch.argsort(torch.rand(n_sets, n, generator=generator), dim=1)


# ----------------------------------------------------------------------------------------------
# Run
# ----------------------------------------------------------------------------------------------
def _lab_check(cfg: DeepSetsConfig, ctx: StudyContext) -> dict:
    lc = cfg.lab
    g = torch.Generator().manual_seed(ctx.seed("lab"))
    x = torch.rand(1, lc.set_size, 1, generator=g, dtype=torch.float64)  # the lab's np.random.rand
    perms = _random_perms(lc.n_permutations, lc.set_size, g)
    layer = PermutationEquivariant.from_coefficients(lc.lam, lc.gamma, activation=lc.activation, dtype=torch.float64)
    with torch.no_grad():
        exact = lab_layer_errors(layer, x, perms)
        bad = lab_layer_errors(
            perturbed_layer(lc.lam, lc.gamma, lc.perturbation, lc.set_size, lc.activation, generator=g),
            x,
            perms,
        )
        ds = DeepSets(
            1,
            1,
            phi_hidden=cfg.models.phi_hidden,
            rho_hidden=cfg.models.rho_hidden,
            pooling=cfg.models.poolings[0],
            readout=cfg.models.readout,
            seed=ctx.seed("lab-deep-sets"),
        ).double()
        xs = x[0][perms]  # (P, n, 1): the permuted copies of the set
        out = ds(torch.cat([x, xs]))  # (1 + P, 1)
        ds_err = float((out[1:] - out[0]).abs().max() / out[0].abs().max())
    return {"layer": exact, "perturbed_layer": bad, "deep_sets_invariance": ds_err}


def model_labels(cfg: DeepSetsConfig) -> dict[str, str]:
    """Model keys -> labels: one Deep Sets model per pooling, then the MLP baseline."""
    lab_note = ", the lab's layer"  # the lab's 1 1^T x is the sum pooling
    labels = {f"deep_sets_{p}": f"Deep Sets ({p} pooling{lab_note if p == 'sum' else ''})" for p in cfg.models.poolings}
    labels["mlp"] = "MLP on the concatenated set"
    return labels


def _finite_estimate(values: np.ndarray, ok: np.ndarray) -> dict:
    """:func:`estimate` over the members that did not diverge (``None`` if all did)."""
    vals = np.asarray(values, dtype=float)[ok]
    return estimate(vals) if vals.size else None


def run(cfg: DeepSetsConfig, ctx: StudyContext) -> dict:
    task, mc, tc = cfg.task, cfg.models, cfg.train
    lab = _lab_check(cfg, ctx)
    n = task.set_size

    def sets(count: int, size: int, key: str) -> tuple[Tensor, Tensor]:
        x, y = make_set_task(count, size, target=task.target, seed=ctx.seed("data", key, size))
        return x.to(ctx.device), y.to(ctx.device)

    x_tr, y_tr = sets(task.n_train, n, "train")
    x_val, y_val = sets(task.n_val, n, "val")
    tests = {size: sets(task.n_test, size, "test") for size in sorted(set(task.test_sizes) | {n})}
    factories: dict[str, Callable[[], nn.Module]] = {
        f"deep_sets_{p}": (
            lambda p=p: DeepSets(
                1,
                1,
                phi_hidden=mc.phi_hidden,
                rho_hidden=mc.rho_hidden,
                pooling=p,
                readout=mc.readout,
                seed=0,
            )
        )
        for p in mc.poolings
    }
    factories["mlp"] = lambda: SetMLP(n, mc.mlp_hidden)
    labels = model_labels(cfg)
    spec = TrainSpec(
        max_steps=tc.steps,
        eval_every=min(tc.eval_every, tc.steps),
        block=min(100, tc.steps),
        schedule=make_schedule(tc.schedule),
    )
    perms_test = _random_perms(task.n_test, n, torch.Generator().manual_seed(ctx.seed("permutations")))
    models: dict = {}
    relative: dict[str, np.ndarray] = {}
    for name, factory in factories.items():
        ens = ModuleEnsemble(factory)

        def fit(lrs: Sequence[float], seeds: list[int], tag: str, ens: ModuleEnsemble = ens) -> TrainResult:
            return train(
                ens,
                ens.init(seeds, device=ctx.device),
                loss=mse,
                optimizer=Adam(),
                lr=lrs,
                data=FixedSource(x_tr, y_tr, batch_size=min(tc.batch_size, task.n_train)),
                seeds=seeds,
                spec=spec,
                eval_sets={"val": EvalSet(x_val, y_val), "test": EvalSet(*tests[n])},
                sink=ctx.writer,
                tag=tag,
                progress=ctx.progress,
            )

        sweep_seed = ctx.seed("sweep", name)
        rounds: list[int] = []  # the grid's extensions log under their own tags (no duplicate steps)

        def sweep_round(
            lrs: np.ndarray,
            fit: Callable[..., TrainResult] = fit,
            s: int = sweep_seed,
            name: str = name,
            rounds: list[int] = rounds,
        ) -> TrainResult:
            tag = f"{name}/sweep" + (f"/ext{len(rounds)}" if rounds else "")
            rounds.append(len(lrs))
            return fit(lrs, [s] * len(lrs), tag)

        sweep = lr_sweep(
            sweep_round,
            LRGrid(tc.lr_low, tc.lr_high, num=tc.lr_num, max_extensions=1),
            score=lambda r: r.evals["val_loss"].final,
            selection=Selection("final_loss"),
            step_cap=tc.steps,
            failure_loss=float(y_val.var()),
        )
        ctx.writer.save_table(f"lr_sweep_{name}", sweep.table)
        res = fit([sweep.chosen_lr] * tc.seeds, ctx.seeds(tc.seeds, "members", name), f"{name}/final")
        ok = ~res.diverged  # a diverged member is frozen where it blew up: reported, not averaged
        params = [q.detach() for q in res.params]
        with torch.no_grad():
            per_set = invariance_errors(
                lambda z, ens=ens, params=params: ens.predict(params, z),
                tests[n][0],
                perms_test.to(ctx.device),
            )  # (K, N)
            by_size = {}
            for size, (xs, ys) in tests.items():
                if name == "mlp" and size != n:
                    continue  # the MLP's input has exactly n entries
                mse_k = (ens.predict(params, xs) - ys).square().mean(dim=(1, 2))  # (K,)
                by_size[size] = (mse_k / ys.var()).cpu().numpy()
        ctx.writer.save_arrays(f"invariance_{name}", per_set=per_set[torch.as_tensor(ok)].cpu())
        relative[name] = by_size[n][ok]
        models[name] = {
            "label": labels[name],
            "n_params": ens.n_params,
            "chosen_lr": sweep.chosen_lr,
            "lr_at_edge": sweep.at_edge,
            "n_members": tc.seeds,
            "n_diverged": int((~ok).sum()),
            # Members no better than predicting the mean (e.g. every ReLU dead): kept in the
            # estimates, counted so the report can say why a CI is wide.
            "n_collapsed": int((by_size[n][ok] >= COLLAPSED).sum()),
            "test_mse": _finite_estimate(res.evals["test_loss"].final, ok),
            "relative_test_mse": _finite_estimate(by_size[n], ok),
            "invariance_error": _finite_estimate(per_set.mean(dim=1).cpu().numpy(), ok),
            "relative_mse_by_size": {str(size): _finite_estimate(v, ok) for size, v in by_size.items()},
        }
    # MLP / Deep Sets ratio of geometric-mean relative MSE (independent members: Welch in log space).
    ratios = {}
    for name in models:
        if name != "mlp" and len(relative[name]) and len(relative["mlp"]):
            r = geometric_mean_ratio(relative["mlp"], relative[name])
            ratios[name] = {"ratio": r.mean, "low": nan_to_none(r.low), "high": nan_to_none(r.high)}
    return {
        "eps_float64": machine_eps("float64"),
        "eps_float32": machine_eps("float32"),
        "lab": lab,
        "target": task.target,
        "train_size": n,
        "test_variance": float(tests[n][1].var()),
        "models": models,
        "mlp_over_deep_sets_mse_ratio": ratios,
    }


# ----------------------------------------------------------------------------------------------
# Report
# ----------------------------------------------------------------------------------------------
def _est(e: dict | None) -> str:
    return "all diverged" if e is None else fmt_est(e)


def _mean(e: dict | None) -> float:
    return math.nan if e is None else e["mean"]


def report(run_: Run) -> Report:
    s = run_.summary
    cfg = run_.config_dict
    lab, ms = s["lab"], s["models"]
    ds_names = [k for k in ms if k != "mlp"]
    main = ds_names[0]
    ds, mlp = ms[main], ms["mlp"]
    lc = cfg["lab"]
    eps64 = s["eps_float64"]
    rep = Report(
        "Deep Sets: permutation equivariance and a learned set function",
        headline={
            "lab layer equivariance error": fmt(lab["layer"]["equivariance"]),
            **{f"relative test MSE, {ms[k]['label']}": _est(ms[k]["relative_test_mse"]) for k in ms},
            f"invariance error, {ds['label']} / MLP": f"{fmt(_mean(ds['invariance_error']))} / "
            f"{fmt(_mean(mlp['invariance_error']))}",
        },
    )
    lay, bad = lab["layer"], lab["perturbed_layer"]
    detected = bad["equivariance"] > DETECTION * max(lay["equivariance"], eps64)
    rep.add(
        Heading("The lab's check"),
        Text(
            f"The layer {lc['activation']}(x (lambda I + gamma 1 1^T)) with lambda = {fmt(lc['lam'])}, "
            f"gamma = {fmt(lc['gamma'])} on a set of {lc['set_size']} numbers and {lc['n_permutations']} random "
            f"permutations of it, in float64 (machine epsilon {fmt(eps64)}): max |f(pi x) - pi f(x)| / max |f(x)| "
            f"= {fmt(lay['equivariance'])} ({fmt(lay['equivariance'] / eps64)} eps); the lab's sorted-values test "
            f"gives {fmt(lay['sorted'])}. The same layer with a generic perturbation delta R, delta = "
            f"{fmt(lc['perturbation'])}, gives {fmt(bad['equivariance'])} "
            f"({'detected' if detected else 'NOT clearly separated'}: "
            f"{fmt(bad['equivariance'] / max(lay['equivariance'], eps64))}x the exact layer's error), and "
            f"{fmt(bad['sorted'])} on the sorted-values test. A randomly initialised Deep Sets model changes its "
            f"output by {fmt(lab['deep_sets_invariance'])} (relative max) over the same permutations."
        ),
    )
    rep.add(
        Table(
            ["map", "equivariance error", "sorted-values error"],
            [
                [f"lab layer ({lc['activation']})", fmt(lay["equivariance"]), fmt(lay["sorted"])],
                [
                    f"perturbed layer (delta = {fmt(lc['perturbation'])})",
                    fmt(bad["equivariance"]),
                    fmt(bad["sorted"]),
                ],
                ["Deep Sets, untrained (invariance)", fmt(lab["deep_sets_invariance"]), "—"],
            ],
        )
    )

    task, tc = cfg["task"], cfg["train"]
    n = s["train_size"]
    parts = []
    for m in ms.values():
        edge = ", at the edge of the grid" if m["lr_at_edge"] else ""
        lost = f", {m['n_diverged']} of {m['n_members']} members diverged and are left out" if m["n_diverged"] else ""
        if m.get("n_collapsed"):
            lost += (
                f", {m['n_collapsed']} of {m['n_members']} collapsed to a relative MSE >= "
                f"{fmt(COLLAPSED)} (kept in the estimates)"
            )
        parts.append(
            f"{m['label']} ({m['n_params']} parameters, rate {fmt(m['chosen_lr'])}{edge}{lost}): "
            f"{_est(m['relative_test_mse'])}"
        )
    txt = (
        f"Sets of {n} numbers U[0, 1), labelled by their {task['target']}; {task['n_train']} training sets, "
        f"{task['n_val']} validation sets (learning-rate selection only), {task['n_test']} test sets per size; "
        f"target variance on the test sets {fmt(s['test_variance'])}. Adam for {tc['steps']} steps with a "
        f"{tc['schedule']} schedule, {tc['seeds']} seeds per model. Relative test MSE (MSE / variance; "
        f"predicting the mean scores 1): " + "; ".join(parts) + ". "
    )
    for k, r in s["mlp_over_deep_sets_mse_ratio"].items():
        ci = None if r["low"] is None else (r["low"], r["high"])
        if ci is not None and (ci[0] > 1 or ci[1] < 1):
            verdict = f"{ms[k]['label']} is {'more' if r['ratio'] > 1 else 'less'} accurate"
        else:
            verdict = "no clear difference (the interval includes 1)"
        txt += (
            f"The MLP's error is {fmt_ci(r['ratio'], ci)} times that of {ms[k]['label']} (geometric means, "
            f"Welch interval): {verdict}. "
        )
    txt += (
        f"Permuting the elements of each test set changes the output of {ds['label']} by "
        f"{_est(ds['invariance_error'])} (relative; float32 rounding of a sum taken in another order) and "
        f"the MLP's by {_est(mlp['invariance_error'])}"
        + (
            f", {fmt(_mean(mlp['invariance_error']) / _mean(ds['invariance_error']))}x more."
            if _mean(ds["invariance_error"]) > 0
            else "."
        )
    )
    if s["target"] == "sum":
        txt += (
            " (The sum is a linear function of the concatenated set, which a ReLU MLP represents "
            "exactly on non-negative inputs: the task does not require invariance to be learnable, "
            "only to be exact.)"
        )
    rep.add(Heading(f"Learning the {task['target']} of a set"), Text(txt))
    rows = [
        [
            m["label"],
            m["n_params"],
            fmt(m["chosen_lr"]) + (" (edge)" if m["lr_at_edge"] else ""),
            _est(m["test_mse"]),
            _est(m["relative_test_mse"]),
            _est(m["invariance_error"]),
            f"{m['n_diverged']} / {m.get('n_collapsed', 0)}",
            ", ".join(fmt(v) for v in m["relative_test_mse"]["values"]) if m["relative_test_mse"] else "—",
        ]
        for m in ms.values()
    ]
    rep.add(
        Table(
            [
                "model",
                "parameters",
                "learning rate",
                "test MSE",
                "relative test MSE",
                "invariance error",
                "diverged / collapsed",
                "relative test MSE of each member",
            ],
            rows,
            caption=f"Means over the members that did not diverge, with 95% CIs; {tc['seeds']} members "
            f"per model; collapsed: relative MSE >= {fmt(COLLAPSED)}.",
        )
    )

    sizes = sorted(int(k) for k in ds["relative_mse_by_size"])
    sentences = []
    for k in ds_names:
        by = ms[k]["relative_mse_by_size"]
        if by[str(n)] is None:
            continue
        worst = max(sizes, key=lambda z: _mean(by[str(z)]))
        sentences.append(
            f"{ms[k]['label']}: "
            + "; ".join(f"{z}: {_est(by[str(z)])}" for z in sizes)
            + f" (worst: size {worst}, {fmt(_mean(by[str(worst)]) / _mean(by[str(n)]))}x the "
            f"training size's error)"
        )
    rep.add(
        Heading("Set sizes not seen in training"),
        Text(
            f"Trained on sets of {n}, evaluated on sizes {', '.join(map(str, sizes))} (relative test MSE). "
            + ". ".join(sentences)
            + ". The MLP cannot take another size."
        ),
    )
    lines = []
    for k in ds_names:
        by = ms[k]["relative_mse_by_size"]
        pts = [z for z in sizes if by[str(z)] is not None]
        if not pts:
            continue
        means = np.array([by[str(z)]["mean"] for z in pts])
        floor = 0.1 * float(means.min())
        lo = [max(by[str(z)]["low"] if by[str(z)]["low"] is not None else by[str(z)]["mean"], floor) for z in pts]
        hi = [max(by[str(z)]["high"] if by[str(z)]["high"] is not None else by[str(z)]["mean"], floor) for z in pts]
        lines.append(Line(pts, means, label=ms[k]["label"], mode="lines+markers", band=(lo, hi)))
    if mlp["relative_test_mse"] is not None:
        lines.append(
            Line(
                [n],
                [mlp["relative_test_mse"]["mean"]],
                label="MLP (training size only)",
                mode="markers",
            )
        )
    panels = [
        Panel(
            lines,
            title="relative test MSE by set size",
            xlabel="set size",
            ylabel="MSE / variance",
            yscale="log",
            vlines=[(n, "training size")],
        )
    ]
    floor = INVARIANCE_FLOOR_FRACTION * s["eps_float32"]
    hists = []
    for k in ms:
        if run_.has_artifact(f"invariance_{k}.npz"):
            per_set = run_.load_arrays(f"invariance_{k}")["per_set"].reshape(-1)
            if per_set.size:
                hists.append(Hist(np.log10(np.maximum(per_set, floor)), label=ms[k]["label"], bins=40))
    if hists:
        panels.append(
            Panel(
                hists,
                title="invariance error on permuted test sets",
                ylabel="density",
                xlabel="log10 relative change",
                vlines=[(float(np.log10(s["eps_float32"])), "float32 eps")],
            )
        )
    curves = []
    for k in ms:
        curves += curve_lines(
            run_.series("train_loss", f"{k}/final"),
            label=ms[k]["label"],
            smooth_window=CURVE_SMOOTHING,
        )
    if curves:
        panels.append(Panel(curves, title="training loss", xlabel="step", ylabel="MSE", yscale="log"))
    rep.add(
        Figure(
            Chart(
                "set_task",
                panels,
                caption="Left: mean and 95% CI over members (lower bounds "
                "clipped at a tenth of the smallest mean). Middle: every test set of every member "
                f"(exact zeros drawn at {fmt(floor)}). Right: median over members with 10-90% band, "
                "smoothed.",
            )
        )
    )
    return rep


register(
    Study(
        NAME,
        "Lab 7: permutation-equivariant layers, Deep Sets vs an MLP on a set task, unseen set sizes.",
        DeepSetsConfig,
        run,
        report,
        smoke={
            "lab": {"set_size": 20, "n_permutations": 20},
            "task": {"n_train": 256, "n_val": 64, "n_test": 128, "test_sizes": [5, 20]},
            "models": {
                "phi_hidden": [16],
                "rho_hidden": [16],
                "mlp_hidden": [16],
                "poolings": ["sum", "mean"],
            },
            "train": {
                "steps": 100,
                "seeds": 2,
                "lr_low": 3e-3,
                "lr_high": 3e-2,
                "lr_num": 2,
                "eval_every": 50,
            },
        },
    )
)
