#!/usr/bin/python3
"""Block Storage v3 REST latencies, the same client and the same sequence against any Keystone v3 + Cinder v3.

Python stdlib only (http.client, one keep-alive connection per thread), so Ember and the OpenStack anchor are
measured by exactly the same code. Mirrors ../shared/anchors/openstack/measure.py (whose service-user step does
not apply to Ember), plus parallel creates. Prints progress to stderr and writes a JSON file.

  rest.py OUT.json            env: OS_AUTH_URL OS_USERNAME OS_PASSWORD OS_PROJECT_NAME [OS_REGION_NAME]
                                   SERVICE_USER/SERVICE_PASS/SERVICE_PROJECT (token sent as X-Service-Token on
                                   attachment delete; if that user cannot log in, the admin token is sent)
                                   N (20) POLL (0.02 s) LIST (100) PAR (16) PAR_TOTAL (64)
"""
import concurrent.futures as cf
import http.client
import json
import math
import os
import statistics
import sys
import threading
import time
import urllib.parse
import uuid

N = int(os.environ.get('N', 20))
POLL = float(os.environ.get('POLL', 0.02))
LIST = int(os.environ.get('LIST', 100))
PAR = int(os.environ.get('PAR', 16))
PAR_TOTAL = int(os.environ.get('PAR_TOTAL', 64))


def log(*a):
    print(*a, file=sys.stderr, flush=True)


class Http:
    """One keep-alive connection per thread and host; reconnects once when the server closed it."""
    _local = threading.local()

    def request(self, method, url, body=None, headers=None, data=None):
        """body is sent as JSON; data (bytes or an open file, e.g. an image upload) as it is, with the caller's Content-Type."""
        u = urllib.parse.urlsplit(url)
        key = (u.scheme, u.netloc)
        conns = getattr(self._local, 'conns', None)
        if conns is None:
            conns = self._local.conns = {}
        h = {'Accept': 'application/json'}
        if body is not None:
            data = json.dumps(body).encode()
            h['Content-Type'] = 'application/json'
        elif hasattr(data, 'fileno'):
            h['Content-Length'] = str(os.fstat(data.fileno()).st_size)
        h.update(headers or {})
        path = u.path + ('?' + u.query if u.query else '')
        for attempt in (0, 1):
            c = conns.get(key)
            if c is None:
                c = conns[key] = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=120)
            try:
                c.request(method, path, body=data, headers=h)
                r = c.getresponse()
                raw = r.read()
                if r.getheader('Connection', '').lower() == 'close':
                    c.close(); conns.pop(key, None)
                return r.status, dict((k.lower(), v) for k, v in r.getheaders()), raw
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError, http.client.CannotSendRequest):
                c.close(); conns.pop(key, None)
                if attempt:
                    raise


HTTP = Http()


def login(auth_url, user, password, project):
    body = {'auth': {'identity': {'methods': ['password'], 'password': {'user': {
        'name': user, 'domain': {'name': 'Default'}, 'password': password}}},
        'scope': {'project': {'name': project, 'domain': {'name': 'Default'}}}}}
    st, h, raw = HTTP.request('POST', auth_url.rstrip('/') + '/auth/tokens', body)
    if st != 201:
        raise RuntimeError('login %s: HTTP %d %s' % (user, st, raw[:200]))
    return h['x-subject-token'], json.loads(raw)['token']


def endpoint(catalog, types, region):
    for t in types:
        for svc in catalog:
            if svc['type'] == t:
                for e in svc['endpoints']:
                    if e['interface'] == 'public' and (not region or e.get('region_id', e.get('region')) == region):
                        return e['url'].rstrip('/')
    raise RuntimeError('no public endpoint of type %s' % (types,))


class Cloud:
    def __init__(self):
        self.auth_url = os.environ['OS_AUTH_URL']
        self.token, tok = login(self.auth_url, os.environ['OS_USERNAME'], os.environ['OS_PASSWORD'],
                                os.environ['OS_PROJECT_NAME'])
        region = os.environ.get('OS_REGION_NAME')
        self.catalog = tok['catalog']
        self.project_id = tok['project']['id']
        self.ep = endpoint(self.catalog, ('volumev3', 'block-storage'), region)
        self.retries = 0

    def call(self, method, path, body=None, version='volume 3.54', headers=None, ep=None, retry500=True, data=None):
        h = {'X-Auth-Token': self.token}
        if version:
            h['OpenStack-API-Version'] = version
        h.update(headers or {})
        for attempt in range(5):
            st, rh, raw = HTTP.request(method, (ep or self.ep) + path, body, h, data)
            if st != 500 or not retry500:
                break
            self.retries += 1  # SQLite "database is locked" on the anchor under concurrent writers; retry like measure.py
            time.sleep(0.05)
        try:
            js = json.loads(raw) if raw else None
        except ValueError:
            js = None
        return st, js, raw

    def wait_status(self, vid, want, timeout=120, poll=POLL):
        end = time.time() + timeout
        while time.time() < end:
            st, js, _ = self.call('GET', '/volumes/%s' % vid)
            if want == 'gone' and st == 404:
                return
            if st == 200:
                s = js['volume']['status']
                if s == want:
                    return
                if s.startswith('error'):
                    raise RuntimeError('volume %s went to %s' % (vid, s))
            time.sleep(poll)
        raise RuntimeError('timeout waiting for %s to be %s' % (vid, want))

    def create(self, name, vtype=None, multiattach=None, wait=True, size=1):
        body = {'volume': {'size': size, 'name': name}}
        if vtype:
            body['volume']['volume_type'] = vtype
        if multiattach is not None:
            body['volume']['multiattach'] = multiattach
        st, js, raw = self.call('POST', '/volumes', body)
        if st != 202:
            raise RuntimeError('POST /volumes: HTTP %d %s' % (st, raw[:300]))
        vid = js['volume']['id']
        if wait:
            self.wait_status(vid, 'available')
        return vid


def wait(pred, timeout, what, poll=0.05):
    """Polls pred() until it is true; RuntimeError naming what after timeout seconds."""
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return
        time.sleep(poll)
    raise RuntimeError('timeout (%ds) waiting for %s' % (timeout, what))


def check(st, want, what, raw=b''):
    if st != want:
        raise RuntimeError('%s: HTTP %d %s' % (what, st, raw[:160].decode(errors='replace')))


def stats(xs, note=''):
    xs = sorted(xs)
    return {'median_ms': round(statistics.median(xs) * 1000, 1), 'p90_ms': round(xs[max(0, math.ceil(0.9 * len(xs)) - 1)] * 1000, 1),
            'min_ms': round(xs[0] * 1000, 1), 'n': len(xs), 'note': note}


def main():
    out = sys.argv[1]
    R = {'errors': {}}

    def record(key, xs, note=''):
        R[key] = stats(xs, note)
        log('%-48s median %8.1f ms  p90 %8.1f  min %8.1f  n=%d %s' % (
            key, R[key]['median_ms'], R[key]['p90_ms'], R[key]['min_ms'], R[key]['n'], note))

    def save():
        json.dump(R, open(out, 'w'), indent=1)

    t0 = time.perf_counter()
    c = Cloud()
    R['login_ms'] = round((time.perf_counter() - t0) * 1000, 1)
    R['endpoint'] = c.ep
    R['token'] = c.token
    c.call('GET', '/volumes?limit=1'); c.call('GET', '/volumes?limit=1')  # warm-up (token caches, JIT)
    # unlimited quotas, as the anchor's cinder.conf has (quota_* = -1); the defaults (10 volumes) would stop the run
    st, js, raw = c.call('PUT', '/os-quota-sets/%s' % c.project_id, {'quota_set': {
        'volumes': -1, 'gigabytes': -1, 'snapshots': -1, 'per_volume_gigabytes': -1}})
    R['quota_update'] = st
    if st != 200:
        log('quota update: HTTP %d %s' % (st, raw[:200]))

    # (1) create -> available, (2) delete -> gone
    try:
        cr, de, api_c, api_d = [], [], [], []
        for i in range(N):
            t0 = time.perf_counter()
            st, js, raw = c.call('POST', '/volumes', {'volume': {'size': 1, 'name': 'm-%d' % i}})
            api_c.append(time.perf_counter() - t0)
            check(st, 202, 'POST /volumes', raw)
            vid = js['volume']['id']
            c.wait_status(vid, 'available')
            cr.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            st, js, raw = c.call('DELETE', '/volumes/%s' % vid)
            api_d.append(time.perf_counter() - t0)
            check(st, 202, 'DELETE /volumes/{id}', raw)
            c.wait_status(vid, 'gone')
            de.append(time.perf_counter() - t0)
        record('create', cr, 'poll %.0f ms' % (POLL * 1000))
        record('create_post', api_c)
        record('delete', de)
        record('delete_api', api_d)
    except Exception as e:
        R['errors']['create'] = repr(e); log('create/delete failed:', e)
    save()

    # (3) GET /volumes/detail with LIST volumes (created serially: concurrent writers lock the anchor's SQLite)
    try:
        st, js, raw = c.call('GET', '/volumes')
        check(st, 200, 'GET /volumes', raw)
        for i in range(max(0, LIST - len(js['volumes']))):
            c.create('list-%03d' % i)
        st, js, raw = c.call('GET', '/volumes/detail')
        R['list_count'] = len(js['volumes'])
        g = []
        for i in range(max(N, 30)):
            t0 = time.perf_counter()
            st, js, raw = c.call('GET', '/volumes/detail')
            g.append(time.perf_counter() - t0)
            check(st, 200, 'GET /volumes/detail', raw)
        record('list_detail', g, '%d volumes, %d bytes' % (R['list_count'], len(raw)))
    except Exception as e:
        R['errors']['list'] = repr(e); log('list failed:', e)
    save()

    # (4) attachments API (3.54) on a multiattach volume
    vtype = None
    try:
        st, js, raw = c.call('POST', '/types', {'volume_type': {
            'name': 'bench-multiattach-%s' % uuid.uuid4().hex[:6], 'extra_specs': {'multiattach': '<is> True'}}})
        check(st, 200, 'POST /types', raw)
        vtype = js['volume_type']['id']
        mvid = c.create('multiattach-vol', vtype=vtype)
        svc_token = None
        try:
            svc_token, _ = login(c.auth_url, os.environ.get('SERVICE_USER', 'cinder'),
                                 os.environ.get('SERVICE_PASS', 'servicepass'), os.environ.get('SERVICE_PROJECT', 'service'))
            R['service_token'] = 'service user'
        except Exception:
            svc_token = c.token  # Ember: no separate service user; the admin token stands in
            R['service_token'] = 'admin token'
        T = {k: [] for k in ('c1', 'u1', 'k1', 'c2', 'k2', 'd')}
        connector = {'initiator': 'iqn.1993-08.org.debian:01:bench', 'ip': '127.0.0.1', 'platform': 'x86_64',
                     'host': 'bench-host', 'os_type': 'linux2', 'multipath': False}

        def timed(key, method, path, want, body=None):
            t0 = time.perf_counter()
            st, js, raw = c.call(method, path, body, version='volume 3.54',
                                 headers={'X-Service-Token': svc_token} if method == 'DELETE' else None)
            T[key].append(time.perf_counter() - t0)
            check(st, want, '%s %s' % (method, path.split('/')[1]), raw)
            return js

        for i in range(N):
            a1 = timed('c1', 'POST', '/attachments', 200, {'attachment': {'volume_uuid': mvid, 'instance_uuid': str(uuid.uuid4())}})['attachment']['id']
            timed('u1', 'PUT', '/attachments/%s' % a1, 200, {'attachment': {'connector': connector}})
            timed('k1', 'POST', '/attachments/%s/action' % a1, 204, {'os-complete': None})
            a2 = timed('c2', 'POST', '/attachments', 200, {'attachment': {'volume_uuid': mvid, 'instance_uuid': str(uuid.uuid4()),
                                                                          'connector': connector, 'mode': 'rw'}})['attachment']['id']
            timed('k2', 'POST', '/attachments/%s/action' % a2, 204, {'os-complete': None})
            st, js, _ = c.call('GET', '/volumes/%s' % mvid)
            v = js['volume']
            assert v['status'] == 'in-use' and v['multiattach'] and len(v['attachments']) == 2, v
            for aid in (a1, a2):
                timed('d', 'DELETE', '/attachments/%s' % aid, 200)
            c.wait_status(mvid, 'available')
        record('attach1_reserve', T['c1'])
        record('attach1_connector', T['u1'])
        record('attach1_complete', T['k1'])
        record('attach1_total', [a + b + k for a, b, k in zip(T['c1'], T['u1'], T['k1'])])
        record('attach2_total', [a + b for a, b in zip(T['c2'], T['k2'])])
        record('attach_delete', T['d'])
        c.call('DELETE', '/volumes/%s' % mvid); c.wait_status(mvid, 'gone')
    except Exception as e:
        R['errors']['attach'] = repr(e); log('attachments failed:', e)
    if vtype:
        c.call('DELETE', '/types/%s' % vtype)
    save()

    R['http_500_retries'] = c.retries
    # (5) parallel creates: PAR workers, PAR_TOTAL volumes, no retries; errors = non-202 or 'error' status or timeout
    try:
        ok, errs, samples, ids, lock = [0], [], [], [], threading.Lock()

        def one(i):
            t0 = time.perf_counter()
            try:
                st, js, raw = c.call('POST', '/volumes', {'volume': {'size': 1, 'name': 'par-%03d' % i}}, retry500=False)
                if st != 202:
                    with lock:
                        errs.append('HTTP %d' % st)
                    return
                vid = js['volume']['id']
                with lock:
                    ids.append(vid)
                c.wait_status(vid, 'available', timeout=300, poll=0.05)
                with lock:
                    ok[0] += 1; samples.append(time.perf_counter() - t0)
            except Exception as e:
                with lock:
                    errs.append(type(e).__name__ + ': ' + str(e)[:80])

        t0 = time.perf_counter()
        with cf.ThreadPoolExecutor(PAR) as ex:
            list(ex.map(one, range(PAR_TOTAL)))
        wall = time.perf_counter() - t0
        R['parallel'] = {'concurrency': PAR, 'total': PAR_TOTAL, 'available': ok[0], 'errors': len(errs),
                         'error_kinds': sorted(set(errs))[:5], 'wall_s': round(wall, 2),
                         'rate_per_s': round(ok[0] / wall, 2)}
        if samples:
            record('parallel_create', samples, 'each create -> available under concurrency %d' % PAR)
        log('parallel creates:', R['parallel'])
        # back to exactly LIST volumes for the throughput and CLI runs (serial deletes, with retries)
        for vid in ids:
            st, _, _ = c.call('DELETE', '/volumes/%s' % vid)
            if st == 202:
                c.wait_status(vid, 'gone', timeout=300, poll=0.05)
        st, js, _ = c.call('GET', '/volumes/detail')
        for v in js['volumes']:
            if v['status'] == 'error' or v['name'].startswith('par-'):
                c.call('DELETE', '/volumes/%s' % v['id'])
    except Exception as e:
        R['errors']['parallel'] = repr(e); log('parallel failed:', e)
    save()
    log('HTTP 500 retries (serial phases):', R['http_500_retries'])


if __name__ == '__main__':
    main()
