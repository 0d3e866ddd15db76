#!/usr/bin/python3
"""Volume-from-image time against a running Ember: POST /volumes with imageRef -> status `available`.

The stdlib client of bench/e2e/rest.py (one keep-alive connection). Each image is uploaded through the Image API (unless it
is already there by name, e.g. the --default-image `ember-tiny`), then RUNS volumes are made from it one at a time;
each is deleted (and awaited gone) before the next, so the backend is as empty for every run.

  volume_from_image.py OUT.json NAME=FILE_OR_EXISTING_NAME...
      env: OS_AUTH_URL OS_USERNAME OS_PASSWORD OS_PROJECT_NAME, RUNS (5), POLL (0.02 s), TIMEOUT (600 s)
  e.g. volume_from_image.py out.json small=ember-tiny large=/tmp/big.raw
"""
import json
import math
import os
import statistics
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'e2e'))
from rest import Cloud, check, endpoint, log  # noqa: E402

RUNS = int(os.environ.get('RUNS', 5))
POLL = float(os.environ.get('POLL', 0.02))
TIMEOUT = float(os.environ.get('TIMEOUT', 600))


class Api(Cloud):
    """rest.py's client (login, catalog, keep-alive calls, status waits) with the Image API beside the volumes."""

    def __init__(self):
        super().__init__()
        self.image = endpoint(self.catalog, ('image',), os.environ.get('OS_REGION_NAME')) + '/v2'

    def image_call(self, method, path, body=None, data=None, headers=None):
        return self.call(method, path, body, version=None, ep=self.image, data=data, headers=headers)

    def image_id(self, spec):
        """An existing image by name, or a file uploaded as a new raw/qcow2 image named after it."""
        if not os.path.isfile(spec):
            end = time.monotonic() + 60  # --default-image is registered in the background at start
            while time.monotonic() < end:
                st, js, _ = self.image_call('GET', '/images?name=' + urllib.parse.quote(spec))
                if st == 200 and js['images'] and js['images'][0]['status'] == 'active':
                    return js['images'][0]['id']
                time.sleep(0.2)
            raise RuntimeError('no active image named %s' % spec)
        with open(spec, 'rb') as f:
            fmt = 'qcow2' if f.read(4) == b'QFI\xfb' else 'raw'
        st, js, raw = self.image_call('POST', '/images', {
            'name': os.path.basename(spec), 'disk_format': fmt, 'container_format': 'bare'})
        check(st, 201, 'image create', raw)
        iid = js['id']
        t = time.monotonic()
        with open(spec, 'rb') as f:
            st, _, raw = self.image_call('PUT', '/images/%s/file' % iid, data=f,
                                         headers={'Content-Type': 'application/octet-stream'})
        check(st, 204, 'image upload', raw)
        log('  uploaded %s (%d MiB) in %.1f s' % (spec, os.path.getsize(spec) >> 20, time.monotonic() - t))
        return iid

    def image_info(self, iid):
        _, js, _ = self.image_call('GET', '/images/' + iid)
        return js['size'], js.get('virtual_size') or js['size']

    def volume_from_image(self, iid, size_gib):
        t = time.monotonic()
        st, js, raw = self.call('POST', '/volumes', {'volume': {'size': size_gib, 'imageRef': iid}})
        check(st, 202, 'volume create', raw)
        vid = js['volume']['id']
        self.wait_status(vid, 'available', timeout=TIMEOUT, poll=POLL)
        took = time.monotonic() - t
        st, _, raw = self.call('DELETE', '/volumes/' + vid)
        check(st, 202, 'volume delete', raw)
        self.wait_status(vid, 'gone', timeout=TIMEOUT, poll=POLL)
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
