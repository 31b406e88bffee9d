"""A project's versions as a musician reads them: newest first, checkpoints folded under their action.

Unlike ``log``, this never stops at a damaged object: a commit or snapshot that cannot be
read becomes a version marked ``damaged`` (with the reason), and every other version is
still listed. Times are shown in local time with the zone, and relative ("3 min ago")
against a clock the caller passes in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, tzinfo

from casstore.clock import parse_iso
from casstore.errors import CasstoreError
from casstore.history.commits import read_commit
from casstore.storage.store import Store

# Checkpoints that an action records just before it runs fold under that action when it
# follows within this time (import: "checkpoint before import"; a restore's own "recover").
FOLD_WINDOW = timedelta(seconds=120)
_FOLDS_UNDER = {"import": "import", "recover": "restored"}
_STAMP = re.compile(r"^(\d{8})-(\d{6})")
_OPERATION = re.compile(r"^\d{8}-\d{6}-(?P<op>[A-Za-z0-9_-]+?)(?:\.\d+)?$")


@dataclass(frozen=True)
class Version:
    """One version of a project: an import, save, autosave, checkpoint or tag target."""

    oid: str
    kind: str
    message: str
    created_at: str
    mutation_id: str | None = None
    refs: tuple[str, ...] = ()
    operation: str | None = None  # a checkpoint's operation: import, recover, restored, checkout…
    damaged: str | None = None  # why this version cannot be read; None when it is whole
    folded: tuple[Version, ...] = field(default_factory=tuple)  # the checkpoints its action recorded
    parent: str | None = None  # the first parent: a checkpoint before an import shares the import's

    @property
    def tags(self) -> tuple[str, ...]:
        """Return the names of the tags on this version."""
        return tuple(ref.split("/", 2)[2] for ref in self.refs if ref.split("/")[1:2] == ["tags"])

    @property
    def title(self) -> str:
        """Return the version in a musician's words: ``Import: verse edits``, ``Checkpoint before import``."""
        if self.damaged:
            return f"Damaged {self.kind}: {self.damaged}"
        if self.kind == "checkpoint":
            if self.operation == "restored":
                return self.message[:1].upper() + self.message[1:] if self.message else "Restored a version"
            return f"Checkpoint before {self.operation or 'an operation'}"
        if self.kind == "autosave":
            return f"Autosave {self.mutation_id}" if self.mutation_id else "Autosave"
        return f"{self.kind.capitalize()}: {self.message}" if self.message else self.kind.capitalize()

    def moment(self) -> datetime | None:
        """Return when the version was made (UTC), or None when that is unknown."""
        try:
            return parse_iso(self.created_at) if self.created_at else None
        except ValueError:
            return None


def local_time_text(created_at: str, zone: tzinfo | None = None) -> str:
    """Show an ISO UTC time in local time with its zone: ``2025-11-27 16:30 CET``."""
    try:
        moment = parse_iso(created_at).astimezone(zone)
    except ValueError:
        return created_at or "unknown time"
    return f"{moment:%Y-%m-%d %H:%M} {moment.tzname() or ''}".rstrip()


def relative_time(created_at: str, now: datetime) -> str:
    """Say how long ago a time was: ``just now``, ``3 min ago``, ``2 h ago``, ``yesterday``, ``5 days ago``."""
    try:
        seconds = int((now - parse_iso(created_at)).total_seconds())
    except ValueError:
        return ""
    if seconds < 0:
        return "in the future"
    if seconds < 45:
        return "just now"
    if seconds < 3600:
        return f"{max(1, round(seconds / 60))} min ago"
    if seconds < 86400:
        return f"{round(seconds / 3600)} h ago"
    days = seconds // 86400
    return "yesterday" if days == 1 else f"{days} days ago"


def _namespace(ref: str) -> str:
    parts = ref.split("/")
    return parts[1] if len(parts) == 3 else ""


def _operation(refs: tuple[str, ...], message: str) -> str | None:
    for ref in refs:
        if _namespace(ref) == "checkpoints":
            match = _OPERATION.match(ref.rsplit("/", 1)[-1])
            if match:
                return match.group("op")
    words = message.split()
    return words[2] if message.startswith("checkpoint before ") and len(words) > 2 else None


def _stamp_time(refs: tuple[str, ...]) -> str:
    """The time a ref's name carries (autosaves and checkpoints), for a commit that cannot be read."""
    for ref in refs:
        match = _STAMP.match(ref.rsplit("/", 1)[-1])
        if match:
            day, clock = match.groups()
            return f"{day[:4]}-{day[4:6]}-{day[6:]}T{clock[:2]}:{clock[2:4]}:{clock[4:]}Z"
    return ""


_KIND_OF_NAMESPACE = {"autosave": "autosave", "checkpoints": "checkpoint", "heads": "save", "tags": "save"}


def _tree_problem(store: Store, tree_id: str, checked: dict[str, str | None]) -> str | None:
    """Say why a snapshot cannot be read, or None; each tree once (an autosave and a checkpoint often share one).

    The tree is read through to its verified end (every byte against its id: rot or a
    missing object shows), not parsed: a tree's entries were checked when it was stored and
    are again when it is opened or exported, and parsing every version's tree just to list
    them was most of opening the viewer on a 100,000-file project (issue 17).
    """
    if tree_id not in checked:
        try:
            with store.objects.reader(tree_id) as reader:
                reader.read_to_end()
            checked[tree_id] = None
        except CasstoreError as exc:
            checked[tree_id] = f"its snapshot cannot be read ({exc})"
    return checked[tree_id]


def _walk(
    store: Store,
    tip: str,
    refs: dict[str, tuple[str, ...]],
    seen: dict[str, tuple[Version, int]],
    checked: dict[str, str | None],
) -> None:
    """Add ``tip`` and its first-parent ancestors to ``seen`` with their generation (distance from the root)."""
    chain: list[Version] = []
    base = 0
    oid: str | None = tip
    while oid is not None:
        if oid in seen:
            base = seen[oid][1]
            break
        names = refs.get(oid, ())
        try:
            commit = read_commit(store, oid)
        except CasstoreError as exc:
            kind = next((_KIND_OF_NAMESPACE[_namespace(r)] for r in names if _namespace(r) in _KIND_OF_NAMESPACE), "")
            chain.append(Version(oid, kind or "version", "", _stamp_time(names), None, names, None, str(exc)))
            break
        damaged = _tree_problem(store, commit.tree, checked)
        operation = _operation(names, commit.message) if commit.kind == "checkpoint" else None
        chain.append(
            Version(
                oid,
                commit.kind,
                commit.message,
                commit.created_at,
                commit.mutation_id,
                names,
                operation,
                damaged,
                parent=commit.parents[0] if commit.parents else None,
            )
        )
        oid = commit.parents[0] if commit.parents else None
    for depth, version in enumerate(reversed(chain), 1):
        seen[version.oid] = (version, base + depth)


def _fold(ordered_oldest_first: list[Version]) -> list[Version]:
    """Put each checkpoint that an action recorded under that action; return newest first.

    A checkpoint before an import shares the import's parent (the head it replaced), so the
    two pair exactly whatever their clock stamps say; a restore's ``recover`` checkpoint goes
    under the ``restored`` checkpoint that follows it within the fold window.
    """
    under: dict[str, list[Version]] = {}
    taken: set[str] = set()
    imports = {v.parent: v for v in ordered_oldest_first if v.kind == "import" and v.parent and not v.damaged}
    for index, version in enumerate(ordered_oldest_first):
        if version.kind != "checkpoint" or version.damaged:
            continue
        action: Version | None = None
        if version.operation == "import" and version.parent in imports:
            action = imports[version.parent]
        elif version.operation in _FOLDS_UNDER:
            wanted = _FOLDS_UNDER[version.operation or ""]
            later = ordered_oldest_first[index + 1 :]
            action = next((v for v in later if v.operation == wanted and _close(version, v) and not v.damaged), None)
        if action is not None:
            under.setdefault(action.oid, []).append(version)
            taken.add(version.oid)
    out = [
        replace(v, folded=tuple(reversed(under.get(v.oid, [])))) if v.oid in under else v
        for v in ordered_oldest_first
        if v.oid not in taken
    ]
    return list(reversed(out))


def _close(checkpoint: Version, action: Version) -> bool:
    before, after = checkpoint.moment(), action.moment()
    return before is not None and after is not None and timedelta(0) <= after - before <= FOLD_WINDOW


def project_timeline(store: Store, project: str, fold: bool = True) -> list[Version]:
    """Every version any ref of ``project`` reaches, newest first; checkpoints folded under their action."""
    by_commit: dict[str, list[str]] = {}
    for name, oid in store.refs.list(project).items():
        by_commit.setdefault(oid, []).append(name)
    refs = {oid: tuple(sorted(names)) for oid, names in by_commit.items()}
    seen: dict[str, tuple[Version, int]] = {}
    checked: dict[str, str | None] = {}
    for tip in sorted(refs):
        _walk(store, tip, refs, seen, checked)

    def key(item: tuple[Version, int]) -> tuple[str, bool, int, bool]:
        version, generation = item
        when = version.created_at.replace("Z", ".000Z") if "." not in version.created_at else version.created_at
        # In one second: a restore comes last (its parent is the old version it put back), and a
        # checkpoint is older than the action that recorded it (they share a parent).
        restored = version.kind == "checkpoint" and version.operation == "restored"
        return (when, restored, generation, version.kind != "checkpoint")

    oldest_first = [version for version, _generation in sorted(seen.values(), key=key)]
    return _fold(oldest_first) if fold else list(reversed(oldest_first))
