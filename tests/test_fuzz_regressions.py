"""What the fuzzers found, pinned one case each: bad input is a CasstoreError (exit 2), never a crash."""

from __future__ import annotations

import json
import struct
import zipfile
from pathlib import Path

import pytest
from test_fuzz import PROJECT, make_small_bundle, zip_of
from test_zip_bombs import _patch_sizes

from casstore.crashreport import import_crash_report, is_crash_report
from casstore.errors import BundleError, CorruptObject, RevisionError
from casstore.history.revisions import parse_revision
from casstore.model.objects import Commit, Tree
from casstore.storage.store import Store
from conftest import Cli, snapshot_tree

OID = "0" * 64


def _tree_json(**overrides: object) -> dict:
    entry = {"path": "patterns/a.json", "role": "pattern", "sha256": OID, "size": 3}
    return {"tree_version": 1, "project_id": "p", "manifest": None, "entries": [entry], **overrides}


def test_a_tree_nested_past_the_recursion_limit_is_a_corrupt_object() -> None:
    raw = b'{"tree_version": 1, "entries": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    with pytest.raises(CorruptObject, match="not JSON"):
        Tree.decode(OID, raw)


def test_a_commit_nested_past_the_recursion_limit_is_a_corrupt_object() -> None:
    raw = b'{"commit_version": 1, "extra": ' + b'{"a":' * 50_000 + b"1" + b"}" * 50_000 + b"}"
    with pytest.raises(CorruptObject, match="not JSON"):
        Commit.decode(OID, raw)


def test_a_tree_entry_size_past_a_float_is_a_corrupt_object() -> None:
    text = json.dumps(_tree_json()).replace('"size": 3', '"size": 1e999')
    with pytest.raises(CorruptObject):
        Tree.decode(OID, text.encode())


def test_an_ancestry_step_of_thousands_of_digits_is_a_revision_error() -> None:
    with pytest.raises(RevisionError, match="more generations"):
        parse_revision("demo-project~" + "9" * 5000)
    assert parse_revision("demo-project~" + "9" * 18).back == 10**18 - 1


def _broken_central_directory(tmp_path: Path, demo_data: Path) -> Path:
    """A zip that ``zipfile.is_zipfile`` accepts but whose central directory has a bad magic number."""
    data = bytearray(zip_of(make_small_bundle(tmp_path / "b", demo_data / "demo_bundle")))
    data[data.find(b"PK\x01\x02")] = ord("Q")
    path = tmp_path / "broken.zip"
    path.write_bytes(bytes(data))
    return path


def test_a_zip_with_a_broken_central_directory_is_not_taken_for_a_crash_report(tmp_path: Path, demo_data: Path) -> None:
    assert is_crash_report(_broken_central_directory(tmp_path, demo_data)) is False


def test_import_of_a_zip_with_a_broken_central_directory_exits_2_naming_it(
    cli: Cli, tmp_path: Path, demo_data: Path
) -> None:
    path = _broken_central_directory(tmp_path, demo_data)
    before = snapshot_tree(cli.store)
    result = cli("import", path)
    assert result.code == 2, result.err
    assert "Traceback" not in result.err
    assert result.err.startswith("casstore: error: broken.zip: damaged zip archive"), result.err
    assert snapshot_tree(cli.store) == before


def _report_shifted(cli: Cli, tmp_path: Path, demo_data: Path, shift: int) -> Path:
    bundle = make_small_bundle(tmp_path / "work", demo_data / "demo_bundle")
    cli.ok("autosave", bundle, "--project", PROJECT)
    report = tmp_path / "report.zip"
    cli.ok("crash-report", PROJECT, "--out", report)
    data = bytearray(report.read_bytes())
    end = data.rfind(b"PK\x05\x06")
    (declared,) = struct.unpack_from("<L", data, end + 16)
    # The end record says the central directory starts later than it does: zipfile then shifts
    # every entry's offset back by the difference, the first one to before the file's start.
    struct.pack_into("<L", data, end + 16, declared + shift)
    report.write_bytes(bytes(data))
    return report


def test_a_crash_report_whose_entry_points_outside_the_zip_is_refused(
    cli: Cli, tmp_path: Path, demo_data: Path
) -> None:
    report = _report_shifted(cli, tmp_path, demo_data, 1000)
    target = Store.init(tmp_path / "target")
    before = snapshot_tree(target.root)
    with pytest.raises(BundleError, match=r"report\.zip: entry 'casstore-crash-report\.json': damaged zip archive"):
        import_crash_report(target, report)
    assert snapshot_tree(target.root) == before


def _report_entry(cli: Cli, tmp_path: Path, demo_data: Path) -> tuple[Path, bytearray, str]:
    report = _report_shifted(cli, tmp_path, demo_data, 0)
    name = next(n for n in zipfile.ZipFile(report).namelist() if n.startswith("objects/"))
    return report, bytearray(report.read_bytes()), name


def test_a_crash_report_entry_shorter_than_it_declares_is_refused(cli: Cli, tmp_path: Path, demo_data: Path) -> None:
    report, data, name = _report_entry(cli, tmp_path, demo_data)
    declared = zipfile.ZipFile(report).getinfo(name).file_size
    _patch_sizes(data, name, declared + 10)  # the CRC still matches the real, shorter content
    report.write_bytes(bytes(data))
    target = Store.init(tmp_path / "target")
    before = snapshot_tree(target.root)
    with pytest.raises(BundleError, match=rf"holds {declared} bytes but declares {declared + 10}"):
        import_crash_report(target, report)
    assert snapshot_tree(target.root) == before


def test_a_crash_report_with_an_encrypted_entry_is_refused(cli: Cli, tmp_path: Path, demo_data: Path) -> None:
    report, data, name = _report_entry(cli, tmp_path, demo_data)
    central = data.find(b"PK\x01\x02")
    while data[central + 46 : central + 46 + len(name)] != name.encode():
        central = data.find(b"PK\x01\x02", central + 4)
    data[central + 8] |= 0x1
    report.write_bytes(bytes(data))
    with pytest.raises(BundleError, match="encrypted entries are not supported"):
        import_crash_report(Store.init(tmp_path / "target"), report)
