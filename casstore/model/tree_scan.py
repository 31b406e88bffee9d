"""Trees read as a stream for walks over a whole store (fsck, gc): checked in full, held compactly.

``Tree.decode`` wants a tree's whole bytes (~17 MB at 100,000 files) and makes a TreeEntry
per file (~300 bytes with its strings): fsck and gc peaked at 112-154 MiB on such trees,
mostly those two (issue 17). A scan reads the canonical encoding chunk by chunk as the
object store streams it, and keeps per entry its path, its 32-byte digest, its size and a
role code. It checks every rule ``Tree.decode`` checks; a tree in another shape, or one
that breaks a rule, is left to ``Tree.decode`` on its bytes, which reads it or names what
is wrong (rare, so holding those bytes then costs little).
"""

from __future__ import annotations

import binascii
import re
import sys
from array import array
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from casstore.errors import PathRuleError
from casstore.model.objects import (
    _CANONICAL_ENTRY,
    _CANONICAL_HEAD,
    _CANONICAL_TAIL,
    ROLES,
    Tree,
    TreeEntry,
    _json_string,
)
from casstore.model.paths import NAME_MAX, RESERVED_TOP, check_unique_paths, path_problem

DIGEST_BYTES = 32
_ROLE_CODES = {role.encode(): code for code, role in enumerate(ROLES)}
_MANIFEST_ROLE = b"manifest"
# Past this many bytes ahead with no entry matching, the tree is not canonical (or has an
# entry too long to bother with): Tree.decode reads it whole, as it would have anyway.
_ENTRY_LIMIT = 256 << 10
_TAIL_LIMIT = 64 << 10
# Plain ASCII names that path_problem passes (no control character, backslash, colon or
# quote; not "." or ".."; at most NAME_MAX bytes; not a reserved top name): checked in C
# here, where path_problem's Python loop was most of a big tree's decoding time. Any other
# path goes through path_problem itself.
_NAME = rb"(?!\.\.?(?:/|\Z))[^\x00-\x1f\"\\/:\x7f-\xff]{1,%d}" % NAME_MAX
_RESERVED = b"|".join(re.escape(name.encode()) for name in RESERVED_TOP)
_PLAIN_PATH = re.compile(rb"(?!(?:%s)(?:/|\Z))%s(?:/%s)*" % (_RESERVED, _NAME, _NAME))


@dataclass(frozen=True, eq=False)
class TreeScan:
    """A checked tree held compactly: sorted paths, packed raw digests, sizes and role codes, one per entry."""

    project_id: str
    manifest: str | None
    paths: list[str]
    digests: bytes | bytearray  # DIGEST_BYTES an entry
    sizes: Sequence[int]  # an array of 8-byte ints; a list only where a non-canonical tree claims more
    roles: bytes | bytearray  # an index into ROLES an entry
    length: int  # bytes of the tree's encoding

    def __len__(self) -> int:
        return len(self.paths)

    def digest(self, at: int) -> bytes:
        """Return the raw digest of the entry at ``at``."""
        return bytes(self.digests[at * DIGEST_BYTES : (at + 1) * DIGEST_BYTES])

    def sha256(self, at: int) -> str:
        """Return the hex digest of the entry at ``at``."""
        return self.digests[at * DIGEST_BYTES : (at + 1) * DIGEST_BYTES].hex()

    def entry(self, at: int) -> TreeEntry:
        """Return the entry at ``at`` as a TreeEntry (made when asked for, not kept)."""
        return TreeEntry(self.paths[at], self.sha256(at), self.sizes[at], ROLES[self.roles[at]])

    def role(self, at: int) -> str:
        """Return the role of the entry at ``at``."""
        return ROLES[self.roles[at]]

    def index(self, path: str) -> int | None:
        """Return the position of ``path``, or None when the tree does not hold it."""
        at = bisect_left(self.paths, path)
        return at if at < len(self.paths) and self.paths[at] == path else None

    def entries(self) -> Iterator[TreeEntry]:
        """Yield every entry in path order (each made when reached)."""
        return (self.entry(at) for at in range(len(self.paths)))

    def by_role(self, role: str) -> list[TreeEntry]:
        """Return the entries with ``role``."""
        wanted = ROLES.index(role)
        return [self.entry(at) for at, code in enumerate(self.roles) if code == wanted]

    @classmethod
    def of(cls, tree: Tree, length: int) -> TreeScan:
        """Hold a decoded ``tree`` (``length`` bytes encoded) the same way."""
        entries = tree.entries
        return cls(
            tree.project_id,
            tree.manifest,
            [e.path for e in entries],
            b"".join(bytes.fromhex(e.sha256) for e in entries),
            _sizes([e.size for e in entries]),
            bytes(ROLES.index(e.role) for e in entries),
            length,
        )


def _sizes(values: list[int]) -> Sequence[int]:
    try:
        return array("q", values)
    except OverflowError:
        return values  # Tree.decode reads any size json gives; an array holds up to 2**63 - 1


def scan_tree(chunks: Iterable[bytes], *, share_paths: bool = False) -> TreeScan | None:
    """Read a canonical tree from its content in ``chunks``; None when it is not canonical or breaks a rule.

    A tree that scans is read to the end of ``chunks`` (an object reader verifies its id
    there); on None the caller decodes the tree's bytes with ``Tree.decode``, which names
    the problem. Errors raised by ``chunks`` pass through. ``share_paths`` interns the
    paths, for a table held beside manifest records of the same paths (recover, the
    viewer); a walk of many trees does not: each tree's paths would go in and out of the
    interpreter's one intern table, whose clean-up copies of all of it were gc's and
    delta planning's peak (a few MiB, however small the trees).
    """
    source = iter(chunks)
    buf, pos, length, ended = b"", 0, 0, False
    head = _CANONICAL_HEAD
    while len(buf) <= len(head) and not ended:
        chunk = next(source, b"")
        ended, buf, length = not chunk, buf + chunk, length + len(chunk)
    if not buf.startswith(head) or buf[len(head) : len(head) + 1] != b"\n":
        return None
    pos = len(head)
    paths: list[str] = []
    digests = bytearray()
    sizes = array("q")
    roles = bytearray()
    manifests: set[bytes] = set()
    entry_match, plain, codes = _CANONICAL_ENTRY.match, _PLAIN_PATH.fullmatch, _ROLE_CODES
    while True:
        match = entry_match(buf, pos)
        # An entry ending the buffer may yet be followed by the comma that says another comes.
        if match is None or (match.end() == len(buf) and not ended):
            if ended or (match is None and len(buf) - pos > _ENTRY_LIMIT):
                return None
            chunk = next(source, b"")
            ended, length = not chunk, length + len(chunk)
            buf, pos = (buf[pos:] + chunk if pos < len(buf) else chunk), 0
            continue
        raw_path, role, sha256, size, comma = match.groups()
        try:
            if plain(raw_path):
                path = raw_path.decode("ascii")
            else:
                path = _json_string(raw_path)
                if path_problem(path):
                    return None
            if paths and paths[-1] >= path:
                return None  # out of order or listed twice: Tree.decode says which
            sizes.append(int(size))
        except (ValueError, UnicodeDecodeError, OverflowError):
            return None
        paths.append(sys.intern(path) if share_paths else path)
        digests += binascii.unhexlify(sha256)
        roles.append(codes[role])
        if role == _MANIFEST_ROLE:
            manifests.add(sha256)
        pos = match.end()
        if not comma:
            break
    rest = [buf[pos:]]
    del buf
    left = len(rest[0])
    for chunk in source:
        length, left = length + len(chunk), left + len(chunk)
        if left > _TAIL_LIMIT:
            return None
        rest.append(chunk)
    tail = _CANONICAL_TAIL.fullmatch(b"".join(rest))
    if tail is None:
        return None
    manifest = None if tail.group(1) == b"null" else tail.group(1)[1:-1]
    if manifest is not None and manifest not in manifests:
        return None
    try:
        project_id = _json_string(tail.group(2))
        check_unique_paths(paths, lambda _path: "entry")
    except (ValueError, UnicodeDecodeError, PathRuleError):
        return None
    return TreeScan(project_id, None if manifest is None else manifest.decode(), paths, digests, sizes, roles, length)
