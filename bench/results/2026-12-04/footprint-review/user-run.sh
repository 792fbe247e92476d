#!/bin/bash
# user-run.sh (with user-prog.cc built as /tmp/user/prog: g++ -O2 -pthread): unmodified programs under LD_PRELOAD + GLASSHEAP_HTTP, every endpoint asked while they churn.
LIB=/work/main/build/libglassheap.so
CLI=/work/main/build/http/client/glassheap
ask() { # port
  local P=$1 ok=0 n=0 c
  B=http://127.0.0.1:$P
  sleep 3
  for spec in "GET /debug/memory" "GET /debug/memory/sites" "GET /debug/memory/types?type_name=malloc&samples=2" \
      "POST /debug/memory/gc" "GET /debug/memory/dominators" "GET /debug/memory/referrers?type_name=malloc&max_referrers=3" \
      "POST /debug/tracemalloc/start?frames=8" "POST /debug/tracemalloc/snapshot?name=a" "GET /debug/tracemalloc/top" \
      "GET /debug/tracemalloc/traceback?top_n=2" "POST /debug/tracemalloc/snapshot?name=b" "GET /debug/tracemalloc/compare?snapshot1=a&snapshot2=b" \
      "GET /debug/tracemalloc/status" "GET /debug/tracemalloc/folded" "POST /debug/tracemalloc/stop" \
      "POST /debug/tracemalloc/start?frames=4&sample_bytes=65536" "GET /debug/tracemalloc/top" "POST /debug/tracemalloc/stop" \
      "GET /metrics" "GET /debug/pprof/heap" "POST /debug/memory/gc"; do
    m=${spec%% *}; u=${spec#* }
    c=$(curl -s -o /dev/null -w '%{http_code}' -X $m --max-time 30 "$B$u"); n=$((n+1)); [ "$c" = 200 ] && ok=$((ok+1)) || echo "  $spec -> $c"
  done
  c=$(curl -s -o /dev/null -w '%{http_code}' --max-time 30 -H 'Accept: application/msgpack' "$B/debug/memory"); n=$((n+1)); [ "$c" = 200 ] && ok=$((ok+1)) || echo "  msgpack -> $c"
  $CLI --url 127.0.0.1:$P memory >/dev/null 2>&1 && ok=$((ok+1)) || echo "  cli failed"; n=$((n+1))
  echo "  $ok/$n answered"
}
run() { # name port cmd...
  local name=$1 P=$2; shift 2
  echo "== $name"
  env LD_PRELOAD=$LIB GLASSHEAP_HTTP=127.0.0.1:$P "$@" < "${IN:-/dev/null}" > /tmp/user/$name.out 2> /tmp/user/$name.err &
  local pid=$!
  ask $P
  wait $pid; echo "  exit $?; stderr: $(grep -v 'listening' /tmp/user/$name.err | head -3 | tr '\n' ' ')"
}
run python 18901 env PYTHONMALLOC=malloc /usr/bin/python3 -c '
import json, time
end = time.time() + 25; keep = []
while time.time() < end:
    d = {"k%d" % i: [i, str(i) * 3, {"x": i}] for i in range(2000)}
    keep.append(json.loads(json.dumps(d)))
    if len(keep) > 20: keep.pop(0)
print("python done")'
run perl 18902 perl -e 'my %h; my $end = time + 25; my $i = 0; while (time < $end) { $h{"k".($i % 50000)} = "v" x ($i % 100); delete $h{"k".(($i+7) % 50000)} if $i % 3 == 0; $i++ } print "perl done $i\n"'
rm -f /tmp/user/sql.fifo; mkfifo /tmp/user/sql.fifo
( echo "create table t(a integer, b text);"; for r in $(seq 40); do echo "begin;"; for i in $(seq 2000); do echo "insert into t values($i, hex(randomblob(40)));"; done; echo "commit; delete from t where a % 3 = 0;"; sleep 0.5; done; echo "select count(*) from t;" ) > /tmp/user/sql.fifo &
IN=/tmp/user/sql.fifo run sqlite 18903 sqlite3 :memory:
run cxx 18904 /tmp/user/prog 25
