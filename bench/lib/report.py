#!/usr/bin/env python3
"""report.py CSV OUTDIR [RUN_ID] - the Markdown table, the goals and the
plots of one harness run (bench/run calls it; the latest run by default).

Writes OUTDIR/results.md, and OUTDIR/throughput.png + OUTDIR/latency.png
when matplotlib can be imported (the bench venv has it). Each cell is the
mean over the run's repetitions; the individual values are listed too.
"""
import csv
import statistics
import sys
from collections import OrderedDict, defaultdict

IMPL_ORDER = ["provflow", "provflow-base", "provflow-x2", "provflow-tuned", "go", "camel", "py-aio", "py-seq", "ceiling-kafka", "ceiling-http"]
IMPL_NAME = {
    "provflow": "provflow (C)",
    "provflow-base": "provflow, baseline binary (PROVFLOW_BASE)",
    "provflow-x2": "provflow, 2 instances in one group (32 in flight each)",
    "provflow-tuned": "provflow, consumer prefetch raised (-X, experiment)",
    "go": "Go peer (franz-go, goroutine/partition)",
    "camel": "Apache Camel (kafka→http→kafka, consumer/partition)",
    "py-aio": "Python aiokafka+aiohttp (64 tasks)",
    "py-seq": "Python confluent-kafka+requests, sequential",
    "ceiling-kafka": "Kafka ceiling (C passthrough)",
    "ceiling-http": "HTTP ceiling (wrk, 64 conns)",
}
SCEN_ORDER = ["0ms", "20ms", "100ms", "429"]
SCEN_NAME = {"0ms": "0 ms", "20ms": "20 ms", "100ms": "100 ms", "429": "5% 429 (Retry-After 1)"}


def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def load(path, run_id):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        sys.exit("report: no rows in %s" % path)
    run_id = run_id or rows[-1]["run_id"]
    ids = run_id.split(",")
    return run_id, [r for r in rows if r["run_id"] in ids]


def aggregate(rows):
    cells = defaultdict(list)
    for r in rows:
        cells[(r["impl"], r["scenario"])].append(r)
    agg = {}
    for key, rs in cells.items():
        def mean(col):
            vals = [num(r[col]) for r in rs if num(r[col]) is not None]
            return statistics.mean(vals) if vals else None
        agg[key] = {
            "eps": mean("eps"),
            "eps_all": [num(r["eps"]) for r in rs],
            "p50": mean("lat_p50_ms"),
            "p99": mean("lat_p99_ms"),
            "cpu10k": mean("cpu_s_per_10k"),
            "rss": max((num(r["rss_peak_mb"]) or 0) for r in rs),
            "complete": all(r["complete"] == "true" for r in rs),
            "done": "/".join("%s of %s" % (r["distinct"], r["n"]) for r in rs),
            "n": rs[0]["n"],
            "viol": sum(int(num(r["order_violations"]) or 0) for r in rs),
            "load": "/".join(r["load_before"] for r in rs),
            "reps": len(rs),
        }
    return agg


def fmt(v, nd=0):
    if v is None:
        return "–"
    return ("{:,.%df}" % nd).format(v)


def table(agg):
    lines = ["| scenario | implementation | events/s (mean; runs) | done | p50 ms | p99 ms "
             "| CPU s / 10k events | peak RSS MB | load1 before (per run) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for s in SCEN_ORDER:
        for i in IMPL_ORDER:
            a = agg.get((i, s))
            if not a:
                continue
            runs = ", ".join(fmt(v) for v in a["eps_all"])
            done = "all %s" % a["n"] if a["complete"] else a["done"] + " (capped)"
            if i == "ceiling-http":
                done = "10 s wrk"
            lines.append("| %s | %s | **%s** (%s) | %s | %s | %s | %s | %s | %s |" % (
                SCEN_NAME.get(s, s), IMPL_NAME.get(i, i), fmt(a["eps"]), runs, done,
                fmt(a["p50"]), fmt(a["p99"]), fmt(a["cpu10k"], 2),
                fmt(a["rss"], 1) if a["rss"] else "–", a["load"]))
    return "\n".join(lines)


def ratio(a, b):
    return a / b if a and b else None


def goals(agg, mif):
    g = lambda i, s: (agg.get((i, s)) or {}).get("eps")
    out = ["| goal | measured | met? |", "|---|---|---|"]

    def row(goal, value, ok):
        out.append("| %s | %s | %s |" % (goal, value, "–" if ok is None else ("yes" if ok else "**no**")))

    pf0, kc, hc0 = g("provflow", "0ms"), g("ceiling-kafka", "0ms"), g("ceiling-http", "0ms")
    low = min(v for v in (kc, hc0) if v) if (kc or hc0) else None
    r = ratio(pf0, low)
    row("0 ms: provflow ≥ 80% of the lower ceiling",
        "%s ev/s = %s of %s (lower of Kafka %s, HTTP %s)" % (
            fmt(pf0), "%.0f%%" % (100 * r) if r else "–", fmt(low), fmt(kc), fmt(hc0)),
        r >= 0.8 if r else None)
    r = ratio(pf0, g("go", "0ms"))
    row("0 ms: ≥ 1.5× the Go peer", "%.2f×" % r if r else "–", r >= 1.5 if r else None)
    r = ratio(pf0, g("py-seq", "0ms"))
    row("0 ms: ≥ 10× the sequential Python peer", "%.1f×" % r if r else "–", r >= 10 if r else None)
    cpu = {i: (agg.get((i, "0ms")) or {}).get("cpu10k") for i in ("provflow", "go", "py-aio", "py-seq")}
    cpu = {k: v for k, v in cpu.items() if v}
    if cpu:
        best = min(cpu, key=cpu.get)
        row("0 ms: fewest CPU s per event",
            ", ".join("%s %.2f" % (k, v) for k, v in sorted(cpu.items(), key=lambda kv: kv[1])) + " (s/10k)",
            best == "provflow")
    for s, ms in (("20ms", 20), ("100ms", 100)):
        ideal = mif / (ms / 1000.0)
        pf, hc = g("provflow", s), g("ceiling-http", s)
        bound = min(v for v in (ideal, hc, kc) if v)
        r = ratio(pf, bound)
        row("%d ms: provflow ≥ 90%% of min(%d/%d ms = %s, ceilings)" % (ms, mif, ms, fmt(ideal)),
            "%s ev/s = %s of %s" % (fmt(pf), "%.0f%%" % (100 * r) if r else "–", fmt(bound)),
            r >= 0.9 if r else None)
        r = ratio(pf, g("go", s))
        row("%d ms: ≥ 3× the Go peer" % ms, "%.1f×" % r if r else "–", r >= 3 if r else None)
    rss = [a["rss"] for (i, s), a in agg.items() if i == "provflow" and a["rss"]]
    if rss:
        row("provflow peak RSS ≤ 64 MB", "%.1f MB (max over all runs)" % max(rss), max(rss) <= 64)
    impls = [i for i in IMPL_ORDER if not i.startswith("ceiling-") and any(j == i for (j, _) in agg)]
    viol = {i: sum(a["viol"] for (j, s), a in agg.items() if j == i) for i in impls}
    row("per-key order kept (created outcomes of a key in input order)",
        ", ".join("%s %d violations" % (k, v) for k, v in viol.items()), all(v == 0 for v in viol.values()))
    return "\n".join(out)


def before_after(agg):
    """provflow against provflow-base (PROVFLOW_BASE), per scenario: the
    ratio of events/s (higher is better) and of CPU per event (lower is
    better); "" when the run had no provflow-base."""
    out = ["| scenario | events/s after / before | CPU per event after / before |",
           "|---|---|---|"]
    for s in SCEN_ORDER:
        a, b = agg.get(("provflow", s)), agg.get(("provflow-base", s))
        if not a or not b:
            continue
        eps, cpu = ratio(a["eps"], b["eps"]), ratio(a["cpu10k"], b["cpu10k"])
        out.append("| %s | %s / %s = %s | %s / %s = %s |" % (
            SCEN_NAME.get(s, s), fmt(a["eps"]), fmt(b["eps"]),
            "%.1f%%" % (100 * eps) if eps else "–",
            fmt(a["cpu10k"], 2), fmt(b["cpu10k"], 2),
            "%.1f%%" % (100 * cpu) if cpu else "–"))
    return "\n".join(out) if len(out) > 2 else ""


def plots(agg, outdir):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("report: matplotlib not available, no plots", file=sys.stderr)
        return []
    scens = [s for s in SCEN_ORDER if any((i, s) in agg for i in IMPL_ORDER)]
    impls = [i for i in IMPL_ORDER if any((i, s) in agg for s in scens)]
    colors = {"provflow": "#1f77b4", "provflow-base": "#17becf", "provflow-x2": "#6baed6", "provflow-tuned": "#9ecae1", "go": "#2ca02c", "camel": "#9467bd", "py-aio": "#ff7f0e", "py-seq": "#d62728",
              "ceiling-kafka": "#7f7f7f", "ceiling-http": "#bcbd22"}
    files = []

    fig, ax = plt.subplots(figsize=(11, 5.5), dpi=110)
    w = 0.8 / max(1, len(impls))
    for k, i in enumerate(impls):
        xs, ys = [], []
        for j, s in enumerate(scens):
            a = agg.get((i, s))
            if a and a["eps"]:
                xs.append(j + (k - (len(impls) - 1) / 2) * w)
                ys.append(a["eps"])
        ax.bar(xs, ys, w, label=IMPL_NAME.get(i, i), color=colors.get(i),
               hatch="//" if i.startswith("ceiling-") else None, edgecolor="white")
        for x, y in zip(xs, ys):
            ax.text(x, y * 1.08, "%.0f" % y, ha="center", va="bottom", fontsize=7, rotation=90)
    ax.set_yscale("log")
    ax.set_xticks(range(len(scens)))
    ax.set_xticklabels([SCEN_NAME.get(s, s) for s in scens])
    ax.set_ylabel("events/s (log scale)")
    ax.set_title("Throughput by scenario (12 partitions, in-flight budget 64; mean of runs)")
    ax.grid(axis="y", which="both", alpha=0.3)
    ax.set_ylim(top=ax.get_ylim()[1] * 8)
    ax.legend(fontsize=8, loc="upper right", ncol=2)
    fig.tight_layout()
    p = "%s/throughput.png" % outdir
    fig.savefig(p)
    files.append(p)
    plt.close(fig)

    impls_l = [i for i in impls if not i.startswith("ceiling-")]
    fig, axes = plt.subplots(1, 2, figsize=(12, 5), dpi=110, sharey=True)
    w = 0.8 / max(1, len(impls_l))
    for ax, col, title in ((axes[0], "p50", "p50"), (axes[1], "p99", "p99")):
        for k, i in enumerate(impls_l):
            xs, ys = [], []
            for j, s in enumerate(scens):
                a = agg.get((i, s))
                if a and a[col]:
                    xs.append(j + (k - (len(impls_l) - 1) / 2) * w)
                    ys.append(a[col] / 1000.0)
            ax.bar(xs, ys, w, label=IMPL_NAME.get(i, i), color=colors.get(i))
        ax.set_yscale("log")
        ax.set_xticks(range(len(scens)))
        ax.set_xticklabels([SCEN_NAME.get(s, s) for s in scens], fontsize=8)
        ax.set_title("%s of outcome time − event time" % title)
        ax.grid(axis="y", which="both", alpha=0.3)
    axes[0].set_ylabel("seconds (log scale)")
    axes[0].legend(fontsize=8)
    fig.text(0.01, 0.01, "Outcome record timestamp minus input record timestamp. All N events are "
             "preloaded before the start, so this is mostly time spent waiting in the backlog; "
             "capped runs count only the events that finished.", fontsize=7.5)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    p = "%s/latency.png" % outdir
    fig.savefig(p)
    files.append(p)
    plt.close(fig)
    return files


def main():
    path, outdir = sys.argv[1], sys.argv[2]
    run_id, rows = load(path, sys.argv[3] if len(sys.argv) > 3 else None)
    mif = int(num(rows[0]["mif"]) or 64)
    agg = aggregate(rows)
    md = ["# Benchmark results, run %s" % run_id, "",
          "Generated by bench/run from results.csv; see bench/README.md.", "",
          table(agg), "", "## Goals", "", goals(agg, mif), ""]
    ba = before_after(agg)
    if ba:
        md += ["## Before and after (provflow vs provflow-base)", "", ba, ""]
    with open("%s/results.md" % outdir, "w") as f:
        f.write("\n".join(md))
    files = plots(agg, outdir)
    print("report: wrote %s/results.md %s" % (outdir, " ".join(files)), file=sys.stderr)


if __name__ == "__main__":
    main()
