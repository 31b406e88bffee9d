#!/usr/bin/env bash
# Real screenshots of the real viewer on the demo store, at 1280x800, 1024x600 and 800x1280:
# docs/images/viewer-{recovery,changes,samples}-WxH.png. The viewer shoots only once its work is
# done and frames have drawn it, and fails (so this script fails) if every frame stays black.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$root/docs/images"
export KIVY_NO_ARGS=1 KIVY_HOME="$work/kivy" KIVY_NO_CONSOLELOG=1 KIVY_NO_FILELOG=1 XDG_CONFIG_HOME="$work/config"
"$root/.venv/bin/python" "$root/testdata/make_viewer_store.py" "$work/store" "$work/work" >/dev/null
viewer=("$root/.venv/bin/casstore-viewer" --store "$work/store" --workdir "$work/work"
        --sampler-manifest "$root/testdata/out/sampler_s3_manifest.json")
run() { if [ -n "${DISPLAY:-}" ]; then "$@"; else xvfb-run -a -s "-screen 0 1280x1280x24" "$@"; fi; }
for size in 1280x800 1024x600 800x1280; do
    run "${viewer[@]}" --size "$size" --screenshot "$root/docs/images/viewer-recovery-$size.png"
    run "${viewer[@]}" --size "$size" --no-recovery --select 5 --tab changes \
        --screenshot "$root/docs/images/viewer-changes-$size.png"
    run "${viewer[@]}" --size "$size" --no-recovery --tab samples \
        --screenshot "$root/docs/images/viewer-samples-$size.png"
done
echo "wrote docs/images/viewer-{recovery,changes,samples}-{1280x800,1024x600,800x1280}.png"
