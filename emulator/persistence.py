"""The virtual pump's state file (``--state FILE``): atomic, verified, crash-safe.

The file holds the pump's complete non-volatile image
(:meth:`firmware_model.pump.Pump.to_bytes`) plus what the emulator needs to
resume it: the model time and wall time it was saved at, the clock speed then,
and a little emulator metadata. Layout (big-endian)::

    offset  size  field
    0       8     MAGIC       b"VPUMPST1"
    8       2     VERSION     format version (this module writes 2: the pump image of the
                              dosing-truth wire, NVM format 2; a version 1 file is refused
                              with IncompatibleStateError)
    10      4     HEADER_LEN  length N of the JSON header in bytes
    14      4     HEADER_CRC  CRC-32 (zlib) of bytes 0..14 and of the JSON header
    18      N     HEADER      canonical JSON (UTF-8, sorted keys): pump_t, saved_wall_s,
                              clock_speed, extra, image_len, image_sha256
    18+N    M     IMAGE       the pump image; M = image_len, SHA-256 = image_sha256

Loading checks everything (magic, version, lengths, the header CRC, every
header field, the image length and SHA-256, and that the image decodes to a
pump at ``pump_t``) and raises :class:`CorruptStateError`, naming the file
and what is wrong, rather than return anything doubtful. It only ever reads:
a refused file is left exactly as it was, so the operator can inspect it.

Saving is atomic: the new contents go to a temporary file in the same
directory (``.NAME.PID.N.tmp``), which is flushed and fsynced, renamed over
the old file with :func:`os.replace`, and then the directory is fsynced so the
rename itself is durable. Nothing follows a symlink: the directory is opened
once and every name is used relative to that descriptor; the temporary file is
created exclusively (``O_EXCL | O_NOFOLLOW``, mode 0600), and the rename
replaces whatever is at NAME (a symlink planted there is replaced, its target
never touched); loading refuses a symlink. So a local user who can write the
directory cannot make an emulator (run as root, say) create or overwrite any
other file. :meth:`StateFile.acquire` takes an exclusive lock
(``.NAME.lock``, ``flock``) so two emulators never share one state file.
A crash at any moment leaves either the old file or the new one, never a
mix; a failed save removes its temporary file and leaves the old file intact.
A process killed mid-save can leave its temporary file behind: loading ignores
such files and :meth:`StateFile.remove_stale_temp_files` clears those of dead
processes.

:class:`Saver` is the emulator's policy on top: :meth:`Saver.save_now` after
every acknowledged change (called *before* the acknowledgement is sent, so an
acknowledged command is always on disk) and :meth:`Saver.maybe_save` for the
periodic save. :func:`catch_up_s` says how far to advance the pump after a
restart.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import itertools
import json
import math
import os
import re
import stat
import struct
import threading
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import field
from pathlib import Path
from types import MappingProxyType
from typing import cast

from emulator.clock import MAX_ADVANCE_S, MAX_SPEED
from emulator.errors import EmulatorError, EmulatorPeerError, EmulatorUsageError
from firmware_model.errors import CorruptImageError
from firmware_model.pump import Pump
from protocol.frozen import frozen
from protocol.timebase import RTC_MAX_CLOCK_S

__all__ = [
    "FORMAT_VERSION",
    "MAGIC",
    "MAX_FILE_BYTES",
    "MAX_HEADER_BYTES",
    "CorruptStateError",
    "ExtraValue",
    "IncompatibleStateError",
    "Saver",
    "StateFile",
    "StateFileAccessError",
    "StateFileError",
    "StateFileLockedError",
    "StateFileNotFoundError",
    "StateValueError",
    "StoredState",
    "catch_up_s",
    "decode",
    "encode",
]

MAGIC = b"VPUMPST1"
FORMAT_VERSION = 2
_PREFIX = struct.Struct(">8sHII")
"""MAGIC, VERSION, HEADER_LEN, HEADER_CRC."""
_CRC_OFFSET = 14
"""HEADER_CRC covers the prefix up to here, then the JSON header."""

MAX_HEADER_BYTES = 64 * 1024
"""Largest JSON header written or accepted (``extra`` is meant to be small)."""
MAX_FILE_BYTES = 64 * 1024 * 1024
"""Largest file :meth:`StateFile.load` reads (a full pump image is tens of kB)."""

_HEADER_KEYS = frozenset(
    {"pump_t", "saved_wall_s", "clock_speed", "extra", "image_len", "image_sha256"}
)
_SHA256_HEX = r"[0-9a-f]{64}"  # compiled (and cached) by re when first used (#16)

ExtraValue = str | int | float | bool
"""What ``StoredState.extra`` may hold: plain JSON scalars (floats finite)."""


# --------------------------------------------------------------------------- errors


class StateFileError(EmulatorError):
    """Root of the state-file errors."""


class CorruptStateError(StateFileError, EmulatorPeerError, ValueError):
    """The state file is damaged, truncated, of another format or not a state file at all.

    The file has not been changed. ``path`` is the file (or a description of
    the bytes' source) and ``reason`` what is wrong with it.
    """

    def __init__(self, *, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"refusing state file {path}: {reason} (the file was left untouched)")


class IncompatibleStateError(CorruptStateError):
    """The state file was written by an older vpump whose stored pump cannot be read: the
    dosing-truth change (prescriptions as doses, the bridge, the implant record) changed
    the pump's non-volatile image. Nothing is converted: a dose cannot be guessed from a
    rate. The file has not been changed."""

    def __init__(self, *, path: str, version: int) -> None:
        self.version = version
        super().__init__(
            path=path,
            reason=f"it is format version {version}, written before prescriptions became doses "
            f"(this emulator reads version {FORMAT_VERSION}); start a fresh pump with another "
            "--state file (or remove this one) and program it again",
        )


class StateFileAccessError(StateFileError, EmulatorPeerError, OSError):
    """The state file or its directory cannot be read or written (permissions, disk
    full, not a regular file ...). A failed save leaves the old file intact."""


class StateFileNotFoundError(StateFileAccessError, FileNotFoundError):
    """There is no state file to load."""


class StateFileLockedError(StateFileAccessError):
    """Another emulator holds the state file's lock."""


class StateValueError(StateFileError, EmulatorUsageError, ValueError):
    """We asked for something invalid: a malformed :class:`StoredState`, an image that
    would not load back, a bad saver interval. Nothing was written."""


# --------------------------------------------------------------------------- the state


def _finite_number(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise StateValueError(f"{name} must be a number, got {type(value).__name__} {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise StateValueError(f"{name} must be finite, got {value!r}")
    return number


def _check_extra(extra: object) -> dict[str, ExtraValue]:
    if not isinstance(extra, Mapping):
        raise StateValueError(f"extra must be a mapping, got {type(extra).__name__}")
    checked: dict[str, ExtraValue] = {}
    for key, value in extra.items():
        if not isinstance(key, str):
            raise StateValueError(f"extra keys must be str, got {type(key).__name__} {key!r}")
        if isinstance(value, float) and not math.isfinite(value):
            raise StateValueError(f"extra[{key!r}] must be finite, got {value!r}")
        if not isinstance(value, str | int | float):  # bool is an int
            raise StateValueError(
                f"extra[{key!r}] must be a str, int, float or bool, got {type(value).__name__}"
            )
        checked[key] = value
    return checked


@frozen
class StoredState:
    """What a state file holds: the pump image and what is needed to resume it."""

    pump_image: bytes
    """The pump's non-volatile image, :meth:`Pump.to_bytes`."""
    pump_t: int
    """Model time (s) the image was taken at; the image's own ``t``."""
    saved_wall_s: float
    """``time.time()`` when saved: the emulator was off for ``now - saved_wall_s``."""
    clock_speed: float
    """Pump seconds per wall second when saved (0 to :data:`~emulator.clock.MAX_SPEED`);
    0 means the clock stood still (paused or manual), so no catch-up."""
    extra: Mapping[str, ExtraValue] = field(default_factory=lambda: MappingProxyType({}))
    """Small emulator metadata (catheter length, patient settings ...); a read-only copy."""

    def __post_init__(self) -> None:
        if not isinstance(self.pump_image, bytes) or not self.pump_image:
            raise StateValueError("pump_image must be non-empty bytes (Pump.to_bytes())")
        if type(self.pump_t) is not int or self.pump_t < 0:
            raise StateValueError(f"pump_t must be an int >= 0, got {self.pump_t!r}")
        object.__setattr__(self, "saved_wall_s", _finite_number("saved_wall_s", self.saved_wall_s))
        speed = _finite_number("clock_speed", self.clock_speed)
        if not 0.0 <= speed <= MAX_SPEED:
            raise StateValueError(f"clock_speed {speed!r} outside 0..{MAX_SPEED:g}")
        object.__setattr__(self, "clock_speed", speed)
        # A private copy, read-only, so the state cannot change under a saver.
        object.__setattr__(self, "extra", MappingProxyType(_check_extra(self.extra)))

    def __hash__(self) -> int:
        return hash(
            (
                self.pump_image,
                self.pump_t,
                self.saved_wall_s,
                self.clock_speed,
                tuple(sorted(self.extra.items())),
            )
        )


# --------------------------------------------------------------------------- bytes


def _pump_at(image: bytes, pump_t: int) -> Pump:
    """The pump in ``image``; CorruptImageError unless it loads and stands at ``pump_t``."""
    pump = Pump.from_bytes(image)
    if pump.t != pump_t:
        raise CorruptImageError(f"the image is at t={pump.t} s, the header says pump_t={pump_t} s")
    return pump


def encode(state: StoredState) -> bytes:
    """The state file's bytes for ``state``.

    Raises :class:`StateValueError` if the result would not load back: an
    image that does not decode (an RTC past 2106, say) or is not at
    ``pump_t``, or a header over :data:`MAX_HEADER_BYTES`.
    """
    try:
        _pump_at(state.pump_image, state.pump_t)
    except CorruptImageError as exc:
        raise StateValueError(f"refusing to save a pump image that would not load: {exc}") from exc
    header = json.dumps(
        {
            "pump_t": state.pump_t,
            "saved_wall_s": state.saved_wall_s,
            "clock_speed": state.clock_speed,
            "extra": dict(state.extra),
            "image_len": len(state.pump_image),
            "image_sha256": hashlib.sha256(state.pump_image).hexdigest(),
        },
        sort_keys=True,
        separators=(",", ":"),
        allow_nan=False,
    ).encode("ascii")
    if len(header) > MAX_HEADER_BYTES:
        raise StateValueError(
            f"header is {len(header)} bytes, more than {MAX_HEADER_BYTES}: extra is too large"
        )
    start = _PREFIX.pack(MAGIC, FORMAT_VERSION, len(header), 0)[:_CRC_OFFSET]
    crc = zlib.crc32(header, zlib.crc32(start))
    return start + struct.pack(">I", crc) + header + state.pump_image


class _Header:
    """The JSON header's fields, each read with its type checked (bool is never a number)."""

    def __init__(self, fields: dict[str, object]) -> None:
        self._fields = fields

    def _bad(self, key: str, expected: str) -> ValueError:
        value = self._fields[key]
        return ValueError(
            f"header field {key} must be {expected}, got {type(value).__name__} {value!r}"
        )

    def get_int(self, key: str) -> int:
        value = self._fields[key]
        if type(value) is not int:
            raise self._bad(key, "an integer")
        return value

    def get_float(self, key: str) -> float:
        value = self._fields[key]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self._bad(key, "a number")
        return float(value)

    def get_str(self, key: str) -> str:
        value = self._fields[key]
        if not isinstance(value, str):
            raise self._bad(key, "a string")
        return value

    def get_obj(self, key: str) -> dict[str, object]:
        value = self._fields[key]
        if not isinstance(value, dict):
            raise self._bad(key, "an object")
        return value


class _OlderFormatError(Exception):
    """Internal: the file is of an older format version."""

    def __init__(self, version: int) -> None:
        super().__init__(version)
        self.version = version


def _decode(data: bytes) -> StoredState:
    """Parse and verify; ValueError (with a reason for a person) for anything but a valid file."""
    size = len(data)
    if size < _PREFIX.size:
        what = "the file is empty" if size == 0 else f"truncated: {size} bytes"
        raise ValueError(f"{what}, shorter than the {_PREFIX.size}-byte prefix of a state file")
    magic, version, header_len, crc = _PREFIX.unpack_from(data)
    if magic != MAGIC:
        raise ValueError(f"not a vpump state file: magic {magic!r}, expected {MAGIC!r}")
    if version < FORMAT_VERSION:
        raise _OlderFormatError(version)
    if version != FORMAT_VERSION:
        raise ValueError(f"format version {version}, this emulator reads {FORMAT_VERSION}")
    if header_len > MAX_HEADER_BYTES:
        raise ValueError(f"header length {header_len} bytes exceeds the {MAX_HEADER_BYTES} limit")
    body_start = _PREFIX.size + header_len
    if size < body_start:
        raise ValueError(f"truncated: {size} bytes, the header alone ends at byte {body_start}")
    raw_header = data[_PREFIX.size : body_start]
    actual_crc = zlib.crc32(raw_header, zlib.crc32(data[:_CRC_OFFSET]))
    if actual_crc != crc:
        raise ValueError(
            f"header checksum mismatch (CRC-32 {actual_crc:#010x}, stored {crc:#010x}): "
            "the header is damaged"
        )
    # Past the CRC only a defective writer (or a hand-made file) gets these wrong.
    try:
        header = json.loads(raw_header.decode("utf-8"))  # both errors are ValueErrors
    except RecursionError as exc:
        raise ValueError("header JSON is nested too deeply") from exc
    if not isinstance(header, dict):
        raise ValueError(f"header is a JSON {type(header).__name__}, expected an object")
    if header.keys() != _HEADER_KEYS:
        missing = sorted(_HEADER_KEYS - header.keys())
        unknown = sorted(header.keys() - _HEADER_KEYS)
        raise ValueError(f"header fields wrong: missing {missing}, unknown {unknown}")
    fields = _Header(header)
    image_len = fields.get_int("image_len")
    digest = fields.get_str("image_sha256")
    if not re.fullmatch(_SHA256_HEX, digest):
        raise ValueError(f"header field image_sha256 is not a SHA-256 in hex: {digest!r}")
    image = data[body_start:]
    if len(image) != image_len:
        raise ValueError(
            f"the pump image is {len(image)} bytes, the header says {image_len} "
            f"(file {size} bytes: {'truncated' if len(image) < image_len else 'trailing data'})"
        )
    if hashlib.sha256(image).hexdigest() != digest:
        raise ValueError("pump image SHA-256 mismatch: the image is damaged")
    try:
        state = StoredState(
            pump_image=image,
            pump_t=fields.get_int("pump_t"),
            saved_wall_s=fields.get_float("saved_wall_s"),
            clock_speed=fields.get_float("clock_speed"),
            # Value types are checked by StoredState itself.
            extra=cast("dict[str, ExtraValue]", fields.get_obj("extra")),
        )
    except StateValueError as exc:
        raise ValueError(f"bad header: {exc}") from exc
    try:
        _pump_at(image, state.pump_t)
    except CorruptImageError as exc:
        raise ValueError(f"the pump image does not load: {exc}") from exc
    return state


def decode(data: bytes, *, source: str = "<bytes>") -> StoredState:
    """Parse and verify a state file's bytes.

    Raises :class:`CorruptStateError` naming ``source`` and what is wrong for
    anything but a complete, valid file whose image loads.
    """
    try:
        return _decode(bytes(data))
    except CorruptStateError:
        raise
    except _OlderFormatError as exc:
        raise IncompatibleStateError(path=source, version=exc.version) from None
    except ValueError as exc:  # includes UnicodeDecodeError, JSONDecodeError, CorruptImageError
        raise CorruptStateError(path=source, reason=str(exc)) from exc


# --------------------------------------------------------------------------- the file


_temp_counter = itertools.count()
_O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        # Someone else's process (alive), or not a pid at all: leave the file alone.
        return True
    return True


class StateFile:
    """One state file on disk. Safe to use from several processes for reading; one
    writer at a time (:meth:`acquire` makes sure of it)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        """``path`` need not exist yet; its directory must when saving."""
        self.path = Path(path)
        self._lock_fd: int | None = None

    def __repr__(self) -> str:
        return f"StateFile({str(self.path)!r})"

    def exists(self) -> bool:
        """Whether there is something at ``path`` for :meth:`load`: a state file, or
        something to refuse (a symlink, even a dangling one, is refused, never followed)."""
        return os.path.lexists(self.path)

    def _open_dir(self) -> int:
        return os.open(self.path.parent, os.O_RDONLY | _O_DIRECTORY | _O_CLOEXEC)

    def acquire(self) -> None:
        """Take the exclusive lock on this state file (``.NAME.lock`` beside it, ``flock``),
        held until :meth:`release` or the process ends.

        Raises :class:`StateFileLockedError` when another emulator holds it, and
        :class:`StateFileAccessError` when the lock file cannot be made.
        """
        if self._lock_fd is not None:
            return
        name = f".{self.path.name}.lock"
        try:
            dir_fd = self._open_dir()
            try:
                flags = os.O_RDWR | os.O_CREAT | _O_NOFOLLOW | _O_CLOEXEC
                fd = os.open(name, flags, 0o600, dir_fd=dir_fd)
            finally:
                os.close(dir_fd)
        except OSError as exc:
            raise StateFileAccessError(
                f"cannot lock state file {self.path}: {name}: {_why(exc)}"
            ) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise StateFileLockedError(
                    f"state file {self.path} is in use by another emulator; "
                    "two emulators must not share a state file"
                ) from exc
            raise StateFileAccessError(f"cannot lock state file {self.path}: {_why(exc)}") from exc
        self._lock_fd = fd

    def release(self) -> None:
        """Give the lock back (idempotent)."""
        fd, self._lock_fd = self._lock_fd, None
        if fd is not None:
            os.close(fd)  # closing the descriptor releases the flock

    def load(self) -> StoredState:
        """Read and verify the file; never modifies it, never follows a symlink.

        Raises :class:`CorruptStateError` if it is not a complete, valid state
        file, :class:`StateFileNotFoundError` if there is none, and
        :class:`StateFileAccessError` if it cannot be read (or is a symlink).
        """
        where = str(self.path)
        try:
            info = os.lstat(self.path)
            if stat.S_ISLNK(info.st_mode):
                raise StateFileAccessError(
                    f"state file {where} is a symbolic link; refusing to follow it"
                )
            if not stat.S_ISREG(info.st_mode):
                # A directory, FIFO or device: opening a FIFO would even block.
                raise StateFileAccessError(f"state file {where} is not a regular file")
            if info.st_size > MAX_FILE_BYTES:
                raise CorruptStateError(
                    path=where,
                    reason=f"{info.st_size} bytes, larger than any state file "
                    f"({MAX_FILE_BYTES} bytes at most)",
                )
            with open(self.path, "rb", opener=_nofollow_opener) as f:
                if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                    raise StateFileAccessError(f"state file {where} is not a regular file")
                data = f.read(MAX_FILE_BYTES + 1)
        except FileNotFoundError as exc:
            raise StateFileNotFoundError(f"no state file at {where}") from exc
        except StateFileError:
            raise
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise StateFileAccessError(
                    f"state file {where} is a symbolic link; refusing to follow it"
                ) from exc
            raise StateFileAccessError(f"cannot read state file {where}: {_why(exc)}") from exc
        return decode(data, source=where)

    def save(self, state: StoredState) -> None:
        """Replace the file with ``state``, atomically and durably, following no symlink.

        On return the new state is on disk (file and directory fsynced). On
        :class:`StateFileAccessError` (or :class:`StateValueError`, before
        anything is written) the temporary file is gone and the old file is
        intact; if only the final directory fsync failed, the new file is in
        place but may not survive a power cut, so the error is still raised.
        """
        data = encode(state)
        name = self.path.name
        try:
            dir_fd = self._open_dir()
        except OSError as exc:
            raise StateFileAccessError(
                f"cannot save state file {self.path}: cannot open its directory "
                f"{self.path.parent}: {_why(exc)}; the old file is unchanged"
            ) from exc
        try:
            self._save_in(dir_fd, name, data)
            try:
                os.fsync(dir_fd)
            except OSError as exc:
                raise StateFileAccessError(
                    f"state file {self.path} was replaced but its directory could not be "
                    f"synced ({_why(exc)}): the new state may not survive a power cut"
                ) from exc
        finally:
            os.close(dir_fd)

    def _save_in(self, dir_fd: int, name: str, data: bytes) -> None:
        fd, temp = self._create_temp(dir_fd, name)
        try:
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            finally:
                os.close(fd)
            # rename() replaces the name itself: a symlink planted at NAME is replaced, its
            # target is never written.
            os.replace(temp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        except OSError as exc:
            _unlink_quietly(temp, dir_fd)
            raise StateFileAccessError(
                f"cannot save state file {self.path}: {_why(exc)}; the old file is unchanged"
            ) from exc
        except BaseException:
            _unlink_quietly(temp, dir_fd)
            raise

    def _create_temp(self, dir_fd: int, name: str) -> tuple[int, str]:
        """A new, exclusively created temp file beside ``name`` (never through a symlink,
        mode 0600): (fd, its name in the directory)."""
        pid = os.getpid()
        while True:
            temp = f".{name}.{pid}.{next(_temp_counter)}.tmp"
            try:
                flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW | _O_CLOEXEC
                return os.open(temp, flags, 0o600, dir_fd=dir_fd), temp
            except FileExistsError:
                continue  # left by an earlier process with our pid, or planted: the next name
            except OSError as exc:
                raise StateFileAccessError(
                    f"cannot save state file {self.path}: cannot create {temp} in "
                    f"{self.path.parent}: {_why(exc)}; the old file is unchanged"
                ) from exc

    def temp_files(self) -> list[Path]:
        """Temporary files of saves of this state file (by any process) lying in its
        directory, sorted by name."""
        target = self.path
        pattern = re.compile(rf"\.{re.escape(target.name)}\.[0-9]+\.[0-9]+\.tmp")
        try:
            names = os.listdir(target.parent)
        except OSError:
            return []
        return sorted(target.parent / n for n in names if pattern.fullmatch(n))

    def remove_stale_temp_files(self) -> list[Path]:
        """Remove the temporary files left by saving processes that no longer run (killed
        mid-save); returns what was removed. Files of live processes are kept."""
        removed: list[Path] = []
        for temp in self.temp_files():
            pid = int(temp.name.rsplit(".", 3)[-3])
            if pid != os.getpid() and not _pid_alive(pid):
                try:
                    temp.unlink()
                except FileNotFoundError:
                    continue
                except OSError as exc:
                    raise StateFileAccessError(
                        f"cannot remove stale temporary file {temp}: {_why(exc)}"
                    ) from exc
                removed.append(temp)
        return removed


def _nofollow_opener(path: str, flags: int) -> int:
    return os.open(path, flags | _O_NOFOLLOW | _O_CLOEXEC | os.O_NONBLOCK)


def _why(exc: OSError) -> str:
    if exc.errno is not None and exc.strerror:
        return f"{exc.strerror} ({errno.errorcode.get(exc.errno, exc.errno)})"
    return str(exc)


def _unlink_quietly(name: str, dir_fd: int) -> None:
    # Already gone, or the directory went away: nothing more we can do.
    with contextlib.suppress(OSError):
        os.unlink(name, dir_fd=dir_fd)


# --------------------------------------------------------------------------- restart


def catch_up_s(stored: StoredState, *, now_wall_s: float, pause_while_off: bool) -> int:
    """Whole pump seconds to advance a pump restored from ``stored`` at wall time
    ``now_wall_s`` (``time.time()``).

    The time the emulator was off, times the clock speed it had, rounded
    down; 0 with ``pause_while_off``, a speed of 0, or a wall clock that went
    backwards. Capped at :data:`~emulator.clock.MAX_ADVANCE_S` and so that the
    pump's RTC stays within 32 bits (a pump past 2106 could not be saved).
    """
    now = _finite_number("now_wall_s", now_wall_s)
    if type(pause_while_off) is not bool:
        raise StateValueError(f"pause_while_off must be a bool, got {pause_while_off!r}")
    off_s = now - stored.saved_wall_s
    if pause_while_off or off_s <= 0 or stored.clock_speed == 0:
        return 0
    try:
        pump = _pump_at(stored.pump_image, stored.pump_t)
    except CorruptImageError as exc:
        raise StateValueError(f"stored.pump_image is not a valid pump image: {exc}") from exc
    limit_s = max(0, min(MAX_ADVANCE_S, RTC_MAX_CLOCK_S - pump.clock(stored.pump_t)))
    ahead_s = off_s * stored.clock_speed  # finite: both factors are, and bounded
    return limit_s if ahead_s >= limit_s else math.floor(ahead_s)


# --------------------------------------------------------------------------- saver


class Saver:
    """When the emulator saves: after every acknowledged change, and periodically.

    Synchronous: a save returns once the state is on disk. Calls are
    serialised by an internal lock, but the *order* of states is the
    caller's: capture the state and save it under the lock that orders the
    pump's changes (the virtual pump's lock), so a newer state is never
    overtaken by an older one.
    """

    def __init__(
        self,
        state_file: StateFile,
        *,
        min_interval_s: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``min_interval_s``: least time between periodic saves, on ``clock``."""
        interval = _finite_number("min_interval_s", min_interval_s)
        if interval < 0:
            raise StateValueError(f"min_interval_s must be >= 0, got {min_interval_s!r}")
        self.state_file = state_file
        self.min_interval_s = interval
        self._clock = clock
        self._lock = threading.Lock()
        self.last_saved_at_s: float | None = None
        """``clock`` reading when the last successful save finished (None: none yet)."""
        self.last_duration_s: float | None = None
        """How long the last successful save took, on ``clock``."""
        self.saves = 0
        """Successful saves so far."""

    def due(self) -> bool:
        """Whether a periodic save is due (none yet, or ``min_interval_s`` has passed)."""
        last = self.last_saved_at_s
        return last is None or self._clock() - last >= self.min_interval_s

    def save_now(self, state: StoredState) -> None:
        """Save ``state`` now (after an acknowledged change, before the acknowledgement).

        Raises what :meth:`StateFile.save` raises; then the change must not be
        acknowledged.
        """
        with self._lock:
            self._save(state)

    def maybe_save(self, state_factory: Callable[[], StoredState]) -> bool:
        """The periodic save: if due, build the state and save it; returns whether it saved."""
        with self._lock:
            if not self.due():
                return False
            self._save(state_factory())
            return True

    def _save(self, state: StoredState) -> None:
        started = self._clock()
        self.state_file.save(state)
        finished = self._clock()
        self.last_saved_at_s = finished
        self.last_duration_s = finished - started
        self.saves += 1
