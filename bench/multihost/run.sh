#!/usr/bin/env bash
# Multi-host benchmark: BOOTS (16) parallel boots and hot attach on a controller with two compute hosts, each
# compute host in its own network namespace (every byte over TCP, PostgreSQL state), next to the same figures on
# an all-in-one `ember serve` (SQLite, one host) started afterwards on the same machine: the reference.
#
#   bench/multihost/run.sh [--write-docs]
#
# Knobs (env): EMBER_BIN (default: dotnet build -c Release of this work tree, ember with ember-server beside it), BOOTS=16, ATTACH_N=5, OUT=dir.
# Needs root (ip netns, a bridge); everything it creates (namespaces, bridge, PostgreSQL, processes, files) is
# removed on exit. Prints one table; --write-docs also puts it into docs/benchmarks.md.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
. "$repo/bench/lib.sh"
bench_args "$@"
PY=/usr/bin/python3
export BOOTS=${BOOTS:-16} ATTACH_N=${ATTACH_N:-5}
OUT=${OUT:-$(mktemp -d /tmp/ember-multihost.XXXXXX)}; mkdir -p "$OUT"
say() { printf '\n== %s\n' "$*" >&2; }

if [[ -z ${EMBER_BIN:-} ]]; then
  say "building ember (Release)"
  build_ember "$OUT/bin" "$OUT/build.log"
  EMBER_BIN=$OUT/bin/ember
fi
image=${EMBER_GUEST_IMAGE:-$("$repo/tools/guest-image/build.sh" 2>/dev/null | tail -n 1)}
[[ -f $image ]] || { echo "no guest image (set EMBER_GUEST_IMAGE)" >&2; exit 2; }

prefix=eb$(head -c3 /dev/urandom | od -An -tx1 | tr -d ' \n')
subnet=10.$((200 + RANDOM % 50)).$((1 + RANDOM % 254))
ctl=$subnet.1
pg_dir=$OUT/pg; pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do timeout 60 tail --pid="$p" -f /dev/null 2>/dev/null || true; done
  pkill -KILL -f "qemu-system.*$OUT" 2>/dev/null || true
  [[ -f $pg_dir/data/postmaster.pid ]] && runuser -u postgres -- "$pg_bin/pg_ctl" -D "$pg_dir/data" -m immediate -w stop > /dev/null 2>&1
  for n in 1 2; do ip netns delete "$prefix-h$n" 2>/dev/null || true; done
  ip link delete "${prefix}br" 2>/dev/null || true
  rm -rf "$pg_dir" "$OUT"/ctl "$OUT"/h1 "$OUT"/h2 "$OUT"/aio
}
trap cleanup EXIT

say "network $subnet.0/24: bridge ${prefix}br, namespaces $prefix-h1 and $prefix-h2"
ip route show table all | grep -q "^$subnet\." && { echo "subnet $subnet.0/24 in use" >&2; exit 1; }
ip link add "${prefix}br" type bridge
ip addr add "$ctl/24" dev "${prefix}br"
ip link set "${prefix}br" up
for n in 1 2; do
  ns=$prefix-h$n
  ip netns add "$ns"
  ip link add "${prefix}v$n" type veth peer name eth0 netns "$ns"
  ip link set "${prefix}v$n" master "${prefix}br" up
  ip -n "$ns" addr add "$subnet.$((n + 1))/24" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" link set lo up
done

say "PostgreSQL on $ctl:5432"
mkdir -p "$pg_dir"; chown postgres: "$pg_dir"
runuser -u postgres -- "$pg_bin/initdb" -D "$pg_dir/data" -U ember --auth=trust --encoding=UTF8 --locale=C --no-instructions > /dev/null
printf "listen_addresses = '%s'\nunix_socket_directories = '%s'\nmax_connections = 200\n" "$ctl" "$pg_dir" >> "$pg_dir/data/postgresql.conf"
echo "host all ember $subnet.0/24 scram-sha-256" >> "$pg_dir/data/pg_hba.conf"
runuser -u postgres -- "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/log" -w start > /dev/null
PGPASSWORD=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
export PGPASSWORD
echo "ALTER ROLE ember PASSWORD '$PGPASSWORD';" | runuser -u postgres -- "$pg_bin/psql" -h "$pg_dir" -U ember -d postgres -q -v ON_ERROR_STOP=1
runuser -u postgres -- "$pg_bin/createdb" -h "$pg_dir" -U ember ember
db=postgresql://ember@$ctl:5432/ember

admin_pw=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
wait_for() { # file text seconds
  for _ in $(seq "$(($3 * 10))"); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "timed out waiting for '$2' in $1:" >&2; tail -n 20 "$1" >&2; exit 1
}

say "controller on $ctl:5000, compute hosts host-1 and host-2"
EMBER_ADMIN_PASSWORD=$admin_pw "$EMBER_BIN" serve --role controller --host-name controller --data-dir "$OUT/ctl" \
  --database "$db" --listen "$ctl:5000" --nbd-listen "$ctl:10809" --default-image "$image" > "$OUT/ctl.log" 2>&1 &
pids+=($!)
wait_for "$OUT/ctl.log" "Ember is running" 120
for n in 1 2; do
  install -d -m 0700 "$OUT/h$n/nbd-tls/client"
  cp "$OUT"/ctl/nbd-tls/client/* "$OUT/h$n/nbd-tls/client/"
  EMBER_Compute__Controller__UserName=admin EMBER_Compute__Controller__Password=$admin_pw \
    ip netns exec "$prefix-h$n" "$EMBER_BIN" serve --role compute --host-name "host-$n" --data-dir "$OUT/h$n" \
    --database "$db" --controller "http://$ctl:5000/identity/v3" --host-listen "$subnet.$((n + 1)):8775" > "$OUT/h$n.log" 2>&1 &
  pids+=($!)
  wait_for "$OUT/h$n.log" "compute host host-$n is running" 120
done

export OS_AUTH_URL=http://$ctl:5000/identity/v3 OS_USERNAME=admin OS_PASSWORD=$admin_pw OS_PROJECT_NAME=admin \
  OS_USER_DOMAIN_NAME=Default OS_PROJECT_DOMAIN_NAME=Default
say "measuring: controller + 2 compute hosts"
$PY "$here/boots.py" "$OUT/multihost.json"
for p in "${pids[@]}"; do kill -TERM "$p"; done
for p in "${pids[@]}"; do timeout 60 tail --pid="$p" -f /dev/null || true; done
pids=()

say "measuring: all-in-one on 127.0.0.1:15100 (SQLite, one host)"
# One host with the vCPUs of the two (Nova's default ratio 4.0 gives 2 cores 8): the same room for BOOTS servers.
EMBER_Compute__CpuAllocationRatio=$((4 * 2)) EMBER_ADMIN_PASSWORD=$admin_pw "$EMBER_BIN" serve --data-dir "$OUT/aio" --listen 127.0.0.1:15100 --default-image "$image" \
  > "$OUT/aio.log" 2>&1 &
pids+=($!)
wait_for "$OUT/aio.log" "Ember is running" 120
OS_AUTH_URL=http://127.0.0.1:15100/identity/v3 $PY "$here/boots.py" "$OUT/aio.json"

table=$($PY - "$OUT/aio.json" "$OUT/multihost.json" <<'PYEOF'
import json, sys
aio, mh = (json.load(open(p)) for p in sys.argv[1:3])
def place(r): return ', '.join('%s: %d' % kv for kv in r['boots']['placement'].items())
rows = [
    ('%d parallel boots: POST -> all ACTIVE (s)' % mh['boots']['n'], '%.1f' % aio['boots']['all_active_s'],
     '%.1f' % mh['boots']['all_active_s'], '%.2fx' % (mh['boots']['all_active_s'] / aio['boots']['all_active_s'])),
    ('placement (servers per host)', place(aio), place(mh), ''),
    ('hot attach: POST -> volume in-use (median ms)', '%.0f' % aio['attach']['median_ms'], '%.0f' % mh['attach']['median_ms'],
     '%.2fx' % (mh['attach']['median_ms'] / aio['attach']['median_ms'])),
]
print('| | all-in-one (1 host, SQLite) | controller + 2 compute hosts (netns, PostgreSQL, NBD over TLS) | multi-host / all-in-one |')
print('|---|---|---|---|')
for r in rows:
    print('| %s |' % ' | '.join(r))
PYEOF
)
echo "$table"
if $write_docs; then
  write_docs_section multihost "Several hosts" "$table

Measured with \`bench/multihost/run.sh (BOOTS=$BOOTS, $(date -u +%F), $(nproc) cores)\`."
fi
