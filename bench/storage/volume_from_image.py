#!/usr/bin/python3
"""Volume-from-image time against a running Ember: POST /volumes with imageRef -> status `available`.

Python stdlib only (http.client, one keep-alive connection). Each image is uploaded through the Image API (unless it
is already there by name, e.g. the --default-image `ember-tiny`), then RUNS volumes are made from it one at a time;
each is deleted (and awaited gone) before the next, so the backend is as empty for every run.

  volume_from_image.py OUT.json NAME=FILE_OR_EXISTING_NAME...
      env: OS_AUTH_URL OS_USERNAME OS_PASSWORD OS_PROJECT_NAME, RUNS (5), POLL (0.02 s), TIMEOUT (600 s)
  e.g. volume_from_image.py out.json small=ember-tiny large=/tmp/big.raw
"""
import http.client
import json
import math
import os
import statistics
import sys
import time
import urllib.parse

RUNS = int(os.environ.get('RUNS', 5))
POLL = float(os.environ.get('POLL', 0.02))
TIMEOUT = float(os.environ.get('TIMEOUT', 600))


def log(*a):
    print(*a, file=sys.stderr, flush=True)


class Api:
    def __init__(self):
        auth = os.environ['OS_AUTH_URL'].rstrip('/')
        body = {'auth': {'identity': {'methods': ['password'], 'password': {'user': {
            'name': os.environ['OS_USERNAME'], 'domain': {'name': 'Default'}, 'password': os.environ['OS_PASSWORD']}}},
            'scope': {'project': {'name': os.environ['OS_PROJECT_NAME'], 'domain': {'name': 'Default'}}}}}
        self.conns = {}
        st, h, js = self.call('POST', auth + '/auth/tokens', body)
        if st != 201:
            raise RuntimeError('login: HTTP %d %s' % (st, js))
        self.token = h['x-subject-token']
        catalog = js['token']['catalog']
        self.volume = self.endpoint(catalog, ('volumev3', 'block-storage'))
        self.image = self.endpoint(catalog, ('image',)) + '/v2'

    @staticmethod
    def endpoint(catalog, types):
        for svc in catalog:
            if svc['type'] in types:
                for e in svc['endpoints']:
                    if e['interface'] == 'public':
                        return e['url'].rstrip('/')
        raise RuntimeError('no public endpoint of type %s' % (types,))

    def call(self, method, url, body=None, data=None, content_type=None):
        u = urllib.parse.urlsplit(url)
        c = self.conns.get(u.netloc)
        if c is None:
            c = self.conns[u.netloc] = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=TIMEOUT)
        h = {'Accept': 'application/json'}
        if getattr(self, 'token', None):
            h['X-Auth-Token'] = self.token
        if body is not None:
            data = json.dumps(body).encode()
            h['Content-Type'] = 'application/json'
        elif data is not None:
            h['Content-Type'] = content_type
        if hasattr(data, 'read'):
            h['Content-Length'] = str(os.fstat(data.fileno()).st_size)
        c.request(method, u.path + ('?' + u.query if u.query else ''), body=data, headers=h)
        r = c.getresponse()
        raw = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, (json.loads(raw) if raw else None)

    def image_id(self, spec):
        """An existing image by name, or a file uploaded as a new raw/qcow2 image named after it."""
        if not os.path.isfile(spec):
            end = time.monotonic() + 60  # --default-image is registered in the background at start
            while time.monotonic() < end:
                st, _, js = self.call('GET', self.image + '/images?name=' + urllib.parse.quote(spec))
                if st == 200 and js['images'] and js['images'][0]['status'] == 'active':
                    return js['images'][0]['id']
                time.sleep(0.2)
            raise RuntimeError('no active image named %s' % spec)
        fmt = 'qcow2' if open(spec, 'rb').read(4) == b'QFI\xfb' else 'raw'
        st, _, js = self.call('POST', self.image + '/images', {
            'name': os.path.basename(spec), 'disk_format': fmt, 'container_format': 'bare'})
        if st != 201:
            raise RuntimeError('image create: HTTP %d %s' % (st, js))
        iid = js['id']
        t = time.monotonic()
        with open(spec, 'rb') as f:
            st, _, js = self.call('PUT', self.image + '/images/%s/file' % iid, data=f, content_type='application/octet-stream')
        if st != 204:
            raise RuntimeError('image upload: HTTP %d %s' % (st, js))
        log('  uploaded %s (%d MiB) in %.1f s' % (spec, os.path.getsize(spec) >> 20, time.monotonic() - t))
        return iid

    def image_info(self, iid):
        st, _, js = self.call('GET', self.image + '/images/' + iid)
        return js['size'], js.get('virtual_size') or js['size']

    def volume_status(self, vid):
        st, _, js = self.call('GET', self.volume + '/volumes/' + vid)
        return None if st == 404 else js['volume']['status']

    def wait(self, vid, want):
        end = time.monotonic() + TIMEOUT
        while time.monotonic() < end:
            s = self.volume_status(vid)
            if s == want:
                return
            if s is not None and s.startswith('error'):
                raise RuntimeError('volume %s went to %s' % (vid, s))
            time.sleep(POLL)
        raise RuntimeError('volume %s not %s within %.0f s' % (vid, want, TIMEOUT))

    def volume_from_image(self, iid, size_gib):
        t = time.monotonic()
        st, _, js = self.call('POST', self.volume + '/volumes', {'volume': {'size': size_gib, 'imageRef': iid}})
        if st != 202:
            raise RuntimeError('volume create: HTTP %d %s' % (st, js))
        vid = js['volume']['id']
        self.wait(vid, 'available')
        took = time.monotonic() - t
        st, _, js = self.call('DELETE', self.volume + '/volumes/' + vid)
        if st != 202:
            raise RuntimeError('volume delete: HTTP %d %s' % (st, js))
        self.wait(vid, None)
        return took


def main():
    out, specs = sys.argv[1], sys.argv[2:]
    api = Api()
    result = {}
    for spec in specs:
        name, source = spec.split('=', 1)
        iid = api.image_id(source)
        size, virtual = api.image_info(iid)
        size_gib = max(1, math.ceil(virtual / (1 << 30)))
        times = []
        for i in range(RUNS):
            times.append(api.volume_from_image(iid, size_gib))
            log('  %s run %d: %.3f s' % (name, i + 1, times[-1]))
        result[name] = {'image_bytes': size, 'virtual_bytes': virtual, 'volume_gib': size_gib, 'seconds': times,
                        'median_s': statistics.median(times)}
    with open(out, 'w') as f:
        json.dump(result, f, indent=1)


if __name__ == '__main__':
    main()
