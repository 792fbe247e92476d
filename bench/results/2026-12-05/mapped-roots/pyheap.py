import sys, time
n = int(sys.argv[1])
# small objects in pymalloc arenas, each holding a malloc'ed buffer (list item arrays, big strs)
keep = [[i, str(i), (i, i + 1)] for i in range(n)]
blobs = [bytearray(600) for i in range(n // 20)]   # > 512 B: malloc'ed, held from arena objects
print("ready", flush=True)
time.sleep(float(sys.argv[2]))
