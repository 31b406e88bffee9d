"""Revision grammar and resolution: ids, prefixes, project refs, ~N."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from casstore.clock import utc_now_iso
from casstore.errors import RevisionError
from casstore.history.commits import new_commit
from casstore.history.revisions import RevSpec, parse_revision, resolve
from casstore.model.objects import Tree, TreeEntry
from casstore.storage.store import Store

names = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_-]{0,15}", fullmatch=True)
namespaces = st.sampled_from(["heads", "tags", "autosave", "checkpoints"])
bases = (
    names
    | st.builds(lambda p, n, b: f"{p}/{n}/{b}", names, namespaces, names)
    | st.from_regex(r"[0-9a-f]{6,64}", fullmatch=True)
)


@given(base=bases, back=st.integers(0, 500))
def test_parse_round_trips(base: str, back: int) -> None:
    spec = RevSpec(base, back)
    assert parse_revision(str(spec)) == spec


@given(base=bases, steps=st.lists(st.integers(0, 20), max_size=4))
def test_tilde_steps_add_up(base: str, steps: list[int]) -> None:
    text = base + "".join(f"~{n}" if n != 1 else "~" for n in steps)
    assert parse_revision(text).back == sum(steps)


@pytest.mark.parametrize(
    "bad", ["", "   ", "demo/heads", "demo/unknown/main", "../etc", "demo/heads/ma in", "a/b/c/d", "-x", "demo~x"]
)
def test_malformed_revisions_are_refused(bad: str) -> None:
    with pytest.raises(RevisionError):
        parse_revision(bad)


def _commit_chain(store: Store, project: str, length: int) -> list[str]:
    ids: list[str] = []
    for index in range(length):
        content = f"take {index}".encode()
        blob = store.objects.put_bytes(content).oid
        tree = Tree(project, blob, (TreeEntry("project_manifest.json", blob, len(content), "manifest"),))
        store.objects.put_bytes(tree.encode())
        commit = new_commit(tree.id, ids[-1:], project, "import", f"take {index}")
        ids.append(store.objects.put_bytes(commit.encode()).oid)
    store.refs.compare_and_swap(f"{project}/heads/main", None, ids[-1], "test", utc_now_iso())
    return ids


@pytest.fixture()
def store(tmp_path: Path) -> Store:
    return Store.init(tmp_path / "store")


def test_resolution_of_every_form(store: Store) -> None:
    ids = _commit_chain(store, "demo", 4)
    store.refs.compare_and_swap("demo/tags/v1", None, ids[1], "tag", utc_now_iso())
    store.refs.compare_and_swap("demo/autosave/20260101-000000-a", None, ids[0], "autosave", utc_now_iso())
    store.refs.compare_and_swap("demo/autosave/20260102-000000-b", None, ids[2], "autosave", utc_now_iso())
    assert resolve(store, "demo") == ids[3]
    assert resolve(store, "demo/heads/main") == ids[3]
    assert resolve(store, "demo~1") == ids[2]
    assert resolve(store, "demo~~") == ids[1]
    assert resolve(store, "demo~3") == ids[0]
    assert resolve(store, "demo/tags/v1") == ids[1]
    assert resolve(store, "demo/tags/v1~1") == ids[0]
    assert resolve(store, "demo/autosave/latest") == ids[2]
    assert resolve(store, ids[2]) == ids[2]
    assert resolve(store, ids[2][:8]) == ids[2]
    with pytest.raises(RevisionError, match="only 4 commit"):
        resolve(store, "demo~4")
    with pytest.raises(RevisionError, match="unknown revision 'nosuch'"):
        resolve(store, "nosuch")
    with pytest.raises(RevisionError):
        resolve(store, ids[2][:5])  # shorter than the 6-digit minimum


def test_a_blob_id_is_not_a_revision(store: Store) -> None:
    blob = store.objects.put_bytes(b"not a commit").oid
    with pytest.raises(RevisionError):
        resolve(store, blob)
