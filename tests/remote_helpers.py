"""Helpers for the remote tests: stores, synthetic commits, and remotes held in memory."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from casstore.clock import utc_now_iso
from casstore.history.commits import new_commit
from casstore.model.objects import Tree, TreeEntry
from casstore.remote.remotes import Remote, RemoteSpec, add_remote, open_remote
from casstore.storage.backend import Backend
from casstore.storage.backend_memory import MemoryBackend
from casstore.storage.store import Store

_counter = itertools.count()
URL = "s3://studio/team-a"


class MemoryRemotes:
    """A connector whose remotes live in memory, one backend per URL (shared by every store that names it)."""

    def __init__(self) -> None:
        self.backends: dict[str, MemoryBackend] = {}
        self.opened: list[RemoteSpec] = []

    def __call__(self, spec: RemoteSpec) -> Backend:
        self.opened.append(spec)
        return self.backends.setdefault(spec.url, MemoryBackend())

    def backend(self, url: str) -> MemoryBackend:
        return self.backends[url]


def make_store(path: Path) -> Store:
    return Store.init(path)


def save(
    store: Store,
    project: str,
    text: str,
    branch: str = "main",
    kind: str = "save",
    namespace: str = "heads",
    created_at: str | None = None,
) -> str:
    """Commit one small file on ``project``'s branch (parent: the branch's head) and move the branch."""
    blob = text.encode()
    tree = Tree(project, None, (TreeEntry("notes.txt", store.objects.put_bytes(blob).oid, len(blob), "file"),))
    store.objects.put_bytes(tree.encode())
    ref = f"{project}/{namespace}/{branch}"
    parent = store.refs.read(ref)
    commit = new_commit(
        tree.id, [parent] if parent and namespace == "heads" else [], project, kind, text, created_at=created_at
    )
    oid = store.objects.put_bytes(commit.encode()).oid
    store.objects.sync()
    store.refs.compare_and_swap(ref, parent, oid, "test: save", utc_now_iso())
    return oid


def unique_text(label: str) -> str:
    return f"{label} #{next(_counter)}"


@pytest.fixture()
def remotes() -> MemoryRemotes:
    """Remotes held in memory, shared by every store of one test (a conftest fixture)."""
    return MemoryRemotes()


@pytest.fixture()
def ana(tmp_path: Path, remotes: MemoryRemotes) -> Store:
    """A store with ``origin`` at URL (a conftest fixture)."""
    store = make_store(tmp_path / "ana")
    add_remote(store, "origin", URL, connect=remotes)
    return store


def remote_of(store: Store, remotes: MemoryRemotes) -> Remote:
    """The store's default remote, opened through ``remotes``."""
    return open_remote(store, None, remotes)
