#!/usr/bin/env bash
# Restore (export of rev1) against git's read-tree + checkout-index, alternating in one loop, on
# one medium workload: median wall and CPU (user + system) seconds of each. Every run writes a
# new directory and none is deleted until the end: on a file system without a journal, files
# created within a minute of a delete make the inode allocator skip the deleted inodes.
# Usage: bench/restore_vs_git.sh RUNS [CASSTORE...]   (default: this checkout's .venv/bin/casstore;
# another checkout's, e.g. bench/compare.sh's /tmp/casstore-bench-baseline/.venv/bin/casstore)
set -euo pipefail
runs="${1:-7}"; shift || true
here="$(cd "$(dirname "$0")" && pwd)"
tools=("$@"); [ ${#tools[@]} -gt 0 ] || tools=("$here/../.venv/bin/casstore")
scratch="$(mktemp -d "${TMPDIR:-/tmp}/restore-vs-git-XXXXXX")"
trap 'rm -rf "$scratch"' EXIT
"$here/../.venv/bin/python" "$here/workload.py" medium "$scratch/w" >/dev/null
"${tools[0]}" --store "$scratch/store" init >/dev/null
for rev in rev1 rev2; do "${tools[0]}" --store "$scratch/store" import "$scratch/w/$rev" -m "$rev" >/dev/null; done
repo="$scratch/repo.git"; git init -q --bare --object-format=sha256 "$repo"
for rev in rev1 rev2; do
    GIT_AUTHOR_NAME=b GIT_AUTHOR_EMAIL=b@b GIT_COMMITTER_NAME=b GIT_COMMITTER_EMAIL=b@b \
        sh -c "git --git-dir=$repo --work-tree=$scratch/w/$rev add -A && git --git-dir=$repo --work-tree=$scratch/w/$rev commit -qm $rev"
done
# Byte-compiled, as bench/run.py runs it (PYTHONDONTWRITEBYTECODE would recompile every run).
for tool in "${tools[@]}"; do
    checkout="$(cd "$(dirname "$tool")/../.." && pwd)"
    "$(dirname "$tool")/python" -m compileall -q "$checkout/casstore" "$checkout/porcelain" 2>/dev/null || true
done
declare -A wall cpu
for i in $(seq "$runs"); do
    for n in $(seq 0 ${#tools[@]}); do
        out="$scratch/out-$n-$i"
        if [ "$n" -lt ${#tools[@]} ]; then
            cmd=("${tools[$n]}" --store "$scratch/store" export bench-medium~1 "$out")
        else
            idx="$scratch/idx-$i"
            cmd=(sh -c "GIT_INDEX_FILE=$idx git --git-dir=$repo read-tree HEAD~1 && mkdir -p $out && GIT_INDEX_FILE=$idx git --git-dir=$repo --work-tree=$out checkout-index -a")
        fi
        read -r w u s < <({ /usr/bin/time -f "%e %U %S" "${cmd[@]}" >/dev/null; } 2>&1 | tail -1)
        wall[$n]+="$w "; cpu[$n]+="$(echo "$u $s" | awk '{print $1 + $2}') "
        diff -r -q "$scratch/w/rev1" "$out" >/dev/null
    done
done
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
for n in $(seq 0 ${#tools[@]}); do
    name="git checkout-index"; [ "$n" -lt ${#tools[@]} ] && name="${tools[$n]}"
    echo "$name: wall median $(echo "${wall[$n]}" | median) s ($(echo "${wall[$n]}")), CPU median $(echo "${cpu[$n]}" | median) s"
done
