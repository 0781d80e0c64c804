"""The report as one self-contained HTML page for people.

Findings come first, each with when TensorFlow would run it and the paths
that reach it, then the op histogram, the signatures, the assets and the
variables. No script, no external resource: the page can be attached to a
ticket or opened offline. Every value from the model is escaped.
"""

from __future__ import annotations

from html import escape
from typing import Any, Iterable

from .catalog import SEVERITIES, severity_rank
from .report import Report

_STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:72em;padding:0 1em;color:#1d232a}
h1{font-size:1.5em;margin-bottom:.2em} h2{margin-top:2em;border-bottom:1px solid #ccd;padding-bottom:.2em}
code{font:12.5px ui-monospace,monospace;background:#f3f4f7;padding:0 .2em;border-radius:3px;word-break:break-all}
table{border-collapse:collapse;width:100%} th,td{text-align:left;padding:.25em .6em;border-bottom:1px solid #e4e6ea;
vertical-align:top} th{background:#f3f4f7}
.finding{border-left:6px solid #999;padding:.5em .9em;margin:.7em 0;background:#fafbfc}
.sev-critical{border-color:#8b0000}.sev-high{border-color:#d9480f}.sev-medium{border-color:#e8a400}
.sev-low{border-color:#1c7ed6}.sev-info{border-color:#adb5bd}
.badge{display:inline-block;padding:0 .5em;border-radius:3px;color:#fff;font-weight:600;font-size:.85em;
text-transform:uppercase;background:#868e96}
.badge.sev-critical{background:#8b0000}.badge.sev-high{background:#d9480f}.badge.sev-medium{background:#b07d00}
.badge.sev-low{background:#1c7ed6}.when{font-weight:600;margin-left:.5em}.verdict-fail{color:#8b0000}
.verdict-pass{color:#2b8a3e} ol.via{margin:.3em 0 0 1.2em;padding:0} .muted{color:#6b7280}
"""


def _rows(rows: Iterable[Iterable[Any]], headers: list[str]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _finding(f: Any) -> str:
    when = ""
    if f.when:
        loaders = f" ({', '.join(f.loaders)})" if f.loaders else ""
        when = f'<span class="when">runs: {escape(f.when)}{escape(loaders)}</span>'
    via = ""
    if f.via:
        via = '<ol class="via">' + "".join(f"<li><code>{escape(' > '.join(p))}</code></li>" for p in f.via) + "</ol>"
    op = f' data-op="{escape(f.op)}"' if f.op else ""
    return (f'<article class="finding sev-{f.severity}" data-severity="{f.severity}" data-when="{escape(f.when)}"'
            f'{op}><div><span class="badge sev-{f.severity}">{f.severity}</span> <strong>{escape(f.category)}'
            f"</strong>{when}</div><p>{escape(f.message)}</p><div class=\"muted\">at <code>{escape(f.location)}"
            f"</code></div>{via}</article>")


def to_html(report: Report, *, fail_on: str = "high") -> str:
    failing = report.at_least(fail_on)
    counts = {s: sum(1 for f in report.findings if f.severity == s) for s in SEVERITIES}
    summary = ", ".join(f"{counts[s]} {s}" for s in reversed(SEVERITIES) if counts[s]) or "no findings"
    verdict = (f'<p id="verdict" class="verdict-fail">FAIL: {len(failing)} finding(s) at or above '
               f"{escape(fail_on)}</p>") if failing else (
        f'<p id="verdict" class="verdict-pass">OK: nothing at or above {escape(fail_on)}</p>')
    shown = [f for f in report.sorted_findings() if severity_rank(f.severity) >= severity_rank("low")]
    hidden = len(report.findings) - len(shown)
    findings = "".join(_finding(f) for f in shown) or "<p>No findings at low or above.</p>"
    if hidden:
        findings += f'<details><summary>{hidden} info finding(s)</summary>' + "".join(
            _finding(f) for f in report.sorted_findings() if f.severity == "info") + "</details>"
    histogram = sorted(report.op_counts().items(), key=lambda kv: (-kv[1], kv[0]))
    ops = _rows(histogram, ["op", "count"])
    sigs = _rows(((s["meta_graph"], s["name"], ", ".join(f"{k}={v}" for k, v in s["inputs"].items()),
                   ", ".join(f"{k}={v}" for k, v in s["outputs"].items())) for s in report.signatures),
                 ["meta graph", "signature", "inputs", "outputs"]) if report.signatures else "<p>None.</p>"
    assets = _rows(((a["file"], a["tensor"], "yes" if a["outside"] else "no") for a in report.assets),
                   ["file", "fed to", "outside the folder"]) if report.assets else "<p>None.</p>"
    variables = _rows(((v["name"], v["dtype"], "x".join(map(str, v["shape"])) or "scalar")
                       for v in report.variables), ["name", "dtype", "shape"]) if report.variables else "<p>None.</p>"
    allow = f"<p>Allowlist: <code>{escape(report.allowlist)}</code></p>" if report.allowlist else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>tfformats audit: {escape(report.path)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{_STYLE}</style></head>
<body><header><h1>tfformats audit</h1><p><code id="audited-path">{escape(report.path)}</code>
({escape(report.kind)}, {len(report.sites)} nodes, {len(report.op_counts())} distinct ops)</p>
<p id="summary">{escape(summary)}</p>{verdict}{allow}</header>
<section id="findings"><h2>Findings</h2>{findings}</section>
<section id="ops"><h2>Op histogram</h2>{ops}</section>
<section id="signatures"><h2>Signatures</h2>{sigs}</section>
<section id="assets"><h2>Assets</h2>{assets}</section>
<section id="variables"><h2>Variables</h2>{variables}</section>
<footer class="muted"><p>Report schema version {report.to_dict()["schema_version"]}; standard ops from
TensorFlow {escape(report.standard_ops_version)}. Nothing from the model was executed.</p></footer>
</body></html>
"""


__all__ = ["to_html"]
