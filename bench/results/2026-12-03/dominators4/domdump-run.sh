#!/bin/bash
# dump.sh BIN N OUT : a domdump with the usual edge count (re-run up to 5 times when a stale word adds an edge)
for i in 1 2 3 4 5; do $1 $2 3000 domdump > $3 2>/dev/null; e=$(head -1 $3 | awk '{print $4}'); r=$(head -1 main-$2.txt | awk '{print $4}'); [ "$e" = "$r" ] && break; done
