"""The programmer's main window: a banner, a navigation list and a stack of pages.

Layout only. The banner shows the connection state, the pump's identity and
its alarms (critical and non-critical each with their own icon, word and
colour); the left navigation (a keyboard-navigable ``QListWidget``) selects a
page of the ``QStackedWidget``. Pages are added by the workflow installers
(``controllers/*.install``) through :meth:`MainWindow.add_page`.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from programmer_gui.views.widgets import ActionBanner, Severity, StatusBadge, figure_font

WINDOW_TITLE = "vpump clinician programmer"


@dataclass
class Page:
    """One page of the stack and its navigation entry."""

    key: str
    title: str
    widget: QWidget
    needs_connection: bool
    item: QListWidgetItem | None
    """None for pages reached only from a workflow (the review page)."""


class MainWindow(QMainWindow):
    """The programmer's window. ``page_shown(key)`` is emitted whenever a page is shown;
    ``closing`` just before the window closes (the app then closes the link)."""

    page_shown = Signal(str)
    closing = Signal()
    demo_started = Signal(object)
    """programmer_gui.demo.DemoPump, when "Start demo pump" started one (the educator
    window attaches to it)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(WINDOW_TITLE)
        self.resize(1180, 780)
        self.pages: dict[str, Page] = {}
        self.connected = False
        self.demo_pump: object | None = None
        """The running DemoPump, if any (set by the connect controller)."""

        central = QWidget(self)
        outer = QVBoxLayout(central)
        outer.setContentsMargins(8, 8, 8, 4)
        outer.setSpacing(6)

        # -- the banner --------------------------------------------------------------------
        banner = QWidget(central)
        banner.setObjectName("Banner")
        top = QHBoxLayout(banner)
        top.setContentsMargins(0, 0, 0, 0)
        self.connection_badge = StatusBadge(banner, wrap=False)
        self.pump_label = QLabel("No pump", banner)
        self.pump_label.setFont(figure_font(13))
        self.pump_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.busy_label = QLabel("", banner)
        self.busy_label.setMinimumWidth(140)
        top.addWidget(self.connection_badge, 0)
        top.addWidget(self.pump_label, 1)
        top.addWidget(self.busy_label, 0)
        outer.addWidget(banner)

        self.critical_badge = StatusBadge(central, point_size=12)
        self.noncritical_badge = StatusBadge(central, point_size=12)
        self.link_banner = ActionBanner("&Reconnect", central)
        for badge in (self.critical_badge, self.noncritical_badge, self.link_banner):
            badge.hide()
            outer.addWidget(badge)

        # -- navigation and pages ----------------------------------------------------------
        body = QHBoxLayout()
        self.nav = QListWidget(central)
        self.nav.setObjectName("Navigation")
        self.nav.setFixedWidth(190)
        self.nav.setIconSize(QSize(20, 20))
        self.nav.setAccessibleName("pages")
        self.stack = QStackedWidget(central)
        body.addWidget(self.nav)
        body.addWidget(self.stack, 1)
        outer.addLayout(body, 1)
        self.setCentralWidget(central)
        self.nav.currentItemChanged.connect(self._on_nav)
        self.set_connection(Severity.INFO, "Not connected")

    # -- pages -----------------------------------------------------------------------------

    def add_page(
        self, key: str, title: str, page: QWidget, *, needs_connection: bool = True
    ) -> None:
        """Add a page; it gets a navigation entry unless its key is "review" (reached only
        from a workflow). Pages that need a connection are disabled until one is open."""
        if key in self.pages:
            raise ValueError(f"a page {key!r} exists already")
        item: QListWidgetItem | None = None
        if key != "review":
            item = QListWidgetItem(title)
            item.setData(Qt.ItemDataRole.UserRole, key)
            item.setSizeHint(QSize(160, 34))
            self.nav.addItem(item)
        page.setObjectName(f"page-{key}")
        self.stack.addWidget(page)
        self.pages[key] = Page(
            key=key, title=title, widget=page, needs_connection=needs_connection, item=item
        )
        self._apply_enabled(self.pages[key])
        if self.stack.count() == 1:
            self.show_page(key)

    def show_page(self, key: str) -> None:
        """Show a page (and select its navigation entry)."""
        page = self.pages[key]
        self.stack.setCurrentWidget(page.widget)
        if page.item is not None and self.nav.currentItem() is not page.item:
            self.nav.blockSignals(True)
            self.nav.setCurrentItem(page.item)
            self.nav.blockSignals(False)
        self.page_shown.emit(key)

    def current_page(self) -> str | None:
        widget = self.stack.currentWidget()
        for page in self.pages.values():
            if page.widget is widget:
                return page.key
        return None

    def page(self, key: str) -> QWidget:
        return self.pages[key].widget

    def set_connected(self, connected: bool) -> None:
        """Enable or disable the pages that need a connection."""
        self.connected = connected
        for page in self.pages.values():
            self._apply_enabled(page)

    def _apply_enabled(self, page: Page) -> None:
        if page.item is None:
            return
        enabled = self.connected or not page.needs_connection
        flags = page.item.flags()
        if enabled:
            flags |= Qt.ItemFlag.ItemIsEnabled
        else:
            flags &= ~Qt.ItemFlag.ItemIsEnabled
        page.item.setFlags(flags)

    def _on_nav(self, current: QListWidgetItem | None, _previous: QListWidgetItem | None) -> None:
        if current is None:
            return
        key = current.data(Qt.ItemDataRole.UserRole)
        if isinstance(key, str) and key in self.pages:
            self.show_page(key)

    # -- the banner --------------------------------------------------------------------------

    def set_connection(self, severity: Severity, text: str) -> None:
        self.connection_badge.set_status(severity, text)

    def set_pump(self, text: str) -> None:
        self.pump_label.setText(text)

    def set_busy(self, text: str) -> None:
        self.busy_label.setText(text)

    def set_alarms(self, critical: str | None, noncritical: str | None) -> None:
        """Alarm lines for the banner (None hides that line)."""
        for badge, text, severity in (
            (self.critical_badge, critical, Severity.CRITICAL),
            (self.noncritical_badge, noncritical, Severity.WARNING),
        ):
            if text is None:
                badge.hide()
            else:
                badge.set_status(severity, text)
                badge.show()

    def show_link_lost(self, text: str | None) -> None:
        """The lost-link banner with its Reconnect button (None hides it)."""
        if text is None:
            self.link_banner.hide()
            return
        self.link_banner.set_status(Severity.CRITICAL, text)
        self.link_banner.show()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        self.closing.emit()
        super().closeEvent(event)
