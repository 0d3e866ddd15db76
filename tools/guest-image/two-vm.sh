#!/usr/bin/env bash
# Two ember-tiny VMs on ONE shared raw volume (vdb in both), running the seed's exchange
# through guest-exec: vm-001 formats and writes, vm-002 reads and writes, vm-001 reads back.
# Proves the guest keeps no stale block cache across umount/mount.
#
#   tools/guest-image/two-vm.sh [IMAGE.qcow2]
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
image=${1:-$("$here/build.sh" | tail -n1)}
timeout_s=${SMOKE_TIMEOUT:-240}

tmp=$(mktemp -d)
pids=()
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

truncate -s 1G "$tmp/volume.raw"
for n in 1 2; do
  # share-rw lets both VMs write the node; write-cache=off makes every write durable
  # before the guest sees it complete (what a multi-attach volume wants).
  qemu-system-x86_64 -accel tcg -m 256 -smp 1 -nodefaults -display none \
    -chardev "file,id=ser0,path=$tmp/serial$n.log" -serial chardev:ser0 \
    -drive "file=$image,if=none,id=root,format=qcow2,snapshot=on" \
    -device "virtio-blk-pci,drive=root,bootindex=0" \
    -blockdev "driver=file,filename=$tmp/volume.raw,node-name=vol0,cache.direct=on" \
    -device "virtio-blk-pci,drive=vol0,share-rw=on,write-cache=off" \
    -chardev "socket,path=$tmp/qga$n.sock,server=on,wait=off,id=qga0" \
    -device virtio-serial \
    -device "virtserialport,chardev=qga0,name=org.qemu.guest_agent.0" &
  pids+=($!)
done

status=0
timeout "$timeout_s" python3 - "$here" "$tmp/qga1.sock" "$tmp/qga2.sock" <<'PY' || status=$?
import sys, time
sys.path.insert(0, sys.argv[1])
from qga_smoke import Qga, fail, log
vm = {"vm-001": Qga(sys.argv[2]), "vm-002": Qga(sys.argv[3])}
t0 = time.monotonic()
for q in vm.values():
    while not q.sync(1.0):
        if time.monotonic() - t0 > 180:
            fail("agents never answered")
log(f"both agents ready   {time.monotonic() - t0:6.2f} s")
t0 = time.monotonic()
steps = [
    ("vm-001", "mkdir /tmp/1", None), ("vm-001", "sudo mkfs.ext3 /dev/vdb", None),
    ("vm-001", "sudo mount /dev/vdb /tmp/1", None), ("vm-001", 'echo "vm-001" > /tmp/1/1', None),
    ("vm-001", "sudo umount /dev/vdb", None),
    ("vm-002", "mkdir /tmp/1", None), ("vm-002", "sudo mount /dev/vdb /tmp/1", None),
    ("vm-002", "cat /tmp/1/1", "vm-001"), ("vm-002", 'echo "vm-002" > /tmp/1/1', None),
    ("vm-002", "sudo umount /dev/vdb", None),
    ("vm-001", "sudo mount /dev/vdb /tmp/1", None), ("vm-001", "cat /tmp/1/1", "vm-002"),
    ("vm-001", "sudo umount /dev/vdb", None),
]
for name, cmd, want in steps:
    out = vm[name].must(cmd).strip()
    if want is not None and out != want:
        fail(f"{name}: `{cmd}` printed {out!r}, wanted {want!r}")
    log(f"  {name}$ {cmd}" + (f"  -> {out}" if want else ""))
log(f"exchange            {time.monotonic() - t0:6.2f} s")
log("two-vm: all passed")
PY
if ((status != 0)); then
  echo "two-vm: FAILED; serial consoles:" >&2
  tail -n 20 "$tmp"/serial*.log >&2 || true
fi
exit "$status"
