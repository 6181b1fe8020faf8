"""The emergency summary page's content: the rows of :mod:`protocol.emergency` (the same as
``pumpctl emergency``) as one printable HTML page. Pure."""

from __future__ import annotations

from html import escape

from protocol.emergency import TITLE, EmergencyReading, summary_rows

__all__ = ["summary_html", "summary_text"]

_ALERT_LABELS = frozenset({"delivering now", "active alarms", "look for", "pump kind"})


def summary_text(reading: EmergencyReading) -> list[tuple[str, str]]:
    """The summary's ``(label, text)`` rows (an empty label continues the row above)."""
    return summary_rows(reading)


def summary_html(reading: EmergencyReading, *, point_size: int = 11) -> str:
    """The summary as one HTML page (a title and a two-column table), for the screen and
    for printing on one page; "delivering now" is red when it says NO."""
    rows = []
    label_shown = ""
    for label, text in summary_rows(reading):
        label_shown = label or label_shown
        style = ""
        if label_shown == "delivering now" and text.startswith("NO"):
            style = " style='color:#b3261e; font-weight:bold'"
        elif label_shown in _ALERT_LABELS:
            style = " style='font-weight:bold'"
        rows.append(
            f"<tr><td style='padding-right:12px; vertical-align:top; white-space:nowrap'>"
            f"{escape(label)}</td><td{style}>{escape(text)}</td></tr>"
        )
    return (
        f"<div style='font-size:{point_size}pt'>"
        f"<h3>{escape(TITLE)}</h3>"
        f"<table cellspacing='2'>{''.join(rows)}</table></div>"
    )
