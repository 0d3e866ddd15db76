#!/usr/bin/env bash
# Cost as the cloud grows, one command:
#
#   bench/scale/run.sh [--write-docs]
#
# Starts two fresh `ember serve` on loopback with temporary data dirs (SQLite, file volumes): a small cloud (100
# volumes, 100 attachments, 100 servers) and a large one (10,000 volumes, 1,000 attachments, 200 servers), fills them
# through the APIs (bench/scale/scale.py), then times the same 100-item pages and creates against both, alternating,
# and reads both processes' RSS. Prints a table; --write-docs also puts it into docs/benchmarks.md. Everything it
# starts is stopped and removed on exit.
#
# Knobs (env): EMBER_BIN (default bin/ember after ./run.sh --setup-only), N=30, SMALL_PORT=15100, LARGE_PORT=15101,
#   LARGE_VOLUMES=10000, LARGE_ATTACHMENTS=1000, LARGE_SERVERS=200.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
. "$repo/bench/lib.sh"
bench_args "$@"
if [[ -z ${EMBER_BIN:-} ]]; then "$repo/run.sh" --setup-only >&2 || exit 1; EMBER_BIN=$repo/bin/ember; fi
image=$("$repo/tools/guest-image/build.sh" | tail -n 1)
work=$(mktemp -d /tmp/ember-scale.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM -- "-$p" 2>/dev/null; done
  for p in "${pids[@]}"; do for _ in $(seq 40); do kill -0 "$p" 2>/dev/null || break; sleep 0.25; done; kill -KILL -- "-$p" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start() { # name port
  mkdir -p "$work/$1"
  setsid "$EMBER_BIN" serve --data-dir "$work/$1/data" --listen "127.0.0.1:$2" --default-image "$image" \
    > "$work/$1/log" 2>&1 &
  pids+=($!)
  for _ in $(seq 240); do grep -q 'Ember is running' "$work/$1/log" && return 0; sleep 0.5; done
  echo "ember serve ($1) did not start:" >&2; tail -20 "$work/$1/log" >&2; exit 1
}
rss_mib() { awk '/VmRSS/{printf "%.0f", $2/1024}' "/proc/$1/status"; }

start small "${SMALL_PORT:-15100}"
start large "${LARGE_PORT:-15101}"
/usr/bin/python3 "$here/scale.py" "$work/small/data/admin-openrc" "$work/large/data/admin-openrc" "$work/out.json" || exit 1
rss_small=$(rss_mib "${pids[0]}"); rss_large=$(rss_mib "${pids[1]}")

table=$(/usr/bin/python3 - "$work/out.json" "$rss_small" "$rss_large" <<'PYEOF'
import json, sys
r = json.load(open(sys.argv[1]))
L = r['large']
print('| %d samples each, alternating | small cloud (%d of each) | large cloud (%d volumes, %d attachments, %d servers) | large / small |'
      % (r['n'], r['small'], L['volumes'], L['attachments'], L['servers']))
print('|---|---|---|---|')
for row in r['rows']:
    s, l = row['small'], row['large']
    print('| %s | %.1f ms (p90 %.1f) | %.1f ms (p90 %.1f) | %.2f× |' % (row['what'], s['median_ms'], s['p90_ms'], l['median_ms'], l['p90_ms'], l['median_ms'] / s['median_ms']))
print('| RSS of `ember serve` after the run | %s MiB | %s MiB | |' % (sys.argv[2], sys.argv[3]))
PYEOF
)
commit=$(git -C "$repo" rev-parse --short HEAD)
text=$(printf '%s\n\nMachine: %s cores, load average %s at the end; commit %s; `bench/scale/run.sh`.\n' "$table" "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)" "$commit")
echo "$text"
$write_docs && write_docs_section scale "Cost as the cloud grows" "$text"
exit 0
