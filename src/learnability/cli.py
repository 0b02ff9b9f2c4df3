"""The ``learnability`` command. Thin: every command calls the library.

learnability [--version] [--install-completion]
learnability list
learnability run STUDY [--smoke] [--seed N] [--config FILE.toml] [--set key=value ...]
                       [--out DIR] [--device cpu|cuda|cuda:N|mps] [--no-progress] [--threads N]
                       [--quiet | --verbose]
learnability config STUDY [--smoke] [--set key=value ...] [--full]   # print the TOML

Settings apply in this order, later ones winning: the study's defaults < --config FILE < --smoke
< --seed/--device < --set pairs.
learnability report RUN_DIR | --index RUNS_DIR
learnability export RUN_DIR [--to csv|parquet|tensorboard] [--out PATH]
learnability sweep FILE.toml [--backend local|ray] [--workers N] [--threads N] [--out DIR] [--fail-fast]
learnability bench [--quick] [--device cpu|cuda|cuda:N]
learnability data-bench [--dataset bell|digits|cifar10|corrupted|arc] [--sweep] ...
"""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer
from typer.core import TyperCommand

EXIT_CONFIG = 2
EXIT_FAILED = 1
EXIT_INTERRUPTED = 130


class _Command(TyperCommand):
    """A command whose help shows no ``<bool>`` type beside flags (``--smoke``, ``--help``)."""

    def get_help_option(self, ctx: Any) -> Any:
        opt = super().get_help_option(ctx)
        if opt is not None:
            opt.metavar = ""
        return opt

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for p in self.params:
            if getattr(p, "is_flag", False) and not p.metavar:
                p.metavar = ""


def _study_names() -> list[str]:
    from learnability.studies import list_studies

    return [s.name for s in list_studies()]


class _StudyCommand(_Command):
    """A command taking a study name: its help ends with the list of studies (computed when shown)."""

    @property
    def epilog(self) -> str | None:
        return "Studies: " + ", ".join(_study_names()) + "."

    @epilog.setter
    def epilog(self, value: str | None) -> None:  # click sets it in __init__; the list wins
        pass


def _complete_study(incomplete: str) -> list[str]:
    """Shell completion of study names."""
    return [n for n in _study_names() if n.startswith(incomplete)]


def _version(value: bool) -> None:
    if value:
        from learnability._version import __version__

        typer.echo(f"learnability {__version__}")
        raise typer.Exit()


app = typer.Typer(
    no_args_is_help=True,
    help="Reproducible empirical studies of what neural networks and kernel machines learn.",
)


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.", metavar=""),
    ] = False,
) -> None:
    """Reproducible empirical studies of what neural networks and kernel machines learn."""


def _fail(messages: list[str] | str) -> None:
    for m in [messages] if isinstance(messages, str) else messages:
        typer.echo(f"error: {m}", err=True)
    raise typer.Exit(EXIT_CONFIG)


def _sigterm_to_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@app.command("list", cls=_Command)
def list_cmd() -> None:
    """List the studies."""
    from learnability.studies import list_studies

    studies = list_studies()
    width = max((len(s.name) for s in studies), default=0)
    for s in studies:
        typer.echo(f"{s.name:<{width}}  {s.description}")


def _resolve(
    study_name: str, smoke: bool, config: Path | None, assignments: list[str], seed: int | None, device: str | None
) -> tuple[Any, Any]:
    from learnability.config import ConfigError
    from learnability.runner import resolve_config
    from learnability.studies import get_study

    try:
        study = get_study(study_name)
    except (ValueError, ImportError) as exc:
        _fail(str(exc))
    overrides: dict[str, object] = {}
    if seed is not None:
        overrides["seed"] = seed
    if device is not None:
        overrides["device"] = device
    try:
        cfg = resolve_config(
            study, smoke=smoke, config_file=config, overrides=overrides or None, assignments=assignments
        )
    except ConfigError as exc:
        _fail(exc.messages)
    return study, cfg


@app.command("run", cls=_StudyCommand)
def run_cmd(
    study: Annotated[
        str,
        typer.Argument(help="Study name (see `learnability list`).", autocompletion=_complete_study, metavar="STUDY"),
    ],
    smoke: Annotated[bool, typer.Option("--smoke", help="Small size, as CI runs it.")] = False,
    seed: Annotated[int | None, typer.Option(help="Root seed of the run.")] = None,
    config: Annotated[Path | None, typer.Option(help=_CONFIG_HELP)] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help=_SET_HELP)] = None,
    out: Annotated[Path, typer.Option(help="Parent folder of run folders.")] = Path("runs"),
    device: Annotated[
        str | None, typer.Option(help="cpu, cuda, cuda:N or mps (where available).", metavar="DEVICE")
    ] = None,
    no_progress: Annotated[bool, typer.Option("--no-progress", help="No progress bar.")] = False,
    threads: Annotated[
        int | None, typer.Option(help="torch intra-op threads (default: the cores other processes leave idle).")
    ] = None,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress, no headline: only the run folder.")
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Also log each phase's start and end.")] = False,
) -> None:
    """Run a study: progress, then its headline numbers, report.html and the run folder (last line).

    Settings apply in this order, later ones winning: defaults < --config FILE < --smoke <
    --seed/--device < --set.
    """
    if quiet and verbose:
        _fail("--quiet and --verbose exclude each other; give one.")
    study_obj, cfg = _resolve(study, smoke, config, set_ or [], seed, device)
    import torch

    from learnability.runner import execute

    if threads is not None:
        if threads < 1:
            _fail(
                f"The 'threads' parameter of learnability run must be an int in the range [1, inf). "
                f"Got {threads} instead."
            )
    else:  # the cores other processes leave (see auto_threads); the numbers do not depend on it
        from learnability._threads import auto_threads

        threads = auto_threads()
    torch.set_num_threads(threads)
    from learnability._validation import ParameterError
    from learnability.runner import is_data_error

    previous = signal.signal(signal.SIGTERM, _sigterm_to_interrupt)
    try:
        path = execute(
            study_obj, cfg, out=out, progress=not (no_progress or quiet), verbose=verbose, smoke=smoke, argv=sys.argv
        )
    except ParameterError as exc:  # a pre-run check (nothing was created: --out, memory) or a bad input
        _fail([str(exc), *getattr(exc, "__notes__", [])])
    except Exception as exc:
        if not is_data_error(exc):
            raise
        _fail([str(exc), *getattr(exc, "__notes__", [])])  # missing or corrupt data files, named
    except KeyboardInterrupt:
        typer.echo("interrupted: the run folder keeps everything recorded so far", err=True)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    finally:
        signal.signal(signal.SIGTERM, previous)
    if not quiet:
        from learnability.runner import run_epilogue

        for line in run_epilogue(_relative(path)):
            typer.echo(line)
    typer.echo(str(path))


@app.command("resume", cls=_Command)
def resume_cmd(
    run_dir: Annotated[Path, typer.Argument(help="The run folder of a killed, interrupted or failed run.")],
    no_progress: Annotated[bool, typer.Option("--no-progress", help="No progress bar.")] = False,
    threads: Annotated[
        int | None, typer.Option(help="torch intra-op threads (default: the run's own, for identical numbers).")
    ] = None,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress, no headline: only the run folder.")
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Also log each phase's start and end.")] = False,
) -> None:
    """Continue a killed, interrupted or failed run from its last checkpoint, in the same folder.

    Training that completed is not redone, the interrupted training continues where its last
    checkpoint left it, and the run ends with the same numbers as a run never interrupted (same
    machine, same threads). A complete run is not run again: its report is rebuilt.
    """
    from learnability._validation import ParameterError
    from learnability.config import ConfigError
    from learnability.runner import ResumeError, resume_run
    from learnability.runs import CorruptRunError

    if threads is not None and threads < 1:
        _fail(
            "The 'threads' parameter of learnability resume must be an int in the range [1, inf). "
            f"Got {threads} instead."
        )
    previous = signal.signal(signal.SIGTERM, _sigterm_to_interrupt)
    try:
        path = resume_run(run_dir, progress=not (no_progress or quiet), verbose=verbose, threads=threads, argv=sys.argv)
    except (FileNotFoundError, CorruptRunError, ResumeError, ParameterError, ConfigError) as exc:
        _fail([str(exc), *getattr(exc, "__notes__", [])])
    except KeyboardInterrupt:
        typer.echo(f"interrupted: continue with learnability resume {run_dir}", err=True)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    finally:
        signal.signal(signal.SIGTERM, previous)
    if not quiet:
        from learnability.runner import run_epilogue

        for line in run_epilogue(_relative(path)):
            typer.echo(line)
    typer.echo(str(path))


def _relative(path: Path) -> Path:
    """``path`` relative to the working directory where it lies below it, else as given."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return path


_CONFIG_HELP = "TOML file of settings; --smoke and --set apply on top of it."
_SET_HELP = (
    "key=value (repeatable). For a mapping setting, students.S_u=[20] changes one entry; "
    '"students={S_u=[20]}" replaces the whole mapping.'
)


@app.command("config", cls=_StudyCommand)
def config_cmd(
    study: Annotated[str, typer.Argument(help="Study name.", autocompletion=_complete_study, metavar="STUDY")],
    smoke: Annotated[bool, typer.Option("--smoke", help="Apply the smoke size.")] = False,
    config: Annotated[Path | None, typer.Option(help=_CONFIG_HELP)] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help=_SET_HELP)] = None,
    full: Annotated[bool, typer.Option("--full", help="Write every setting, defaults included.")] = False,
) -> None:
    """Print a study's configuration as TOML (a starting point for --config).

    Only the settings that differ from the defaults are written unless --full is given, so that a
    file does not pin every default; its comments give the config's command, runtime and expected
    result.
    """
    from learnability.config import config_doc, config_to_toml

    study_obj, cfg = _resolve(study, smoke, config, set_ or [], None, None)
    doc = config_doc(study_obj.config_cls)
    header = f"learnability run {study_obj.name} --config FILE\n"
    header += (
        "Every setting, defaults included.\n"
        if full
        else "Only the settings that differ from the defaults (`learnability config --full` lists all).\n"
    )
    if smoke:
        header += "Smoke size: this file runs the study at its CI size.\n"
    header += ("\n" + doc) if doc else ""
    text = config_to_toml(cfg, header=header, only_changed=not full)
    typer.echo(text)


@app.command("report", cls=_Command)
def report_cmd(
    run_dir: Annotated[Path, typer.Argument(help="A run folder (or, with --index, a folder of runs).")],
    index: Annotated[
        bool,
        typer.Option(
            "--index", help="Write RUNS_DIR/index.html over every run below it, with comparison pages per study."
        ),
    ] = False,
) -> None:
    """Rebuild a run's figures and report (report.md, report.html) from the run folder alone."""
    from learnability.runs import CorruptRunError

    try:
        if index:
            from learnability.report import write_index

            def skipped(rel: str, reason: str) -> None:
                typer.echo(f"skipped {rel}: {reason}", err=True)

            typer.echo(str(write_index(run_dir, on_skip=skipped)))
            return
        from learnability.runner import rebuild_report

        path = rebuild_report(run_dir)
    except (FileNotFoundError, CorruptRunError) as exc:
        _fail(str(exc))
    typer.echo(str(path))
    typer.echo(str(path.with_suffix(".html")))


@app.command("export", cls=_Command)
def export_cmd(
    run_dir: Annotated[Path, typer.Argument(help="A run folder.")],
    to: Annotated[str, typer.Option("--to", help="csv, parquet or tensorboard.", metavar="FORMAT")] = "csv",
    out: Annotated[Path | None, typer.Option(help="File (csv, parquet) or folder (tensorboard) to write.")] = None,
) -> None:
    """Export a run's metrics: CSV, Parquet, or TensorBoard event files (`tensorboard --logdir PATH`)."""
    from learnability._validation import ParameterError
    from learnability.export import export_run

    try:
        path = export_run(run_dir, to, out)
    except (ParameterError, FileNotFoundError, ImportError) as exc:
        _fail(str(exc))
    typer.echo(str(path))


def _slurm_parameters(pairs: list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` pairs as submitit parameters (numbers as numbers)."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            _fail(f"The 'slurm' parameter of learnability sweep must be KEY=VALUE. Got {pair!r} instead.")
        try:
            out[key] = int(value)
        except ValueError:
            try:
                out[key] = float(value)
            except ValueError:
                out[key] = value
    return out


@app.command("sweep", cls=_Command)
def sweep_cmd(
    file: Annotated[Path, typer.Argument(help="Sweep file (TOML).")],
    backend: Annotated[str, typer.Option(help="local (process pool), ray, or slurm (submitit).")] = "local",
    workers: Annotated[
        int | None, typer.Option(help="local: worker processes; ray, slurm: most runs in flight.")
    ] = None,
    threads: Annotated[int | None, typer.Option(help="torch threads per run.")] = None,
    out: Annotated[Path, typer.Option(help="Parent folder of the sweep folder.")] = Path("sweeps"),
    no_progress: Annotated[bool, typer.Option("--no-progress", help="No progress bar.")] = False,
    fail_fast: Annotated[bool, typer.Option("--fail-fast", help="Stop at the first failed run.")] = False,
    slurm: Annotated[
        list[str] | None,
        typer.Option(
            "--slurm",
            help="slurm: a submitit parameter as KEY=VALUE (repeatable), e.g. slurm_partition=gpu, "
            "timeout_min=60; cluster=local runs the jobs as local processes.",
            metavar="KEY=VALUE",
        ),
    ] = None,
) -> None:
    """Run or resume a sweep of runs; the last line printed is the sweep folder.

    Exits with status 1 when any run failed (after the others finished, or at once with
    --fail-fast), naming each failed run and its error.
    """
    from learnability._validation import ParameterError
    from learnability.config import ConfigError
    from learnability.sweep import failed_runs, run_sweep

    previous = signal.signal(signal.SIGTERM, _sigterm_to_interrupt)
    try:
        path = run_sweep(
            file,
            backend=backend,
            workers=workers,
            threads=threads,
            out=out,
            progress=not no_progress,
            fail_fast=fail_fast,
            slurm=_slurm_parameters(slurm or []),
        )
    except ConfigError as exc:  # every problem of the plan, reported before anything runs
        _fail(exc.messages)
    except ParameterError as exc:
        _fail(str(exc))
    except KeyboardInterrupt:
        typer.echo("interrupted: finished runs are kept; run the same command again to resume", err=True)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    finally:
        signal.signal(signal.SIGTERM, previous)
    failed = failed_runs(path)
    for run_id, status, error in failed:
        typer.echo(f"run {run_id} {status}: {error}" if error else f"run {run_id} {status}", err=True)
    if failed:
        runs = "1 run" if len(failed) == 1 else f"{len(failed)} runs"
        typer.echo(f"{runs} did not complete; running the same command again retries them", err=True)
    typer.echo(f"report: {_relative(path) / 'report.html'}")
    typer.echo(str(_relative(path)))
    if failed:
        raise typer.Exit(EXIT_FAILED)


@app.command("bench", cls=_Command)
def bench_cmd(
    quick: Annotated[bool, typer.Option("--quick", help="Few steps: checks the benchmark runs.")] = False,
    members: Annotated[int, typer.Option(help="K, members trained at once.")] = 32,
    no_compile: Annotated[bool, typer.Option("--no-compile", help="Skip the compiled engine.")] = False,
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write results here.")] = None,
    device: Annotated[str, typer.Option(help="cpu, cuda or cuda:N (where this machine has it).")] = "cpu",
) -> None:
    """Model-steps/s of the engine vs the naive loop (W_A, W_B) and the machine's peak."""
    from learnability.bench import check_device, run_bench

    try:
        check_device(device)
    except ValueError as exc:
        _fail(str(exc))
    res = run_bench(quick=quick, members=members, compile_=not no_compile, echo=typer.echo, device=device)
    if json_out is not None:
        json_out.write_text(json.dumps(res, indent=2))


def _int_list_option(text: str, name: str) -> list[int]:
    from learnability._validation import ParameterError

    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        values = []
    if not values:
        raise ParameterError(name, "data-bench", "a comma-separated list of ints, e.g. 0,1,2", text)
    return values


_FIGURE_SUFFIXES = (".png", ".svg", ".pdf")


@app.command("data-bench", cls=_Command)
def data_bench_cmd(
    dataset: Annotated[str, typer.Option(help="bell, digits, cifar10, corrupted or arc.")] = "bell",
    arc_dir: Annotated[
        Path | None, typer.Option(help="arc: folder of task JSON files (default: a small generated set).")
    ] = None,
    root: Annotated[Path | None, typer.Option(help="Folder of image files (CIFAR-10).")] = None,
    lazy: Annotated[bool, typer.Option("--lazy", help="Read items from files on demand.")] = False,
    lazy_format: Annotated[str, typer.Option(help="files (one .pt per item) or memmap.")] = "files",
    lazy_items: Annotated[int, typer.Option(help="Most item files written (--lazy-format files).")] = 1024,
    precompute: Annotated[
        bool, typer.Option("--precompute", help="corrupted: corrupt every item once, up front.")
    ] = False,
    batch_size: Annotated[
        int | None, typer.Option(help="Items per model per step (default: bell 20, images 64, arc 4).")
    ] = None,
    workers: Annotated[int, typer.Option(help="DataLoader num_workers.")] = 0,
    pin_memory: Annotated[bool, typer.Option("--pin-memory", help="DataLoader pin_memory.")] = False,
    members: Annotated[int, typer.Option(help="K models trained at once by the engine.")] = 1,
    n_batches: Annotated[int, typer.Option(help="Timed batches per measurement.")] = 30,
    repeats: Annotated[int, typer.Option(help="Probes; the median is reported.")] = 1,
    n_items: Annotated[
        int | None, typer.Option(help="Data set size (bell points, first images, generated arc tasks).")
    ] = None,
    sweep: Annotated[bool, typer.Option("--sweep", help="Also sweep workers x batch size.")] = False,
    sweep_workers: Annotated[str, typer.Option(help="Sweep: worker counts.")] = "0,1,2",
    sweep_batch_sizes: Annotated[
        str | None, typer.Option(help="Sweep: batch sizes per model (default: 1x, 4x, 16x --batch-size).")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Sweep figure file (.png, .svg, .pdf).")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write results here.")] = None,
    device: Annotated[str, typer.Option(help="cpu or cuda.")] = "cpu",
    threads: Annotated[int, typer.Option(help="torch intra-op threads while probing.")] = 1,
    seed: Annotated[int, typer.Option(help="Data, initial parameters, shuffling.")] = 0,
) -> None:
    """Is data loading the bottleneck? DataLoader items/s vs the engine step's items/s."""
    from learnability._validation import ParameterError
    from learnability.bench import data_bench, format_bench

    try:
        if out is not None and not sweep:
            raise ParameterError("out", "data-bench", "given only with --sweep (the figure draws the sweep)", str(out))
        if out is not None and out.suffix.lower() not in _FIGURE_SUFFIXES:
            raise ParameterError("out", "data-bench", "a file name ending in " + ", ".join(_FIGURE_SUFFIXES), str(out))
        bench = data_bench(
            dataset,
            lazy=lazy,
            lazy_format=lazy_format,
            precompute=precompute,
            batch_size=batch_size,
            workers=workers,
            pin_memory=pin_memory,
            members=members,
            n_batches=n_batches,
            repeats=repeats,
            n_items=n_items,
            lazy_items=lazy_items,
            arc_dir=arc_dir,
            root=root,
            sweep=sweep,
            sweep_workers=_int_list_option(sweep_workers, "sweep_workers"),
            sweep_batch_sizes=(
                None if sweep_batch_sizes is None else _int_list_option(sweep_batch_sizes, "sweep_batch_sizes")
            ),
            device=device,
            threads=threads,
            seed=seed,
        )
    except (ValueError, FileNotFoundError) as exc:  # bad options, missing or corrupt data files
        _fail(str(exc))
    typer.echo(format_bench(bench))
    if out is not None and bench.sweep is not None:
        from learnability.data import plot_loading_sweep

        out.parent.mkdir(parents=True, exist_ok=True)
        plot_loading_sweep(bench.sweep, title=f"data-bench: {bench.description}").savefig(out)
        typer.echo(f"figure: {out}")
    if json_out is not None:
        from learnability.runs import jsonable

        json_out.write_text(
            json.dumps(
                jsonable(
                    {
                        "dataset": bench.dataset,
                        "description": bench.description,
                        "result": bench.result.row(),
                        "notes": bench.notes,
                        "sweep": None if bench.sweep is None else bench.sweep.to_dict("records"),
                    }
                ),
                indent=2,
            )
        )


def main() -> None:
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
