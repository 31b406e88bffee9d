#!/usr/bin/env bash
# Write docs/images/viewer-recovery.png and viewer-history.png from the real viewer on the demo store.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$root/docs/images"
export KIVY_NO_ARGS=1 KIVY_HOME="$work/kivy" KIVY_NO_CONSOLELOG=1 KIVY_NO_FILELOG=1
"$root/.venv/bin/python" "$root/testdata/make_viewer_store.py" "$work/store" "$work/work"
viewer=("$root/.venv/bin/casstore-viewer" --store "$work/store" --workdir "$work/work"
        --sampler-manifest "$root/testdata/out/sampler_s3_manifest.json")
run() { if [ -n "${DISPLAY:-}" ]; then "$@"; else xvfb-run -a -s "-screen 0 1280x800x24" "$@"; fi; }
run "${viewer[@]}" --screenshot "$root/docs/images/viewer-recovery.png"
run "${viewer[@]}" --no-recovery --select 2 --screenshot "$root/docs/images/viewer-history.png"
echo "wrote docs/images/viewer-recovery.png and docs/images/viewer-history.png"
