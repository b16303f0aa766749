"""Server-side SVG charts (no JavaScript): bars per department, lines over months. Text is escaped."""

from __future__ import annotations

from markupsafe import Markup, escape

from portal.services.desk.stats import Figures, MonthStats

W, H = 720, 260
PAD_L, PAD_R, PAD_T, PAD_B = 48, 16, 24, 56


def _svg(title: str, body: list[str], height: int = H) -> Markup:
    t = escape(title)
    # The title is escaped above; `body` holds SVG elements built by this module from numbers and escaped labels.
    return Markup(  # nosec B704
        f'<svg class="chart" role="img" viewBox="0 0 {W} {height}" width="100%" '
        f'xmlns="http://www.w3.org/2000/svg" aria-label="{t}"><title>{t}</title>' + "".join(body) + "</svg>"
    )


def department_bars(stats: MonthStats) -> Markup:
    """Received and answered per department, as paired bars."""
    rows = stats.departments[:12]
    if not rows:
        return _svg("本月没有留言", ['<text x="20" y="40">本月没有留言</text>'], 60)
    top = max(f.received for f in rows) or 1
    inner_w, inner_h = W - PAD_L - PAD_R, H - PAD_T - PAD_B
    slot = inner_w / len(rows)
    bar = max(4.0, slot * 0.35)
    body = [f'<line x1="{PAD_L}" y1="{H - PAD_B}" x2="{W - PAD_R}" y2="{H - PAD_B}" stroke="#57606a"/>',
            f'<text x="{PAD_L}" y="14" font-size="12">■ 收到（深色） ■ 已答复（浅色），最高 {top} 条</text>']
    for i, f in enumerate(rows):
        x = PAD_L + i * slot + slot * 0.1
        for j, (value, colour) in enumerate(((f.received, "#9f1d20"), (f.answered, "#e8a5a7"))):
            h = inner_h * value / top
            body.append(f'<rect x="{x + j * bar:.1f}" y="{H - PAD_B - h:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                        f'fill="{colour}"><title>{escape(f.name)}：{value}</title></rect>')
        body.append(f'<text x="{x:.1f}" y="{H - PAD_B + 16}" font-size="11">{escape(f.name[:8])}</text>')
        body.append(f'<text x="{x:.1f}" y="{H - PAD_B + 30}" font-size="11">{f.received}/{f.answered}</text>')
    return _svg(f"{stats.month} 各部门收到与答复留言数", body)


def _lines(title: str, months: list[Figures], series: list[tuple[str, str, list[float | None]]], top: float,
           fmt) -> Markup:
    inner_w, inner_h = W - PAD_L - PAD_R, H - PAD_T - PAD_B
    n = max(1, len(months) - 1)
    body = [f'<line x1="{PAD_L}" y1="{H - PAD_B}" x2="{W - PAD_R}" y2="{H - PAD_B}" stroke="#57606a"/>',
            f'<text x="4" y="{PAD_T + 4}" font-size="11">{escape(fmt(top))}</text>',
            f'<text x="4" y="{H - PAD_B}" font-size="11">0</text>']
    legend_x = PAD_L
    for label, colour, values in series:
        body.append(f'<text x="{legend_x}" y="14" font-size="12" fill="{colour}">— {escape(label)}</text>')
        legend_x += 130
        points = []
        for i, v in enumerate(values):
            if v is None:
                continue
            x = PAD_L + inner_w * i / n
            y = H - PAD_B - inner_h * (v / top if top else 0)
            points.append(f"{x:.1f},{y:.1f}")
            body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}">'
                        f'<title>{escape(months[i].name)} {escape(label)}：{escape(fmt(v))}</title></circle>')
        if points:
            body.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{" ".join(points)}"/>')
    step = max(1, len(months) // 12)
    for i in range(0, len(months), step):
        x = PAD_L + inner_w * i / n
        body.append(f'<text x="{x:.1f}" y="{H - PAD_B + 16}" font-size="10">{escape(months[i].name)}</text>')
    return _svg(title, body)


def trend_lines(months: list[Figures]) -> Markup:
    """Received and answered per month."""
    top = float(max([f.received for f in months] + [1]))
    return _lines("各月收到与答复留言数", months, [
        ("收到", "#9f1d20", [float(f.received) for f in months]),
        ("已答复", "#0b57d0", [float(f.answered) for f in months]),
    ], top, lambda v: f"{v:.0f}")


def rate_lines(months: list[Figures]) -> Markup:
    """Reply, on-time and satisfaction rates per month."""
    return _lines("各月答复率、按时率、满意率", months, [
        ("答复率", "#9f1d20", [f.reply_rate for f in months]),
        ("按时率", "#1a7f37", [f.on_time_rate for f in months]),
        ("满意率", "#0b57d0", [f.satisfaction_rate for f in months]),
    ], 1.0, lambda v: f"{v * 100:.0f}%")


def channel_lines(board: list[Figures], watched: list[Figures]) -> Markup:
    """Answers per month on the board and on other platforms (stories), and both together."""
    top = float(max([b.answered + w.answered for b, w in zip(board, watched, strict=True)] + [1]))
    return _lines("各月回应数（本站留言与其他平台）", board, [
        ("合计", "#24292f", [float(b.answered + w.answered) for b, w in zip(board, watched, strict=True)]),
        ("本站留言", "#0b57d0", [float(b.answered) for b in board]),
        ("其他平台", "#9f1d20", [float(w.answered) for w in watched]),
    ], top, lambda v: f"{v:.0f}")
