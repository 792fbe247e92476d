# python_workload.py -- real work for /usr/bin/python3 under
# LD_PRELOAD=libglassheap.so with PYTHONMALLOC=malloc (every object then goes
# through malloc): json, re, collections and hashlib over ~100k objects.
# It checks itself (asserts) and prints deterministic results that
# preload_real_programs.py compares with a run without glassheap.
import collections
import hashlib
import json
import random
import re

N = 100_000
WORDS = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta",
         "iota", "kappa", "lambda", "mu"]

rng = random.Random(20240611)
objs = []
for i in range(N):
    objs.append({
        "id": i,
        "name": "%s-%d" % (rng.choice(WORDS), i % 977),
        "tags": [rng.choice(WORDS) for _ in range(i % 5)],
        "value": round(rng.random() * 1000.0, 6),
        "nested": {"k": i * 3, "s": str(i) * 2},
    })

text = json.dumps(objs, sort_keys=True)
back = json.loads(text)
assert back == objs, "json round trip differs"

names = collections.Counter(o["name"].split("-")[0] for o in back)
tags = collections.Counter(t for o in back for t in o["tags"])
by_bucket = collections.defaultdict(list)
for o in back:
    by_bucket[o["id"] % 101].append(o["value"])
recent = collections.deque(maxlen=1000)
for o in back:
    recent.append(o["id"])
Point = collections.namedtuple("Point", "x y")
points = [Point(o["id"], o["nested"]["k"]) for o in back[::10]]
assert sum(p.y for p in points) == 3 * sum(p.x for p in points)

pat = re.compile(r'"name": "([a-z]+)-(\d+)"')
matches = pat.findall(text)
assert len(matches) == N, len(matches)
assert collections.Counter(m[0] for m in matches) == names
numbers = re.findall(r'"k": (\d+)', text)
assert sum(map(int, numbers)) == 3 * (N - 1) * N // 2
rewritten = re.sub(r"(alpha|beta)-(\d+)", lambda m: m.group(1).upper() + m.group(2), text[:200000])

digest = hashlib.sha256(text.encode()).hexdigest()
md5s = hashlib.md5()
for o in back:
    md5s.update(("%d:%s;" % (o["id"], o["name"])).encode())
blake = hashlib.blake2b(rewritten.encode(), digest_size=16).hexdigest()

# Churn: many short-lived strings, tuples, dicts and sets.
acc = 0
for i in range(N):
    s = {("x%d" % (i % 61)): i, "y": (i, i + 1)}
    acc = (acc + len(repr(s)) + len({i % 7, i % 11, i % 13})) % 1_000_000_007

print("objects", len(back))
print("json bytes", len(text))
print("sha256", digest)
print("md5", md5s.hexdigest())
print("blake2b", blake)
print("top names", sorted(names.most_common(3)))
print("tags", sum(tags.values()), "buckets", len(by_bucket), "recent", recent[0], recent[-1])
print("churn", acc)
print("OK")
