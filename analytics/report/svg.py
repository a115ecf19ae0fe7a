"""Tiny inline-SVG charts for the report: grouped bars and lines, with a legend and three gridlines.

No plotting library: the report must be one self-contained file, and two chart shapes do not justify
matplotlib. Output is deterministic text (fixed precision), so identical data gives identical bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape

COLORS = ("#2563eb", "#9ca3af", "#dc2626", "#16a34a", "#d97706", "#7c3aed")
Series = tuple[str, Sequence[float | None]]
_PAD_L, _PAD_R, _PAD_T, _PAD_B = 64, 12, 28, 34


def _scale(series: Sequence[Series]) -> float:
    top = max((v for _, values in series for v in values if v is not None), default=0.0)
    return top * 1.1 if top > 0 else 1.0


def _frame(title: str, width: int, height: int, top: float, fmt: Callable[[float], str],
           labels: Sequence[str], slot: float, series: Sequence[Series]) -> list[str]:
    plot_h = height - _PAD_T - _PAD_B
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
           f'height="{height}" role="img" aria-label="{escape(title)}" font-family="sans-serif" font-size="11">',
           f"<title>{escape(title)}</title>",
           f'<text x="{_PAD_L}" y="14" font-size="12" font-weight="bold">{escape(title)}</text>']
    for i in range(3):
        value = top * i / 2
        y = _PAD_T + plot_h - plot_h * i / 2
        out.append(f'<line x1="{_PAD_L}" x2="{width - _PAD_R}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e5e7eb"/>')
        out.append(f'<text x="{_PAD_L - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#6b7280">'
                   f"{escape(fmt(value))}</text>")
    for i, label in enumerate(labels):
        x = _PAD_L + slot * (i + 0.5)
        out.append(f'<text x="{x:.1f}" y="{height - _PAD_B + 14}" text-anchor="middle" fill="#374151">'
                   f"{escape(label)}</text>")
    x = _PAD_L
    for i, (name, _) in enumerate(series):
        out.append(f'<rect x="{x}" y="{height - 12}" width="10" height="10" fill="{COLORS[i % len(COLORS)]}"/>')
        out.append(f'<text x="{x + 14}" y="{height - 3}" fill="#374151">{escape(name)}</text>')
        x += 14 + 7 * len(name) + 18
    return out


def bar_chart(title: str, labels: Sequence[str], series: Sequence[Series], fmt: Callable[[float], str] = str,
              width: int = 620, height: int = 200) -> str:
    top = _scale(series)
    plot_w, plot_h = width - _PAD_L - _PAD_R, height - _PAD_T - _PAD_B
    slot = plot_w / max(1, len(labels))
    bar = slot * 0.8 / max(1, len(series))
    out = _frame(title, width, height, top, fmt, labels, slot, series)
    for s, (name, values) in enumerate(series):
        for i, v in enumerate(values):
            if v is None:
                continue
            h = plot_h * v / top
            x = _PAD_L + slot * i + slot * 0.1 + bar * s
            out.append(f'<rect x="{x:.1f}" y="{_PAD_T + plot_h - h:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                       f'fill="{COLORS[s % len(COLORS)]}"><title>{escape(name)} {escape(labels[i])}: '
                       f"{escape(fmt(v))}</title></rect>")
    out.append("</svg>")
    return "\n".join(out)


def line_chart(title: str, labels: Sequence[str], series: Sequence[Series], fmt: Callable[[float], str] = str,
               width: int = 620, height: int = 200) -> str:
    top = _scale(series)
    plot_w, plot_h = width - _PAD_L - _PAD_R, height - _PAD_T - _PAD_B
    slot = plot_w / max(1, len(labels))
    out = _frame(title, width, height, top, fmt, labels, slot, series)
    for s, (name, values) in enumerate(series):
        color = COLORS[s % len(COLORS)]
        points = [(_PAD_L + slot * (i + 0.5), _PAD_T + plot_h - plot_h * v / top)
                  for i, v in enumerate(values) if v is not None]
        if len(points) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
            out.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"/>')
        for (x, y), v in zip(points, [v for v in values if v is not None], strict=True):
            out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{color}"><title>{escape(name)}: '
                       f"{escape(fmt(v))}</title></circle>")
    out.append("</svg>")
    return "\n".join(out)
