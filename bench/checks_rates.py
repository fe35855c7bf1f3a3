"""The quality checks on files at other sample rates: false warnings on clean loops, and default-strength defects found.

Usage::

    .venv/bin/python bench/checks_rates.py --corpus bench/corpus [--rates 44100,88200,96000,48000] [--files 120]
                                           [--out bench/results/checks_rates.md]

The benchmark corpus is rendered at 48 kHz. For each rate, ``--files`` of its
clean test loops (a fixed random choice) are converted exactly: each loop is
resampled as the periodic signal it is (``scipy.signal.resample``, one FFT), so
a seamless loop stays seamless and nothing but the rate changes. Each is written
as 24-bit WAV and decoded with :func:`loopwatch.audio.load`, as any file is.
Then, for every defect kind at its default strength, the corpus's own injector
(:mod:`loopwatch.evaluation.defects`, its rate set to the file's) puts one into
the converted loop, and that file is decoded and checked too.

Two ways of checking are run side by side on the same decoded files:

* **at the file's rate**: :func:`loopwatch.checks.run_checks` on the ``Audio``
  (it uses ``Audio.source``, the samples at the file's own rate);
* **on the 48 kHz copy**: the same checks on ``Audio.data``, the resampled copy
  made for the encoders (what loopwatch did before).

A clean loop counts as a false warning for each check that reports ``warn`` or
``error``; a defect counts as found when the check expected for its kind does.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

KINDS = ["click", "click-multi", "dropout", "clipping", "seam", "hum", "dc-offset", "white-noise", "polarity"]


def _serious(findings, check: str | None = None):
    if check is None:
        return {f.check for f in findings if f.severity in ("warn", "error")}
    return any(f.check == check and f.severity in ("warn", "error") for f in findings)


def measure(corpus: Path, rate: int, files: list[Path], tmp: Path) -> dict:
    import soundfile as sf
    from scipy.signal import resample

    from loopwatch.audio import load
    from loopwatch.checks import run_checks
    from loopwatch.evaluation import defects

    defects.SR = rate  # the injectors place defects in samples of this rate
    fp = {"native": {}, "copy": {}}
    found = {k: {"n": 0, "native": 0, "copy": 0} for k in KINDS}
    for i, f in enumerate(files):
        x, sr = sf.read(str(f), always_2d=True, dtype="float64")
        x = x.T
        y = resample(x, int(round(x.shape[1] * rate / sr)), axis=1) if rate != sr else x
        p = tmp / f"clean{i}_{rate}.wav"
        sf.write(str(p), y.T, rate, subtype="PCM_24")
        a = load(p)
        for way, got in (("native", run_checks(a)), ("copy", run_checks(a.data, sr=a.sr))):
            for c in _serious(got):
                fp[way][c] = fp[way].get(c, 0) + 1
        for k in KINDS:
            rng = np.random.default_rng([i, KINDS.index(k)])
            try:
                inj = defects.inject(k, y.copy(), None, rng)
            except defects.InjectionError:
                continue
            q = tmp / f"{k}{i}_{rate}.wav"
            sf.write(str(q), inj.audio.T, rate, subtype="PCM_24")
            b = load(q)
            check = defects.EXPECTED_CHECK[k]
            found[k]["n"] += 1
            found[k]["native"] += _serious(run_checks(b, only=check), check)
            found[k]["copy"] += _serious(run_checks(b.data, sr=b.sr, only=check), check)
            q.unlink()
        p.unlink()
    return {"rate": rate, "files": len(files), "false_warnings": fp, "found": found}


def markdown(results: list[dict], args: argparse.Namespace, seconds: float) -> str:
    cmd = " ".join(["python bench/checks_rates.py"] + sys.argv[1:])
    lines = ["# Quality checks at other sample rates", "",
             f"- **Command:** `{cmd}`",
             f"- **Corpus:** `{args.corpus}`, {results[0]['files']} clean test loops per rate (seed {args.seed}), "
             "converted exactly (periodic FFT resampling); one defect of each kind at its default strength per loop",
             f"- **Run:** {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {seconds:.0f} s", "",
             "Each cell: at the file's own rate (now) / on the 48 kHz copy (before).", "",
             "| rate | clean loops with a false warning | " + " | ".join(KINDS) + " |",
             "|---|---|" + "---|" * len(KINDS)]
    for r in results:
        n = r["files"]

        def fps(way: str) -> str:
            d = r["false_warnings"][way]
            return ", ".join(f"{c} {v}" for c, v in sorted(d.items())) or "none"

        cells = [f"{r['found'][k]['native']}/{r['found'][k]['n']} / {r['found'][k]['copy']}" for k in KINDS]
        lines.append(f"| {r['rate']} Hz | {fps('native')} / {fps('copy')} (of {n}) | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, default=ROOT / "bench" / "corpus")
    ap.add_argument("--rates", default="44100,88200,96000,48000")
    ap.add_argument("--files", type=int, default=120)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "checks_rates.md")
    ap.add_argument("--json", action="store_true", help="Print the results as JSON too.")
    args = ap.parse_args()
    files = sorted(args.corpus.glob("*/test/*.wav"))
    if not files:
        print(f"no clean test loops under {args.corpus}/*/test/: build the corpus first (loopwatch bench corpus)",
              file=sys.stderr)
        return 2
    pick = np.random.default_rng(args.seed).choice(len(files), min(args.files, len(files)), replace=False)
    files = [files[i] for i in sorted(pick)]
    t0 = time.perf_counter()
    results = []
    with tempfile.TemporaryDirectory(prefix="loopwatch-rates-") as tmp:
        for rate in (int(r) for r in args.rates.split(",")):
            res = measure(args.corpus, rate, files, Path(tmp))
            results.append(res)
            print(json.dumps(res), flush=True)
    text = markdown(results, args, time.perf_counter() - t0)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
