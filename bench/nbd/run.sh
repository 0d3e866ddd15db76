#!/usr/bin/env bash
# Ember's NBD server vs qemu-nbd vs nbdkit (file plugin), all serving the same file over a unix socket,
# plus fio straight on the file as the physical reference. Same fio jobs, same invocation; prints a table
# of IOPS / MiB/s (median of ROUNDS runs, servers interleaved per round) and Ember's ratio to each peer.
# A second table runs the same jobs over loopback TCP, plain and with TLS (client certificates, as `ember serve`
# makes them), for Ember and for qemu-nbd's TLS mode: TLS/plain is the issue's "within 80%" figure.
#
#   bench/nbd/run.sh                 # defaults: 512 MiB file, 10 s per job, 3 rounds
#   SIZE_MB=1024 RUNTIME=20 ROUNDS=5 bench/nbd/run.sh
#   BASE=/tmp/ember-main bench/nbd/run.sh   # also runs the server built from another checkout (before/after, same run)
#   SKIP="file ember-pipelines ember-tuned" bench/nbd/run.sh   # leaves those servers out
#
# Needs fio (with the nbd engine), qemu-nbd (qemu-utils), nbdkit, the .NET SDK, python3.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
SIZE_MB=${SIZE_MB:-512}
RUNTIME=${RUNTIME:-10}
ROUNDS=${ROUNDS:-3}
work=$(mktemp -d /tmp/ember-nbd-bench.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

fio --enghelp 2>/dev/null | grep -qx $'\tnbd' || { echo "fio has no nbd engine" >&2; exit 1; }
dotnet build -c Release "$here/EmberNbdBench/EmberNbdBench.csproj" -o "$work/ember" >/dev/null
[[ -n ${BASE:-} ]] && dotnet build -c Release "$BASE/bench/nbd/EmberNbdBench/EmberNbdBench.csproj" -o "$work/ember-base" >/dev/null
file="$work/disk.raw"
# Fully allocated random data, so no server gets a free ride from holes.
dd if=/dev/urandom of="$file" bs=1M count="$SIZE_MB" status=none
sync

# name|rw|bs|iodepth|numjobs
jobs=(
  "4k randread QD16|randread|4k|16|1"
  "4k randwrite QD16|randwrite|4k|16|1"
  "4k randread 2 jobs|randread|4k|16|2"
  "1M seqread QD8|read|1M|8|1"
  "1M seqwrite QD8|write|1M|8|1"
)
# ember: the default (NbdConnectionModel.DedicatedThread, one blocking thread per connection).
# ember-pipelines: the async Pipelines loop (ConnectionModel=Pipelines), the default before it.
# ember-tuned: Pipelines plus DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1 (socket continuations on the epoll
# thread) plus NbdServerOptions.InlineBufferedWrites: the fastest Pipelines setup, which needs a process-wide switch.
servers=(file ember ember-pipelines ember-tuned qemu-nbd nbdkit)
tcp_servers=(ember-tcp ember-tls qemu-nbd-tcp qemu-nbd-tls)
# With BASE: the same default server and TLS server built from that checkout, interleaved in the same rounds.
[[ -n ${BASE:-} ]] && servers+=(ember-base) && tcp_servers+=(ember-tls-base)
# SKIP="ember-pipelines ember-tuned": leave those servers out (a shorter run on a busy machine).
skip=" ${SKIP:-} "
port=$((20000 + RANDOM % 20000))
# TLS: Ember makes the CA, server and client certificates (as `ember serve` does) and qemu-nbd serves with the same.
# fio's nbd engine (libnbd) may not read a certificate directory named in the URI, and as root only looks in
# /etc/pki/libnbd; as another user it looks in $HOME/.pki/libnbd. So the TLS runs of fio are run as nobody.
tls="$work/tls"
tls_home="$work/tls-home"
tls_fio=(setpriv --reuid=65534 --regid=65534 --clear-groups env "HOME=$tls_home")

wait_socket() { for _ in $(seq 1 200); do [[ -S $1 ]] && return 0; sleep 0.05; done; echo "no socket $1" >&2; exit 1; }

start_server() { # $1 = server; sets target (fio args) and runner (what fio runs under)
  local sock="$work/$1.sock"
  runner=()
  rm -f "$sock"
  case $1 in
    file) target=(--ioengine=io_uring "--filename=$file"); return ;;
    ember) dotnet "$work/ember/EmberNbdBench.dll" --file "$file" --socket "$sock" --name bench >"$work/ember.log" 2>&1 &
           pids+=($!); server_pid=$!; wait_socket "$sock"; target=(--ioengine=nbd "--uri=nbd+unix:///bench?socket=$sock") ;;
    ember-pipelines) dotnet "$work/ember/EmberNbdBench.dll" --file "$file" --socket "$sock" --name bench --model Pipelines >"$work/ember-pipelines.log" 2>&1 &
           pids+=($!); server_pid=$!; wait_socket "$sock"; target=(--ioengine=nbd "--uri=nbd+unix:///bench?socket=$sock") ;;
    ember-tuned) DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1 dotnet "$work/ember/EmberNbdBench.dll" --file "$file" --socket "$sock" --name bench --model Pipelines --inline-writes >"$work/ember-tuned.log" 2>&1 &
           pids+=($!); server_pid=$!; wait_socket "$sock"; target=(--ioengine=nbd "--uri=nbd+unix:///bench?socket=$sock") ;;
    qemu-nbd) qemu-nbd -f raw -e 0 -t -k "$sock" "$file" >"$work/qemu-nbd.log" 2>&1 &
           pids+=($!); server_pid=$!; wait_socket "$sock"; target=(--ioengine=nbd "--uri=nbd+unix:///?socket=$sock") ;;
    nbdkit) nbdkit -f -U "$sock" file "$file" >"$work/nbdkit.log" 2>&1 &
           pids+=($!); server_pid=$!; wait_socket "$sock"; target=(--ioengine=nbd "--uri=nbd+unix:///?socket=$sock") ;;
    ember-base) dotnet "$work/ember-base/EmberNbdBench.dll" --file "$file" --socket "$sock" --name bench >"$work/ember-base.log" 2>&1 &
           pids+=($!); server_pid=$!; wait_socket "$sock"; target=(--ioengine=nbd "--uri=nbd+unix:///bench?socket=$sock") ;;
    ember-tcp|ember-tls|ember-tls-base)
           local extra=() bin=ember; [[ $1 == ember-tls* ]] && extra=(--tls-dir "$tls"); [[ $1 == *-base ]] && bin=ember-base
           dotnet "$work/$bin/EmberNbdBench.dll" --file "$file" --tcp "$port" --name bench "${extra[@]}" >"$work/$1.log" 2>&1 &
           pids+=($!); server_pid=$!; wait_port ;;
    qemu-nbd-tcp) qemu-nbd -f raw -e 0 -t -b 127.0.0.1 -p "$port" -x bench "$file" >"$work/$1.log" 2>&1 &
           pids+=($!); server_pid=$!; wait_port ;;
    qemu-nbd-tls) qemu-nbd -f raw -e 0 -t -b 127.0.0.1 -p "$port" -x bench --object "tls-creds-x509,id=tls0,endpoint=server,dir=$tls" \
             --tls-creds tls0 "$file" >"$work/$1.log" 2>&1 &
           pids+=($!); server_pid=$!; wait_port ;;
  esac
  case $1 in
    *-tcp) target=(--ioengine=nbd "--uri=nbd://127.0.0.1:$port/bench") ;;
    *-tls|*-tls-base) target=(--ioengine=nbd "--uri=nbds://127.0.0.1:$port/bench"); runner=("${tls_fio[@]}") ;;
  esac
}

wait_port() { for _ in $(seq 1 200); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0; sleep 0.05; done
  echo "nothing listens on port $port" >&2; exit 1; }

stop_server() { [[ $1 == file ]] && return; kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; }

# The TLS credentials, made once by Ember's own code, and the client's copy where libnbd looks for it.
start_server ember-tls; stop_server ember-tls
mkdir -p "$tls_home/.pki" && cp -r "$tls/client" "$tls_home/.pki/libnbd" && chown -R 65534:65534 "$tls_home"
chmod 755 "$work"

results="$work/results.tsv"
: >"$results"
for round in $(seq 1 "$ROUNDS"); do
  for server in "${servers[@]}" "${tcp_servers[@]}"; do
    [[ $skip == *" $server "* ]] && continue
    start_server "$server"
    for job in "${jobs[@]}"; do
      IFS='|' read -r name rw bs depth numjobs <<<"$job"
      out=$(cd "$work" && "${runner[@]}" fio --name=bench "${target[@]}" --rw="$rw" --bs="$bs" --iodepth="$depth" --numjobs="$numjobs" \
        --size="${SIZE_MB}M" --time_based --runtime="$RUNTIME" --ramp_time=1 --group_reporting --output-format=json)
      python3 - "$server" "$name" "$bs" "$round" >>"$results" <<PY
import json, sys
server, name, bs, rnd = sys.argv[1:]
d = json.loads('''$out'''[ '''$out'''.index('{'): ])
j = d["jobs"][0]
iops = j["read"]["iops"] + j["write"]["iops"]
mibs = (j["read"]["bw_bytes"] + j["write"]["bw_bytes"]) / 1048576
print(f"{server}\t{name}\t{bs}\t{rnd}\t{iops:.0f}\t{mibs:.1f}")
PY
      echo "round $round $server $name done" >&2
    done
    stop_server "$server"
  done
done

python3 - "$results" "$SIZE_MB" "$RUNTIME" "$ROUNDS" <<'PY'
import sys, statistics, collections
path, size, runtime, rounds = sys.argv[1:]
rows = collections.defaultdict(list)
order = []
for line in open(path):
    server, name, bs, rnd, iops, mibs = line.rstrip("\n").split("\t")
    if name not in order: order.append(name)
    rows[(server, name)].append(float(mibs) if bs == "1M" else float(iops))
med = {k: statistics.median(v) for k, v in rows.items()}
servers = ["file", "ember", "ember-pipelines", "ember-tuned", "qemu-nbd", "nbdkit"]
print(f"\nfio ioengine=nbd over a unix socket; {size} MiB random-filled file; {runtime} s per job; median of {rounds} rounds")
print("4k rows: IOPS; 1M rows: MiB/s. Ember = default (dedicated thread per connection); pipelines = ConnectionModel=Pipelines; tuned = pipelines + DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1 + InlineBufferedWrites\n")
print("| job | file (fio io_uring, no NBD) | Ember | Ember pipelines | Ember tuned | qemu-nbd -e 0 | nbdkit file | Ember/nbdkit | Ember/qemu-nbd | pipelines/nbdkit | tuned/nbdkit |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for name in order:
    v = [med.get((s, name), 0) for s in servers]
    fmt = lambda x: f"{x/1000:.1f}k" if "4k" in name else f"{x:.0f}"
    r = lambda a, b: f"{a/b:.2f}x" if b else "n/a"
    print(f"| {name} | {fmt(v[0])} | {fmt(v[1])} | {fmt(v[2])} | {fmt(v[3])} | {fmt(v[4])} | {fmt(v[5])} | {r(v[1], v[5])} | {r(v[1], v[4])} | {r(v[2], v[5])} | {r(v[3], v[5])} |")
tcp = ["ember-tcp", "ember-tls", "qemu-nbd-tcp", "qemu-nbd-tls"]
print(f"\nThe same jobs over loopback TCP, plain and with TLS 1.3 (client certificates); median of {rounds} rounds\n")
print("| job | Ember TCP | Ember TLS | qemu-nbd TCP | qemu-nbd TLS | Ember TLS/TCP | qemu-nbd TLS/TCP | Ember TLS/qemu-nbd TLS |")
print("|---|---|---|---|---|---|---|---|")
for name in order:
    v = [med.get((s, name), 0) for s in tcp]
    fmt = lambda x: f"{x/1000:.1f}k" if "4k" in name else f"{x:.0f}"
    r = lambda a, b: f"{a/b:.2f}x" if b else "n/a"
    print(f"| {name} | {fmt(v[0])} | {fmt(v[1])} | {fmt(v[2])} | {fmt(v[3])} | {r(v[1], v[0])} | {r(v[3], v[2])} | {r(v[1], v[3])} |")
if any(s == "ember-base" for s, _ in med):
    print(f"\nBefore/after in the same rounds: the server built from BASE against this tree; median of {rounds} rounds\n")
    print("| job | Ember unix (base) | Ember unix | after/base | nbdkit | base/nbdkit | after/nbdkit | Ember TLS (base) | Ember TLS | after/base | TLS/TCP base | TLS/TCP after |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name in order:
        b, a, k = (med.get((s, name), 0) for s in ("ember-base", "ember", "nbdkit"))
        tb, ta, tcp0 = (med.get((s, name), 0) for s in ("ember-tls-base", "ember-tls", "ember-tcp"))
        fmt = lambda x: f"{x/1000:.1f}k" if "4k" in name else f"{x:.0f}"
        r = lambda a, b: f"{a/b:.2f}x" if b else "n/a"
        print(f"| {name} | {fmt(b)} | {fmt(a)} | {r(a, b)} | {fmt(k)} | {r(b, k)} | {r(a, k)} | {fmt(tb)} | {fmt(ta)} | {r(ta, tb)} | {r(tb, tcp0)} | {r(ta, tcp0)} |")
PY
