#!/usr/bin/python3
"""The markdown of bench/storage/run.sh from its OUT directory: qemu-img-bench.tsv, vfi-LABEL.json, machine.env.

  table.py OUT COMMAND LABEL,LABEL...
"""
import collections
import json
import os
import statistics
import sys

out, command, labels = sys.argv[1], sys.argv[2], sys.argv[3].split(',')
env = dict(line.rstrip('\n').split('=', 1) for line in open(os.path.join(out, 'machine.env')) if '=' in line)
ceph = dict(line.rstrip('\n').split('=', 1) for line in open(os.path.join(out, 'ceph.env')) if '=' in line)

print('`%s` at commit %s, %s UTC.' % (command, env['commit'], env['date'].replace('T', ' ').rstrip('Z')))
print()
print('- machine: %s; %s; %s' % (env['cpu'], env['os'], env['disk']))
print('- load average (1/5/15 min) at the start %s, at the end %s: the machine is shared with other engineers\''
      ' builds, tests and guests' % (env['load_start'], env['load_end']))
print('- Ceph: the tests\' single-node cluster (one mon, one mgr, one OSD on %s, pool size 1, cephx), on 127.0.0.1,'
      ' started in %.1f s' % (ceph['CEPH_OSD'], float(env['ceph_start_s'])))
print()

# qemu-img bench: target, job, round, count, size, seconds -> median seconds per (target, job)
secs = collections.defaultdict(list)
cpu = collections.defaultdict(list)
meta = {}
jobs = []
for line in open(os.path.join(out, 'qemu-img-bench.tsv')):
    target, job, rnd, count, size, s, client_cpu, server_cpu = line.rstrip('\n').split('\t')
    secs[(target, job)].append(float(s))
    cpu[(target, job)].append((sum(map(float, client_cpu.split('+'))), float(server_cpu)))  # client: bash's time, user+sys
    meta[job] = (int(count), 4096 if size == '4k' else 1 << 20)
    if job not in jobs:
        jobs.append(job)
rounds = max(len(v) for v in secs.values())


def cell(target, job):
    count, size = meta[job]
    s = statistics.median(secs[(target, job)])
    return count / s, count * size / s / (1 << 20)


print('**`qemu-img bench`, cache=none, %s MiB image, median of %d rounds** (MiB/s, and IOPS)' % (env['size_mb'], rounds))
print()
print('| job | RBD (QEMU\'s rbd driver) | Ember NBD, file volume (TCP) | raw file (aio=native) | RBD / Ember NBD | RBD / file | Ember NBD / file |')
print('|---|---|---|---|---|---|---|')
for job in jobs:
    r, n, f = (cell(t, job) for t in ('rbd', 'ember-nbd', 'file'))
    fmt = lambda c: '%.0f MiB/s (%.0f IOPS)' % (c[1], c[0]) if meta[job][1] == 1 << 20 else '%.1f MiB/s (%.0f IOPS)' % (c[1], c[0])
    print('| %s (%d requests) | %s | %s | %s | %.2fx | %.2fx | %.2fx |' % (
        job, meta[job][0], fmt(r), fmt(n), fmt(f), r[0] / n[0], r[0] / f[0], n[0] / f[0]))
print()

copies = collections.defaultdict(lambda: collections.defaultdict(list))
for line in open(os.path.join(out, 'copy.tsv')):
    image, target, s = line.rstrip('\n').split('\t')
    copies[image][target].append(float(s))
print('CPU time per request (median over the rounds; µs of user + system): qemu-img / the server process')
print()
print('| job | RBD: qemu-img / ceph-osd | Ember NBD: qemu-img / Ember | raw file: qemu-img |')
print('|---|---|---|---|')
for job in jobs:
    per = lambda t, i: statistics.median(c[i] for c in cpu[(t, job)]) / meta[job][0] * 1e6
    print('| %s | %.0f / %.0f | %.0f / %.0f | %.0f |' % (
        job, per('rbd', 0), per('rbd', 1), per('ember-nbd', 0), per('ember-nbd', 1), per('file', 0)))
print()

vfi = {label: json.load(open(os.path.join(out, 'vfi-%s.json' % label))) for label in labels}
images = list(vfi[labels[0]])
runs = len(vfi[labels[0]][images[0]]['seconds'])
print('**Volume from image through `ember serve`: POST /volumes with imageRef -> `available`, median of %d runs** '
      '(seconds; min-max in brackets)' % runs)
print()
print('| image | ' + ' | '.join('volume backend `%s`' % label for label in labels) +
      ''.join(' | %s / %s' % (label, labels[0]) for label in labels[1:]) + ' |')
print('|---' * (1 + len(labels) + len(labels) - 1) + '|')
for image in images:
    first = vfi[labels[0]][image]
    desc = '%s (%s, %.0f MiB virtual, %.0f MiB uploaded; %d GiB volume)' % (
        image, 'qcow2' if first['image_bytes'] < first['virtual_bytes'] else 'raw',
        first['virtual_bytes'] / (1 << 20), first['image_bytes'] / (1 << 20), first['volume_gib'])
    cells = ['%.2f (%.2f-%.2f)' % (vfi[l][image]['median_s'], min(vfi[l][image]['seconds']), max(vfi[l][image]['seconds']))
             for l in labels]
    ratios = ['%.2fx' % (vfi[l][image]['median_s'] / first['median_s']) for l in labels[1:]]
    print('| %s |' % ' | '.join([desc] + cells + ratios))
    c = copies.get(image)
    if c and labels[:2] == ['file', 'rbd']:
        cells = ['%.2f (%.2f-%.2f)' % (statistics.median(c[t]), min(c[t]), max(c[t])) for t in ('file', 'rbd')]
        others = ' |' * (len(labels) - 2)  # the rows beyond file and rbd have no hand-made copy
        print('| &nbsp;&nbsp;the copy alone: `qemu-img convert` by hand | %s |%s %.2fx |%s' % (
            ' | '.join(cells), others, statistics.median(c['rbd']) / statistics.median(c['file']), others))
