"""cnn-equivariance (Lab 5): exact equivariance of the circular conv, boundary effects of the valid
conv, agreement with the library's probes, and the shared smoke run."""

from __future__ import annotations

import pytest
import torch

from learnability.data import translate
from learnability.models import LabCNN, equivariance_error, sorted_values_error
from learnability.studies.images.cnn_equivariance import (
    MEASURES,
    compass_shifts,
    conv_equivariance,
    interior_mask,
    pair_measures,
)
from learnability.studies.images.data import resolve_dataset
from learnability.studies.images.training import derangement

# Float32 rounding of a 2x2 conv: far below this.
_TINY = 1e-6


def _pairs(magnitude: int, n: int = 8, mode: str = "circular") -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(magnitude)
    x = torch.randn(n, 1, 12, 12, generator=g)  # content everywhere, up to the border
    shifts = compass_shifts(n, magnitude, generator=g)
    return x, translate(x, shifts, mode=mode), shifts


@pytest.mark.parametrize("magnitude", [1, 3, 5])
def test_circular_conv_is_exactly_equivariant_and_valid_conv_is_not_at_the_border(magnitude: int) -> None:
    x, gx, shifts = _pairs(magnitude)
    partner = derangement(8, generator=torch.Generator().manual_seed(0))
    circ = pair_measures(LabCNN(12, 10, padding_mode="circular", seed=1).eval(), x, gx, shifts, partner)
    valid = pair_measures(LabCNN(12, 10, padding_mode="valid", seed=1).eval(), x, gx, shifts, partner)
    assert set(circ) == set(MEASURES)
    assert float(circ["conv_total"].max()) <= _TINY and float(circ["conv_sorted"].max()) <= _TINY
    assert float(valid["conv_interior"].max()) <= _TINY  # the architecture is equivariant
    assert float(valid["conv_border"].min()) > 1e-3  # the border is not
    torch.testing.assert_close(valid["conv_total"] ** 2, valid["conv_interior"] ** 2 + valid["conv_border"] ** 2)
    assert float(valid["conv_control"].min()) > 0.1 and float(circ["sorted_control"].min()) > 1e-3


def test_shift_back_error_matches_the_library_probes() -> None:
    x, gx, shifts = _pairs(2)
    model = LabCNN(12, 10, padding_mode="valid", seed=3).eval()
    partner = derangement(8, generator=torch.Generator().manual_seed(0))
    ours = pair_measures(model, x, gx, shifts, partner)
    reference = equivariance_error(
        model, x, gx, layer="conv1", output_transform=lambda f: translate(f, shifts, mode="circular")
    )
    torch.testing.assert_close(ours["conv_total"], reference.double(), rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(
        ours["conv_sorted"], sorted_values_error(model, x, gx, layer="conv1").double(), rtol=1e-5, atol=1e-7
    )
    _, _, fc = model.forward_with_representations(x)
    _, _, fc_g = model.forward_with_representations(gx)
    expected = (fc_g - fc).norm(dim=1) / fc.norm(dim=1)
    torch.testing.assert_close(ours["fc_invariance"], expected.double(), rtol=1e-5, atol=1e-7)


def test_interior_mask_counts_the_border_rows() -> None:
    no_shift = torch.zeros(1, 2, dtype=torch.long)
    assert bool(interior_mask(no_shift, (12, 12), (11, 11), 2).all())  # valid: every position
    circ = interior_mask(no_shift, (12, 12), (12, 12), 2)
    assert int(circ.sum()) == 11 * 11  # the last row and column see the padding
    down = interior_mask(torch.tensor([[3, 0]]), (12, 12), (11, 11), 2)
    assert bool(down[0, 0, :8].all()) and not bool(down[0, 0, 8:].any())


def test_zero_border_makes_shifts_within_the_margin_exact() -> None:
    # Content away from the border: the valid conv is equivariant while the shifted content stays
    # inside the frame and off the last row/column, and not once it crosses the border.
    x = torch.zeros(4, 1, 12, 12)
    x[:, :, 4:8, 4:8] = torch.rand(4, 1, 4, 4, generator=torch.Generator().manual_seed(2)) + 0.5
    model = LabCNN(12, 10, padding_mode="valid", seed=0)

    def total(shifts: torch.Tensor) -> torch.Tensor:
        gx = translate(x, shifts, mode="zeros")
        with torch.no_grad():
            conv_x, conv_gx = model.conv1(x).double(), model.conv1(gx).double()
        return conv_equivariance(conv_x, conv_gx, shifts, interior_mask(shifts, (12, 12), (11, 11), 2))["total"]

    assert float(total(torch.tensor([[2, 0], [-2, 1], [0, -3], [3, 3]])).max()) <= _TINY
    assert float(total(torch.tensor([[5, 0], [0, 5], [-5, 0], [0, -5]])).min()) > 1e-3


def test_smoke_run_reports_its_numbers(smoke_run) -> None:
    run = smoke_run("cnn-equivariance")
    res = run.results
    assert run.complete and res.dataset == resolve_dataset("auto", None).name
    assert res.padding_modes == ["valid", "circular"] and res.shifts == [1, 6]
    assert res.models["valid"].fc_in == 729 and res.models["circular"].fc_in == 784
    for d in (1, 6):
        assert set(res.results["circular"]["circular"][str(d)]) == set(MEASURES)
        assert res.cell("circular", "circular", d, "conv_total").max <= _TINY  # exact with circular padding
        assert res.cell("valid", "circular", d, "conv_interior").max <= _TINY
    # 6 pixels push the digits' content across the 4-pixel margin: a border error appears.
    valid6 = res.cell("valid", "circular", 6, "conv_border")
    assert valid6.images.mean > 1e-3 and valid6.images.values == ()  # per-image values live in the arrays
    assert res.cell("valid", "circular", 6, "conv_total").seeds.n == 2
    for name in ("example", "equivariance"):
        assert (run.figures_dir / f"{name}.png").stat().st_size > 1000
    text = (run.path / "report.md").read_text()
    assert "What the numbers say" in text and "boundary effect" in text
    assert f"{res.cell('valid', 'circular', 6, 'conv_total').images.mean:.3g}" in text
