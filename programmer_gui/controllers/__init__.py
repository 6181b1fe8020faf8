"""Signal wiring, one controller per workflow (``controllers/<name>.py``).

Each workflow module exposes ``install(window, link, record, review) ->
<Name>Controller``, which adds its page to the window and wires it to the link;
a controller built on :class:`~programmer_gui.controllers.base.Workflow` declares
its page once (``page = WorkflowPage(key, title, view)``) and gets the set-up, the
page's lazy building and wiring, and ``install`` from it
(``install = <Name>Controller.install``).
``app.py`` calls every installer in :data:`INSTALLERS`, in order (which is also
the order of the navigation list). To add a workflow, append
its installer here in one line.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from programmer_gui.controllers import (
    alarms,
    bolus,
    connect,
    dose,
    emergency,
    eventlog,
    flex,
    home,
    implant,
    mri,
    patient,
    refill,
    report,
    stop,
    titration,
    trends,
)

if TYPE_CHECKING:
    from programmer_gui.controllers.review import ReviewController
    from programmer_gui.core.session_record import SessionRecord
    from programmer_gui.link import PumpLink
    from programmer_gui.views.main_window import MainWindow

Installer = Callable[["MainWindow", "PumpLink", "SessionRecord", "ReviewController"], object]
"""``install(window, link, record, review)``: adds one workflow's page and controller."""

INSTALLERS: list[Installer] = [
    connect.install,
    home.install,
    dose.install,
    refill.install,
    implant.install,
    flex.install,
    bolus.install,
    alarms.install,
    eventlog.install,
    stop.install,
    mri.install,
    patient.install,
    trends.install,
    report.install,
    titration.install,
    emergency.install,
]
"""Every workflow installer, in navigation order (part 2 appends its own)."""
