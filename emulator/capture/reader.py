"""Reading a JSON-lines capture back, line by line, with a clear error naming a bad line."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, TextIO

from emulator.capture.records import (
    CAPTURE_FORMAT,
    CaptureFileError,
    CaptureFormatError,
    CaptureHeader,
    CaptureValueError,
    Chunk,
    ClosedOnExit,
    Target,
)


def _number(obj: dict[str, Any], key: str, line: int, source: str) -> Any:
    if key not in obj:
        raise CaptureFormatError(f"missing {key!r}", line=line, source=source)
    return obj[key]


MAX_LINE_BYTES = 1024 * 1024
"""Longest capture line read (a chunk of about 500 kB in hex); a longer line is refused
rather than read whole into memory (``decode`` of a 40 MB line took 3 GB)."""


class CaptureReader(ClosedOnExit):
    """Reads a capture: the header on construction, then the chunks by iteration.

    ``source`` is a path or an open text stream (left open). Blank lines are
    skipped; a line longer than :data:`MAX_LINE_BYTES` is refused
    (:class:`CaptureFormatError`). A last line cut off mid-write (no newline,
    not valid JSON) ends the capture and is reported in :attr:`truncated_line`;
    any other bad line raises :class:`CaptureFormatError` naming it.

    Raises:
        CaptureFileError: the file cannot be opened or read (reason "read").
        CaptureFormatError: the first line is not a capture header of a known version.
    """

    def __init__(self, source: Target | TextIO) -> None:
        self.source = str(source) if isinstance(source, str | os.PathLike) else "<stream>"
        self.truncated_line: int | None = None
        """The number of a cut-off last line that was ignored, if any."""
        self._owned = isinstance(source, str | os.PathLike)
        try:
            if isinstance(source, str | os.PathLike):
                self._stream: IO[Any] = open(Path(source), "rb")  # noqa: SIM115 - closed by close()
            else:
                self._stream = source
        except OSError as exc:
            raise CaptureFileError(
                f"cannot open the capture {self.source}: {exc}", reason="read"
            ) from exc
        self._lines = self._numbered_lines()
        try:
            self.header = self._read_header()
        except BaseException:
            self.close()
            raise

    def _numbered_lines(self) -> Iterator[tuple[int, str, bool]]:
        """(line number, text, whether it ended with a newline), blank lines skipped."""
        number = 0
        while True:
            try:
                raw = self._stream.readline(MAX_LINE_BYTES + 1)
            except OSError as exc:
                raise CaptureFileError(
                    f"reading {self.source} failed: {exc}", reason="read"
                ) from exc
            except UnicodeDecodeError:
                raise CaptureFormatError(
                    "not UTF-8 text", line=number + 1, source=self.source
                ) from None
            if not raw:
                return
            number += 1
            if len(raw) > MAX_LINE_BYTES:
                raise CaptureFormatError(
                    f"longer than {MAX_LINE_BYTES} bytes: not a capture line",
                    line=number,
                    source=self.source,
                )
            if isinstance(raw, bytes):
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError:
                    if raw.endswith(b"\n"):
                        raise CaptureFormatError(
                            "not UTF-8 text", line=number, source=self.source
                        ) from None
                    # Perhaps a multibyte character cut off by a crash: the caller judges.
                    text = raw.decode("utf-8", errors="replace")
            else:
                text = raw
            if text.strip():
                yield number, text, text.endswith("\n")

    def _parse(self, number: int, text: str) -> dict[str, Any]:
        try:
            obj = json.loads(text)
        except ValueError as exc:  # json.JSONDecodeError
            raise CaptureFormatError(f"not JSON: {exc}", line=number, source=self.source) from None
        except RecursionError:
            raise CaptureFormatError(
                "JSON nested too deep", line=number, source=self.source
            ) from None
        if not isinstance(obj, dict):
            raise CaptureFormatError("not a JSON object", line=number, source=self.source)
        return obj

    def _read_header(self) -> CaptureHeader:
        first = next(self._lines, None)
        if first is None:
            raise CaptureFormatError("empty file: no capture header", line=1, source=self.source)
        number, text, _ = first
        obj = self._parse(number, text)
        if obj.get("format") != CAPTURE_FORMAT:
            raise CaptureFormatError(
                f"not a {CAPTURE_FORMAT} header (format is {obj.get('format')!r})",
                line=number,
                source=self.source,
            )
        try:
            return CaptureHeader(
                version=_number(obj, "version", number, self.source),
                pump_serial=obj.get("pump_serial"),
                start_wall_s=_number(obj, "start_wall", number, self.source),
                start_pump_s=_number(obj, "start_pump_s", number, self.source),
            )
        except CaptureValueError as exc:
            raise CaptureFormatError(str(exc), line=number, source=self.source) from None

    def _chunk(self, number: int, obj: dict[str, Any]) -> Chunk:
        if "format" in obj:
            raise CaptureFormatError("a second capture header", line=number, source=self.source)
        hexdata = _number(obj, "hex", number, self.source)
        if not isinstance(hexdata, str):
            raise CaptureFormatError("'hex' must be a string", line=number, source=self.source)
        try:
            data = bytes.fromhex(hexdata)
        except ValueError:
            raise CaptureFormatError(
                "'hex' is not hexadecimal", line=number, source=self.source
            ) from None
        try:
            return Chunk(
                wall_s=_number(obj, "wall", number, self.source),
                pump_s=_number(obj, "pump_s", number, self.source),
                direction=_number(obj, "dir", number, self.source),
                link=_number(obj, "link", number, self.source),
                data=data,
            )
        except CaptureValueError as exc:
            raise CaptureFormatError(str(exc), line=number, source=self.source) from None

    def __iter__(self) -> Iterator[Chunk]:
        for number, text, complete in self._lines:
            try:
                obj = self._parse(number, text)
            except CaptureFormatError:
                if complete:
                    raise
                # Only the last line can lack its newline: the writer died mid-line.
                self.truncated_line = number
                return
            yield self._chunk(number, obj)

    def close(self) -> None:
        """Close the file if this reader opened it; idempotent."""
        if self._owned:
            self._stream.close()


def read_capture(source: Target | TextIO) -> tuple[CaptureHeader, list[Chunk]]:
    """The header and every chunk of a capture (see :class:`CaptureReader`)."""
    with CaptureReader(source) as reader:
        return reader.header, list(reader)
