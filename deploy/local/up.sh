#!/usr/bin/env bash
# Runs mesh-router locally: etcd and two controllers on 127.0.0.1, the
# quickstart resources applied, the compiled table and status shown. Everything stays in the foreground; Ctrl-C (or SIGTERM)
# stops every process this script started and removes its data.
#
# Environment: ETCD_PORT (default 2379), ETCD_PEER_PORT (default 2380),
# CONTROLLER_PORTS (default "7300 7301").
set -euo pipefail
cd "$(dirname "$0")/../.."

ETCD_PORT=${ETCD_PORT:-2379}
ETCD_PEER_PORT=${ETCD_PEER_PORT:-2380}
CONTROLLER_PORTS=${CONTROLLER_PORTS:-7300 7301}
ETCD=http://127.0.0.1:$ETCD_PORT

scripts/install-deps
echo "up: building (release)..."
cargo build --release --locked --bins -q
BIN=$PWD/target/release

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# GET http://127.0.0.1:PORT/PATH with bash alone; prints the status line and body.
http_get() {
  exec 3<>"/dev/tcp/127.0.0.1/$1" || return 1
  printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$2" >&3
  cat <&3; exec 3<&-
}
for p in "$ETCD_PORT" "$ETCD_PEER_PORT" $CONTROLLER_PORTS; do
  if port_busy "$p"; then
    echo "up: port $p on 127.0.0.1 is already in use; set ETCD_PORT/ETCD_PEER_PORT/CONTROLLER_PORTS to free ports" >&2
    exit 1
  fi
done

RUN=$(mktemp -d /tmp/mesh-local.XXXXXX)
pids=()
cleanup() {
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$RUN"
  echo "up: stopped"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

etcd --name local --data-dir "$RUN/etcd" \
  --listen-client-urls "$ETCD" --advertise-client-urls "$ETCD" \
  --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster "local=http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster-state new --log-level warn >"$RUN/etcd.log" 2>&1 &
pids+=($!)

for _ in $(seq 1 100); do
  ETCDCTL_API=3 etcdctl --endpoints "$ETCD" endpoint health >/dev/null 2>&1 && break
  sleep 0.1
done
ETCDCTL_API=3 etcdctl --endpoints "$ETCD" endpoint health >/dev/null 2>&1 || {
  echo "up: etcd did not become ready; its log:" >&2; cat "$RUN/etcd.log" >&2; exit 1; }
echo "up: etcd ready at $ETCD (data in $RUN)"

export MESH_ETCD=$ETCD
i=0
for port in $CONTROLLER_PORTS; do
  i=$((i + 1))
  RUST_LOG=${RUST_LOG:-info} "$BIN/mesh-controller" --listen "127.0.0.1:$port" --id "controller-$i" \
    >"$RUN/controller-$i.log" 2>&1 &
  pids+=($!)
done

"$BIN/meshctl" apply -f examples/quickstart.yaml
for port in $CONTROLLER_PORTS; do
  for _ in $(seq 1 100); do
    http_get "$port" /ready 2>/dev/null | head -1 | grep -q ' 200 ' && break
    sleep 0.1
  done
  echo "up: controller on 127.0.0.1:$port: $(http_get "$port" /ready 2>/dev/null | tail -1)"
done
echo
"$BIN/meshctl" get services
echo
"$BIN/meshctl" get endpoints
echo
"$BIN/meshctl" get routes
echo
"$BIN/meshctl" status
echo
first=${CONTROLLER_PORTS%% *}
echo "up: compiled table: http://127.0.0.1:$first/v1/table; metrics: http://127.0.0.1:$first/metrics"
echo "up: logs in $RUN"
echo "up: try: MESH_ETCD=$ETCD $BIN/meshctl get route demo -o yaml"
echo "up: running; Ctrl-C stops it"
wait "${pids[0]}"
