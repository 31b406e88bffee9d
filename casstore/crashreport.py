"""Crash reports: one zip with a project's autosaves and checkpoints and every object they need.

Layout: ``casstore-crash-report.json`` (what refs it carries), ``objects/<id>``
(each object's plain content, so the receiver verifies it by hashing),
``project_manifest.json`` (the newest autosave's manifest, for people) and
``README.md``. ``casstore import FILE.zip`` recognises it and adds the refs.
"""

from __future__ import annotations

import hashlib
import zipfile
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, BinaryIO

from casstore.bundles.exporter import check_destination
from casstore.bundles.zip_limits import ZIP_DAMAGE, CountedRead, open_zip
from casstore.bundles.zipwriter import write_zip
from casstore.clock import utc_now_iso
from casstore.errors import BundleError, CorruptObject, UsageError
from casstore.history.autosaves import newest_autosave
from casstore.history.commits import read_commit, read_tree
from casstore.history.reachability import GraphWalk, reachable
from casstore.model.objects import TreeEntry
from casstore.storage import canonical
from casstore.storage.ids import CHUNK_SIZE, is_object_id
from casstore.storage.refs import split_ref
from casstore.storage.store import Store

REPORT_NAME = "casstore-crash-report.json"
FORMAT = "casstore-crash-report"


@dataclass(frozen=True)
class CrashReportResult:
    """What a crash report holds, or what importing one added."""

    project: str
    refs: dict[str, str]
    objects: int
    new_objects: int
    path: str

    def as_json(self) -> dict[str, Any]:
        """Return the result as a JSON object."""
        return {
            "crash_report": True,
            "project": self.project,
            "refs": self.refs,
            "objects": {"total": self.objects, "new": self.new_objects},
            "path": self.path,
        }


def is_crash_report(location: Path) -> bool:
    """Tell whether ``location`` is a crash-report zip."""
    if not location.is_file() or not zipfile.is_zipfile(location):
        return False
    try:
        with zipfile.ZipFile(location) as archive:
            return REPORT_NAME in archive.namelist()
    except ZIP_DAMAGE:
        return False  # damaged: the bundle reader then refuses it, naming the zip


def write_crash_report(store: Store, project: str, out: Path) -> CrashReportResult:
    """Write the project's autosaves and checkpoints with every object they reach to ``out``."""
    refs = {**store.refs.list(project, "autosave"), **store.refs.list(project, "checkpoints")}
    if not refs:
        raise UsageError(f"project {project!r} has no autosaves or checkpoints to report")
    out = out.absolute()
    check_destination(out)
    objects = sorted(reachable(store, set(refs.values())))
    latest = newest_autosave(store, project)
    newest = latest[0] if latest else max(refs)
    newest_tree = read_tree(store, read_commit(store, refs[newest]).tree)
    header = {
        "format": FORMAT,
        "version": 1,
        "project": project,
        "created_at": utc_now_iso(),
        "refs": refs,
        "objects": len(objects),
    }
    with write_zip(out) as archive:
        archive.add_bytes(REPORT_NAME, canonical.dumps(header))
        archive.add_bytes("README.md", _readme(project, refs).encode())
        if newest_tree.manifest:
            archive.add_bytes("project_manifest.json", store.objects.read_bytes(newest_tree.manifest))
        for oid in objects:
            archive.add(f"objects/{oid}", partial(_copy_object, store, oid), None)
    return CrashReportResult(project, refs, len(objects), 0, str(out))


def _copy_object(store: Store, oid: str, target: BinaryIO) -> None:
    with store.objects.reader(oid) as reader:
        while chunk := reader.read(CHUNK_SIZE):
            target.write(chunk)


def _readme(project: str, refs: dict[str, str]) -> str:
    lines = [
        f"# Crash report for {project}",
        "",
        "Made by `casstore crash-report`. To replay the session on another machine:",
        "",
        "    casstore import THIS_FILE.zip",
        f"    casstore recover {project}",
        f"    casstore recover {project} --restore latest --into ./replay",
        "",
        "Autosaves and checkpoints inside:",
        "",
    ]
    lines += [f"- `{name}` → `{oid[:12]}`" for name, oid in sorted(refs.items())]
    return "\n".join(lines) + "\n"


def import_crash_report(store: Store, location: Path) -> CrashReportResult:
    """Verify every object of a crash report, store them, then add its refs under the project."""
    return _import_verified(store, location)


def _verify_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, oid: str, name: str) -> None:
    """Read one member whole (CRC and length checked) and refuse it unless it hashes to ``oid``."""
    digest = hashlib.sha256()
    counted = CountedRead(f"{name}: entry {info.filename!r}", info.file_size)
    try:
        with archive.open(info) as stream:
            while chunk := stream.read(CHUNK_SIZE):
                digest.update(counted.count(chunk))
    except ZIP_DAMAGE as exc:
        # Every member is read whole before the first is stored: the store is unchanged.
        raise BundleError(f"{name}: entry {info.filename!r}: damaged zip entry ({exc})") from None
    counted.finish()  # the store is told the declared size: a shorter entry must not get there
    if digest.hexdigest() != oid:
        raise BundleError(f"{name}: entry {info.filename!r}: content does not match its id")


def _import_verified(store: Store, location: Path) -> CrashReportResult:
    with open_zip(location) as archive:
        try:
            raw_header = archive.read(REPORT_NAME)
        except KeyError:
            raise BundleError(f"{location.name}: no {REPORT_NAME}: not a crash report") from None
        except ZIP_DAMAGE as exc:
            raise BundleError(f"{location.name}: entry {REPORT_NAME!r}: damaged zip entry ({exc})") from None
        try:
            header = canonical.loads(raw_header)
            project, refs = str(header["project"]), dict(header["refs"])
        except (ValueError, KeyError, TypeError):
            raise BundleError(f"{location.name}: {REPORT_NAME} is not a valid crash report header") from None
        if header.get("format") != FORMAT or header.get("version") != 1:
            raise BundleError(f"{location.name}: unsupported crash report format")
        for ref, oid in refs.items():
            owner, namespace, _name = split_ref(ref)
            if owner != project or namespace not in ("autosave", "checkpoints") or not is_object_id(str(oid)):
                raise BundleError(
                    f"{location.name}: {REPORT_NAME}: ref {ref!r}: not an autosave or checkpoint of {project}"
                )
        members = []
        for info in archive.infolist():
            if info.filename in (REPORT_NAME, "README.md", "project_manifest.json"):
                continue
            oid = info.filename.removeprefix("objects/")
            if not info.filename.startswith("objects/") or not is_object_id(oid):
                raise BundleError(f"{location.name}: entry {info.filename!r}: not part of a crash report")
            members.append((oid, info))
        # Verify everything before the store changes at all.
        for oid, info in members:
            _verify_member(archive, info, oid, location.name)
        present = {oid for oid, _ in members}
        try:
            missing = reachable_ids_missing(archive, refs, present)
        except CorruptObject as exc:
            raise BundleError(f"{location.name}: {exc}") from None
        if missing:
            raise BundleError(f"{location.name}: incomplete crash report: object {missing} is missing")
        new = 0
        for oid, info in members:
            result = store.objects.put_stream(partial(_open_member, archive, info), info.file_size, expected=oid)
            new += int(result.new)
        store.objects.sync()
    added = {}
    for ref, oid in sorted(refs.items()):
        current = store.refs.read(ref)
        if current == oid:
            continue
        target = ref if current is None else f"{ref}.imported"
        if store.refs.read(target) is None:
            store.refs.compare_and_swap(target, None, oid, f"crash report: {location.name}", utc_now_iso())
            added[target] = oid
    return CrashReportResult(project, added, len(members), new, str(location))


def _open_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> BinaryIO:
    """Open one member of the report for reading its bytes."""
    return archive.open(info)  # type: ignore[return-value]  # ZipExtFile is a binary stream


def reachable_ids_missing(archive: zipfile.ZipFile, refs: dict[str, str], present: set[str]) -> str | None:
    """Return an id the refs need that the report lacks, or None when it is complete (raises CorruptObject)."""
    missing: list[str] = []

    def load(oid: str, _what: str) -> bytes | None:
        if oid not in present:
            missing.append(oid)
            return None
        return archive.read(f"objects/{oid}")

    def invalid(oid: str, detail: str) -> None:
        raise CorruptObject(oid, detail)

    def entry(_tree: str, item: TreeEntry) -> None:
        if item.sha256 not in present:
            missing.append(item.sha256)

    walk = GraphWalk(load, invalid, entry)
    for ref, oid in sorted(refs.items()):
        walk.from_commit(oid, f"ref {ref}")
        if missing:
            return missing[0]
    return None
