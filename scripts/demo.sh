#!/bin/sh
# Installs the dependencies, builds glassheap and its demo service, starts the
# demo with the debug server on 127.0.0.1:8000 (leaking SpeechRecognizer
# objects slowly), and runs the reference document's curl examples against it.
# The demo keeps running in the background; the last line says how to stop it.
set -eu
cd "$(dirname "$0")/.."
sh scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo > /dev/null
cmake --build build -j"$(nproc)" --target glassheap-demo glassheap
if curl -s -o /dev/null "http://127.0.0.1:8000/debug/memory" 2>/dev/null; then
  echo "something already answers on 127.0.0.1:8000; stop it first" >&2
  exit 1
fi
nohup build/examples/glassheap-demo --listen 127.0.0.1:8000 --leak SpeechRecognizer --quiet \
  > /tmp/glassheap-demo.log 2>&1 &
pid=$!
i=0
until curl -s -o /dev/null "http://127.0.0.1:8000/debug/memory"; do
  i=$((i + 1))
  if [ $i -gt 100 ] || ! kill -0 $pid 2>/dev/null; then
    echo "the demo did not start; see /tmp/glassheap-demo.log" >&2
    exit 1
  fi
  sleep 0.1
done
sleep 2
show() {
  echo
  echo "\$ curl $*"
  curl -s "$@"
  echo
}
show "http://127.0.0.1:8000/debug/memory?top_n=10&sort_by=size"
show "http://127.0.0.1:8000/debug/memory?sort_by=count&top_n=5"
show "http://127.0.0.1:8000/debug/memory/types?type_name=SpeechRecognizer&samples=3"
show "http://127.0.0.1:8000/debug/memory/referrers?type_name=SpeechRecognizer"
show -X POST "http://127.0.0.1:8000/debug/memory/gc"
echo
echo "demo running as PID $pid on http://127.0.0.1:8000 (log: /tmp/glassheap-demo.log); stop it with: kill $pid"
