"""Durable writes go through the write helpers: no other library module calls a raw write primitive.

Every write casstore makes to a store, a working directory, an export or a bundle must be a
temp file, fsync, rename and directory fsync, and must pass through ``casstore/storage/fileops.py`` so
the fault-injection campaign (tests/test_torture.py) reaches it. A module that opened a file
for writing itself would silently skip both, so this test reads the source (``ast``) and names
any call site outside the helpers.
"""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import ROOT

# The seam: the write helpers and the backends (an S3 backend "replaces" objects, not files).
WRITERS = {"atomic.py", "fileops.py", "syncfs.py", "backend_local.py"}
WRITERS |= {"backend_s3.py", "backend_s3_io.py", "backend_s3_client.py"}
# Writes that are not casstore's durable data, each with why.
NOT_DURABLE = {
    # Measuring a sample copies it to a TemporaryDirectory that is deleted when measured.
    ("loudness_report.py", "open"),
    # Decoding a FLAC-compacted sample copies its stream into an anonymous in-memory file (memfd).
    ("sndfile.py", "write"),
    # The stress harness plays the tracker app editing its own working files between autosaves.
    ("stress.py", "write_text"),
    ("stress.py", "write_bytes"),
    ("stress.py", "mkdir"),
    ("stress.py", "copytree"),
}

MODULE_CALLS = {
    "os": {"open", "write", "replace", "rename", "renames", "fsync", "fdatasync", "mkdir", "makedirs"}
    | {"unlink", "remove", "rmdir", "removedirs", "link", "symlink", "truncate", "ftruncate"},
    "shutil": {"copy", "copy2", "copyfile", "copyfileobj_to", "copytree", "move", "rmtree"},
    "tempfile": {"mkstemp", "mkdtemp", "NamedTemporaryFile"},
}
PATH_METHODS = {"write_bytes", "write_text", "mkdir", "unlink", "rmdir", "touch", "rename", "symlink_to"}
PATH_METHODS |= {"hardlink_to"}


def _writes_mode(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str) and bool(set(node.value) & set("wax+"))


def _mode(call: ast.Call, position: int) -> ast.expr | None:
    for keyword in call.keywords:
        if keyword.arg == "mode":
            return keyword.value
    return call.args[position] if len(call.args) > position else None


def _through_ops(func: ast.Attribute) -> bool:
    """``ops().unlink(...)`` or ``self.backend.touch(...)``: the seam itself."""
    receiver = func.value
    if isinstance(receiver, ast.Call) and isinstance(receiver.func, ast.Name) and receiver.func.id == "ops":
        return True
    # A store's backend (``backend.delete``, ``self.backend.touch``) is the storage seam.
    named = receiver.attr if isinstance(receiver, ast.Attribute) else getattr(receiver, "id", None)
    return named == "backend"


def raw_writes(source: str, filename: str) -> list[tuple[int, str]]:
    """Return ``(line, primitive)`` for each raw write call in ``source``."""
    found = []
    tree = ast.parse(source, filename)
    # A stream handed straight to ``ops().writer(...)`` is written through the seam.
    wrapped = {
        id(arg)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "writer"
        if _through_ops(node.func)
        for arg in node.args[:1]
    }
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or id(node) in wrapped:
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id == "open" and _writes_mode(_mode(node, 1)):
            found.append((node.lineno, "open"))
        elif isinstance(func, ast.Attribute) and not _through_ops(func):
            owner = func.value.id if isinstance(func.value, ast.Name) else None
            if owner in MODULE_CALLS:
                if func.attr in MODULE_CALLS[owner] or (func.attr == "fdopen" and _writes_mode(_mode(node, 1))):
                    found.append((node.lineno, func.attr))
            elif func.attr in PATH_METHODS:
                found.append((node.lineno, func.attr))
            elif func.attr == "open" and _writes_mode(_mode(node, 0)):  # Path.open("wb")
                found.append((node.lineno, "open"))
            elif func.attr == "replace" and len(node.args) == 1 and not node.keywords:  # Path.replace(target)
                found.append((node.lineno, "replace"))
    return found


def test_only_the_write_helpers_call_raw_write_primitives() -> None:
    offenders = []
    for path in sorted((ROOT / "casstore").rglob("*.py")):
        if path.name in WRITERS:
            continue
        for line, primitive in raw_writes(path.read_text(), str(path)):
            if (path.name, primitive) not in NOT_DURABLE:
                offenders.append(f"{path.relative_to(ROOT)}:{line}: {primitive}")
    assert not offenders, "write through casstore/storage/atomic.py (or fileops.ops()) instead:\n" + "\n".join(
        offenders
    )


def test_the_scan_finds_each_kind_of_raw_write() -> None:
    """The checker itself: each way of writing a file is caught; reads and the seam are not."""
    caught = """
open(p, "wb"); open(p, mode="a"); os.fdopen(fd, "wb"); p.open("w")
p.write_bytes(b""); p.write_text(""); p.mkdir(); p.unlink(); p.rename(q); p.replace(q)
os.replace(a, b); os.rename(a, b); os.fsync(fd); os.unlink(p); os.open(p, flags)
shutil.copyfile(a, b); shutil.move(a, b); tempfile.mkstemp()
"""
    allowed = """
open(p); open(p, "rb"); p.open(); os.fdopen(fd); text.replace("a", "b"); when.replace(tzinfo=utc)
ops().unlink(p); ops().replace(a, b); ops().mkdir(p); archive.open(info, "w"); p.read_bytes()
ops().writer(os.fdopen(fd, "wb"), tmp)
"""
    assert len(raw_writes(caught, "caught")) == 18
    assert raw_writes(allowed, "allowed") == []


def test_the_helpers_exist_where_the_rule_points(tmp_path: Path) -> None:
    from casstore.storage.atomic import copy_durable, replacing

    src = tmp_path / "src.bin"
    src.write_bytes(b"sample")
    copy_durable(src, tmp_path / "deep" / "copy.bin")
    assert (tmp_path / "deep" / "copy.bin").read_bytes() == b"sample"
    target = tmp_path / "kept.bin"
    target.write_bytes(b"old")
    try:
        with replacing(target, "t") as out:
            out.write(b"half")
            raise RuntimeError("a digest mismatch")
    except RuntimeError:
        pass
    assert target.read_bytes() == b"old" and sorted(p.name for p in tmp_path.iterdir()) == [
        "deep",
        "kept.bin",
        "src.bin",
    ]
