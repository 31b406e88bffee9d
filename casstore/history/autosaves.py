"""The autosave ring: autosave refs of a project, their order, the keep-newest rule and pruning.

Ref names are ``refs/<project>/autosave/<YYYYMMDD>-<HHMMSS>-<mutation_id>`` (UTC), with
``.N`` appended to the mutation id when that name is taken within the same second. Taking
an autosave of a working directory is casstore/workdir/autosave.py's job; this module only reads
and prunes the refs, so revision parsing and crash reports need no working-directory code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from casstore.defaults import AUTOSAVE_KEEP
from casstore.errors import CasstoreError, RefConflict, RefLocked
from casstore.history.commits import read_commit
from casstore.storage.store import Store

DEFAULT_KEEP = AUTOSAVE_KEEP
_NAME = re.compile(r"(?P<stamp>\d{8}-\d{6})-(?P<mutation>[A-Za-z0-9][A-Za-z0-9._-]*?)(?:\.(?P<seq>\d+))?")


@dataclass(frozen=True)
class AutosaveItem:
    """An autosave as the keep rule sees it: its ref name and its commit's time (to the millisecond)."""

    name: str
    created_at: str = ""


def autosave_sort_key(item: AutosaveItem | str) -> tuple[str, str, int, str]:
    """Order autosaves oldest first: by the name's second, the commit's exact time, collision number, name."""
    if isinstance(item, str):
        item = AutosaveItem(item)
    match = _NAME.fullmatch(item.name)
    if not match:
        return ("", item.created_at, 0, item.name)  # names casstore did not write sort oldest
    return (match.group("stamp"), item.created_at, int(match.group("seq") or 1), match.group("mutation"))


def select_pruned(items: list[AutosaveItem], keep: int) -> list[AutosaveItem]:
    """Return the autosaves to delete so that only the newest ``keep`` remain (the pure keep rule)."""
    ordered = sorted(items, key=autosave_sort_key)
    return ordered[: max(0, len(ordered) - max(keep, 0))]


_commit_times: dict[str, str] = {}  # commits never change, so their times can be remembered


def ordered_autosaves(store: Store, project: str) -> list[tuple[str, str]]:
    """Return ``(ref, commit)`` of the project's autosaves, oldest first."""
    refs = store.refs.list(project, "autosave")
    keyed = []
    for full, oid in refs.items():
        created = _commit_times.get(oid)
        if created is None:
            try:
                created = _commit_times[oid] = read_commit(store, oid).created_at
            except CasstoreError:
                created = ""  # a damaged autosave sorts by its name alone; fsck reports it
        keyed.append((autosave_sort_key(AutosaveItem(full.rsplit("/", 1)[1], normal_time(created))), full, oid))
    return [(full, oid) for _key, full, oid in sorted(keyed)]


def normal_time(created_at: str) -> str:
    """Make second-precision and millisecond-precision times compare in time order."""
    return created_at.replace("Z", ".000Z") if "." not in created_at else created_at


def newest_autosave(store: Store, project: str) -> tuple[str, str] | None:
    """Return ``(ref, commit)`` of the project's newest autosave, if any."""
    ordered = ordered_autosaves(store, project)
    return ordered[-1] if ordered else None


def prune_autosaves(
    store: Store, project: str, keep: int, when: str, ordered: list[tuple[str, str]] | None = None
) -> list[str]:
    """Delete all but the newest ``keep`` autosave refs; a ref another writer already moved is left alone."""
    if ordered is None:
        ordered = ordered_autosaves(store, project)
    pruned = []
    for full, oid in ordered[: max(0, len(ordered) - keep)]:
        try:
            store.refs.compare_and_swap(full, oid, None, "autosave: pruned", when)
        except (RefConflict, RefLocked):
            continue  # a concurrent autosave is pruning it
        pruned.append(full)
    return pruned


def autosave_prompt(project: str, stamp: str) -> str:
    """Return the recovery prompt line: ``Autosaved <project> at <YYYYMMDD-HHMMSS>``."""
    return f"Autosaved {project} at {stamp}"
