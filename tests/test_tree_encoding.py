"""A tree's hand-built encoding is byte for byte the generic canonical JSON: ids never depend on which encoder ran."""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from casstore.model.objects import Tree, TreeEntry
from casstore.storage import canonical

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=20)
entries = st.builds(TreeEntry, text, text, st.integers(min_value=0, max_value=2**63), text)


@given(text, st.none() | text, st.lists(entries, max_size=6))
@example("p", None, [])
@example('q"\\\u2028é\x00', "m", [TreeEntry("a/b.json", "0" * 64, 0, "pattern")])
def test_tree_encoding_is_the_canonical_json(project: str, manifest: str | None, items: list[TreeEntry]) -> None:
    tree = Tree(project, manifest, tuple(items))
    generic = canonical.dumps(
        {
            "tree_version": 1,
            "project_id": project,
            "manifest": manifest,
            "entries": [entry.as_json() for entry in sorted(items, key=lambda e: e.path)],
        }
    )
    assert tree.encode() == generic
    assert canonical.loads(tree.encode())["entries"] == [e.as_json() for e in sorted(items, key=lambda e: e.path)]
