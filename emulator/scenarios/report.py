"""A scenario run as HTML: the steps table and a small plot of the reservoir over time.

:func:`render_html` returns one self-contained fragment (no scripts, no
external files: the plot is inline SVG), which the pytest plugin hands to
pytest-html as an extra and which reads as well on its own.
"""

from __future__ import annotations

from fractions import Fraction
from html import escape

from emulator.scenarios.result import ScenarioResult, StepStatus
from protocol.timebase import SECONDS_PER_DAY
from protocol.units import format_volume_nl

__all__ = ["render_html", "reservoir_svg"]

_COLOURS = {
    StepStatus.PASSED: "#1a7f37",
    StepStatus.FAILED: "#cf222e",
    StepStatus.ERROR: "#cf222e",
    StepStatus.NOT_RUN: "#6e7781",
}


def render_html(result: ScenarioResult, *, anchor: str = "") -> str:
    """The steps table (with expected/actual per check) and the reservoir plot; ``anchor``
    is the fragment's ``id`` (a summary links to it)."""
    ident = f' id="{escape(anchor)}"' if anchor else ""
    parts = [
        f'<div class="vpump-scenario"{ident}>',
        f"<h4>{escape(result.title)} <small>({escape(result.source)})</small></h4>",
    ]
    if result.description:
        parts.append(f"<p>{escape(result.description)}</p>")
    svg = reservoir_svg(result)
    if svg:
        parts.append(svg)
    parts.append(
        '<table class="vpump-steps" border="1" cellspacing="0" cellpadding="3">'
        "<tr><th>#</th><th>line</th><th>pump time</th><th>step</th><th>result</th>"
        "<th>checks (expected / actual)</th><th>what happened</th></tr>"
    )
    for step in result.steps:
        colour = _COLOURS[step.status]
        checks = "<br>".join(
            f"{'&#10003;' if c.passed else '&#10007;'} {escape(c.what)}: "
            f"{escape(c.expected)} / <b>{escape(c.actual)}</b>"
            for c in step.checks
        )
        note = escape(step.note)
        if step.error:
            note += f'<br><span style="color:{colour}">{escape(step.error)}</span>'
        row = f' id="{escape(anchor)}-step-{step.index}"' if anchor else ""
        parts.append(
            f"<tr{row}><td>{step.index}</td><td>{step.line}</td>"
            f"<td>{escape(result.day_and_time(step.clock_s))}</td>"
            f"<td>{escape(step.name)}</td>"
            f'<td style="color:{colour}"><b>{escape(step.status.value)}</b></td>'
            f"<td>{checks}</td><td>{note}</td></tr>"
        )
    parts.append("</table>")
    if result.emulator_error:
        parts.append(f"<p><b>The emulator raised inside:</b> {escape(result.emulator_error)}</p>")
    failed = result.failed_step
    if failed is not None and failed.frames:
        parts.append(
            f"<p>Last frames on the wire during step {failed.index}:</p>"
            f"<pre>{escape(chr(10).join(failed.frames[-8:]))}</pre>"
        )
    parts.append("</div>")
    return "\n".join(parts)


def reservoir_svg(result: ScenarioResult, *, width: int = 480, height: int = 180) -> str:
    """Reservoir volume (the pump's estimate) against days since the start, as inline SVG,
    with a red line at the failing step's pump time (labelled with its number).

    Empty when the run has fewer than two samples or time never moved.
    """
    samples = result.samples
    if len(samples) < 2 or samples[-1].clock_s == samples[0].clock_s:
        return ""
    left, right, top, bottom = 48, 12, 12, 30
    t0, t1 = samples[0].clock_s, samples[-1].clock_s
    v_max = max([s.reservoir_nl for s in samples] + [1])

    def x(clock_s: int) -> float:
        return left + (width - left - right) * (clock_s - t0) / (t1 - t0)

    def y(volume_nl: int) -> float:
        return top + (height - top - bottom) * (1 - volume_nl / v_max)

    points = " ".join(f"{x(s.clock_s):.1f},{y(s.reservoir_nl):.1f}" for s in samples)
    days = Fraction(t1 - t0, SECONDS_PER_DAY)
    span = f"{float(days):.3g} days" if days >= 1 else f"{float(days) * 24:.3g} h"
    axis = (
        f'<line x1="{left}" y1="{height - bottom}" x2="{width - right}" y2="{height - bottom}" '
        f'stroke="#555"/><line x1="{left}" y1="{top}" x2="{left}" y2="{height - bottom}" '
        f'stroke="#555"/>'
    )
    labels = (
        f'<text x="{left - 4}" y="{top + 4}" text-anchor="end" font-size="10">'
        f"{escape(format_volume_nl(v_max))}</text>"
        f'<text x="{left - 4}" y="{height - bottom}" text-anchor="end" font-size="10">0</text>'
        f'<text x="{left}" y="{height - bottom + 14}" font-size="10">day 0</text>'
        f'<text x="{width - right}" y="{height - bottom + 14}" text-anchor="end" '
        f'font-size="10">+{escape(span)}</text>'
        f'<text x="{(left + width) / 2}" y="{height - 4}" text-anchor="middle" '
        f'font-size="10">reservoir (pump estimate) over pump time</text>'
    )
    marker = ""
    failed = result.failed_step
    if failed is not None:
        at = x(min(max(failed.clock_s, t0), t1))
        colour = _COLOURS[StepStatus.FAILED]
        marker = (
            f'<g class="vpump-failed-step"><line x1="{at:.1f}" y1="{top}" x2="{at:.1f}" '
            f'y2="{height - bottom}" stroke="{colour}" stroke-width="1.5" '
            f'stroke-dasharray="4 2"/><text x="{at:.1f}" y="{top + 10}" '
            f'text-anchor="{"end" if at > width / 2 else "start"}" font-size="10" '
            f'fill="{colour}">&#160;step {failed.index} {escape(failed.status.value)}&#160;'
            f"</text><title>step {failed.index} ({escape(failed.name)}) "
            f"{escape(failed.status.value)} at {escape(result.day_and_time(failed.clock_s))}"
            "</title></g>"
        )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="reservoir volume over time">{axis}{labels}'
        f'<polyline fill="none" stroke="#0969da" stroke-width="2" points="{points}"/>'
        f"{marker}</svg>"
    )
