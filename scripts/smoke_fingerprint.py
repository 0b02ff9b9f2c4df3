"""Fingerprint every study's smoke run, and compare two fingerprints (a refactor must not change numbers).

    python scripts/smoke_fingerprint.py record OUT_DIR [STUDY ...]   # run each study at smoke size, seed 0
    python scripts/smoke_fingerprint.py compare BEFORE_DIR AFTER_DIR [REPLICATE_DIR]

``record`` runs each study with ``--smoke``, seed 0 and one torch thread into ``OUT_DIR/runs`` and
copies its ``summary.json`` and ``metrics.jsonl`` to ``OUT_DIR/STUDY/``. ``compare`` checks that every
key of the old summary exists in the new one with an equal value (floats to 1e-12 relative; keys
the new summary adds are listed, not errors), and that the metric records are the same once
wall-clock fields are dropped. With ``REPLICATE_DIR`` (a second ``record`` of the *old* code), the
values that differ between the two old records (timings, throughputs) are measurements of the
machine, not of the code: they are left out of the comparison and counted.
"""

from __future__ import annotations

import json
import math
import shutil
import sys
from pathlib import Path
from typing import Any

# Fields of metric records that measure wall-clock time, not what was computed.
TIME_KEYS = {
    "time",
    "seconds",
    "elapsed",
    "wall_s",
    "wall",
    "duration",
    "t",
    "timestamp",
    "per_batch_ms",
    "ms",
    "rate",
    "throughput",
    "samples_per_s",
    "batches_per_s",
    "steps_per_s",
}


def record(out: Path, names: list[str]) -> None:
    import torch

    import learnability
    from learnability.studies import list_studies

    torch.set_num_threads(1)
    names = names or [s.name for s in list_studies()]
    for name in names:
        run = learnability.run_study(name, smoke=True, seed=0, out=out / "runs", progress=False)
        dest = out / name
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copy(run.path / "summary.json", dest / "summary.json")
        shutil.copy(run.path / "metrics.jsonl", dest / "metrics.jsonl")
        print(f"recorded {name}", flush=True)


def _same(a: Any, b: Any, path: str, problems: list[str], added: list[str]) -> None:
    if isinstance(a, dict):
        if not isinstance(b, dict):
            problems.append(f"{path}: was a mapping, now {type(b).__name__}")
            return
        for k, v in a.items():
            if k not in b:
                problems.append(f"{path}.{k}: missing")
            else:
                _same(v, b[k], f"{path}.{k}", problems, added)
        added.extend(f"{path}.{k}" for k in b if k not in a)
        return
    if isinstance(a, list):
        if not isinstance(b, list) or len(a) != len(b):
            problems.append(f"{path}: list changed ({a!r:.80} -> {b!r:.80})")
            return
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same(x, y, f"{path}[{i}]", problems, added)
        return
    numbers = isinstance(a, float) and isinstance(b, int | float) and not isinstance(b, bool)
    if numbers and (math.isclose(a, b, rel_tol=1e-12, abs_tol=0.0) or (math.isnan(a) and math.isnan(b))):
        return
    if a != b:
        problems.append(f"{path}: {a!r:.80} -> {b!r:.80}")


def _records(path: Path) -> list[dict]:
    out = []
    for line in path.read_text().splitlines():
        rec = json.loads(line)
        out.append({k: v for k, v in rec.items() if k not in TIME_KEYS})
    return out


def _paths(problems: list[str]) -> set[str]:
    return {p.split(":")[0] for p in problems}


def compare(before: Path, after: Path, replicate: Path | None = None) -> int:
    failures = 0
    for study in sorted(p.name for p in before.iterdir() if (p / "summary.json").exists()):
        problems: list[str] = []
        added: list[str] = []
        if not (after / study / "summary.json").exists():
            print(f"{study}: no run after")
            failures += 1
            continue
        old = json.loads((before / study / "summary.json").read_text())
        _same(old, json.loads((after / study / "summary.json").read_text()), "summary", problems, added)
        noise: set[str] = {"summary.wall_seconds"}  # the runner's own clock, always machine-dependent
        if replicate is not None and (replicate / study / "summary.json").exists():
            noisy: list[str] = []
            _same(old, json.loads((replicate / study / "summary.json").read_text()), "summary", noisy, [])
            noise |= _paths(noisy)
        problems = [p for p in problems if p.split(":")[0] not in noise]
        m0, m1 = _records(before / study / "metrics.jsonl"), _records(after / study / "metrics.jsonl")
        if len(m0) != len(m1):
            problems.append(f"metrics: {len(m0)} records -> {len(m1)}")
        else:
            found: list[str] = []
            _same(m0, m1, "metrics", found, [])
            if replicate is not None and (replicate / study / "metrics.jsonl").exists():
                noisy = []
                _same(m0, _records(replicate / study / "metrics.jsonl"), "metrics", noisy, [])
                noise |= _paths(noisy)
            problems += [p for p in found if p.split(":")[0] not in noise]
        status = "same numbers" if not problems else f"{len(problems)} differences"
        print(
            f"{study}: {status}; {len(m0)} metric records; {len(added)} summary keys added; "
            f"{len(noise)} machine-dependent values (timings) not compared"
        )
        for p in problems[:20]:
            print("   ", p)
        failures += bool(problems)
    return 1 if failures else 0


if __name__ == "__main__":
    cmd, *args = sys.argv[1:]
    if cmd == "record":
        record(Path(args[0]), args[1:])
    elif cmd == "compare":
        sys.exit(compare(Path(args[0]), Path(args[1]), Path(args[2]) if len(args) > 2 else None))
    else:
        sys.exit(f"unknown command {cmd!r}")
