"""Bundle path rules: relative POSIX, normalised, inside the bundle, unique ignoring case."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

from casstore.errors import PathRuleError

MANIFEST_NAME = "project_manifest.json"
# Names casstore owns inside a working directory; a bundle may not carry them.
RESERVED_TOP = (".casstore", ".casstore-checkout.json")


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
    if ".." in parts:
        return "escapes the bundle ('..')"
    if "" in parts or "." in parts:
        return "is not normalised (empty or '.' component)"
    if parts[0] in RESERVED_TOP:
        return f"uses the reserved name {parts[0]!r}"
    return None


def check_path(path: str, where: str) -> str:
    """Return ``path`` or raise PathRuleError naming ``where`` (file and entry) and the rule."""
    problem = path_problem(path)
    if problem:
        raise PathRuleError(f"{where}: path {path!r} {problem}")
    return path


def fold(path: str) -> str:
    """Return the key two paths share when a case-insensitive filesystem would merge them."""
    return unicodedata.normalize("NFC", path).casefold()


def check_unique(paths: Iterable[tuple[str, str]]) -> None:
    """Refuse two ``(path, where)`` items whose paths collide, exactly or ignoring case."""
    seen: dict[str, tuple[str, str]] = {}
    for path, where in paths:
        key = fold(path)
        if key in seen:
            other_path, other_where = seen[key]
            rule = "is listed twice" if other_path == path else f"collides with {other_path!r} ignoring case"
            raise PathRuleError(f"{where}: path {path!r} {rule} ({other_where})")
        seen[key] = (path, where)
    # A file may not also be a directory of another path ("a" and "a/b").
    folded = set(seen)
    for key, (path, where) in seen.items():
        parts = key.split("/")
        for depth in range(1, len(parts)):
            if "/".join(parts[:depth]) in folded:
                raise PathRuleError(f"{where}: path {path!r} lies under a file of the same name")
