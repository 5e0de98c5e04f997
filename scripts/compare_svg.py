"""compare_svg.py: the comparison's figures as a horizontal bar chart (SVG).

bar_chart(path, title, subtitle, panels, notes) writes one self-contained
SVG file: a panel per measured quantity (training, inference, or the
end-to-end time), a bar per engine on a shared zero-based scale with grid
lines at round values, each bar labelled with its figure and its ratio to
PyTorch. Standard library only (compare.py runs without anything else).

panels: [{"title": str, "unit": str, "suffix": str (optional, after each
          bar's figure), "bars": [{"label", "value", "note", "key"}]}]
  value None: the engine was not measured (drawn as a note, no bar);
  key picks the colour (cnnc, reference, torch, or anything else).
"""
import math
from xml.sax.saxutils import escape

COLOURS = {"cnnc": "#2563eb", "cnnc_exact": "#60a5fa", "cnnc_trained": "#1e40af", "reference": "#94a3b8", "torch": "#ee4c2c"}
FONT = "font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\""

WIDTH = 860
LABEL_W = 230   # engine names, right-aligned before the bars
BAR_W = 430     # the longest bar
ROW_H = 30
BAR_H = 20


def nice_step(vmax, ticks=5):
    """A round grid step (1, 2 or 5 x 10^k) giving about `ticks` lines."""
    if vmax <= 0:
        return 1.0
    raw = vmax / ticks
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if raw <= m * mag:
            return m * mag
    return 10 * mag


def fmt_value(v):
    if v == 0:
        return "0"
    if v >= 100:
        return f"{v:,.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def bar_chart(path, title, subtitle, panels, notes=()):
    out = []
    y = 0

    def text(x, yy, s, size=13, anchor="start", weight="normal", fill="#1f2937"):
        out.append(f'<text x="{x:.1f}" y="{yy:.1f}" {FONT} font-size="{size}" text-anchor="{anchor}" '
                   f'font-weight="{weight}" fill="{fill}">{escape(str(s))}</text>')

    y += 30
    text(20, y, title, 18, weight="bold")
    y += 22
    text(20, y, subtitle, 12, fill="#4b5563")
    y += 14
    for p in panels:
        measured = [b["value"] for b in p["bars"] if b["value"] is not None]
        vmax = max(measured) if measured else 1.0
        step = nice_step(vmax)
        top = step * math.ceil(vmax / step) if vmax > 0 else step
        scale = BAR_W / top
        y += 34
        text(20, y, p["title"], 14, weight="bold")
        y += 12
        y0 = y
        rows_h = ROW_H * len(p["bars"])
        # grid and axis labels
        k = 0
        while k * step <= top + 1e-9 * top:
            x = LABEL_W + k * step * scale
            out.append(f'<line x1="{x:.1f}" y1="{y0:.1f}" x2="{x:.1f}" y2="{y0 + rows_h:.1f}" '
                       f'stroke="{"#9ca3af" if k == 0 else "#e5e7eb"}" stroke-width="1"/>')
            text(x, y0 + rows_h + 14, fmt_value(k * step), 10, anchor="middle", fill="#6b7280")
            k += 1
        text(LABEL_W + BAR_W, y0 + rows_h + 28, p["unit"], 10, anchor="end", fill="#6b7280")
        for i, b in enumerate(p["bars"]):
            yb = y0 + i * ROW_H + (ROW_H - BAR_H) / 2
            text(LABEL_W - 10, yb + BAR_H - 5, b["label"], 13, anchor="end")
            if b["value"] is None:
                text(LABEL_W + 8, yb + BAR_H - 5, b.get("note") or "not measured", 12, fill="#6b7280")
                continue
            w = max(b["value"] * scale, 1.0)
            colour = COLOURS.get(b.get("key"), "#6b7280")
            out.append(f'<rect x="{LABEL_W}" y="{yb:.1f}" width="{w:.1f}" height="{BAR_H}" rx="3" fill="{colour}">'
                       f'<title>{escape(b["label"])}: {escape(fmt_value(b["value"]))} {escape(p["unit"])}</title></rect>')
            label = fmt_value(b["value"]) + p.get("suffix", "") + (f"  ({b['note']})" if b.get("note") else "")
            text(LABEL_W + w + 6, yb + BAR_H - 5, label, 12, weight="bold" if b.get("key") == "cnnc" else "normal")
        y = y0 + rows_h + 30
    y += 10
    for n in notes:
        y += 16
        text(20, y, n, 11, fill="#4b5563")
    y += 20
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{y:.0f}" '
           f'viewBox="0 0 {WIDTH} {y:.0f}">',
           f'<rect width="{WIDTH}" height="{y:.0f}" fill="#ffffff"/>'] + out + ["</svg>"]
    with open(path, "w") as f:
        f.write("\n".join(svg) + "\n")
