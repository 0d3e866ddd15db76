#!/usr/bin/python3
"""Ember-only figures through the Compute v2.1 + Block Storage v3 REST APIs (stdlib client from rest.py):
boot -> ACTIVE / -> guest agent ready, hot attach -> disk visible in the guest, detach -> gone + volume available,
and the seed walkthrough (../shared/seed/) end to end: a multiattach volume at boot on two VMs (vdb) and a second
one hot-attached to both (vdc), each with the seed's mkfs/mount/write/read exchange run through ember-exec.

  compute.py OUT.json        env: OS_* as for rest.py, IMAGE (name, default ember-tiny), BOOTS (5), ATTACH_N (10)
"""
import json
import os
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rest import Cloud, endpoint, log, stats, wait  # noqa: E402

BOOTS = int(os.environ.get('BOOTS', 5))
ATTACH_N = int(os.environ.get('ATTACH_N', 10))
POLL = 0.05
R = {'errors': {}}


def record(key, xs, note=''):
    R[key] = stats(xs, note)
    log('%-40s median %9.1f ms  p90 %9.1f  min %9.1f  n=%d %s' % (
        key, R[key]['median_ms'], R[key]['p90_ms'], R[key]['min_ms'], R[key]['n'], note))


c = Cloud()
NOVA = endpoint(c.catalog, ('compute',), os.environ.get('OS_REGION_NAME'))
IMG = endpoint(c.catalog, ('image',), os.environ.get('OS_REGION_NAME'))


def nova(method, path, body=None, version='compute 2.60'):
    return c.call(method, path, body, version=version, ep=NOVA, retry500=False)


def exec_(sid, *cmd, timeout=120):
    """ember-exec; returns (http status, exit code or None, stdout)."""
    st, js, raw = nova('POST', '/servers/%s/action' % sid, {'ember-exec': {'command': list(cmd), 'timeout': timeout}})
    if st == 200:
        return st, js['exit_code'], js.get('stdout', '')
    return st, None, raw


def sh(sid, script, expect=None):
    st, code, out = exec_(sid, '/bin/sh', '-c', script)
    if st != 200 or code != 0 or (expect is not None and out.strip() != expect):
        raise RuntimeError('guest %s: %r -> HTTP %s exit %s out %r' % (sid[:8], script, st, code, out))
    return out


def server_status(sid):
    st, js, raw = nova('GET', '/servers/%s' % sid)
    if st != 200:
        return 'HTTP %d' % st
    s = js['server']['status']
    if s == 'ERROR':
        raise RuntimeError('server %s ERROR: %s' % (sid, js['server'].get('fault')))
    return s


def boot(name, image, flavor, volume=None):
    """POST /servers -> (id, seconds to ACTIVE, seconds to agent ready)."""
    body = {'server': {'name': name, 'imageRef': image, 'flavorRef': flavor, 'networks': 'none'}}
    if volume:  # what `nova boot --block-device-mapping vdb=<id>:::0` sends
        body['server']['block_device_mapping'] = [{'volume_id': volume, 'device_name': 'vdb', 'delete_on_termination': '0'}]
    t0 = time.perf_counter()
    st, js, raw = nova('POST', '/servers', body)
    if st != 202:
        raise RuntimeError('POST /servers: HTTP %d %s' % (st, raw[:300]))
    sid = js['server']['id']
    wait(lambda: server_status(sid) == 'ACTIVE', 300, '%s ACTIVE' % name)
    t_active = time.perf_counter() - t0
    wait(lambda: exec_(sid, 'true', timeout=10)[1] == 0, 300, '%s guest agent' % name)
    return sid, t_active, time.perf_counter() - t0


def visible(sid, dev):
    return exec_(sid, 'test', '-b', dev, timeout=10)[1] == 0


def attach(sid, vid):
    """Hot attach: API call -> the disk is a block device in the guest. Returns (api s, visible s, device)."""
    t0 = time.perf_counter()
    st, js, raw = nova('POST', '/servers/%s/os-volume_attachments' % sid, {'volumeAttachment': {'volumeId': vid}})
    api = time.perf_counter() - t0
    if st != 200:
        raise RuntimeError('attach of %s to %s: HTTP %d %s' % (vid[:8], sid[:8], st, raw[:200].decode(errors='replace')))
    dev = js['volumeAttachment'].get('device') or '/dev/vdc'
    wait(lambda: visible(sid, dev), 120, '%s in guest' % dev)
    return api, time.perf_counter() - t0, dev


def detach(sid, vid, dev, want_available=True):
    """Detach: API call -> device gone in the guest, -> volume released by this server (and available when
    want_available). Returns (api s, gone s, released/available s)."""
    t0 = time.perf_counter()
    st, js, raw = nova('DELETE', '/servers/%s/os-volume_attachments/%s' % (sid, vid))
    api = time.perf_counter() - t0
    if st != 202:
        _, vj, _ = c.call('GET', '/volumes/%s' % vid)
        v = (vj or {}).get('volume', {})
        raise RuntimeError('detach: HTTP %d %s; volume %s, attachments %s' % (
            st, raw[:200].decode(errors='replace'), v.get('status'), [(a.get('server_id'), a.get('device')) for a in v.get('attachments', [])]))
    wait(lambda: not visible(sid, dev), 120, '%s gone from guest' % dev)
    gone = time.perf_counter() - t0

    def released():  # as Tempest's waiters: the volume no longer lists this server (nor is 'detaching'),
        # and the server no longer lists the volume in os-volume_attachments
        _, vj, _ = c.call('GET', '/volumes/%s' % vid)
        v = vj['volume']
        if v['status'] == 'detaching' or any(a.get('server_id') == sid for a in v.get('attachments', [])):
            return False
        _, sj, _ = nova('GET', '/servers/%s/os-volume_attachments' % sid)
        return all(a.get('volumeId') != vid for a in (sj or {}).get('volumeAttachments', []))
    if want_available:
        c.wait_status(vid, 'available', poll=POLL)
        avail = time.perf_counter() - t0
    wait(released, 120, 'volume %s released by %s' % (vid, sid))
    released_s = time.perf_counter() - t0
    R.setdefault('_released', []).append(released_s)
    return api, gone, avail if want_available else released_s


def main():
    out = sys.argv[1]
    servers = []
    try:
        st, js, raw = c.call('GET', '/images?name=%s' % os.environ.get('IMAGE', 'ember-tiny'), version=None, ep=IMG + '/v2')
        image = js['images'][0]['id']
        st, js, raw = nova('POST', '/flavors', {'flavor': {'name': 'm1.micro-%s' % uuid.uuid4().hex[:4], 'ram': 256,
                                                           'vcpus': 1, 'disk': 1, 'id': 'auto'}})
        if st != 200:
            raise RuntimeError('POST /flavors: HTTP %d %s' % (st, raw[:300]))
        flavor = js['flavor']['id']

        # --- the seed walkthrough, timed as a whole (API calls + guest work, as a user would run it) ---
        t_seed = time.perf_counter()
        v1 = c.create('m-a-001', multiattach=True)
        act, agent = [], []
        for name in ('vm-001', 'vm-002'):
            sid, a, g = boot(name, image, flavor, volume=v1)
            servers.append(sid); act.append(a); agent.append(g)
        vm1, vm2 = servers
        for sid in servers:
            wait(lambda: visible(sid, '/dev/vdb'), 60, 'vdb at boot')

        def exchange(dev, d, w1, w2):
            sh(vm1, 'mkdir -p %s && mkfs.ext3 -q %s && mount %s %s && chmod 777 %s && echo "%s" > %s/1 && umount %s'
               % (d, dev, dev, d, d, w1, d, dev))
            sh(vm2, 'mkdir -p %s && mount %s %s && cat %s/1' % (d, dev, d, d), expect=w1)
            sh(vm2, 'echo "%s" > %s/2 && umount %s' % (w2, d, dev))
            sh(vm1, 'mount %s %s && cat %s/2' % (dev, d, d), expect=w2)
            sh(vm1, 'umount %s' % dev)

        t0 = time.perf_counter()
        exchange('/dev/vdb', '/tmp/1', 'vm-001', 'vm-002')
        R['seed_exchange_vdb_s'] = round(time.perf_counter() - t0, 2)
        v2 = c.create('m-a-002', multiattach=True)
        hot_api, hot_vis = [], []
        for sid in servers:
            a, v, dev = attach(sid, v2)
            assert dev == '/dev/vdc', dev
            hot_api.append(a); hot_vis.append(v)
        exchange('/dev/vdc', '/tmp/2', 'vdc-vm-001', 'vdc-vm-002')
        R['seed_s'] = round(time.perf_counter() - t_seed, 2)
        log('seed walkthrough end to end: %.2f s' % R['seed_s'])

        # --- more boots (plain image) for the boot medians ---
        for i in range(max(0, BOOTS - 2)):
            sid, a, g = boot('boot-%d' % i, image, flavor)
            act.append(a); agent.append(g)
            t0 = time.perf_counter()
            nova('DELETE', '/servers/%s' % sid)
            wait(lambda: nova('GET', '/servers/%s' % sid)[0] == 404, 120, 'server deleted')
            R.setdefault('_del', []).append(time.perf_counter() - t0)
        record('boot_active', act, 'POST /servers -> ACTIVE')
        record('boot_agent', agent, 'POST /servers -> ember-exec true answers')
        if R.get('_del'):
            record('server_delete', R.pop('_del'), 'DELETE -> 404')

        # --- detach the shared m-a-002 from both (the last detach makes it available) ---
        det_gone, det_avail, det_multi = [], [], []
        a, g, av = detach(vm1, v2, '/dev/vdc', want_available=False); det_gone.append(g); det_multi.append(av)
        a, g, av = detach(vm2, v2, '/dev/vdc', want_available=True); det_gone.append(g); det_avail.append(av)

        # --- hot attach / detach round trips of a single-attach volume on vm-001 (vdc) ---
        v3 = c.create('hot')
        for i in range(ATTACH_N):
            a, v, dev = attach(vm1, v3)
            hot_api.append(a); hot_vis.append(v)
            a, g, av = detach(vm1, v3, dev)
            det_gone.append(g); det_avail.append(av)
        record('hot_attach_api', hot_api, 'POST os-volume_attachments response')
        record('hot_attach_visible', hot_vis, 'API call -> test -b /dev/vdc in the guest')
        record('detach_gone', det_gone, 'DELETE -> /dev/vdc gone in the guest')
        record('detach_available', det_avail, 'DELETE -> volume available')
        record('detach_multi_released', det_multi, 'multiattach volume on 2 VMs: DELETE -> released by that VM')
        record('detach_released', R.pop('_released'), 'DELETE -> gone from the volume and from os-volume_attachments')
    except Exception as e:
        R['errors']['compute'] = repr(e); log('compute failed:', repr(e))
    finally:
        for sid in servers:
            nova('DELETE', '/servers/%s' % sid)
        json.dump(R, open(out, 'w'), indent=1)


if __name__ == '__main__':
    main()
