"""``loopwatch bench``: make the labelled evaluation corpus and measure detectors and checks on it."""

from __future__ import annotations

import shlex
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import typer

from loopwatch.cli._common import fail, print_json

bench_app = typer.Typer(
    name="bench",
    help="Benchmark: render the labelled corpus, inject defects into your own loops, evaluate detectors and checks.",
    no_args_is_help=True,
)

_STAGES = {"render": "rendering loops", "defects": "injecting defects", "import": "importing loops",
           "checks": "running checks", "detectors": "fitting detectors"}


def _command_line(ctx: typer.Context | None = None) -> str:
    """The command as typed, for the report header.

    From ``sys.argv`` when the process was started as this command
    (``loopwatch ...``, ``python -m loopwatch ...``, ``bench/evaluate.py ...``);
    otherwise (the app called in-process) rebuilt from the parsed parameters.
    """
    argv = list(sys.argv) or ["loopwatch"]
    name = Path(argv[0]).name
    sub = ctx.info_name if ctx else None
    if sub and sub in argv[1:] and "bench" in argv[1:] or name in ("corpus.py", "evaluate.py"):
        if name == "__main__.py":
            argv[0:1] = ["python", "-m", "loopwatch"]
        elif name in ("loopwatch", "loopwatch.exe"):
            argv[0] = "loopwatch"
        return shlex.join(argv)
    if ctx is None:
        return "loopwatch bench"
    parts = ["loopwatch", "bench", str(ctx.info_name)]
    for param in ctx.command.params:
        value = ctx.params.get(param.name)
        if getattr(param, "param_type_name", "") == "argument":
            parts += [str(v) for v in (value if isinstance(value, (list, tuple)) else [value])]
            continue
        if value == param.default or value is None or (isinstance(value, (list, tuple)) and
                                                       list(value) == list(param.default or [])):
            continue
        flag = max(param.opts, key=len)
        if getattr(param, "is_flag", False):
            parts.append(flag)
        else:
            for v in value if isinstance(value, (list, tuple)) else [value]:
                parts += [flag, str(v)]
    return shlex.join(parts)


@contextmanager
def _progress(quiet: bool) -> Iterator:
    """A ``progress(stage, done, total)`` callback drawing one rich bar per stage (on stderr)."""
    if quiet:
        yield None
        return
    from loopwatch.cli._common import progress

    tasks: dict[str, int] = {}
    with progress(transient=False) as bar:
        def cb(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(_STAGES.get(stage, stage), total=total)
            bar.update(tasks[stage], completed=done, total=total)

        yield cb


def corpus_cmd(
    ctx: typer.Context,
    out: Path = typer.Argument(..., help="Folder to create (it must be empty, or an earlier corpus with --force)."),
    size: str = typer.Option("default", "--size", "-s", help="small (a few dozen loops, seconds), default "
                             "(300 loops per library plus anomalies, a couple of minutes) or paper (3,000 loops per "
                             "library, the paper's scale; about 9 GB)."),
    seed: int = typer.Option(0, "--seed", help="Everything is drawn from it: the same seed gives the same bytes."),
    workers: int = typer.Option(2, "--workers", "-j", help="Parallel FluidSynth renders."),
    force: bool = typer.Option(False, "--force", "-f", help="Replace an earlier corpus in OUT."),
    as_json: bool = typer.Option(False, "--json", help="Print corpus.json (counts, versions, timings) as JSON."),
) -> None:
    """Render the evaluation corpus: bass and guitar loop libraries, out-of-style loops and injected defects.

    Loops are written by loopwatch as MIDI, rendered by FluidSynth with the
    FluidR3 GM soundfont (tail wrapped so they loop seamlessly), split
    train/val/test, and listed with their labels in OUT/manifest.csv.
    """
    from loopwatch.evaluation.corpus import SIZES, CorpusError, build_corpus

    if size not in SIZES:
        fail(f"unknown size {size!r}; choose from {', '.join(SIZES)}")
    if workers < 1:
        fail("--workers must be at least 1")
    try:
        with _progress(as_json) as cb:
            entries, meta = build_corpus(out, size=size, seed=seed, workers=workers, progress=cb, overwrite=force,
                                         command=_command_line(ctx))
    except CorpusError as exc:
        fail(str(exc))
    if as_json:
        print_json(meta)
        return
    _print_counts(out, meta, len(entries))


def _print_counts(out: Path, meta: dict, n: int) -> None:
    from loopwatch.cli._common import console

    c = console()
    c.print(f"[bold]{n}[/bold] files in {out} (seed {meta.get('seed')}, size {meta.get('size')}, "
            f"{meta.get('total_seconds', '?')} s)")
    for lib, counts in sorted(meta.get("counts", {}).items()):
        parts = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        c.print(f"  {lib}: {parts}")
    c.print(f"  manifest: {Path(out) / 'manifest.csv'}")


def defects_cmd(
    ctx: typer.Context,
    src: Path = typer.Argument(..., help="Folder of your own clean loops (walked recursively)."),
    out: Path = typer.Argument(..., help="Folder to create for the corpus."),
    library: str = typer.Option(None, "--library", "-l", help="Name of the library (default: SRC's folder name)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the split, the file choice and the injections."),
    n_default: int = typer.Option(4, "--n-default", help="Defect files per kind at its default strength."),
    n_other: int = typer.Option(2, "--n-other", help="Defect files per kind at each other strength (0: none)."),
    max_files: int = typer.Option(None, "--max-files", help="Use at most this many loops (a seeded sample)."),
    force: bool = typer.Option(False, "--force", "-f", help="Replace an earlier corpus in OUT."),
    as_json: bool = typer.Option(False, "--json", help="Print corpus.json as JSON."),
) -> None:
    """Make a benchmark corpus from your own clean loops, with defects injected into them.

    The loops are copied (48 kHz, 24-bit WAV) and split train/val/test; every
    defect kind is injected at graded strengths into copies of the test split,
    with the exact positions in OUT/manifest.csv. Then `loopwatch bench evaluate OUT` measures the checks (and detectors) on your material.
    """
    from loopwatch.evaluation.corpus import CorpusError, import_library

    if n_default < 0 or n_other < 0:
        fail("--n-default and --n-other must be >= 0")
    try:
        with _progress(as_json) as cb:
            entries, meta = import_library(src, out, library=library, seed=seed, n_default=n_default,
                                           n_other=n_other, max_files=max_files, overwrite=force, progress=cb,
                                           command=_command_line(ctx))
    except CorpusError as exc:
        fail(str(exc))
    if as_json:
        print_json(meta)
        return
    _print_counts(out, meta, len(entries))
    if meta.get("skipped"):
        from loopwatch.cli._common import warn

        for reason in list(meta["skipped"].values())[:10]:
            warn(f"skipped {reason}")
        if len(meta["skipped"]) > 10:
            warn(f"... and {len(meta['skipped']) - 10} more unreadable files")


def evaluate_cmd(
    ctx: typer.Context,
    corpus: Path = typer.Argument(..., help="A corpus folder (from `bench corpus` or `bench defects`)."),
    encoder: list[str] = typer.Option(["spectral"], "--encoder", "-e", help="Encoder(s) for the detectors: "
                                      "spectral, clap-music, clap-fusion, or the reference features level/basic. "
                                      "Repeat for several."),
    detector: list[str] = typer.Option(["aewres", "ae", "iforest", "pca", "mean-distance"], "--detector", "-d",
                                       help="Detector(s): aewres, ae, iforest, pca (loopwatch.detect; aewres-x5 "
                                       "for a five-member ensemble), the references mean-distance and knn, or "
                                       "module:attribute. Repeat for several."),
    check: list[str] = typer.Option(["reference"], "--check", "-c", help="Check(s): reference (all reference "
                                    "checks), ref-click..., or module:attribute of a check(audio) -> findings "
                                    "callable. Repeat for several."),
    out: Path = typer.Option(Path("bench/results"), "--out", "-o", help="Where summary.md, results.json and the "
                             "PNG figures go."),
    library: list[str] = typer.Option(None, "--library", "-l", help="Only these libraries (default: all)."),
    quantile: float = typer.Option(0.95, "--quantile", "-q", help="Threshold quantile of validation scores."),
    tolerance_ms: float = typer.Option(10.0, "--tolerance-ms", help="How far a finding may lie from an injected "
                                       "span and still count as finding it."),
    min_severity: str = typer.Option("warn", "--min-severity", help="Findings below this severity are ignored."),
    no_detectors: bool = typer.Option(False, "--no-detectors", help="Skip the detectors (checks only)."),
    no_checks: bool = typer.Option(False, "--no-checks", help="Skip the checks (detectors only)."),
    no_figures: bool = typer.Option(False, "--no-figures", help="Write no PNG files."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Do not use the embedding cache."),
    bootstrap: int = typer.Option(500, "--bootstrap", help="Bootstrap resamples for AUROC intervals (0: none)."),
    threads: int = typer.Option(1, "--threads", help="torch threads for the neural detectors (0: torch's default; "
                                "1 is fastest for these small networks, and reproducible)."),
    as_json: bool = typer.Option(False, "--json", help="Print the results (results.json) to stdout."),
) -> None:
    """Measure detectors and quality checks on a corpus and write a Markdown report with figures.

    Detectors are fitted per library on the train split, thresholded at the
    QUANTILE of validation scores, and scored on held-out normal loops against
    out-of-style loops and defect files (AUROC, AP, precision/recall/F1).
    Checks run on every clean loop and defect file: precision/recall/F1 per
    defect kind and strength, localisation error, false positives on clean loops.
    """
    from loopwatch.evaluation.benchmark import BenchmarkConfig, run_benchmark
    from loopwatch.evaluation.harness import HarnessError
    from loopwatch.evaluation.manifest import ManifestError
    from loopwatch.findings import SEVERITIES

    if min_severity not in SEVERITIES:
        fail(f"--min-severity must be one of {', '.join(SEVERITIES)}")
    if not 0.0 < quantile < 1.0:
        fail(f"--quantile must be between 0 and 1, got {quantile}")
    if tolerance_ms < 0:
        fail("--tolerance-ms must be >= 0")
    if no_detectors and no_checks:
        fail("nothing to do: both --no-detectors and --no-checks given")
    cfg = BenchmarkConfig(encoders=list(encoder), detectors=list(detector), checks=list(check),
                          libraries=list(library) if library else None, quantile=quantile, tolerance_ms=tolerance_ms,
                          min_severity=min_severity, figures=not no_figures, cache=not no_cache,
                          boot=max(0, bootstrap), threads=max(0, threads), run_detectors=not no_detectors,
                          run_checks=not no_checks,
                          command=_command_line(ctx))
    try:
        with _progress(as_json) as cb:
            res = run_benchmark(corpus, out, cfg, progress=cb)
    except (HarnessError, ManifestError) as exc:
        fail(str(exc))
    if as_json:
        print_json(res)
        return
    from loopwatch.cli._common import console

    c = console()
    for d in res.get("detectors", []):
        m = d["metrics"]["all"]
        oos = d["metrics"]["family"].get("out-of-style", {})
        c.print(f"{d['library']:>8} {d['encoder']:>10} {d['detector']:>14}  AUROC {m.get('auroc', float('nan')):.3f}"
                f"  out-of-style {oos.get('auroc', float('nan')):.3f}  F1 {m['f1']:.3f}")
    ch = res.get("checks")
    if ch:
        for g in [g for g in ch["grades"] if g["library"] == "all" and g.get("default") and not g.get("not_run")]:
            c.print(f"{g['kind']:>16} -> {g['check']:<10} {g['grade']:>14}  P {g['precision']:.2f}  "
                    f"R {g['recall']:.2f}  F1 {g['f1']:.2f}")
    c.print(f"report: {Path(out) / 'summary.md'}")
    _report_unread(res)


def _report_unread(res: dict) -> None:
    """Say on stderr which corpus files were left out because they could not be read (summary.md lists them all)."""
    unread: dict[str, str] = {}
    for feats in res.get("features", {}).values():
        unread.update(feats.get("errors") or {})
    unread.update((res.get("checks") or {}).get("errors") or {})
    if not unread:
        return
    typer.echo(f"warning: {len(unread)} corpus file(s) could not be used and were left out of the figures above:",
               err=True)
    for path, reason in sorted(unread.items())[:5]:
        typer.echo(f"  {path}: {reason}", err=True)
    if len(unread) > 5:
        typer.echo(f"  ... and {len(unread) - 5} more (all in summary.md)", err=True)


def register(app: typer.Typer) -> None:
    bench_app.command("corpus")(corpus_cmd)
    bench_app.command("defects")(defects_cmd)
    bench_app.command("evaluate")(evaluate_cmd)
    app.add_typer(bench_app, name="bench")
