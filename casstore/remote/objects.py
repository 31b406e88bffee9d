"""A read-only view of the objects on a remote: each read is one ranged GET inside a pack, verified by SHA-256.

Remote gc and ``fsck --remote`` walk the remote's history through it without a local
copy; a push or a fetch never needs it (they read through the local store).
"""

from __future__ import annotations

from casstore.errors import ObjectMissing
from casstore.storage.codec import decode_bytes
from casstore.storage.packs import Pack


class RemoteObjects:
    """The objects held by ``packs`` (loaded indexes of one remote), read one ranged GET each."""

    def __init__(self, packs: list[Pack]) -> None:
        self.packs = packs
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
        pack, at = found
        stored = pack.backend.get_range(pack.pack_key, pack.offsets[at], pack.lengths[at])
        return decode_bytes(oid, stored)
