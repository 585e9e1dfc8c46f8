#!/usr/bin/env bash
# Measures a running stack at catalog size N with wrk (Debian's package; not run by CI):
#   scripts/bench-wrk.sh 10000
# 1. starts the dev stack (in-process CNCF distribution + all-in-one pipeline) without samples;
# 2. fills it with N versions from cmd/loadgen through the registry (indexed from its webhooks);
# 3. runs wrk -t2 -c32 -d10s on each route, and on a static-bytes server of the same
#    /search?all=true body; reports the API's RSS;
# 4. cold sync: a second all-in-one API with an empty data directory against the same registry,
#    timed until it serves all N.
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-1000}"
DUR="${DUR:-10s}"
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
command -v wrk >/dev/null || { echo "wrk is needed (apt-get install wrk)"; exit 1; }

go build -o "$work/devstack" ./cmd/devstack
go build -o "$work/api" ./cmd/api
go build -o "$work/loadgen" ./cmd/loadgen
go build -o "$work/static" ./scripts/staticbytes

count() { curl -sf "$1/search?all=true&prerelease=true" | jq length 2>/dev/null || echo 0; }
wait_for() { # url n → seconds until the API serves n versions
  local start=$(date +%s.%N)
  until [ "$(count "$1")" -ge "$2" ]; do sleep 0.2; done
  since "$start"
}
since() { awk -v s="$1" -v n="$(date +%s.%N)" 'BEGIN { printf "%.1f", n - s }'; }

"$work/devstack" -samples=false -data-dir "$work/dev" -address 127.0.0.1:8080 -registry-address 127.0.0.1:5000 >"$work/devstack.log" 2>&1 &
until curl -sf localhost:8080/health >/dev/null; do sleep 0.2; done
API=http://127.0.0.1:8080

echo "--- pushing $N versions"
start=$(date +%s.%N)
EPR_OCI_REGISTRY=http://127.0.0.1:5000 "$work/loadgen" -versions "$N" -log-level warn
pushed=$(since "$start")
left=$(wait_for "$API" "$N")
echo "pushed in ${pushed}s; all indexed ${left}s after the last push"

apipid=$(pgrep -f "$work/devstack" | head -1)
name=load_00000
ver=$(curl -sf "$API/search?package=$name" | jq -r '.[0].version')
curl -sf "$API/search?all=true" >"$work/all.json"
"$work/static" -address 127.0.0.1:8099 -file "$work/all.json" &
until curl -sf localhost:8099/ >/dev/null; do sleep 0.1; done

printf '| route | req/s | MB/s | p50 | p99 |\n| --- | --- | --- | --- | --- |\n'
run() { # label url
  out=$(wrk -t2 -c32 -d"$DUR" --latency "$2")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  tr=$(awk '/Transfer\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  printf '| %s | %s | %s | %s | %s |\n' "$1" "$rps" "$tr" "$p50" "$p99"
}
run "/search?all=true" "$API/search?all=true"
run "static bytes of the same size" "http://127.0.0.1:8099/"
run "/search" "$API/search?kibana.version=8.15.0"
run "/search?package=$name" "$API/search?package=$name"
run "/categories" "$API/categories"
run "/package/$name/$ver/" "$API/package/$name/$ver/"
run "zip" "$API/epr/$name/$name-$ver.zip"
run "static file" "$API/package/$name/$ver/docs/README.md"
echo "API (dev stack process, registry included) RSS: $(( $(awk '/VmRSS/ {print $2}' /proc/$apipid/status) / 1024 )) MB"

echo "--- cold sync: a second all-in-one API, empty data directory"
start=$(date +%s.%N)
"$work/api" -feature-oci-indexer -oci-registry http://127.0.0.1:5000 -data-dir "$work/cold" -address 127.0.0.1:8090 -mock-fallback=false >"$work/cold.log" 2>&1 &
until curl -sf localhost:8090/health >/dev/null; do sleep 0.1; done
secs=$(wait_for http://127.0.0.1:8090 "$N")
echo "cold sync of $N versions: ${secs}s after the API answered ($(since "$start")s from start)"
coldpid=$(pgrep -f "$work/api" | head -1)
echo "all-in-one RSS after the cold sync: $(( $(awk '/VmRSS/ {print $2}' /proc/$coldpid/status) / 1024 )) MB"
