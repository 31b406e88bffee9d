#!/usr/bin/env bash
# The main job, end to end, in a temporary store: what a QA engineer sees.
set -euo pipefail
work="${1:-$(mktemp -d -t casstore-demo.XXXXXX)}"
root="$(cd "$(dirname "$0")/.." && pwd)"
casstore="$root/.venv/bin/casstore"
data="$root/testdata/out"
export CASSTORE_DIR="$work/store"
rm -rf "$work/store" "$work/export" "$work/export.zip" "$work/work" "$work/rescued"

run() { printf '\n$ %s\n' "casstore $*"; "$casstore" "$@"; }

run init "$CASSTORE_DIR"
run import "$data/demo_bundle.zip" -m "demo: first take, as mailed by the tester"
run import "$data/demo_bundle"
run import "$data/demo_bundle_rev2" -m "demo: verse edits, trimmed stab" --json
run log
run export demo-project~1 "$work/export"
printf '\n$ diff -r testdata/out/demo_bundle %s\n' "$work/export"
diff -r "$data/demo_bundle" "$work/export" && echo "(no differences: byte for byte)"
run export demo-project "$work/export.zip" --zip
run fsck
run diff demo-project~1 demo-project
run checkout demo-project "$work/work"
printf '\n$ %s\n' "sed -i 's/\"velocity\": 127/\"velocity\": 100/' work/patterns/verse.json   # an unsaved edit"
sed -i 's/"velocity": 127/"velocity": 100/' "$work/work/patterns/verse.json"
run autosave "$work/work" --mutation-id m42
run recover demo-project
run recover demo-project --restore latest --into "$work/rescued"
printf '\nstore: %s\n' "$CASSTORE_DIR"
