#!/usr/bin/python3
"""Boot trace of one server at a time through the Compute API, per boot variant (bench/boot/run.sh).

  boot.py OUT.json          env: OS_* (admin-openrc), DATA (ember's data dir), LOG (ember serve's log),
                            IMAGE_FILE (the ember-tiny qcow2), BEFORE_IMAGE (an older one, optional), BOOTS (5),
                            VARIANTS (space-separated, default all those whose image is given)
  boot.py --table DIR       prints the markdown table from DIR/boot.json and DIR/machine.env

Each variant is the same qcow2 registered as its own image; the kernel variants also carry Glance's kernel_id /
ramdisk_id (the image's kernel and initramfs, registered as aki / ari images) and os_command_line, the way Nova's
libvirt driver boots AMI-style images. The bzImage and initramfs are copied out of the image's FAT partition with
mtools; the uncompressed kernel sits beside the qcow2 (NAME.kernel, as tools/guest-image/build.sh leaves it).
"""
import datetime
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'e2e'))

# The guest image's own command line (tools/guest-image/build.sh, syslinux.cfg), then what each lever adds.
BASE_CMDLINE = 'console=ttyS0,115200 panic=5 quiet'
# Work the kernel does at boot for hardware or checks this guest has no use for: crypto self-tests, the IO-APIC
# timer check, audit, RCU grace periods waited out in full, three legacy UARTs beyond ttyS0, the PS/2 mouse port.
# (tsc=reliable, which also skips the TSC watchdog, was tried and dropped: on a starved host a guest's clock then ran
# 19 s ahead, as its TSC calibration went wrong and nothing corrected it.)
TUNED_CMDLINE = BASE_CMDLINE + ' cryptomgr.notests no_timer_check audit=0 rcupdate.rcu_expedited=1 ' \
    '8250.nr_uarts=1 i8042.noaux'
VARIANTS = {
    # name: (the qcow2: BEFORE_IMAGE or IMAGE_FILE, the kernel: None (the disk's boot loader), 'bzImage' (the
    #        compressed one syslinux loads) or 'kernel' (NAME.kernel: the uncompressed ELF, PVH entry), the command line, what it is)
    'before': ('BEFORE_IMAGE', None, None, 'the guest image before this work (BEFORE_IMAGE): SeaBIOS -> syslinux on the disk -> kernel'),
    'bios': ('IMAGE_FILE', None, None, 'this guest image (rcS: virtio-rng first, the /dev/random read after the modules), same boot'),
    'kernel': ('IMAGE_FILE', 'bzImage', BASE_CMDLINE, 'direct kernel boot of the bzImage (kernel_id / ramdisk_id), the boot loader\'s command line'),
    'tuned': ('IMAGE_FILE', 'bzImage', TUNED_CMDLINE, 'as `kernel`, command line + `%s`' % TUNED_CMDLINE[len(BASE_CMDLINE) + 1:]),
    'pvh': ('IMAGE_FILE', 'kernel', TUNED_CMDLINE, 'as `tuned`, with the uncompressed kernel (PVH entry: no decompression); what ember-tiny boots now'),
}
PHASES = [
    ('api', 'API + scheduling (POST -> spawn starts on the host)'),
    ('image', 'image preparation (fetch + verify + qcow2 overlay, network, config drive)'),
    ('qemu', 'QEMU exec -> QMP answers'),
    ('cont', 'boot disks over QMP + `cont` -> CPUs run'),
    ('firmware', 'firmware (SeaBIOS) -> boot loader banner'),
    ('loader', 'boot loader / kernel load + decompression -> kernel clock 0'),
    ('kernel', 'kernel: clock 0 -> `Run /init`'),
    ('init', 'init (busybox rcS: modules, mounts) -> "up"'),
    ('agent', 'rcS done -> `ember-exec true` answers (qemu-ga start, virtio-serial, API)'),
]


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def kernel_files(qcow2, work):
    """{'bzImage', 'kernel', 'initrd'}: the bzImage and initrd copied out of the image's FAT partition (1 MiB in), and
    NAME.kernel / NAME.initrd beside the image when there (tools/guest-image/build.sh)."""
    raw = os.path.join(work, 'disk.raw')
    subprocess.run(['qemu-img', 'convert', '-O', 'raw', qcow2, raw], check=True)
    env = dict(os.environ, MTOOLS_SKIP_CHECK='1')
    files = {}
    for name, key in (('vmlinuz', 'bzImage'), ('initrd.img', 'initrd')):
        files[key] = os.path.join(work, key)
        subprocess.run(['mcopy', '-o', '-i', raw + '@@1048576', '::/' + name, files[key]], check=True, env=env)
    os.remove(raw)
    stem = qcow2[:-len('.qcow2')] if qcow2.endswith('.qcow2') else qcow2
    if os.path.isfile(stem + '.kernel') and os.path.isfile(stem + '.initrd'):
        files['kernel'], files['initrd'] = stem + '.kernel', stem + '.initrd'
    return files


class Bench:
    def __init__(self):
        from rest import Cloud, endpoint
        self.c = Cloud()
        region = os.environ.get('OS_REGION_NAME')
        self.nova_ep = endpoint(self.c.catalog, ('compute',), region)
        self.image_ep = endpoint(self.c.catalog, ('image',), region) + '/v2'
        self.data = os.environ['DATA']
        self.log_path = os.environ['LOG']

    def nova(self, method, path, body=None):
        return self.c.call(method, path, body, version='compute 2.60', ep=self.nova_ep, retry500=False)

    def upload(self, name, path, disk_format, props):
        body = {'name': name, 'disk_format': disk_format, 'container_format': 'bare', 'visibility': 'public'}
        body.update(props or {})
        st, js, raw = self.c.call('POST', '/images', body, version=None, ep=self.image_ep)
        if st != 201:
            raise RuntimeError('POST /images: HTTP %d %s' % (st, raw[:300]))
        with open(path, 'rb') as f:
            data = f.read()
        st, _, raw = self.c.call('PUT', '/images/%s/file' % js['id'], None, version=None, ep=self.image_ep,
                                 headers={'Content-Type': 'application/octet-stream'}, data=data)
        if st != 204:
            raise RuntimeError('PUT /images/%s/file: HTTP %d %s' % (js['id'], st, raw[:300]))
        return js['id']

    def exec_(self, sid, *cmd, timeout=10):
        st, js, raw = self.nova('POST', '/servers/%s/action' % sid, {'ember-exec': {'command': list(cmd), 'timeout': timeout}})
        return (st, js['exit_code'], js.get('stdout', '')) if st == 200 else (st, None, raw)

    def log_line(self, pattern, deadline):
        """(wall time, match) of the first line of Ember's log matching pattern; its HH:mm:ss.fff is local time."""
        rx = re.compile(r'^(\d\d):(\d\d):(\d\d)\.(\d{3}) .*' + pattern)
        while time.time() < deadline:
            with open(self.log_path, errors='replace') as f:
                for line in f:
                    m = rx.search(line)
                    if m:
                        h, mi, s, ms = (int(x) for x in m.groups()[:4])
                        t = datetime.datetime.combine(datetime.date.today(), datetime.time(h, mi, s, ms * 1000))
                        return t.timestamp(), m
            time.sleep(0.1)
        raise RuntimeError('no log line matching %r' % pattern)

    def boot(self, image, flavor, name):
        seen = {}
        stop = threading.Event()
        t0 = time.time()
        st, js, raw = self.nova('POST', '/servers', {'server': {'name': name, 'imageRef': image, 'flavorRef': flavor, 'networks': 'none'}})
        if st != 202:
            raise RuntimeError('POST /servers: HTTP %d %s' % (st, raw[:300]))
        sid = js['server']['id']
        console = os.path.join(self.data, 'instances', sid, 'console.log')

        def watch():  # first sight of each console marker, polled every 10 ms
            while not stop.is_set():
                try:
                    text = open(console, errors='replace').read()
                except OSError:
                    text = ''
                now = time.time()
                for key, needle in (('syslinux', 'SYSLINUX'), ('up', 'ember-tiny: up in')):
                    if key not in seen and needle in text:
                        seen[key] = now
                m = re.search(r'ember-tiny: up in ([\d.]+)s', text)
                if m:
                    seen['up_uptime'] = float(m.group(1))
                    return
                time.sleep(0.01)
        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        try:
            end = time.time() + 300
            while True:
                st, code, out = self.exec_(sid, 'true')
                if st == 200 and code == 0:
                    t_agent = time.time()
                    break
                if time.time() > end:
                    raise RuntimeError('%s: no guest agent within 300 s (last HTTP %s)' % (name, st))
                if st != 409:
                    _, sj, _ = self.nova('GET', '/servers/%s' % sid)
                    if (sj or {}).get('server', {}).get('status') == 'ERROR':
                        raise RuntimeError('%s went to ERROR: %s' % (name, sj['server'].get('fault')))
                time.sleep(0.05)
            st, code, out = self.exec_(sid, '/bin/sh', '-c', 'dmesg | grep -m1 "Run /init"; cat /proc/cmdline')
            watcher.join(10)
        finally:
            stop.set()
        m = re.search(r'\[\s*([\d.]+)\] Run /init', out or '')
        run_init = float(m.group(1)) if m else None
        deadline = time.time() + 30
        t_started, ms = self.log_line(r'Server %s started in (\d+) ms: volumes (\d+) ms, image (\d+) ms, network and config drive (\d+) ms, '
                                      r'QEMU (\d+) ms' % sid, deadline)
        total_ms, vol_ms, img_ms, net_ms, _ = (int(x) for x in ms.groups()[4:])
        t_cpus, mq = self.log_line(r'QEMU for %s running as pid \d+: QMP answered (\d+) ms after the exec, CPUs started (\d+) ms' % sid, deadline)
        qmp_ms, cpus_ms = (int(x) for x in mq.groups()[4:])
        spawn = t_started - total_ms / 1000
        prepared = spawn + (vol_ms + img_ms + net_ms) / 1000
        t_qmp = t_cpus - (cpus_ms - qmp_ms) / 1000
        k0 = seen['up'] - seen['up_uptime'] if 'up' in seen and 'up_uptime' in seen else None
        r = {'id': sid, 'total': t_agent - t0, 'api': spawn - t0, 'image': prepared - spawn, 'qemu': t_qmp - prepared,
             'cont': t_cpus - t_qmp, 'cmdline': (out or '').strip().splitlines()[-1:]}
        if k0 is not None:
            if 'syslinux' in seen:
                r['firmware'] = seen['syslinux'] - t_cpus
                r['loader'] = k0 - seen['syslinux']
            else:
                r['loader'] = k0 - t_cpus
            if run_init is not None:
                r['kernel'] = run_init
                r['init'] = seen['up_uptime'] - run_init
            r['agent'] = t_agent - seen['up']
        return r

    def delete(self, sid):
        self.nova('DELETE', '/servers/%s' % sid)
        end = time.time() + 120
        while time.time() < end:
            if self.nova('GET', '/servers/%s' % sid)[0] == 404:
                return
            time.sleep(0.1)
        raise RuntimeError('server %s not gone' % sid)


def run(out):
    b = Bench()
    boots = int(os.environ.get('BOOTS', 5))
    names = os.environ.get('VARIANTS', ' '.join(n for n, v in VARIANTS.items() if os.environ.get(v[0]))).split()
    qcow2 = os.environ['IMAGE_FILE']
    st, js, raw = b.nova('POST', '/flavors', {'flavor': {'name': 'boot-%d' % os.getpid(), 'ram': 256, 'vcpus': 1, 'disk': 1, 'id': 'auto'}})
    if st != 200:
        raise RuntimeError('POST /flavors: HTTP %d %s' % (st, raw[:300]))
    flavor = js['flavor']['id']
    images = {}
    with tempfile.TemporaryDirectory() as work:
        files = kernel_files(qcow2, work)
        kernels = {}
        ramdisk = b.upload('boot-ramdisk', files['initrd'], 'ari', None)
        for name in names:
            file_var, kernel, cmdline, _ = VARIANTS[name]
            if kernel is not None and kernel not in kernels:
                if kernel not in files:
                    raise RuntimeError('variant %s needs %s beside %s (tools/guest-image/build.sh)' % (name, kernel, qcow2))
                kernels[kernel] = b.upload('boot-' + kernel, files[kernel], 'aki', None)
            props = None if kernel is None else {'kernel_id': kernels[kernel], 'ramdisk_id': ramdisk, 'os_command_line': cmdline}
            images[name] = b.upload('boot-' + name, os.environ[file_var], 'qcow2', props)
    R = {'boots': boots, 'variants': {n: {'about': VARIANTS[n][3], 'runs': []} for n in names}}
    # One warm-up boot (page cache, the accelerator probe), not counted.
    r = b.boot(images[names[0]], flavor, 'warm-up')
    b.delete(r['id'])
    for i in range(boots):
        for name in names:
            r = b.boot(images[name], flavor, '%s-%d' % (name, i))
            b.delete(r['id'])
            R['variants'][name]['runs'].append(r)
            log('%-14s #%d  total %6.0f ms  %s' % (name, i, r['total'] * 1000, '  '.join(
                '%s %.0f' % (k, r[k] * 1000) for k, _ in PHASES if k in r)))
            json.dump(R, open(out, 'w'), indent=1)


def table(d):
    R = json.load(open(os.path.join(d, 'boot.json')))
    env = dict(line.rstrip('\n').split('=', 1) for line in open(os.path.join(d, 'machine.env')) if '=' in line)
    names = list(R['variants'])

    def med(name, key):
        xs = [r[key] for r in R['variants'][name]['runs'] if key in r]
        return statistics.median(xs) if xs else None

    def cell(v):
        return '' if v is None else ('%.2f s' % v if v >= 1 else '%.0f ms' % (v * 1000))
    lines = ['Produced by `bench/boot/run.sh --write-docs`: one `ember serve` (SQLite), one m1 server at a time '
             '(256 MiB, 1 vCPU, no network), `networks: none`; median of %d boots per variant, interleaved, after one '
             'warm-up boot.' % R['boots'], '',
             '- machine: %s; %s; TCG (no KVM)' % (env.get('cpu', '?'), env.get('qemu', '?')),
             '- date: %s; commit %s; image %s' % (env.get('date', '?'), env.get('commit', '?'), env.get('image', '?')),
             '- load average (1/5/15 min) at start %s, at the end %s: the machine is shared with other engineers\' '
             'builds, tests and TCG guests, so every phase is stretched by that load' % (env.get('load_start', '?'), env.get('load_end', '?')),
             '', '| phase | ' + ' | '.join('`%s`' % n for n in names) + ' |', '|---|' + '---|' * len(names)]
    for key, label in PHASES:
        lines.append('| %s | %s |' % (label, ' | '.join(cell(med(n, key)) for n in names)))
    lines.append('| **POST /servers -> guest agent answers (median)** | %s |' % ' | '.join('**%s**' % cell(med(n, 'total')) for n in names))
    lines.append('| min / max | %s |' % ' | '.join('%s / %s' % (cell(min(r['total'] for r in R['variants'][n]['runs'])),
                                                             cell(max(r['total'] for r in R['variants'][n]['runs']))) for n in names))
    lines.append('')
    for n in names:
        lines.append('- `%s`: %s' % (n, R['variants'][n]['about']))
    return '\n'.join(lines)


if __name__ == '__main__':
    if sys.argv[1] == '--table':
        print(table(sys.argv[2]))
    else:
        run(sys.argv[1])
