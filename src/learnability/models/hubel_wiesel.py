"""The Hubel-Wiesel model of Lab 6: simple cells (equivariant) and complex cells (invariant).

For a finite group ``{g_1, ..., g_G}`` acting on inputs by permuting their coordinates, templates
``w_i`` and a family of nonlinearities ``sigma_h``:

- simple cells ``s_ij(x) = <x, g_j w_i>`` — the responses of template ``i`` to every transformed
  copy of itself;
- complex cells ``c_{h,i}(x) = sum_j sigma_h(s_ij(x))`` — pooling over the group.

Because a permutation matrix is orthogonal, ``s_ij(g x) = <x, g^{-1} g_j w_i> = s_{i,m(j)}(x)``
where
``g_{m(j)} = g^{-1} g_j``: transforming the input *permutes* the simple-cell responses over ``j``
(equivariance, :meth:`PermutationGroup.response_permutation`), and any function summed over ``j``
is unchanged (exact invariance of the complex cells). Both hold for every group, every template
and every ``sigma_h``; the tests check them with property-based tests.

The group is given explicitly by its elements as index permutations (:class:`PermutationGroup`),
built from permutation matrices, from functions that move entries (``torch.flip``, ``torch.rot90``,
``torch.roll``), from generators, or by the constructors :func:`flip_group` (the lab's flip),
:func:`rotation90_group` and :func:`cyclic_shift_group`.

Reference: AdvML UniTS 2024, Lab 6; F. Anselmi, T. Poggio et al., "Unsupervised learning of
invariant representations" (2016), for the thresholded pooling ``sigma_h(s) = relu(s - h)``
(the lab's solution applies a sigmoid after the sum instead; ``"sigmoid"`` here applies it before,
per cell, as in the formula).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cached_property

import torch
from torch import Tensor, nn

from learnability._validation import ParameterError, check_choice, check_in_range, check_matrix
from learnability.models._random import make_generator

__all__ = [
    "NONLINEARITIES",
    "HubelWiesel",
    "PermutationGroup",
    "complex_cells",
    "cyclic_shift_group",
    "flip_group",
    "rotation90_group",
    "simple_cells",
]

#: Named families ``sigma_h`` for complex cells (see :func:`complex_cells`).
NONLINEARITIES = ("threshold", "sigmoid", "power")

Nonlinearity = Callable[[Tensor, Tensor], Tensor]


class PermutationGroup:
    """A finite group acting on signals of shape ``shape`` by permuting their entries.

    Element ``k`` acts on a flattened signal as ``(g_k x)[d] = x[perms[k, d]]``, i.e. ``g_k x =
    x[perms[k]]``; its permutation matrix is ``P_k[d, perms[k, d]] = 1``. The composition
    ``g_a g_b`` (``g_b`` first) has permutation ``perms[b][perms[a]]``.

    Args:
        perms: ``(G, D)`` integer tensor (or nested sequence), one permutation of ``range(D)`` per
            element, all distinct, including the identity.
        shape: shape of one signal (e.g. ``(H, W)``); default ``(D,)``.
        name: a label for messages and plots.
        validate: check that every row is a permutation, rows are distinct, the identity is there
            and the set is closed under composition (costs ``G^2 D``; the constructors of this
            module skip it because their output is a group by construction, and the tests check
            that).

    Raises:
        ParameterError: ``perms`` or ``shape`` malformed, or (with ``validate``) not a group.
    """

    def __init__(
        self,
        perms: Tensor | Sequence[Sequence[int]],
        *,
        shape: tuple[int, ...] | None = None,
        name: str = "group",
        validate: bool = True,
    ) -> None:
        owner = "PermutationGroup"
        p = torch.as_tensor(perms)
        check_matrix(p, "perms", owner, ndim=2)
        if p.dtype.is_floating_point or p.dtype == torch.bool or p.dtype.is_complex:
            raise ParameterError("perms", owner, "an integer tensor", f"tensor of dtype {p.dtype}")
        if p.shape[0] < 1 or p.shape[1] < 1:
            raise ParameterError(
                "perms",
                owner,
                "at least one element acting on D >= 1 entries",
                f"array of shape {tuple(p.shape)}",
            )
        self.perms: Tensor = p.to(torch.long).contiguous()  # (G, D)
        d = self.perms.shape[1]
        self.shape: tuple[int, ...] = (d,) if shape is None else tuple(int(s) for s in shape)
        if _prod(self.shape) != d:
            raise ParameterError("shape", owner, f"a shape with {d} entries in all", shape)
        self.name = name
        if validate:
            self._validate()

    # -- construction ---------------------------------------------------------------------------
    @classmethod
    def from_matrices(
        cls, matrices: Tensor, *, shape: tuple[int, ...] | None = None, name: str = "group"
    ) -> PermutationGroup:
        """Group from permutation matrices ``(G, D, D)`` acting as ``x -> P x``."""
        owner = "PermutationGroup.from_matrices"
        m = torch.as_tensor(matrices)
        check_matrix(m, "matrices", owner, ndim=3)
        is_binary = bool(((m == 0) | (m == 1)).all())
        if (
            m.shape[1] != m.shape[2]
            or not is_binary
            or not bool((m.sum(dim=1) == 1).all())
            or not bool((m.sum(dim=2) == 1).all())
        ):
            raise ParameterError(
                "matrices",
                owner,
                "square 0/1 matrices with one 1 per row and column",
                f"array of shape {tuple(m.shape)}",
            )
        return cls(m.argmax(dim=2), shape=shape, name=name)  # (P x)[d] = x[argmax_l P[d, l]]

    @classmethod
    def from_transforms(
        cls,
        transforms: Sequence[Callable[[Tensor], Tensor]],
        shape: tuple[int, ...],
        *,
        name: str = "group",
    ) -> PermutationGroup:
        """Group from functions that move the entries of a signal of ``shape`` (no arithmetic).

        Each function is applied to the index signal ``arange(D).reshape(shape)``; what lands at
        position ``d`` is the index it came from, which is the permutation. Works for
        ``torch.flip``, ``torch.rot90``, ``torch.roll`` and their compositions.
        """
        index = torch.arange(_prod(tuple(shape))).reshape(shape)
        perms = torch.stack([t(index).reshape(-1) for t in transforms])
        return cls(perms, shape=tuple(shape), name=name)

    @classmethod
    def generated_by(
        cls,
        generators: Tensor | Sequence[Sequence[int]],
        *,
        shape: tuple[int, ...] | None = None,
        name: str = "group",
    ) -> PermutationGroup:
        """The group generated by some permutations ``(k, D)`` (closure under composition)."""
        gens = torch.as_tensor(generators).to(torch.long)
        check_matrix(gens, "generators", "PermutationGroup.generated_by", ndim=2)
        d = gens.shape[1]
        identity = torch.arange(d)
        seen = {_key(identity): identity}
        frontier = [identity]
        while frontier:
            new = []
            for p in frontier:
                for g in gens:
                    q = p[g]  # g first, then p
                    k = _key(q)
                    if k not in seen:
                        seen[k] = q
                        new.append(q)
            frontier = new
        return cls(torch.stack(list(seen.values())), shape=shape, name=name)

    # -- structure ------------------------------------------------------------------------------
    @property
    def order(self) -> int:
        """Number of elements ``G``."""
        return self.perms.shape[0]

    @property
    def dim(self) -> int:
        """Number of entries ``D`` of a signal."""
        return self.perms.shape[1]

    def __len__(self) -> int:
        return self.order

    def __repr__(self) -> str:
        return f"PermutationGroup(name={self.name!r}, order={self.order}, shape={self.shape})"

    @cached_property
    def _index(self) -> dict[bytes, int]:
        return {_key(p): k for k, p in enumerate(self.perms)}

    def index_of(self, perm: Tensor) -> int:
        """Index of the element whose permutation is ``perm`` ``(D,)``; ``KeyError`` if absent."""
        return self._index[_key(perm.to(torch.long))]

    @cached_property
    def identity_index(self) -> int:
        """Index of the identity element."""
        return self.index_of(torch.arange(self.dim))

    @cached_property
    def multiplication_table(self) -> Tensor:
        """``(G, G)`` long tensor: ``table[a, b]`` is the index of ``g_a g_b`` (``g_b`` first)."""
        g = self.order
        table = torch.empty(g, g, dtype=torch.long)
        for a in range(g):
            composed = self.perms[:, self.perms[a]]  # row b: perms[b][perms[a]] = g_a g_b
            for b in range(g):
                try:
                    table[a, b] = self._index[_key(composed[b])]
                except KeyError:
                    raise ParameterError(
                        "perms",
                        "PermutationGroup",
                        "a set of permutations closed under composition",
                        f"elements {a} and {b} whose product is not in the set",
                    ) from None
        return table

    @cached_property
    def inverse(self) -> Tensor:
        """``(G,)`` long tensor: index of each element's inverse."""
        inv = torch.empty_like(self.perms)
        inv.scatter_(1, self.perms, torch.arange(self.dim).expand_as(self.perms))
        return torch.tensor([self.index_of(q) for q in inv], dtype=torch.long)

    def response_permutation(self, k: int) -> Tensor:
        """How ``g_k`` permutes simple-cell responses: ``s(g_k x)[..., j] = s(x)[..., perm[j]]``.

        ``perm[j]`` is the index of ``g_k^{-1} g_j`` (see the module docstring).
        """
        check_in_range(k, "k", "PermutationGroup.response_permutation", low=0, high=self.order - 1, kind=int)
        return self.multiplication_table[int(self.inverse[k])].clone()

    def matrices(self, dtype: torch.dtype = torch.float32) -> Tensor:
        """``(G, D, D)`` permutation matrices ``P_k`` with ``P_k x = g_k x``."""
        eye = torch.eye(self.dim, dtype=dtype)
        return eye[self.perms.reshape(-1)].reshape(self.order, self.dim, self.dim)

    def act(self, x: Tensor, k: int) -> Tensor:
        """Apply element ``k`` to a batch ``x`` of shape ``(B, *shape)`` or ``(B, D)``."""
        check_in_range(k, "k", "PermutationGroup.act", low=0, high=self.order - 1, kind=int)
        flat = _flatten_signals(x, self, "x", "PermutationGroup.act")
        return flat[:, self.perms[k].to(flat.device)].reshape(x.shape)

    def orbit(self, v: Tensor) -> Tensor:
        """All transformed copies ``g_j v``: ``(..., D) -> (..., G, D)``."""
        if v.shape[-1] != self.dim:
            raise ParameterError(
                "v",
                "PermutationGroup.orbit",
                f"a tensor whose last dimension is {self.dim}",
                f"tensor of shape {tuple(v.shape)}",
            )
        return v[..., self.perms.to(v.device)]

    def _validate(self) -> None:
        owner = "PermutationGroup"
        sorted_rows = self.perms.sort(dim=1).values
        if not bool((sorted_rows == torch.arange(self.dim)).all()):
            raise ParameterError("perms", owner, f"rows that are permutations of range({self.dim})", "other rows")
        if len(self._index) != self.order:
            raise ParameterError("perms", owner, "distinct elements", "repeated rows")
        if _key(torch.arange(self.dim)) not in self._index:
            raise ParameterError("perms", owner, "a set containing the identity", "a set without it")
        _ = self.multiplication_table  # raises if not closed


def _key(p: Tensor) -> bytes:
    return p.to(torch.long).contiguous().cpu().numpy().tobytes()


def _prod(shape: tuple[int, ...]) -> int:
    out = 1
    for s in shape:
        out *= s
    return out


def _flatten_signals(x: Tensor, group: PermutationGroup, name: str, owner: str) -> Tensor:
    """``(B, *shape)`` or ``(B, D)`` -> ``(B, D)``; refuses anything else."""
    if x.ndim >= 2 and (tuple(x.shape[1:]) == group.shape or tuple(x.shape[1:]) == (group.dim,)):
        return x.reshape(x.shape[0], group.dim)
    want = f"a tensor of shape (B, {', '.join(map(str, group.shape))}) or (B, {group.dim})"
    raise ParameterError(name, owner, want, f"tensor of shape {tuple(x.shape)}")


# -- constructors -------------------------------------------------------------------------------
#: ``mirror`` values of :func:`flip_group` and the tensor dimension each reverses.
_MIRROR_DIMS = {"left-right": -1, "up-down": -2}


def _from_maps(maps: Sequence[Callable[[Tensor], Tensor]], shape: tuple[int, ...], name: str) -> PermutationGroup:
    """Group from entry-moving maps known to form a group; repeated elements are dropped (e.g. a
    flip of a one-pixel-wide image is the identity), and the closure check is skipped."""
    index = torch.arange(_prod(shape)).reshape(shape)
    rows: dict[bytes, Tensor] = {}
    for m in maps:
        p = m(index).reshape(-1)
        rows.setdefault(_key(p), p)
    return PermutationGroup(torch.stack(list(rows.values())), shape=shape, name=name, validate=False)


def flip_group(height: int, width: int, *, mirror: str = "left-right") -> PermutationGroup:
    """The two-element flip group ``{identity, flip}`` on ``(height, width)`` images (Lab 6).

    Args:
        height, width: image size.
        mirror: ``"left-right"`` reverses the columns (a mirror about the vertical axis, as the
            lab's solution does with ``np.fliplr``); ``"up-down"`` reverses the rows.

    Returns:
        Elements ``[identity, flip]`` (just the identity if the flip moves nothing).
    """
    owner = "flip_group"
    check_in_range(height, "height", owner, low=1, kind=int)
    check_in_range(width, "width", owner, low=1, kind=int)
    dim = _MIRROR_DIMS[check_choice(mirror, "mirror", owner, tuple(_MIRROR_DIMS))]
    return _from_maps([lambda t: t, lambda t: torch.flip(t, dims=(dim,))], (height, width), f"flip-{mirror}")


def rotation90_group(size: int) -> PermutationGroup:
    """The cyclic group C4 of rotations by multiples of 90 degrees of ``(size, size)`` images.

    Element ``k`` is ``torch.rot90(image, k, dims=(-2, -1))`` (counter-clockwise), ``k = 0..3``.
    """
    check_in_range(size, "size", "rotation90_group", low=1, kind=int)
    maps = [lambda t, k=k: torch.rot90(t, k, dims=(-2, -1)) for k in range(4)]
    return _from_maps(maps, (size, size), "rotation90")


def cyclic_shift_group(shape: int | tuple[int, ...], *, dims: int | tuple[int, ...] = -1) -> PermutationGroup:
    """Cyclic shifts (``torch.roll``) of a 1-D signal or of an image along some dimensions.

    Args:
        shape: ``n`` for a 1-D signal of length ``n`` (the group Z_n), or an image shape ``(H, W)``.
        dims: the dimension or dimensions to shift along: ``-1`` shifts every image row (horizontal shifts,
            Z_W), ``-2`` every column (Z_H), ``(-2, -1)`` both (Z_H x Z_W, ``H * W`` elements).

    Returns:
        Elements ordered by shift, lexicographically over ``dims``; element 0 is the identity.
    """
    owner = "cyclic_shift_group"
    shp = (shape,) if isinstance(shape, int) else tuple(shape)
    for s in shp:
        check_in_range(s, "shape", owner, low=1, kind=int)
    dim_tuple = (dims,) if isinstance(dims, int) else tuple(dims)
    valid = tuple(range(-len(shp), len(shp)))
    for d in dim_tuple:
        check_choice(d, "dims", owner, valid)
    if len({d % len(shp) for d in dim_tuple}) != len(dim_tuple):
        raise ParameterError("dims", owner, "distinct dimensions", dims)
    shifts = torch.cartesian_prod(*[torch.arange(shp[d]) for d in dim_tuple]).reshape(-1, len(dim_tuple))
    maps = [lambda t, s=tuple(int(v) for v in row): torch.roll(t, shifts=s, dims=dim_tuple) for row in shifts]
    return _from_maps(maps, shp, f"cyclic-shift{list(dim_tuple)}")


# -- cells --------------------------------------------------------------------------------------
def simple_cells(x: Tensor, templates: Tensor, group: PermutationGroup) -> Tensor:
    """Simple-cell responses ``s[b, i, j] = <x_b, g_j w_i>``.

    Args:
        x: inputs ``(B, *group.shape)`` or ``(B, D)``.
        templates: ``(I, *group.shape)`` or ``(I, D)``, the weights ``w_i``.
        group: the group ``{g_j}``.

    Returns:
        ``(B, I, G)``.
    """
    owner = "simple_cells"
    xf = _flatten_signals(x, group, "x", owner)  # (B, D)
    wf = _flatten_signals(templates, group, "templates", owner)  # (I, D)
    dtype = torch.promote_types(xf.dtype, wf.dtype)
    orbit = group.orbit(wf)  # (I, G, D): orbit[i, j] = g_j w_i
    return torch.einsum("bd,igd->big", xf.to(dtype), orbit.to(dtype))


def _sigma(nonlinearity: str | Nonlinearity, owner: str) -> Nonlinearity:
    if callable(nonlinearity):
        return nonlinearity
    name = check_choice(nonlinearity, "nonlinearity", owner, NONLINEARITIES)
    if name == "threshold":
        return lambda s, h: torch.relu(s - h)
    if name == "sigmoid":
        return lambda s, h: torch.sigmoid(s - h)
    return lambda s, h: s**h


def complex_cells(
    simple: Tensor,
    levels: Tensor | Sequence[float],
    *,
    nonlinearity: str | Nonlinearity = "threshold",
) -> Tensor:
    """Complex-cell responses ``c[b, h, i] = sum_j sigma_h(s[b, i, j])``.

    Args:
        simple: simple-cell responses ``(B, I, G)`` (:func:`simple_cells`).
        levels: ``(H,)`` the parameters ``h`` of the family ``sigma_h``.
        nonlinearity: the family:

            - ``"threshold"``: ``sigma_h(s) = relu(s - h)`` — thresholded ReLUs at levels ``h``
              (sums of them trace the distribution of the responses over the orbit);
            - ``"sigmoid"``: ``sigma_h(s) = sigmoid(s - h)``, a smooth step at ``h``;
            - ``"power"``: ``sigma_h(s) = s ** h`` — the ``h``-th moments; levels must be
              positive integers;
            - or a callable ``(s, h) -> Tensor`` that broadcasts ``s (B, 1, I, G)`` against
              ``h (1, H, 1, 1)``.

    Returns:
        ``(B, H, I)``.
    """
    owner = "complex_cells"
    check_matrix(simple, "simple", owner, ndim=3)
    lv = torch.as_tensor(levels, dtype=simple.dtype, device=simple.device)
    check_matrix(lv, "levels", owner, ndim=1)
    if lv.numel() == 0:
        raise ParameterError("levels", owner, "at least one level", "an empty sequence")
    if nonlinearity == "power" and not bool(((lv >= 1) & (lv == lv.round())).all()):
        raise ParameterError("levels", owner, "positive integers for the 'power' family", lv.tolist())
    sigma = _sigma(nonlinearity, owner)
    out = sigma(simple.unsqueeze(1), lv.reshape(1, -1, 1, 1))  # (B, H, I, G)
    return out.sum(dim=-1)


class HubelWiesel(nn.Module):
    """Simple and complex cells with learnable templates (Lab 6).

    Args:
        group: the group the cells pool over.
        templates: ``(I, *group.shape)`` or ``(I, D)`` initial templates ``w_i`` (a parameter).
        levels: ``(H,)`` levels ``h`` of ``sigma_h`` (a buffer).
        nonlinearity: see :func:`complex_cells`.

    Shapes:
        ``forward(x)``: ``(B, *group.shape)`` or ``(B, D)`` -> complex cells ``(B, H, I)``;
        ``simple(x)``: -> ``(B, I, G)``.
    """

    def __init__(
        self,
        group: PermutationGroup,
        templates: Tensor,
        levels: Tensor | Sequence[float],
        *,
        nonlinearity: str | Nonlinearity = "threshold",
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        if not isinstance(group, PermutationGroup):
            raise ParameterError("group", owner, "a PermutationGroup", group)
        self.group = group
        wf = _flatten_signals(torch.as_tensor(templates), group, "templates", owner)
        if not wf.dtype.is_floating_point:
            wf = wf.to(torch.get_default_dtype())
        self.templates = nn.Parameter(wf.detach().clone())  # (I, D)
        lv = torch.as_tensor(levels, dtype=self.templates.dtype)
        check_matrix(lv, "levels", owner, ndim=1)
        self.register_buffer("levels", lv.clone())
        if isinstance(nonlinearity, str):
            check_choice(nonlinearity, "nonlinearity", owner, NONLINEARITIES)
        self.nonlinearity = nonlinearity

    @classmethod
    def random(
        cls,
        group: PermutationGroup,
        n_templates: int,
        levels: Tensor | Sequence[float],
        *,
        nonlinearity: str | Nonlinearity = "threshold",
        seed: int | None = None,
        generator: torch.Generator | None = None,
    ) -> HubelWiesel:
        """Templates drawn i.i.d. N(0, 1/D) (unit expected norm) from ``seed``/``generator``."""
        owner = "HubelWiesel.random"
        check_in_range(n_templates, "n_templates", owner, low=1, kind=int)
        gen = make_generator(seed, generator, owner)
        w = torch.randn(n_templates, group.dim, generator=gen) / group.dim**0.5
        return cls(group, w, levels, nonlinearity=nonlinearity)

    def simple(self, x: Tensor) -> Tensor:
        """Simple cells ``(B, I, G)``."""
        return simple_cells(x, self.templates, self.group)

    def forward(self, x: Tensor) -> Tensor:
        """Complex cells ``(B, H, I)``."""
        return complex_cells(self.simple(x), self.levels, nonlinearity=self.nonlinearity)
