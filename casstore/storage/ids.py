"""Object ids: lowercase hex SHA-256 of an object's bytes, and streaming hashing."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from typing import BinaryIO, Protocol

CHUNK_SIZE = 1 << 20  # 1 MiB: big enough that hashlib drops the GIL, small enough to bound RSS
HEX_ID = re.compile(r"[0-9a-f]{64}")
HEX_PREFIX = re.compile(r"[0-9a-f]{6,64}")
MIN_PREFIX = 6


def is_object_id(text: str) -> bool:
    """Tell whether ``text`` is a full lowercase hex SHA-256 id."""
    return HEX_ID.fullmatch(text) is not None


def is_id_prefix(text: str) -> bool:
    """Tell whether ``text`` can abbreviate an id (6 to 64 lowercase hex digits)."""
    return HEX_PREFIX.fullmatch(text) is not None


def id_of_bytes(content: bytes) -> str:
    """Return the object id of ``content``."""
    return hashlib.sha256(content).hexdigest()


def hash_stream(stream: BinaryIO) -> tuple[str, int]:
    """Hash a binary stream in bounded memory; return ``(id, size)``."""
    digest = hashlib.sha256()
    size = 0
    while chunk := stream.read(CHUNK_SIZE):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def hash_chunks(chunks: Iterable[bytes]) -> tuple[str, int]:
    """Hash an iterable of byte chunks; return ``(id, size)``."""
    digest = hashlib.sha256()
    size = 0
    for chunk in chunks:
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


class Readable(Protocol):
    """Anything content can be read from in pieces (a file, an ObjectReader)."""

    def read(self, n: int, /) -> bytes:
        """Return up to ``n`` bytes; b"" at the end."""
        ...


def read_exactly(source: Readable, n: int) -> bytes:
    """Read ``n`` bytes from ``source`` in pieces of at most :data:`CHUNK_SIZE`; fewer only at its end."""
    parts, left = [], n
    while left > 0:
        chunk = source.read(min(left, CHUNK_SIZE))
        if not chunk:
            break
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


def short(oid: str) -> str:
    """Return the 12-digit abbreviation used in human output."""
    return oid[:12]
