"""The deep-sets study's settings (Lab 7): the lab's layer check, the set task, models, training."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, PositiveInt

from learnability.config import ConfigSection, OrderedPair, StudyConfig
from learnability.studies import MemoryEstimate

__all__ = ["NAME", "SMOKE", "DeepSetsConfig", "LabCheck", "SetModels", "SetTask", "SetTrain", "memory_bytes"]

NAME = "deep-sets"


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
    test_sizes: list[PositiveInt] = Field(
        default_factory=lambda: [2, 5, 10, 20, 40],
        min_length=1,
        description="Set sizes evaluated for Deep Sets (the MLP only at the training size).",
    )


class SetModels(ConfigSection):
    """Architectures (ReLU everywhere)."""

    phi_hidden: list[PositiveInt] = Field(
        default_factory=lambda: [64, 64], min_length=1, description="Equivariant layers of phi."
    )
    rho_hidden: list[PositiveInt] = Field(default_factory=lambda: [64], description="Hidden layers of the head rho.")
    poolings: list[Literal["sum", "mean", "max"]] = Field(
        default_factory=lambda: ["sum", "mean"],
        min_length=1,
        description="Pooling inside the equivariant layers, one Deep Sets model each (the lab: sum, "
        "1 1^T x; mean keeps the per-element features independent of the set size).",
    )
    readout: Literal["sum", "mean", "max"] = Field("sum", description="Pooling before rho (Deep Sets: sum).")
    mlp_hidden: list[PositiveInt] = Field(
        default_factory=lambda: [128, 64],
        min_length=1,
        description="Hidden layers of the MLP baseline (about as many parameters as Deep Sets).",
    )


class SetTrain(ConfigSection):
    """Optimisation (Adam), identical for both models."""

    ordered_pairs = (OrderedPair("lr_low", "lr_high"),)

    steps: int = Field(2000, ge=1, description="Adam steps.")
    batch_size: int = Field(64, ge=1, description="Sets per batch.")
    seeds: int = Field(5, ge=2, description="Independent members per model (CIs over them).")
    lr_low: float = Field(1e-4, gt=0, description="Lowest rate of the sweep.")
    lr_high: float = Field(1e-1, gt=0, description="Highest rate of the sweep.")
    lr_num: int = Field(4, ge=2, description="Rates in the sweep (log-spaced).")
    lr_extensions: int = Field(1, ge=0, description="Times the rate grid may be extended past an edge.")
    eval_every: int = Field(250, ge=1, description="Steps between evaluations (at most steps).")
    block: int = Field(
        100, ge=1, description="Steps between host synchronisations (logging, divergence checks; at most steps)."
    )
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


def memory_bytes(cfg: DeepSetsConfig) -> MemoryEstimate:
    """Peak host memory of a run: the float32 data sets (every test size held at once) and the
    widest activations of one evaluation of the test sets by an ensemble of ``train.seeds``
    members; names the data set that dominates."""
    t, m = cfg.task, cfg.models
    bytes_per = 4  # float32
    train = (t.n_train + t.n_val) * t.set_size
    test = t.n_test * sum(t.test_sizes)
    width = max([*m.phi_hidden, *m.rho_hidden, *m.mlp_hidden])
    activations = t.n_test * max(t.test_sizes) * width * cfg.train.seeds
    total = bytes_per * (train + test + activations)
    return MemoryEstimate(total, "task.n_test" if test + activations >= train else "task.n_train")


# A 20-number set for the lab's check; one-hidden-layer models of width 16 trained 100 steps,
# two seeds (the fewest with a CI), a sweep of two rates (extended past an edge as configured).
SMOKE: dict[str, Any] = {
    "lab": {"set_size": 20, "n_permutations": 20},
    "task": {"n_train": 256, "n_val": 64, "n_test": 128, "test_sizes": [5, 20]},
    "models": {"phi_hidden": [16], "rho_hidden": [16], "mlp_hidden": [16], "poolings": ["sum", "mean"]},
    "train": {"steps": 100, "seeds": 2, "lr_low": 3e-3, "lr_high": 3e-2, "lr_num": 2, "eval_every": 50},
}
