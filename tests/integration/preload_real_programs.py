#!/usr/bin/python3
"""preload_real_programs -- real programs not written here run with
LD_PRELOAD=libglassheap.so, exit 0 with their normal output, and the at-exit
report (GLASSHEAP_REPORT) shows their allocations.

Cases (run all, or pick with --only NAME[,NAME]):
  python   /usr/bin/python3 with PYTHONMALLOC=malloc running python_workload.py
  cxx      a C++17 STL/aligned-new/std::thread program (not linked with glassheap)
  git      init, add, commit, log, gc, fsck in a temporary repository
  perl     perl -e with hashes, regexes and sort
  gcc      gcc compiling a C file (driver, cc1, as, collect2, ld each report)

For every case the output is compared with the expected one (or with a run
of the same program without glassheap), stderr must not carry glassheap
messages, and every report file must parse and be consistent: for each
type line, live_count == total_allocs - total_frees (nothing retags here).

Standard library only; run it with /usr/bin/python3.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

TIMEOUT = 120  # seconds, per command


class CaseFailure(Exception):
    pass


class CaseSkipped(Exception):
    """The program a case runs is not installed: the case cannot run here."""


def tool(name):
    """The path of a program the case needs; skips the case without it."""
    path = shutil.which(name) or "/usr/bin/" + name
    if not os.access(path, os.X_OK):
        raise CaseSkipped("%s is not installed" % name)
    return path


def fail(msg):
    raise CaseFailure(msg)


def base_env():
    """The environment without any glassheap or preload setting of ours."""
    env = {k: v for k, v in os.environ.items()
           if k != "LD_PRELOAD" and not k.startswith("GLASSHEAP_") and not k.startswith("PYTHON")
           and not k.startswith("GIT_")}
    env["LC_ALL"] = "C"
    env["LANG"] = "C"
    return env


def preload_env(lib, report, extra=None):
    env = base_env()
    env["LD_PRELOAD"] = lib
    env["GLASSHEAP_REPORT"] = report
    if extra:
        env.update(extra)
    return env


def run(cmd, env, cwd=None, what=None, input_text=None, check=True):
    t0 = time.monotonic()
    try:
        p = subprocess.run(cmd, env=env, cwd=cwd, input=input_text, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=TIMEOUT, text=True)
    except subprocess.TimeoutExpired:
        fail("%s: timed out after %ds: %s" % (what or cmd[0], TIMEOUT, cmd))
    dt = time.monotonic() - t0
    shown = " ".join(cmd).replace("\n", " ")
    print("    $ %s  (exit %d, %.2fs)" % (shown[:160] + ("..." if len(shown) > 160 else ""), p.returncode, dt))
    if check and p.returncode != 0:
        fail("%s exited %d\n--- stdout ---\n%s\n--- stderr ---\n%s" %
             (what or cmd[0], p.returncode, p.stdout[-4000:], p.stderr[-4000:]))
    if env.get("LD_PRELOAD") and "glassheap:" in p.stderr:
        fail("%s: glassheap wrote to stderr:\n%s" % (what or cmd[0], p.stderr[-4000:]))
    return p


# ---- Reports ----------------------------------------------------------------------

def parse_report(path):
    """Parses a report (format at the top of alloc/report.c); fails on any
    malformed line. Returns {'pid', 'exe', 'types': {name: (live, bytes,
    allocs, frees)}, 'sites': int}."""
    with open(path, encoding="utf-8", errors="replace") as f:
        lines = f.read().splitlines()
    if not lines:
        fail("%s: empty report" % path)
    m = re.match(r"# glassheap report pid=(\d+) exe=(.*)$", lines[0])
    if not m:
        fail("%s: bad first line %r" % (path, lines[0]))
    rep = {"path": path, "pid": int(m.group(1)), "exe": m.group(2), "types": {}, "sites": 0}
    for ln in lines[1:]:
        if ln.startswith("#"):
            continue
        fields = ln.split("\t")
        if fields[0] == "type" and len(fields) == 6:
            try:
                nums = tuple(int(x) for x in fields[1:5])
            except ValueError:
                fail("%s: bad type line %r" % (path, ln))
            rep["types"][fields[5]] = nums
        elif fields[0] == "site" and len(fields) == 4:
            rep["sites"] += 1
        else:
            fail("%s: unexpected line %r" % (path, ln))
    for name, (live, nbytes, allocs, frees) in rep["types"].items():
        if live != allocs - frees:
            fail("%s: type %r: live_count %d != total_allocs %d - total_frees %d" %
                 (path, name, live, allocs, frees))
        if live == 0 and nbytes != 0:
            fail("%s: type %r: no live objects but %d live bytes" % (path, name, nbytes))
    return rep


def expect_type(rep, name, min_allocs=1):
    t = rep["types"].get(name)
    if t is None:
        fail("%s (exe %s): no 'type ... %s' line; types: %s" %
             (rep["path"], rep["exe"], name, sorted(rep["types"])))
    if t[2] < min_allocs:
        fail("%s: type %r has total_allocs %d, want >= %d" % (rep["path"], name, t[2], min_allocs))
    return t


def reports_in(d, prefix="r."):
    paths = sorted(os.path.join(d, n) for n in os.listdir(d) if n.startswith(prefix))
    return [parse_report(p) for p in paths]


def single_report(d):
    reps = reports_in(d)
    if len(reps) != 1:
        fail("want exactly one report in %s, found %d: %s" % (d, len(reps), [r["path"] for r in reps]))
    return reps[0]


# ---- Cases ---------------------------------------------------------------------------

def case_python(args, tmp):
    py = "/usr/bin/python3"
    env_plain = base_env()
    env_plain["PYTHONMALLOC"] = "malloc"
    ref = run([py, "-I", args.python_workload], env_plain, cwd=tmp, what="python3 (reference)")
    got = run([py, "-I", args.python_workload],
              preload_env(args.lib, os.path.join(tmp, "r.%p"), {"PYTHONMALLOC": "malloc"}),
              cwd=tmp, what="python3 under glassheap")
    if got.stdout != ref.stdout:
        fail("python3 output differs under glassheap:\n--- reference ---\n%s--- glassheap ---\n%s" %
             (ref.stdout, got.stdout))
    if not got.stdout.rstrip().endswith("OK") or "objects 100000" not in got.stdout:
        fail("python3 workload did not finish: %r" % got.stdout)
    rep = single_report(tmp)
    if "python3" not in os.path.basename(rep["exe"]):
        fail("report exe is %r, expected python3" % rep["exe"])
    t = expect_type(rep, "malloc", min_allocs=100000)
    print("    python3: malloc total_allocs=%d total_frees=%d live=%d" % (t[2], t[3], t[0]))


def case_cxx(args, tmp):
    ref = run([args.cxx_workload], base_env(), cwd=tmp, what="C++ workload (reference)")
    got = run([args.cxx_workload], preload_env(args.lib, os.path.join(tmp, "r.%p")), cwd=tmp,
              what="C++ workload under glassheap")
    if got.stdout != ref.stdout:
        fail("C++ output differs under glassheap:\n--- reference ---\n%s--- glassheap ---\n%s" %
             (ref.stdout, got.stdout))
    if "aligned checks ok: yes" not in got.stdout or "checksum " not in got.stdout:
        fail("C++ workload output unexpected: %r" % got.stdout)
    rep = single_report(tmp)
    expect_type(rep, "malloc", min_allocs=1)
    t = expect_type(rep, "operator new", min_allocs=100000)
    print("    C++: operator new total_allocs=%d total_frees=%d" % (t[2], t[3]))


def case_git(args, tmp):
    git = tool("git")
    repo = os.path.join(tmp, "repo")
    rdir = os.path.join(tmp, "reports")
    os.mkdir(rdir)
    home = os.path.join(tmp, "home")
    os.mkdir(home)
    env = preload_env(args.lib, os.path.join(rdir, "r.%p"), {
        "HOME": home,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "Glass Heap", "GIT_AUTHOR_EMAIL": "gh@example.invalid",
        "GIT_COMMITTER_NAME": "Glass Heap", "GIT_COMMITTER_EMAIL": "gh@example.invalid",
        "GIT_AUTHOR_DATE": "2024-01-02T03:04:05+0000",
        "GIT_COMMITTER_DATE": "2024-01-02T03:04:05+0000",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_PAGER": "cat", "PAGER": "cat",
    })
    g = [git, "-c", "gc.auto=0", "-c", "maintenance.auto=false", "-c", "core.pager=cat"]
    run(g + ["-c", "init.defaultBranch=main", "init", "-q", repo], env, what="git init")
    for i in range(60):
        with open(os.path.join(repo, "file%02d.txt" % i), "w") as f:
            f.write("".join("line %d of file %d\n" % (j, i) for j in range(200 + i)))
    os.mkdir(os.path.join(repo, "sub"))
    with open(os.path.join(repo, "sub", "nested.c"), "w") as f:
        f.write("int main(void) { return 0; }\n")
    run(g + ["add", "."], env, cwd=repo, what="git add")
    run(g + ["commit", "-q", "-m", "initial commit"], env, cwd=repo, what="git commit")
    for i in range(0, 60, 7):
        with open(os.path.join(repo, "file%02d.txt" % i), "a") as f:
            f.write("changed in the second commit\n")
    os.remove(os.path.join(repo, "file59.txt"))
    run(g + ["commit", "-q", "-a", "-m", "second commit"], env, cwd=repo, what="git commit -a")
    run(g + ["tag", "-a", "v1", "-m", "version one"], env, cwd=repo, what="git tag")
    log = run(g + ["log", "--format=%s|%an"], env, cwd=repo, what="git log").stdout
    if log != "second commit|Glass Heap\ninitial commit|Glass Heap\n":
        fail("git log output unexpected: %r" % log)
    stat = run(g + ["diff", "--shortstat", "HEAD~1", "HEAD"], env, cwd=repo, what="git diff").stdout
    if "10 files changed, 9 insertions(+), 259 deletions(-)" not in stat:
        fail("git diff --shortstat unexpected: %r" % stat)
    run(g + ["gc", "--quiet", "--prune=now"], env, cwd=repo, what="git gc")
    cnt = run(g + ["count-objects", "-v"], env, cwd=repo, what="git count-objects").stdout
    fields = dict(ln.split(": ", 1) for ln in cnt.splitlines() if ": " in ln)
    # 2 commits, 1 tag, 3 trees, 61 + 9 blobs: everything packed, nothing loose.
    if fields.get("count") != "0" or int(fields.get("in-pack", "0")) < 70 or fields.get("packs") != "1":
        fail("git count-objects after gc unexpected: %r" % cnt)
    run(g + ["fsck", "--no-progress", "--strict"], env, cwd=repo, what="git fsck")
    show = run(g + ["show", "v1:file07.txt"], env, cwd=repo, what="git show").stdout
    if not show.endswith("line 206 of file 7\nchanged in the second commit\n"):
        fail("git show v1:file07.txt unexpected tail: %r" % show[-200:])
    n = run(g + ["rev-list", "--count", "--all"], env, cwd=repo, what="git rev-list").stdout.strip()
    if n != "2":
        fail("git rev-list --count --all = %r, want 2" % n)
    reps = reports_in(rdir)
    if len(reps) < 10:
        fail("want a report per git process (>= 10), found %d" % len(reps))
    total = 0
    for r in reps:
        total += expect_type(r, "malloc")[2]
    exes = sorted({os.path.basename(r["exe"]) for r in reps})
    print("    git: %d reports (%s), malloc total_allocs=%d" % (len(reps), ", ".join(exes), total))


PERL_SCRIPT = r'''
use strict; use warnings;
my %h;
for my $i (1 .. 60000) {
    my $k = "key" . (($i * 7919) % 10007);
    $h{$k} += $i;
    push @{ $h{"list" . ($i % 97)} }, $i if $i % 5 == 0;
}
my @scalars = grep { !ref $h{$_} } keys %h;
my @sorted = sort { $h{$b} <=> $h{$a} || $a cmp $b } @scalars;
my $sevens = grep { /^key\d*7$/ } @sorted;
my @lists = sort { $a cmp $b } grep { ref $h{$_} } keys %h;
my $list_total = 0; $list_total += scalar @{ $h{$_} } for @lists;
my $top = join(",", map { "$_=$h{$_}" } @sorted[0 .. 4]);
(my $t = $top) =~ s/key(\d+)/K<$1>/g;
my $text = join(" ", map { sprintf("w%04d", $_ % 1000) } 1 .. 20000);
my %words; $words{$1}++ while $text =~ /\b(w\d\d[13579]\d)\b/g;
my @w = sort { $words{$b} <=> $words{$a} || $a cmp $b } keys %words;
printf "keys %d sevens %d lists %d/%d\n", scalar @scalars, $sevens, scalar @lists, $list_total;
print "$t\n";
printf "words %d first %s last %s\n", scalar @w, $w[0], $w[-1];
print join("", reverse sort map { chr(97 + $_ % 26) } 1 .. 52), "\n";
'''


def case_perl(args, tmp):
    perl = tool("perl")
    ref = run([perl, "-e", PERL_SCRIPT], base_env(), cwd=tmp, what="perl (reference)")
    got = run([perl, "-e", PERL_SCRIPT], preload_env(args.lib, os.path.join(tmp, "r.%p")), cwd=tmp,
              what="perl under glassheap")
    if got.stdout != ref.stdout:
        fail("perl output differs under glassheap:\n--- reference ---\n%s--- glassheap ---\n%s" %
             (ref.stdout, got.stdout))
    lines = got.stdout.splitlines()
    if len(lines) != 4 or not lines[0].startswith("keys 10007 ") or "lists 97/12000" not in lines[0] \
            or lines[3] != "zzyyxxwwvvuuttssrrqqppoonnmmllkkjjiihhggffeeddccbbaa":
        fail("perl output unexpected: %r" % got.stdout)
    rep = single_report(tmp)
    t = expect_type(rep, "malloc", min_allocs=10000)
    print("    perl: malloc total_allocs=%d" % t[2])


HELLO_C = r'''
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct item { char name[16]; int weight; };

static int by_weight(const void *a, const void *b)
{
	const struct item *x = a, *y = b;
	return x->weight != y->weight ? x->weight - y->weight : strcmp(x->name, y->name);
}

int main(void)
{
	struct item items[64];
	for (int i = 0; i < 64; i++) {
		snprintf(items[i].name, sizeof items[i].name, "item%02d", i);
		items[i].weight = (i * 37) % 17;
	}
	qsort(items, 64, sizeof items[0], by_weight);
	long sum = 0;
	for (int i = 0; i < 64; i++)
		sum = sum * 31 % 1000003 + items[i].weight * (i + 1);
	printf("hello from a program gcc built under glassheap: %s %s %ld\n", items[0].name, items[63].name, sum);
	return 0;
}
'''


def case_gcc(args, tmp):
    gcc = tool("gcc")
    src = os.path.join(tmp, "hello.c")
    with open(src, "w") as f:
        f.write(HELLO_C)
    rdir = os.path.join(tmp, "reports")
    os.mkdir(rdir)
    out = os.path.join(tmp, "hello")
    env = preload_env(args.lib, os.path.join(rdir, "r.%p"))
    run([gcc, "-O2", "-Wall", "-Werror", "-o", out, src], env, cwd=tmp, what="gcc under glassheap")
    # The compiled program must run, both plainly and under glassheap.
    ref_out = os.path.join(tmp, "hello_ref")
    run([gcc, "-O2", "-o", ref_out, src], base_env(), cwd=tmp, what="gcc (reference)")
    expect = run([ref_out], base_env(), what="reference program").stdout
    got = run([out], base_env(), what="program built under glassheap").stdout
    if got != expect or not got.startswith("hello from a program gcc built under glassheap: "):
        fail("program built under glassheap prints %r, reference prints %r" % (got, expect))
    reps = reports_in(rdir)
    exes = [os.path.basename(r["exe"]) for r in reps]
    for r in reps:
        expect_type(r, "malloc")
    want = {
        "the gcc driver": lambda e: re.match(r"^(x86_64-linux-gnu-)?gcc(-\d+)?$", e),
        "cc1": lambda e: e == "cc1",
        "as": lambda e: re.match(r"^(x86_64-linux-gnu-)?as$", e),
        "collect2": lambda e: e == "collect2",
        "ld": lambda e: re.match(r"^(x86_64-linux-gnu-)?ld(\.bfd|\.gold)?$", e),
    }
    for what, pred in want.items():
        if not any(pred(e) for e in exes):
            fail("no report from %s among the gcc processes' reports: %s" % (what, exes))
    cc1 = [r for r in reps if os.path.basename(r["exe"]) == "cc1"][0]
    t = expect_type(cc1, "malloc", min_allocs=1000)
    print("    gcc: %d reports (%s); cc1 malloc total_allocs=%d" % (len(reps), ", ".join(sorted(exes)), t[2]))


CASES = [("python", case_python), ("cxx", case_cxx), ("git", case_git), ("perl", case_perl),
         ("gcc", case_gcc)]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lib", required=True, help="path of libglassheap.so")
    ap.add_argument("--cxx-workload", required=True)
    ap.add_argument("--python-workload", required=True)
    ap.add_argument("--only", default="", help="comma-separated case names")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directories")
    args = ap.parse_args()
    args.lib = os.path.abspath(args.lib)
    if not os.path.exists(args.lib):
        print("no such library: %s" % args.lib)
        return 1
    only = set(filter(None, args.only.split(",")))
    failed, skipped = [], []
    passed = 0
    for name, fn in CASES:
        if only and name not in only:
            continue
        tmp = tempfile.mkdtemp(prefix="gh_preload_%s_" % name)
        print("[ RUN  ] %s  (in %s)" % (name, tmp))
        sys.stdout.flush()
        try:
            fn(args, tmp)
        except CaseFailure as e:
            failed.append(name)
            print("  FAILED: %s" % e)
            print("[ FAIL ] %s" % name)
        except CaseSkipped as e:
            skipped.append(name)
            print("[ SKIP ] %s: %s" % (name, e))
        else:
            passed += 1
            print("[  OK  ] %s" % name)
        finally:
            if not args.keep:
                shutil.rmtree(tmp, ignore_errors=True)
        sys.stdout.flush()
    print("%d passed, %d failed%s, %d skipped" % (passed, len(failed), (": " + ", ".join(failed)) if failed else "",
                                                len(skipped)))
    # 77: a case could not run here (ctest's SKIP_RETURN_CODE): reported, never a pass
    return 1 if failed else 77 if skipped else 0


if __name__ == "__main__":
    sys.exit(main())
