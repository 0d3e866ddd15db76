#!/usr/bin/python3
"""Cost of a page as the cloud grows: the same 100-item pages against a small cloud (100 volumes, 100 attachments,
100 servers) and a large one (10,000 volumes, 1,000 attachments, 200 servers), requests alternating between the two
`ember serve` processes so that both see the same machine load. Also the cost of creating a volume and an attachment
in each. Stdlib client from bench/e2e/rest.py.

  scale.py SMALL_OPENRC LARGE_OPENRC OUT.json     env: N (30 samples per figure), LARGE_VOLUMES (10000),
                                                       LARGE_ATTACHMENTS (1000), LARGE_SERVERS (200), SMALL (100)

Servers are booted with a flavor no host can hold, so the scheduler puts them in ERROR with Nova's NoValidHost
fault at once: real rows made by the real API (with their fault and block device mappings), without 300 QEMUs.
Attachments are Cinder attachments reserved for those servers (no connector), as Nova makes them before a boot.
"""
import concurrent.futures as cf
import json
import os
import statistics
import sys
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'e2e'))
from rest import HTTP, endpoint, log, login  # noqa: E402

N = int(os.environ.get('N', 30))
SMALL = int(os.environ.get('SMALL', 100))
LARGE = {'volumes': int(os.environ.get('LARGE_VOLUMES', 10000)),
         'attachments': int(os.environ.get('LARGE_ATTACHMENTS', 1000)),
         'servers': int(os.environ.get('LARGE_SERVERS', 200))}
PAR = 8


def openrc(path):
    env = {}
    for line in open(path):
        line = line.strip()
        if line.startswith('export ') and '=' in line:
            k, v = line[len('export '):].split('=', 1)
            env[k] = v.strip('\'"')
    return env


class Side:
    """One `ember serve`, logged in as its admin."""

    def __init__(self, name, rc):
        e = openrc(rc)
        self.name = name
        self.token, tok = login(e['OS_AUTH_URL'], e['OS_USERNAME'], e['OS_PASSWORD'], e['OS_PROJECT_NAME'])
        self.project = tok['project']['id']
        self.volume = endpoint(tok['catalog'], ('block-storage', 'volumev3'), None)
        self.compute = endpoint(tok['catalog'], ('compute',), None)
        self.image = endpoint(tok['catalog'], ('image',), None)

    def call(self, method, url, body=None, version=None, ok=(200, 201, 202, 204)):
        h = {'X-Auth-Token': self.token}
        if version:
            h['OpenStack-API-Version'] = version
        st, _, raw = HTTP.request(method, url, body, h)
        if st not in ok:
            raise RuntimeError('%s %s %s: HTTP %d %s' % (self.name, method, url, st, raw[:300]))
        return json.loads(raw) if raw else None

    def cinder(self, method, path, body=None):
        return self.call(method, self.volume + path, body, 'volume 3.60')

    def nova(self, method, path, body=None):
        return self.call(method, self.compute + path, body, 'compute 2.60')


def parallel(fn, items):
    with cf.ThreadPoolExecutor(PAR) as pool:
        return list(pool.map(fn, items))


def populate(side, volumes, attachments, servers):
    t0 = time.time()
    side.cinder('PUT', '/os-quota-sets/%s' % side.project,
                {'quota_set': {'volumes': -1, 'gigabytes': -1, 'snapshots': -1}})
    side.nova('PUT', '/os-quota-sets/%s' % side.project,
              {'quota_set': {'instances': -1, 'cores': -1, 'ram': -1}})
    flavor = side.nova('POST', '/flavors', {'flavor': {'name': 'too-big-%s' % uuid.uuid4().hex[:6], 'ram': 64 * 1024 * 1024,
                                                        'vcpus': 1, 'disk': 1}})['flavor']['id']
    image = side.call('GET', side.image + '/v2/images?name=ember-tiny')['images']
    image = image[0]['id'] if image else None
    if image is None:
        raise RuntimeError('%s: no ember-tiny image (start ember serve with --default-image)' % side.name)

    def boot(i):
        return side.nova('POST', '/servers', {'server': {'name': 'scale-%d' % i, 'flavorRef': flavor, 'imageRef': image,
                                                          'networks': 'none'}})['server']['id']
    server_ids = parallel(boot, range(servers))

    def create(i):
        return side.cinder('POST', '/volumes', {'volume': {'size': 1, 'name': 'scale-%d' % i}})['volume']['id']
    volume_ids = parallel(create, range(volumes))
    # Creation finishes in the background: wait until no volume is still creating.
    while side.cinder('GET', '/volumes?status=creating&limit=1')['volumes']:
        time.sleep(0.5)

    def attach(i):
        side.cinder('POST', '/attachments', {'attachment': {'volume_uuid': volume_ids[i],
                                                            'instance_uuid': server_ids[i % len(server_ids)]}})
    parallel(attach, range(attachments))
    log('%s: %d volumes, %d attachments, %d servers in %.0f s' % (side.name, volumes, attachments, servers, time.time() - t0))


def timed(fn):
    t = time.perf_counter()
    fn()
    return (time.perf_counter() - t) * 1000


def figure(xs):
    xs = sorted(xs)
    return {'median_ms': statistics.median(xs), 'p90_ms': xs[int(0.9 * (len(xs) - 1))], 'n': len(xs)}


PAGES = [
    ('GET /volumes/detail?limit=100', lambda s: s.cinder('GET', '/volumes/detail?limit=100')),
    # The small cloud has no second page: its first page is the reference for the large cloud's deep page.
    ('GET /volumes/detail?limit=100 (large: after volume 5,000, by marker; small: first page)', None),
    ('GET /servers/detail?limit=100', lambda s: s.nova('GET', '/servers/detail?limit=100')),
    ('GET /attachments/detail?limit=100', lambda s: s.cinder('GET', '/attachments/detail?limit=100')),
]


def main():
    small, large = Side('small', sys.argv[1]), Side('large', sys.argv[2])
    populate(small, SMALL, SMALL, SMALL)
    populate(large, LARGE['volumes'], LARGE['attachments'], LARGE['servers'])
    middle = large.cinder('GET', '/volumes?limit=1&offset=%d' % (LARGE['volumes'] // 2 - 1))['volumes'][0]['id']
    markers = {'small': '', 'large': '&marker=' + middle}
    pages = list(PAGES)
    pages[1] = (pages[1][0], lambda s: s.cinder('GET', '/volumes/detail?limit=100' + markers[s.name]))
    out = {'n': N, 'small': SMALL, 'large': LARGE, 'rows': []}
    for name, fn in pages:
        for s in (small, large):
            fn(s)  # warm-up
        xs = {'small': [], 'large': []}
        for _ in range(N):
            for s in (small, large):
                xs[s.name].append(timed(lambda: fn(s)))
        out['rows'].append({'what': name, 'small': figure(xs['small']), 'large': figure(xs['large'])})
        log('%-55s small %7.1f ms  large %7.1f ms' % (name, out['rows'][-1]['small']['median_ms'], out['rows'][-1]['large']['median_ms']))

    creates = {'small': {'volume': [], 'attachment': []}, 'large': {'volume': [], 'attachment': []}}
    for i in range(N):
        for s in (small, large):
            vid = [None]

            def make_volume():
                vid[0] = s.cinder('POST', '/volumes', {'volume': {'size': 1, 'name': 'late-%d' % i}})['volume']['id']
            creates[s.name]['volume'].append(timed(make_volume))
            while s.cinder('GET', '/volumes/' + vid[0])['volume']['status'] == 'creating':
                time.sleep(0.05)
            creates[s.name]['attachment'].append(timed(lambda: s.cinder('POST', '/attachments', {'attachment': {
                'volume_uuid': vid[0], 'instance_uuid': str(uuid.uuid4())}})))
    for kind, label in (('volume', 'POST /volumes (answer 202)'), ('attachment', 'POST /attachments (reserve)')):
        out['rows'].append({'what': label, 'small': figure(creates['small'][kind]), 'large': figure(creates['large'][kind])})
        log('%-55s small %7.1f ms  large %7.1f ms' % (label, out['rows'][-1]['small']['median_ms'], out['rows'][-1]['large']['median_ms']))
    json.dump(out, open(sys.argv[3], 'w'), indent=1)


if __name__ == '__main__':
    main()
