"""Recovery: list autosaves and checkpoints with the prompt musicians see, and restore one."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from casstore.diff.narrow import MarkedSide, mark_side, narrow_sides
from casstore.diff.semantic import DiffRecord, diff_sides
from casstore.errors import RevisionError
from casstore.history.autosaves import AutosaveItem, autosave_prompt, autosave_sort_key, newest_autosave, normal_time
from casstore.history.commits import read_commit
from casstore.model.objects import Commit
from casstore.model.tree_table import read_tree_table
from casstore.storage.refs import DEFAULT_BRANCH, check_component
from casstore.storage.store import Store
from casstore.workdir.checkpoints import DEFAULT_KEEP_CHECKPOINTS, checkpoint_commit, checkpoint_order
from casstore.workdir.worktree import CheckoutResult, checkout

# The checkpoint operation that keeps what `recover --restore` put back.
RESTORED_OPERATION = "restored"


@dataclass(frozen=True)
class RecoveryPoint:
    """One autosave or checkpoint a musician can go back to."""

    kind: str  # autosave | checkpoint
    project: str
    ref: str
    name: str
    stamp: str
    commit: str
    tree: str
    created_at: str
    mutation_id: str | None
    manifest_sha256: str | None
    sampler_assets: tuple[str, ...]
    summary: str
    message: str = ""

    @property
    def prompt(self) -> str:
        """Return the prompt line: ``Autosaved <project> at <YYYYMMDD-HHMMSS>``."""
        if self.kind == "autosave":
            return autosave_prompt(self.project, self.stamp)
        operation = self.name[len(self.stamp) + 1 :] or "an operation"
        if operation.split(".")[0] == RESTORED_OPERATION and self.message:
            return f"Checkpoint of {self.project} at {self.stamp} ({self.message.splitlines()[0]})"
        return f"Checkpoint of {self.project} at {self.stamp} (before {operation})"

    def as_json(self) -> dict[str, Any]:
        """Return the point as a JSON object."""
        return {
            "kind": self.kind,
            "project": self.project,
            "ref": self.ref,
            "name": self.name,
            "prompt": self.prompt,
            "stamp": self.stamp,
            "commit": self.commit,
            "tree": self.tree,
            "created_at": self.created_at,
            "mutation_id": self.mutation_id,
            "manifest_sha256": self.manifest_sha256,
            "sampler_assets": list(self.sampler_assets),
            "summary": self.summary,
            "message": self.message,
        }


def summarize(records: list[DiffRecord]) -> str:
    """Say in one line what a recovery point has that the head does not."""
    if not records:
        return "same as the project head"
    words = []
    for record in records[:3]:
        if record.section == "project":
            words.append("project fields " + ", ".join(c.field for c in record.changes[:3]))
        else:
            noun = {"pattern": "pattern", "mixer": "mixer", "sample": "sample", "file": "file"}.get(record.section)
            words.append(f"{noun} {record.subject} {record.change}" if noun else f"{record.section} {record.change}")
    more = f" and {len(records) - 3} more" if len(records) > 3 else ""
    return "vs head: " + "; ".join(words) + more


@dataclass(frozen=True)
class _TreeFacts:
    """What a recovery point takes from its tree: the manifest id, the asset names and the summary."""

    manifest: str | None
    sampler_assets: tuple[str, ...]
    summary: str


def _tree_facts(store: Store, tree_id: str, name: str, head: MarkedSide | None) -> _TreeFacts:
    if head is not None and head.tree_id == tree_id:
        # The head's own tree: nothing to read or diff (an autosave of an unchanged directory).
        return _TreeFacts(head.manifest_id, head.asset_names(), "same as the project head")
    # A compact table, not a Tree: no object per file while the head is held (issue 17).
    table = read_tree_table(store, tree_id)
    if head is None:
        alone = mark_side(store, table, name, tree_id)
        try:
            return _TreeFacts(alone.manifest_id, alone.asset_names(), "the project has no head yet")
        finally:
            alone.close()
    # Only the entries that may differ are parsed on either side: the head is held as one
    # digest per entry, not as its parsed manifest (~40 MiB at 100,000 entries).
    pair = narrow_sides(head, table, name, tree_id)
    try:
        return _TreeFacts(pair.new.manifest_id, pair.sampler_asset_names, summarize(diff_sides(pair.old, pair.new)))
    finally:
        pair.close()


def recovery_point(
    store: Store,
    kind: str,
    full: str,
    oid: str,
    commit: Commit,
    head_side: MarkedSide | None,
    seen: dict[str, _TreeFacts] | None = None,
) -> RecoveryPoint:
    """Describe one autosave or checkpoint ref as a point to go back to, summarised against the head.

    ``seen`` keeps what each tree gave (a checkpoint and an autosave often hold the same tree),
    so each distinct tree is read and diffed once per listing.
    """
    owner, _namespace, name = full.split("/")
    seen = {} if seen is None else seen
    facts = seen.get(commit.tree)
    if facts is None:
        facts = seen[commit.tree] = _tree_facts(store, commit.tree, name, head_side)
    return RecoveryPoint(
        kind,
        owner,
        full,
        name,
        name[:15],
        oid,
        commit.tree,
        commit.created_at,
        commit.mutation_id,
        facts.manifest,
        facts.sampler_assets,
        facts.summary,
        commit.message,
    )


def head_side(store: Store, project: str) -> MarkedSide | None:
    """Return the project's head as the side recovery points are diffed against (None: no head yet)."""
    head = store.refs.read(f"{project}/heads/{DEFAULT_BRANCH}")
    if head is None:
        return None
    return recovery_head_side(store, read_commit(store, head).tree)


def recovery_head_side(store: Store, tree_id: str) -> MarkedSide:
    """Return the head's tree ``tree_id`` as the side every recovery point is summarised against."""
    head = mark_side(store, read_tree_table(store, tree_id), "head", tree_id)
    if head.top is None and head.manifest_id is not None:
        head.whole()  # not marked: read whole now, so a damaged manifest raises here, as it did
    return head


def list_recovery_points(store: Store, project: str | None = None) -> list[RecoveryPoint]:
    """Return autosaves and checkpoints, newest first, each with its prompt and head summary."""
    points = []
    heads: dict[str, MarkedSide | None] = {}
    seen: dict[str, dict[str, _TreeFacts]] = {}
    for namespace, kind in (("autosave", "autosave"), ("checkpoints", "checkpoint")):
        for full, oid in store.refs.list(project, namespace).items():
            owner = full.split("/", 1)[0]
            commit = read_commit(store, oid)
            if owner not in heads:
                heads[owner] = head_side(store, owner)
            points.append(recovery_point(store, kind, full, oid, commit, heads[owner], seen.setdefault(owner, {})))
    return sorted(
        points, key=lambda p: autosave_sort_key(AutosaveItem(p.name, normal_time(p.created_at))), reverse=True
    )


def find_point(store: Store, project: str, which: str) -> str:
    """Return the ref of ``latest`` (newest autosave) or of an autosave/checkpoint NAME (or full ref)."""
    if which == "latest":
        newest = newest_autosave(store, project)
        if newest is None:
            raise RevisionError(f"project {project!r} has no autosaves to restore")
        return newest[0]
    if which.count("/") == 2:
        if which.split("/")[0] == project and store.refs.read(which) is not None:
            return which
    else:
        for namespace in ("autosave", "checkpoints"):
            full = f"{project}/{namespace}/{check_component(which, 'autosave or checkpoint name')}"
            if store.refs.read(full) is not None:
                return full
    raise RevisionError(
        f"project {project!r} has no autosave or checkpoint named {which!r}; see 'casstore recover {project}'"
    )


@dataclass
class RestoreResult(CheckoutResult):
    """What a restore did: the checkout, and the checkpoint that keeps what it put back."""

    kept: str | None = None

    def as_json(self) -> dict[str, Any]:
        """Return the result as a JSON object (the checkout's, plus ``kept``)."""
        return {**super().as_json(), "kept": self.kept}


def _newest_checkpoint_tree(store: Store, project: str) -> tuple[str, str] | None:
    refs = store.refs.list(project, "checkpoints")
    if not refs:
        return None
    newest = max(refs, key=checkpoint_order)
    return newest, read_commit(store, refs[newest]).tree


def restore(
    store: Store, project: str, which: str, into: Path, keep_checkpoints: int = DEFAULT_KEEP_CHECKPOINTS
) -> tuple[str, RestoreResult]:
    """Restore an autosave or checkpoint into ``into``, and keep what it put back as a checkpoint.

    Anything unsaved in ``into`` is checkpointed first (``…-recover``). What the musician chose
    is then recorded as the newest checkpoint (``…-restored``), because the autosave ring may
    prune its autosave after a few more autosaves, and a later plain checkout would not save it.
    """
    ref = find_point(store, project, which)
    oid = store.refs.read(ref)
    if oid is None:
        raise RevisionError(f"{ref} vanished while restoring; run recover again")
    done = checkout(store, oid, into, force=True, operation="recover", keep_checkpoints=keep_checkpoints)
    newest = _newest_checkpoint_tree(store, project)
    if newest is not None and newest[0].endswith(f"-{RESTORED_OPERATION}") and newest[1] == done.tree:
        kept = newest[0]  # the same point restored again: one checkpoint keeps it
    else:
        message = f"restored {ref} into {done.directory}"
        kept = checkpoint_commit(store, project, oid, RESTORED_OPERATION, keep_checkpoints, message)
    return ref, RestoreResult(**vars(done), kept=kept)
