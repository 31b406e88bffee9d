"""The library calls behind the viewer: timeline folding, restore-any with undo, recovery offer, grid, waveform."""

from __future__ import annotations

import json
import shutil
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import casstore
from conftest import ROOT

sys.path.insert(0, str(ROOT / "testdata"))


@pytest.fixture()
def viewer_store(tmp_path: Path, demo_data: Path) -> tuple[casstore.Store, Path]:
    import make_viewer_store

    make_viewer_store.make(tmp_path / "store", tmp_path / "work", demo_data)
    return casstore.open_store(tmp_path / "store"), tmp_path / "work"


def _imports(store: casstore.Store) -> list[casstore.Version]:
    return [v for v in casstore.project_timeline(store, "demo-project") if v.kind == "import"]


def test_relative_and_local_times_name_the_zone() -> None:
    now = datetime(2025, 11, 27, 15, 30, tzinfo=UTC)
    assert casstore.relative_time("2025-11-27T15:27:00Z", now) == "3 min ago"
    assert casstore.relative_time("2025-11-27T15:29:50Z", now) == "just now"
    assert casstore.relative_time("2025-11-27T12:30:00Z", now) == "3 h ago"
    assert casstore.relative_time("2025-11-26T12:30:00Z", now) == "yesterday"
    assert casstore.relative_time("2025-11-20T12:30:00Z", now) == "7 days ago"
    plus_one = __import__("datetime").timezone(timedelta(hours=1), "CET")
    assert casstore.local_time_text("2025-11-27T15:30:00Z", plus_one) == "2025-11-27 16:30 CET"


def test_fifty_imports_give_fifty_rows_with_their_checkpoints_folded(tmp_path: Path, demo_data: Path) -> None:
    store = casstore.init_store(tmp_path / "store")
    bundle = tmp_path / "bundle"
    shutil.copytree(demo_data / "demo_bundle", bundle)
    for take in range(50):
        (bundle / "project.json").write_text(f'{{"take": {take}}}\n')
        casstore.import_bundle(store, bundle, message=f"take {take}")
    timeline = casstore.project_timeline(store, "demo-project")
    assert [v.kind for v in timeline] == ["import"] * 50
    assert [v.message for v in timeline[:2]] == ["take 49", "take 48"]
    folded = [c for v in timeline for c in v.folded]
    assert len(folded) == casstore.DEFAULTS.keep_checkpoints
    assert all(c.title == "Checkpoint before import" for c in folded)
    # Unfolded, each checkpoint sorts below (older than) the import that recorded it.
    flat = casstore.project_timeline(store, "demo-project", fold=False)
    assert flat[0].message == "take 49" and flat[1].kind == "checkpoint"


def test_restore_any_version_then_undo_puts_the_unsaved_edit_back(viewer_store: tuple[casstore.Store, Path]) -> None:
    store, work = viewer_store
    edited = (work / "mixer/verse_snapshot.json").read_bytes()
    first_take = _imports(store)[-1]
    plan = casstore.plan_restore(store, first_take.oid, work)
    assert plan.unsaved == ("mixer/verse_snapshot.json",) and str(work) in plan.question
    done = casstore.restore_version(store, "demo-project", first_take.oid, work)
    assert done.checkpoint is not None and done.kept.endswith("-restored")
    assert not (work / "assets/snare_room.wav").exists() and (work / "assets/kick_room.wav").exists()
    undone = casstore.undo_restore(store, "demo-project", done)
    assert (work / "mixer/verse_snapshot.json").read_bytes() == edited
    assert (work / "assets/snare_room.wav").exists() and not (work / "assets/kick_room.wav").exists()
    assert undone.undo_to == first_take.oid


def test_the_offer_does_not_come_back_once_the_autosave_is_restored(viewer_store: tuple[casstore.Store, Path]) -> None:
    store, work = viewer_store
    offer = casstore.safe_recovery_offer(store, "demo-project")
    assert offer is not None and offer.ref.endswith("-m3")
    casstore.restore_version(store, "demo-project", offer.ref, work)
    assert casstore.safe_recovery_offer(store, "demo-project") is None


def test_listing_versions_verifies_each_snapshot_and_opening_one_reads_it_in_full(
    viewer_store: tuple[casstore.Store, Path],
) -> None:
    # Listing reads every version's tree through its SHA-256 (rot shows in the list, as the
    # next test's damaged checkpoint does) but does not parse it: that was most of opening
    # the viewer on a 100,000-file project. A sound object that is no tree is found on opening.
    from casstore.model.objects import Commit

    store, _work = viewer_store
    head = _imports(store)[0]
    pattern = casstore.show_revision(store, head.oid).tree.entries[-1].sha256  # sound bytes, not a tree
    odd = Commit(pattern, (head.oid,), "demo-project", "import", "odd", "t", "2026-06-01T00:00:00Z")
    store.objects.put_bytes(odd.encode())
    store.objects.sync()
    store.refs.compare_and_swap("demo-project/tags/odd", None, odd.id, "test", "2026-06-01T00:00:00Z")
    listed = {v.oid: v for v in casstore.project_timeline(store, "demo-project", fold=False)}
    assert listed[odd.id].damaged is None
    with pytest.raises(casstore.CasstoreError):
        casstore.revision_text(store, odd.id)


def test_a_damaged_checkpoint_marks_its_version_and_everything_else_works(
    viewer_store: tuple[casstore.Store, Path],
) -> None:
    store, work = viewer_store
    done = casstore.restore_version(store, "demo-project", _imports(store)[-1].oid, work)
    assert done.checkpoint is not None
    tree = casstore.show_revision(store, store.refs.read(done.checkpoint) or "").tree.id
    damaged = store.objects.path_for(tree)
    damaged.chmod(0o644)
    damaged.write_bytes(b"rotten")
    timeline = casstore.project_timeline(store, "demo-project", fold=False)
    bad = [v for v in timeline if v.damaged]
    assert [v.refs for v in bad] == [(done.checkpoint,)] and "cannot be read" in bad[0].title
    assert len(timeline) == 8
    # The offer reads autosaves only: a new one is offered, the damaged checkpoint is never read.
    (work / "patterns/verse.json").write_bytes((work / "patterns/verse.json").read_bytes().replace(b"64", b"65", 1))
    saved = casstore.record_autosave(store, work, "demo-project", "after-damage")
    offer = casstore.safe_recovery_offer(store, "demo-project")
    assert offer is not None and offer.ref == saved.ref


def test_step_grid_mixer_values_and_samples_of_two_imports(viewer_store: tuple[casstore.Store, Path]) -> None:
    store, _work = viewer_store
    new, old = _imports(store)
    compared = casstore.compare_versions(store, old.oid, new.oid)
    (verse,) = compared.patterns
    assert verse.pattern_id == "verse" and verse.length == 64
    changed = {(c.step, c.change) for c in verse.changed}
    assert changed == {(20, "modified"), (32, "modified")}  # what diff reports for the verse
    steps = [c.step for c in verse.cells if c.track == verse.tracks[0]]
    assert steps == sorted(steps)  # numeric order, not text order
    assert any(c.detail.startswith(f"{c.track} · step 20: ") and " → " in c.detail for c in verse.changed)
    assert casstore.MixerValue("Verse Snapshot", "choir_pad_soft.wav", "gain_db", -3.0, -4.5) in compared.mixer
    kinds = {s.name: s.change for s in compared.samples}
    assert kinds == {
        "gospel_stab_short.wav": "modified",
        "strings_choir_blend.wav": "renamed",
        "snare_room.wav": "added",
        "kick_room.wav": "removed",
    }


def test_waveform_envelope_is_cached_by_blob_and_playable_wav_decodes_the_samples(
    viewer_store: tuple[casstore.Store, Path], demo_data: Path
) -> None:
    import numpy as np
    import soundfile

    store, _work = viewer_store
    sample = next(s for s in casstore.version_samples(store, "demo-project") if s.name == "gospel_stab_short.wav")
    assert sample.blob is not None
    wave = casstore.waveform_envelope(store, sample.blob, sample.suffix, points=100)
    source, rate = soundfile.read(str(demo_data / "demo_bundle_rev2/assets/gospel_stab_short.wav"), always_2d=True)
    assert wave.frames == len(source) and wave.sample_rate == rate and len(wave.mins) == 100
    assert abs(wave.peak - float(np.max(np.abs(source)))) < 1e-3
    assert all(lo <= hi for lo, hi in zip(wave.mins, wave.maxs, strict=True))
    cached = store.root / "cache" / "waveforms" / f"{sample.blob}-100.json"
    assert cached.exists()
    assert casstore.waveform_envelope(store, sample.blob, sample.suffix, points=100) == wave
    played, played_rate = soundfile.read(str(casstore.playable_wav(store, sample.blob, sample.suffix)), always_2d=True)
    assert played_rate == rate and played.shape == source.shape
    assert float(np.max(np.abs(played - source))) < 1 / 16384


def test_tag_a_version_and_list_projects(viewer_store: tuple[casstore.Store, Path]) -> None:
    store, _work = viewer_store
    first = _imports(store)[-1]
    assert casstore.tag_version(store, "demo-project", "first mix", first.oid) == "demo-project/tags/first-mix"
    assert next(v for v in casstore.project_timeline(store, "demo-project") if v.oid == first.oid).tags == (
        "first-mix",
    )
    with pytest.raises(casstore.RefError, match="already named"):
        casstore.tag_version(store, "demo-project", "first-mix", first.oid)
    assert casstore.list_projects(store) == ["demo-project"]


def test_the_head_is_read_as_a_diff_side_only_when_an_autosave_is_offered(
    viewer_store: tuple[casstore.Store, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The head's side holds its whole manifest parsed (~40 MiB at 100,000 files): with no
    # autosave worth offering, opening the viewer need not read it at all (issue 17).
    from casstore.workdir import versions

    store, work = viewer_store
    sides: list[str] = []
    real = versions.recovery_head_side
    monkeypatch.setattr(versions, "recovery_head_side", lambda s, tree: sides.append(tree) or real(s, tree))
    offer = casstore.safe_recovery_offer(store, "demo-project")
    assert offer is not None and offer.ref.endswith("-m3") and offer.summary and len(sides) == 1
    casstore.restore_version(store, "demo-project", offer.ref, work)
    sides.clear()
    assert casstore.safe_recovery_offer(store, "demo-project") is None
    assert sides == []


def test_a_damaged_head_manifest_still_lets_the_autosave_be_offered(
    viewer_store: tuple[casstore.Store, Path],
) -> None:
    store, work = viewer_store
    manifest = json.loads((work / "project_manifest.json").read_text())
    manifest["project"]["name"] = "renamed"
    (work / "project_manifest.json").write_text(json.dumps(manifest, indent=2))
    saved = casstore.record_autosave(store, work, "demo-project", "renamed")
    head = casstore.show_revision(store, store.refs.read("demo-project/heads/main") or "").tree
    assert head.manifest is not None
    damaged = store.objects.path_for(head.manifest)
    damaged.chmod(0o644)
    damaged.write_bytes(b"rotten")
    # The head cannot be read whole, so the offer is summarised as with no head (as before the
    # head was held as digests: reading it whole is what raises).
    offer = casstore.safe_recovery_offer(store, "demo-project")
    assert offer is not None and offer.ref == saved.ref and offer.summary == "the project has no head yet"
