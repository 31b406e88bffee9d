"""A manifest parsed strictly from pieces of its bytes: what an import reads (issue 17: <= 100 MiB).

The strict reader (:mod:`casstore.model.manifest`) wants the whole text; at 100,000 entries
the bytes and the text were ~20 MB each beside the records being made. The pieces go through
the streamed reader of :mod:`casstore.model.manifest_stream`, each entry made a record as it
is read, and the result through the strict validator, so the manifest is the one the usual
parse makes; anything the streamed reader does not take is left to the usual parse.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from casstore.errors import ManifestError
from casstore.model.manifest import _SECTIONS, ProjectManifest, manifest_from_json
from casstore.model.manifest_stream import stream_manifest
from casstore.model.paths import MANIFEST_NAME


def parse_manifest_chunks(chunks: Iterable[bytes], source: str = MANIFEST_NAME) -> ProjectManifest | None:
    """Parse and validate a manifest from pieces of its bytes, each entry made a record as it is read.

    Neither the bytes nor their text are held whole (~20 MB each for 100,000 entries: an
    import's peak, issue 17). None when the manifest is not one the streamed reader takes
    (a repeated key, a problem, an unusual shape): the caller then parses its bytes with
    :func:`parse_manifest_text` or :func:`parse_manifest`, which decide and name the problem.
    A manifest it returns is the one those would have made.
    """
    sections: dict[str, list[Any]] = {section: [] for section, _cls, _key in _SECTIONS}
    record_of = {section: cls for section, cls, _key in _SECTIONS}

    def entry(section: str, item: dict[str, Any]) -> None:
        cls = record_of.get(section)
        if cls is None:
            raise _NotStreamed
        record = cls.from_pairs(list(item.items()))
        sections[section].append(item if record is None else record)  # a dict: parsed (and judged) below

    try:
        top = stream_manifest(chunks, entry)
    except _NotStreamed:
        return None
    if top is None:
        return None
    for section, items in sections.items():
        if section in top:
            top[section] = items
    try:
        return manifest_from_json(top, source)
    except ManifestError:
        return None  # the usual parse names it, as it always did


class _NotStreamed(Exception):
    """An entry of a section the streamed reader hands over that this module does not know."""
