"""Branches and tags: create, delete and list named refs, with the project taken from the revision."""

from __future__ import annotations

from dataclasses import dataclass

from casstore.clock import utc_now_iso
from casstore.errors import HINT_FORCE, RefError
from casstore.history.commits import read_commit
from casstore.history.revisions import resolve
from casstore.storage.refs import check_component, ref_name, split_ref
from casstore.storage.store import Store


@dataclass(frozen=True)
class RefRecord:
    """A ref, what it points at, and the parts of its name."""

    name: str
    commit: str

    @property
    def project(self) -> str:
        """Return the project the ref belongs to."""
        return split_ref(self.name)[0]

    @property
    def namespace(self) -> str:
        """Return ``heads``, ``tags``, ``autosave`` or ``checkpoints``."""
        return split_ref(self.name)[1]

    @property
    def short_name(self) -> str:
        """Return the last part of the name (branch, tag, autosave or checkpoint name)."""
        return split_ref(self.name)[2]


def list_refs(store: Store, project: str | None = None, namespace: str | None = None) -> list[RefRecord]:
    """Return refs sorted by name."""
    return [RefRecord(name, oid) for name, oid in store.refs.list(project, namespace).items()]


def create_ref(store: Store, namespace: str, name: str, rev: str | None, force: bool = False) -> RefRecord:
    """Point ``[PROJECT/]NAME`` in ``namespace`` at ``rev``; refuse to move an existing one unless forced."""
    project, short = _split_user_name(name)
    if rev is None:
        if project is None:
            raise RefError(f"give a revision for {name!r} (or name it PROJECT/{name} to start at PROJECT's main)")
        rev = project
    commit_id = resolve(store, rev)
    owner = read_commit(store, commit_id).project_id
    if project is not None and project != owner:
        raise RefError(f"revision {rev!r} belongs to project {owner!r}, not {project!r}")
    full = ref_name(owner, namespace, check_component(short, f"{namespace} name"))
    current = store.refs.read(full)
    if current is not None and not force:
        raise RefError(f"{full} already exists (at {current[:12]}); it moves only when forced", hint=HINT_FORCE)
    store.refs.compare_and_swap(full, current, commit_id, f"{namespace}: create {short} at {rev}", utc_now_iso())
    return RefRecord(full, commit_id)


def delete_ref(store: Store, namespace: str, name: str) -> RefRecord:
    """Delete ``[PROJECT/]NAME`` in ``namespace``; a bare NAME must be unique across projects."""
    project, short = _split_user_name(name)
    if project is None:
        matches = [r for r in list_refs(store, namespace=namespace) if r.short_name == short]
        if not matches:
            raise RefError(f"no {namespace} ref named {short!r}")
        if len(matches) > 1:
            listed = ", ".join(r.name for r in matches)
            raise RefError(f"{short!r} exists in several projects ({listed}); name it PROJECT/{short}")
        full = matches[0].name
    else:
        full = ref_name(project, namespace, short)
    current = store.refs.read(full)
    if current is None:
        raise RefError(f"no ref {full}")
    store.refs.compare_and_swap(full, current, None, f"{namespace}: delete {short}", utc_now_iso())
    return RefRecord(full, current)


def _split_user_name(name: str) -> tuple[str | None, str]:
    parts = name.split("/")
    if len(parts) == 1:
        return None, parts[0]
    if len(parts) == 2:
        return check_component(parts[0], "project id"), parts[1]
    raise RefError(f"invalid name {name!r}: use NAME or PROJECT/NAME")
