"""The benchmark runs and reports consistent figures (speed itself is never asserted)."""

from __future__ import annotations

from learnability.bench import W_A, W_B, flops_per_model_step, run_bench


def test_flop_counts() -> None:
    # 6 * B * sum(in*out): forward (2) + backward (4) multiply-adds per weight per example.
    assert flops_per_model_step(W_B, 20) == 6 * 20 * (6 * 50 + 8 * 50 * 50 + 50)
    assert flops_per_model_step(W_A, 128) == 6 * 128 * (100 * 200 + 2 * 200 * 200 + 200 * 100 + 100)


def test_quick_bench_reports_every_method() -> None:
    lines: list[str] = []
    res = run_bench(quick=True, members=4, compile_=False, echo=lines.append, processes=2)
    methods = {(r["workload"], r["method"]) for r in res["results"]}
    per_workload = {"naive", "vmap", "engine-eager"} | ({"engine-eager-proc2"} if res["processes"] >= 2 else set())
    assert res["processes"] in (1, 2)
    assert methods == {(wl, m) for wl in ("W_B", "W_A") for m in per_workload}
    assert all(r["model_steps_per_s"] > 0 for r in res["results"]) and res["peak_gflops"] > 0
    # The ratio is printed only when the repeats agree and the machine is not busy.
    assert any("x naive" in line for line in lines) == res["reliable"]
    assert res["reliable"] or lines[-1].startswith("unreliable measurement")
