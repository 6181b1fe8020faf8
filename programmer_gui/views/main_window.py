"""The programmer's main window: a banner, a navigation list and a stack of pages.

Layout only. The banner shows the connection state, the pump's identity and
its alarms (critical and non-critical each with their own icon, word and
colour); the left navigation (a keyboard-navigable ``QListWidget``) selects a
page of the ``QStackedWidget``. Pages are added by the workflow installers
(``controllers/*.install``) through :meth:`MainWindow.add_page`, most of them as a
factory: a page's widgets are built the first time it is shown (or asked for), so the
first window waits for the page it shows only (#14 item 13), while the navigation lists
every page from the start.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from PySide6.QtCore import QEvent, QObject, QSize, Qt, Signal
from PySide6.QtGui import QCloseEvent, QFont, QFontMetrics, QKeySequence, QShortcut
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

from programmer_gui.views.widgets import (
    ActionBanner,
    Severity,
    StatusBadge,
    figure_font,
    fit_narrow,
    open_at,
)

WINDOW_TITLE = "vpump clinician programmer"
PROGRAMMER_PREFERRED_SIZE = QSize(1180, 780)
"""The size the programmer opens at when the screen has room (fitted to it otherwise)."""
NAV_SHORTCUT = "F6"
"""Moves the keyboard focus to the page list (F6: the usual key for the next pane)."""
NAV_WIDTH_PX = 170
"""The page list's width (the longest title, "Implant record", at 12 pt fits)."""
ALERT_POINT_SIZE = 11


@dataclass(eq=False)
class Page:
    """One page of the stack and its navigation entry."""

    window: MainWindow = field(repr=False)
    key: str
    title: str
    needs_connection: bool
    item: QListWidgetItem | None
    """None for pages reached only from a workflow (the review page)."""
    built: QWidget | None = None
    """The widget; None until a lazily built page is first shown or asked for."""
    build: Callable[[], QWidget] | None = None
    """Makes the widget of a page added as a factory."""
    on_built: Callable[[], None] | None = None
    """Run once the widget is in the stack (its controller wires it there)."""

    @property
    def widget(self) -> QWidget:
        """The page's widget (made now if it was not yet)."""
        return self.window.page(self.key)


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
        open_at(self, PROGRAMMER_PREFERRED_SIZE)
        self.pages: dict[str, Page] = {}
        self.connected = False
        self.demo_pump: object | None = None
        self.leave_guards: list[Callable[[str, str], bool]] = []
        """Asked ``guard(leaving, going_to)`` before the navigation leaves a page; one that
        answers False keeps the page (the pending review asks before it is discarded)."""
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
        self.pump_label.setWordWrap(True)
        self.pump_label.setFont(figure_font(13))
        self.pump_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.busy_label = QLabel("", banner)
        # A fixed width, its text wrapped: "Communicating with the pump ..." never squeezes
        # the pump's name (which would then need more lines than the banner has).
        self.busy_label.setFixedWidth(140)
        self.busy_label.setWordWrap(True)
        top.addWidget(self.connection_badge, 0)
        top.addWidget(self.pump_label, 1)
        top.addWidget(self.busy_label, 0)
        # A fixed height, set by the width alone (at least two lines of the pump's name, which
        # wraps in a narrow window): an alarm or a lost link never moves what is below.
        self.banner = banner
        self.pump_label.installEventFilter(self)
        banner.installEventFilter(self)
        self._fit_banner()
        outer.addWidget(banner)

        # -- alarms and the link: one strip of fixed height ---------------------------------
        # Always there and never taller or shorter, so nothing below it moves when an alarm
        # or a lost link appears (a click aimed at one row must not land on another).
        self.alert_strip = QWidget(central)
        self.alert_strip.setObjectName("AlertStrip")
        strip = QHBoxLayout(self.alert_strip)
        strip.setContentsMargins(0, 0, 0, 0)
        self.critical_badge = StatusBadge(self.alert_strip, point_size=ALERT_POINT_SIZE)
        self.noncritical_badge = StatusBadge(self.alert_strip, point_size=ALERT_POINT_SIZE)
        self.link_banner = ActionBanner("Reconnect no&w", self.alert_strip)
        self.no_alert_label = QLabel("Alarms and the link's state appear here.", self.alert_strip)
        self.no_alert_label.setStyleSheet("color: #666666;")
        strip.addWidget(self.no_alert_label, 1)
        for badge in (self.critical_badge, self.link_banner, self.noncritical_badge):
            badge.hide()
            strip.addWidget(badge, 1)
        self.alert_strip.setFixedHeight(self._alert_strip_height())
        outer.addWidget(self.alert_strip)

        # -- navigation and pages ----------------------------------------------------------
        body = QHBoxLayout()
        self.nav = QListWidget(central)
        self.nav.setObjectName("Navigation")
        self.nav.setFixedWidth(NAV_WIDTH_PX)
        self.nav.setIconSize(QSize(20, 20))
        self.nav.setAccessibleName("pages")
        self.stack = QStackedWidget(central)
        body.addWidget(self.nav)
        body.addWidget(self.stack, 1)
        outer.addLayout(body, 1)
        self.setCentralWidget(central)
        self.nav.currentItemChanged.connect(self._on_nav)
        self.nav.itemClicked.connect(self._on_nav_item)
        self.nav.itemActivated.connect(self._on_nav_item)
        # The keyboard's way to the page list (then the arrows, or a title's first letter).
        self.nav_shortcut = QShortcut(QKeySequence(NAV_SHORTCUT), self)
        self.nav_shortcut.activated.connect(self.nav.setFocus)
        self.nav.setToolTip(f"Pages ({NAV_SHORTCUT} goes here; arrows choose)")
        self.set_connection(Severity.INFO, "Not connected")

    # -- pages -----------------------------------------------------------------------------

    def add_page(
        self,
        key: str,
        title: str,
        page: QWidget | Callable[[], QWidget],
        *,
        needs_connection: bool = True,
        on_built: Callable[[], None] | None = None,
    ) -> None:
        """Add a page; it gets a navigation entry unless its key is "review" (reached only
        from a workflow). Pages that need a connection are disabled until one is open.

        ``page`` is the widget, or a factory making it: then the widget is made the first
        time the page is shown or :meth:`page` asks for it, put in the stack, and
        ``on_built()`` is run (where its controller connects it: :meth:`page` already
        gives the widget there)."""
        if key in self.pages:
            raise ValueError(f"a page {key!r} exists already")
        item: QListWidgetItem | None = None
        if key != "review":
            item = QListWidgetItem(title)
            item.setData(Qt.ItemDataRole.UserRole, key)
            item.setSizeHint(QSize(NAV_WIDTH_PX - 20, 34))
            self.nav.addItem(item)
        entry = Page(
            window=self, key=key, title=title, needs_connection=needs_connection, item=item
        )
        if isinstance(page, QWidget):
            entry.on_built = on_built
            self.pages[key] = entry
            self._place(entry, page)
        else:
            entry.build, entry.on_built = page, on_built
            self.pages[key] = entry
        self._apply_enabled(entry)
        if len(self.pages) == 1:
            self.show_page(key)

    def _place(self, entry: Page, widget: QWidget) -> None:
        widget.setObjectName(f"page-{entry.key}")
        fit_narrow(widget)
        self.stack.addWidget(widget)
        entry.built = widget
        if entry.on_built is not None:
            entry.on_built()

    def is_built(self, key: str) -> bool:
        """Whether the page's widget exists (a lazily built page's, once shown or asked for)."""
        return self.pages[key].built is not None

    def show_page(self, key: str) -> None:
        """Show a page (and select its navigation entry; the review page has none, so the
        entry of the page it came from stays selected)."""
        page = self.pages[key]
        self.stack.setCurrentWidget(self.page(key))
        if page.item is not None and self.nav.currentItem() is not page.item:
            self._select_nav(page.item)
        self.page_shown.emit(key)

    def _select_nav(self, item: QListWidgetItem | None) -> None:
        self.nav.blockSignals(True)
        if item is None:
            self.nav.setCurrentRow(-1)
        else:
            self.nav.setCurrentItem(item)
        self.nav.blockSignals(False)

    def current_page(self) -> str | None:
        widget = self.stack.currentWidget()
        for page in self.pages.values():
            if widget is not None and page.built is widget:
                return page.key
        return None

    def page(self, key: str) -> QWidget:
        """The page's widget, made now if it is a lazily built page not yet shown."""
        entry = self.pages[key]
        widget = entry.built
        if widget is None:
            assert entry.build is not None  # a page without a widget has its factory
            build, entry.build = entry.build, None
            widget = build()
            self._place(entry, widget)
        return widget

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

    def _on_nav_item(self, item: QListWidgetItem) -> None:
        """A click or Enter on the selected entry while another page shows (the page a
        review came from stays selected while the review shows). A click on another entry
        has already been handled as a change of the selection."""
        if item is self.nav.currentItem():
            self._on_nav(item, item)

    def _on_nav(self, current: QListWidgetItem | None, previous: QListWidgetItem | None) -> None:
        if current is None:
            return
        key = current.data(Qt.ItemDataRole.UserRole)
        if not (isinstance(key, str) and key in self.pages):
            return
        leaving = self.current_page()
        if key != leaving and leaving is not None:
            for guard in self.leave_guards:
                if not guard(leaving, key):
                    # Stay: the navigation shows the page that is still on screen.
                    self._select_nav(previous)
                    return
        self.show_page(key)

    # -- the banner --------------------------------------------------------------------------

    def set_connection(self, severity: Severity, text: str) -> None:
        self.connection_badge.set_status(severity, text)
        self._fit_banner()

    def set_pump(self, text: str) -> None:
        self.pump_label.setText(text)
        self._fit_banner()

    def _fit_banner(self) -> None:
        label = self.pump_label
        two_lines = 2 * QFontMetrics(label.font()).lineSpacing() + 4
        needed = label.heightForWidth(label.width()) if label.width() > 0 else 0
        layout = self.banner.layout()
        laid_out = (
            layout.totalHeightForWidth(self.banner.width())
            if layout is not None and layout.hasHeightForWidth() and self.banner.width() > 0
            else 0
        )
        height = max(two_lines, needed, laid_out, self.connection_badge.sizeHint().height())
        if height != self.banner.height():
            self.banner.setFixedHeight(height)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if watched in (self.pump_label, self.banner) and event.type() == QEvent.Type.Resize:
            self._fit_banner()
        return super().eventFilter(watched, event)

    def set_busy(self, text: str) -> None:
        self.busy_label.setText(text)
        self._fit_banner()

    def _alert_strip_height(self) -> int:
        """Room for two lines of alert text, or the Reconnect button, whichever is taller."""
        font = QFont(self.font())
        font.setPointSize(ALERT_POINT_SIZE)
        lines = 2 * QFontMetrics(font).lineSpacing() + 16
        button = self.link_banner.button.sizeHint().height() + 14
        return max(lines, button)

    def set_alarms(self, critical: str | None, noncritical: str | None) -> None:
        """Alarm lines for the strip (None hides that one); the strip keeps its height."""
        for badge, text, severity in (
            (self.critical_badge, critical, Severity.CRITICAL),
            (self.noncritical_badge, noncritical, Severity.WARNING),
        ):
            if text is None:
                badge.hide()
            else:
                badge.set_status(severity, text)
                badge.setToolTip(text)
                badge.show()
        self._update_strip()

    def show_link_lost(self, text: str | None) -> None:
        """The lost-link banner with its Reconnect button (None hides it)."""
        if text is None:
            self.link_banner.hide()
        else:
            self.link_banner.set_status(Severity.CRITICAL, text)
            self.link_banner.setToolTip(text)
            self.link_banner.show()
        self._update_strip()

    def _update_strip(self) -> None:
        shown = any(
            not badge.isHidden()
            for badge in (self.critical_badge, self.noncritical_badge, self.link_banner)
        )
        self.no_alert_label.setVisible(not shown)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        self.closing.emit()
        super().closeEvent(event)
