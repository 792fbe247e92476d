#!/usr/bin/python3
# summarize.py FILE...: per size (the blocks inter.sh prints in order 100k, 1M, 10M), the median
# over rounds of each process's median (base, new, gc), the ranges, and compute / gc.
import re, statistics, sys
for f in sys.argv[1:]:
    blocks, cur, last = [], None, None
    for line in open(f):
        m = re.match(r'round (\d+) (base|new|gc) (?:compute_)?cpu(?:_ms)? median ([\d.]+)(?: B/obj ([\d.]+))?', line)
        if not m:
            continue
        k = int(m.group(1))
        if cur is None or (k == 1 and last is not None and last != 1):
            cur = {'base': [], 'new': [], 'gc': [], 'bpo': {}}
            blocks.append(cur)
        last = k
        cur[m.group(2)].append(float(m.group(3)))
        if m.group(4):
            cur['bpo'][m.group(2)] = m.group(4)
    print(f)
    for name, b in zip(['100k', '1M', '10M'], blocks):
        md = {k: statistics.median(b[k]) for k in ('base', 'new', 'gc')}
        rng = {k: (min(b[k]), max(b[k])) for k in ('base', 'new', 'gc')}
        print(f"  {name}: rounds {len(b['gc'])}  gc {md['gc']:.1f} ({rng['gc'][0]:.1f}-{rng['gc'][1]:.1f})"
              f"  main {md['base']:.1f} ({rng['base'][0]:.1f}-{rng['base'][1]:.1f})"
              f"  branch {md['new']:.1f} ({rng['new'][0]:.1f}-{rng['new'][1]:.1f})"
              f"  ratio main {md['base']/md['gc']:.2f} branch {md['new']/md['gc']:.2f}"
              f"  B/obj {b['bpo'].get('base')} {b['bpo'].get('new')}")
