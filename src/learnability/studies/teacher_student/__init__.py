"""Teacher-student: under-, exactly- and over-parameterised students of a frozen teacher.

AdvML Challenge 2024 #2, part A (issue 3). A frozen ReLU teacher ``100 -> 75 -> 50 -> 10 -> 1`` with
i.i.d. N(0, 1) weights and biases labels inputs ``x ~ U[0, 2]^100``; students of the same family
(default init) learn it online — a fresh batch of B = 128 teacher-labelled inputs every step — on
the MSE. Per student, top to bottom:

1. **Learning-rate sweep** — one ensemble of every rate on a log grid, all members sharing one
   initialisation and one data stream so rates compete on equal terms; the rate that reaches
   quasi-stationarity fastest among those within ``tolerance`` of the best final *training* loss
   (mean over the last window of fresh batches: an unbiased risk estimate) wins; members no better
   than predicting the mean (``failure_loss = Var(y)`` on a training sample) count as collapsed;
   the engine extends the grid past an edge.
2. **Seeds** — ``seeds`` fresh initialisations and data streams (none shared with the sweep) at
   the chosen rate, one ensemble, trained to quasi-stationarity or the step cap; train loss logged
   every step and test loss every ``eval_every`` steps.
3. **Analysis** — test MSE raw and relative to ``Var(y_test)`` with 95% CIs over seeds, against
   two baselines on the same test set (the training mean, OLS fitted on a training sample); the
   distribution of every layer's weights and biases (and all of them pooled) against the
   teacher's: moments, KS, W1; for students with the teacher's depth, a symmetry-aware alignment
   of hidden units (Hungarian matching modulo permutation and positive rescaling).

The test set is touched only to report: it never enters the sweep, the stopping rule, the target
standardisation or the baselines' fits.

Modules: ``config`` (settings, smoke size), ``parts`` (building blocks), ``run`` (the stages),
``results`` (the typed summary), ``report`` and ``charts`` (the report), ``parameter_count``
(a finished parameter-count sweep read back and summarised).
"""

from __future__ import annotations

from learnability.studies import Study, register
from learnability.studies.teacher_student.config import (
    DEFAULT_STUDENTS,
    SMOKE,
    STUDY_NAME,
    SweepSettings,
    TeacherSettings,
    TeacherStudentConfig,
    TrainSettings,
)
from learnability.studies.teacher_student.parameter_count import parameter_count_table
from learnability.studies.teacher_student.parts import (
    LayerPairing,
    SharedStreamSource,
    TargetScaling,
    align_to_teacher,
    alignment_summary,
    compare_with_teacher,
    fit_baselines,
    layer_pairing,
    student_layers,
)
from learnability.studies.teacher_student.report import report
from learnability.studies.teacher_student.results import TeacherStudentResults
from learnability.studies.teacher_student.run import check, run

__all__ = [
    "DEFAULT_STUDENTS",
    "SMOKE",
    "STUDY_NAME",
    "LayerPairing",
    "SharedStreamSource",
    "SweepSettings",
    "TargetScaling",
    "TeacherSettings",
    "TeacherStudentConfig",
    "TeacherStudentResults",
    "TrainSettings",
    "align_to_teacher",
    "alignment_summary",
    "check",
    "compare_with_teacher",
    "fit_baselines",
    "layer_pairing",
    "parameter_count_table",
    "report",
    "run",
    "student_layers",
]

STUDY = register(
    Study(
        STUDY_NAME,
        "Students of a frozen N(0,1) teacher trained online (Challenge 2, part A).",
        TeacherStudentConfig,
        run,
        report,
        results=TeacherStudentResults,
        smoke=SMOKE,
        check=check,
    )
)
