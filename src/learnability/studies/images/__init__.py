"""The image-symmetry family: Labs 4, 4bis and 5 on MNIST-like digits.

Shared floors: ``data.py`` (data sets, augmentations, the per-member augmented batch source),
``training.py`` (one engine call for an ensemble of image models, weights files, the control
pairing) and ``results.py`` (the data facts every summary starts with). One sub-package per lab,
each with ``config.py``, ``run.py``, ``results.py`` and ``report.py``:

- ``augmentation_weights`` (Lab 4): augmentation and the weights of a shallow linear FCN;
- ``representation_invariance`` (Lab 4bis): is its representation invariant to rotations;
- ``cnn_equivariance`` (Lab 5): translation equivariance of a CNN's conv layer.

Importing this package registers the three studies.
"""

from learnability.studies.images import augmentation_weights, cnn_equivariance, representation_invariance

__all__ = ["augmentation_weights", "cnn_equivariance", "representation_invariance"]
