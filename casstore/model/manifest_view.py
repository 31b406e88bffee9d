"""Reading a manifest for people (log, show, diff, recover, the viewer): never refuses, names what it left out.

Import validates strictly (:func:`casstore.model.manifest.parse_manifest`). An autosave, a
checkpoint or a bundle being diffed may hold a damaged manifest, and its reader still wants
to see the rest: this reader keeps every part it can read and says what it could not.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from casstore.errors import ManifestError
from casstore.model.manifest_json import _finite, _refuse_constant, decode_json, version_problem
from casstore.model.paths import MANIFEST_NAME

if TYPE_CHECKING:
    from casstore.model.objects import Tree
    from casstore.storage.store import Store

# (manifest list, identity key, path key, tree role)
SECTIONS = (
    ("patterns", "pattern_id", "path", "pattern"),
    ("mixer_snapshots", "name", "path", "mixer_snapshot"),
    ("sampler_assets", "asset_name", "relative_path", "sampler_asset"),
)


@dataclass(frozen=True)
class ListedFile:
    """A file the manifest lists with a usable identity, path and digest."""

    label: str  # ``patterns['verse']``
    path: str
    sha256: str
    role: str
    ident: str


@dataclass(frozen=True)
class ManifestView:
    """A manifest as far as it could be read.

    ``document`` is the JSON object as written (None when there is none: missing, not JSON,
    not an object); ``project`` and ``sections`` hold only the parts shaped as the schema
    says (an object, lists of objects); ``problems`` names each part left out, one line each.
    """

    document: dict[str, Any] | None
    project: dict[str, Any]
    sections: dict[str, list[dict[str, Any]]]
    listed: tuple[ListedFile, ...]
    problems: tuple[str, ...]

    @property
    def readable(self) -> bool:
        """Tell whether there is a manifest object at all."""
        return self.document is not None

    def entries(self, section: str) -> list[dict[str, Any]]:
        """Return the object entries of ``patterns``, ``mixer_snapshots`` or ``sampler_assets``."""
        return self.sections.get(section, [])

    def sampler_asset_names(self) -> list[str]:
        """Return the names of the sampler assets that have one, in manifest order."""
        return asset_names(self.entries("sampler_assets"))

    def shown(self) -> dict[str, Any]:
        """Return the manifest as written, less the parts left out (``{}`` when unreadable)."""
        if self.document is None:
            return {}
        kept = dict(self.document)
        if not isinstance(kept.get("project", {}), dict):
            del kept["project"]
        for section, *_ in SECTIONS:
            if section in kept:
                kept[section] = self.entries(section)
        return kept

    def problem(self) -> str | None:
        """Return the first problem, counting the others, or None when the manifest read cleanly."""
        if not self.problems:
            return None
        more = len(self.problems) - 1
        return self.problems[0] + (f" (and {more} more problem{'s' if more > 1 else ''})" if more else "")


def _unreadable(problem: str) -> ManifestView:
    return ManifestView(None, {}, {}, (), (problem,))


def read_manifest_lenient(raw: bytes | None, source: str = MANIFEST_NAME) -> ManifestView:
    """Read manifest bytes (None: there is no manifest) as far as they go; never raises on damage."""
    if raw is None:
        return _unreadable(f"no {source}")
    try:
        data, repeated = decode_json(raw, source)
    except ManifestError as exc:
        return _unreadable(str(exc))
    if not isinstance(data, dict):
        return _unreadable(f"{source}: the manifest must be a JSON object")
    problems = [f"{source}: {repeated} (the last value is shown)"] if repeated else []
    if "manifest_version" not in data:
        problems.append(f"{source}: manifest_version: Field required")
    elif version := version_problem(data["manifest_version"]):
        problems.append(f"{source}: manifest_version: {version}")
    project = data.get("project", {})
    if not isinstance(project, dict):
        problems.append(f"{source}: project: not an object, left out")
        project = {}
    sections: dict[str, list[dict[str, Any]]] = {}
    listed: list[ListedFile] = []
    for section, ident, path_key, role in SECTIONS:
        items = data.get(section, [])
        if not isinstance(items, list):
            problems.append(f"{source}: {section}: not a list, left out")
            items = []
        kept = sections.setdefault(section, [])
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                problems.append(f"{source}: {section}[{index}]: not an object, left out")
                continue
            kept.append(item)
            name, path, sha256 = item.get(ident), item.get(path_key), item.get("sha256")
            if isinstance(name, str) and isinstance(path, str) and isinstance(sha256, str):
                listed.append(ListedFile(f"{section}[{name!r}]", path, sha256, role, name))
            else:
                problems.append(f"{source}: {section}[{index}]: no {ident}, {path_key} and sha256 to follow")
    return ManifestView(data, project, sections, tuple(listed), tuple(problems))


def asset_names(items: object) -> list[str]:
    """Return the names of a ``sampler_assets`` list's entries that have one, in order (every reader's rule)."""
    if not isinstance(items, list):
        return []
    return [str(a["asset_name"]) for a in items if isinstance(a, dict) and isinstance(a.get("asset_name"), str)]


class _LeftOut:
    """Stands for a JSON object the sampler reader did not keep (neither the document nor an asset)."""


LEFT_OUT = _LeftOut()  # what :func:`read_sampler_assets` puts where it left an object out


def read_sampler_assets(raw: bytes | str | None) -> list[dict[str, Any]] | None:
    """Return the manifest's ``sampler_assets`` as written (None: not a JSON object with that list).

    Only the top level and the asset objects are kept: a manifest of 100,000 patterns read
    whole held a dict per pattern (~40 MiB) for a few asset entries (issue 17). An object
    nested in an asset is not kept either (it reads as a stand-in that is no dict).
    """
    if raw is None:
        return None

    def keep(pairs: list[tuple[str, Any]]) -> Any:
        obj = dict(pairs)
        return obj if "sampler_assets" in obj or "asset_name" in obj else LEFT_OUT

    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        data = json.loads(text, object_pairs_hook=keep, parse_constant=_refuse_constant, parse_float=_finite)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    items = data.get("sampler_assets") if isinstance(data, dict) else None
    return items if isinstance(items, list) else None


def read_sampler_asset_names(raw: bytes | None) -> list[str]:
    """Return what ``read_manifest_lenient(raw).sampler_asset_names()`` does, without keeping the other entries."""
    return asset_names(read_sampler_assets(raw))


def read_tree_manifest(store: Store, tree: Tree, source: str = MANIFEST_NAME) -> ManifestView:
    """Read a stored tree's manifest leniently (the object itself is verified as it is read)."""
    raw = store.objects.read_bytes(tree.manifest) if tree.manifest else None
    return read_manifest_lenient(raw, source)
