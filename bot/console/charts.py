"""Server-rendered SVG bar charts: pure functions from labelled counts to markup."""
from __future__ import annotations

from markupsafe import Markup, escape

WIDTH = 360
HEIGHT = 200
TOP = 18
BOTTOM = 34
LEFT = 8
RIGHT = 8


def bar_chart(bars: list[tuple[str, int]], *, title: str, unit: str = "人") -> Markup:
    """Render labelled counts as an accessible inline SVG bar chart."""
    label = escape(title)
    if not bars:
        return Markup(f'<svg class="chart" viewBox="0 0 {WIDTH} 60" role="img" aria-label="{label}">'
                      f'<text x="{WIDTH // 2}" y="34" text-anchor="middle" class="chart-empty">暂无数据</text></svg>')
    peak = max(count for _, count in bars) or 1
    plot_h = HEIGHT - TOP - BOTTOM
    slot = (WIDTH - LEFT - RIGHT) / len(bars)
    bar_w = min(max(slot * 0.7, 2), 44)
    # Thin the axis labels so they never overlap on a phone-width chart.
    every = max(1, round(len(bars) / 8))
    parts = [f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{label}">',
             f"<title>{label}</title>",
             f'<line x1="{LEFT}" y1="{HEIGHT - BOTTOM}" x2="{WIDTH - RIGHT}" y2="{HEIGHT - BOTTOM}" '
             'class="chart-axis"/>']
    for i, (name, count) in enumerate(bars):
        h = plot_h * count / peak
        x = LEFT + slot * i + (slot - bar_w) / 2
        y = HEIGHT - BOTTOM - h
        cx = x + bar_w / 2
        parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" class="chart-bar">'
                     f"<title>{escape(name)}：{count}{escape(unit)}</title></rect>")
        if count:
            parts.append(f'<text x="{cx:.1f}" y="{y - 4:.1f}" text-anchor="middle" class="chart-value">{count}</text>')
        if i % every == 0:
            parts.append(f'<text x="{cx:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle" '
                         f'class="chart-label">{escape(name)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
