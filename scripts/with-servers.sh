#!/usr/bin/env bash
# with-servers.sh CMD [ARGS...]
#
# Runs CMD with dynalite and local-kms serving on loopback, the SDK's
# endpoint variables, a region and dummy credentials exported, then stops the
# servers and exits with CMD's status. Run scripts/tools.sh first.
#
# As root, everything runs in a private network namespace: local-kms has no
# host flag and listens on all interfaces, and inside the namespace the only
# interface is loopback. Go must not need the network in there, so download
# modules first (the Makefile does).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tools="$root/.tools"

if [ "$(id -u)" = 0 ] && [ -z "${DYNACRYPT_IN_NETNS:-}" ] && command -v ip >/dev/null && unshare --net true 2>/dev/null; then
  DYNACRYPT_IN_NETNS=1 exec unshare --net -- "$0" "$@"
fi
if [ -n "${DYNACRYPT_IN_NETNS:-}" ]; then
  ip link set lo up
  # No registry is reachable in here: fail fast rather than hang.
  export GOPROXY=off GOTOOLCHAIN=local
else
  echo "with-servers: not root or no network namespaces: local-kms will listen on all interfaces" >&2
fi

free_port() {
  local p
  for _ in $(seq 1 100); do
    p=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return
    fi
  done
  echo "with-servers: no free port found" >&2
  return 1
}

wait_port() { # port name logfile
  for _ in $(seq 1 200); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
      return 0
    fi
    sleep 0.05
  done
  echo "with-servers: $2 did not start; its log:" >&2
  cat "$3" >&2
  return 1
}

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

ddb_port=$(free_port)
node --require "$root/scripts/dynalite-guard.js" "$tools/dynalite/node_modules/dynalite/cli.js" --host 127.0.0.1 --port "$ddb_port" \
  --createTableMs 0 --deleteTableMs 0 --updateTableMs 0 >"$work/dynalite.log" 2>&1 &
pids+=($!)

kms_port=$(free_port)
mkdir -p "$work/kms"
PORT=$kms_port KMS_REGION=us-east-1 KMS_ACCOUNT_ID=111122223333 KMS_DATA_PATH="$work/kms" \
  KMS_SEED_PATH="$root/scripts/kms-seed.yaml" "$tools/bin/local-kms" >"$work/local-kms.log" 2>&1 &
pids+=($!)

wait_port "$ddb_port" dynalite "$work/dynalite.log"
wait_port "$kms_port" local-kms "$work/local-kms.log"

export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$ddb_port"
export AWS_ENDPOINT_URL_KMS="http://127.0.0.1:$kms_port"
export AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=dynacrypt-local AWS_SECRET_ACCESS_KEY=dynacrypt-local
export AWS_EC2_METADATA_DISABLED=true
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL

set +e
"$@"
rc=$?
set -e
# A server that died mid-run explains many failures at once: say so.
for name in dynalite local-kms; do
  i=0; [ "$name" = local-kms ] && i=1
  if ! kill -0 "${pids[$i]}" 2>/dev/null; then
    echo "with-servers: $name exited during the run; the end of its log:" >&2
    tail -n 40 "$work/$name.log" >&2
    [ "$rc" -ne 0 ] || rc=1
  fi
done
exit "$rc"
