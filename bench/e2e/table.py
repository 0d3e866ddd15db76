#!/usr/bin/python3
"""Prints the side-by-side table from a bench/e2e/run.sh results directory.  table.py DIR [--doc]"""
import json
import os
import re
import sys

D = sys.argv[1]
DOC = '--doc' in sys.argv


def load(name):
    try:
        return json.load(open(os.path.join(D, name)))
    except Exception:
        return None


def env(name):
    out = {}
    try:
        for line in open(os.path.join(D, name)):
            if '=' in line:
                k, v = line.rstrip('\n').split('=', 1)
                out[k] = v
    except OSError:
        pass
    return out


KV = {}
try:
    for line in open(os.path.join(D, 'kv.tsv')):
        k, v = line.rstrip('\n').split('\t', 1)
        KV[k] = v
except OSError:
    pass
M = env('machine.env')
OS, EM, CO = load('rest-os.json'), load('rest-ember.json'), load('compute.json')
PG = load('rest-ember-pg.json')


def num(x):
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


def ms(x):
    if x is None:
        return 'n/a'
    if x >= 10000:
        return '%.1f s' % (x / 1000)
    if x >= 1000:
        return '%.2f s' % (x / 1000)
    if x >= 10:
        return '%.0f ms' % x
    return '%.1f ms' % x


def secs(x):
    x = num(x)
    if x is None:
        return None
    return ms(x * 1000)


def ratio(o, e, higher_better=False):
    if o is None or e is None or o == 0 or e == 0:
        return ''
    r = e / o if higher_better else o / e
    return ('%.0f×' % r) if r >= 10 else ('%.1f×' % r) if r >= 1 else ('%.2f×' % r)


def lat(res, key):
    """'median / p90' cell and the median for the ratio."""
    if res is None:
        return 'n/a (not run)', None
    if key not in res:
        err = '; '.join('%s: %s' % kv for kv in res.get('errors', {}).items())
        return 'n/a (%s)' % (err[:70] or 'missing'), None
    v = res[key]
    return '%s / %s' % (ms(v['median_ms']), ms(v['p90_ms'])), v['median_ms']


def wrk(side, conns):
    try:
        s = open(os.path.join(D, 'wrk-%s-c%d.txt' % (side, conns))).read()
    except OSError:
        return 'n/a', None
    m = re.search(r'Requests/sec:\s+([\d.]+)', s)
    if not m:
        return 'n/a (%s)' % s.strip().splitlines()[-1][:60] if s.strip() else 'n/a', None
    rps = float(m.group(1))
    total = re.search(r'(\d+) requests in', s)
    total = int(total.group(1)) if total else 0
    errs = 0
    se = re.search(r'Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)', s)
    if se:
        errs += sum(int(x) for x in se.groups())
    n2 = re.search(r'Non-2xx or 3xx responses: (\d+)', s)
    if n2:
        errs += int(n2.group(1))
    p50 = re.search(r'50%\s+([\d.]+\w+)', s)
    good = rps * (total - min(errs, total)) / total if total else 0.0  # the ratio uses successful requests only
    return '%.0f req/s, p50 %s, %d errors / %d' % (rps, p50.group(1) if p50 else '?', errs, total), good


def par(res):
    if res is None or 'parallel' not in res:
        return 'n/a', None
    p = res['parallel']
    kinds = (' (%s)' % ', '.join(p['error_kinds'])) if p['errors'] else ''
    return '%.1f vol/s, %d/%d available, %d errors%s' % (p['rate_per_s'], p['available'], p['total'], p['errors'], kinds), p['rate_per_s']


def cli(key):
    v = KV.get('cli_' + key)
    if v is None:
        return 'n/a (not run)', None
    x = num(v)
    return (ms(x * 1000), x) if x is not None else (v, None)


def mib(key):
    x = num(KV.get(key))
    return ('%.0f MiB' % x if x is not None else 'n/a'), x


rows = []


def row(name, e, o, higher_better=False):
    rows.append((name, e[0], o[0], ratio(o[1], e[1], higher_better)))


n = (EM or OS or {}).get('create', {}).get('n', '?')
list_n = (EM or {}).get('list_count', (OS or {}).get('list_count', 100))


def api_rows(add, mine, theirs, mine_side, their_side):
    """The REST and wrk rows both tables share: add(name, mine cell, theirs cell, higher_better)."""
    add('volume create 1 GiB -> `available` (median / p90)', lat(mine, 'create'), lat(theirs, 'create'))
    add('volume delete -> gone (404)', lat(mine, 'delete'), lat(theirs, 'delete'))
    add('`GET /volumes/detail`, %s volumes' % list_n, lat(mine, 'list_detail'), lat(theirs, 'list_detail'))
    add('attachment reserve -> connector -> complete', lat(mine, 'attach1_total'), lat(theirs, 'attach1_total'))
    add('second attachment, multi-attach volume (create with connector + complete)', lat(mine, 'attach2_total'), lat(theirs, 'attach2_total'))
    add('attachment delete', lat(mine, 'attach_delete'), lat(theirs, 'attach_delete'))
    for conns in (8, 64):
        add('throughput `GET /volumes/detail`, %d connections (wrk)' % conns, wrk(mine_side, conns), wrk(their_side, conns), True)
    add('parallel volume creates, concurrency 16, 64 volumes', par(mine), par(theirs), True)
    add('  each of those creates -> `available` (median / p90)', lat(mine, 'parallel_create'), lat(theirs, 'parallel_create'))


api_rows(row, EM, OS, 'ember', 'os')
row('idle RSS, 5 s after start (Ember: one process; OpenStack: all its processes)', mib('ember_rss_cold'), mib('os_rss_cold'))
row('idle RSS, 10 s after the workload', mib('ember_rss_warm'), mib('os_rss_warm'))
row('CLI `volume list` (100 volumes): `bin/ember volume list` vs `openstack volume list`', cli('ember_ember'), cli('os_openstack'))
row('CLI: `bin/cinder list` vs Debian `cinder list`', cli('ember_cinder'), cli('os_cinder'))
row('CLI: `bin/nova list` vs Debian `nova list`, both against Ember', cli('ember_nova'), cli('ember_debnova'))
row('CLI, same client on both: Debian `openstack volume list`', cli('ember_openstack'), cli('os_openstack'))
row('CLI, same client on both: Debian `cinder list`', cli('ember_debcinder'), cli('os_cinder'))
e_start = num(KV.get('ember_start_s'))
o_up = num(KV.get('os_up_s'))
row('cold start, empty state -> first token (OpenStack: up.sh, RabbitMQ + Keystone answering at %s, Cinder volume service up at the end)' % (secs(KV.get('os_keystone_up_s')) or 'n/a'),
    (secs(e_start) or 'n/a', e_start), (secs(o_up) or 'n/a', o_up))
rows.append(('HTTP 500 retries in the serial phases (SQLite "database is locked")',
              str((EM or {}).get('http_500_retries', 'n/a')), str((OS or {}).get('http_500_retries', 'n/a')), ''))

ember_only = []


def erow(name, cell):
    ember_only.append((name, cell))


def clat(key):
    if CO is None:
        return KV.get('compute', 'n/a (compute not run)')
    if key not in CO:
        err = '; '.join('%s' % v for v in CO.get('errors', {}).values())
        return 'n/a (%s)' % (err[:120] or 'missing')
    v = CO[key]
    return '%s / %s (n=%d)' % (ms(v['median_ms']), ms(v['p90_ms']), v['n'])


erow('cold start of `ember serve`, empty data dir -> first token', secs(e_start) or 'n/a')
erow('`POST /servers` -> `ACTIVE` (median / p90)', clat('boot_active'))
erow('`POST /servers` -> guest agent ready (`ember-exec true` answers)', clat('boot_agent'))
erow('hot attach: API call -> `test -b /dev/vdc` true in the guest', clat('hot_attach_visible'))
erow('  the `POST os-volume_attachments` response alone', clat('hot_attach_api'))
erow('detach: API call -> `/dev/vdc` gone in the guest', clat('detach_gone'))
erow('detach: API call -> volume `available`', clat('detach_available'))
erow('server delete -> 404', clat('server_delete'))
if CO and 'seed_s' in CO:
    erow('seed walkthrough end to end (2 VMs boot with a multiattach vdb, exchange, hot-attach a 2nd to both as vdc, exchange)',
         '%.1f s' % CO['seed_s'])
else:
    erow('seed walkthrough end to end', clat('seed_s'))
w = KV.get('setup_warm_s'); c = KV.get('setup_cold_s')
erow('`./run.sh --setup-only` on a clean clone, warm caches', secs(w) or (w or 'n/a (SETUP_CLONE=0)'))
erow('`./run.sh --setup-only` on a clean clone, cold NuGet + guest-image caches (Debian packages installed)',
     secs(c) or (c or 'n/a (not run)'))
if KV.get('os_install_s'):
    erow('(OpenStack anchor install.sh in this run, for reference)', secs(KV['os_install_s']))

# Ember on SQLite and on PostgreSQL, same run and client: the cost of the shared state store.
engines = []


def pgrow(name, sqlite, postgres, higher_better=False):
    engines.append((name, sqlite[0], postgres[0], ratio(sqlite[1], postgres[1], higher_better)))


if PG is not None:
    api_rows(pgrow, EM, PG, 'ember', 'ember-pg')
    pg_start = num(KV.get('ember_pg_start_s'))
    pgrow('cold start, empty state -> first token', (secs(e_start) or 'n/a', e_start), (secs(pg_start) or 'n/a', pg_start))

out = []
if DOC:
    out += ['# Benchmarks: Ember side by side with real OpenStack', '',
            'Produced by `%s` (bench/e2e/; raw results stay in a temp directory).' % KV.get('command', 'bench/e2e/run.sh'),
            'OpenStack column: Debian 12 Keystone + Cinder (fake volume driver, so no storage work), RabbitMQ, SQLite in',
            'WAL mode, uwsgi 2 processes x 4 threads, brought up by `../shared/anchors/openstack/up.sh`. Ember column: one',
            '`ember serve` on a fresh data dir, sparse-file volumes, built from commit %s by `./run.sh --setup-only`.' % M.get('commit', '?'),
            'Both are measured by the same client (`bench/e2e/rest.py`, Python stdlib, keep-alive), N = %s per latency.' % n,
            '',
            '- machine: %s, %s CPUs (nproc), %s RAM, /dev/kvm %s (Ember guests ran under: %s); %s, kernel %s; .NET SDK %s' % (
                M.get('cpu'), M.get('nproc'), M.get('ram'), 'present' if M.get('kvm') == 'yes' else 'absent',
                KV.get('accel') or 'n/a', M.get('os'), M.get('kernel'), M.get('dotnet')),
            '- date: %s; load average (1/5/15 min) at start %s, at the end %s (the machine is shared; see the notes)' % (
                M.get('date'), M.get('load_start', '?'), M.get('load_end', '?')), '']
out += ['| metric | Ember | OpenStack | Ember advantage |', '|---|---|---|---|']
for r in rows:
    out.append('| %s | %s | %s | %s |' % r)
out += ['', '**Ember only**', '', '| metric | Ember |', '|---|---|']
for r in ember_only:
    out.append('| %s | %s |' % r)
if engines:
    out += ['', '**Ember on SQLite and on PostgreSQL %s** (the same build, client and run; PostgreSQL from Debian, a throwaway'
            % KV.get('pg_version', ''),
            'cluster on a unix socket with its default durability, as SQLite\'s WAL mode commits with a sync too)', '',
            '| metric | SQLite | PostgreSQL | PostgreSQL ÷ SQLite |', '|---|---|---|---|']
    for r in engines:
        out.append('| %s | %s | %s | %s |' % r)
    out += ['', 'PostgreSQL ÷ SQLite: > 1 means PostgreSQL is faster (times: SQLite ÷ PostgreSQL; rates: PostgreSQL ÷ SQLite).']
elif KV.get('pg'):
    out += ['', 'Ember on PostgreSQL: %s' % KV['pg']]
out += ['', 'Ember advantage: OpenStack ÷ Ember for times and memory, Ember ÷ OpenStack for rates (>1: Ember is better).',
        'Latency cells are median / p90. wrk runs 2 threads for %s s with a 30 s timeout; errors = socket errors + non-2xx.'
        % KV.get('wrk_secs', '15'),
        'CLI times are the median of 5 runs after one warm-up, wall clock, including the client start-up.']
if DOC:
    try:
        out += ['', open(os.path.join(os.path.dirname(os.path.abspath(__file__)), 'notes.md')).read().rstrip()]
    except OSError:
        pass
print('\n'.join(out))
