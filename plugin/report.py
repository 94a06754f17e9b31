"""Render evaluation summaries: terminal tables, and a self-contained HTML page with inline SVG.

Input is the dict from :func:`plugin.evaluation.summarize` (JSON output is that dict as is), so
renderers never recompute numbers. The HTML has no external scripts, styles or fonts: it opens
from disk, offline, and can be attached to a ticket.
"""

from __future__ import annotations

import html
import math
from typing import Any

_ESC = html.escape


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) if rows else len(str(h))
              for i, h in enumerate(headers)]
    line = "  ".join(str(h).ljust(w) for h, w in zip(headers, widths))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(str(c).ljust(w) for c, w in zip(r, widths)) for r in rows]
    return "\n".join(out)


def render_text(s: dict[str, Any], *, title: str = "evaluation", max_classes: int = 30) -> str:
    """A terminal report: headline numbers, worst classes, confusions, coverage, cost, latency."""
    lines = [f"== {title}: {s['n']} items",
             f"accuracy {_pct(s['accuracy'])}   macro-F1 {_pct(s['macro_f1'])}   "
             f"ECE {s['reliability']['ece']:.3f}",
             f"other-rate {_pct(s['other_rate'])}   needs-review {_pct(s['needs_review_rate'])}   "
             f"auto-applied {_pct(s['decisions'].get('auto_apply', 0.0))} at precision "
             f"{_pct(s['auto_apply_precision'])}",
             f"classifiers {s['classifiers']} (llm failures {s.get('llm_failures', 0)})   models {', '.join(s['model_versions']) or '-'}   "
             f"prompts {', '.join(s['prompt_versions']) or '-'}",
             f"tokens prompt {s['tokens']['prompt']} ({s['tokens']['prompt_per_item']:.1f}/item)  "
             f"completion {s['tokens']['completion']} ({s['tokens']['completion_per_item']:.1f}/item)  "
             f"cost ${s['cost']['total']:.4f} (${s['cost']['per_1k_tickets']:.4f} per 1k tickets)",
             f"latency p50 {s['latency_ms']['p50']:.1f} ms   p95 {s['latency_ms']['p95']:.1f} ms"]
    if s.get("llm_calls") or s.get("savings"):  # a run where an LLM could be asked
        lines.append(_llm_line(s))
    lines.append("")
    classes = sorted(s["per_class"], key=lambda c: (c["f1"], c["label"]))
    shown = classes[:max_classes]
    lines.append(f"per class (worst {len(shown)} of {len(classes)} by F1):")
    lines.append(_table(["label", "precision", "recall", "F1", "support"],
                        [[c["label"], _pct(c["precision"]), _pct(c["recall"]), _pct(c["f1"]),
                          str(c["support"])] for c in shown]))
    if s["most_confused"]:
        lines += ["", "most confused (gold -> predicted):",
                  _table(["gold", "predicted", "count"],
                         [[m["gold"], m["predicted"], str(m["count"])] for m in s["most_confused"]])]
    lines += ["", "coverage vs accuracy (score >= threshold):",
              _table(["threshold", "coverage", "accuracy", "n"],
                     [[f"{c['threshold']:.2f}", _pct(c["coverage"]), _pct(c["accuracy"]), str(c["n"])]
                      for c in s["coverage"][::2]])]
    return "\n".join(lines)


def _llm_line(s: dict[str, Any]) -> str:
    """Share of items that reached the LLM, with what that saved against sending all of them."""
    by = s.get("latency_ms_by_path") or {}
    line = (f"reached the LLM {_pct(s['llm_share'])} ({s['llm_calls']}/{s['n']})   latency p50/p95 llm "
            f"{by.get('llm', {}).get('p50', 0):.1f}/{by.get('llm', {}).get('p95', 0):.1f} ms, fallback only "
            f"{by.get('fallback_only', {}).get('p50', 0):.1f}/{by.get('fallback_only', {}).get('p95', 0):.1f} ms")
    sv = s.get("savings")
    if sv:
        only, saved = sv["llm_only_estimate"], sv["saved"]
        line += (f"\nsaved vs LLM-only (estimate): {saved['tokens']} tokens ({_pct(saved['tokens_share'])}), "
                 f"${saved['cost']:.4f} ({_pct(saved['share'])}); LLM-only would cost ${only['cost']:.4f} "
                 f"for {only['tokens']} tokens")
    return line


def render_compare_text(names: list[str], summaries: list[dict[str, Any]], pairs: list[dict[str, Any]],
                        disagreements: list[dict[str, Any]], max_rows: int = 20) -> str:
    """Side-by-side headline numbers, paired tests and a sample of per-item disagreements."""
    rows = []
    for key, fmt in (("accuracy", _pct), ("macro_f1", _pct), ("other_rate", _pct),
                     ("needs_review_rate", _pct), ("auto_apply_precision", _pct)):
        rows.append([key] + [fmt(s[key]) for s in summaries])
    rows.append(["auto_applied"] + [_pct(s["decisions"].get("auto_apply", 0.0)) for s in summaries])
    rows.append(["ECE"] + [f"{s['reliability']['ece']:.3f}" for s in summaries])
    rows.append(["tokens/item"] + [f"{s['tokens']['prompt_per_item'] + s['tokens']['completion_per_item']:.1f}"
                                   for s in summaries])
    rows.append(["cost/1k tickets"] + [f"${s['cost']['per_1k_tickets']:.4f}" for s in summaries])
    rows.append(["latency p50 ms"] + [f"{s['latency_ms']['p50']:.1f}" for s in summaries])
    rows.append(["latency p95 ms"] + [f"{s['latency_ms']['p95']:.1f}" for s in summaries])
    out = [f"== compare: {summaries[0]['n']} items", _table(["metric", *names], rows), "",
           "paired McNemar tests (b = first right & second wrong, c = the reverse):",
           _table(["A", "B", "b", "c", "p exact", "chi2", "p chi2", "verdict"],
                  [[p["a"], p["b_name"], str(p["b"]), str(p["c"]), f"{p['p_exact']:.4g}",
                    f"{p['chi2']:.3f}", f"{p['p_chi2']:.4g}", p["verdict"]] for p in pairs])]
    out += ["", f"disagreements: {len(disagreements)} items"
            + (f" (first {max_rows})" if len(disagreements) > max_rows else "")]
    if disagreements:
        out.append(_table(["id", "gold", *names, "text"],
                          [[d["id"], d["gold"], *d["labels"], d["text"][:60].replace("\n", " ")]
                           for d in disagreements[:max_rows]]))
    return "\n".join(out)


# ---------------------------------------------------------------------------------- SVG plots

def _heat_colour(v: float) -> str:
    """White -> dark blue for 0 -> 1."""
    v = min(max(v, 0.0), 1.0)
    r = int(255 - v * (255 - 8))
    g = int(255 - v * (255 - 48))
    b = int(255 - v * (255 - 107))
    return f"rgb({r},{g},{b})"


def confusion_svg(labels: list[str], matrix: list[list[int]], *, max_labels: int = 80) -> str:
    """Row-normalised confusion-matrix heatmap (rows = gold). Counts are in each cell's tooltip."""
    keep = [i for i in range(len(labels)) if sum(matrix[i]) or sum(row[i] for row in matrix)]
    keep = keep[:max_labels]
    n = len(keep)
    cell = max(6, min(28, 720 // max(n, 1)))
    margin = 10 + 6 * max((len(labels[i]) for i in keep), default=4)
    size = margin + n * cell + 10
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="confusion" width="{size}" height="{size}" '
             f'viewBox="0 0 {size} {size}" font-family="sans-serif" font-size="{min(11, cell - 1)}">',
             f'<title>Confusion matrix (rows: gold, columns: predicted, row-normalised)</title>']
    for r, i in enumerate(keep):
        total = sum(matrix[i]) or 1
        y = margin + r * cell
        parts.append(f'<text x="{margin - 4}" y="{y + cell * 0.75:.1f}" text-anchor="end">{_ESC(labels[i])}</text>')
        for c, j in enumerate(keep):
            v = matrix[i][j]
            x = margin + c * cell
            parts.append(f'<rect x="{x}" y="{y}" width="{cell}" height="{cell}" fill="{_heat_colour(v / total)}" '
                         f'stroke="#ddd" stroke-width="0.5"><title>{_ESC(labels[i])} -> {_ESC(labels[j])}: {v}'
                         f'</title></rect>')
            if v and cell >= 18:
                colour = "#fff" if v / total > 0.5 else "#000"
                parts.append(f'<text x="{x + cell / 2:.1f}" y="{y + cell * 0.7:.1f}" text-anchor="middle" '
                             f'fill="{colour}">{v}</text>')
    for c, j in enumerate(keep):
        x = margin + c * cell + cell * 0.7
        parts.append(f'<text transform="translate({x:.1f},{margin - 4}) rotate(-90)">{_ESC(labels[j])}</text>')
    parts.append("</svg>")
    return "".join(parts)


def reliability_svg(bins: list[dict[str, Any]], ece: float) -> str:
    """Reliability diagram: accuracy per score bin against the diagonal of perfect calibration."""
    w, h, m = 420, 420, 50
    plot = w - 2 * m

    def xy(x: float, y: float) -> tuple[float, float]:
        return m + x * plot, h - m - y * plot

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="reliability" width="{w}" height="{h}" '
             f'viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="11">',
             f'<title>Reliability diagram, ECE {ece:.3f}</title>',
             f'<rect x="{m}" y="{m}" width="{plot}" height="{plot}" fill="#fafafa" stroke="#999"/>']
    x0, y0 = xy(0, 0)
    x1, y1 = xy(1, 1)
    parts.append(f'<line x1="{x0}" y1="{y0}" x2="{x1}" y2="{y1}" stroke="#999" stroke-dasharray="4 3"/>')
    total = sum(b["n"] for b in bins) or 1
    for b in bins:
        if not b["n"]:
            continue
        bx, by = xy(b["lo"], b["accuracy"])
        _, base = xy(0, 0)
        bw = (b["hi"] - b["lo"]) * plot
        parts.append(f'<rect class="bar" x="{bx + 1:.1f}" y="{by:.1f}" width="{bw - 2:.1f}" '
                     f'height="{base - by:.1f}" fill="#3b6ea8" fill-opacity="{0.35 + 0.65 * math.sqrt(b["n"] / total):.2f}">'
                     f'<title>scores {b["lo"]:.1f}-{b["hi"]:.1f}: n={b["n"]}, accuracy {b["accuracy"]:.3f}, '
                     f'mean score {b["confidence"]:.3f}</title></rect>')
        cx, cy = xy(b["confidence"], b["accuracy"])
        parts.append(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="3" fill="#c0392b"/>')
    for t in (0, 0.25, 0.5, 0.75, 1.0):
        x, _ = xy(t, 0)
        _, y = xy(0, t)
        parts.append(f'<text x="{x:.1f}" y="{h - m + 15}" text-anchor="middle">{t:g}</text>')
        parts.append(f'<text x="{m - 6}" y="{y + 4:.1f}" text-anchor="end">{t:g}</text>')
    parts.append(f'<text x="{w / 2}" y="{h - 12}" text-anchor="middle">score (confidence)</text>')
    parts.append(f'<text transform="translate(14,{h / 2}) rotate(-90)" text-anchor="middle">accuracy</text>')
    parts.append(f'<text x="{w / 2}" y="{m - 12}" text-anchor="middle">ECE {ece:.3f}</text>')
    parts.append("</svg>")
    return "".join(parts)


def coverage_svg(coverage: list[dict[str, Any]]) -> str:
    """Coverage (share auto-applied) and accuracy of the covered items against the threshold."""
    w, h, m = 420, 300, 45
    pw, ph = w - 2 * m, h - 2 * m

    def path(key: str) -> str:
        pts = [(m + c["threshold"] * pw, h - m - c[key] * ph) for c in coverage if c[key] is not None]
        return " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)

    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="coverage" width="{w}" height="{h}" '
            f'viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="11">'
            f'<title>Coverage and accuracy by threshold</title>'
            f'<rect x="{m}" y="{m}" width="{pw}" height="{ph}" fill="#fafafa" stroke="#999"/>'
            f'<polyline points="{path("coverage")}" fill="none" stroke="#3b6ea8" stroke-width="2"/>'
            f'<polyline points="{path("accuracy")}" fill="none" stroke="#c0392b" stroke-width="2"/>'
            f'<text x="{m}" y="{m - 10}" fill="#3b6ea8">coverage</text>'
            f'<text x="{m + 80}" y="{m - 10}" fill="#c0392b">accuracy of covered</text>'
            f'<text x="{m}" y="{h - m + 15}">0</text><text x="{w - m}" y="{h - m + 15}" text-anchor="end">1</text>'
            f'<text x="{m - 6}" y="{h - m}" text-anchor="end">0</text>'
            f'<text x="{m - 6}" y="{m + 8}" text-anchor="end">1</text>'
            f'<text x="{w / 2}" y="{h - 10}" text-anchor="middle">threshold</text></svg>')


DECISION_COLOURS = {"auto_apply": "#2e7d32", "suggest": "#3b6ea8", "needs_review": "#e0a100"}


def timeline_svg(rows: list[dict[str, Any]], *, w: int = 640, h: int = 240) -> str:
    """Stacked bars of decisions per time bucket, with the "other" rate as a red line (right axis)."""
    m, top = 40, 20
    pw, ph = w - 2 * m, h - m - top
    peak = max((r["n"] for r in rows), default=0) or 1
    bw = pw / max(len(rows), 1)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="timeline" width="{w}" height="{h}" '
             f'viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="11" role="img">',
             "<title>Tickets per period by decision; red line: share labelled other</title>",
             f'<rect x="{m}" y="{top}" width="{pw}" height="{ph}" fill="#fafafa" stroke="#999"/>']
    points = []
    for i, r in enumerate(rows):
        x, base = m + i * bw, top + ph
        for key, colour in DECISION_COLOURS.items():
            bh = r[key] / peak * ph
            if bh:
                parts.append(f'<rect class="bar {key}" x="{x + 1:.1f}" y="{base - bh:.1f}" width="{bw - 2:.1f}" '
                             f'height="{bh:.1f}" fill="{colour}"><title>{key}: {r[key]}</title></rect>')
            base -= bh
        if r["n"]:
            points.append(f'{x + bw / 2:.1f},{top + ph - r["other"] / r["n"] * ph:.1f}')
    if points:
        parts.append(f'<polyline class="other-rate" points="{" ".join(points)}" fill="none" stroke="#c0392b" '
                     'stroke-width="2"/>')
    parts.append(f'<text x="{m - 6}" y="{top + 8}" text-anchor="end">{peak}</text>'
                 f'<text x="{m - 6}" y="{top + ph}" text-anchor="end">0</text>'
                 f'<text x="{w - m + 4}" y="{top + 8}" fill="#c0392b">100%</text>'
                 f'<text x="{w - m + 4}" y="{top + ph}" fill="#c0392b">0%</text>')
    x = m
    for key, colour in DECISION_COLOURS.items():
        parts.append(f'<rect x="{x}" y="{h - 16}" width="10" height="10" fill="{colour}"/>'
                     f'<text x="{x + 14}" y="{h - 7}">{key.replace("_", " ")}</text>')
        x += 110
    parts.append(f'<line x1="{x}" y1="{h - 11}" x2="{x + 14}" y2="{h - 11}" stroke="#c0392b" stroke-width="2"/>'
                 f'<text x="{x + 18}" y="{h - 7}">other-rate</text></svg>')
    return "".join(parts)


def histogram_svg(counts: list[int], thresholds: dict[str, float], *, w: int = 420, h: int = 240) -> str:
    """Score histogram with the suggest and auto-apply thresholds marked."""
    m, top = 40, 20
    pw, ph = w - 2 * m, h - m - top
    peak = max(counts, default=0) or 1
    bw = pw / max(len(counts), 1)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="histogram" width="{w}" height="{h}" '
             f'viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="11" role="img">',
             "<title>Confidence histogram</title>",
             f'<rect x="{m}" y="{top}" width="{pw}" height="{ph}" fill="#fafafa" stroke="#999"/>']
    for i, c in enumerate(counts):
        if not c:
            continue
        bh = c / peak * ph
        lo = i / len(counts)
        parts.append(f'<rect class="bar" x="{m + i * bw + 1:.1f}" y="{top + ph - bh:.1f}" width="{bw - 2:.1f}" '
                     f'height="{bh:.1f}" fill="#3b6ea8"><title>score {lo:.1f}-{lo + 1 / len(counts):.1f}: {c}'
                     '</title></rect>')
    for name, value in thresholds.items():
        x = m + value * pw
        parts.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + ph}" stroke="#c0392b" '
                     f'stroke-dasharray="4 3"/><text x="{x + 3:.1f}" y="{top + 12}" fill="#c0392b">'
                     f'{_ESC(name.replace("_", " "))} {value:.2f}</text>')
    parts.append(f'<text x="{m}" y="{top + ph + 14}">0</text><text x="{w - m}" y="{top + ph + 14}" '
                 f'text-anchor="end">1</text><text x="{m - 6}" y="{top + 8}" text-anchor="end">{peak}</text>'
                 f'<text x="{w / 2}" y="{h - 8}" text-anchor="middle">score</text></svg>')
    return "".join(parts)


def rates_svg(rows: list[dict[str, Any]], *, w: int = 420) -> str:
    """One bar per row (``label``, ``rate``, ``low``, ``high``, ``k``, ``n``) with its interval as a whisker."""
    m, rh, label_w = 10, 22, 130
    h = m * 2 + rh * max(len(rows), 1)
    pw = w - label_w - 2 * m - 60
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="rates" width="{w}" height="{h}" '
             f'viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="11" role="img">',
             "<title>Agreement with agents per category, with 95% Wilson intervals</title>"]
    for i, r in enumerate(rows):
        y = m + i * rh
        x0 = label_w + m
        parts.append(f'<text x="{label_w}" y="{y + 14}" text-anchor="end">{_ESC(r["label"])}</text>'
                     f'<rect x="{x0}" y="{y + 4}" width="{pw}" height="12" fill="#eee"/>')
        if r["rate"] is not None:
            parts.append(f'<rect class="bar" x="{x0}" y="{y + 4}" width="{r["rate"] * pw:.1f}" height="12" '
                         f'fill="#2e7d32"><title>{r["k"]}/{r["n"]}</title></rect>'
                         f'<line x1="{x0 + r["low"] * pw:.1f}" y1="{y + 10}" x2="{x0 + r["high"] * pw:.1f}" '
                         f'y2="{y + 10}" stroke="#222" stroke-width="1.5"/>'
                         f'<text x="{x0 + pw + 6}" y="{y + 14}">{100 * r["rate"]:.0f}% ({r["k"]}/{r["n"]})</text>')
    parts.append("</svg>")
    return "".join(parts)


_CSS = """body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1400px}
table{border-collapse:collapse;margin:8px 0 20px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
td:first-child,th:first-child{text-align:left}h1{font-size:22px}h2{font-size:17px;margin-top:28px}
.kpi{display:inline-block;margin:0 24px 12px 0}.kpi b{display:block;font-size:22px}
.plots{display:flex;flex-wrap:wrap;gap:24px;align-items:flex-start}"""


def render_html(s: dict[str, Any], *, title: str = "Triage evaluation",
                meta: dict[str, str] | None = None) -> str:
    """One self-contained HTML page: headline numbers, plots, per-class and confusion tables."""
    kpis = [("items", str(s["n"])), ("accuracy", _pct(s["accuracy"])), ("macro-F1", _pct(s["macro_f1"])),
            ("ECE", f"{s['reliability']['ece']:.3f}"), ("other-rate", _pct(s["other_rate"])),
            ("needs review", _pct(s["needs_review_rate"])),
            ("auto-applied", _pct(s["decisions"].get("auto_apply", 0.0))),
            ("auto-apply precision", _pct(s["auto_apply_precision"])),
            ("cost / 1k tickets", f"${s['cost']['per_1k_tickets']:.4f}"),
            ("latency p50 / p95", f"{s['latency_ms']['p50']:.0f} / {s['latency_ms']['p95']:.0f} ms")]
    if s.get("llm_calls") or s.get("savings"):
        kpis.append(("reached the LLM", f"{_pct(s['llm_share'])} ({s['llm_calls']}/{s['n']})"))
        if s.get("savings"):
            sv = s["savings"]["saved"]
            kpis.append(("saved vs LLM-only", f"${sv['cost']:.4f} ({_pct(sv['share'])})"))
            kpis.append(("tokens saved", f"{sv['tokens']} ({_pct(sv['tokens_share'])})"))
    out = ["<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
           f"<title>{_ESC(title)}</title><style>{_CSS}</style></head><body>",
           f"<h1>{_ESC(title)}</h1>"]
    if meta:
        out.append("<p>" + " · ".join(f"<b>{_ESC(k)}</b>: {_ESC(str(v))}" for k, v in meta.items()) + "</p>")
    out.append("<div>" + "".join(f"<div class='kpi'>{_ESC(k)}<b>{_ESC(v)}</b></div>" for k, v in kpis) + "</div>")
    out.append(f"<p>classifiers: {_ESC(str(s['classifiers']))}; models: {_ESC(', '.join(s['model_versions']) or '-')};"
               f" prompts: {_ESC(', '.join(s['prompt_versions']) or '-')}; tokens: {s['tokens']['prompt']} prompt + "
               f"{s['tokens']['completion']} completion; total cost ${s['cost']['total']:.4f}</p>")
    if s.get("savings"):
        only = s["savings"]["llm_only_estimate"]
        by = s.get("latency_ms_by_path") or {}
        out.append(f"<p class='savings'>LLM-only estimate: {only['tokens']} tokens, ${only['cost']:.4f} "
                   f"({_ESC(s['savings']['basis'])}). Latency p50/p95: LLM path "
                   f"{by.get('llm', {}).get('p50', 0):.0f}/{by.get('llm', {}).get('p95', 0):.0f} ms, fallback only "
                   f"{by.get('fallback_only', {}).get('p50', 0):.0f}/{by.get('fallback_only', {}).get('p95', 0):.0f}"
                   " ms.</p>")
    out.append("<div class='plots'><div><h2>Reliability (calibration)</h2>"
               + reliability_svg(s["reliability"]["bins"], s["reliability"]["ece"])
               + "</div><div><h2>Coverage vs accuracy</h2>" + coverage_svg(s["coverage"]) + "</div></div>")
    out.append("<h2>Confusion matrix</h2>" + confusion_svg(s["confusion"]["labels"], s["confusion"]["matrix"]))
    out.append("<h2>Most confused pairs</h2><table><tr><th>gold</th><th>predicted</th><th>count</th></tr>"
               + "".join(f"<tr><td>{_ESC(m['gold'])}</td><td>{_ESC(m['predicted'])}</td><td>{m['count']}</td></tr>"
                         for m in s["most_confused"]) + "</table>")
    out.append("<h2>Coverage vs accuracy</h2><table><tr><th>threshold</th><th>coverage</th><th>accuracy</th>"
               "<th>n</th></tr>" + "".join(
                   f"<tr><td>{c['threshold']:.2f}</td><td>{_pct(c['coverage'])}</td><td>{_pct(c['accuracy'])}</td>"
                   f"<td>{c['n']}</td></tr>" for c in s["coverage"]) + "</table>")
    out.append("<h2>Per class</h2><table><tr><th>label</th><th>precision</th><th>recall</th><th>F1</th>"
               "<th>support</th><th>predicted</th></tr>" + "".join(
                   f"<tr><td>{_ESC(c['label'])}</td><td>{_pct(c['precision'])}</td><td>{_pct(c['recall'])}</td>"
                   f"<td>{_pct(c['f1'])}</td><td>{c['support']}</td><td>{c['predicted']}</td></tr>"
                   for c in sorted(s["per_class"], key=lambda c: c["f1"])) + "</table>")
    out.append("</body></html>")
    return "\n".join(out)
