"""Netstrings (http://cr.yp.to/proto/netstrings.txt): `<length>:<bytes>,`.

Postfix's socketmap client sends one netstring per request and reads one per reply
(socketmap_table(5)). The decoder is incremental: feed it what the socket gave and
take complete payloads out; anything malformed raises NetstringError, and the
server closes that connection (and only that one).
"""

from __future__ import annotations

# Postfix's own limit for replies is 100,000 bytes; a request is a map name and an
# address, so anything near this is not Postfix.
MAX_LENGTH = 100_000
_MAX_DIGITS = len(str(MAX_LENGTH))


class NetstringError(ValueError):
    """The peer sent something that is not a netstring (or one too long)."""


def encode(payload: bytes) -> bytes:
    return b"%d:%s," % (len(payload), payload)


class Decoder:
    """Collects bytes and yields the payloads of complete netstrings, in order."""

    def __init__(self, max_length: int = MAX_LENGTH) -> None:
        self._buffer = bytearray()
        self._max_length = max_length

    def feed(self, data: bytes) -> list[bytes]:
        """Add `data`; return every payload now complete. Raises NetstringError."""
        self._buffer += data
        payloads: list[bytes] = []
        while self._buffer:
            colon = self._buffer.find(b":", 0, _MAX_DIGITS + 1)
            if colon < 0:
                if len(self._buffer) > _MAX_DIGITS or not bytes(self._buffer).isdigit():
                    raise NetstringError("expected a length followed by ':'")
                break  # the length is still arriving
            digits = bytes(self._buffer[:colon])
            if not digits.isdigit() or (len(digits) > 1 and digits.startswith(b"0")):
                raise NetstringError("expected a length followed by ':'")
            length = int(digits)
            if length > self._max_length:
                raise NetstringError(f"netstring of {length} bytes is over {self._max_length}")
            end = colon + 1 + length
            if len(self._buffer) <= end:
                break  # the payload or its ',' is still arriving
            if self._buffer[end] != ord(","):
                raise NetstringError("netstring does not end with ','")
            payloads.append(bytes(self._buffer[colon + 1 : end]))
            del self._buffer[: end + 1]
        return payloads

    @property
    def pending(self) -> int:
        """Bytes received that do not form a complete netstring yet."""
        return len(self._buffer)
