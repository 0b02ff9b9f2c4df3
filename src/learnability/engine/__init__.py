"""The training engine: K small models trained at once, one loop for every study.

Public pieces:

- :class:`MLPSpec`, :class:`StackedMLP` — stacked (K-member) MLPs and residual MLPs;
- :class:`ModuleEnsemble` — K members of any parameter-only ``nn.Module`` via ``torch.func``;
- :class:`Adam`, :class:`SGD` — per-member learning rates, masked (frozen) members;
- :func:`mse`, :func:`cross_entropy`, :func:`nll`, :func:`accuracy` — per-member losses;
- :class:`OnlineSource`, :class:`FixedSource` — the two data regimes;
- :func:`train`, :class:`TrainSpec`, :class:`EvalSet`, :class:`TrainResult` — the one loop;
- :func:`pick_processes`, :class:`ShardError` — the process layout (``TrainSpec(processes=n)``);
- :class:`Stationarity` — quasi-stationarity detection;
- :func:`make_schedule` — learning-rate schedules (constant, cosine, linear decay);
  :func:`per_member_schedule` — one schedule per member;
- :func:`lr_sweep`, :class:`LRGrid`, :class:`Selection` — learning-rate sweeps.
"""

from learnability.engine.loop import (
    EvalHistory,
    EvalSet,
    MetricSink,
    Penalty,
    PerMemberEvalSet,
    TrainResult,
    TrainSpec,
    make_step,
    train,
)
from learnability.engine.losses import accuracy, cross_entropy, get_loss, mse, nll
from learnability.engine.lr_search import (
    LRGrid,
    Selection,
    SweepResult,
    TunedResult,
    lr_sweep,
    round_tag,
    select_lr,
    tune_then_train,
)
from learnability.engine.modules import ModuleEnsemble, default_init_
from learnability.engine.optim import SGD, Adam, Optimizer, OptState, make_optimizer
from learnability.engine.processes import ShardError, pick_processes
from learnability.engine.schedules import PerMemberSchedule, Schedule, make_schedule, per_member_schedule
from learnability.engine.sources import BatchSource, FixedSource, OnlineSource
from learnability.engine.stacked import MLPSpec, Params, StackedMLP, member_module
from learnability.engine.stationarity import Stationarity, StationarityDetector, horizon_improvement

__all__ = [
    "SGD",
    "Adam",
    "BatchSource",
    "EvalHistory",
    "EvalSet",
    "FixedSource",
    "LRGrid",
    "MLPSpec",
    "MetricSink",
    "ModuleEnsemble",
    "OnlineSource",
    "OptState",
    "Optimizer",
    "Params",
    "Penalty",
    "PerMemberEvalSet",
    "PerMemberSchedule",
    "Schedule",
    "Selection",
    "ShardError",
    "StackedMLP",
    "Stationarity",
    "StationarityDetector",
    "SweepResult",
    "TrainResult",
    "TrainSpec",
    "TunedResult",
    "accuracy",
    "cross_entropy",
    "default_init_",
    "get_loss",
    "horizon_improvement",
    "lr_sweep",
    "make_optimizer",
    "make_schedule",
    "make_step",
    "member_module",
    "mse",
    "nll",
    "per_member_schedule",
    "pick_processes",
    "round_tag",
    "select_lr",
    "train",
    "tune_then_train",
]
