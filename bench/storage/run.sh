#!/usr/bin/env bash
# Storage backends side by side, in one run, on loopback: a throwaway single-node Ceph cluster (the tests' fixture,
# tests/Ember.Testing/CephCluster.cs, held by bench/storage/EmberStorageBench) next to Ember's file volumes.
#
#   bench/storage/run.sh [--write-docs]
#
# 1. `qemu-img bench` (QEMU's own block layer, cache=none) with the same requests against
#      - an RBD image in the cluster, through QEMU's rbd driver (librbd, as a guest's disk on the rbd backend),
#      - a file volume served by Ember's NBD server over TCP (bench/nbd/EmberNbdBench, as a file-backend disk),
#      - the raw file itself (aio=native): the ceiling of the disk under both;
#    1M sequential write then read over the whole image, then 4k strided write then read (step 1 MiB + 4 KiB, so
#    every request lands in another MiB: no read-ahead or merging helps), MiB/s and IOPS, median of ROUNDS, and the
#    CPU time qemu-img and the server (ceph-osd; Ember's NBD server) spent on each.
# 2. volume-from-image through a real `ember serve` per row of `rows` below (a fresh data dir each): POST /volumes
#    with imageRef -> `available`, median of RUNS, for the guest image (qcow2) and a 1 GiB raw image with data.
# --write-docs puts the table between the storage markers of docs/benchmarks.md.
#
# Knobs (env): EMBER_BIN (default: a Release build of this work tree), EMBER_GUEST_IMAGE (default:
#   tools/guest-image/build.sh), SIZE_MB=512 (the qemu-img bench image), PASSES_1M=2 (1M requests: that many
#   times the image), COUNT_4K=16000, ROUNDS=3, RUNS=5,
#   BIG_MB=1024 (virtual size of the large image), BIG_DATA_MB=512 (random data in it), OSD=bluestore|memstore,
#   EMBER_PORT=15100, OUT=dir for raw results (default: a temp dir, removed unless given).
# Needs qemu-img with the rbd driver (qemu-block-extra), Ceph (tools/install-deps.sh), the .NET SDK, python3.
# No secret on a command line: QEMU and Ember get the keyring's path, Ember's admin password is in its environment.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
. "$repo/bench/lib.sh"
bench_args "$@"
PY=/usr/bin/python3
SIZE_MB=${SIZE_MB:-512}; PASSES_1M=${PASSES_1M:-2}; COUNT_4K=${COUNT_4K:-16000}; ROUNDS=${ROUNDS:-3}; export RUNS=${RUNS:-5}
BIG_MB=${BIG_MB:-1024}; BIG_DATA_MB=${BIG_DATA_MB:-512}; OSD=${OSD:-bluestore}; EMBER_PORT=${EMBER_PORT:-15100}
keep_out=${OUT:+1}
OUT=${OUT:-$(mktemp -d /tmp/ember-storage-bench.XXXXXX)}; mkdir -p "$OUT"; chmod 700 "$OUT"
cmdline="bench/storage/run.sh${*:+ $*}"
say() { printf '\n== %s\n' "$*" >&2; }

pids=()      # background processes, stopped on exit
ember_pid=""
stop_pid() { kill -TERM "$1" 2>/dev/null || return 0; for _ in $(seq 100); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done; kill -KILL "$1" 2>/dev/null || true; }
stop_ember() {
  [[ -n $ember_pid ]] || return 0
  kill -TERM -- "-$ember_pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$ember_pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL -- "-$ember_pid" 2>/dev/null || true
  ember_pid=""
}
cleanup() {
  local rc=$?
  stop_ember
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do stop_pid "${pids[i]}"; done  # the NBD server, then the cluster
  if [[ -n $keep_out ]]; then rm -rf "$OUT/bin" "$OUT/disk.raw" "$OUT/big.raw" "$OUT"/ember-data-*; else rm -rf "$OUT"; fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

qemu-img --help | grep -qw rbd || { echo "qemu-img has no rbd driver (install qemu-block-extra)" >&2; exit 2; }
machine() {
  echo "cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores, $(awk '/MemTotal/{printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
  echo "disk=$(df --output=source,fstype "$OUT" | tail -1 | tr -s ' ')"
  echo "os=$(. /etc/os-release; echo "$PRETTY_NAME"), kernel $(uname -r), $(qemu-img --version | head -1), ceph $(ceph --version | awk '{print $3}')"
  echo "commit=$(git -C "$repo" rev-parse --short HEAD)$(git -C "$repo" diff --quiet HEAD -- src bench || echo '+changes')"
  echo "date=$(date -u +%FT%TZ)"
}
machine > "$OUT/machine.env"
echo "size_mb=$SIZE_MB" >> "$OUT/machine.env"
echo "load_start=$(cut -d' ' -f1-3 /proc/loadavg)" >> "$OUT/machine.env"

say "building (Release): the cluster holder, Ember's NBD bench server, ember (unless EMBER_BIN)"
dotnet build -c Release "$here/EmberStorageBench/EmberStorageBench.csproj" -o "$OUT/bin/storage" -v quiet -nologo > "$OUT/build.log"
dotnet build -c Release "$repo/bench/nbd/EmberNbdBench/EmberNbdBench.csproj" -o "$OUT/bin/nbd" -v quiet -nologo >> "$OUT/build.log"
if [[ -z ${EMBER_BIN:-} ]]; then
  dotnet build -c Release "$repo/src/Ember/Ember.csproj" -o "$OUT/bin/ember" -v quiet -nologo >> "$OUT/build.log"
  EMBER_BIN=$OUT/bin/ember/ember
fi
image=${EMBER_GUEST_IMAGE:-$("$repo/tools/guest-image/build.sh" 2>/dev/null | tail -n 1)}
[[ -f $image ]] || { echo "no guest image (set EMBER_GUEST_IMAGE)" >&2; exit 2; }

say "starting a single-node Ceph cluster ($OSD OSD)"
osd_flag=(); [[ $OSD == memstore ]] && osd_flag=(--memstore)
t0=$(date +%s.%N)
dotnet "$OUT/bin/storage/EmberStorageBench.dll" --env "$OUT/ceph.env" --parent $$ "${osd_flag[@]}" > "$OUT/ceph.log" 2>&1 &
pids+=($!)
for _ in $(seq 1800); do [[ -s $OUT/ceph.env ]] && break; kill -0 "${pids[0]}" 2>/dev/null || { cat "$OUT/ceph.log" >&2; exit 1; }; sleep 0.1; done
[[ -s $OUT/ceph.env ]] || { echo "the cluster did not start" >&2; exit 1; }
. "$OUT/ceph.env"
echo "ceph_start_s=$(echo "$(date +%s.%N) - $t0" | bc)" >> "$OUT/machine.env"
rbd_admin() { rbd -c "$CEPH_ADMIN_CONF" "$@"; }

# ---------------------------------------------------------------- 1. qemu-img bench
say "qemu-img bench: RBD vs Ember NBD (file volume) vs the raw file, ${SIZE_MB} MiB, $ROUNDS rounds"
file=$OUT/disk.raw
dd if=/dev/zero of="$file" bs=1M count="$SIZE_MB" status=none conv=fsync   # allocated, as a written volume is
rbd_admin create --size "${SIZE_MB}M" "$CEPH_POOL/bench"
nbd_port=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
dotnet "$OUT/bin/nbd/EmberNbdBench.dll" --file "$file" --tcp "$nbd_port" --name bench > "$OUT/nbd.log" 2>&1 &
pids+=($!)
for _ in $(seq 300); do grep -q '^ready' "$OUT/nbd.log" && break; sleep 0.1; done
grep -q '^ready' "$OUT/nbd.log" || { cat "$OUT/nbd.log" >&2; exit 1; }

# target|qemu-img bench arguments naming it. The keyring is a path in the filename, never the key itself.
targets=(
  "rbd|-f raw rbd:$CEPH_POOL/bench:id=$CEPH_USER:conf=$CEPH_CONF:keyring=$CEPH_KEYRING"
  "ember-nbd|-f raw nbd://127.0.0.1:$nbd_port/bench"
  "file|-f raw -i native $file"
)
# CPU time (user + system, clock ticks) of a process; the file target has no server process ("-": 0).
ticks=$(getconf CLK_TCK)
cpu_ticks() { [[ $1 == - ]] && { echo 0; return; }; awk '{print $14 + $15}' "/proc/$1/stat"; }
declare -A server_pid=(
  [rbd]=$(pgrep -x -P "${pids[0]}" ceph-osd)
  [ember-nbd]=${pids[1]}
  [file]=-
)
TIMEFORMAT='%U+%S'
# job|count|depth|size|step|write
count_1m=$((SIZE_MB * PASSES_1M))
jobs=(
  "1M seq write QD8|$count_1m|8|1M|1M|-w"
  "1M seq read QD8|$count_1m|8|1M|1M|"
  "4k strided write QD16|$COUNT_4K|16|4k|1052672|-w"
  "4k strided read QD16|$COUNT_4K|16|4k|1052672|"
)
results=$OUT/qemu-img-bench.tsv; : > "$results"
for round in $(seq "$ROUNDS"); do
  for target in "${targets[@]}"; do
    IFS='|' read -r tname targs <<< "$target"
    for job in "${jobs[@]}"; do
      IFS='|' read -r jname count depth size step w <<< "$job"
      server_before=$(cpu_ticks "${server_pid[$tname]}")
      # shellcheck disable=SC2086 # targs and w are word lists
      { time qemu-img bench -t none $w --pattern=0xa5 -c "$count" -d "$depth" -s "$size" -S "$step" $targs \
          > "$OUT/qemu-img-bench.out" 2>&1; } 2> "$OUT/qemu-img-bench.time"
      secs=$(sed -n 's/^Run completed in \([0-9.]*\) seconds\.$/\1/p' "$OUT/qemu-img-bench.out")
      [[ -n $secs ]] || { echo "qemu-img bench failed on $tname ($jname):" >&2; cat "$OUT/qemu-img-bench.out" >&2; exit 1; }
      client_cpu=$(cat "$OUT/qemu-img-bench.time")
      server_cpu=$(echo "($(cpu_ticks "${server_pid[$tname]}") - $server_before) / $ticks" | bc -l)
      printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$tname" "$jname" "$round" "$count" "$size" "$secs" "$client_cpu" "$server_cpu" >> "$results"
      echo "  round $round $tname $jname: $secs s" >&2
    done
  done
done
stop_pid "${pids[1]}"; unset 'pids[1]'; pids=("${pids[@]}")
rbd_admin rm --no-progress "$CEPH_POOL/bench"
rm -f "$file"

# ---------------------------------------------------------------- 2. volume-from-image through ember serve
say "volume-from-image through ember serve, $RUNS runs per image"
big=$OUT/big.raw
# A raw image of BIG_MB MiB whose first BIG_DATA_MB MiB are random (incompressible, no holes), the rest a hole.
dd if=/dev/urandom of="$big" bs=1M count="$BIG_DATA_MB" status=none
truncate -s "${BIG_MB}M" "$big"
big_label="$BIG_MB MiB raw, $BIG_DATA_MB MiB data"

# label|environment of `ember serve` for that row (settings only: paths, no key). The third row keeps the image data
# in the cluster's images pool too, so that a volume from a raw image is a copy-on-write clone.
rbd_env="EMBER_Volume__Backend=rbd EMBER_Volume__Rbd__ConfPath=$CEPH_CONF EMBER_Volume__Rbd__User=$CEPH_USER"
rbd_env+=" EMBER_Volume__Rbd__KeyringPath=$CEPH_KEYRING EMBER_Volume__Rbd__Pool=$CEPH_POOL"
images_env="EMBER_Image__Backend=rbd EMBER_Image__Rbd__ConfPath=$CEPH_CONF EMBER_Image__Rbd__User=$CEPH_USER"
images_env+=" EMBER_Image__Rbd__KeyringPath=$CEPH_KEYRING EMBER_Image__Rbd__Pool=$CEPH_IMAGES_POOL"
rows=(
  "file|EMBER_Volume__Backend=file"
  "rbd|$rbd_env"
  "rbd-images-on-rbd|$rbd_env $images_env"
)
EMBER_ADMIN_PASSWORD=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
export EMBER_ADMIN_PASSWORD
for row in "${rows[@]}"; do
  IFS='|' read -r label settings <<< "$row"
  data=$OUT/ember-data-$label
  rm -rf "$data"; mkdir -p "$data"
  # shellcheck disable=SC2086 # settings is a list of NAME=VALUE words
  env $settings setsid "$EMBER_BIN" serve --data-dir "$data" --listen "127.0.0.1:$EMBER_PORT" --default-image "$image" \
    > "$OUT/ember-$label.log" 2>&1 < /dev/null &
  ember_pid=$!
  for _ in $(seq 600); do [[ -f $data/admin-openrc ]] && curl -sf -o /dev/null "http://127.0.0.1:$EMBER_PORT/identity/v3" && break
    kill -0 "$ember_pid" 2>/dev/null || break; sleep 0.1; done
  curl -sf -o /dev/null "http://127.0.0.1:$EMBER_PORT/identity/v3" || { echo "ember serve ($label) did not come up" >&2; tail -20 "$OUT/ember-$label.log" >&2; exit 1; }
  say "  $label"
  ( . "$data/admin-openrc"; OS_PASSWORD=$EMBER_ADMIN_PASSWORD "$PY" "$here/volume_from_image.py" "$OUT/vfi-$label.json" \
      "guest image=ember-tiny" "$big_label=$big" )
  stop_ember
  rm -rf "$data"
done
# Where the time goes: the same copies Ember makes (docs/volumes.md, docs/ceph.md), by hand, outside Ember.
say "the copy alone: qemu-img convert to a sparse file and into a new RBD image, $RUNS runs per image"
copies=$OUT/copy.tsv; : > "$copies"
rbd_copy="rbd:$CEPH_POOL/copy:id=$CEPH_USER:conf=$CEPH_CONF:keyring=$CEPH_KEYRING"
for spec in "guest image|$image|qcow2" "$big_label|$big|raw"; do
  IFS='|' read -r name src fmt <<< "$spec"
  gib=$(( ($(qemu-img info --output=json "$src" | $PY -c 'import json,sys; print(json.load(sys.stdin)["virtual-size"])') + (1 << 30) - 1) >> 30 ))
  for _ in $(seq "$RUNS"); do
    t=$(date +%s.%N)
    qemu-img convert -f "$fmt" -O raw -S 4k "$src" "$OUT/copy.raw"
    printf '%s\tfile\t%s\n' "$name" "$(echo "$(date +%s.%N) - $t" | bc)" >> "$copies"
    rm -f "$OUT/copy.raw"
    rbd_admin create --size "${gib}G" "$CEPH_POOL/copy"
    t=$(date +%s.%N)
    qemu-img convert -n --target-is-zero -f "$fmt" -O raw "$src" "$rbd_copy"
    printf '%s\trbd\t%s\n' "$name" "$(echo "$(date +%s.%N) - $t" | bc)" >> "$copies"
    rbd_admin rm --no-progress "$CEPH_POOL/copy"
  done
done
[[ -z $(rbd_admin ls "$CEPH_POOL") ]] || echo "warning: the pool is not empty: $(rbd_admin ls "$CEPH_POOL" | tr '\n' ' ')" >&2
echo "load_end=$(cut -d' ' -f1-3 /proc/loadavg)" >> "$OUT/machine.env"

# ---------------------------------------------------------------- table
table=$("$PY" "$here/table.py" "$OUT" "$cmdline" "$(IFS=,; echo "${rows[*]%%|*}")")
echo "$table"
if $write_docs; then
  write_docs_section storage "Storage backends: RBD next to file volumes" "$table"
fi
