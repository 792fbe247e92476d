"""fp_python.py -- issue 15's CPython workload: JSON round-trips with
PYTHONMALLOC=malloc, so that every object CPython creates is a malloc() of
the allocator under test (bench/footprint.py runs it under each one with
LD_PRELOAD, with Debian's /usr/bin/python3).

    PYTHONMALLOC=malloc python3 bench/fp_python.py [iterations]

Eight documents (nested dicts and lists of strings, integers, floats,
booleans and None, ~15-30 KB of JSON each) are built once from a fixed
seed. Each iteration encodes one with json.dumps, decodes the text with
json.loads and keeps the decoded document in a sliding window of the last
WINDOW (200) decoded documents, so the live heap holds ~20 MB of small
Python objects that are replaced one document at a time. One evicted
document in 16 is re-encoded and compared with its original's text (an
allocator that handed out overlapping memory would change it). Without an
argument: 2000 iterations times $GH_BENCH_SCALE.

Prints one line "workload=fp_python ... seconds=... peak_rss_kb=..."
(seconds: the round-trip loop; peak_rss_kb: VmHWM) and exits 0; 2 when a
document changed, 64 on bad arguments or without PYTHONMALLOC=malloc.
"""
import collections
import json
import os
import random
import sys
import time

DEFAULT_ITERATIONS = 2000
WINDOW = 200
CHECK_EVERY = 16  # re-encode one evicted document in 16: the check stays a small part of the loop
DOCUMENTS = 8


def word(rng):
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz_") for _ in range(rng.randint(3, 24)))


def value(rng, depth):
    k = rng.random()
    if depth < 3 and k < 0.12:
        return {word(rng): value(rng, depth + 1) for _ in range(rng.randint(1, 6))}
    if depth < 3 and k < 0.22:
        return [value(rng, depth + 1) for _ in range(rng.randint(0, 8))]
    if k < 0.55:
        return word(rng) + (" " + word(rng)) * rng.randint(0, 4)
    if k < 0.75:
        return rng.randint(-10 ** 6, 10 ** 9)
    if k < 0.9:
        return rng.random() * 1000
    return rng.choice([True, False, None])


def document(rng):
    return {
        "id": rng.randint(0, 1 << 30),
        "name": word(rng),
        "records": [{word(rng): value(rng, 0) for _ in range(rng.randint(4, 12))}
                    for _ in range(rng.randint(20, 40))],
        "index": {word(rng): [rng.randint(0, 1000) for _ in range(rng.randint(0, 12))] for _ in range(15)},
    }


def peak_rss_kb():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return -1


def main():
    if len(sys.argv) > 2:
        print(__doc__.strip().split("\n\n")[1], file=sys.stderr)
        return 64
    if os.environ.get("PYTHONMALLOC") != "malloc":
        print("fp_python.py: run with PYTHONMALLOC=malloc (every object through malloc)", file=sys.stderr)
        return 64
    try:
        if len(sys.argv) == 2:
            iterations = int(sys.argv[1])
        else:
            iterations = int(DEFAULT_ITERATIONS * float(os.environ.get("GH_BENCH_SCALE") or "1"))
    except ValueError:
        iterations = -1
    if iterations < 0:
        print("fp_python.py: want a non-negative iteration count (argument or GH_BENCH_SCALE)", file=sys.stderr)
        return 64
    rng = random.Random(0x4A534F4E)
    docs = [document(rng) for _ in range(DOCUMENTS)]
    texts = [json.dumps(d) for d in docs]  # what each must encode to, for the check
    window = collections.deque()
    text_bytes = 0
    t0 = time.monotonic()
    for i in range(iterations):
        text = json.dumps(docs[i % DOCUMENTS])
        text_bytes += len(text)
        window.append((i % DOCUMENTS, json.loads(text)))
        del text
        if len(window) > WINDOW:
            k, old = window.popleft()
            if i % CHECK_EVERY == 0 and json.dumps(old) != texts[k]:
                print("fp_python.py: iteration %d: a decoded document changed" % i, file=sys.stderr)
                return 2
    t1 = time.monotonic()
    print("workload=fp_python threads=1 ops=%d window=%d json_mb=%.1f seconds=%.6f peak_rss_kb=%d" % (
        iterations, WINDOW, text_bytes / 1e6, t1 - t0, peak_rss_kb()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
