#!/usr/bin/env bash
# The main job, end to end, in a temporary store: what a QA engineer sees.
set -euo pipefail
work="${1:-$(mktemp -d)}"
root="$(cd "$(dirname "$0")/.." && pwd)"
casstore="$root/.venv/bin/casstore"
data="$root/testdata/out"
export CASSTORE_DIR="$work/store"
rm -rf "$work/store" "$work/export" "$work/export.zip"

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
printf '\nstore: %s\n' "$CASSTORE_DIR"
