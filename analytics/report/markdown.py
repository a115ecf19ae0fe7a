"""The weekly report as Markdown: the same sections and numbers as the HTML file, without the charts."""

from __future__ import annotations

from typing import Any

from analytics.report import fmt


def _table(head: list[str], rows: list[list[str]]) -> list[str]:
    clean = [[str(c).replace("|", "\\|").replace("\n", " ") for c in row] for row in rows]
    return ["| " + " | ".join(head) + " |", "|" + "---|" * len(head), *("| " + " | ".join(r) + " |" for r in clean), ""]


def render_markdown(data: dict[str, Any]) -> str:
    out = [f"# Weekly quality report — {data['project']}, {data['week']}", "",
           f"{fmt.period(data)} · [Open in Loupe]({data['links']['overview']})", "", "## Summary", ""]
    out += _table(["", "This week", "Last week", "Change"], [list(r) for r in fmt.headline_rows(data)])

    out += ["## Success measures", ""]
    out += _table(["Measure", "This week", "Last week", "Change", "p (Holm)", "Verdict", "n"], [
        [m["label"], fmt.num(m["value"], m["unit"]), fmt.num(m["previous"], m["unit"]),
         fmt.change(m["change"], m["unit"]), fmt.pval(m["p_adjusted"]), fmt.verdict(m), f"{m['n']:,}"]
        for m in data["measures"]])

    out += ["## Evaluators", ""]
    out += _table(["Evaluator", "This week", "Last week", "Difference [95% CI]", "p (Holm)", "Verdict"], [
        [f"{r['name']} ({r['source']})", f"{fmt.num(r['mean_b'])} (n={r['n_b']:,})",
         f"{fmt.num(r['mean_a'])} (n={r['n_a']:,})", fmt.ci(r), fmt.pval(r["p_adjusted"]), fmt.evaluator_verdict(r)]
        for r in data["evaluators"]] or [["no scores this week", "", "", "", "", ""]])

    out += ["## Regressions", ""]
    reg = data["regressions"]
    if not reg["week_over_week"] and not any(v["regressed"] for v in reg["prompt_versions"]):
        out += ["No significant regression this week.", ""]
    for r in reg["week_over_week"]:
        out.append(f"- **{r['name']}** ({r['source']}) went from {fmt.num(r['mean_a'])} to "
                   f"{fmt.num(r['mean_b'])} (worse), "
                   f"{fmt.ci(r)}, p = {fmt.pval(r['p_adjusted'])}. Worst traces: "
                   + ", ".join(f"[{e['trace_id'][:12]}]({e['link']})" for e in r["examples"]))
    for v in reg["prompt_versions"]:
        for r in v["regressions"]:
            out.append(f"- Prompt **{v['group']}** vs {v['previous']}: {r['name']} {fmt.num(r['mean_a'])} → "
                       f"{fmt.num(r['mean_b'])}, {fmt.ci(r)}, p = {fmt.pval(r['p_adjusted'])}. Traces: "
                       + ", ".join(f"[{e['trace_id'][:12]}]({e['link']})" for e in r["examples"]))
    out.append("")

    safety = data["safety"]
    out += ["## Safety incidents", "", f"[Safety page]({safety['link']})", ""]
    out += _table(["Category", "Incidents", "Judged traces", "Rate", "Last week", "p"], [
        [c["label"], f"{c['incidents']:,}", f"{c['judged']:,}", fmt.num(c["rate"], "ratio"),
         fmt.num(c["previous_rate"], "ratio"), fmt.pval(c["p_value"])] for c in safety["categories"] if c["judged"]]
        or [["no safety verdicts this week", "", "", "", "", ""]])
    if safety["incidents"]:
        out += [f"Latest incidents ({safety['incident_total']:,} in total):", ""]
        out += [f"- {i['t_start']:%a %H:%M} [{i['trace_id'][:12]}]({i['link']}) {i['name']} "
                f"({i['where']}): {i['label'] or i['value']}" for i in safety["incidents"]]
        out.append("")

    d = data["drift"]
    out += ["## Drift", "", f"Drift score {d['score']:.3f} ({'drifted' if d['drifted'] else 'no significant drift'}); "
            f"input AUC {fmt.num(d['input_auc'])}, output AUC {fmt.num(d['output_auc'])}, "
            f"largest PSI {fmt.num(d['max_psi'])}. [Drift page]({d['link']})", ""]
    out += _table(["Feature", "Kind", "Score", "PSI", "AUC", "p (corrected)", "Drifted"], [
        [c["name"], c["kind"], f"{c['score']:.3f}", fmt.num(c["psi"]), fmt.num(c["auc"]), fmt.pval(c["p_adjusted"]),
         "yes" if c["drifted"] else "no"] for c in d["components"]])
    for c in d["grown_clusters"]:
        out.append(f"- {'New' if c['appeared'] else 'Grown'} topic *{', '.join(c['terms'][:5])}*: "
                   f"{fmt.num(c['reference_share'], 'ratio')} → {fmt.num(c['current_share'], 'ratio')}; e.g. "
                   + ", ".join(f"[{e['trace_id'][:12]}]({e['link']})" for e in c["examples"]))
    out.append("")

    out += ["## Judge calibration", ""]
    if not data["calibration"]:
        out += ["No human scores yet.", ""]
    else:
        out += _table(["Judge", "Score", "Pairs", "Agreement", "Flagged"], [
            [c["evaluator"], c["name"], str(c["n"]), f"{c['metric']} {fmt.num(c['agreement'])}",
             "yes" if c["flagged"] else "no"] for c in data["calibration"]])

    out += ["## Worst traces", ""]
    for t in data["worst_traces"]:
        out.append(f"- {t['evaluator']} = {fmt.num(t['value'])} [{t['trace_id'][:12]}]({t['link']})"
                   + (f" — {t['rationale'][:140]}" if t.get("rationale") else ""))
    for t in data["slowest_traces"]:
        out.append(f"- slowest: {fmt.num(t['root_duration_ms'], 'ms')} [{t['trace_id'][:12]}]({t['link']})")
    out += ["", "## Method", "", *(f"- {n}" for n in fmt.method_notes(data)), ""]
    return "\n".join(out)
