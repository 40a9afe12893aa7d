#!/usr/bin/env python3
"""profile_summary.py CALLGRIND_OUT EVENTS > profile.md

Per-event instruction counts (Ir / EVENTS) from a callgrind profile of
`provflow run` (bench/run --profile): the inclusive cost of provflow's own
functions, the self cost per shared object, and the top self costs.
Uses callgrind_annotate (valgrind).
"""
import re
import subprocess
import sys
from collections import defaultdict

LINE = re.compile(r"^\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+(\S.*?)(?:\s+\[(.*)\])?\s*$")


def annotate(path, inclusive):
    out = subprocess.run(["callgrind_annotate", "--inclusive=" + ("yes" if inclusive else "no"),
                          "--threshold=100", "--auto=no", path], capture_output=True, text=True, check=True).stdout
    rows, total = [], None
    for line in out.splitlines():
        m = LINE.match(line)
        if not m:
            continue
        ir = int(m.group(1).replace(",", ""))
        fn, obj = m.group(2), m.group(3) or ""
        if fn == "PROGRAM TOTALS":
            total = ir
            continue
        if "(" in fn and fn.endswith("x)"):
            continue  # a call line of a tree, not a function's total
        rows.append((ir, fn, obj))
    return total, rows


def short_obj(obj):
    name = obj.rsplit("/", 1)[-1]
    return re.sub(r"\.so[.\d]*$", "", name) if ".so" in name else "provflow"


ALLOC_FNS = ("malloc", "calloc", "realloc", "free")


def alloc_calls(path):
    """Calls to the allocator's entry points, from the call records of a
    callgrind output (names are compressed: "(id) name" once, then "(id)").
    malloc's count includes the calls that strdup and realloc(NULL) make."""
    names, calls, cfn = {}, defaultdict(int), None
    with open(path) as f:
        for line in f:
            if line.startswith("cfn="):
                m = re.match(r"\((\d+)\)(?:\s+(.*))?", line[4:].strip())
                if m and m.group(2):
                    names[m.group(1)] = m.group(2)
                cfn = names.get(m.group(1)) if m else line[4:].strip()
            elif line.startswith("calls=") and cfn is not None:
                fn = cfn.rsplit(":", 1)[-1]
                if fn in ALLOC_FNS:
                    calls[fn] += int(line[6:].split()[0])
    return calls


def main():
    path, n = sys.argv[1], int(sys.argv[2])
    total, incl = annotate(path, True)
    _, self_rows = annotate(path, False)
    per = lambda ir: ir / n / 1000.0
    print("Total: %.0f k instructions per event (%s events, %s Ir)." % (per(total), n, format(total, ",")))
    print()
    calls = alloc_calls(path)
    print("Allocator calls per event: " +
          ", ".join("%s %.1f" % (fn, calls[fn] / n) for fn in ALLOC_FNS) +
          " (malloc's include strdup's; free's, free(NULL)).")
    print()
    print("Inclusive cost of provflow's functions (k instructions per event, share of the total):")
    print()
    print("| function | k Ir/event | share |")
    print("|---|---:|---:|")
    seen = set()
    for ir, fn, obj in incl:
        if "service/" not in fn:
            continue
        name = fn.split("service/", 1)[1]
        if name in seen or ir / total < 0.01:
            continue
        seen.add(name)
        print("| `%s` | %.0f | %.1f%% |" % (name, per(ir), 100.0 * ir / total))
    print()
    by_obj = defaultdict(int)
    for ir, fn, obj in self_rows:
        key = short_obj(obj)
        if key == "libc" and "malloc" in fn:
            key = "libc (malloc/free)"
        elif key == "libc" and ("printf" in fn or "xsputn" in fn):
            key = "libc (printf family)"
        by_obj[key] += ir
    print("Self cost by library:")
    print()
    print("| library | k Ir/event | share |")
    print("|---|---:|---:|")
    for key, ir in sorted(by_obj.items(), key=lambda kv: -kv[1])[:10]:
        print("| %s | %.0f | %.1f%% |" % (key, per(ir), 100.0 * ir / total))
    print()
    print("Who calls the expensive library entry points (inclusive, k Ir/event):")
    print()
    print("| callee | caller | k Ir/event |")
    print("|---|---|---:|")
    tree = subprocess.run(["callgrind_annotate", "--tree=caller", "--inclusive=yes",
                           "--threshold=100", "--auto=no", path],
                          capture_output=True, text=True, check=True).stdout
    callers = []
    targets = ("json_loadb", "json_dumps", "curl_multi_perform", "curl_url_get", "json_deep_copy")
    for line in tree.splitlines():
        m = re.match(r"^\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+([<*])\s+(\S+)", line)
        if not m:
            callers = []
            continue
        ir, kind, fn = int(m.group(1).replace(",", "")), m.group(2), m.group(3)
        if kind == "<":
            callers.append((ir, fn))
            continue
        callee = fn.rsplit(":", 1)[-1]
        if callee in targets:
            for cir, cfn in sorted(callers, reverse=True)[:3]:
                if cir / total >= 0.005:
                    print("| `%s` | `%s` | %.0f |" % (callee, cfn.split("service/", 1)[-1].rsplit("/", 1)[-1],
                                                    per(cir)))
        callers = []
    print()
    print("Top self costs:")
    print()
    print("| function | library | k Ir/event | share |")
    print("|---|---|---:|---:|")
    for ir, fn, obj in self_rows[:15]:
        print("| `%s` | %s | %.1f | %.1f%% |" % (fn.rsplit(":", 1)[-1], short_obj(obj), per(ir),
                                               100.0 * ir / total))


if __name__ == "__main__":
    main()
