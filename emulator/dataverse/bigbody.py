"""Stream a JSON request body whose one huge string member is a base64 file.

Solution actions carry ``"CustomizationFile": "<base64 zip>"`` (~140 MB for a 100 MB package).
Parsing that with json.loads would hold the text, the decoded bytes and the parsed string at
once. Instead the body is read chunk by chunk: the base64 value is decoded straight into a
temporary file, and the rest of the JSON (small) is parsed normally with the value replaced by
an empty string. Peak memory stays around one network chunk plus the small JSON.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import tempfile
from typing import Any, AsyncIterator, BinaryIO

from .errors import bad_payload, bad_request

_KEY = re.compile(rb'"CustomizationFile"\s*:\s*"')
_MAX_SMALL = 1 << 20   # the JSON around the blob stays small


class BlobBody:
    """Result: the small JSON (``data``) and the decoded blob in a temp file (``blob``, or None)."""

    def __init__(self, data: dict[str, Any], blob: BinaryIO | None, blob_size: int) -> None:
        self.data, self.blob, self.blob_size = data, blob, blob_size

    def close(self) -> None:
        if self.blob is not None:
            self.blob.close()


_ESCAPE = re.compile(rb"\\(u[0-9a-fA-F]{4}|[^u])")
_INCOMPLETE_ESCAPE = re.compile(rb"\\(u[0-9a-fA-F]{0,3})?$")


def _unescape(m: re.Match[bytes]) -> bytes:
    esc = m.group(1)
    if esc.startswith(b"u"):
        return chr(int(esc[1:], 16)).encode("utf-8")
    return {b"/": b"/", b"n": b"", b"r": b"", b"t": b""}.get(esc, b"!")   # "!" makes base64 invalid


class _Decoder:
    """base64 text (as it appears inside a JSON string, escapes included) -> bytes in a temp file."""

    def __init__(self) -> None:
        self.file = tempfile.TemporaryFile(prefix="dv-upload-")
        self.rest = b""
        self.pending = b""   # an escape sequence cut by a chunk boundary
        self.size = 0

    def feed(self, chunk: bytes) -> None:
        chunk = self.pending + chunk
        cut = _INCOMPLETE_ESCAPE.search(chunk)
        # an odd run of backslashes at the end means the escape continues in the next chunk
        if cut and (len(chunk[:cut.start()]) - len(chunk[:cut.start()].rstrip(b"\\"))) % 2 == 0:
            chunk, self.pending = chunk[:cut.start()], chunk[cut.start():]
        else:
            self.pending = b""
        chunk = _ESCAPE.sub(_unescape, chunk)
        data = self.rest + re.sub(rb"\s", b"", chunk)
        cut = len(data) - len(data) % 4
        self.rest = data[cut:]
        if cut:
            try:
                out = base64.b64decode(data[:cut], validate=True)
            except binascii.Error:
                raise bad_request("CustomizationFile is not valid base64.") from None
            self.file.write(out)
            self.size += len(out)

    def finish(self) -> BinaryIO:
        if self.rest or self.pending:
            raise bad_request("CustomizationFile is not valid base64 (length is not a multiple of 4).")
        self.file.seek(0)
        return self.file


async def read_blob_body(chunks: AsyncIterator[bytes], entity: str) -> BlobBody:
    small = bytearray()
    decoder: _Decoder | None = None
    in_blob = False
    done_blob = False
    async for chunk in chunks:
        while chunk:
            if in_blob:
                end = chunk.find(b'"')
                if end < 0:
                    decoder.feed(chunk)   # type: ignore[union-attr]
                    chunk = b""
                else:
                    decoder.feed(chunk[:end])   # type: ignore[union-attr]
                    small += b'"'
                    chunk = chunk[end + 1:]
                    in_blob, done_blob = False, True
            else:
                small += chunk
                chunk = b""
                if not done_blob:
                    m = _KEY.search(small)
                    if m:
                        chunk = bytes(small[m.end():])
                        del small[m.end():]
                        decoder, in_blob = _Decoder(), True
                if len(small) > _MAX_SMALL:
                    raise bad_request("Request body is too large outside CustomizationFile.")
    if in_blob:
        raise bad_payload(entity, "the request body ended inside the CustomizationFile string.")
    try:
        data = json.loads(bytes(small) or b"{}")
    except ValueError as exc:
        raise bad_payload(entity, f"the body is not valid JSON ({exc.msg}).") from None
    if not isinstance(data, dict):
        raise bad_payload(entity, "the body must be a JSON object.")
    blob = decoder.finish() if decoder is not None else None
    return BlobBody(data, blob, decoder.size if decoder else 0)


def blob_from_json(data: dict[str, Any]) -> tuple[dict[str, Any], BinaryIO | None, int]:
    """Same result for an already-parsed body (used by $batch parts)."""
    value = data.get("CustomizationFile")
    if value is None:
        return data, None, 0
    if not isinstance(value, str):
        raise bad_request("CustomizationFile must be a base64 string.")
    dec = _Decoder()
    dec.feed(value.encode("ascii", "replace"))
    rest = dict(data)
    rest["CustomizationFile"] = ""
    return rest, dec.finish(), dec.size
