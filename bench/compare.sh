#!/usr/bin/env bash
# Time this checkout against an earlier commit in one run: a worktree of BASE with its own venv.
set -euo pipefail
base_rev="$1" preset="${2:-medium}" runs="${3:-3}"
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="${BENCH_BASE_DIR:-/tmp/casstore-bench-baseline}"
commit="$(git -C "$root" rev-parse "$base_rev")"
if [ ! -d "$dir" ] || [ "$(git -C "$dir" rev-parse HEAD 2>/dev/null)" != "$commit" ]; then
    git -C "$root" worktree remove --force "$dir" 2>/dev/null || rm -rf "$dir"
    git -C "$root" worktree add --detach "$dir" "$commit" >/dev/null
    python3 -m venv "$dir/.venv"
    "$dir/.venv/bin/pip" install --quiet -e "$dir"
fi
bash "$root/bench/setup.sh"
"$root/.venv/bin/python" "$root/bench/run.py" --preset "$preset" --runs "$runs" --baseline "$dir"
