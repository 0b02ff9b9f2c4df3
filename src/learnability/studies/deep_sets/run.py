"""The deep-sets study, stage by stage: the lab's check, then each model tuned, trained, measured.

Part 1, the lab's check. The layer ``f(x) = sigma(x (lambda I + gamma 1 1^T))`` (the lab: a set of
200 numbers, ``lambda = 0.25``, ``gamma = 0.4``, ``sigma = mish``) is applied to a set and to
random permutations of it. Measured in float64: ``max |f(pi x) - pi f(x)| / max |f(x)|`` over the
permutations (equivariance), and the same for a *perturbed* layer ``sigma(x (lambda I + gamma
1 1^T + delta R))`` with a random ``R``. The invariance of a randomly initialised Deep Sets model
``rho(sum_i phi(x)_i)`` (:class:`learnability.models.DeepSets`) is measured the same way.

Part 2, a set task. Sets of ``n`` numbers ``U[0, 1)`` labelled by their sum (or maximum)
(:func:`learnability.models.make_set_task`); a Deep Sets model per pooling and a non-invariant
baseline — an MLP on the concatenated set — trained through the engine (Adam; the learning rate
of each model chosen by a sweep scored on a validation set; then fresh seeds at that rate; 95%
CIs). Measured: test MSE and MSE relative to the variance of the target; the invariance error of
each trained model on randomly permuted test sets; the Deep Sets models on set sizes not seen in
training (the MLP's input size is fixed, so it cannot be evaluated there).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from learnability._words import plural
from learnability.analysis import Estimate, geometric_mean_ratio, mean_estimate
from learnability.engine import (
    Adam,
    EvalSet,
    FixedSource,
    LRGrid,
    ModuleEnsemble,
    Selection,
    TrainResult,
    TrainSpec,
    TunedResult,
    make_schedule,
    mse,
    round_tag,
    train,
    tune_then_train,
)
from learnability.models import DeepSets, PermutationEquivariant, make_set_task
from learnability.studies import StudyContext
from learnability.studies.deep_sets.config import DeepSetsConfig
from learnability.studies.deep_sets.parts import (
    invariance_errors,
    lab_layer_errors,
    model_factories,
    model_labels,
    perturbed_layer,
    random_perms,
)
from learnability.studies.deep_sets.results import (
    DeepSetsResults,
    LabCheckResults,
    LayerErrors,
    MseRatio,
    SetModelResults,
)

__all__ = ["run"]

R = DeepSetsResults


def run(cfg: DeepSetsConfig, ctx: StudyContext) -> DeepSetsResults:
    """The lab's check, then every model: sweep, fresh seeds, measures; then the MLP / Deep Sets ratios."""
    lab = lab_check(cfg, ctx)
    data = make_sets(cfg, ctx)
    n = cfg.task.set_size
    perms_test = random_perms(cfg.task.n_test, n, torch.Generator().manual_seed(ctx.seed("permutations")))
    labels = model_labels(cfg)
    models: dict[str, SetModelResults] = {}
    relative: dict[str, np.ndarray] = {}  # surviving members' relative test MSE, for the ratios
    for name, factory in model_factories(cfg).items():
        ens = ModuleEnsemble(factory)
        tuned = tune_model(cfg, ctx, data, name, ens)
        ctx.writer.save_table(R.LR_SWEEP.format(name), tuned.sweep.table)
        models[name], relative[name] = measure_model(cfg, ctx, data, name, labels[name], ens, tuned, perms_test)
    return DeepSetsResults(
        lab=lab,
        target=cfg.task.target,
        train_size=n,
        test_variance=float(data.tests[n][1].var()),
        models=models,
        mlp_over_deep_sets_mse_ratio=mse_ratios(relative),
    )


def lab_check(cfg: DeepSetsConfig, ctx: StudyContext) -> LabCheckResults:
    """The lab's layer, its perturbed twin and an untrained Deep Sets model, on one set (float64)."""
    lc = cfg.lab
    g = torch.Generator().manual_seed(ctx.seed("lab"))
    x = torch.rand(1, lc.set_size, 1, generator=g, dtype=torch.float64)  # the lab's np.random.rand
    perms = random_perms(lc.n_permutations, lc.set_size, g)
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
    return LabCheckResults(layer=LayerErrors(**exact), perturbed_layer=LayerErrors(**bad), deep_sets_invariance=ds_err)


@dataclass(frozen=True)
class SetData:
    """Training, validation (rate selection only) and test sets (per size, reporting only)."""

    x_train: Tensor  # (N, n, 1)
    y_train: Tensor  # (N, 1)
    x_val: Tensor
    y_val: Tensor
    tests: dict[int, tuple[Tensor, Tensor]]  # size -> (x (M, size, 1), y (M, 1))


def make_sets(cfg: DeepSetsConfig, ctx: StudyContext) -> SetData:
    """The set task's splits on the run's device; test sets at every size of ``test_sizes`` and the
    training size (each split and size from its own seed)."""
    task = cfg.task

    def sets(count: int, size: int, key: str) -> tuple[Tensor, Tensor]:
        x, y = make_set_task(count, size, target=task.target, seed=ctx.seed("data", key, size))
        return x.to(ctx.device), y.to(ctx.device)

    n = task.set_size
    x_train, y_train = sets(task.n_train, n, "train")
    x_val, y_val = sets(task.n_val, n, "val")
    tests = {size: sets(task.n_test, size, "test") for size in sorted(set(task.test_sizes) | {n})}
    return SetData(x_train, y_train, x_val, y_val, tests)


def tune_model(cfg: DeepSetsConfig, ctx: StudyContext, data: SetData, name: str, ens: ModuleEnsemble) -> TunedResult:
    """The rate sweep (every rate from one seed, scored on the validation loss), then fresh seeds.

    Both train with Adam on the same batches of the training sets; the test loss is logged for
    the curves only.
    """
    tc, n = cfg.train, cfg.task.set_size
    spec = TrainSpec(
        max_steps=tc.steps,
        eval_every=min(tc.eval_every, tc.steps),
        block=min(tc.block, tc.steps),
        schedule=make_schedule(tc.schedule),
    )

    def fit(lrs: Sequence[float], seeds: list[int], tag: str) -> TrainResult:
        return train(
            ens,
            ens.init(seeds, device=ctx.device),
            loss=mse,
            optimizer=Adam(),
            lr=lrs,
            data=FixedSource(data.x_train, data.y_train, batch_size=min(tc.batch_size, cfg.task.n_train)),
            seeds=seeds,
            spec=spec,
            eval_sets={"val": EvalSet(data.x_val, data.y_val), "test": EvalSet(*data.tests[n])},
            sink=ctx.writer,
            tag=tag,
            progress=ctx.progress,
        )

    sweep_seed = ctx.seed("sweep", name)

    def sweep_fn(lrs: Sequence[float], round_: int) -> TrainResult:
        extension = f" extension {round_}" if round_ else ""
        ctx.progress.phase(f"{name} sweep{extension}: {plural(len(lrs), 'rate')}")
        return fit(lrs, [sweep_seed] * len(lrs), round_tag(R.SWEEP_TAG.format(name), round_))

    def seeds_fn(lr: float) -> TrainResult:
        ctx.progress.phase(f"{name} seeds: {plural(tc.seeds, 'run')}")
        return fit([lr] * tc.seeds, ctx.seeds(tc.seeds, "members", name), R.FINAL_TAG.format(name))

    return tune_then_train(
        sweep_fn,
        seeds_fn,
        LRGrid(tc.lr_low, tc.lr_high, num=tc.lr_num, max_extensions=tc.lr_extensions),
        score=lambda r: r.evals["val_loss"].final,
        selection=Selection("final_loss"),
        step_cap=tc.steps,
        failure_loss=float(data.y_val.var()),
    )


def measure_model(
    cfg: DeepSetsConfig,
    ctx: StudyContext,
    data: SetData,
    name: str,
    label: str,
    ens: ModuleEnsemble,
    tuned: TunedResult,
    perms_test: Tensor,
) -> tuple[SetModelResults, np.ndarray]:
    """Test MSE per set size, and the invariance error on permuted test sets, of the final members.

    Returns:
        The model's results and the relative test MSE ``(K_ok,)`` of its surviving members.
    """
    n, res = cfg.task.set_size, tuned.final
    ok = ~res.diverged  # a diverged member is frozen where it blew up: reported, not averaged
    params = [q.detach() for q in res.params]
    with torch.no_grad():
        per_set = invariance_errors(
            lambda z: ens.predict(params, z), data.tests[n][0], perms_test.to(ctx.device)
        )  # (K, N)
        by_size = {}
        for size, (xs, ys) in data.tests.items():
            if name == R.MLP and size != n:
                continue  # the MLP's input has exactly n entries
            mse_k = (ens.predict(params, xs) - ys).square().mean(dim=(1, 2))  # (K,)
            by_size[size] = (mse_k / ys.var()).cpu().numpy()
    ctx.writer.save_arrays(R.INVARIANCE.format(name), per_set=per_set[torch.as_tensor(ok)].cpu())
    result = SetModelResults(
        label=label,
        n_params=ens.n_params,
        chosen_lr=tuned.lr,
        lr_at_edge=tuned.sweep.at_edge,
        n_members=cfg.train.seeds,
        n_diverged=int((~ok).sum()),
        # Members no better than predicting the mean (e.g. every ReLU dead): kept in the
        # estimates, counted so the report can say why a CI is wide.
        n_collapsed=int((by_size[n][ok] >= R.COLLAPSED).sum()),
        test_mse=_surviving_estimate(res.evals["test_loss"].final, ok),
        relative_test_mse=_surviving_estimate(by_size[n], ok),
        invariance_error=_surviving_estimate(per_set.mean(dim=1).cpu().numpy(), ok, exact_zero_possible=True),
        relative_mse_by_size={str(size): _surviving_estimate(v, ok) for size, v in by_size.items()},
    )
    return result, by_size[n][ok]


def _surviving_estimate(values: np.ndarray, ok: np.ndarray, *, exact_zero_possible: bool = False) -> Estimate | None:
    """Mean with a 95% CI over the members that did not diverge (None if all did). Every such
    value is an error (> 0): the interval is computed on the log scale. An invariance error can be
    exactly 0 (an exactly invariant model): with such a value the interval stays real (a log has
    no 0; zero spread gives [0, 0])."""
    vals = np.asarray(values, dtype=float)[ok]
    if not vals.size:
        return None
    kind = "real" if exact_zero_possible and not (vals > 0).all() else "positive"
    return mean_estimate(vals, kind=kind)


def mse_ratios(relative: dict[str, np.ndarray]) -> dict[str, MseRatio]:
    """MLP / Deep Sets ratio of geometric-mean relative MSE (independent members: Welch in log space)."""
    mlp = relative[R.MLP]
    return {
        name: MseRatio(estimate=geometric_mean_ratio(mlp, rel))
        for name, rel in relative.items()
        if name != R.MLP and len(rel) and len(mlp)
    }
