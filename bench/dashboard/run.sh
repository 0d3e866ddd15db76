#!/usr/bin/env bash
# Dashboard page server time: GET /dashboard/volumes with 100 volumes and /dashboard/servers with 100 servers, next to
# the API calls behind them (GET /volume/v3/volumes/detail, GET /compute/v2.1/servers/detail) in the same run, on a
# fresh `ember serve` (SQLite, no VMs: the servers are booted with a flavor no host can hold, so they are real rows in
# ERROR with Nova's NoValidHost, as in bench/scale).
#
#   bench/dashboard/run.sh [--write-docs]
#
# Knobs (env): EMBER_BIN (default: dotnet build -c Release of this work tree, ember with ember-server beside it), VOLUMES=100, SERVERS=100, ROUNDS=200, OUT=dir.
# Prints one table (median and p90 over ROUNDS sequential requests, after 20 warm-up ones); --write-docs also puts
# it into docs/benchmarks.md. Everything it starts is stopped on exit.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
. "$repo/bench/lib.sh"
bench_args "$@"
export VOLUMES=${VOLUMES:-100} SERVERS=${SERVERS:-100} ROUNDS=${ROUNDS:-200}
OUT=${OUT:-$(mktemp -d /tmp/ember-dashbench.XXXXXX)}; mkdir -p "$OUT"
if [[ -z ${EMBER_BIN:-} ]]; then
  build_ember "$OUT/bin" "$OUT/build.log"
  EMBER_BIN=$OUT/bin/ember
fi
image=$("$repo/tools/guest-image/build.sh" | tail -n 1)
port=$((20000 + RANDOM % 20000))
EMBER_ADMIN_PASSWORD=bench-secret "$EMBER_BIN" serve --data-dir "$OUT/data" --listen "127.0.0.1:$port" --default-image "$image" > "$OUT/serve.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true' EXIT
table=$(/usr/bin/python3 "$here/pages.py" "http://127.0.0.1:$port")
echo "$table"
if $write_docs; then
  write_docs_section dashboard "Dashboard page server time" "$table"
fi
