"""Write the benchmark's Markdown report from its results dict (see :mod:`~loopwatch.evaluation.benchmark`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def _f(x: Any, nd: int = 3) -> str:
    if x is None:
        return "–"
    if isinstance(x, float):
        return f"{x:.{nd}f}"
    return str(x)


def _pct(x: Any) -> str:
    return "–" if x is None else f"{100 * x:.1f} %"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out


def render_report(res: dict[str, Any]) -> str:
    """The Markdown text of the report."""
    meta = res.get("corpus_meta") or {}
    cfg = res.get("config") or {}
    v = res.get("versions") or {}
    L: list[str] = ["# loopwatch benchmark", ""]
    L.append(f"- **Command:** `{res.get('command') or '(library call)'}`")
    L.append(f"- **Corpus:** `{res.get('corpus')}` (size `{meta.get('size', '?')}`, seed **{meta.get('seed', '?')}**, "
             f"made by `{meta.get('command') or meta.get('generator', '?')}`)")
    encs = ", ".join(f"`{k}` ({i.get('kind')}, dim {i.get('dim')}" + (f", prep {i['prep_version']}" if i.get("prep_version") else "")
                     + ")" for k, i in (res.get("features") or {}).items()) or "none (checks only)"
    L.append(f"- **Encoders:** {encs}")
    tools = meta.get("tools") or {}
    L.append("- **Versions:** " + ", ".join(f"{k} {val}" for k, val in v.items())
             + (f"; corpus rendered with {tools.get('fluidsynth', '?')} ({tools.get('fluidsynth_mode', '?')}), "
                f"{tools.get('soundfont', '?')}, {tools.get('espeak-ng', '?').split('  ')[0]}" if tools else ""))
    L.append(f"- **Settings:** threshold = {cfg.get('quantile', 0.95):g} quantile of validation scores; "
             f"check tolerance {cfg.get('tolerance_ms', 10):g} ms; findings counted from severity "
             f"`{cfg.get('min_severity', 'warn')}`")
    L.append(f"- **Run:** {res.get('created', '')}, {res.get('seconds', '?')} s")
    L.append("")
    counts = meta.get("counts") or {}
    if counts:
        L += ["## Corpus", ""]
        keys = ["normal/train", "normal/val", "normal/test", "out-of-style", "defect"]
        L += _table(["library"] + keys, [[lib] + [str(c.get(k, 0)) for k in keys] for lib, c in sorted(counts.items())])
        L.append("")

    dets = res.get("detectors") or []
    if dets:
        L += ["## Outlier detectors", "",
              "Fitted on each library's train split (validation split for early stopping and the threshold); "
              "tested on its held-out normal loops against every anomaly. AUROC with a 95 % bootstrap interval; "
              "precision, recall and F1 of `score > threshold`.", ""]
        for enc in dict.fromkeys(d["encoder"] for d in dets):
            L += [f"### Encoder `{enc}`", ""]
            rows = []
            for d in [d for d in dets if d["encoder"] == enc]:
                m = d["metrics"]["all"]
                fam = d["metrics"]["family"]
                ci = m.get("auroc_ci")
                rows.append([d["library"], d["detector"], f"{d['threshold']:.4g}",
                             _f(m.get("auroc")) + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else ""), _f(m.get("ap")),
                             _f(m["precision"]), _f(m["recall"]), _f(m["f1"]),
                             _f(fam.get("out-of-style", {}).get("auroc")), _f(fam.get("defect", {}).get("auroc")),
                             _f(fam.get("out-of-style", {}).get("f1")), _pct(d["metrics"].get("test_normal_flagged")),
                             _f(d["fit_seconds"], 1)])
            L += _table(["library", "detector", "threshold", "AUROC all", "AP all", "P", "R", "F1",
                         "AUROC out-of-style", "AUROC defect", "F1 out-of-style", "normal test flagged", "fit s"], rows)
            L.append("")
            L += [f"AUROC per anomaly kind (recall at the threshold in brackets), encoder `{enc}`:", ""]
            for lib in dict.fromkeys(d["library"] for d in dets if d["encoder"] == enc):
                ds = [d for d in dets if d["encoder"] == enc and d["library"] == lib]
                kinds = list(dict.fromkeys(k for d in ds for k in d["metrics"]["kind"]))
                kinds.sort(key=lambda k: (ds[0]["metrics"]["kind"][k]["family"] != "out-of-style", k))
                rows = []
                for k in kinds:
                    km = ds[0]["metrics"]["kind"][k]
                    rows.append([lib, km["family"], k, str(km["n"])]
                                + [f"{_f(d['metrics']['kind'][k]['auroc'])} ({_f(d['metrics']['kind'][k]['recall'], 2)})"
                                   for d in ds])
                L += _table(["library", "family", "kind", "n"] + [d["detector"] for d in ds], rows)
                L.append("")

    ch = res.get("checks")
    if ch:
        L += ["## Quality checks", "",
              f"Checks run: {', '.join(f'`{c}`' for c in ch.get('checks', []))}. "
              f"{ch['n_clean']} clean loops and {ch['n_defect']} defect files; "
              f"{ch['seconds']:.1f} s of checking for {ch['audio_seconds']:.0f} s of audio "
              f"({1000 * ch['seconds'] / max(ch['n_clean'] + ch['n_defect'], 1):.1f} ms per file).", "",
              "Per defect kind and strength, both libraries pooled. A defect file is detected when a finding of "
              "the expected check (severity ≥ "
              f"{ch['min_severity']}) lies within {ch['tolerance_ms']:g} ms of the injected span; precision counts "
              "as false alarms the clean originals the check fires on and defect files where it fires elsewhere. "
              "Localisation: onset error of the best finding (localised kinds only).", ""]
        if ch.get("not_run"):
            L += [f"No check produced findings named {', '.join(f'`{n}`' for n in ch['not_run'])}, and none declared "
                  "them: those defect kinds are listed as not run.", ""]
        rows = []
        for g in [g for g in ch["grades"] if g["library"] == "all"]:
            if g.get("not_run"):
                rows.append([g["kind"], f"`{g['check']}`", g["grade"] + (" *" if g["default"] else ""), str(g["n"]),
                             "not run", "–", "–", "–"])
                continue
            loc = (f"{g['loc_median_ms']:.2f} / {g['loc_p95_ms']:.2f}" if "loc_median_ms" in g else "–")
            rows.append([g["kind"], f"`{g['check']}`", g["grade"] + (" *" if g["default"] else ""), str(g["n"]),
                         _f(g["precision"], 2), f"{_f(g['recall'], 2)} [{g['recall_ci'][0]:.2f}, {g['recall_ci'][1]:.2f}]",
                         _f(g["f1"], 2), loc])
        L += _table(["defect", "check", "strength (* default)", "n", "precision", "recall [95 % CI]", "F1",
                     "loc. error median / p95 ms"], rows)
        L.append("")
        libs = sorted({g["library"] for g in ch["grades"]} - {"all"})
        if libs:
            L += ["F1 per library at the default strengths:", ""]
            rows = []
            for g in [g for g in ch["grades"] if g["library"] == "all" and g["default"] and not g.get("not_run")]:
                row = [g["kind"], g["grade"]]
                for lib in libs:
                    m = next((x for x in ch["grades"] if x["library"] == lib and x["kind"] == g["kind"]
                              and x["strength"] == g["strength"]), None)
                    row.append(f"{_f(m['f1'], 2)} (n={m['n']})" if m and not m.get("not_run") else "–")
                rows.append(row)
            L += _table(["defect", "strength"] + libs, rows)
            L.append("")
        L += ["False positives on clean loops (share of loops with at least one finding, 95 % Wilson interval):", ""]
        rows = []
        for name, row in ch["false_positives"].items():
            a = row["all"]
            rows.append([f"`{name}`"] + [f"{_pct(row[lib]['rate'])} ({row[lib]['flagged']}/{row[lib]['n']})" for lib in libs]
                        + [f"{_pct(a['rate'])} [{_pct(a['ci'][0])}, {_pct(a['ci'][1])}]"])
        L += _table(["check"] + libs + ["all"], rows)
        L.append("")
        cross = ch.get("crossfire") or {}
        names = ch.get("check_names") or []
        if cross and names:
            L += ["Cross-fire: share of files of each kind on which each check fires:", ""]
            rows = [[k, str(v.get("_n", ""))] + [_pct(v.get(n)) if v.get(n) else "·" for n in names]
                    for k, v in cross.items()]
            L += _table(["files", "n"] + [f"`{n}`" for n in names], rows)
            L.append("")
        if ch.get("errors"):
            L += [f"{len(ch['errors'])} file(s) could not be checked, e.g. `{next(iter(ch['errors'].values()))}`", ""]

    figs = res.get("figures") or []
    if figs:
        L += ["## Figures", "", "PNG files next to this report (regenerated by the command above; not in git):", ""]
        L += [f"- [{f}]({f})" for f in figs]
        L.append("")
    return "\n".join(L)


def write_report(res: dict[str, Any], path: str | os.PathLike) -> Path:
    p = Path(path)
    p.write_text(render_report(res), encoding="utf-8")
    return p
