"""The manifest's own changes: what differs in ``project_manifest.json`` that no other record shows.

The other records cover project fields, entry fields, and the files the entries point to.
What is left: the order of entries, a recorded digest that changed while its file did not,
entries diff cannot follow (no id or path), and bytes that differ with the same content.
"""

from __future__ import annotations

import json
from typing import Any

from casstore.diff.inputs import DiffSide
from casstore.model.jsondiff import FieldChange, singular

# (manifest list, identity key, path key)
ENTRY_LISTS = (
    ("patterns", "pattern_id", "path"),
    ("mixer_snapshots", "name", "path"),
    ("sampler_assets", "asset_name", "relative_path"),
)


def _followed(item: Any, ident: str, path_key: str) -> bool:
    return isinstance(item, dict) and ident in item and isinstance(item.get(path_key), str)


def _order(key: str, ident: str, path_key: str, old: list[Any], new: list[Any]) -> list[FieldChange]:
    old_ids = [str(i[ident]) for i in old if _followed(i, ident, path_key)]
    new_ids = [str(i[ident]) for i in new if _followed(i, ident, path_key)]
    # Membership by set: with lists this was O(F²), 530 s for 100,000 patterns (issue 17).
    old_set, new_set = set(old_ids), set(new_ids)
    kept_old = [i for i in old_ids if i in new_set]
    kept_new = [i for i in new_ids if i in old_set]
    if kept_old == kept_new:
        return []
    return [FieldChange(key, kept_old, kept_new, "reordered", attribute=key)]


def _unreflected_digests(
    key: str, ident: str, path_key: str, old_list: list[Any], new_list: list[Any], old: DiffSide, new: DiffSide
) -> list[FieldChange]:
    """Entries whose recorded sha256 changed while the file they name did not."""
    old_by = {str(i[ident]): i for i in old_list if _followed(i, ident, path_key)}
    new_by = {str(i[ident]): i for i in new_list if _followed(i, ident, path_key)}
    changes = []
    for name in sorted(set(old_by) & set(new_by)):
        a, b = old_by[name], new_by[name]
        if a.get("sha256") == b.get("sha256"):
            continue
        if old.files.get(a[path_key]) == new.files.get(b[path_key]):
            changes.append(
                FieldChange(
                    f"{key}[{name}].sha256",
                    a.get("sha256"),
                    b.get("sha256"),
                    segments=((singular(key), name),),
                    keys=(ident,),
                    attribute="sha256",
                )
            )
    return changes


def _unfollowed(key: str, ident: str, path_key: str, old_list: list[Any], new_list: list[Any]) -> list[FieldChange]:
    """Entries without a usable id or path, which no entry record can show: compared as a whole."""
    a = sorted(json.dumps(i, sort_keys=True) for i in old_list if not _followed(i, ident, path_key))
    b = sorted(json.dumps(i, sort_keys=True) for i in new_list if not _followed(i, ident, path_key))
    if a == b:
        return []
    name = f"{key} without {ident} or {path_key}"
    return [FieldChange(name, [json.loads(x) for x in a], [json.loads(x) for x in b])]


def manifest_changes(old: DiffSide, new: DiffSide) -> tuple[list[FieldChange], str | None]:
    """Return the manifest-only changes between two sides, and a note when only its bytes differ."""
    from casstore.model.paths import MANIFEST_NAME

    a, b = old.files.get(MANIFEST_NAME), new.files.get(MANIFEST_NAME)
    if a == b or old.manifest is None or new.manifest is None:
        return [], None  # an unparseable manifest is reported by its bytes as a project record
    changes: list[FieldChange] = []
    for key, ident, path_key in ENTRY_LISTS:
        old_list, new_list = old.manifest.get(key), new.manifest.get(key)
        if not isinstance(old_list, list) or not isinstance(new_list, list):
            if old_list != new_list and (isinstance(old_list, list) or isinstance(new_list, list)):
                changes.append(FieldChange(key, old_list, new_list))
            continue
        changes += _order(key, ident, path_key, old_list, new_list)
        changes += _unreflected_digests(key, ident, path_key, old_list, new_list, old, new)
        changes += _unfollowed(key, ident, path_key, old_list, new_list)
    if changes or old.manifest != new.manifest or a is None or b is None:
        return changes, None
    digest = FieldChange("sha256", a.sha256, b.sha256)
    return [digest], "same content, other bytes: key order or whitespace"
