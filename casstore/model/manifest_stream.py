"""Reading a clean manifest entry by entry, from chunks of its bytes, without holding it whole.

:func:`casstore.model.manifest_view.read_manifest_lenient` holds the bytes, their text and
a dict per entry: ~60 MB for a manifest of 100,000 entries, to draw one line each. This
reader hands each ``patterns`` / ``mixer_snapshots`` / ``sampler_assets`` entry to a
callback as soon as it is decoded and keeps only the top-level values. It accepts only a
manifest the lenient reader would read with no problem at all; on anything else it says
so (None) and the caller reads it the lenient way, which names the problem.
"""

from __future__ import annotations

import codecs
import functools
import json
import re
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from casstore.errors import CasstoreError
from casstore.model.manifest_json import _finite, _refuse_constant, version_problem
from casstore.model.manifest_view import SECTIONS

if TYPE_CHECKING:
    from casstore.storage.store import Store

_WHITESPACE = re.compile(r"[ \t\n\r]*")  # json's own whitespace, no other
_NUMBER_GOES_ON = frozenset("0123456789.eE+-")  # a number cut by the window's end ("1." then "5")
_CHUNK = 1 << 20  # bytes read at a time: the text held is about this, not the manifest
_KEYS = {section: (ident, path_key) for section, ident, path_key, _role in SECTIONS}


class _Unclean(Exception):
    """The manifest is not one the lenient reader reads without a problem."""


class _Window:
    """The undecoded rest of a UTF-8 byte stream as text, from ``pos``; grows on demand."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks: Iterator[bytes] = iter(chunks)
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self.text = ""
        self.pos = 0
        self.eof = False

    def more(self, wanted: int = 1) -> None:
        """Drop the text read so far and append at least ``wanted`` more characters (fewer at the end)."""
        pieces = [self.text[self.pos :]]
        added = 0
        while added < wanted and not self.eof:
            chunk = next(self._chunks, None)
            piece = self._decoder.decode(chunk or b"", final=chunk is None)
            self.eof = chunk is None
            pieces.append(piece)
            added += max(len(piece), 1)
        self.text, self.pos = "".join(pieces), 0

    def peek(self) -> str:
        """Skip whitespace; return the next character ('' at the end of the stream)."""
        while True:
            match = _WHITESPACE.match(self.text, self.pos)
            self.pos = match.end() if match else self.pos
            if self.pos < len(self.text) or self.eof:
                return self.text[self.pos : self.pos + 1]
            self.more()

    def take(self, wanted: str) -> str:
        """Consume the next character, which must be one of ``wanted``; return it."""
        found = self.peek()
        if not found or found not in wanted:
            raise _Unclean
        self.pos += 1
        return found

    def value(self, decode: Callable[[str, int], tuple[Any, int]]) -> Any:
        """Decode the JSON value that starts here (after whitespace)."""
        self.peek()
        while True:
            try:
                value, end = decode(self.text, self.pos)
            except (ValueError, RecursionError):
                if self.eof:
                    raise _Unclean from None
            else:
                # A number that ends the window, or stops at "1." or "1e", may go on in the next chunk.
                if self.eof or (end < len(self.text) and self.text[end] not in _NUMBER_GOES_ON):
                    self.pos = end
                    return value
            self.more(max(len(self.text) - self.pos, 1 << 16))  # doubling: a big value is re-read O(log n) times


def stream_manifest(chunks: Iterable[bytes], entry: Callable[[str, dict[str, Any]], None]) -> dict[str, Any] | None:
    """Hand each section entry to ``entry(section, item)`` as it is read; return the other top-level values.

    Returns None, having read as far as it needed to tell, when ``read_manifest_lenient``
    would name any problem (not UTF-8 or JSON, a repeated key, a bad version, an entry left
    out or without identity, path and digest). What ``entry`` was handed then is no answer.
    """
    repeated: list[str] = []

    def pairs_hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        obj: dict[str, Any] = {}
        for key, value in pairs:
            if key in obj:
                repeated.append(key)
            obj[key] = value
        return obj

    decoder = json.JSONDecoder(object_pairs_hook=pairs_hook, parse_constant=_refuse_constant, parse_float=_finite)
    window = _Window(chunks)
    try:
        top = _read_top(window, decoder.raw_decode, entry)
        if window.peek():
            raise _Unclean  # json.loads refuses anything after the document
    except (_Unclean, UnicodeDecodeError):
        return None
    if repeated or not _clean_top(top):
        return None
    return top


def _read_top(
    window: _Window, decode: Callable[[str, int], tuple[Any, int]], entry: Callable[..., None]
) -> dict[str, Any]:
    window.take("{")
    top: dict[str, Any] = {}
    if window.peek() == "}":
        window.pos += 1
        return top
    while True:
        key = window.value(decode)
        if not isinstance(key, str) or key in top:
            raise _Unclean  # a repeated top-level key: the lenient reader shows the last value
        window.take(":")
        if key in _KEYS and window.peek() == "[":
            window.pos += 1
            top[key] = _read_entries(window, decode, key, entry)
        else:
            top[key] = window.value(decode)
        if window.take(",}") == "}":
            return top


def _read_entries(
    window: _Window, decode: Callable[[str, int], tuple[Any, int]], section: str, entry: Callable[..., None]
) -> list[Any]:
    """Read a section's entries one by one; return an empty list standing for them (the top is a list there)."""
    if window.peek() == "]":
        window.pos += 1
        return []
    ident, path_key = _KEYS[section]
    while True:
        for item in _batch(window, decode) or [window.value(decode)]:
            if not (
                isinstance(item, dict)
                and isinstance(item.get(ident), str)
                and isinstance(item.get(path_key), str)
                and isinstance(item.get("sha256"), str)
            ):
                raise _Unclean
            entry(section, item)
        if window.take(",]") == "]":
            return []


def _batch(window: _Window, decode: Callable[[str, int], tuple[Any, int]]) -> list[Any] | None:
    """Decode the entries the window holds whole, from ``pos``, in one call; None when that cannot be done.

    One call per window, not one per entry: read entry by entry, json's own work was a fifth
    of the time (issue 17: 1.1 s for 100,000 entries). The entries end at a ``}`` before the
    next ``]``; if that ``}`` is inside a string or a nested object, ``[`` + them + ``]`` is no
    JSON array, and the caller reads one entry as before. When it is one, it holds exactly the
    values the text holds there, in order.
    """
    text, start = window.text, window.pos
    limit = text.find("]", start)
    end = text.rfind("}", start, len(text) if limit < 0 else limit) + 1
    if end <= start:
        return None
    piece = f"[{text[start:end]}]"
    try:
        items, stop = decode(piece, 0)
    except (ValueError, RecursionError):
        return None
    if stop != len(piece) or not isinstance(items, list):
        return None
    window.pos = end
    return items


def _clean_top(top: dict[str, Any]) -> bool:
    if "manifest_version" not in top or version_problem(top["manifest_version"]):
        return False
    if not isinstance(top.get("project", {}), dict):
        return False
    return all(isinstance(top.get(section, []), list) for section in _KEYS)


def stream_stored_manifest(
    store: Store, oid: str, entry: Callable[[str, dict[str, Any]], None]
) -> dict[str, Any] | None:
    """Run :func:`stream_manifest` over stored object ``oid`` (verified); None also when it cannot be read."""
    try:
        with store.objects.reader(oid) as reader:
            return stream_manifest(iter(functools.partial(reader.read, _CHUNK), b""), entry)
    except CasstoreError:
        return None  # missing or damaged: the caller's whole-object read raises the error, as it always did


def clean_sampler_assets(store: Store, oid: str) -> list[dict[str, Any]] | None:
    """Return stored manifest ``oid``'s ``sampler_assets`` entries, streamed; None unless it reads cleanly."""
    assets: list[dict[str, Any]] = []

    def entry(section: str, item: dict[str, Any]) -> None:
        if section == "sampler_assets":
            assets.append(item)

    return assets if stream_stored_manifest(store, oid, entry) is not None else None
