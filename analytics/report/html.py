"""The weekly report as one self-contained HTML file: inline CSS, inline SVG charts, no scripts, no fetches."""

from __future__ import annotations

from html import escape
from typing import Any

from analytics.report import fmt
from analytics.report.svg import bar_chart, line_chart

_CSS = """
body{font-family:-apple-system,Segoe UI,Roboto,sans-serif;max-width:980px;margin:24px auto;padding:0 16px;color:#111827}
h1{font-size:22px;margin-bottom:4px}
h2{font-size:17px;margin-top:28px;border-bottom:1px solid #e5e7eb;padding-bottom:4px}
table{border-collapse:collapse;width:100%;font-size:13px;margin:8px 0}th,td{padding:4px 8px;text-align:left;
border-bottom:1px solid #f3f4f6}th{background:#f9fafb}td.n{text-align:right;font-variant-numeric:tabular-nums}
.worse{color:#b91c1c;font-weight:600}.better{color:#15803d;font-weight:600}.muted{color:#6b7280}
.charts{display:flex;flex-wrap:wrap;gap:8px}a{color:#1d4ed8}ul{font-size:13px}
"""


def _e(value: Any) -> str:
    return escape(str(value))


def _table(head: list[str], rows: list[list[str]], numeric: set[int] = frozenset()) -> str:
    th = "".join(f"<th>{_e(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f'<td class="n">{c}</td>' if i in numeric else f"<td>{c}</td>"
                                    for i, c in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _link(url: str, text: str) -> str:
    return f'<a href="{_e(url)}">{_e(text)}</a>'


def _cls(verdict: str) -> str:
    return {"worse": "worse", "regressed": "worse", "better": "better", "improved": "better"}.get(verdict, "muted")


def _charts(data: dict[str, Any]) -> str:
    cur, prev = data["daily"]["current"], data["daily"]["previous"]
    days = [d["date"][5:] for d in cur]
    charts = [
        bar_chart("Requests per day", days, [("this week", [d["requests"] for d in cur]),
                                             ("last week", [d["requests"] for d in prev])], lambda v: f"{v:,.0f}"),
        bar_chart("Cost per day (USD)", days, [("this week", [d["cost_usd"] for d in cur]),
                                               ("last week", [d["cost_usd"] for d in prev])], lambda v: f"${v:.3g}"),
        line_chart("Latency p95 per day (ms)", days, [("this week", [d["latency_p95"] for d in cur]),
                                                      ("last week", [d["latency_p95"] for d in prev])],
                   lambda v: f"{v:,.0f}"),
    ]
    cats = [c for c in data["safety"]["categories"] if c["category"] != "all" and (c["judged"] or c["previous_judged"])]
    if cats:
        charts.append(bar_chart("Safety incidents by category", [c["category"] for c in cats], [
            ("this week", [c["incidents"] for c in cats]), ("last week", [c["previous_incidents"] for c in cats])],
            lambda v: f"{v:,.0f}"))
    evs = [r for r in data["evaluators"] if r["mean_b"] is not None or r["mean_a"] is not None][:10]
    if evs:
        names = [r["name"] if r["source"] in ("llm_judge", "rubric") else f"{r['name']} ({r['source']})"
                 for r in evs]
        charts.append(bar_chart("Mean score by evaluator", [n[:16] for n in names], [
            ("this week", [r["mean_b"] for r in evs]), ("last week", [r["mean_a"] for r in evs])],
            lambda v: f"{v:.2f}"))
    return '<div class="charts">' + "".join(charts) + "</div>"


def _regressions(data: dict[str, Any]) -> str:
    reg, items = data["regressions"], []
    for r in reg["week_over_week"]:
        traces = ", ".join(_link(e["link"], e["trace_id"][:12]) for e in r["examples"])
        items.append(f"<li><b>{_e(r['name'])}</b> ({_e(r['source'])}) went from {fmt.num(r['mean_a'])} to "
                     f"{fmt.num(r['mean_b'])} (worse), {_e(fmt.ci(r))}, p = {fmt.pval(r['p_adjusted'])}. "
                     f"Worst traces: {traces}</li>")
    for v in reg["prompt_versions"]:
        for r in v["regressions"]:
            traces = ", ".join(_link(e["link"], e["trace_id"][:12]) for e in r["examples"])
            items.append(f"<li>Prompt <b>{_e(v['group'])}</b> vs {_e(v['previous'])}: {_e(r['name'])} "
                         f"{fmt.num(r['mean_a'])} → {fmt.num(r['mean_b'])}, {_e(fmt.ci(r))}, "
                         f"p = {fmt.pval(r['p_adjusted'])}. Traces: {traces}</li>")
    if not items:
        return "<p>No significant regression this week.</p>"
    return "<ul>" + "".join(items) + "</ul>"


def render_html(data: dict[str, Any]) -> str:
    title = f"Weekly quality report — {data['project']}, {data['week']}"
    parts = [f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{_e(title)}</title>"
             f"<style>{_CSS}</style></head><body>",
             f"<h1>{_e(title)}</h1><p class=\"muted\">{_e(fmt.period(data))} · "
             f"{_link(data['links']['overview'], 'Open in Loupe')}</p>",
             "<h2>Summary</h2>", _table(["", "This week", "Last week", "Change"],
                                        [[_e(c) for c in r] for r in fmt.headline_rows(data)], {1, 2, 3}),
             _charts(data), "<h2>Success measures</h2>"]
    parts.append(_table(["Measure", "This week", "Last week", "Change", "p (Holm)", "Verdict", "n"], [
        [_e(m["label"]), fmt.num(m["value"], m["unit"]), fmt.num(m["previous"], m["unit"]),
         _e(fmt.change(m["change"], m["unit"])), fmt.pval(m["p_adjusted"]),
         f'<span class="{_cls(fmt.verdict(m))}">{fmt.verdict(m)}</span>', f"{m['n']:,}"]
        for m in data["measures"]], {1, 2, 3, 4, 6}))
    parts.append(f"<h2>Evaluators</h2><p class=\"muted\">{_link(data['links']['quality'], 'Quality page')}</p>")
    parts.append(_table(["Evaluator", "This week", "Last week", "Difference [95% CI]", "p (Holm)", "Verdict"], [
        [f"{_e(r['name'])} <span class=\"muted\">({_e(r['source'])})</span>",
         f"{fmt.num(r['mean_b'])} (n={r['n_b']:,})",
         f"{fmt.num(r['mean_a'])} (n={r['n_a']:,})", _e(fmt.ci(r)), fmt.pval(r["p_adjusted"]),
         f'<span class="{_cls(fmt.evaluator_verdict(r))}">{fmt.evaluator_verdict(r)}</span>']
        for r in data["evaluators"]], {1, 2, 3, 4}))
    parts += [f"<h2>Regressions</h2><p class=\"muted\">{_link(data['links']['regressions'], 'Regressions page')}</p>",
              _regressions(data)]
    safety = data["safety"]
    parts.append(f"<h2>Safety incidents</h2><p class=\"muted\">{_link(safety['link'], 'Safety page')}</p>")
    parts.append(_table(["Category", "Incidents", "Judged traces", "Rate", "Last week", "p"], [
        [_e(c["label"]), f"{c['incidents']:,}", f"{c['judged']:,}", fmt.num(c["rate"], "ratio"),
         fmt.num(c["previous_rate"], "ratio"), fmt.pval(c["p_value"])]
        for c in safety["categories"] if c["judged"] or c["previous_judged"]], {1, 2, 3, 4, 5}))
    if safety["incidents"]:
        parts.append(f"<p>Latest incidents ({safety['incident_total']:,} in total):</p><ul>" + "".join(
            f"<li>{i['t_start']:%a %H:%M} {_link(i['link'], i['trace_id'][:12])} {_e(i['name'])} ({_e(i['where'])}): "
            f"{_e(i['label'] or i['value'])}</li>" for i in safety["incidents"]) + "</ul>")
    d = data["drift"]
    parts.append(f"<h2>Drift</h2><p>Drift score <b>{d['score']:.3f}</b> "
                 f"({'drifted' if d['drifted'] else 'no significant drift'}); input AUC {fmt.num(d['input_auc'])}, "
                 f"output AUC {fmt.num(d['output_auc'])}, largest PSI {fmt.num(d['max_psi'])}. "
                 f"{_link(d['link'], 'Drift page')}</p>")
    parts.append(_table(["Feature", "Kind", "Score", "PSI", "AUC", "p (corrected)", "Drifted"], [
        [_e(c["name"]), c["kind"], f"{c['score']:.3f}", fmt.num(c["psi"]), fmt.num(c["auc"]),
         fmt.pval(c["p_adjusted"]), '<span class="worse">yes</span>' if c["drifted"] else "no"]
        for c in d["components"]], {2, 3, 4, 5}))
    if d["grown_clusters"]:
        parts.append("<ul>" + "".join(
            f"<li>{'New' if c['appeared'] else 'Grown'} topic <i>{_e(', '.join(c['terms'][:5]))}</i>: "
            f"{fmt.num(c['reference_share'], 'ratio')} → {fmt.num(c['current_share'], 'ratio')}; e.g. "
            + ", ".join(_link(e["link"], e["trace_id"][:12]) for e in c["examples"]) + "</li>"
            for c in d["grown_clusters"]) + "</ul>")
    parts.append("<h2>Judge calibration</h2>")
    if not data["calibration"]:
        parts.append("<p>No human scores yet.</p>")
    else:
        parts.append(_table(["Judge", "Score", "Pairs", "Agreement", "Flagged"], [
            [_e(c["evaluator"]), _e(c["name"]), str(c["n"]), f"{_e(c['metric'])} {fmt.num(c['agreement'])}",
             '<span class="worse">yes</span>' if c["flagged"] else "no"] for c in data["calibration"]], {2}))
    parts.append("<h2>Worst traces</h2><ul>" + "".join(
        f"<li>{_e(t['evaluator'])} = {fmt.num(t['value'])} {_link(t['link'], t['trace_id'][:12])}"
        + (f" <span class=\"muted\">— {_e(t['rationale'][:140])}</span>" if t.get("rationale") else "") + "</li>"
        for t in data["worst_traces"]) + "".join(
        f"<li>slowest: {fmt.num(t['root_duration_ms'], 'ms')} {_link(t['link'], t['trace_id'][:12])}</li>"
        for t in data["slowest_traces"]) + "</ul>")
    parts.append("<h2>Method</h2><ul>" + "".join(f"<li>{_e(n)}</li>" for n in fmt.method_notes(data)) + "</ul>")
    parts.append("</body></html>")
    return "\n".join(parts)
