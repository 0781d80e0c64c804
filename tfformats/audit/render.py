"""Render a report as text, JSON, SARIF or HTML (one string each)."""

from __future__ import annotations

import io
import json

from .report import Report


def render_text(report: Report, *, fail_on: str, show: str = "low", ops: bool = False) -> str:
    out = io.StringIO()
    counts = report.to_dict()["counts"]
    summary = ", ".join(f"{n} {s}" for s, n in reversed(list(counts.items())) if n) or "no findings"
    out.write(f"{report.path}: {report.kind}, {len(report.sites)} nodes, {len(report.op_counts())} distinct ops; "
              f"{summary}\n")
    if report.allowlist:
        out.write(f"allowlist: {report.allowlist}\n")
    shown = set(report.at_least(show))
    for f in report.sorted_findings():
        if f not in shown:
            continue
        when = f" [{f.when}{': ' + ', '.join(f.loaders) if f.loaders else ''}]" if f.when else ""
        out.write(f"\n[{f.severity}] {f.category}{when}: {f.message}\n    at {f.location}\n")
        for path in f.via[:4]:
            out.write(f"    via {' > '.join(path)}\n")
    if ops:
        rows = [("OP", "WHEN", "WHERE")] + [(s.op, report.when_of(s), s.location) for s in report.sites]
        widths = [max(len(r[i]) for r in rows) for i in range(2)]
        out.write("\n")
        for row in rows:
            out.write(f"{row[0].ljust(widths[0])}  {row[1].ljust(widths[1])}  {row[2]}".rstrip() + "\n")
    failing = report.at_least(fail_on)
    if failing:
        out.write(f"\nFAIL: {len(failing)} finding(s) at or above {fail_on}\n")
    else:
        out.write(f"\nOK: nothing at or above {fail_on}\n")
    return out.getvalue()


def render_json(report: Report, *, fail_on: str) -> str:
    doc = report.to_dict()
    doc["fail_on"] = fail_on
    doc["failed"] = bool(report.at_least(fail_on))
    return json.dumps(doc, indent=2) + "\n"


def render(report: Report, fmt: str, *, fail_on: str = "high", show: str = "low", ops: bool = False) -> str:
    """The report in ``fmt`` ("text", "json", "sarif" or "html")."""
    if fmt == "json":
        return render_json(report, fail_on=fail_on)
    if fmt == "sarif":
        from .sarif import to_sarif

        return json.dumps(to_sarif(report), indent=2) + "\n"
    if fmt == "html":
        from .html import to_html

        return to_html(report, fail_on=fail_on)
    return render_text(report, fail_on=fail_on, show=show, ops=ops)


__all__ = ["render", "render_json", "render_text"]
