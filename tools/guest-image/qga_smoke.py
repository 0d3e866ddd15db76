#!/usr/bin/env python3
"""Drives the ember-tiny smoke test (see smoke.sh): waits for the serial console and the
guest agent, runs the seed's disk steps through guest-exec, hot-plugs a disk over QMP and
checks it appears as /dev/vdc, then powers the guest off through the agent.

Standard library only. Prints timings; exits non-zero on the first failure."""
import base64
import json
import os
import socket
import sys
import time


def log(msg):
    print(msg, flush=True)


def fail(msg):
    print(f"FAIL: {msg}", file=sys.stderr, flush=True)
    sys.exit(1)


class Qga:
    """qemu-ga client on the host end of the virtio-serial channel."""

    def __init__(self, path):
        self.path = path
        self.sock = None
        self.buf = b""

    def _connect(self):
        if self.sock is None:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.connect(self.path)
            self.buf = b""

    def _read_json(self, deadline):
        while True:
            line, sep, rest = self.buf.partition(b"\n")
            if sep:
                self.buf = rest
                # guest-sync-delimited replies start with 0xFF; skip it and stale bytes.
                line = line.replace(b"\xff", b"").strip()
                if line:
                    try:
                        return json.loads(line)
                    except ValueError:
                        continue
                continue
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no reply from the guest agent")
            self.sock.settimeout(left)
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("agent socket closed")
            self.buf += chunk

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def sync(self, timeout):
        """One guest-sync-delimited round trip; True when the agent answered.
        Until qemu-ga opens its port QEMU may not read the socket, so a send can block:
        treat that like no answer and start over on a new connection."""
        ident = int.from_bytes(os.urandom(4), "little")
        deadline = time.monotonic() + timeout
        try:
            self._connect()
            self.sock.settimeout(timeout)
            # 0xFF makes the agent's parser drop anything half-written before it.
            self.sock.sendall(b"\xff" + json.dumps(
                {"execute": "guest-sync-delimited", "arguments": {"id": ident}}).encode() + b"\n")
            while True:
                msg = self._read_json(deadline)
                if msg.get("return") == ident:
                    return True
        except (TimeoutError, socket.timeout, ConnectionError, OSError):
            self.close()
            time.sleep(0.1)
            return False

    def call(self, cmd, args=None, timeout=30):
        self._connect()
        req = {"execute": cmd}
        if args is not None:
            req["arguments"] = args
        self.sock.settimeout(timeout)
        self.sock.sendall(json.dumps(req).encode() + b"\n")
        msg = self._read_json(time.monotonic() + timeout)
        if "error" in msg:
            fail(f"{cmd}: {msg['error']}")
        return msg.get("return")

    def send_only(self, cmd, args=None):
        req = {"execute": cmd}
        if args is not None:
            req["arguments"] = args
        self.sock.sendall(json.dumps(req).encode() + b"\n")

    def sh(self, script, timeout=60):
        """Runs `sh -c script` in the guest; returns (exit code, stdout, stderr)."""
        pid = self.call("guest-exec", {"path": "sh", "arg": ["-c", script],
                                       "capture-output": True})["pid"]
        deadline = time.monotonic() + timeout
        while True:
            st = self.call("guest-exec-status", {"pid": pid})
            if st.get("exited"):
                out = base64.b64decode(st.get("out-data", "")).decode(errors="replace")
                err = base64.b64decode(st.get("err-data", "")).decode(errors="replace")
                return st.get("exitcode", -1), out, err
            if time.monotonic() > deadline:
                fail(f"guest-exec timed out: {script}")
            time.sleep(0.02)

    def must(self, script, timeout=60):
        code, out, err = self.sh(script, timeout)
        if code != 0:
            fail(f"`{script}` exited {code}\nstdout: {out}\nstderr: {err}")
        return out


class Qmp:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(path)
        self.file = self.sock.makefile("rb")
        self.events = []
        json.loads(self.file.readline())  # greeting
        self.call("qmp_capabilities")

    def call(self, cmd, args=None):
        req = {"execute": cmd}
        if args is not None:
            req["arguments"] = args
        self.sock.sendall(json.dumps(req).encode() + b"\n")
        while True:
            msg = json.loads(self.file.readline())
            if "event" in msg:
                self.events.append(msg)
                continue
            if "error" in msg:
                fail(f"QMP {cmd}: {msg['error']}")
            return msg["return"]

    def wait_event(self, name, timeout):
        deadline = time.monotonic() + timeout
        while not any(e["event"] == name for e in self.events):
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.sock.settimeout(left)
            try:
                line = self.file.readline()
            except (TimeoutError, socket.timeout):
                return False
            if not line:
                return name == "SHUTDOWN"  # QEMU exited: it shut down
            msg = json.loads(line)
            if "event" in msg:
                self.events.append(msg)
        return True


def wait_for(what, pred, timeout, step=0.05):
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(step)


def main():
    qmp_path, qga_path, serial_log, hotplug_disk = sys.argv[1:5]
    t0 = float(os.environ.get("SMOKE_T0", time.time()))
    since = lambda: time.time() - t0  # noqa: E731

    def serial():
        try:
            with open(serial_log, "rb") as f:
                return f.read()
        except FileNotFoundError:
            return b""

    wait_for("serial output", lambda: serial().strip(), 60)
    t_serial = since()
    wait_for("the guest's boot line", lambda: b"ember-tiny: up" in serial(), 120)
    t_up = since()

    qga = Qga(qga_path)
    deadline = time.monotonic() + 120
    while not qga.sync(1.0):
        if time.monotonic() > deadline:
            fail("guest agent never answered guest-sync")
    t_agent = since()
    log(f"first serial output   {t_serial:6.2f} s")
    log(f"init started (rcS)    {t_up:6.2f} s")
    log(f"guest agent ready     {t_agent:6.2f} s")

    info = qga.call("guest-info")
    log(f"qemu-ga {info['version']}, guest-exec enabled: "
        f"{any(c['name'] == 'guest-exec' and c['enabled'] for c in info['supported_commands'])}")
    sizes = qga.must("cat /sys/block/vda/size /sys/block/vdb/size").split()
    log(f"vda {int(sizes[0]) // 2048} MiB (root disk), vdb {int(sizes[1]) // 2048} MiB")

    # The seed's first exchange, step by step as separate guest-exec calls.
    t = time.monotonic()
    for cmd in ["mkdir /tmp/1", "sudo mkfs.ext3 /dev/vdb", "sudo mount /dev/vdb /tmp/1",
                'echo "vm-001" > /tmp/1/1', "sudo umount /dev/vdb",
                "sudo mount /dev/vdb /tmp/1"]:
        ts = time.monotonic()
        qga.must(cmd)
        log(f"  {time.monotonic() - ts:5.2f} s  {cmd}")
    got = qga.must("cat /tmp/1/1").strip()
    qga.must("sudo umount /dev/vdb")
    if got != "vm-001":
        fail(f"read back {got!r}, wanted 'vm-001'")
    log(f"mkfs.ext3+mount+write+umount+mount+read on vdb: {time.monotonic() - t:5.2f} s")

    # Hot-plug a second data disk: it must appear as /dev/vdc.
    qmp = Qmp(qmp_path)
    t = time.monotonic()
    qmp.call("blockdev-add", {"driver": "raw", "node-name": "hp0",
                              "file": {"driver": "file", "filename": hotplug_disk}})
    qmp.call("device_add", {"driver": "virtio-blk-pci", "id": "hpdisk0", "drive": "hp0",
                            "serial": "hotplug-0"})
    deadline = time.monotonic() + 30
    while qga.sh("test -b /dev/vdc")[0] != 0:
        if time.monotonic() > deadline:
            fail("hot-plugged disk never appeared as /dev/vdc")
        time.sleep(0.2)
    serial_no = qga.must("cat /sys/block/vdc/serial").strip()
    if serial_no != "hotplug-0":
        fail(f"/dev/vdc has serial {serial_no!r}, not the hot-plugged disk")
    log(f"hot-plugged disk visible as /dev/vdc: {time.monotonic() - t:5.2f} s")
    qga.must("mkdir /tmp/2 && mkfs.ext3 -q /dev/vdc && mount /dev/vdc /tmp/2 && "
             "echo vdc-vm-001 > /tmp/2/1 && umount /dev/vdc && mount /dev/vdc /tmp/2")
    got = qga.must("cat /tmp/2/1").strip()
    qga.must("umount /dev/vdc")
    if got != "vdc-vm-001":
        fail(f"read back {got!r} from vdc")
    log("mkfs.ext3+mount+write+read on vdc: ok")

    # Clean power-off: through the agent (busybox has no `shutdown`: the image maps it), or
    # with SMOKE_POWEROFF=acpi through the ACPI power button (busybox acpid runs poweroff).
    t = time.monotonic()
    if os.environ.get("SMOKE_POWEROFF", "agent") == "acpi":
        how = "QMP system_powerdown"
        qmp.call("system_powerdown")
    else:
        how = "guest-shutdown"
        qga.send_only("guest-shutdown", {"mode": "powerdown"})
    if not qmp.wait_event("SHUTDOWN", 30):
        fail(f"{how} did not power the guest off")
    log(f"{how} powered off in {time.monotonic() - t:5.2f} s")
    log("smoke: all passed")


if __name__ == "__main__":
    main()
