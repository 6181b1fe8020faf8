"""Serve one endpoint on a pseudo-terminal, behind a stable symlink.

The programmer opens the symlink (default ``/tmp/ttyPUMP0``) like any serial
port. We keep our own descriptor on the slave side open for the transport's
whole life, so a programmer closing its port does not leave the master
reporting EIO/HUP in a loop; the same endpoint keeps serving when it reopens.

The symlink is claimed carefully:

* nothing at the path: the link is created;
* a symlink to a live pseudo-terminal that was created *before* the link
  (so the link was made for it, by an emulator that is still running, since a
  pty's ``/dev/pts`` node exists only while its master is open): refused with
  :class:`~emulator.errors.PortInUseError`;
* any other symlink (dangling, to something that is not a pty, or to a pty
  number reused since the link was made): stale, replaced atomically (a
  symlink under a temporary name, then ``os.replace``);
* anything that is not a symlink (a regular file, a directory, a device):
  refused and left untouched.

On close the link is removed, but only if it still points at our pty.
Writes to the master are non-blocking; what the programmer does not read
waits in a bounded :class:`~emulator.transports.outbuf.OutputBuffer`; while it is
full the pty is not read (back-pressure: the programmer's writes wait in the tty
instead of its answers being dropped).
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from collections.abc import Sequence
from pathlib import Path

from emulator.errors import PortInUseError, PtyLimitError
from emulator.transports.base import (
    EVENT_READ,
    EVENT_WRITE,
    Endpoint,
    EndpointFactory,
    Transport,
    Watch,
    due_output,
    release_check,
)
from emulator.transports.outbuf import DEFAULT_LIMIT_BYTES, OutputBuffer

__all__ = ["DEFAULT_LINK_PATH", "PtyTransport"]

DEFAULT_LINK_PATH = "/tmp/ttyPUMP0"
"""Where the programmer finds the pump unless told otherwise."""

_READ_SIZE = 64 * 1024
_BYTES_LIKE = (bytes, bytearray, memoryview)
_QUIET = (False, False)  # _interest with nothing waiting: no write watch, not paused
# Linux Unix98 pty slaves use majors 136..143 (UNIX98_PTY_SLAVE_MAJOR and the next 7).
_PTY_SLAVE_MAJORS = range(136, 144)
_CLAIM_ATTEMPTS = 3


class PtyTransport(Transport):
    """One pseudo-terminal serving one endpoint; the pty is open from construction."""

    reports_watch_changes = True
    reports_poll_needs = True

    def __init__(
        self,
        factory: EndpointFactory,
        *,
        link_path: str | os.PathLike[str] | None = DEFAULT_LINK_PATH,
        output_limit_bytes: int = DEFAULT_LIMIT_BYTES,
    ) -> None:
        """Open a pty, claim ``link_path`` (None: no symlink) and make the endpoint.

        Raises :class:`~emulator.errors.PortInUseError` when the path belongs
        to someone else; nothing is left open or changed on any failure.
        """
        super().__init__()
        self._out = OutputBuffer(limit_bytes=output_limit_bytes)
        self._closed = False
        self._link_path = None if link_path is None else Path(link_path)
        self._link_made = False
        self._interest = (False, False)  # (write, paused) as watches() last told the server
        import tty  # noqa: PLC0415 - POSIX only: imported here so Windows can import this module

        try:
            self._master, self._slave = os.openpty()
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                raise PtyLimitError(errno.ENOSPC, _pty_limit_message()) from exc
            raise
        try:
            tty.setraw(self._slave)
            os.set_blocking(self._master, False)
            self._slave_name = os.ttyname(self._slave)
            if self._link_path is not None:
                _claim_link(self._link_path, self._slave_name)
                self._link_made = True
            self._endpoint: Endpoint = factory()
            self._release_check = release_check(self._endpoint)
        except BaseException:
            self._remove_link()
            os.close(self._master)
            os.close(self._slave)
            self._closed = True
            raise

    # -- what the owner reads ------------------------------------------------

    @property
    def slave_name(self) -> str:
        """The pty's slave device, e.g. ``/dev/pts/3``."""
        return self._slave_name

    @property
    def link_path(self) -> Path | None:
        """The stable symlink, or None when made without one."""
        return self._link_path

    @property
    def port(self) -> str:
        """The path a programmer should open: the symlink if any, else the slave."""
        return str(self._link_path) if self._link_path is not None else self._slave_name

    @property
    def label(self) -> str:
        return f"pty:{self.port}"

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def pending_bytes(self) -> int:
        """Answer bytes waiting for the programmer to read."""
        return self._out.pending_bytes

    # -- driven by the server --------------------------------------------------

    def watches(self) -> Sequence[Watch]:
        if self._closed:
            return ()
        # Back-pressure: while answers pile up, the pty is not read.
        events = (0 if self._out.full else EVENT_READ) | (EVENT_WRITE if self._out else 0)
        return (Watch(fd=self._master, events=events, owner=self),)

    def handle(self, watch: Watch, events: int) -> None:
        if self._closed or watch.owner is not self:
            return
        if events & EVENT_READ:
            self._read()
        if self._out.pending_bytes:  # bool(self._out), without the call
            self._flush()
            self._note_interest()
        elif self._interest != _QUIET:
            self._note_interest()  # emptied: (False, False), as _note_interest would find

    def poll(self) -> None:
        if self._closed:
            return
        try:
            late = due_output(self._endpoint)
        except Exception as exc:
            self.report(link=self.label, where="poll", error=exc)
            return
        finally:
            self._check_timed()
        if late:
            self._out.push(late)
            self._flush()
            self._note_interest()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._remove_link()
        try:
            self._endpoint.close()
        except Exception as exc:
            self.report(link=self.label, where="close", error=exc)
        finally:
            self._out.clear()
            os.close(self._master)
            os.close(self._slave)
            self.watches_changed()

    # -- internals -------------------------------------------------------------

    def _read(self) -> None:
        try:
            data = os.read(self._master, _READ_SIZE)
        except BlockingIOError:
            return
        except OSError as exc:
            # EIO means no slave is open; we hold one, so only a race at close gets here.
            if exc.errno == errno.EIO:
                return
            raise
        if not data:
            return
        try:
            answer = self._endpoint.receive(data)
            if type(answer) is not bytes and not isinstance(answer, _BYTES_LIKE):
                raise TypeError(f"endpoint returned {type(answer).__name__}, not bytes")
        except Exception as exc:
            self.report(link=self.label, where="receive", error=exc)
            return
        finally:
            check = self._release_check
            if check is not None:
                # _check_timed, written out (after every request on an impaired link).
                try:
                    needed, after_s = check()
                    if needed:
                        self.poll_needed(after_s)
                except Exception as exc:
                    self.poll_needed(None)  # cannot tell: keep asking
                    self.report(link=self.label, where="poll", error=exc)
        if not answer:
            return
        if self._out.pending_bytes:  # bool(self._out), without the call
            self._out.push(bytes(answer))  # behind what waits already; handle() flushes
            return
        # Nothing waiting (the usual case): write at once, and keep only what the tty does
        # not take now (the same bytes, in the same order, as pushing and flushing).
        try:
            written = os.write(self._master, answer)
        except BlockingIOError:
            written = 0
        except OSError as exc:
            self.report(link=self.label, where="write", error=exc)
            return
        if written < len(answer):
            self._out.push(bytes(answer[written:]))

    def _check_timed(self) -> None:
        """Ask the server for a poll when the endpoint's next answer is due (only ``receive``
        and ``due`` put bytes in flight, so this runs after each)."""
        check = self._release_check
        if check is None:
            return
        try:
            needed, after_s = check()
            if needed:
                self.poll_needed(after_s)
        except Exception as exc:
            self.poll_needed(None)  # cannot tell: keep asking, as for any timed endpoint
            self.report(link=self.label, where="poll", error=exc)

    def _note_interest(self) -> None:
        """Tell the server when the answer buffer filled or emptied (write watch on/off)."""
        wanted = (bool(self._out), self._out.full)
        if wanted != self._interest:
            self._interest = wanted
            self.watches_changed()

    def _flush(self) -> None:
        try:
            self._out.write_to(lambda view: os.write(self._master, view))
        except OSError as exc:
            # The tty refused the bytes for good; keeping them would spin the loop.
            self._out.clear()
            self.report(link=self.label, where="write", error=exc)

    def _remove_link(self) -> None:
        if not self._link_made or self._link_path is None:
            return
        self._link_made = False
        with contextlib.suppress(OSError):
            # Someone may have replaced the link since; only remove our own.
            if os.readlink(self._link_path) == self._slave_name:
                os.unlink(self._link_path)


def _pty_limit_message() -> str:
    """Why no pty could be opened, with the system's limit and use when /proc tells them."""
    try:
        limit = Path("/proc/sys/kernel/pty/max").read_text().strip()
        used = Path("/proc/sys/kernel/pty/nr").read_text().strip()
    except OSError:
        figures = "the system's limit is reached"
    else:
        figures = f"the system allows {limit} (/proc/sys/kernel/pty/max) and {used} are in use"
    return (
        f"no pseudo-terminal left: {figures}, for every process on the machine; serve "
        "fewer pumps over ptys, or serve them over TCP (--no-pty --tcp HOST:PORT)"
    )


def _claim_link(path: Path, target: str) -> None:
    """Point ``path`` at ``target`` unless the path belongs to someone else."""
    for _ in range(_CLAIM_ATTEMPTS):
        try:
            existing = os.lstat(path)
        except FileNotFoundError:
            try:
                # Plain symlink(): fails instead of clobbering something that just appeared.
                os.symlink(target, path)
            except FileExistsError:
                continue
            return
        if not stat.S_ISLNK(existing.st_mode):
            raise PortInUseError(f"{path} exists and is not a symlink; refusing to replace it")
        live = _live_pty_behind(path, existing)
        if live is not None:
            raise PortInUseError(
                f"{path} points at {live}, a pseudo-terminal still in use "
                "(is another emulator running?)"
            )
        temp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        os.symlink(target, temp)
        try:
            os.replace(temp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise
        return
    raise PortInUseError(f"{path} keeps changing under us; giving up")


def _live_pty_behind(path: Path, link: os.stat_result) -> str | None:
    """The pty ``path`` links to if it is live and the link was made for it, else None."""
    try:
        target = os.readlink(path)
        node = os.stat(path)
    except OSError:
        return None  # dangling (or vanished meanwhile): stale
    if not stat.S_ISCHR(node.st_mode) or os.major(node.st_rdev) not in _PTY_SLAVE_MAJORS:
        return None
    # A pts node is created with its pty; one newer than the link is a reused
    # number, not the pty the link was made for.
    if node.st_ctime_ns > link.st_mtime_ns:
        return None
    return target
