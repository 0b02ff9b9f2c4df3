"""Probes: read what a trained model computes, save and load it safely, measure its symmetries.

Activations (Lab 4bis: "write a function that extracts the activations of a given layer of the
model ... as generic as possible"):

- :func:`capture_activations` — a context manager that registers forward hooks on named modules
  (nested names such as ``"encoder.0.conv"`` work) and *always* removes them on exit;
- :func:`get_activations` — one call: run the model (without gradients, optionally in batches) and
  return the named layers' outputs, detached.

Weights (Lab 4bis: save after training, load into a fresh model): :func:`save_weights` writes the
``state_dict`` with ``torch.save`` and a JSON metadata file beside it; :func:`load_weights` reads
it back with ``torch.load(weights_only=True)`` only, so a file that holds anything but tensors
(an arbitrary pickled object, which could run code when unpickled) is refused.

Symmetry measurements (Labs 4bis and 5), all per example so that the statistics (paired tests,
bootstrap CIs, effect sizes) can be done by the caller:

- :func:`equivariance_error` — ``||f(g x) - g' f(x)|| / ||f(x)||``; with ``g'`` the identity it
  measures invariance;
- :func:`sorted_values_error` — Lab 5's hint: a translation permutes the conv activations, and
  sorting is invariant to permutations, so compare ``sort(f(g x))`` with ``sort(f(x))``;
- :func:`invariance_score` — paired distances ``||f(x) - f(g x)||`` against a control
  ``||f(x) - f(x')||`` for unrelated ``x'``.

Every ``transform`` argument is either a callable acting on a batch (``g``, e.g. a rotation) or a
tensor of already-transformed inputs ``g x`` with the shape of ``x`` (pairs built by the data
layer). Build pairs from the *same* examples in the same order: the course's solved Lab 4bis
compares a batch with the first batch of a re-started loader, which is not its transform.
"""

from __future__ import annotations

import json
import os
import pickle
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from learnability._validation import ParameterError, check_choice, check_in_range

__all__ = [
    "WEIGHTS_FORMAT",
    "InvarianceScore",
    "capture_activations",
    "equivariance_error",
    "get_activations",
    "invariance_score",
    "layer_names",
    "load_weights",
    "metadata_path",
    "read_weights_metadata",
    "save_weights",
    "sorted_values_error",
]

#: Format tag written in every weights metadata file.
WEIGHTS_FORMAT = "learnability.weights/1"

Transform = Callable[[Tensor], Tensor]


# ----------------------------------------------------------------------------------------------
# Activations
# ----------------------------------------------------------------------------------------------
def layer_names(model: nn.Module) -> list[str]:
    """Names of every submodule of ``model`` that can be probed (the root ``""`` excluded)."""
    return [name for name, _ in model.named_modules() if name]


def _resolve_layers(model: nn.Module, layers: str | Sequence[str], owner: str) -> list[str]:
    # dict.fromkeys: drop repeated names, keep the order (a repeated hook would record twice)
    names = [layers] if isinstance(layers, str) else list(dict.fromkeys(layers))
    if not names:
        raise ParameterError("layers", owner, "a layer name or a non-empty sequence of names", layers)
    available = layer_names(model)
    for name in names:
        check_choice(name, "layers", owner, available)
    return names


def _detach(obj: Any) -> Any:
    """Detach tensors, also inside tuples/lists/dicts (layers such as ``nn.LSTM`` return tuples)."""
    if isinstance(obj, Tensor):
        return obj.detach()
    if isinstance(obj, tuple | list):
        return type(obj)(_detach(o) for o in obj)
    if isinstance(obj, dict):
        return {k: _detach(v) for k, v in obj.items()}
    return obj


@contextmanager
def capture_activations(model: nn.Module, layers: str | Sequence[str]) -> Iterator[dict[str, list[Any]]]:
    """Record the outputs of named layers during forward passes inside the ``with`` block.

    Args:
        model: any ``nn.Module``.
        layers: one name or several, as in ``model.named_modules()`` (nested names are dotted:
            ``"block.0.conv"``).

    Yields:
        A dict ``name -> list`` of the layer's detached outputs, one entry per call of the layer
        (a module used twice in one forward appears twice). The hooks are removed when the block
        exits, also when it raises.

    Raises:
        ParameterError: an unknown layer name; the message lists the available names.

    Example::

        with capture_activations(model, ["conv1", "fc1"]) as acts:
            model(x)
        conv = acts["conv1"][0]
    """
    names = _resolve_layers(model, layers, "capture_activations")
    modules = dict(model.named_modules())
    records: dict[str, list[Any]] = {name: [] for name in names}
    handles = []
    try:
        for name in names:

            def hook(_module: nn.Module, _inputs: Any, output: Any, _name: str = name) -> None:
                records[_name].append(_detach(output))

            handles.append(modules[name].register_forward_hook(hook))
        yield records
    finally:
        for handle in handles:
            handle.remove()


def get_activations(
    model: nn.Module,
    x: Tensor,
    layers: str | Sequence[str],
    *,
    batch_size: int | None = None,
) -> Tensor | dict[str, Tensor]:
    """Outputs of named layers for inputs ``x``, computed without gradients, detached.

    The model's train/eval mode is left as it is: call ``model.eval()`` first where it matters.

    Args:
        model: any ``nn.Module`` taking one tensor.
        x: inputs ``(N, ...)``.
        layers: one name (returns a tensor) or a sequence of names (returns a dict).
        batch_size: run the model on chunks of this many examples and concatenate (``None``: all
            at once).

    Returns:
        ``(N, ...)`` the layer's output, or ``{name: (N, ...)}``.

    Raises:
        ParameterError: unknown layer name (the message lists the available names), bad
            ``batch_size``.
        RuntimeError: a layer that did not run exactly once per forward, or whose output is not
            a tensor (use :func:`capture_activations` for those).
    """
    owner = "get_activations"
    names = _resolve_layers(model, layers, owner)
    chunks: dict[str, list[Tensor]] = {name: [] for name in names}
    with torch.no_grad(), capture_activations(model, names) as records:
        for xb in _batches(x, batch_size, owner):
            for name in names:
                records[name].clear()
            model(xb)
            for name in names:
                got = records[name]
                if len(got) != 1:
                    raise RuntimeError(
                        f"Layer '{name}' ran {len(got)} times in one forward pass of "
                        f"{type(model).__name__}; get_activations needs a layer that runs once "
                        "(use capture_activations to see every call)."
                    )
                if not isinstance(got[0], Tensor):
                    raise RuntimeError(
                        f"Layer '{name}' returned {type(got[0]).__name__}, not a tensor; "
                        "use capture_activations for layers with structured outputs."
                    )
                chunks[name].append(got[0])
    out = {name: torch.cat(parts, dim=0) if len(parts) > 1 else parts[0] for name, parts in chunks.items()}
    return out[names[0]] if isinstance(layers, str) else out


def _batches(x: Tensor, batch_size: int | None, owner: str) -> list[Tensor]:
    if not isinstance(x, Tensor) or x.ndim < 1:
        raise ParameterError("x", owner, "a tensor of shape (N, ...)", x)
    if batch_size is None:
        return [x]
    check_in_range(batch_size, "batch_size", owner, low=1, kind=int)
    return list(x.split(batch_size)) or [x]


def _features(model: nn.Module, x: Tensor, layer: str | None, batch_size: int | None, owner: str) -> Tensor:
    """Layer output (or model output when ``layer`` is None), flattened to ``(N, F)``."""
    out = _layer_output(model, x, layer, batch_size, owner)
    return out.reshape(out.shape[0], -1)


def _layer_output(model: nn.Module, x: Tensor, layer: str | None, batch_size: int | None, owner: str) -> Tensor:
    """Layer output ``(N, ...)``, or the model's output when ``layer`` is None; no gradients."""
    if layer is None:
        with torch.no_grad():
            return torch.cat([model(xb) for xb in _batches(x, batch_size, owner)], dim=0)
    out = get_activations(model, x, layer, batch_size=batch_size)
    assert isinstance(out, Tensor)
    return out


# ----------------------------------------------------------------------------------------------
# Weights
# ----------------------------------------------------------------------------------------------
def metadata_path(path: str | os.PathLike[str]) -> Path:
    """Where the JSON metadata of a weights file lives: the same name with suffix ``.json``."""
    return Path(path).with_suffix(".json")


def save_weights(
    model: nn.Module,
    path: str | os.PathLike[str],
    *,
    config: Mapping[str, Any] | None = None,
) -> Path:
    """Save ``model.state_dict()`` (moved to CPU) and a JSON metadata file beside it.

    Args:
        model: the trained model.
        path: weights file, e.g. ``run/model.pt``; parent folders are created. The metadata goes
            to :func:`metadata_path` (``run/model.json``).
        config: JSON-serialisable dict describing how to rebuild the model (constructor
            arguments, training settings, ...), stored under ``"config"``.

    Returns:
        The weights path.

    Raises:
        ParameterError: ``config`` not JSON-serialisable, or ``path`` ending in ``.json``.
    """
    owner = "save_weights"
    path = Path(path)
    if path.suffix == ".json":
        raise ParameterError("path", owner, "a path whose suffix is not '.json'", str(path))
    config = dict(config or {})
    try:
        config_json = json.loads(json.dumps(config))
    except (TypeError, ValueError) as err:
        raise ParameterError("config", owner, "a JSON-serialisable mapping", config) from err
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    metadata = {
        "format": WEIGHTS_FORMAT,
        "model_class": f"{type(model).__module__}.{type(model).__qualname__}",
        "config": config_json,
        "tensors": {k: list(v.shape) for k, v in state.items()},
        "torch_version": torch.__version__,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write to temporary names then rename, so that a crash never leaves half a file behind.
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)
    meta_tmp = path.with_name(path.name + ".json.tmp")
    meta_tmp.write_text(json.dumps(metadata, indent=2, sort_keys=True) + "\n")
    os.replace(meta_tmp, metadata_path(path))
    return path


def read_weights_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The metadata dict saved beside a weights file (``{}`` if there is none)."""
    meta = metadata_path(path)
    return json.loads(meta.read_text()) if meta.exists() else {}


def load_weights(
    model: nn.Module,
    path: str | os.PathLike[str],
    *,
    strict: bool = True,
    map_location: str | torch.device = "cpu",
) -> dict[str, Any]:
    """Load weights saved by :func:`save_weights` (or any plain ``state_dict`` file) into ``model``.

    Only ``torch.load(..., weights_only=True)`` is used: the unpickler accepts tensors and plain
    containers and refuses any other object, so loading a file cannot run code.

    Args:
        model: a model built with the same architecture.
        path: the weights file.
        strict: passed to ``model.load_state_dict`` (keys must match exactly).
        map_location: device the tensors are loaded to.

    Returns:
        The metadata dict (:func:`read_weights_metadata`; ``{}`` when the JSON file is absent).

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: the file holds something other than a ``{name: tensor}`` mapping, including
            pickled arbitrary objects (refused, never executed).
        RuntimeError: ``load_state_dict`` failures (missing/unexpected keys, shape mismatch).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No weights file at {path}.")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        raise ValueError(
            f"Refused to load {path}: it is not a plain state_dict of tensors "
            f"(torch.load with weights_only=True rejected it: {err})."
        ) from err
    if not isinstance(state, Mapping) or not all(
        isinstance(k, str) and isinstance(v, Tensor) for k, v in state.items()
    ):
        raise ValueError(
            f"Refused to load {path}: expected a mapping of parameter names to tensors "
            f"(a state_dict), got {type(state).__name__}."
        )
    model.load_state_dict(state, strict=strict)
    return read_weights_metadata(path)


# ----------------------------------------------------------------------------------------------
# Equivariance and invariance
# ----------------------------------------------------------------------------------------------
def _transformed(x: Tensor, transform: Transform | Tensor, owner: str) -> Tensor:
    if isinstance(transform, Tensor):
        gx = transform
    elif callable(transform):
        with torch.no_grad():
            gx = transform(x)
    else:
        raise ParameterError("transform", owner, "a callable or a tensor of transformed inputs", transform)
    if not isinstance(gx, Tensor) or gx.shape != x.shape:
        raise ParameterError(
            "transform",
            owner,
            f"transformed inputs of the same shape as x {tuple(x.shape)}",
            f"{type(gx).__name__} of shape {tuple(getattr(gx, 'shape', ()))}",
        )
    return gx


def _relative(num: Tensor, den: Tensor) -> Tensor:
    """``num / den`` per example; 0/0 = 0 and x/0 = inf (only zero matches a zero reference)."""
    safe = torch.where(den > 0, den, torch.ones_like(den))
    return torch.where(den > 0, num / safe, torch.where(num > 0, torch.inf, 0.0))


def equivariance_error(
    model: nn.Module,
    x: Tensor,
    transform: Transform | Tensor,
    *,
    layer: str | None = None,
    output_transform: Transform | None = None,
    batch_size: int | None = None,
) -> Tensor:
    """Per-example relative equivariance error ``||f(g x) - g' f(x)|| / ||f(x)||``.

    ``f`` is the output of ``layer`` (the model's output when ``None``). Without
    ``output_transform`` (``g'`` = identity) this is the relative *invariance* error
    ``||f(g x) - f(x)|| / ||f(x)||``.

    Args:
        model: the model (its mode is left unchanged).
        x: inputs ``(N, ...)``.
        transform: ``g`` as a callable on batches, or the transformed inputs ``g x`` ``(N, ...)``.
        layer: module name whose output is ``f``; ``None`` for the model output.
        output_transform: ``g'`` acting on the layer output batch ``(N, ...)`` (unflattened),
            e.g. the same circular shift for a circular conv.
        batch_size: forward in chunks of this size.

    Returns:
        ``(N,)`` relative errors (norms over all non-batch dimensions); 0 where ``f(x) = 0`` and
        ``f(g x) = g' f(x)``, ``inf`` where ``f(x) = 0`` but they differ.
    """
    owner = "equivariance_error"
    gx = _transformed(x, transform, owner)
    fx = _layer_output(model, x, layer, batch_size, owner)
    fgx = _layer_output(model, gx, layer, batch_size, owner)
    if output_transform is not None:
        with torch.no_grad():
            target = output_transform(fx)
        if not isinstance(target, Tensor) or target.shape != fx.shape:
            raise ParameterError(
                "output_transform",
                owner,
                f"a map keeping the layer output shape {tuple(fx.shape)}",
                f"{type(target).__name__} of shape {tuple(getattr(target, 'shape', ()))}",
            )
    else:
        target = fx
    n = fx.shape[0]
    num = torch.linalg.vector_norm((fgx - target).reshape(n, -1), dim=1)
    den = torch.linalg.vector_norm(fx.reshape(n, -1), dim=1)
    return _relative(num, den)


def sorted_values_error(
    model: nn.Module,
    x: Tensor,
    transform: Transform | Tensor,
    *,
    layer: str | None = None,
    batch_size: int | None = None,
) -> Tensor:
    """Per-example relative error between the *sorted* values of ``f(g x)`` and ``f(x)``.

    Lab 5's hint: an equivariant layer answers a translated input with permuted activations, and
    sorting is invariant to permutations, so ``sort(f(g x)) == sort(f(x))`` holds for every
    permutation-equivariant layer whatever the permutation ``g'`` is. The converse does not hold
    (equal sorted values do not prove equivariance), so this is a necessary-condition test.

    Args:
        model, x, transform, layer, batch_size: as in :func:`equivariance_error`.

    Returns:
        ``(N,)``: ``||sort(f(g x)) - sort(f(x))|| / ||f(x)||`` over all non-batch dimensions.
    """
    owner = "sorted_values_error"
    gx = _transformed(x, transform, owner)
    fx = _features(model, x, layer, batch_size, owner).sort(dim=1).values  # (N, F)
    fgx = _features(model, gx, layer, batch_size, owner).sort(dim=1).values  # (N, F)
    num = torch.linalg.vector_norm(fgx - fx, dim=1)
    den = torch.linalg.vector_norm(fx, dim=1)
    return _relative(num, den)


@dataclass(frozen=True)
class InvarianceScore:
    """Paired and control distances of a representation, and a summary score.

    Attributes:
        paired: ``(N,)`` distances ``||f(x_i) - f(g x_i)||``.
        control: ``(N,)`` distances ``||f(x_i) - f(x'_i)||`` to unrelated inputs.
        score: ``1 - mean(paired) / mean(control)``: 1 for an exactly invariant representation,
            about 0 when transforming an input moves its representation as far as replacing it by
            an unrelated input; negative when even further. ``nan`` if all controls are 0.
    """

    paired: Tensor
    control: Tensor
    score: float


def invariance_score(
    model: nn.Module,
    x: Tensor,
    transform: Transform | Tensor,
    *,
    layer: str | None = None,
    control: Tensor | None = None,
    generator: torch.Generator | None = None,
    batch_size: int | None = None,
) -> InvarianceScore:
    """Compare paired distances ``f(x)`` vs ``f(g x)`` with a control ``f(x)`` vs ``f(x')``.

    The control inputs ``x'`` are either given or drawn as a random derangement of ``x`` (each
    example is paired with a *different* example of the same batch: ``x'_{p(i)} = x_{p(i+1)}``
    for a random permutation ``p``, one long cycle, so no example is its own control). Lab 4bis's
    solved notebook used random noise and then the previous batch's images as controls; the
    derangement keeps the control on the data distribution.

    Args:
        model, x, transform, layer, batch_size: as in :func:`equivariance_error`.
        control: unrelated inputs ``x'`` with the shape of ``x``.
        generator: draws the derangement; required when ``control`` is ``None``.

    Returns:
        :class:`InvarianceScore` with per-example ``paired`` and ``control`` distances, ready for
        a paired test / bootstrap in the analysis layer.

    Raises:
        ParameterError: no ``control`` and no ``generator``, fewer than 2 examples for a
            derangement, or a ``control`` of the wrong shape.
    """
    owner = "invariance_score"
    gx = _transformed(x, transform, owner)
    fx = _features(model, x, layer, batch_size, owner)  # (N, F)
    fgx = _features(model, gx, layer, batch_size, owner)  # (N, F)
    if control is None:
        if generator is None:
            raise ParameterError("generator", owner, "a torch.Generator when 'control' is None", None)
        n = x.shape[0]
        if n < 2:
            raise ParameterError("x", owner, "at least 2 examples to draw unrelated controls", n)
        perm = torch.randperm(n, generator=generator, device=generator.device)
        partner = torch.empty_like(perm)
        partner[perm] = perm.roll(-1)  # one n-cycle: no fixed point
        fc = fx[partner.to(fx.device)]
    else:
        if not isinstance(control, Tensor) or control.shape != x.shape:
            raise ParameterError(
                "control",
                owner,
                f"a tensor of the same shape as x {tuple(x.shape)}",
                f"{type(control).__name__} of shape {tuple(getattr(control, 'shape', ()))}",
            )
        fc = _features(model, control, layer, batch_size, owner)
    paired = torch.linalg.vector_norm(fx - fgx, dim=1)
    ctrl = torch.linalg.vector_norm(fx - fc, dim=1)
    mean_ctrl = ctrl.mean().item()
    score = 1.0 - paired.mean().item() / mean_ctrl if mean_ctrl > 0 else float("nan")
    return InvarianceScore(paired=paired, control=ctrl, score=score)
