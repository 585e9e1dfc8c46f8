#!/usr/bin/env bash
# bench-wrk.sh — load-test a running stack with wrk at N versions.
#
# Starts the dev stack (a CNCF distribution registry with its own all-in-one pipeline) as the
# registry, fills it with N versions from cmd/loadgen, then starts a fresh all-in-one API
# (cmd/api -feature-oci-indexer) against that registry and reports:
#   - its cold sync (empty state → every version served),
#   - its restart from its own bbolt (process start → /health?ready=true),
#   - its RSS once loaded and warm,
#   - wrk -t2 -c32 -d10s on each route, and on a static server that only writes the bytes of
#     /search?all=true (the ceiling), with our ratio to it,
#   - a plain API replica following its NATS (what a deployment scales out): its catch-up, wrk on
#     every route plain and with Accept-Encoding: gzip (zstd too on /search?all=true), its CPU and
#     GC cycles meanwhile, bytes on the wire per coding, and then its RSS and where it goes
#     (anonymous memory and the Go heap, the bbolt file's mapped pages);
#   - the replica restarted from its bbolt and served gzip only (as by Kibanas), its memory again.
#
# BEFORE=<source tree> also builds cmd/api from that tree (e.g. `git archive main | tar -x -C DIR`)
# and runs it as a second replica beside the first, measured the same way right after it, route by
# route: a before/after pair under the same load. LIMIT=<size> runs the new replica once more with
# -memory-limit=<size>.
#
# KEEP=<dir> keeps the filled registry and the all-in-one's state in <dir>: a later run with the
# same KEEP, N and size-scale skips the push and the cold sync (50,000 versions take most of an
# hour to push and index on 2 cores). PROFILES=<dir> starts the new replicas with -httpprof and
# writes their heap profiles and `go tool pprof -top` of them there. PORT_OFFSET=<n> moves every
# port below by n, so two runs can share a machine.
#
# Usage: scripts/bench-wrk.sh [versions] [size-scale]     (defaults: 10000 0.05; DURATION=10s per wrk run)
# Needs go, wrk, curl, jq. Ports 5000 (registry), 8080 (devstack API), 8090 and 8091 (API under test and its metrics),
# 4223 (its NATS), 8092 and 8093 (the replica alone and its metrics), 8094 and 8095 (the BEFORE replica), 8096 and
# 8097 (with LIMIT=<size>, the replica once more with -memory-limit), 8098 (-httpprof of the replica under
# PROFILES, 8088 of the limited one) and 8099 (static server) must be free. Nothing here runs in CI.
set -euo pipefail

N=${1:-10000}
SCALE=${2:-0.05}
DURATION=${DURATION:-10s}
OFF=${PORT_OFFSET:-0}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d)
DATA=${KEEP:-$WORK} # the registry's and the all-in-one's state
mkdir -p "$DATA"
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
if [[ -n "${BEFORE:-}" ]]; then (cd "$BEFORE" && go build -o "$WORK/api-before" ./cmd/api); fi
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

for port in 4223 5000 8080 8090 8091 8092 8093 8094 8095 8096 8097 8099; do # never fill or measure someone else's server
  port=$((port + OFF))
  if (: <"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then echo "port $port is in use" >&2; exit 1; fi
done
"$WORK/devstack" -samples=false -data-dir "$DATA/devstack-data" -address 127.0.0.1:$((8080 + OFF)) -registry-address 127.0.0.1:$((5000 + OFF)) \
  -metrics-address "" >"$WORK/devstack.log" 2>&1 &
PIDS+=($!)
wait_http http://127.0.0.1:$((5000 + OFF))/v2/ 60

t=$(now)
if [[ -f "$DATA/filled-$N-$SCALE" ]]; then
  echo "registry in $DATA holds $N versions at size-scale $SCALE already: not pushed again"
else
  "$WORK/loadgen" -oci-registry http://127.0.0.1:$((5000 + OFF)) -versions "$N" -size-scale "$SCALE" -log-level warn
  echo "loadgen: $N versions pushed in $(since "$t") s"
fi
wait_until "dev stack" "$N" 3600 count http://127.0.0.1:$((8080 + OFF)) # the dev stack's own pipeline, so it is idle from here on
touch "$DATA/filled-$N-$SCALE"
echo "dev stack: all $N indexed $(since "$t") s after the first push (or its start)"

# The API under test: a fresh all-in-one whose start-up resync finds everything (no
# notifications are configured towards it).
API=http://127.0.0.1:$((8090 + OFF))
if [[ -f "$DATA/synced-$N-$SCALE" ]]; then
  COLD="(kept from an earlier run)"
  echo "all-in-one state in $DATA holds $N versions already: no cold sync"
else
  t=$(now)
  start_api api.log -feature-oci-indexer -oci-registry http://127.0.0.1:$((5000 + OFF)) -address 127.0.0.1:$((8090 + OFF)) -metrics-address 127.0.0.1:$((8091 + OFF)) -data-dir "$DATA/api-data"
  APIPID=$STARTED
  wait_http "$API/health" 60
  wait_until "cold sync" "$N" 3600 indexed http://127.0.0.1:$((8091 + OFF))
  COLD=$(since "$t")
  echo "cold sync of $N versions: $COLD s"
  kill "$APIPID"; wait "$APIPID" 2>/dev/null || true
  touch "$DATA/synced-$N-$SCALE"
fi

t=$(now)
start_api api.log -feature-oci-indexer -oci-registry http://127.0.0.1:$((5000 + OFF)) -address 127.0.0.1:$((8090 + OFF)) -metrics-address 127.0.0.1:$((8091 + OFF)) -data-dir "$DATA/api-data" -embedded-nats-address 127.0.0.1:$((4223 + OFF))
APIPID=$STARTED
wait_http "$API/health?ready=true" 120
RESTART=$(since "$t")
echo "restart from bbolt to ready: $RESTART s ($(count "$API") versions served)"
# Let the start-up resync (tag listings only, nothing downloaded) finish before measuring: it
# reconciles every repository once, and loadgen writes four versions per repository.
reconciled() { curl -fsS "$1/metrics" | awk '/^epr_storage_indexer_update_index_success_total / {print ($2 >= '"$(((N + 3) / 4))"') ? "done" : "no"}'; }
t=$(now)
wait_until "start-up resync" done 1800 reconciled http://127.0.0.1:$((8091 + OFF))
echo "start-up resync after the restart: $(since "$t") s more"

# An API replica alone (what a deployment scales out): plain cmd/api following the all-in-one's
# NATS, from an empty bbolt. Its RSS is the replica's cost without the indexer and NATS beside it.
# start_replica BINARY ADDRESS-PORT METRICS-PORT DIR [FLAGS...]: its pid in STARTED and catch-up time in CATCHUP.
start_replica() {
  local bin=$1 port=$2 mport=$3 dir=$4 t
  shift 4
  t=$(now)
  "$WORK/$bin" -nats-url nats://127.0.0.1:$((4223 + OFF)) -oci-registry http://127.0.0.1:$((5000 + OFF)) -address 127.0.0.1:$port \
    -metrics-address 127.0.0.1:$mport -data-dir "$WORK/$dir" -log-level warn "$@" >>"$WORK/$dir.log" 2>&1 &
  STARTED=$!
  PIDS+=("$STARTED")
  wait_http "http://127.0.0.1:$port/health" 60
  wait_until "$bin catch-up" "$N" 600 indexed "http://127.0.0.1:$mport"
  CATCHUP=$(since "$t")
}
REPLICA=http://127.0.0.1:$((8092 + OFF))
PROF=${PROFILES:+-httpprof=127.0.0.1:$((8098 + OFF))}
LPROF=${PROFILES:+-httpprof=127.0.0.1:$((8088 + OFF))}
[[ -n "${PROFILES:-}" ]] && mkdir -p "$PROFILES"
start_replica api $((8092 + OFF)) $((8093 + OFF)) replica-data $PROF
REPLICAPID=$STARTED
REPLICA_CATCHUP=$CATCHUP
echo "API replica from an empty bbolt: $N versions in $CATCHUP s"
if [[ -n "${BEFORE:-}" ]]; then
  BREPLICA=http://127.0.0.1:$((8094 + OFF))
  start_replica api-before $((8094 + OFF)) $((8095 + OFF)) before-data
  BREPLICAPID=$STARTED
  BCATCHUP=$CATCHUP
  echo "BEFORE replica from an empty bbolt: $N versions in $BCATCHUP s"
fi
if [[ -n "${LIMIT:-}" ]]; then # the new replica once more, with -memory-limit=$LIMIT
  LREPLICA=http://127.0.0.1:$((8096 + OFF))
  start_replica api $((8096 + OFF)) $((8097 + OFF)) limited-data -memory-limit="$LIMIT" $LPROF
  LREPLICAPID=$STARTED
  echo "replica with -memory-limit=$LIMIT from an empty bbolt: $N versions in $CATCHUP s"
fi

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
"$WORK/static" "$WORK/all.json" 127.0.0.1:$((8099 + OFF)) &
PIDS+=($!)
wait_http http://127.0.0.1:$((8099 + OFF))/ 10

rps() { wrk -t2 -c32 -d"$DURATION" "$1" | awk '/Requests\/sec/ {print $2}'; }
printf '\n%-44s %12s %14s\n' "route (N=$N, size-scale $SCALE)" "req/s" "body bytes"
for r in "${ROUTES[@]}"; do
  bytes=$(curl -fsS "$API$r" | wc -c)
  printf '%-44s %12s %14s\n' "$r" "$(rps "$API$r")" "$bytes"
done
STATIC=$(rps http://127.0.0.1:$((8099 + OFF))/)
OURS=$(rps "$API/search?all=true")
printf '%-44s %12s %14s\n' "static bytes of /search?all=true" "$STATIC" "$(wc -c <"$WORK/all.json")"
printf '%-44s %12s\n' "/search?all=true ÷ static (again)" "$(echo "scale=2; $OURS / $STATIC" | bc)"
printf '%-44s %12s\n' "RSS of the all-in-one (MB)" "$(awk '/VmRSS/ {printf "%.0f", $2/1024}' /proc/$APIPID/status)"

# The replicas: every route plain, the JSON ones also with Accept-Encoding: gzip (what Kibana's
# Fleet client sends), warmed first; with BEFORE, the old replica right after the new one, route
# by route, so the pair shares the machine's load.
GZ='Accept-Encoding: gzip'
ZS='Accept-Encoding: zstd'
for base in "$REPLICA" ${BREPLICA:+"$BREPLICA"} ${LREPLICA:+"$LREPLICA"}; do
  for r in "${ROUTES[@]}"; do
    curl -fsS -o /dev/null "$base$r"; curl -fsS -o /dev/null -H "$GZ" "$base$r"; curl -fsS -o /dev/null -H "$ZS" "$base$r"
  done
done
wire() { curl -fsS -o /dev/null -w '%{size_download}' ${2:+-H "$2"} "$1"; }
rpsh() { wrk -t2 -c32 -d"$DURATION" ${2:+-H "$2"} "$1" | awk '/Requests\/sec/ {print $2}'; }
# CPU seconds a process has used (user + system), and the GC cycles of a replica: taken around
# the replicas' wrk runs, each replica serving only during its own runs, to see what the GC costs.
cpu() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.1f", ($14 + $15) / hz}' "/proc/$1/stat"; }
gcs() { curl -fsS "$1/metrics" | awk '/^go_gc_duration_seconds_count / {print $2}'; }
declare -A CPU0 GC0
for r in "$REPLICAPID:$((8093 + OFF))" ${BREPLICA:+"$BREPLICAPID:$((8095 + OFF))"} ${LREPLICA:+"$LREPLICAPID:$((8097 + OFF))"}; do
  CPU0[$r]=$(cpu "${r%%:*}"); GC0[$r]=$(gcs "http://127.0.0.1:${r#*:}")
done
echo
echo "load average before the replica runs: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-44s %14s %14s %14s\n' "replica, route (N=$N)" "req/s" "${BREPLICA:+before req/s}" "${LREPLICA:+limit $LIMIT}"
for r in "${ROUTES[@]}"; do
  for enc in "" "$GZ" "$ZS"; do
    case "$r" in /epr/*) [[ -n "$enc" ]] && continue ;; esac
    [[ "$enc" == "$ZS" && "$r" != "/search?all=true" ]] && continue # zstd: the largest body only
    label="$r${enc:+ (${enc#Accept-Encoding: })}"
    printf '%-44s %14s %14s %14s\n' "$label" "$(rpsh "$REPLICA$r" "$enc")" "$([[ -n "${BREPLICA:-}" ]] && rpsh "$BREPLICA$r" "$enc")" \
      "$([[ -n "${LREPLICA:-}" ]] && rpsh "$LREPLICA$r" "$enc")"
  done
done
echo "load average after the replica runs: $(cut -d' ' -f1-3 /proc/loadavg)"
for r in "$REPLICAPID:$((8093 + OFF)):replica" ${BREPLICA:+"$BREPLICAPID:$((8095 + OFF)):before"} ${LREPLICA:+"$LREPLICAPID:$((8097 + OFF)):limit"}; do
  k=${r%:*}
  printf '%-44s %s\n' "${r##*:}: CPU s · GC cycles over its wrk runs" \
    "$(echo "$(cpu "${k%%:*}") - ${CPU0[$k]}" | bc) · $(echo "$(gcs "http://127.0.0.1:${k#*:}") - ${GC0[$k]}" | bc)"
done
printf '\n%-44s %14s %14s\n' "bytes on the wire" "replica" "${BREPLICA:+before}"
for r in "/search?all=true" "/search" "/package/$NAME/$VER/"; do
  for enc in "" "$GZ" "$ZS"; do
    printf '%-44s %14s %14s\n' "$r ${enc:+(${enc#Accept-Encoding: })}" "$(wire "$REPLICA$r" "$enc")" "$([[ -n "${BREPLICA:-}" ]] && wire "$BREPLICA$r" "$enc")"
  done
done

# Memory of a replica: RSS and its parts from the kernel; the Go heap from the runtime's metrics.
mem() { # pid metrics-url
  local pid=$1 m
  m=$(curl -fsS "$2/metrics")
  gauge() { awk -v k="$1" '$1 == k {printf "%.0f", $2/1048576}' <<<"$m"; }
  echo "RSS $(awk '/^Rss:/ {printf "%.0f", $2/1024}' /proc/$pid/smaps_rollup)" \
    "anon $(awk '/^Anonymous:/ {printf "%.0f", $2/1024}' /proc/$pid/smaps_rollup)" \
    "file $(awk '/^Rss:/ {r=$2} /^Anonymous:/ {a=$2} END {printf "%.0f", (r-a)/1024}' /proc/$pid/smaps_rollup)" \
    "api.db $(awk '/api\.db$/ {on=1; next} /^[0-9a-f]+-[0-9a-f]+ / {on=0} on && /^Rss:/ {s+=$2} END {printf "%.0f", s/1024}' /proc/$pid/smaps)" \
    "heap-inuse $(gauge go_memstats_heap_inuse_bytes)" "heap-alloc $(gauge go_memstats_heap_alloc_bytes)" \
    "next-gc $(gauge go_memstats_next_gc_bytes)" "heap-released $(gauge go_memstats_heap_released_bytes)" \
    "heap-idle $(gauge go_memstats_heap_idle_bytes)" "stacks $(gauge go_memstats_stack_inuse_bytes)" \
    "go-sys $(gauge go_memstats_sys_bytes)"
}
printf '\n%-44s %s\n' "replica memory (MB)" "$(mem "$REPLICAPID" http://127.0.0.1:$((8093 + OFF)))"
[[ -n "${BREPLICA:-}" ]] && printf '%-44s %s\n' "before replica memory (MB)" "$(mem "$BREPLICAPID" http://127.0.0.1:$((8095 + OFF)))"
[[ -n "${LREPLICA:-}" ]] && printf '%-44s %s\n' "replica -memory-limit=$LIMIT (MB)" "$(mem "$LREPLICAPID" http://127.0.0.1:$((8097 + OFF)))"
printf '%-44s %12s\n' "RSS of the API replica alone (MB)" "$(awk '/VmRSS/ {printf "%.0f", $2/1024}' /proc/$REPLICAPID/status)"
profile() { # name pprof-port: the heap profile (its last collection's live heap) and the top of it
  curl -fsS -o "$PROFILES/$1.pb.gz" "http://127.0.0.1:$2/debug/pprof/heap"
  go tool pprof -top -sample_index=inuse_space "$PROFILES/$1.pb.gz" >"$PROFILES/$1.top.txt" 2>&1 || true
  echo "heap profile: $PROFILES/$1.pb.gz, top in $PROFILES/$1.top.txt"
}
if [[ -n "${PROFILES:-}" ]]; then
  profile "replica-$N" $((8098 + OFF))
  [[ -n "${LREPLICA:-}" ]] && profile "limited-$N" $((8088 + OFF))
fi
printf '%-44s %12s\n' "replica catch-up from empty bbolt (s)" "$REPLICA_CATCHUP"

# The same replicas restarted from their bbolt (LoadStore rather than the watch), then served
# as Kibana's Fleet would serve them: every route with Accept-Encoding: gzip only, a wrk run on
# /search?all=true and one on /package/P/V/, both gzip; their memory again.
restart_replica() { # pid bin port mport dir [flags...] → STARTED, RESTARTED (s)
  local t pid=$1 bin=$2 port=$3 mport=$4 dir=$5
  shift 5
  kill "$pid"; wait "$pid" 2>/dev/null || true
  t=$(now)
  "$WORK/$bin" -nats-url nats://127.0.0.1:$((4223 + OFF)) -oci-registry http://127.0.0.1:$((5000 + OFF)) -address 127.0.0.1:$port \
    -metrics-address 127.0.0.1:$mport -data-dir "$WORK/$dir" -log-level warn "$@" >>"$WORK/$dir.log" 2>&1 &
  STARTED=$!
  PIDS+=("$STARTED")
  wait_http "http://127.0.0.1:$port/health?ready=true" 120
  RESTARTED=$(since "$t")
  for r in "${ROUTES[@]}"; do curl -fsS -o /dev/null -H "$GZ" "http://127.0.0.1:$port$r"; done
  wrk -t2 -c32 -d"$DURATION" -H "$GZ" "http://127.0.0.1:$port/search?all=true" >/dev/null
  wrk -t2 -c32 -d"$DURATION" -H "$GZ" "http://127.0.0.1:$port/package/$NAME/$VER/" >/dev/null
}
restart_replica "$REPLICAPID" api $((8092 + OFF)) $((8093 + OFF)) replica-data $PROF
printf '\n%-44s %s\n' "restarted, gzip-only traffic (MB)" "$(mem "$STARTED" http://127.0.0.1:$((8093 + OFF))) ready-in ${RESTARTED}s"
[[ -n "${PROFILES:-}" ]] && profile "replica-restarted-$N" $((8098 + OFF))
if [[ -n "${BREPLICA:-}" ]]; then
  restart_replica "$BREPLICAPID" api-before $((8094 + OFF)) $((8095 + OFF)) before-data
  printf '%-44s %s\n' "before, restarted, gzip-only (MB)" "$(mem "$STARTED" http://127.0.0.1:$((8095 + OFF))) ready-in ${RESTARTED}s"
fi
if [[ -n "${LREPLICA:-}" ]]; then
  restart_replica "$LREPLICAPID" api $((8096 + OFF)) $((8097 + OFF)) limited-data -memory-limit="$LIMIT" $LPROF
  printf '%-44s %s\n' "limited, restarted, gzip-only (MB)" "$(mem "$STARTED" http://127.0.0.1:$((8097 + OFF))) ready-in ${RESTARTED}s"
fi
printf '%-44s %12s\n' "cold sync (s)" "$COLD"
printf '%-44s %12s\n' "restart from bbolt to ready (s)" "$RESTART"
