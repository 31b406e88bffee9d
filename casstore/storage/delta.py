r"""Deltas (codec ``d``): an object stored as the difference from another object, its base.

A stored object of codec ``d`` is the 8-byte object header, then ``_HEAD`` (the base's id,
32 bytes, and the kind, one byte), then by kind:

- ``p`` (patch, for objects and bases up to :data:`PATCH_LIMIT`: patterns, mixer
  snapshots): one zstd frame compressed with the base's whole content as a raw-content
  dictionary (zstd's ``--patch-from``). A few changed steps cost a few dozen bytes.
- ``s`` (splice, for samples): ``_SPLICE`` (head length, where the copy starts in the
  base, how many bytes it copies), the head verbatim, then the tail as one codec byte
  (``r`` raw or ``z`` a zstd frame) and its bytes. The content is head + base[start :
  start + length] + tail: a trimmed or extended sample whose header was rewritten costs
  its header and whatever audio is new. Reading streams the base; memory stays bounded.

A chain of deltas is at most :data:`MAX_DEPTH` long; readers count it down, so a damaged
or crafted chain (a cycle) ends in an error, never in unbounded work or recursion.
"""

from __future__ import annotations

import contextlib
import struct
from collections.abc import Callable
from typing import Any, BinaryIO, Protocol

from casstore.storage.ids import read_exactly

CODEC_DELTA = b"d"
KIND_PATCH = b"p"
KIND_SPLICE = b"s"
_HEAD = struct.Struct(">32sc")
_SPLICE = struct.Struct(">QQQ")
# git allows 50; every level here is one more object decoded per read, with no delta cache,
# and restores are what musicians wait for. Ten revisions of a pattern cost ten small
# zstd decodes (~0.2 ms), and the eleventh is stored whole.
MAX_DEPTH = 10
# Patches hold the base and the result in memory: only small objects get them.
PATCH_LIMIT = 1 << 20
# The stored bytes that name a delta's base: object header (8), base id (32), kind (1).
DELTA_PREFIX = 8 + _HEAD.size
# A splice's head (the rewritten header of a trimmed sample) is at most this long.
SPLICE_HEAD_LIMIT = 64 << 10
_PIECE = 1 << 20


class ContentReader(Protocol):
    """What a delta reads its base through: an ObjectReader (verified at its end)."""

    def read(self, n: int = ..., /) -> bytes:
        """Return up to ``n`` bytes of content; b"" at its end."""
        ...

    def close(self) -> None:
        """Release the stored bytes."""
        ...


# (base id, chain budget left) -> a reader of the base's content; raises ObjectMissing.
OpenBase = Callable[[str, int], ContentReader]


def delta_base(prefix: bytes) -> str | None:
    """Return the base a stored object is a delta against, from its first :data:`DELTA_PREFIX` bytes; else None."""
    if len(prefix) < DELTA_PREFIX or prefix[7:8] != CODEC_DELTA or not prefix.startswith(b"casobj"):
        return None
    base_id: bytes = _HEAD.unpack_from(prefix, 8)[0]
    return base_id.hex()


def _zstd() -> Any:
    import zstandard

    return zstandard


def patch_dictionary(base: bytes) -> Any:
    """Return ``base`` as a zstd raw-content dictionary (what patches are made and read against)."""
    zstd = _zstd()
    return zstd.ZstdCompressionDict(base, dict_type=zstd.DICT_TYPE_RAWCONTENT)


def _read_all(reader: ContentReader, limit: int) -> bytes | None:
    """Read a whole content of at most ``limit`` bytes; None when it is longer."""
    parts, size = [], 0
    while chunk := reader.read(_PIECE):
        size += len(chunk)
        if size > limit:
            return None
        parts.append(chunk)
    return b"".join(parts)


class DeltaSource:
    """Yields the content of a codec-``d`` object in bounded pieces (the object header already read)."""

    def __init__(
        self, stored: BinaryIO, open_base: OpenBase | None, budget: int, error: Callable[[str], Exception]
    ) -> None:
        self._stored = stored
        self._error = error
        self._base: ContentReader | None = None
        raw = stored.read(_HEAD.size)
        if len(raw) != _HEAD.size:
            raise error("delta is truncated")
        base_id, kind = _HEAD.unpack(raw)
        self.base = base_id.hex()
        if open_base is None:
            raise error(f"it is a delta against {self.base}, read without its store")
        if budget <= 0:
            raise error(f"its delta chain is longer than {MAX_DEPTH}")
        try:
            self._base = open_base(self.base, budget - 1)
        except Exception as exc:  # noqa: BLE001 -- any failure to reach the base is this object's damage
            raise _base_error(error, self.base, exc) from None
        self._pending = b""
        self._copy_left = 0
        self._tail: Any = None
        try:
            if kind == KIND_PATCH:
                self._init_patch()
            elif kind == KIND_SPLICE:
                self._init_splice()
            else:
                raise error(f"unknown delta kind {kind!r}")
        except BaseException:
            self.close()
            raise

    def _init_patch(self) -> None:
        zstd = _zstd()
        base = self._read_base_all()
        frame = self._stored.read(2 * PATCH_LIMIT)
        try:
            size = zstd.frame_content_size(frame)
            if size < 0 or size > PATCH_LIMIT:
                raise self._error("patch declares an impossible size")
            decompressor = zstd.ZstdDecompressor(dict_data=patch_dictionary(base))
            self._pending = decompressor.decompress(frame, max_output_size=PATCH_LIMIT)
        except zstd.ZstdError as exc:
            raise self._error(f"cannot decode its patch: {exc}") from None
        self.close_base()

    def _read_base_all(self) -> bytes:
        assert self._base is not None
        try:
            base = _read_all(self._base, PATCH_LIMIT)
        except Exception as exc:  # noqa: BLE001 -- the base's own damage, reported against this object
            raise _base_error(self._error, self.base, exc) from None
        if base is None:
            raise self._error(f"its delta base {self.base} is too big for a patch")
        return base

    def _init_splice(self) -> None:
        raw = self._stored.read(_SPLICE.size)
        if len(raw) != _SPLICE.size:
            raise self._error("delta is truncated")
        head, start, self._copy_left = _SPLICE.unpack(raw)
        if head > SPLICE_HEAD_LIMIT:
            raise self._error("splice has an impossible layout")
        self._pending = self._stored.read(head)
        if len(self._pending) != head:
            raise self._error("delta is truncated")
        self._skip_base(start)
        codec = self._stored.read(1)
        if codec == b"z":
            self._tail = _zstd().ZstdDecompressor().stream_reader(self._stored, closefd=False)
        elif codec == b"r":
            self._tail = self._stored
        else:
            raise self._error(f"splice tail has unknown codec {codec!r}")

    def _skip_base(self, count: int) -> None:
        while count > 0:
            chunk = self._base_read(min(count, _PIECE))
            if not chunk:
                raise self._error(f"its delta base {self.base} is shorter than the splice needs")
            count -= len(chunk)

    def _base_read(self, n: int) -> bytes:
        assert self._base is not None
        try:
            return self._base.read(n)
        except Exception as exc:  # noqa: BLE001 -- the base's own damage, reported against this object
            raise _base_error(self._error, self.base, exc) from None

    def read(self, n: int) -> bytes:
        """Return up to ``n`` bytes of content; b"" at its end."""
        if self._pending:
            piece, self._pending = self._pending[:n], self._pending[n:]
            return piece
        if self._copy_left > 0:
            chunk = self._base_read(min(n, self._copy_left))
            if not chunk:
                raise self._error(f"its delta base {self.base} is shorter than the splice needs")
            self._copy_left -= len(chunk)
            if self._copy_left == 0:
                # The rest of the base is not needed: the object's own hash is checked at its end.
                self.close_base()
            return chunk
        if self._tail is None:
            return b""
        try:
            tail: bytes = self._tail.read(n)
        except _zstd().ZstdError as exc:
            raise self._error(f"cannot decode its tail: {exc}") from None
        return tail

    def close_base(self) -> None:
        """Release the base's reader."""
        if self._base is not None:
            self._base.close()
            self._base = None

    def close(self) -> None:
        """Release the base (the caller closes the stored bytes)."""
        self.close_base()


def _reason(exc: Exception) -> str:
    text = str(exc)
    return text.split(": ", 1)[-1] if text.startswith("object ") else text


def _base_error(error: Callable[[str], Exception], base: str, exc: Exception) -> Exception:
    """The error for a base that cannot be read; a chain's inner failure is told once, not nested per level."""
    reason = _reason(exc)
    if reason.startswith("its delta "):
        return error(reason)
    return error(f"its delta base {base} cannot be read ({reason})")


# The write side (gc and repack): making deltas and checking they reconstruct their object.

OpenContent = Callable[[str], ContentReader]


def make_patch(base_id: str, base: bytes, content: bytes) -> bytes:
    """Return the stored form of ``content`` as a patch against ``base`` (both at most :data:`PATCH_LIMIT`)."""
    from casstore.storage.codec import header

    compressor = _zstd().ZstdCompressor(level=9, dict_data=patch_dictionary(base), write_content_size=True)
    frame: bytes = compressor.compress(content)
    return header(CODEC_DELTA) + _HEAD.pack(bytes.fromhex(base_id), KIND_PATCH) + frame


def _last_mismatch(a: bytes, b: bytes) -> int:
    """Return the index of the last byte where ``a`` and ``b`` (same length) differ, or -1."""
    diff = int.from_bytes(a, "big") ^ int.from_bytes(b, "big")
    return -1 if diff == 0 else len(a) - 1 - ((diff & -diff).bit_length() - 1) // 8


def _first_mismatch(a: bytes, b: bytes) -> int:
    """Return the index of the first byte where ``a`` and ``b`` differ, or the shorter length."""
    n = min(len(a), len(b))
    if a[:n] == b[:n]:
        return n
    diff = int.from_bytes(a[:n], "big") ^ int.from_bytes(b[:n], "big")
    return n - 1 - (diff.bit_length() - 1) // 8


def make_splice(base_id: str, base: ContentReader, content: ContentReader, spool: BinaryIO) -> int | None:
    """Write ``content`` as a splice of ``base`` (same offsets) into ``spool``; its length, or None.

    None when it does not pay: pays means the copied run is at least half the content. Memory stays two pieces.
    """
    from casstore.storage.codec import header

    head_t = read_exactly(content, SPLICE_HEAD_LIMIT)
    head_b = read_exactly(base, SPLICE_HEAD_LIMIT)
    if len(head_t) < SPLICE_HEAD_LIMIT or len(head_b) < SPLICE_HEAD_LIMIT:
        return None
    start = _last_mismatch(head_t, head_b) + 1
    position, copied_to, rest = SPLICE_HEAD_LIMIT, None, b""
    while copied_to is None:
        piece_t, piece_b = read_exactly(content, _PIECE), read_exactly(base, _PIECE)
        at = _first_mismatch(piece_t, piece_b)
        if at < len(piece_t) or at < len(piece_b) or not piece_t:
            copied_to, rest = position + at, piece_t[at:]
        position += len(piece_t)
    total = position  # content bytes read so far
    spool.write(header(CODEC_DELTA) + _HEAD.pack(bytes.fromhex(base_id), KIND_SPLICE))
    spool.write(_SPLICE.pack(start, start, copied_to - start) + head_t[:start])
    compressor = _zstd().ZstdCompressor(level=1).compressobj()
    spool.write(b"z" + compressor.compress(rest))
    while chunk := content.read(_PIECE):
        total += len(chunk)
        spool.write(compressor.compress(chunk))
    spool.write(compressor.flush())
    if (copied_to - start) * 2 < total:
        return None
    return spool.tell()


def make_delta(
    oid: str, base_id: str, open_content: OpenContent, open_base: OpenBase, sizes: tuple[int, int], stored_size: int
) -> tuple[BinaryIO, int] | None:
    """Return ``oid`` stored as a delta against ``base_id`` (a temporary file, rewound, and its length), or None.

    ``sizes`` are the contents' sizes (object, base): up to :data:`PATCH_LIMIT` both, a
    patch; else a splice. None unless it saves :data:`MIN_SAVING` of ``stored_size`` and
    decodes again, through ``open_base``, to exactly ``oid``.
    """
    import tempfile

    from casstore.errors import ObjectError
    from casstore.storage.codec import MIN_SAVING, ObjectReader
    from casstore.storage.flac import SPOOL_BYTES

    out = tempfile.SpooledTemporaryFile(SPOOL_BYTES)  # noqa: SIM115 -- handed to the caller, who closes it
    try:
        with contextlib.closing(open_base(base_id, MAX_DEPTH)) as base, contextlib.closing(open_content(oid)) as data:
            if max(sizes) <= PATCH_LIMIT:
                base_bytes, content = _read_all(base, PATCH_LIMIT), _read_all(data, PATCH_LIMIT)
                patch = make_patch(base_id, base_bytes, content) if base_bytes is not None and content else None
                length = out.write(patch) if patch is not None else None
            else:
                length = make_splice(base_id, base, data, out)  # type: ignore[arg-type]
        if length is None or length > stored_size * (1 - MIN_SAVING):
            out.close()
            return None
        out.seek(0)
        # The chain behind the base may still be the old packs' (up to MAX_DEPTH) until they go.
        ObjectReader(oid, _Unclosed(out), open_base, 2 * MAX_DEPTH + 1).read_to_end()  # type: ignore[arg-type]
    except ObjectError:  # damaged or missing (fsck reports it): stored as it is
        out.close()
        return None
    except BaseException:
        out.close()
        raise
    out.seek(0)
    return out, length  # type: ignore[return-value]


class _Unclosed:
    """A temporary file as a reader's stored bytes: the reader's close leaves it open."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def read(self, n: int = -1) -> bytes:
        data: bytes = self._stream.read(n)
        return data

    def close(self) -> None:
        pass
