#!/usr/bin/env bash
# End-to-end benchmark, Ember side by side with real OpenStack (Keystone + Cinder from Debian), one command:
#
#   bench/e2e/run.sh [--write-docs]
#
# 1. times `./run.sh --setup-only` on a fresh clone of this repository's HEAD (warm caches, then cold NuGet and
#    guest-image caches), and benchmarks the Ember binary that clone built (the committed code, not the work tree);
# 2. brings up the OpenStack anchor (../shared/anchors/openstack: install.sh if its packages are missing, up.sh),
#    runs the REST measurements (bench/e2e/rest.py), wrk, the CLIs and RSS against it, then down.sh;
# 3. starts a fresh `ember serve` on a temporary data dir and runs the same measurements, plus the Ember-only
#    compute figures (bench/e2e/compute.py);
# 4. prints one table (bench/e2e/table.py); --write-docs also writes it into docs/benchmarks.md (between its e2e markers).
# Everything it starts is stopped on exit. Loopback only.
#
# Knobs (env): N=20 (samples per latency), WRK_SECS=15, EMBER_PORT=15000, KS_PORT=15357, CINDER_PORT=18776,
#   AMQP_PORT=15673, SETUP_CLONE=1 (0: skip the clean-clone timings), SETUP_COLD=1 (0: skip the cold one),
#   EMBER_BIN=path (use this ember binary instead of building a clone; implies SETUP_CLONE=0),
#   ANCHOR_DIR (default ../shared/anchors/openstack next to the repo), SKIP_ANCHOR=1, OUT=dir for raw results,
#   PG=1 (0: skip step 5), EMBER_PG_PORT=15001.
# 5. starts a throwaway PostgreSQL cluster (initdb from Debian's postgresql, unix socket only, default durability)
#    and a second `ember serve --database postgresql://...`, and runs the REST measurements and wrk against it, so
#    the table has Ember on SQLite and on PostgreSQL from the same run.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
. "$repo/bench/lib.sh"
bench_args "$@"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
PY=/usr/bin/python3  # a pyenv shim may shadow python3 (see the anchor README)
N=${N:-20}; WRK_SECS=${WRK_SECS:-15}
EMBER_PORT=${EMBER_PORT:-15000}
export KS_PORT=${KS_PORT:-15357} CINDER_PORT=${CINDER_PORT:-18776} AMQP_PORT=${AMQP_PORT:-15673}
export ADMIN_PASS=${ADMIN_PASS:-adminpass} SERVICE_PASS=${SERVICE_PASS:-servicepass}
ANCHOR_DIR=${ANCHOR_DIR:-$(cd "$repo/.." && pwd)/shared/anchors/openstack}
SETUP_CLONE=${SETUP_CLONE:-1}; SETUP_COLD=${SETUP_COLD:-1}
[[ -n ${EMBER_BIN:-} ]] && SETUP_CLONE=0
if [[ ${SKIP_ANCHOR:-0} != 1 && ! -x $ANCHOR_DIR/up.sh ]]; then
  echo "no OpenStack anchor at $ANCHOR_DIR (expected ../shared/anchors/openstack next to the repo); set ANCHOR_DIR" >&2; exit 2
fi
OUT=${OUT:-$(mktemp -d /tmp/ember-e2e.XXXXXX)}; mkdir -p "$OUT"
export OSANCHOR=$OUT/osanchor
KV=$OUT/kv.tsv; : > "$KV"
cmdline="bench/e2e/run.sh${*:+ $*}"

say() { printf '\n== %s\n' "$*" >&2; }
put() { printf '%s\t%s\n' "$1" "$2" >> "$KV"; }
now() { date +%s.%N; }
since() { echo "$(now) - $1" | bc; }
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

ember_pid=""; anchor_up=false; clones=(); pg_dir=""
stop_ember() {
  if [[ -n $ember_pid ]] && kill -0 "$ember_pid" 2>/dev/null; then
    kill -TERM -- "-$ember_pid" 2>/dev/null
    for _ in $(seq 40); do kill -0 "$ember_pid" 2>/dev/null || break; sleep 0.25; done
    kill -KILL -- "-$ember_pid" 2>/dev/null
  fi
  ember_pid=""
}
as_postgres() { if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() {
  local rc=$?
  stop_ember
  if [[ -n $pg_dir ]]; then
    [[ -f $pg_dir/data/postmaster.pid ]] && as_postgres "$pg_bin/pg_ctl" -D "$pg_dir/data" -m immediate -w stop > /dev/null 2>&1
    rm -rf "$pg_dir"
  fi
  $anchor_up && OSANCHOR=$OSANCHOR "$ANCHOR_DIR/down.sh" >&2
  for d in "${clones[@]}"; do rm -rf "$d"; done
  rm -rf "$OUT/ember-data" "$OUT/ember-pg-data"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- machine
{
  echo "cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
  echo "nproc=$(nproc)"
  echo "ram=$(awk '/MemTotal/{printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
  echo "kvm=$([[ -w /dev/kvm ]] && echo yes || echo no)"
  echo "os=$(. /etc/os-release; echo "$PRETTY_NAME")"
  echo "kernel=$(uname -r)"
  echo "date=$(date -u +%FT%TZ)"
  echo "load_start=$(cut -d' ' -f1-3 /proc/loadavg)"
  echo "commit=$(git -C "$repo" rev-parse --short HEAD)"
  echo "dotnet=$(dotnet --version 2>/dev/null)"
} > "$OUT/machine.env"
put command "$cmdline"; put wrk_secs "$WRK_SECS"

# ---------------------------------------------------------------- Ember set-up on a clean clone
ember_repo=$repo
if [[ $SETUP_CLONE == 1 ]]; then
  say "clean clone of HEAD, ./run.sh --setup-only with warm caches"
  c=$OUT/clone-warm; clones+=("$c")
  git clone -q "$repo" "$c"
  t=$(now)
  if (cd "$c" && ./run.sh --setup-only) > "$OUT/setup-warm.log" 2>&1; then put setup_warm_s "$(since "$t")"
  else put setup_warm_s "failed"; tail -20 "$OUT/setup-warm.log" >&2; fi
  ember_repo=$c
  if [[ $SETUP_COLD == 1 ]]; then
    say "clean clone, ./run.sh --setup-only with empty NuGet and guest-image caches (Debian packages stay installed)"
    c2=$OUT/clone-cold; clones+=("$c2")
    git clone -q "$repo" "$c2"
    t=$(now)
    if (cd "$c2" && NUGET_PACKAGES=$OUT/cold/nuget NUGET_HTTP_CACHE_PATH=$OUT/cold/nuget-http \
          EMBER_CACHE_DIR=$OUT/cold/ember ./run.sh --setup-only) > "$OUT/setup-cold.log" 2>&1; then
      put setup_cold_s "$(since "$t")"
    else put setup_cold_s "failed"; tail -20 "$OUT/setup-cold.log" >&2; fi
    rm -rf "$OUT/cold" "$c2"
  fi
elif [[ -z ${EMBER_BIN:-} ]]; then
  say "./run.sh --setup-only in $repo"
  (cd "$repo" && ./run.sh --setup-only) > "$OUT/setup.log" 2>&1 || { tail -20 "$OUT/setup.log" >&2; exit 1; }
fi
ember=${EMBER_BIN:-$ember_repo/bin/ember}
image=$(cd "$ember_repo" && tools/guest-image/build.sh 2>/dev/null | tail -n 1)
[[ -x $ember ]] || { echo "no ember binary at $ember" >&2; exit 1; }

# ---------------------------------------------------------------- shared measurement helpers
wrk_run() { # side conns token endpoint
  local side=$1 conns=$2
  cat > "$OUT/wrk-$side.lua" <<EOL
wrk.headers["X-Auth-Token"] = "$3"
wrk.headers["OpenStack-API-Version"] = "volume 3.54"
wrk.headers["Accept"] = "application/json"
EOL
  wrk -t2 -c"$conns" -d"${WRK_SECS}s" --timeout 30s --latency -s "$OUT/wrk-$side.lua" "$4/volumes/detail" \
    > "$OUT/wrk-$side-c$conns.txt" 2>&1
  cat "$OUT/wrk-$side-c$conns.txt" >&2
}
cli_fail() { put "cli_$1" "failed: $(cat "$OUT/cli-$1.err" "$OUT/cli-$1.out" | grep -v '^\s*$' | head -1 | cut -c1-100)"; }
cli_run() { # key cmd... : median wall time of 5 runs (after one untimed warm-up), or the failure
  local key=$1; shift; local ts=()
  "$@" > "$OUT/cli-$key.out" 2> "$OUT/cli-$key.err" || { cli_fail "$key"; return; }
  for _ in 1 2 3 4 5; do
    local s; s=$(now)
    "$@" > /dev/null 2>> "$OUT/cli-$key.err" || { cli_fail "$key"; return; }
    ts+=("$(since "$s")")
  done
  put "cli_$key" "$(printf '%s\n' "${ts[@]}" | sort -n | sed -n 3p)"
  echo "  $key: $(grep -c . "$OUT/cli-$key.out") output lines" >&2
}
group_rss_mib() { # pgid...: sum of VmRSS over the process groups, MiB
  local kb=0 g pid r
  for g in "$@"; do
    for pid in $(pgrep -g "$g"); do
      r=$(awk '/^VmRSS/{print $2}' "/proc/$pid/status" 2>/dev/null); kb=$((kb + ${r:-0}))
    done
  done
  echo "scale=1; $kb/1024" | bc
}
rest_run() { # side
  N=$N "$PY" "$here/rest.py" "$OUT/rest-$1.json" 2> >(tee "$OUT/rest-$1.log" >&2)
}

# ---------------------------------------------------------------- OpenStack anchor
if [[ ${SKIP_ANCHOR:-0} != 1 ]]; then
  say "OpenStack anchor: packages"
  need=(keystone cinder-api cinder-scheduler cinder-volume python3-openstackclient python3-cinderclient rabbitmq-server
        uwsgi-core uwsgi-plugin-python3 wrk curl jq sqlite3 bc)
  missing=0
  for p in "${need[@]}"; do [[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null) == "install ok installed" ]] || missing=1; done
  if [[ $missing == 1 ]]; then
    t=$(now)
    "$ANCHOR_DIR/install.sh" > "$OUT/anchor-install.log" 2>&1 || { tail -20 "$OUT/anchor-install.log" >&2; exit 1; }
    put os_install_s "$(since "$t")"
  fi
  for p in "$KS_PORT" "$CINDER_PORT" "$AMQP_PORT" 4369 25672; do
    port_free "$p" || { echo "port $p on 127.0.0.1 is in use; set KS_PORT/CINDER_PORT/AMQP_PORT (4369/25672 are fixed by up.sh)" >&2; exit 1; }
  done
  say "OpenStack anchor: up.sh"
  anchor_up=true
  t=$(now)
  "$ANCHOR_DIR/up.sh" > "$OUT/anchor-up.log" 2>&1 || { tail -30 "$OUT/anchor-up.log" >&2; exit 1; }
  put os_up_s "$(since "$t")"
  put os_keystone_up_s "$(sed -n 's/^\[ *\([0-9.]*\)s\] keystone up$/\1/p' "$OUT/anchor-up.log")"
  cat "$OUT/anchor-up.log" | grep '^\[' >&2
  sleep 5
  "$ANCHOR_DIR/rss.sh" > "$OUT/rss-os-cold.txt"
  put os_rss_cold "$(sed -n 's/^TOTAL .*RSS= *\([0-9.]*\) MiB.*/\1/p' "$OUT/rss-os-cold.txt")"
  cat "$OUT/rss-os-cold.txt" >&2
  (
    . "$OSANCHOR/adminrc"
    say "OpenStack anchor: REST (N=$N)"
    rest_run os
    tok=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["token"])' "$OUT/rest-os.json")
    ep=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["endpoint"])' "$OUT/rest-os.json")
    for c in 8 64; do say "OpenStack anchor: wrk GET volumes/detail, $c connections"; wrk_run os "$c" "$tok" "$ep"; done
    say "OpenStack anchor: CLIs"
    cli_run os_openstack openstack volume list
    cli_run os_cinder cinder list
  )
  sleep 10
  "$ANCHOR_DIR/rss.sh" > "$OUT/rss-os-warm.txt"
  put os_rss_warm "$(sed -n 's/^TOTAL .*RSS= *\([0-9.]*\) MiB.*/\1/p' "$OUT/rss-os-warm.txt")"
  cat "$OUT/rss-os-warm.txt" >&2
  say "OpenStack anchor: down.sh"
  "$ANCHOR_DIR/down.sh" >&2; anchor_up=false
fi

# ---------------------------------------------------------------- Ember
export EMBER_ADMIN_PASSWORD=$ADMIN_PASS
tok_body='{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"admin","domain":{"name":"Default"},"password":"'$ADMIN_PASS'"}}},"scope":{"project":{"name":"admin","domain":{"name":"Default"}}}}}'
start_ember() { # data-dir port log [serve flags...]: starts ember serve in its own process group, returns at the first token
  local dir=$1 port=$2 log=$3; shift 3
  port_free "$port" || { echo "port $port is in use; set EMBER_PORT / EMBER_PG_PORT" >&2; exit 1; }
  rm -rf "$dir"; mkdir -p "$dir"
  setsid "$ember" serve --data-dir "$dir" --listen "127.0.0.1:$port" "$@" > "$log" 2>&1 < /dev/null &
  ember_pid=$!
  local ok=false
  for _ in $(seq 6000); do
    if curl -sf -o /dev/null -X POST -H 'Content-Type: application/json' -d "$tok_body" \
         "http://127.0.0.1:$port/identity/v3/auth/tokens"; then ok=true; break; fi
    kill -0 "$ember_pid" 2>/dev/null || break
    sleep 0.01
  done
  $ok || { echo "ember serve did not come up:" >&2; tail -20 "$log" >&2; exit 1; }
}
api_run() { # side data-dir: REST latencies and wrk at 8 and 64 connections
  (
    . "$2/admin-openrc"
    say "$1: REST (N=$N)"
    rest_run "$1"
    tok=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["token"])' "$OUT/rest-$1.json")
    ep=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["endpoint"])' "$OUT/rest-$1.json")
    for c in 8 64; do say "$1: wrk GET volumes/detail, $c connections"; wrk_run "$1" "$c" "$tok" "$ep"; done
  )
}

say "Ember: cold start of $ember serve (fresh data dir) to the first token"
data=$OUT/ember-data
t=$(now)
start_ember "$data" "$EMBER_PORT" "$OUT/ember-serve.log" ${image:+--default-image "$image"}
put ember_start_s "$(since "$t")"
sleep 5
put ember_rss_cold "$(group_rss_mib "$ember_pid")"
api_run ember "$data"
(
  . "$data/admin-openrc"
  say "Ember: CLIs"
  bindir=$(dirname "$ember")
  cli_run ember_ember "$ember" volume list
  if [[ -x $bindir/cinder ]]; then OS_VOLUME_API_VERSION=3 cli_run ember_cinder "$bindir/cinder" list
  else put cli_ember_cinder "n/a: no bin/cinder in this build"; fi
  if [[ -x $bindir/nova ]]; then cli_run ember_nova "$bindir/nova" list
  else put cli_ember_nova "n/a: no bin/nova in this build"; fi
  cli_run ember_debnova nova list
  cli_run ember_openstack openstack volume list
  OS_VOLUME_API_VERSION=3 cli_run ember_debcinder cinder list
)
sleep 10
put ember_rss_warm "$(group_rss_mib "$ember_pid")"
(
  . "$data/admin-openrc"
  st=$(curl -s -o /dev/null -w '%{http_code}' -H "X-Auth-Token: $("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["token"])' "$OUT/rest-ember.json")" \
       "http://127.0.0.1:$EMBER_PORT/compute/v2.1/flavors")
  if [[ $st == 200 && -n $image ]]; then
    say "Ember: compute (boot, agent, hot attach/detach, seed walkthrough)"
    "$PY" "$here/compute.py" "$OUT/compute.json" 2> >(tee "$OUT/compute.log" >&2)
  else
    put compute "n/a: GET /compute/v2.1/flavors answered HTTP $st, guest image '${image}'"
  fi
)

# ---------------------------------------------------------------- Ember on PostgreSQL
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [[ ${PG:-1} == 1 && -x $pg_bin/initdb ]]; then
  stop_ember
  say "Ember on PostgreSQL: a throwaway cluster ($pg_bin), unix socket only"
  # Outside $OUT (0700, root's): the postgres user must reach its own directory.
  pg_dir=$(mktemp -d /tmp/ember-e2e-pg.XXXXXX)
  [[ $(id -u) == 0 ]] && chown postgres: "$pg_dir"
  as_postgres "$pg_bin/initdb" -D "$pg_dir/data" -U ember --auth=trust --encoding=UTF8 --locale=C --no-instructions \
    > "$OUT/pg-initdb.log" 2>&1 || { tail -20 "$OUT/pg-initdb.log" >&2; exit 1; }
  printf "listen_addresses = ''\nunix_socket_directories = '%s'\n" "$pg_dir" >> "$pg_dir/data/postgresql.conf"
  as_postgres "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/log" -w start > /dev/null
  as_postgres "$pg_bin/createdb" -h "$pg_dir" -U ember ember
  put pg_version "$(as_postgres "$pg_bin/postgres" --version | awk '{print $3}')"
  t=$(now)
  start_ember "$OUT/ember-pg-data" "${EMBER_PG_PORT:-15001}" "$OUT/ember-pg-serve.log" --database "postgresql://ember@/ember?host=$pg_dir"
  put ember_pg_start_s "$(since "$t")"
  api_run ember-pg "$OUT/ember-pg-data"
  stop_ember
elif [[ ${PG:-1} == 1 ]]; then
  put pg "n/a: no /usr/lib/postgresql/*/bin/initdb (tools/install-deps.sh installs postgresql)"
fi

# ---------------------------------------------------------------- table
echo "load_end=$(cut -d' ' -f1-3 /proc/loadavg)" >> "$OUT/machine.env"
put accel "$(grep -o 'Accelerator probe: [^=]*' "$OUT/ember-serve.log" 2>/dev/null | head -1 | sed 's/Accelerator probe: //' | cut -c1-90)"
say "Results ($OUT)"
"$PY" "$here/table.py" "$OUT" > "$OUT/table.md"
cat "$OUT/table.md"
if $write_docs; then
  # Between the e2e markers only: the other benches' sections and the hand-written ones stay.
  write_docs_section e2e "Ember side by side with real OpenStack" "$("$PY" "$here/table.py" "$OUT" --doc)"
fi
