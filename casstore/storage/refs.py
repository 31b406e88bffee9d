"""Refs: ``refs/<project>/<namespace>/<name>`` files holding a commit id, moved by compare-and-swap."""

from __future__ import annotations

import builtins
import re
from dataclasses import dataclass

from casstore.defaults import BRANCH
from casstore.errors import RefConflict, RefError
from casstore.storage import canonical
from casstore.storage.backend import Backend
from casstore.storage.ids import is_object_id

NAMESPACES = ("heads", "tags", "autosave", "checkpoints", "remotes")
DEFAULT_BRANCH = BRANCH
_COMPONENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def check_component(text: str, what: str) -> str:
    """Return ``text`` if it is a valid project, branch or tag name; else raise RefError."""
    if not is_project_name(text):
        raise RefError(
            f"invalid {what} {text!r}: use letters, digits, '.', '_' and '-', starting with a letter or digit"
        )
    return text


def is_project_name(text: str) -> bool:
    """Tell whether ``text`` is a valid project name (one ref path component)."""
    return bool(_COMPONENT.fullmatch(text)) and not text.endswith(".lock") and ".." not in text


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
    """Refs and their reflogs, through a backend's ref side: every update is checked and logged."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    def read(self, name: str) -> str | None:
        """Return the commit id ``name`` points at, or None when it does not exist."""
        split_ref(name)
        value, _version = self.backend.read_ref(name)
        if value is not None and not is_object_id(value):
            raise RefError(f"ref {name} is damaged: {value[:80]!r} is not an object id")
        return value

    def compare_and_swap(self, name: str, old: str | None, new: str | None, why: str, when: str) -> None:
        """Move ``name`` from ``old`` to ``new`` (None: absent), or raise RefConflict if it moved meanwhile."""
        if new is not None and not is_object_id(new):
            raise RefError(f"cannot point {name} at {new!r}: not an object id")
        split_ref(name)
        current, version = self.backend.read_ref(name)
        if current != old:
            raise RefConflict(
                f"ref {name} moved while this command ran (expected {old or 'absent'}, "
                f"found {current or 'absent'}); run it again"
            )
        entry = {"ref": name, "old": old, "new": new, "when": when, "why": why}
        self.backend.compare_and_swap(name, version, new, canonical.dumps_line(entry))

    def create_unique(self, project: str, namespace: str, base: str, oid: str, why: str, when: str) -> str:
        """Create ``<project>/<namespace>/<base>`` pointing at ``oid``, or ``<base>.2``, ``.3``… if taken.

        Never overwrites: autosaves and checkpoints named in the same second by
        concurrent writers each get their own ref.
        """
        from casstore.errors import RefLocked

        # Number past the highest taken in this second, not the lowest free: pruning frees the
        # oldest numbers, and reusing one would name a new ref as if it were older than the rest.
        highest = 0
        for full in self.list(project, namespace):
            leaf = full.rsplit("/", 1)[1]
            if leaf == base:
                highest = max(highest, 1)
            elif leaf.startswith(f"{base}.") and leaf[len(base) + 1 :].isdigit():
                highest = max(highest, int(leaf[len(base) + 1 :]))
        for attempt in range(highest + 1, highest + 1000):
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
        prefix = "" if project is None else f"{project}/" if namespace is None else f"{project}/{namespace}/"
        found = {}
        for name, value in self.backend.list_refs(prefix).items():
            parts = name.split("/")
            if namespace is not None and parts[1] != namespace:
                continue
            if is_object_id(value):
                found[name] = value
        return found

    def damaged(self) -> builtins.list[str]:
        """Return refs that do not hold an object id (for fsck)."""
        return [name for name, value in self.backend.list_refs().items() if not is_object_id(value)]

    def stale_locks(self) -> builtins.list[str]:
        """Return the ref locks left in the store (a killed writer, or one running now)."""
        return self.backend.ref_locks()

    def projects(self) -> builtins.list[str]:
        """Return every project that has at least one ref."""
        return sorted({name.split("/")[0] for name in self.list()})

    def reflog(self, name: str | None = None) -> builtins.list[ReflogEntry]:
        """Return reflog entries of one ref, or of every ref, oldest first."""
        names = [name] if name else self.backend.list_logs()
        entries = []
        for each in names:
            for raw in self.backend.read_log(each).splitlines():
                try:
                    item = canonical.loads(raw)
                    entries.append(ReflogEntry(item["ref"], item["old"], item["new"], item["when"], item["why"]))
                except (ValueError, KeyError, TypeError):
                    continue  # a torn last line from a killed writer is skipped, not fatal
        return entries
