#!/usr/bin/env bash
# bench-wrk.sh — load-test a running stack with wrk at N versions.
#
# Starts the dev stack (a CNCF distribution registry with its own all-in-one pipeline) as the
# registry, fills it with N versions from cmd/loadgen, then starts a fresh all-in-one API
# (cmd/api -feature-oci-indexer) against that registry and reports:
#   - its cold sync (empty state → every version served),
#   - its restart from its own bbolt (process start → /health?ready=true),
#   - its RSS once loaded and warm, and that of a plain API replica following its NATS,
#   - wrk -t2 -c32 -d10s on each route, and on a static server that only writes the bytes of
#     /search?all=true (the ceiling), with our ratio to it.
#
# Usage: scripts/bench-wrk.sh [versions] [size-scale]     (defaults: 10000 0.05; DURATION=10s per wrk run)
# Needs go, wrk, curl, jq. Ports 5000 (registry), 8080 (devstack API), 8090 and 8091 (API under test and its metrics),
# 4223 (its NATS), 8092 and 8093 (the replica alone and its metrics) and 8099 (static server) must be free. Nothing here runs in CI.
set -euo pipefail

N=${1:-10000}
SCALE=${2:-0.05}
DURATION=${DURATION:-10s}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

cd "$ROOT"
go build -o "$WORK/devstack" ./cmd/devstack
go build -o "$WORK/api" ./cmd/api
go build -o "$WORK/loadgen" ./cmd/loadgen
cat > "$WORK/static.go" <<'GO'
package main

import (
	"net/http"
	"os"
	"strconv"
)

func main() {
	body, err := os.ReadFile(os.Args[1])
	if err != nil {
		panic(err)
	}
	n := strconv.Itoa(len(body))
	http.ListenAndServe(os.Args[2], http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", n)
		w.Write(body)
	}))
}
GO
(cd "$WORK" && go build -o static static.go)

wait_http() { # url seconds
  local deadline=$((SECONDS + $2))
  until curl -fsS -o /dev/null "$1" 2>/dev/null; do
    if ((SECONDS > deadline)); then echo "timed out waiting for $1" >&2; exit 1; fi
    sleep 0.05
  done
}
# Versions served: every search item has one "download" key. Cheaper than parsing the body,
# which at 10,000 versions would take CPU from what is being timed.
count() { curl -fsS "$1/search?all=true&prerelease=true" | grep -o '"download"' | wc -l; }
# The API under test reports it in a gauge, cheaper still.
indexed() { curl -fsS "$1/metrics" | awk '/^epr_number_indexed_packages / {print $2}'; }
wait_until() { # what want seconds command...
  local what=$1 want=$2 deadline=$((SECONDS + $3)); shift 3
  until [[ "$("$@" 2>/dev/null || echo 0)" == "$want" ]]; do
    if ((SECONDS > deadline)); then echo "timed out: $what at $("$@") of $want" >&2; exit 1; fi
    sleep 0.1
  done
}
now() { date +%s.%N; }
# start_api LOG ARGS...: cmd/api in the background, appending to $WORK/LOG; its pid in STARTED.
start_api() {
  local log=$1; shift
  # No registry notifies it, but its webhook routes still need a token to start.
  EPR_WEBHOOK_TOKEN=bench-unused "$WORK/api" "$@" -log-level warn >>"$WORK/$log" 2>&1 &
  STARTED=$!
  PIDS+=("$STARTED")
}
since() { echo "$(now) - $1" | bc; }

for port in 4223 5000 8080 8090 8091 8092 8093 8099; do # never fill or measure someone else's server
  if (: <"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then echo "port $port is in use" >&2; exit 1; fi
done
"$WORK/devstack" -samples=false -data-dir "$WORK/devstack-data" -address 127.0.0.1:8080 -registry-address 127.0.0.1:5000 >"$WORK/devstack.log" 2>&1 &
PIDS+=($!)
wait_http http://127.0.0.1:5000/v2/ 60

t=$(now)
"$WORK/loadgen" -oci-registry http://127.0.0.1:5000 -versions "$N" -size-scale "$SCALE" -log-level warn
echo "loadgen: $N versions pushed in $(since "$t") s"
wait_until "dev stack" "$N" 1800 count http://127.0.0.1:8080 # the dev stack's own pipeline, so it is idle from here on
echo "dev stack: all $N indexed $(since "$t") s after the first push"

# The API under test: a fresh all-in-one whose start-up resync finds everything (no
# notifications are configured towards it).
API=http://127.0.0.1:8090
t=$(now)
start_api api.log -feature-oci-indexer -oci-registry http://127.0.0.1:5000 -address 127.0.0.1:8090 -metrics-address 127.0.0.1:8091 -data-dir "$WORK/api-data"
APIPID=$STARTED
wait_http "$API/health" 60
wait_until "cold sync" "$N" 1800 indexed http://127.0.0.1:8091
COLD=$(since "$t")
echo "cold sync of $N versions: $COLD s"

kill "$APIPID"; wait "$APIPID" 2>/dev/null || true
t=$(now)
start_api api.log -feature-oci-indexer -oci-registry http://127.0.0.1:5000 -address 127.0.0.1:8090 -metrics-address 127.0.0.1:8091 -data-dir "$WORK/api-data" -embedded-nats-address 127.0.0.1:4223
APIPID=$STARTED
wait_http "$API/health?ready=true" 120
RESTART=$(since "$t")
echo "restart from bbolt to ready: $RESTART s ($(count "$API") versions served)"
# Let the start-up resync (tag listings only, nothing downloaded) finish before measuring: it
# reconciles every repository once, and loadgen writes four versions per repository.
reconciled() { curl -fsS "$1/metrics" | awk '/^epr_storage_indexer_update_index_success_total / {print ($2 >= '"$(((N + 3) / 4))"') ? "done" : "no"}'; }
t=$(now)
wait_until "start-up resync" done 1800 reconciled http://127.0.0.1:8091
echo "start-up resync after the restart: $(since "$t") s more"

# An API replica alone (what a deployment scales out): plain cmd/api following the all-in-one's
# NATS, from an empty bbolt. Its RSS is the replica's cost without the indexer and NATS beside it.
REPLICA=http://127.0.0.1:8092
t=$(now)
start_api replica.log -nats-url nats://127.0.0.1:4223 -oci-registry http://127.0.0.1:5000 -address 127.0.0.1:8092 -metrics-address 127.0.0.1:8093 -data-dir "$WORK/replica-data"
REPLICAPID=$STARTED
wait_http "$REPLICA/health" 60
wait_until "replica catch-up" "$N" 600 indexed http://127.0.0.1:8093
CATCHUP=$(since "$t")
echo "API replica from an empty bbolt: $N versions in $CATCHUP s"

P=$(curl -fsS "$API/search" | jq -r ".[$((N / 8))] | .name + \"/\" + .version")
NAME=${P%/*}; VER=${P#*/}
ROUTES=(
  "/search?all=true"
  "/search"
  "/search?package=$NAME"
  "/categories"
  "/package/$NAME/$VER/"
  "/epr/$NAME/$NAME-$VER.zip"
  "/package/$NAME/$VER/manifest.yml"
)
for r in "${ROUTES[@]}"; do curl -fsS -o /dev/null "$API$r"; done # warm caches and the blob cache
curl -fsS -o "$WORK/all.json" "$API/search?all=true"
"$WORK/static" "$WORK/all.json" 127.0.0.1:8099 &
PIDS+=($!)
wait_http http://127.0.0.1:8099/ 10

rps() { wrk -t2 -c32 -d"$DURATION" "$1" | awk '/Requests\/sec/ {print $2}'; }
printf '\n%-44s %12s %14s\n' "route (N=$N, size-scale $SCALE)" "req/s" "body bytes"
for r in "${ROUTES[@]}"; do
  bytes=$(curl -fsS "$API$r" | wc -c)
  printf '%-44s %12s %14s\n' "$r" "$(rps "$API$r")" "$bytes"
done
STATIC=$(rps http://127.0.0.1:8099/)
OURS=$(rps "$API/search?all=true")
printf '%-44s %12s %14s\n' "static bytes of /search?all=true" "$STATIC" "$(wc -c <"$WORK/all.json")"
printf '%-44s %12s\n' "/search?all=true ÷ static (again)" "$(echo "scale=2; $OURS / $STATIC" | bc)"
printf '%-44s %12s\n' "RSS of the all-in-one (MB)" "$(awk '/VmRSS/ {printf "%.0f", $2/1024}' /proc/$APIPID/status)"
for r in "${ROUTES[@]}"; do curl -fsS -o /dev/null "$REPLICA$r"; done
wrk -t2 -c32 -d"$DURATION" "$REPLICA/search?all=true" >/dev/null # the replica's working set under load
printf '%-44s %12s\n' "/package/… on the replica alone (req/s)" "$(rps "$REPLICA/package/$NAME/$VER/")"
printf '%-44s %12s\n' "RSS of the API replica alone (MB)" "$(awk '/VmRSS/ {printf "%.0f", $2/1024}' /proc/$REPLICAPID/status)"
printf '%-44s %12s\n' "replica catch-up from empty bbolt (s)" "$CATCHUP"
printf '%-44s %12s\n' "cold sync (s)" "$COLD"
printf '%-44s %12s\n' "restart from bbolt to ready (s)" "$RESTART"
