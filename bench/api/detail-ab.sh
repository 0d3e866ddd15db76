#!/usr/bin/env bash
# GET /volumes/detail (100 volumes, SQLite) on two ember-server builds, interleaved, so both see the same machine load:
#
#   bench/api/detail-ab.sh BASE_EMBER_SERVER NEW_EMBER_SERVER
#
# Each binary gets its own fresh data dir and port; ROUNDS times, each side in turn runs `wrk -t2 -c8` for WRK_SECS.
# Per run it prints req/s, p50, p99 and the bytes allocated per request (the growth of /metrics'
# dotnet_gc_heap_total_allocated_bytes over the run, divided by wrk's request count). Everything it starts is stopped
# on exit. Knobs (env): ROUNDS=3, WRK_SECS=10, VOLUMES=100, CONNS=8, PORT=15100 (and PORT+1).
set -uo pipefail
[[ $# == 2 ]] || { sed -n 2,9p "$0" >&2; exit 2; }
ROUNDS=${ROUNDS:-3}; WRK_SECS=${WRK_SECS:-10}; VOLUMES=${VOLUMES:-100}; CONNS=${CONNS:-8}; PORT=${PORT:-15100}
work=$(mktemp -d /tmp/ember-detail-ab.XXXXXX); chmod 700 "$work"
export EMBER_ADMIN_PASSWORD=bench-admin-pass
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM -- "-$p" 2>/dev/null; done
  for p in "${pids[@]}"; do for _ in $(seq 40); do kill -0 "$p" 2>/dev/null || break; sleep 0.25; done; kill -KILL -- "-$p" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

auth='{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"admin","domain":{"name":"Default"},"password":"'$EMBER_ADMIN_PASSWORD'"}}},"scope":{"project":{"name":"admin","domain":{"name":"Default"}}}}}'
token_of() { curl -sf -D - -o /dev/null -H 'Content-Type: application/json' -d "$auth" "http://127.0.0.1:$1/identity/v3/auth/tokens" | tr -d '\r' | sed -n 's/^[Xx]-[Ss]ubject-[Tt]oken: //p'; }
start() { # name binary port
  mkdir -p "$work/$1"
  setsid "$2" serve --data-dir "$work/$1/data" --listen "127.0.0.1:$3" > "$work/$1/serve.log" 2>&1 < /dev/null &
  pids+=($!)
  for _ in $(seq 3000); do [[ -n $(token_of "$3" 2>/dev/null) ]] && return 0; sleep 0.05; done
  echo "$1 did not come up:" >&2; tail -20 "$work/$1/serve.log" >&2; exit 1
}
allocated() { # port token
  curl -sf -H "X-Auth-Token: $2" "http://127.0.0.1:$1/metrics" | awk '/^dotnet_gc_heap_total_allocated_bytes/ {print $2}'
}
declare -A tok ep
sides=(base new)
start base "$1" "$PORT"; start new "$2" $((PORT + 1))
for i in 0 1; do
  s=${sides[$i]}; port=$((PORT + i)); t=$(token_of "$port")
  tok[$s]=$t
  project=$(curl -sf -H "X-Auth-Token: $t" "http://127.0.0.1:$port/identity/v3/auth/tokens" -H "X-Subject-Token: $t" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"]["project"]["id"])')
  ep[$s]="http://127.0.0.1:$port/volume/v3/$project"
  curl -sf -X PUT -H "X-Auth-Token: $t" -H 'Content-Type: application/json' "${ep[$s]}/os-quota-sets/$project" \
    -d '{"quota_set":{"volumes":-1,"gigabytes":-1}}' > /dev/null
  for n in $(seq "$VOLUMES"); do
    curl -sf -X POST -H "X-Auth-Token: $t" -H 'Content-Type: application/json' "${ep[$s]}/volumes" \
      -d '{"volume":{"size":1,"name":"bench-'"$n"'","metadata":{"tier":"gold"}}}' > /dev/null || { echo "create failed on $s" >&2; exit 1; }
  done
  cat > "$work/$s.lua" <<EOL
wrk.headers["X-Auth-Token"] = "$t"
wrk.headers["OpenStack-API-Version"] = "volume 3.54"
wrk.headers["Accept"] = "application/json"
EOL
done
sleep 5 # the creates settle to available
for s in "${sides[@]}"; do
  curl -sf -H "X-Auth-Token: ${tok[$s]}" -H 'OpenStack-API-Version: volume 3.54' "${ep[$s]}/volumes/detail" > "$work/$s.body"
  echo "$s: $(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["volumes"]))' "$work/$s.body") volumes, $(stat -c %s "$work/$s.body") bytes" >&2
done
# Warm-up (JIT, caches), then the interleaved rounds.
for s in "${sides[@]}"; do wrk -t2 -c"$CONNS" -d3s -s "$work/$s.lua" "${ep[$s]}/volumes/detail" > /dev/null; done
printf 'round\tside\treq/s\tp50\tp99\tbytes/req\n'
for r in $(seq "$ROUNDS"); do
  for i in 0 1; do
    s=${sides[$i]}; port=$((PORT + i))
    sleep 1; before=$(allocated "$port" "${tok[$s]}")
    wrk -t2 -c"$CONNS" -d"${WRK_SECS}s" --latency -s "$work/$s.lua" "${ep[$s]}/volumes/detail" > "$work/wrk.txt"
    sleep 1; after=$(allocated "$port" "${tok[$s]}")
    reqs=$(awk '/requests in/ {print $1}' "$work/wrk.txt")
    rps=$(awk '/^Requests\/sec/ {print $2}' "$work/wrk.txt")
    p50=$(awk '$1 == "50%" {print $2}' "$work/wrk.txt"); p99=$(awk '$1 == "99%" {print $2}' "$work/wrk.txt")
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$r" "$s" "$rps" "$p50" "$p99" "$(echo "($after - $before) / $reqs" | bc)"
  done
done
