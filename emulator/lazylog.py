"""A module's logger found when the module first logs, not when it is imported.

``pump-emulator serve`` logs only when something goes wrong, and importing ``logging``
(with ``traceback``, ``string`` and their own imports) was about 4 % of the instructions
it spent starting (#16). ``logger(__name__)`` stands for ``logging.getLogger(__name__)``:
each use imports ``logging`` (once, then from ``sys.modules``) and asks it for the same
logger, so handlers, levels and filters configured on it apply as they always did.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    import logging

__all__ = ["logger"]


class _Logger:
    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attribute: str) -> Any:
        import logging  # noqa: PLC0415 - imported at the first use, the point of this module

        return getattr(logging.getLogger(self._name), attribute)

    def __repr__(self) -> str:
        return f"<logger {self._name!r}, found when first used>"


def logger(name: str) -> logging.Logger:
    """What ``logging.getLogger(name)`` returns, looked up at each use."""
    return cast("logging.Logger", _Logger(name))
