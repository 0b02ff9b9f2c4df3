"""The symmetry-discovery study, stage by stage: data, rate sweep and members, measures, summary.

Data: full orbits of 2-D points under the rotation group ``C_m`` (a rotation every
``step_degrees``), labelled by orbit, shuffled (:func:`learnability.models.make_orbit_dataset`),
and off-grid test points on the same circles. Every loss configuration (:func:`member_grid`) x
seed trains as one ensemble at the rate a sweep of the full loss chose; then each trained member
is measured (:mod:`.measures`) and the measures are summarised over seeds, per configuration, with
the paired effect of each loss term.

Which data covariance ``C_x`` enters the commutator is a choice the challenge leaves open, and it
matters: on *full* orbits of ``C_m`` (``m >= 3``) the covariance of the whole data set is a
multiple of the identity, so the commutator with it is identically zero. The default
(``covariance="batch"``) uses each member's mini-batch covariance, which is anisotropic; since a
matrix that commutes with every symmetric 2 x 2 matrix is a multiple of the identity, on average
over batches the term pushes the weights' covariance ``C_w`` towards isotropy (weight vectors
spread evenly over the directions, as an orbit of C_m is). ``covariance="full"`` uses the whole
training set's covariance; the summary holds the value of the term under both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from learnability._words import plural
from learnability.analysis import Estimate, EstimateKind, mean_estimate, paired_test
from learnability.engine import (
    Adam,
    EvalSet,
    FixedSource,
    LRGrid,
    Selection,
    TrainResult,
    TrainSpec,
    cross_entropy,
    round_tag,
    train,
    tune_then_train,
)
from learnability.models import (
    angle_order,
    commutator_penalty,
    covariance,
    group_order,
    make_orbit_dataset,
    rotate_points,
    soft_sort,
    sort_regularizer,
)
from learnability.studies import StudyContext
from learnability.studies.symmetry_discovery.config import SymmetryDiscoveryConfig
from learnability.studies.symmetry_discovery.measures import (
    COMMUTATOR_BATCHES,
    covariance_anisotropy,
    ideal_orbit_classifier,
    off_grid_test,
    representation_invariance,
    weight_geometry,
)
from learnability.studies.symmetry_discovery.parts import (
    ABLATIONS,
    ORBIT_CONFIG,
    OrbitEnsemble,
    SymmetryPenalty,
    batch_covariance,
    commutator_penalties,
    estimate_generator,
    member_grid,
)
from learnability.studies.symmetry_discovery.results import (
    ConfigSummary,
    Effect,
    IdealOrbit,
    SweepPoint,
    SymmetryDiscoveryResults,
)

__all__ = ["run"]

#: The paired effect of each term: (configuration with it, configuration without it).
EFFECTS = {"sort": ("full", "ce_commutator"), "commutator": ("full", "ce_sort")}


@dataclass(frozen=True)
class OrbitData:
    """The training orbits, the off-grid test points and the model sized for them."""

    x: Tensor  # (N, 2) on the run's device
    y: Tensor  # (N,)
    x_test: Tensor  # (N_test, 2)
    y_test: Tensor  # (N_test,)
    x_cpu: Tensor  # (N, 2) the training points on the CPU, for the measures
    full_cov: Tensor  # (2, 2) covariance of the whole training set
    group_order: int  # m of C_m
    model: OrbitEnsemble


def make_data(cfg: SymmetryDiscoveryConfig, ctx: StudyContext) -> OrbitData:
    m = group_order(cfg.step_degrees)
    data = make_orbit_dataset(cfg.n_orbits, step_degrees=cfg.step_degrees, seed=ctx.seed("data"))
    x, y = data.x.to(ctx.device), data.y.to(ctx.device)
    x_test, y_test = off_grid_test(data.base, cfg.n_test_per_orbit, torch.Generator().manual_seed(ctx.seed("test")))
    full_cov = covariance(x)
    model = OrbitEnsemble(
        cfg.n_orbits,
        cfg.hidden or m,
        temperature=cfg.temperature,
        covariance=cfg.covariance,
        full_covariance=full_cov,
        generator=estimate_generator(data.x, data.y).to(x.dtype),
    )
    return OrbitData(x, y, x_test.to(ctx.device), y_test.to(ctx.device), data.x, full_cov, m, model)


def fit(
    cfg: SymmetryDiscoveryConfig,
    ctx: StudyContext,
    data: OrbitData,
    weights: tuple[Sequence[float], Sequence[float], Sequence[float]],
    seeds: Sequence[int],
    lrs: Sequence[float],
    tag: str,
) -> TrainResult:
    """Train one ensemble: member ``k`` with sort, commutator and orbit weights ``weights[0][k]``,
    ``weights[1][k]``, ``weights[2][k]``, initialisation and data order from ``seeds[k]``, rate
    ``lrs[k]``."""
    tc = cfg.train
    params = data.model.init(seeds, device=ctx.device)
    penalty = SymmetryPenalty(data.model, *(torch.tensor(w, device=ctx.device) for w in weights))
    return train(
        data.model,
        params,
        loss=cross_entropy,
        penalty=penalty,
        optimizer=Adam(),
        lr=lrs,
        data=FixedSource(data.x, data.y, batch_size=min(tc.batch_size, data.x.shape[0])),
        seeds=seeds,
        spec=TrainSpec(max_steps=tc.steps, eval_every=min(tc.eval_every, tc.steps), block=min(tc.block, tc.steps)),
        # The metrics read the live parameters (train updates `params` in place).
        eval_sets={
            "train": EvalSet(data.x, data.y, penalty.metrics(params, data.x)),
            "test": EvalSet(data.x_test, data.y_test, penalty.metrics(params, data.x_test)),
        },
        sink=ctx.writer,
        tag=tag,
        progress=ctx.progress,
    )


def member_table(cfg: SymmetryDiscoveryConfig, ctx: StudyContext) -> pd.DataFrame:
    """Every loss configuration x seed, one row per member; the same seeds in every configuration."""
    seeds = ctx.seeds(cfg.train.seeds, "members")
    rows = member_grid(cfg).to_dict("records")
    return pd.DataFrame([{**row, "seed_index": j, "seed": s} for row in rows for j, s in enumerate(seeds)])


def tune_and_train(
    cfg: SymmetryDiscoveryConfig, ctx: StudyContext, data: OrbitData, members: pd.DataFrame
) -> tuple[float, bool, TrainResult]:
    """One rate sweep with the full loss, scored on the training objective; then every member.

    Returns:
        The chosen rate, whether it is at the edge of the grid, and the members' training result.
    """
    tc = cfg.train
    sweep_seed = ctx.seed("sweep")
    window = max(1, min(tc.score_window, tc.steps // 5))  # the last steps (a fifth at most)

    def sweep_fn(lrs: np.ndarray, round_: int) -> TrainResult:
        k = len(lrs)
        weights = ([cfg.sort_weight] * k, [cfg.commutator_weight] * k, [0.0] * k)
        tag = round_tag(SymmetryDiscoveryResults.SWEEP_TAG, round_)
        ctx.progress.phase(f"sweep{f' extension {round_}' if round_ else ''}: {plural(k, 'rate')}")
        return fit(cfg, ctx, data, weights, [sweep_seed] * k, lrs, tag)

    def final_fn(lr: float) -> TrainResult:
        weights = (
            members["sort_weight"].tolist(),
            members["commutator_weight"].tolist(),
            members["orbit_weight"].tolist(),
        )
        seeds = members["seed"].tolist()
        ctx.progress.phase(f"members: {plural(len(members), 'run')}")
        return fit(cfg, ctx, data, weights, seeds, [lr] * len(members), SymmetryDiscoveryResults.MEMBERS_TAG)

    tuned = tune_then_train(
        sweep_fn,
        final_fn,
        LRGrid(tc.lr_low, tc.lr_high, num=tc.lr_num, max_extensions=tc.lr_extensions),
        score=lambda r: r.final_train_loss(window),
        selection=Selection("final_loss"),
        step_cap=tc.steps,
    )
    ctx.writer.save_table(SymmetryDiscoveryResults.LR_SWEEP_TABLE, tuned.sweep.table)
    return tuned.lr, tuned.sweep.at_edge, tuned.final


@dataclass(frozen=True)
class GroupProbe:
    """The inputs every trained member is measured on."""

    gx: Tensor  # (N, 2) each training point rotated by a random non-identity element of C_m
    batch_covs: Tensor  # (COMMUTATOR_BATCHES, 2, 2) covariances of random mini-batches


def group_probe(cfg: SymmetryDiscoveryConfig, ctx: StudyContext, data: OrbitData) -> GroupProbe:
    xc = data.x_cpu
    g = torch.Generator().manual_seed(ctx.seed("invariance"))
    shift = torch.randint(1, data.group_order, (xc.shape[0],), generator=g)  # a non-identity rotation per point
    gx = rotate_points(xc, shift, step_degrees=cfg.step_degrees)
    batch = min(cfg.train.batch_size, xc.shape[0])
    batch_idx = torch.stack(
        [torch.randperm(xc.shape[0], generator=g)[:batch] for _ in range(COMMUTATOR_BATCHES)]
    )  # (n_batches, B)
    return GroupProbe(gx, batch_covariance(xc[batch_idx]))


def measure_members(
    cfg: SymmetryDiscoveryConfig,
    data: OrbitData,
    members: pd.DataFrame,
    res: TrainResult,
    init_weights: Tensor,
    probe: GroupProbe,
) -> pd.DataFrame:
    """Every measure of every trained member (CPU, float32 as trained): one row per member.

    Args:
        init_weights: ``(K, h, 2)`` the members' first layers at initialisation.
    """
    params_cpu = [p.detach().cpu() for p in res.params]
    rows = []
    for k in range(len(members)):
        net = data.model.member(params_cpu, k)
        w = net.fc1.weight.detach()
        cw_k = covariance(w)
        init_geo = weight_geometry(init_weights[k])
        batch_covs = probe.batch_covs
        rows.append(
            {
                **members.iloc[k].to_dict(),
                **weight_geometry(w),
                "init_circulant_distance": init_geo["circulant_distance"],
                "init_anisotropy": init_geo["anisotropy"],
                **representation_invariance(net, data.x_cpu, probe.gx),
                "train_accuracy": float(res.evals["train_accuracy"].final[k]),
                "test_accuracy": float(res.evals["test_accuracy"].final[k]),
                "sort_term": float(sort_regularizer(w @ w.T, temperature=cfg.temperature)),
                "commutator_full": float(commutator_penalty(data.full_cov.cpu(), cw_k)),
                "commutator_batch_mean": float(commutator_penalties(batch_covs, cw_k.expand_as(batch_covs)).mean()),
                "bias_std": float(net.fc1.bias.detach().std()),
                "diverged": bool(res.diverged[k]),
            }
        )
    return pd.DataFrame(rows)


def _ordered_gram(w: Tensor) -> Tensor:
    """``W W^T`` with the units ordered by the angle of their weight vector, ``(h, h)``."""
    order = angle_order(w)
    return (w @ w.T)[order][:, order]


def save_examples(ctx: StudyContext, data: OrbitData, table: pd.DataFrame, res: TrainResult, w0: Tensor) -> None:
    """Seed 0 of each ablation (Gramian and weights) and member 0 at initialisation, for the report."""
    weights = res.params[data.model.weight_index].detach().cpu()  # (K, h, 2)
    examples = {}
    for a in ABLATIONS:
        k = int(table.index[(table["ablation"] == a) & (table["seed_index"] == 0)][0])
        examples[f"{a}_gram"] = _ordered_gram(weights[k])
        examples[f"{a}_weights"] = weights[k]
    examples["init_gram"] = _ordered_gram(w0)
    ctx.writer.save_arrays(SymmetryDiscoveryResults.EXAMPLES, **examples)


def ideal_orbit(
    cfg: SymmetryDiscoveryConfig, data: OrbitData, table: pd.DataFrame, res: TrainResult, probe: GroupProbe
) -> IdealOrbit | None:
    """The exact orbit solution, scaled like the first full-loss member (None unless hidden = m)."""
    if data.model.hidden != data.group_order:
        return None
    full_k = int(table.index[table["ablation"] == "full"][0])
    net_full = data.model.member([p.detach().cpu() for p in res.params], full_k)
    ideal_net = ideal_orbit_classifier(
        cfg.n_orbits,
        cfg.step_degrees,
        norm=float(net_full.fc1.weight.detach().norm(dim=1).mean()),
        bias=float(net_full.fc1.bias.detach().mean()),
    )
    inv = representation_invariance(ideal_net, data.x_cpu, probe.gx)
    # Only the first layer is hand-built (the readout is untrained): keep first-layer measures.
    return IdealOrbit(
        **weight_geometry(ideal_net.fc1.weight.detach()),
        sorted_error_hidden=inv["sorted_error_hidden"],
        sorted_error_linear=inv["sorted_error_linear"],
    )


def soft_sort_gap(w0: Tensor, temperature: float) -> float:
    """How soft the soft sort is at this scale: relative max difference from the hard sort of
    the rows of the Gramian of ``w0 (h, 2)``."""
    gram0 = w0 @ w0.T
    hard = gram0.sort(dim=1).values
    return float((soft_sort(gram0, temperature=temperature) - hard).abs().max() / hard.abs().max())


# The domain of each measure, which its interval respects: distances, errors, ratios and a
# standard deviation are > 0 (a log-scale interval); accuracies and agreement are fractions. The
# rest stay real: they are exactly 0 at a perfect orbit (norm spread, anisotropy, the loss terms)
# or a relative change that is 0 under exact invariance, and a log-scale interval has no 0.
MEASURE_KINDS: dict[str, EstimateKind] = {
    "circulant_distance": "positive",
    "init_circulant_distance": "positive",
    "angle_gap_ratio": "positive",
    "sorted_error_hidden": "positive",
    "sorted_error_linear": "positive",
    "bias_std": "positive",
    "prediction_agreement": "unit",
    "train_accuracy": "unit",
    "test_accuracy": "unit",
}


def _estimates(sub: pd.DataFrame, keys: Sequence[str]) -> dict[str, Estimate]:
    """Mean over seeds with a 95% CI of each column in ``keys`` (rows in seed order)."""
    sub = sub.sort_values("seed_index")
    return {key: mean_estimate(sub[key].to_numpy(), kind=MEASURE_KINDS.get(key, "real")) for key in keys}


def per_config(table: pd.DataFrame) -> dict[str, ConfigSummary]:
    """Each configuration's estimates over the seeds whose member did not diverge (a diverged
    member is frozen where it blew up: counted in the summary, left out of estimates)."""
    out = {}
    for cname, sub in table[~table["diverged"]].groupby("config", sort=False):
        first = sub.sort_values("seed_index").iloc[0]
        out[cname] = ConfigSummary(
            sort_weight=float(first["sort_weight"]),
            commutator_weight=float(first["commutator_weight"]),
            orbit_weight=float(first["orbit_weight"]),
            ablation=first["ablation"],
            **_estimates(sub, ConfigSummary.MEASURES),
        )
    return out


def paired_effect(ok: pd.DataFrame, a: str, b: str, key: str) -> Effect:
    """Paired difference ``a - b`` of ablations over the seeds where neither diverged (same
    initialisation and data order)."""
    pair = ok[ok["ablation"].isin([a, b])].pivot(index="seed_index", columns="ablation", values=key).dropna()
    va, vb = pair[a].to_numpy(), pair[b].to_numpy()
    testable = len(va) >= 2 and np.any(va != vb)
    return Effect(difference=mean_estimate(va - vb), p_value=paired_test(va, vb).t_pvalue if testable else None)


def run(cfg: SymmetryDiscoveryConfig, ctx: StudyContext) -> SymmetryDiscoveryResults:
    """Sweep the rate, train every configuration x seed, measure each member, summarise."""
    data = make_data(cfg, ctx)
    members = member_table(cfg, ctx)
    lr, at_edge, res = tune_and_train(cfg, ctx, data, members)

    init_weights = data.model.init(members["seed"].tolist())[data.model.weight_index]  # (K, h, 2) as trained from
    probe = group_probe(cfg, ctx, data)
    table = measure_members(cfg, data, members, res, init_weights, probe)
    ctx.writer.save_table(SymmetryDiscoveryResults.MEMBERS_TABLE, table)
    save_examples(ctx, data, table, res, init_weights[0])

    configs = per_config(table)
    ok = table[~table["diverged"]]
    sweep_rows = ok[ok["commutator_weight"] == cfg.commutator_weight]
    full_cov = data.full_cov.cpu()
    return SymmetryDiscoveryResults(
        group_order=data.group_order,
        hidden=data.model.hidden,
        n_train=int(data.x.shape[0]),
        n_test=int(data.x_test.shape[0]),
        covariance=cfg.covariance,
        full_data_covariance=full_cov.tolist(),
        full_data_anisotropy=covariance_anisotropy(full_cov),
        temperature=cfg.temperature,
        soft_vs_hard_sort_gap=soft_sort_gap(init_weights[0], cfg.temperature),
        chosen_lr=lr,
        lr_at_edge=at_edge,
        n_members=len(members),
        n_diverged=int(table["diverged"].sum()),
        init_circulant_distance=mean_estimate(
            table.groupby("seed_index")["init_circulant_distance"].first().to_numpy(), kind="positive"
        ),
        init_anisotropy=mean_estimate(table.groupby("seed_index")["init_anisotropy"].first().to_numpy()),
        ablation={a: next(c for c in configs.values() if c.ablation == a) for a in ABLATIONS},
        effects={
            f"{term}:{key}": paired_effect(ok, a, b, key) for term, (a, b) in EFFECTS.items() for key in Effect.MEASURES
        },
        sort_weight_sweep=[
            SweepPoint(sort_weight=float(s), **_estimates(sub, SweepPoint.MEASURES))
            for s, sub in sweep_rows.groupby("sort_weight", sort=True)
        ],
        ideal_orbit=ideal_orbit(cfg, data, table, res, probe),
        configs=configs,
        generator_degrees=generator_degrees(data.model.generator),
        **alternative(ok, configs),
    )


def generator_degrees(generator: Tensor) -> float:
    """The angle, in degrees, of the estimated generator (a 2-D rotation)."""
    return float(torch.rad2deg(torch.atan2(generator[1, 0], generator[0, 0])))


def alternative(ok: pd.DataFrame, configs: dict[str, ConfigSummary]) -> dict[str, object]:
    """The orbit-consistency configuration and its paired effects against CE + sort and CE only."""
    orbit = next((c for c in configs.values() if c.ablation == ORBIT_CONFIG), None)
    if orbit is None:
        return {}
    return {
        "orbit": orbit,
        "orbit_effects": {
            f"{ref}:{key}": paired_effect(ok, ORBIT_CONFIG, ref, key)
            for ref in ("ce_sort", "ce_only")
            for key in Effect.MEASURES
        },
    }
