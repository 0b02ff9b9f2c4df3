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
2. **Runs** — ``teachers.n_eval`` independent evaluation teachers (issue 15), each with its own
   test set, x ``seeds`` fresh initialisations and data streams (none shared with the sweep) at
   the chosen rate, all in ONE ensemble whose members each learn their own teacher; trained to
   quasi-stationarity (a plateau-robust rule: the windowed loss improved by less than
   ``rel_tol`` over the last ``horizon`` of training) or the step cap; train loss logged every
   step and test loss (each run on its own teacher's test set) every ``eval_every`` steps.
3. **Analysis** — test MSE raw and relative to each teacher's ``Var(y_test)``, means over teachers
   with 95% CIs that treat the teacher as the unit (seeds averaged within a teacher); paired
   within-teacher orderings of the students ("holds in k of n teachers" and the log-ratio CI);
   train error at the final parameters on a fresh training sample; baselines (the training mean,
   OLS fitted on a training sample) per teacher; the distribution of every layer's weights and
   biases against the teacher's as descriptive KS and W1, each next to its value at
   initialisation; scale-invariant unit matching for every student (many-to-one; Hungarian too at
   the teacher's depth) against chance and against the ceiling of teacher units that are neither
   dead nor always active on the input distribution.

The learning rate is tuned on a separate tuning teacher (``teachers.tuning_seed``), which has no
test set. Test sets are touched only to report: they never enter the sweep, the stopping rule, the
target standardisation or the baselines' fits.

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
    TeachersSettings,
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
    best_match_layers,
    best_match_summary,
    compare_with_teacher,
    fit_baselines,
    layer_pairing,
    nested_estimate,
    student_layers,
    unit_activity,
)
from learnability.studies.teacher_student.report import report
from learnability.studies.teacher_student.results import TeacherStudentResults
from learnability.studies.teacher_student.run import check, plan, run

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
    "TeachersSettings",
    "TrainSettings",
    "align_to_teacher",
    "alignment_summary",
    "best_match_layers",
    "best_match_summary",
    "check",
    "compare_with_teacher",
    "fit_baselines",
    "layer_pairing",
    "nested_estimate",
    "parameter_count_table",
    "report",
    "run",
    "student_layers",
    "unit_activity",
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
        plan=plan,
    )
)
