#!/usr/bin/env bash
# Instructions (valgrind callgrind, whole process) of each bench phase for one checkout with its
# own .venv: a count that a busy machine does not change, for before/after comparisons.
# Usage: bench/instructions.sh CHECKOUT [PRESET]   (needs valgrind; writes under $TMPDIR)
set -euo pipefail
v="$(cd "$1" && pwd)"; preset="${2:-medium}"
here="$(cd "$(dirname "$0")" && pwd)"
scratch="${TMPDIR:-/tmp}/casstore-instructions-$preset"
if [ ! -d "$scratch/w/rev2" ]; then
    mkdir -p "$scratch"
    "$v/.venv/bin/python" -c "import sys; sys.path.insert(0, '$here'); from workload import write_workload; \
from pathlib import Path; write_workload(Path('$scratch/w'), '$preset')"
fi
n="$(echo "$v" | tr / _)"; s="$scratch/store$n"; out="$scratch/out$n"; work="$scratch/work$n"; co="$scratch/co$n"
rm -rf "$s" "$out" "$work" "$co"
vg() {
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$v/.venv/bin/python" "$v/.venv/bin/casstore" \
        --store "$s" "$@" 2>&1 >/dev/null | grep -o 'Collected : [0-9]*' | grep -o '[0-9]*'
}
"$v/.venv/bin/casstore" --store "$s" init >/dev/null
echo "store rev1|$(vg import "$scratch/w/rev1" -m rev1)"
echo "store rev2|$(vg import "$scratch/w/rev2" -m rev2)"
echo "full check|$(vg fsck)"
project="$(ls "$s/refs" | head -1)"
echo "restore rev1|$(vg export "$project~1" "$out")"
echo "no-op|$(vg refs)"
cp -a "$scratch/w/rev1" "$work"
"$v/.venv/bin/casstore" --store "$s" autosave "$work" --project "$project" >/dev/null
find "$work" -exec touch -d '1 minute ago' {} +  # out of the stat cache's racy window
"$v/.venv/bin/casstore" --store "$s" autosave "$work" --project "$project" >/dev/null
echo "autosave unchanged|$(vg autosave "$work" --project "$project")"
"$v/.venv/bin/casstore" --store "$s" checkout "$project~1" "$co" >/dev/null
find "$co" -not -name .casstore-checkout.json -exec touch -d '1 minute ago' {} +
"$v/.venv/bin/casstore" --store "$s" status "$co" >/dev/null
echo "status unchanged|$(vg status "$co")"
