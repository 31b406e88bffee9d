"""Refs: ``refs/<project>/<namespace>/<name>`` files holding a commit id, moved by compare-and-swap."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from casstore import canonical
from casstore.atomic import LockFile, append_durable, fsync_dir, write_durable
from casstore.errors import RefConflict, RefError
from casstore.fileops import ops
from casstore.ids import is_object_id

NAMESPACES = ("heads", "tags", "autosave", "checkpoints")
DEFAULT_BRANCH = "main"
_COMPONENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def check_component(text: str, what: str) -> str:
    """Return ``text`` if it is a valid project, branch or tag name; else raise RefError."""
    if not _COMPONENT.fullmatch(text) or text.endswith(".lock") or ".." in text:
        raise RefError(
            f"invalid {what} {text!r}: use letters, digits, '.', '_' and '-', starting with a letter or digit"
        )
    return text


def ref_name(project: str, namespace: str, name: str) -> str:
    """Build and validate a full ref name ``<project>/<namespace>/<name>``."""
    if namespace not in NAMESPACES:
        raise RefError(f"unknown ref namespace {namespace!r} (expected one of {', '.join(NAMESPACES)})")
    check_component(project, "project id")
    check_component(name, f"{namespace} name")
    return f"{project}/{namespace}/{name}"


def split_ref(name: str) -> tuple[str, str, str]:
    """Split a full ref name into ``(project, namespace, name)``."""
    parts = name.split("/")
    if len(parts) != 3:
        raise RefError(f"invalid ref name {name!r}: expected PROJECT/NAMESPACE/NAME")
    ref_name(*parts)
    return parts[0], parts[1], parts[2]


@dataclass(frozen=True)
class ReflogEntry:
    """One line of a reflog: the ref moved from ``old`` to ``new`` at ``when`` because ``why``."""

    ref: str
    old: str | None
    new: str | None
    when: str
    why: str


class RefStore:
    """Refs on disk plus their reflogs; every update is locked, checked and logged."""

    def __init__(self, refs_dir: Path, logs_dir: Path) -> None:
        self.root = refs_dir
        self.logs = logs_dir

    def _path(self, name: str) -> Path:
        split_ref(name)
        return self.root.joinpath(*name.split("/"))

    def read(self, name: str) -> str | None:
        """Return the commit id ``name`` points at, or None when it does not exist."""
        try:
            value = self._path(name).read_text().strip()
        except FileNotFoundError:
            return None
        if not is_object_id(value):
            raise RefError(f"ref {name} is damaged: {value[:80]!r} is not an object id")
        return value

    def compare_and_swap(self, name: str, old: str | None, new: str | None, why: str, when: str) -> None:
        """Move ``name`` from ``old`` to ``new`` (None: absent) under its lock, or raise RefConflict."""
        if new is not None and not is_object_id(new):
            raise RefError(f"cannot point {name} at {new!r}: not an object id")
        path = self._path(name)
        with LockFile(path):
            current = self.read(name)
            if current != old:
                raise RefConflict(
                    f"ref {name} moved while this command ran (expected {old or 'absent'}, "
                    f"found {current or 'absent'}); run it again"
                )
            if new is None:
                ops().unlink(path, missing_ok=True)
                fsync_dir(path.parent)
            else:
                write_durable(path, (new + "\n").encode())
            entry = {"ref": name, "old": old, "new": new, "when": when, "why": why}
            line = canonical.dumps_line(entry)
            append_durable(self.logs.joinpath(*name.split("/")), line)

    def create_unique(self, project: str, namespace: str, base: str, oid: str, why: str, when: str) -> str:
        """Create ``<project>/<namespace>/<base>`` pointing at ``oid``, or ``<base>.2``, ``.3``… if taken.

        Never overwrites: autosaves and checkpoints named in the same second by
        concurrent writers each get their own ref.
        """
        from casstore.errors import RefLocked

        for attempt in range(1, 1000):
            name = base if attempt == 1 else f"{base}.{attempt}"
            full = ref_name(project, namespace, name)
            if self.read(full) is not None:
                continue
            try:
                self.compare_and_swap(full, None, oid, why, when)
            except (RefConflict, RefLocked):
                continue  # another writer took this name at the same moment
            return full
        raise RefConflict(f"could not name a {namespace} ref for {project} at {base}: too many in one second")

    def list(self, project: str | None = None, namespace: str | None = None) -> dict[str, str]:
        """Return ``{ref name: commit id}`` for every ref, optionally of one project/namespace."""
        found: dict[str, str] = {}
        if not self.root.is_dir():
            return found
        for dirpath, _dirnames, filenames in os.walk(self.root):
            rel = Path(dirpath).relative_to(self.root).parts
            if len(rel) != 2:
                continue
            if project is not None and rel[0] != project:
                continue
            if namespace is not None and rel[1] != namespace:
                continue
            for filename in filenames:
                if filename.endswith(".lock") or filename.startswith("."):
                    continue
                name = f"{rel[0]}/{rel[1]}/{filename}"
                try:
                    value = self.read(name)
                except RefError:
                    continue
                if value is not None:
                    found[name] = value
        return dict(sorted(found.items()))

    def damaged(self) -> list[str]:
        """Return refs whose files do not hold an object id (for fsck)."""
        bad = []
        if not self.root.is_dir():
            return bad
        for path in sorted(self.root.rglob("*")):
            if not path.is_file() or path.name.endswith(".lock") or path.name.startswith("."):
                continue
            name = "/".join(path.relative_to(self.root).parts)
            try:
                self.read(name)
            except RefError:
                bad.append(name)
        return bad

    def stale_locks(self) -> list[Path]:
        """Return lock files left in the refs tree (a killed writer, or one running now)."""
        if not self.root.is_dir():
            return []
        return sorted(self.root.rglob("*.lock"))

    def projects(self) -> list[str]:
        """Return every project that has at least one ref."""
        return sorted({name.split("/")[0] for name in self.list()})

    def reflog(self, name: str | None = None) -> list[ReflogEntry]:
        """Return reflog entries of one ref, or of every ref, oldest first."""
        paths = [self.logs.joinpath(*name.split("/"))] if name else sorted(self.logs.rglob("*"))
        entries = []
        for path in paths:
            if not path.is_file():
                continue
            for raw in path.read_bytes().splitlines():
                try:
                    item = canonical.loads(raw)
                    entries.append(ReflogEntry(item["ref"], item["old"], item["new"], item["when"], item["why"]))
                except (ValueError, KeyError, TypeError):
                    continue  # a torn last line from a killed writer is skipped, not fatal
        return entries
