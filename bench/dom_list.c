/*
 * dom_list.c -- gh-bench-dom-list N: the dominator computation alone
 * (gh__dom_compute) on the graph a mark records for a circular doubly
 * linked list of N nodes (an anchor pointing at the first and the last,
 * the mark going down the prev pointers). The iterative Cooper-Harvey-
 * Kennedy algorithm needed one round per node on it (docs/performance.md);
 * semi-NCA is linear.
 */
#include "internal.h"
#include "dominators.h"
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

static double now(void){struct timespec ts; clock_gettime(CLOCK_MONOTONIC,&ts); return ts.tv_sec*1e3+ts.tv_nsec/1e6;}
int main(int argc, char **argv){
  size_t n = argc > 1 ? strtoul(argv[1],0,10) : 100000; /* anchor 0, nodes 1..n; gran = 2*i+1 */
  uint32_t *log = mmap(0, 4*(4*n+16), PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0);
  struct gh_dom_node_rec *nodes = mmap(0, 16*(n+2), PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0);
  size_t words = (2*n+8)/64+1; uint64_t *reach = calloc(words, 8);
  #define G(i) ((uint32_t)(2*(i)+1))
  size_t nl = 0, nn = 0;
  /* mark order: root -> anchor; anchor pushes next (1) and prev (n); n scanned first (LIFO) */
  log[nl++] = GH_DOM_ROOT | 0; log[nl++] = G(0);
  /* scan anchor */
  nodes[nn++] = (struct gh_dom_node_rec){G(0), 0, GH_DOM_TSZ(5, 16)};
  log[nl++] = GH_DOM_OBJ | G(0); log[nl++] = G(1); log[nl++] = G(n);
  /* then n, n-1, ..., 2 scanned via prev pointers (each discovered by its successor), then 1 */
  for (size_t i = n; i >= 1; i--) {
    nodes[nn++] = (struct gh_dom_node_rec){G(i), 0, GH_DOM_TSZ(6, 16)};
    log[nl++] = GH_DOM_OBJ | G(i); log[nl++] = G(i == n ? 0 : i + 1); log[nl++] = G(i - 1);
  }
  for (size_t i = 0; i <= n; i++) reach[G(i)>>6] |= 1ull << (G(i)&63);
  struct gh_dom_graph g = {log, nl, nodes, nn, reach, words, 1, 0};
  struct gh_dom_tree t; size_t need;
  double t0 = now();
  int rc = gh__dom_compute(&g, (size_t)8<<30, &t, &need);
  printf("n %zu rc %d compute_ms %.1f iterations %u retained(anchor)=%llu\n", n, rc, now()-t0, t.iterations,
         rc ? 0ull : (unsigned long long)gh__dom_retained(&t, gh__dom_node_of(&t, G(0))));
  return 0;
}
