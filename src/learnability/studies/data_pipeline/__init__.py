"""Study ``data-pipeline``: Datasets, DataLoaders and finding loading bottlenecks (Tutorial 3).

Tutorial 3's recipe -- count the items per second the DataLoader delivers, count the items per
second the training step consumes, and compare -- applied to the project's own data with the
project's own training step (the engine's step on a stacked ensemble, not a toy):

1. **Bell data** (Challenge 2 part B: 100,000 inputs from U[0, 2]^6, y = B6(x), batch 20, the
   residual MLP 6->50, 8 x (50->50 skip), 50->1, Adam): in memory (``TensorDictDataset``) vs
   lazy (memory-mapped arrays, one ``.pt`` file per item), several ``num_workers``, one model
   and K models trained at once; plus the engine training from its ``FixedSource`` (the data
   set as one tensor, indexed on the device), the alternative to a DataLoader.
2. **Images** (scikit-learn's digits offline, CIFAR-10 when its files are present) with Lab 4's
   ``ShallowFCN`` trained by the engine.
3. **Corrupted images** (the tutorial's CIFAR-10 exercise): a batch drawn corrupted above clean;
   determinism per ``(seed, index)`` measured; corruption on the fly vs pre-processed once.
4. **ARC tasks** on a generated directory of task JSON files: padding and masks of the collate
   function checked, a format error shown, and the probe run with a per-cell colour model.
5. A sweep over ``num_workers`` x batch size.

The probe is :func:`learnability.data.probe_loading`; the engine step
(:class:`~learnability.data.EngineStep`), the workloads and the repeats with a median
(:func:`~learnability.data.bench_loading`) live beside it in :mod:`learnability.data`, shared
with the ``learnability data-bench`` command (:mod:`learnability.bench.data`). Every sentence of
the report is generated from the measurements: on another machine the verdicts may differ, and
they should.

Files: ``config.py`` (the frozen config and smoke size), ``run.py`` (the probes, in stages),
``checks.py`` (corruption determinism, ARC padding), ``results.py`` (the typed results),
``report.py`` and ``charts.py`` (the report).
"""

from learnability.data import (
    BenchProbe,
    EngineStep,
    Workload,
    arc_workload,
    bell_data,
    bell_workload,
    bench_loading,
    bench_sweep,
    image_workload,
    restoration_workload,
    write_arc_tasks,
)
from learnability.studies import Study, register
from learnability.studies.data_pipeline.checks import arc_padding_check, corruption_determinism
from learnability.studies.data_pipeline.config import SMOKE, DataPipelineConfig
from learnability.studies.data_pipeline.report import report
from learnability.studies.data_pipeline.results import DataPipelineResults
from learnability.studies.data_pipeline.run import run

__all__ = [
    "SMOKE",
    "BenchProbe",
    "DataPipelineConfig",
    "DataPipelineResults",
    "EngineStep",
    "Workload",
    "arc_padding_check",
    "arc_workload",
    "bell_data",
    "bell_workload",
    "bench_loading",
    "bench_sweep",
    "corruption_determinism",
    "image_workload",
    "report",
    "restoration_workload",
    "run",
    "write_arc_tasks",
]

register(
    Study(
        "data-pipeline",
        "Datasets, DataLoaders and loading bottlenecks on the project's data (Tutorial 3).",
        DataPipelineConfig,
        run,
        report,
        results=DataPipelineResults,
        smoke=SMOKE,
    )
)
