"""A healthy CPython heap for docs/leak-checking.md's offset figures: imports a
few standard modules, builds 20,000 small dicts, prints "ready" and waits for
stdin to close. Run it with PYTHONMALLOC=malloc, glassheap preloaded and
GLASSHEAP_HTTP set, then POST /debug/memory/gc with and without
GLASSHEAP_LEAK_OFFSETS=16,32."""
import argparse  # noqa: F401
import asyncio  # noqa: F401
import collections  # noqa: F401
import decimal  # noqa: F401
import email.parser  # noqa: F401
import http.client  # noqa: F401
import json  # noqa: F401
import sys
import unittest  # noqa: F401

data = [{"k": i, "v": str(i) * 3, "l": list(range(i % 7))} for i in range(20000)]
print("ready", flush=True)
sys.stdin.read()
