"""Bundle path rules: relative POSIX, normalised, inside the bundle, unique ignoring case."""

from __future__ import annotations

import posixpath
import unicodedata
from collections.abc import Callable, Iterable, Iterator

from casstore.errors import PathRuleError

MANIFEST_NAME = "project_manifest.json"
# Names casstore owns inside a working directory; a bundle may not carry them.
RESERVED_TOP = (".casstore", ".casstore-checkout.json")
# The longest file or directory name common filesystems (ext4, APFS, NTFS) accept, in bytes.
NAME_MAX = 255


def path_problem(path: str) -> str | None:
    """Return the rule ``path`` breaks, or None when it is a valid bundle path."""
    if not path:
        return "is empty"
    if "\x00" in path:
        return "contains a NUL byte"
    if any(ord(ch) < 32 for ch in path):
        return "contains a control character"
    if "\\" in path:
        return "contains a backslash (bundle paths use '/')"
    if path.startswith("/") or (len(path) >= 2 and path[1] == ":" and path[0].isalpha()):
        return "is absolute (bundle paths are relative)"
    parts = path.split("/")
    if _climbs_out(parts):
        return "escapes the bundle ('..' climbs above its top)"
    if "" in parts or "." in parts or ".." in parts:
        normal = posixpath.normpath(path)
        hint = f"; normalised it reads {normal!r}" if normal not in (".", "") else ""
        return f"is not normalised (empty, '.' or '..' component{hint})"
    long = next((part for part in parts if len(part.encode("utf-8", "surrogateescape")) > NAME_MAX), None)
    if long is not None:
        size = len(long.encode("utf-8", "surrogateescape"))
        return f"has a name of {size} bytes, longer than the filesystem limit of {NAME_MAX}"
    if parts[0] in RESERVED_TOP:
        return f"uses the reserved name {parts[0]!r}"
    return None


def _climbs_out(parts: list[str]) -> bool:
    """Tell whether resolving ``..`` components would leave the bundle's top."""
    depth = 0
    for part in parts:
        if part == "..":
            depth -= 1
            if depth < 0:
                return True
        elif part not in ("", "."):
            depth += 1
    return False


def check_path(path: str, where: str) -> str:
    """Return ``path`` or raise PathRuleError naming ``where`` (file and entry) and the rule."""
    problem = path_problem(path)
    if problem:
        raise PathRuleError(f"{where}: path {path!r} {problem}")
    return path


def fold(path: str) -> str:
    """Return the key two paths share when a case-insensitive filesystem would merge them."""
    return unicodedata.normalize("NFC", path).casefold()


def _collision(path: str, other: str) -> str:
    """Name the rule two colliding paths break, escaping them when only Unicode tells them apart."""
    if path == other:
        return "is listed twice"
    nfc, other_nfc = unicodedata.normalize("NFC", path), unicodedata.normalize("NFC", other)
    if nfc == other_nfc:
        # Both names print alike; ascii() shows the code points that differ.
        return (
            f"(escaped: {path!a}) is the same name as {other!a} after Unicode normalisation (NFC/NFD); "
            "macOS and Windows would store them as one file"
        )
    if path.casefold() == other.casefold():
        return f"collides with {other!r} ignoring case"
    return f"collides with {other!r} ignoring case and Unicode normalisation ({path!a} vs {other!a})"


def check_unique(paths: Iterable[tuple[str, str]]) -> None:
    """Refuse two ``(path, where)`` items whose paths collide: exactly, ignoring case or after NFC/NFD."""
    wheres: dict[str, str] = {}

    def each() -> Iterator[str]:
        for path, where in paths:
            if path in wheres:
                raise PathRuleError(f"{where}: path {path!r} {_collision(path, path)} ({wheres[path]})")
            wheres[path] = where
            yield path

    check_unique_paths(each(), wheres.__getitem__)


def check_unique_paths(paths: Iterable[str], where_of: Callable[[str], str]) -> None:
    """Refuse two ``paths`` that collide (as :func:`check_unique`); ``where_of`` names a path's origin.

    Keeps one folded key per path and no message text (100,000 paths: issue 17, <= 100 MiB).
    """
    seen: dict[str, str] = {}
    for path in paths:
        key = fold(path)
        key = path if key == path else key  # most paths fold to themselves: keep one str, not two
        other = seen.get(key)
        if other is not None:
            raise PathRuleError(f"{where_of(path)}: path {path!r} {_collision(path, other)} ({where_of(other)})")
        seen[key] = path
    # A file may not also be a directory of another path ("a" and "a/b").
    for key, path in seen.items():
        parts = key.split("/")
        for depth in range(1, len(parts)):
            if "/".join(parts[:depth]) in seen:
                raise PathRuleError(f"{where_of(path)}: path {path!r} lies under a file of the same name")
