#!/usr/bin/python3
"""Parallel boots and hot attach through the Compute v2.1 + Block Storage v3 REST APIs (stdlib client from
bench/e2e/rest.py), for one cloud: BOOTS servers created at once (time from the first POST to all ACTIVE, and
which host each landed on), then, the others deleted and the guest agent of the first one answering, a hot attach
of a fresh volume to it (API call -> volume in-use), ATTACH_N times. Everything it creates is deleted.

  boots.py OUT.json       env: OS_* as for rest.py (an admin, to see hosts), BOOTS (16), ATTACH_N (5), FLAVOR (m1.tiny)
"""
import json
import os
import sys
import threading
import time
from collections import Counter

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'e2e'))
from rest import Cloud, endpoint, log, stats, wait  # noqa: E402

BOOTS = int(os.environ.get('BOOTS', 16))
ATTACH_N = int(os.environ.get('ATTACH_N', 5))
POLL = 0.1

c = Cloud()
NOVA = endpoint(c.catalog, ('compute',), os.environ.get('OS_REGION_NAME'))
IMG = endpoint(c.catalog, ('image',), os.environ.get('OS_REGION_NAME'))


def nova(method, path, body=None):
    return c.call(method, path, body, version='compute 2.60', ep=NOVA, retry500=False)


def exec_ok(sid):
    st, js, raw = nova('POST', '/servers/%s/action' % sid, {'ember-exec': {'command': ['true'], 'timeout': 10}})
    return st == 200 and js['exit_code'] == 0


def main():
    out = sys.argv[1]
    st, js, raw = c.call('GET', '/images?name=ember-tiny', version=None, ep=IMG + '/v2')
    image = js['images'][0]['id']
    st, js, raw = nova('GET', '/flavors')
    flavor = next(f['id'] for f in js['flavors'] if f['name'] == os.environ.get('FLAVOR', 'm1.tiny'))
    servers, errors = [], []
    lock = threading.Lock()

    def create(i):
        body = {'server': {'name': 'bench-%02d' % i, 'imageRef': image, 'flavorRef': flavor, 'networks': 'none'}}
        st, js, raw = nova('POST', '/servers', body)
        with lock:
            if st == 202:
                servers.append(js['server']['id'])
            else:
                errors.append('POST /servers: HTTP %d %s' % (st, raw[:200]))

    result = {}
    try:
        t0 = time.perf_counter()
        threads = [threading.Thread(target=create, args=(i,)) for i in range(BOOTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise RuntimeError('; '.join(errors))
        hosts = {}

        def all_active():
            for sid in servers:
                if sid in hosts:
                    continue
                st, js, raw = nova('GET', '/servers/%s' % sid)
                s = js['server']
                if s['status'] == 'ERROR':
                    raise RuntimeError('server %s ERROR: %s' % (sid, s.get('fault')))
                if s['status'] == 'ACTIVE':
                    hosts[sid] = s['OS-EXT-SRV-ATTR:host']
            return len(hosts) == len(servers)
        wait(all_active, 600, '%d servers ACTIVE' % BOOTS)
        all_active_s = time.perf_counter() - t0
        placement = dict(sorted(Counter(hosts.values()).items()))
        log('%d parallel boots: all ACTIVE after %.1f s, placement %s' % (BOOTS, all_active_s, placement))
        result['boots'] = {'n': BOOTS, 'all_active_s': round(all_active_s, 2), 'placement': placement}

        # Hot attach on a quiet machine: the other servers go first, and the guest must be up (a guest still booting
        # does not answer the ACPI unplug of the detach).
        target = servers[0]
        for sid in servers[1:]:
            nova('DELETE', '/servers/%s' % sid)
        for sid in servers[1:]:
            wait(lambda: nova('GET', '/servers/%s' % sid)[0] == 404, 300, 'server %s gone' % sid)
        del servers[1:]
        wait(lambda: exec_ok(target), 300, 'guest agent of %s' % target)
        times = []
        for i in range(ATTACH_N):
            st, js, raw = c.call('POST', '/volumes', {'volume': {'size': 1, 'name': 'bench-attach-%d' % i}})
            vid = js['volume']['id']
            c.wait_status(vid, 'available', poll=POLL)
            t1 = time.perf_counter()
            st, js, raw = nova('POST', '/servers/%s/os-volume_attachments' % target, {'volumeAttachment': {'volumeId': vid}})
            if st != 200:
                raise RuntimeError('attach: HTTP %d %s' % (st, raw[:200]))
            c.wait_status(vid, 'in-use', poll=0.02)
            times.append(time.perf_counter() - t1)
            nova('DELETE', '/servers/%s/os-volume_attachments/%s' % (target, vid))
            c.wait_status(vid, 'available', poll=POLL)
            c.call('DELETE', '/volumes/%s' % vid)
        result['attach'] = stats(times, 'on ' + hosts[target])
        log('hot attach -> in-use: median %.1f ms (host %s)' % (result['attach']['median_ms'], hosts[target]))
    finally:
        for sid in servers:
            nova('DELETE', '/servers/%s' % sid)
        for sid in servers:
            try:
                wait(lambda: nova('GET', '/servers/%s' % sid)[0] == 404, 300, 'server %s gone' % sid)
            except RuntimeError as e:
                log(str(e))
        with open(out, 'w') as f:
            json.dump(result, f, indent=1)


main()
