#!/usr/bin/env bash
# Runs the whole mesh locally, everything on 127.0.0.1, and shows traffic
# flowing through it:
#
#   etcd; three instances of the demo service (`mesh-demo`, deploy/demo):
#   demo-1 and demo-2 of Service demo-v1 (version v1), demo-3 of Service
#   demo-v2 (version v2); two controllers; examples/quickstart.yaml applied;
#   two routers, each with its own state dir. Then: sample requests through
#   both routers, the canary split observed over 200 requests, a request
#   with `x-canary: true`, the implicit service route (Host demo-v1.mesh),
#   where /metrics are, and `meshctl status`.
#
# It installs what is missing (scripts/install-deps), builds in release mode,
# and stays in the foreground; Ctrl-C (or SIGTERM, SIGHUP) stops every process
# it started (routers, controllers and demo instances first, etcd last) and
# removes its data and logs. The processes run in sessions of their own, so
# that Ctrl-C reaches this script alone and it stops them in that order.
#
# Environment (ports on 127.0.0.1, each checked free before anything starts):
#   ETCD_PORT (2379), ETCD_PEER_PORT (2380), CONTROLLER_PORTS ("7300 7301"),
#   ROUTER_PORTS ("8080 8081"), ROUTER_ADMIN_PORTS ("9901 9902"),
#   DEMO_PORTS ("9001 9002 9003": demo-1, demo-2, demo-3; other ports than
#   the quickstart's are registered over its Endpoints),
#   UP_WAIT (30: seconds to wait for each part to become ready),
#   RUST_LOG (info: the log level of the mesh processes).
set -euo pipefail
cd "$(dirname "$0")/../.."

ETCD_PORT=${ETCD_PORT:-2379}
ETCD_PEER_PORT=${ETCD_PEER_PORT:-2380}
CONTROLLER_PORTS=${CONTROLLER_PORTS:-7300 7301}
ROUTER_PORTS=${ROUTER_PORTS:-8080 8081}
ROUTER_ADMIN_PORTS=${ROUTER_ADMIN_PORTS:-9901 9902}
DEMO_PORTS=${DEMO_PORTS:-9001 9002 9003}
UP_WAIT=${UP_WAIT:-30}
ETCD=http://127.0.0.1:$ETCD_PORT
HOST=demo.example.com

read -ra controller_ports <<<"$CONTROLLER_PORTS"
read -ra router_ports <<<"$ROUTER_PORTS"
read -ra admin_ports <<<"$ROUTER_ADMIN_PORTS"
read -ra demo_ports <<<"$DEMO_PORTS"
die() { echo "up: $*" >&2; exit 1; }
((${#controller_ports[@]} >= 1)) || die "CONTROLLER_PORTS is empty"
((${#router_ports[@]} == 2 && ${#admin_ports[@]} == 2)) ||
  die "ROUTER_PORTS and ROUTER_ADMIN_PORTS need two ports each"
((${#demo_ports[@]} == 3)) || die "DEMO_PORTS needs three ports (demo-1 demo-2 demo-3)"

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
all_ports=("$ETCD_PORT" "$ETCD_PEER_PORT" "${controller_ports[@]}" "${router_ports[@]}"
  "${admin_ports[@]}" "${demo_ports[@]}")
[ "$(printf '%s\n' "${all_ports[@]}" | sort | uniq -d)" = "" ] ||
  die "a port is given twice: ${all_ports[*]}"
for p in "${all_ports[@]}"; do
  port_busy "$p" && die "port $p on 127.0.0.1 is already in use; choose others with" \
    "ETCD_PORT ETCD_PEER_PORT CONTROLLER_PORTS ROUTER_PORTS ROUTER_ADMIN_PORTS DEMO_PORTS"
done

scripts/install-deps
echo "up: building (release; the first build takes several minutes)..."
cargo build --release --locked --bins -q
BIN=$PWD/target/release

# --- HTTP with bash alone (no curl needed) ----------------------------------

# request PORT HOST PATH [HEADER]...: one GET to 127.0.0.1:PORT over a fresh
# connection; sets STATUS (0 when there was no answer), HEADERS (one
# "name: value" a line, names lowercased) and BODY. Each read waits 5s at most.
request() {
  local port=$1 host=$2 path=$3 line rc h
  shift 3
  STATUS=0 HEADERS="" BODY=""
  { exec 3<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null || return 1
  {
    printf 'GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: mesh-up\r\nConnection: close\r\n' "$path" "$host"
    for h in "$@"; do printf '%s\r\n' "$h"; done
    printf '\r\n'
  } >&3 2>/dev/null || { exec 3<&-; return 1; }
  if IFS= read -r -t 5 line <&3; then
    line=${line%$'\r'} && line=${line#* } && STATUS=${line%% *}
    while IFS= read -r -t 5 line <&3; do
      line=${line%$'\r'}
      [ -n "$line" ] || break
      h=${line%%:*} && HEADERS+="${h,,}: ${line#*: }"$'\n'
    done
    while :; do
      rc=0 && IFS= read -r -t 5 line <&3 || rc=$?
      [ -z "$line" ] && ((rc != 0)) || BODY+="$line"$'\n'
      ((rc == 0)) || break
    done
  fi
  exec 3<&-
  [[ $STATUS =~ ^[0-9]+$ ]] || STATUS=0
}
# header NAME: that header of the last answer (first one), or nothing.
header() {
  local line
  while IFS= read -r line; do
    [ "${line%%: *}" = "$1" ] && { printf '%s' "${line#*: }"; return 0; }
  done <<<"$HEADERS"
}
# field NAME: a string field of the last answer's JSON body, or nothing.
field() {
  [[ $BODY =~ \"$1\":\"([^\"]*)\" ]] && printf '%s' "${BASH_REMATCH[1]}"
  return 0
}
# until_ok WHAT LOG CMD...: runs CMD every 0.1s until it succeeds, at most
# UP_WAIT seconds; otherwise shows the end of LOG and exits.
until_ok() {
  local what=$1 log=$2 deadline=$((SECONDS + UP_WAIT))
  shift 2
  until "$@"; do
    if ((SECONDS >= deadline)); then
      echo "up: $what is not ready after ${UP_WAIT}s (UP_WAIT)" >&2
      [ -z "$log" ] || { echo "up: the end of $log:" >&2; tail -n 20 "$log" >&2; }
      exit 1
    fi
    sleep 0.1
  done
}
answers() { # answers PORT HOST PATH STATUS [HEADER]...
  local port=$1 host=$2 path=$3 want=$4
  shift 4
  request "$port" "$host" "$path" "$@" && [ "$STATUS" = "$want" ]
}

# --- processes ----------------------------------------------------------------

RUN=$(mktemp -d /tmp/mesh-local.XXXXXX)
pids=()
names=()
# start NAME CMD...: starts CMD in the background in a session of its own
# (setsid, which keeps the pid), output to $RUN/NAME.log.
start() {
  local name=$1
  shift
  RUST_LOG=${RUST_LOG:-info} setsid "$@" >"$RUN/$name.log" 2>&1 </dev/null &
  pids+=($!)
  names+=("$name")
}
# stop INDEX...: SIGINT to those processes (routers stop at once rather than
# drain), then waits for them; SIGKILL for any still running after 10s.
stop() {
  local i left deadline=$((SECONDS + 10))
  for i in "$@"; do kill -INT "${pids[i]}" 2>/dev/null || true; done
  while :; do
    left=()
    for i in "$@"; do kill -0 "${pids[i]}" 2>/dev/null && left+=("$i"); done
    ((${#left[@]})) || break
    if ((SECONDS >= deadline)); then
      for i in "${left[@]}"; do
        echo "up: ${names[i]} still running 10s after SIGINT: killing it" >&2
        kill -KILL "${pids[i]}" 2>/dev/null || true
      done
      break
    fi
    sleep 0.1
  done
  for i in "$@"; do wait "${pids[i]}" 2>/dev/null || true; done
}
cleanup() {
  local rc=$? i
  trap '' INT TERM HUP
  trap - EXIT
  if ((${#pids[@]})); then
    echo "up: stopping..."
    # Everything but etcd (pids[0]), newest first; then etcd.
    stop $(for ((i = ${#pids[@]} - 1; i >= 1; i--)); do echo "$i"; done)
    stop 0
  fi
  rm -rf "$RUN"
  echo "up: stopped ${#pids[@]} processes"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

start etcd etcd --name local --data-dir "$RUN/etcd" \
  --listen-client-urls "$ETCD" --advertise-client-urls "$ETCD" \
  --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster "local=http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster-state new --log-level warn
etcd_healthy() { ETCDCTL_API=3 etcdctl --endpoints "$ETCD" endpoint health >/dev/null 2>&1; }
until_ok "etcd" "$RUN/etcd.log" etcd_healthy
echo "up: etcd ready at $ETCD"

demo_services=(demo-v1 demo-v1 demo-v2)
demo_versions=(v1 v1 v2)
for i in 0 1 2; do
  start "demo-$((i + 1))" "$BIN/mesh-demo" --listen "127.0.0.1:${demo_ports[i]}" \
    --service "${demo_services[i]}" --instance "demo-$((i + 1))" --version "${demo_versions[i]}"
done
for i in 0 1 2; do
  until_ok "demo-$((i + 1))" "$RUN/demo-$((i + 1)).log" answers "${demo_ports[i]}" 127.0.0.1 /healthz 200
  echo "up: demo-$((i + 1)) (${demo_services[i]}, version ${demo_versions[i]}) at 127.0.0.1:${demo_ports[i]}"
done

export MESH_ETCD=$ETCD
controllers=()
for i in "${!controller_ports[@]}"; do
  start "controller-$((i + 1))" "$BIN/mesh-controller" \
    --listen "127.0.0.1:${controller_ports[i]}" --id "controller-$((i + 1))"
  controllers+=("http://127.0.0.1:${controller_ports[i]}")
done

echo
"$BIN/meshctl" apply -f examples/quickstart.yaml
if [ "$DEMO_PORTS" != "9001 9002 9003" ]; then
  echo "up: DEMO_PORTS is $DEMO_PORTS: registering the demo endpoints there"
  zones=(a b a)
  for i in 0 1 2; do
    printf -- '---\nkind: Endpoint\nname: demo-%s\nspec: { service: %s, address: 127.0.0.1, port: %s, weight: 1, zone: %s, labels: { version: %s } }\n' \
      "$((i + 1))" "${demo_services[i]}" "${demo_ports[i]}" "${zones[i]}" "${demo_versions[i]}"
  done | "$BIN/meshctl" apply -f -
fi
echo
for i in "${!controller_ports[@]}"; do
  until_ok "controller-$((i + 1))" "$RUN/controller-$((i + 1)).log" \
    answers "${controller_ports[i]}" 127.0.0.1 /ready 200
  echo "up: controller-$((i + 1)) ready at ${controllers[i]}"
done

for i in 0 1; do
  mkdir -p "$RUN/router-$((i + 1))"
  start "router-$((i + 1))" "$BIN/mesh-router" --controllers "$(IFS=,; echo "${controllers[*]}")" \
    --listen "127.0.0.1:${router_ports[i]}" --admin "127.0.0.1:${admin_ports[i]}" \
    --state-dir "$RUN/router-$((i + 1))" --id "router-$((i + 1))"
done
for i in 0 1; do
  until_ok "router-$((i + 1)) (admin /ready)" "$RUN/router-$((i + 1)).log" \
    answers "${admin_ports[i]}" 127.0.0.1 /ready 200
  until_ok "router-$((i + 1)) (a request for $HOST)" "$RUN/router-$((i + 1)).log" \
    answers "${router_ports[i]}" "$HOST" / 200
  echo "up: router-$((i + 1)) ready at 127.0.0.1:${router_ports[i]} (admin 127.0.0.1:${admin_ports[i]})"
done

# --- traffic ------------------------------------------------------------------

r1=${router_ports[0]} r2=${router_ports[1]}
# show PORT HOST PATH [HEADER]...: one request and what answered it.
show() {
  local port=$1 host=$2 path=$3 extra=""
  shift 3
  request "$port" "$host" "$path" "$@" || true
  (($#)) && extra=" ($*)"
  if [ -n "$(header x-demo-instance)" ]; then
    printf '  router :%s  GET %-14s Host: %-19s -> %s %s/%s version %s%s\n' "$port" "$path" "$host" \
      "$STATUS" "$(field service)" "$(header x-demo-instance)" "$(header x-demo-version)" "$extra"
  else
    printf '  router :%s  GET %-14s Host: %-19s -> %s %s%s\n' "$port" "$path" "$host" \
      "$STATUS" "${BODY%$'\n'}" "$extra"
  fi
}
# metrics PORT REGEX: the lines of http://127.0.0.1:PORT/metrics matching
# REGEX whose value is not 0.
metrics() {
  request "$1" 127.0.0.1 /metrics || true
  grep -E "^($2)[{ ]" <<<"$BODY" | grep -v ' 0$' | sed 's/^/      /' || true
}

echo
echo "== sample requests through both routers (Host: $HOST, the Route 'demo')"
for port in "$r1" "$r2" "$r1" "$r2"; do show "$port" "$HOST" /hello?n=1; done
echo "   one answer in full: the demo instance echoes what it received from the router"
request "$r1" "$HOST" "/orders/42?verbose=1" "x-request-id: up-demo-1" || true
echo "  $BODY"

echo "== canary split over 200 requests (100 through each router; the Route says 90/10)"
declare -A by_version=() by_instance=()
for n in $(seq 1 100); do
  for port in "$r1" "$r2"; do
    request "$port" "$HOST" "/split?n=$n" || true
    if [ "$STATUS" = 200 ]; then
      v=$(header x-demo-version) && inst=$(header x-demo-instance)
      by_version[${v:-?}]=$((${by_version[${v:-?}]:-0} + 1))
      by_instance[${inst:-?}]=$((${by_instance[${inst:-?}]:-0} + 1))
    else
      by_version["status $STATUS"]=$((${by_version["status $STATUS"]:-0} + 1))
    fi
  done
done
while IFS= read -r v; do
  printf '  %-10s %3d\n' "$v" "${by_version[$v]}"
done < <(printf '%s\n' "${!by_version[@]}" | sort)
while IFS= read -r inst; do
  printf '    %-8s %3d\n' "$inst" "${by_instance[$inst]}"
done < <(printf '%s\n' "${!by_instance[@]}" | sort)

echo "== x-canary: true always reaches v2 (the Route's first rule)"
for port in "$r1" "$r2"; do show "$port" "$HOST" / "x-canary: true"; done
echo "  x-mesh-route: $(header x-mesh-route) (set by the rule's ResponseHeaderModifier)"

echo "== every Service is reachable without a Route, as Host <name>.mesh or <name>"
show "$r1" demo-v1.mesh /
show "$r2" demo-v1.mesh /
show "$r1" demo-v2 /
echo "== and what no Route matches"
show "$r1" nowhere.example.com /
echo "  x-mesh-error: $(header x-mesh-error)"

echo
echo "== metrics (Prometheus text), with a few of their values now"
for i in "${!controllers[@]}"; do
  echo "  controller-$((i + 1)): ${controllers[i]}/metrics  (also /ready, /v1/table, /v1/fleet)"
  metrics "${controller_ports[i]}" 'mesh_controller_table_revision|mesh_controller_routers_connected'
done
for i in 0 1; do
  echo "  router-$((i + 1)):     http://127.0.0.1:${admin_ports[i]}/metrics  (also /ready, /table)"
  metrics "${admin_ports[i]}" 'mesh_router_table_revision|mesh_router_requests_total'
done

# The controllers write each router's status shortly after it reports.
for _ in $(seq 1 50); do
  out=$("$BIN/meshctl" status 2>/dev/null) || true
  [[ $out == *router-1* && $out == *router-2* ]] && break
  sleep 0.1
done
echo
echo "== meshctl status"
"$BIN/meshctl" status

echo
echo "up: try: curl -H 'Host: $HOST' http://127.0.0.1:$r1/hello"
echo "up:      curl -H 'Host: $HOST' -H 'x-canary: true' http://127.0.0.1:$r2/"
echo "up:      MESH_ETCD=$ETCD $BIN/meshctl get routes"
echo "up: logs and state in $RUN (removed on exit)"
echo "up: running; Ctrl-C stops it"
# Until Ctrl-C, or until one of the processes exits on its own.
rc=0
wait -n || rc=$?
for i in "${!pids[@]}"; do
  kill -0 "${pids[i]}" 2>/dev/null || {
    echo "up: ${names[i]} exited (status $rc); the end of its log:" >&2
    tail -n 20 "$RUN/${names[i]}.log" >&2
  }
done
exit 1
