"""Choosing and making FLAC-compacted forms of stored objects (gc, repack, ``import --compact``)."""

from __future__ import annotations

import contextlib
import io
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, BinaryIO, cast

from casstore.errors import CorruptObject
from casstore.storage.codec import CODEC_FLAC, HEADER_SIZE, MAGIC, MIN_SAVING, ObjectReader, encode_stream
from casstore.storage.flac import SCAN_LIMIT, SPOOL_BYTES, encode_flac, parse_pcm_wav, soundfile_or_none

# Smaller objects are patterns, snapshots, trees and commits: not worth opening as WAVs.
MIN_COMPACT_BYTES = 4096
# libsndfile drops the GIL while libFLAC encodes, so threads share the cores.
COMPACT_WORKERS = 2
# Each compaction's FLAC stream and result spill to disk past this. At the default 16 MiB
# the streams of the samples in flight (two encoding, four waiting for the pack writer) sat
# in memory: gc's peak rose with the samples' size, not with what it keeps (issue 17).
COMPACT_SPOOL_BYTES = 1 << 20

_ZSTD_MAGIC = (b"\x28\xb5\x2f\xfd",)

OpenStored = Callable[[str], BinaryIO]


@dataclass(frozen=True)
class Compacted:
    """The verified FLAC-compacted stored form of one object, in a temporary file."""

    oid: str
    stored: BinaryIO
    length: int
    delta: bool = False  # a delta (delta.py) rather than FLAC


def audio_available() -> bool:
    """Tell whether compaction can run here (soundfile and libsndfile are installed)."""
    return soundfile_or_none() is not None


def _codec(open_stored: OpenStored, oid: str) -> bytes:
    with contextlib.closing(open_stored(oid)) as stored:
        head = stored.read(HEADER_SIZE)
    return head[len(MAGIC) :] if head[: len(MAGIC)] == MAGIC else b""


def compact(open_stored: OpenStored, oid: str, stored_size: int) -> Compacted | None:
    """Return the FLAC form of ``oid`` when it is integer PCM WAV and FLAC saves enough; else None.

    The new form is decoded again and hashed against ``oid`` before it is returned, so a
    pack is only ever given a reconstruction that is byte for byte the object. An object
    that does not read back as itself either way is left as it is stored (fsck reports it).
    """
    if stored_size < MIN_COMPACT_BYTES or _codec(open_stored, oid) == CODEC_FLAC:
        return None
    try:
        with ObjectReader(oid, open_stored(oid)) as reader:
            head = reader.read(12)
            if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                return None  # not a WAV: no need to read on
            head += reader.read(SCAN_LIMIT - len(head))
        layout = parse_pcm_wav(head)
        if layout is None:
            return None
        with ObjectReader(oid, open_stored(oid)) as reader:
            # reads to the end: the source is verified too
            stored, length = encode_flac(reader, layout, COMPACT_SPOOL_BYTES)
    except CorruptObject:
        return None
    if length > stored_size * (1 - MIN_SAVING):
        stored.close()
        return None
    try:
        _verify(oid, stored)
    except CorruptObject:
        stored.close()
        return None
    except BaseException:
        stored.close()
        raise
    stored.seek(0)
    return Compacted(oid, stored, length)


def _verify(oid: str, stored: BinaryIO) -> None:
    """Decode ``stored`` as a reader would and check it hashes to ``oid`` (raises CorruptObject)."""
    ObjectReader(oid, _view(stored)).read_to_end()  # raises CorruptObject at the end if the hash differs


def compact_in_memory(oid: str, parts: Sequence[bytes | memoryview]) -> Compacted | None:
    """Compact an object whose stored form is held in memory as ``parts`` (``import --compact``)."""
    if not audio_available() or bytes(parts[-1][:4]) not in (b"RIFF", *_ZSTD_MAGIC):
        return None
    stored = b"".join(parts)
    return compact(lambda _oid: io.BytesIO(stored), oid, len(stored))


def encode_compacted(open_source: Callable[[], BinaryIO], size_hint: int | None) -> tuple[str, int, BinaryIO, int]:
    """Encode a new object for ``import --compact``: ``(id, size, stored form rewound, its length)``.

    The stored form is the usual zstd or raw one, or the FLAC one where that pays; the
    caller closes it. Memory stays bounded: both spill to disk past a few MiB.
    """
    spool = tempfile.SpooledTemporaryFile(SPOOL_BYTES)  # noqa: SIM115 -- handed to the caller
    try:
        with open_source() as source:
            oid, size = encode_stream(source, spool, size_hint)  # type: ignore[arg-type]
        length = spool.tell()
        compacted = compact(lambda _oid: _view(spool), oid, length) if audio_available() else None
    except BaseException:
        spool.close()
        raise
    if compacted is None:
        spool.seek(0)
        return oid, size, spool, length  # type: ignore[return-value]
    spool.close()
    return oid, size, compacted.stored, compacted.length


def _view(stream: Any) -> BinaryIO:
    return cast(BinaryIO, _Unclosable(stream))


class _Unclosable:
    """A view of a temporary file from its start, which a reader may close without closing the file."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        stream.seek(0)

    def read(self, n: int = -1) -> bytes:
        return self._stream.read(n)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._stream.seek(offset, whence)

    def tell(self) -> int:
        return self._stream.tell()

    def close(self) -> None:
        pass


def compact_many(
    items: Iterable[tuple[str, int]],
    make: Callable[[str, int], Compacted | None],
    workers: int = COMPACT_WORKERS,
) -> Iterator[tuple[str, Compacted | None]]:
    """Run ``make`` (e.g. :func:`compact` of a store) over ``(oid, stored size)`` pairs on ``workers`` threads.

    Yields each oid with its result, in order. At most two results per worker wait at a
    time, so memory stays bounded.
    """
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="compact") as pool:
        pending: list[tuple[str, Future[Compacted | None]]] = []
        try:
            for oid, size in items:
                pending.append((oid, pool.submit(make, oid, size)))
                if len(pending) >= 2 * workers:
                    done, future = pending.pop(0)
                    yield done, future.result()
            while pending:
                done, future = pending.pop(0)
                yield done, future.result()
        finally:
            for _oid, future in pending:
                future.cancel()
                with contextlib.suppress(BaseException):
                    result = future.result()
                    if result is not None:
                        result.stored.close()
