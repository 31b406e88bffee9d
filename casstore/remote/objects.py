"""A read-only view of the objects on a remote: each read is one ranged GET inside a pack, verified by SHA-256.

Remote gc and ``fsck --remote`` walk the remote's history through it (one read per commit
and tree); a push or a fetch never needs it (they read through the local store). An object
the local store also holds is read there instead: ids are SHA-256 of the content and both
reads verify it, so the bytes are the same, and a clone's walk then costs no request per
commit (on S3, 20-50 ms each: minutes for a long history).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from casstore.errors import CasstoreError, ObjectMissing
from casstore.storage.codec import decode_bytes
from casstore.storage.packs import Pack

if TYPE_CHECKING:
    from casstore.storage.object_store import ObjectStore


class RemoteObjects:
    """The objects held by ``packs`` (loaded indexes of one remote), read from ``local`` or one ranged GET each."""

    def __init__(self, packs: list[Pack], local: ObjectStore | None = None) -> None:
        self.packs = packs
        self.local = local
        self._where: dict[str, tuple[Pack, int]] = {}
        for pack in packs:
            for at, oid in enumerate(pack.ids):
                self._where.setdefault(oid, (pack, at))

    def __contains__(self, oid: object) -> bool:
        return oid in self._where

    def ids(self) -> set[str]:
        """Return the id of every object some pack holds."""
        return set(self._where)

    def read_bytes(self, oid: str) -> bytes:
        """Return the verified content of ``oid`` (raises ObjectMissing or CorruptObject)."""
        found = self._where.get(oid)
        if found is None:
            raise ObjectMissing(oid, " (no pack on the remote holds it)")
        if self.local is not None:
            try:
                return self.local.read_bytes(oid)
            except (CasstoreError, OSError):
                pass  # not here, or a damaged local copy (local fsck's to report): read the remote's
        pack, at = found
        stored = pack.backend.get_range(pack.pack_key, pack.offsets[at], pack.lengths[at])
        return decode_bytes(oid, stored)
