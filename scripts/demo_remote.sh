#!/usr/bin/env bash
# Push the demo project to a local SeaweedFS and clone it into another store, byte for byte.
# SeaweedFS binds 127.0.0.1 only, on free ports, telemetry off; it is stopped on exit.
set -euo pipefail
work="${1:-$(mktemp -d -t casstore-demo-remote.XXXXXX)}"
root="$(cd "$(dirname "$0")/.." && pwd)"
py="$root/.venv/bin/python"
casstore="$root/.venv/bin/casstore"
weed="$root/.venv/bin/weed"
data="$root/testdata/out"
rm -rf "$work/studio" "$work/laptop" "$work/seaweedfs" "$work/export-studio" "$work/export-laptop"
mkdir -p "$work/seaweedfs"

# Demo-only credentials: SeaweedFS makes its admin identity from them, obstore and boto3 read them.
export AWS_ACCESS_KEY_ID=casstore-demo-key AWS_SECRET_ACCESS_KEY=casstore-demo-secret
export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3 CASSTORE_DIR

# Every port `weed mini` opens is overridden with a free one, so nothing listens on a default port.
flags=(s3.port s3.port.grpc s3.port.iceberg s3.port.lance master.port master.port.grpc filer.port
       filer.port.grpc volume.port volume.port.grpc admin.port admin.port.grpc)
read -r -a ports <<<"$("$py" -c '
import socket
socks = [socket.socket() for _ in range(12)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
for s in socks:
    s.close()')"
args=()
for i in "${!flags[@]}"; do args+=("-${flags[$i]}=${ports[$i]}"); done
endpoint="http://127.0.0.1:${ports[0]}"

"$weed" mini -dir="$work/seaweedfs" -ip=127.0.0.1 -ip.bind=127.0.0.1 -master.telemetry=false \
    -admin.ui=false -webdav=false "${args[@]}" >"$work/seaweedfs/weed.log" 2>&1 &
weed_pid=$!
trap 'kill "$weed_pid" 2>/dev/null; wait "$weed_pid" 2>/dev/null || true' EXIT

# Create the bucket with boto3 (obstore cannot), retrying while the server starts (60 s at most).
"$py" - "$endpoint" <<'PY'
import sys, time
import boto3
client = boto3.client("s3", endpoint_url=sys.argv[1])
deadline = time.monotonic() + 60
while True:
    try:
        client.create_bucket(Bucket="casstore-demo")
        break
    except Exception as exc:  # not up yet
        if time.monotonic() > deadline:
            sys.exit(f"SeaweedFS did not start: {exc}")
        time.sleep(0.2)
print(f"SeaweedFS at {sys.argv[1]} (127.0.0.1 only), bucket casstore-demo")
PY

run() { printf '\n$ %s\n' "casstore $*"; "$casstore" "$@"; }

run init "$work/studio"
export CASSTORE_DIR="$work/studio"
run import "$data/demo_bundle" -m "demo: first take"
run import "$data/demo_bundle_rev2" -m "demo: verse edits, trimmed stab"
run remote add origin s3://casstore-demo/studio --endpoint "$endpoint"
run push
run ls-remote
unset CASSTORE_DIR
run clone s3://casstore-demo/studio "$work/laptop" --endpoint "$endpoint"
run --store "$work/laptop" log
run --store "$work/studio" export demo-project "$work/export-studio"
run --store "$work/laptop" export demo-project "$work/export-laptop"
printf '\n$ diff -r export-studio export-laptop\n'
diff -r "$work/export-studio" "$work/export-laptop" && echo "(no differences: byte for byte)"
run --store "$work/laptop" fsck
# What CI runs against the shared bucket: every pack and object checked in place.
run --store "$work/laptop" fsck --remote origin
printf '\nstores: %s/studio (pushed) and %s/laptop (cloned)\n' "$work" "$work"
