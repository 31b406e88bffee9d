#!/usr/bin/env bash
# Install the tools the benchmark compares against, from Debian (run as root).
set -euo pipefail
need=()
for tool in git restic borg zstd; do command -v "$tool" >/dev/null || need+=("$tool")
done
[ -x /usr/bin/time ] || need+=(time)
if [ "${#need[@]}" -gt 0 ]; then
    pkgs=()
    for t in "${need[@]}"; do case "$t" in borg) pkgs+=(borgbackup) ;; *) pkgs+=("$t") ;; esac; done
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pkgs[@]}"
fi
