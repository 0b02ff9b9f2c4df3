"""Per-member losses: each returns a (K,) tensor, member k's mean loss over its own batch.

Summing these over members gives a scalar whose gradient with respect to member k's parameters is
exactly member k's own gradient, because no operation mixes members.
"""

from __future__ import annotations

from collections.abc import Callable

import torch.nn.functional as F
from torch import Tensor

from learnability._validation import check_choice

__all__ = ["LossFn", "accuracy", "cross_entropy", "get_loss", "mse", "nll"]

LossFn = Callable[[Tensor, Tensor], Tensor]


def mse(out: Tensor, y: Tensor) -> Tensor:
    """Mean squared error per member.

    Args:
        out: (K, B, d_out) predictions.
        y: (K, B, d_out) targets, or (B, d_out) shared by all members.

    Returns:
        (K,) losses.
    """
    if y.shape != out.shape and y.shape != out.shape[1:]:
        raise ValueError(
            f"mse: targets of shape {tuple(y.shape)} do not match outputs {tuple(out.shape)};"
            " targets need an explicit output dimension, e.g. (B, 1) not (B,)"
        )
    return (out - y).square().mean(dim=tuple(range(1, out.dim())))


def _flat_labels(logits: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
    K, B = logits.shape[:2]
    if labels.dim() == 1:
        labels = labels.unsqueeze(0).expand(K, B)
    if labels.shape != (K, B):
        raise ValueError(f"labels of shape {tuple(labels.shape)} do not match logits {tuple(logits.shape)}")
    return logits.reshape(K * B, -1), labels.reshape(K * B)


def cross_entropy(logits: Tensor, labels: Tensor) -> Tensor:
    """Cross-entropy of unnormalised logits (K, B, C) against labels (K, B) or (B,); returns (K,)."""
    K, B = logits.shape[:2]
    flat, lab = _flat_labels(logits, labels)
    return F.cross_entropy(flat, lab, reduction="none").view(K, B).mean(dim=1)


def nll(log_probs: Tensor, labels: Tensor) -> Tensor:
    """Negative log-likelihood of log-probabilities (K, B, C) (a log-softmax output); returns (K,)."""
    K, B = log_probs.shape[:2]
    flat, lab = _flat_labels(log_probs, labels)
    return F.nll_loss(flat, lab, reduction="none").view(K, B).mean(dim=1)


def accuracy(scores: Tensor, labels: Tensor) -> Tensor:
    """Fraction of correct arg-max predictions per member; scores (K, B, C); returns (K,)."""
    K, B = scores.shape[:2]
    _, lab = _flat_labels(scores, labels)
    return (scores.argmax(dim=-1) == lab.view(K, B)).to(scores.dtype).mean(dim=1)


_LOSSES: dict[str, LossFn] = {"mse": mse, "cross_entropy": cross_entropy, "nll": nll}


def get_loss(name: str) -> LossFn:
    """A loss by name: ``"mse"``, ``"cross_entropy"`` or ``"nll"``."""
    check_choice(name, "loss", "get_loss", tuple(_LOSSES))
    return _LOSSES[name]
