#!/usr/bin/env python3
"""report.py CSV OUTDIR [RUN_ID] - the Markdown table, the goals and the
plots of one harness run (bench/run calls it; the latest run by default).

Writes OUTDIR/results.md, and OUTDIR/throughput.png + OUTDIR/latency.png
when matplotlib can be imported (the bench venv has it). Each cell is the
mean over the run's repetitions; the individual values are listed too.
The issue 13 scenarios (rl, rlchange, tenants2, 500ms, scale) are read
from OUTDIR/issue13.jsonl (one object per run, written by bench/run):
their tables go under "Issue 13" in results.md, their plots to
issue13-rl.png, issue13-rlchange.png and issue13-scale.png.
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


# --- issue 13: throughput at Graph's limit ($OUT/issue13.jsonl) -----------

RL_ORDER = ["provflow", "py-aio@64", "py-aio@512", "go@64", "go@512"]
RL_NAME = {"provflow": "provflow (default in flight)", "py-aio@64": "Python aio, 64",
           "py-aio@512": "Python aio, 512", "go@64": "Go peer, 64 conns",
           "go@512": "Go peer, 512 conns"}


def load13(outdir, run_id):
    import json
    import os
    path = os.path.join(outdir, "issue13.jsonl")
    if not os.path.exists(path):
        return []
    ids = run_id.split(",")
    rows = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                r = json.loads(line)
                if r.get("run_id") in ids:
                    rows.append(r)
    return rows


def pct(a, b):
    return 100.0 * a / b if a is not None and b else None


def fpct(v, nd=0):
    return "–" if v is None else ("{:,.%df}%%" % nd).format(v)


def by_label(rows, scen):
    out = OrderedDict()
    for r in rows:
        if r["scenario"] == scen:
            out.setdefault(r["label"], []).append(r)
    return out


def vals(rs, f):
    v = [f(r) for r in rs]
    return [x for x in v if x is not None]


def mean_of(rs, f):
    v = vals(rs, f)
    return statistics.mean(v) if v else None


def runs_text(rs, f, nd=0, suffix=""):
    v = vals(rs, f)
    return " / ".join(fmt(x, nd) + suffix for x in v) if len(v) > 1 else ""


def eps(r):
    return num(r["measure"].get("eps"))


def share429(r):
    return pct(num(r["sim"].get("rateLimited")), num(r["sim"].get("requests")))


def valid_failed(r):
    return num((r.get("outcomes") or {}).get("valid_failed"))


def done(r):
    m = r["measure"]
    return "%s of %s%s" % (fmt(num(m["distinct"])), fmt(num(m["n"])),
                           "" if m.get("complete") else " (capped)")


def rate_of(r):
    return num((r.get("rate_limit") or {}).get("requestsPerSecond"))


def table_rl(rows):
    g = by_label(rows, "rl")
    labels = [l for l in RL_ORDER if l in g] + [l for l in g if l not in RL_ORDER]
    if not labels:
        return []
    R = rate_of(g[labels[0]][0])
    head = "| | " + " | ".join(RL_NAME.get(l, l) for l in labels) + " |"
    lines = ["### Rate-limited: R = %s creates/s per tenant, 100 ms per create" % fmt(R), "",
             head, "|---|" + "---:|" * len(labels)]

    def row(name, f):
        lines.append("| %s | %s |" % (name, " | ".join(f(g[l]) for l in labels)))
    row("events/s", lambda rs: "**%s**" % fmt(mean_of(rs, eps)))
    row("% of R", lambda rs: fpct(pct(mean_of(rs, eps), R)))
    row("requests answered 429", lambda rs: "%s of %s (%s)" % (
        fmt(mean_of(rs, lambda r: num(r["sim"].get("rateLimited")))),
        fmt(mean_of(rs, lambda r: num(r["sim"].get("requests")))), fpct(mean_of(rs, share429), 1)))
    row("valid events failed", lambda rs: fmt(mean_of(rs, valid_failed)))
    row("done", lambda rs: " / ".join(done(r) for r in rs))
    row("CPU s / 10k events", lambda rs: fmt(mean_of(rs, lambda r: num(r["measure"].get("cpu_s_per_10k"))), 2))
    row("peak RSS MB", lambda rs: fmt(max(vals(rs, lambda r: num(r["measure"].get("rss_peak_kb")))) / 1024, 0))
    row("in flight", lambda rs: rs[0]["mif"])
    return lines + [""]


def series_rates(r):
    """[(seconds since the limit's PUT, creates/s over the interval, R)]"""
    pts = [p for p in r.get("series") or [] if len(p) >= 5 and p[1] is not None]
    out = []
    for a, b in zip(pts, pts[1:]):
        dt = (b[0] - a[0]) / 1000.0
        if dt > 0:
            out.append(((b[0] - r["put_ms"]) / 1000.0, (b[1] - a[1]) / dt, b[4]))
    return out


def changes(r):
    sched = (r.get("rate_limit") or {}).get("schedule") or []
    R = rate_of(r)
    return [(s["afterMs"] / 1000.0, R * s["factor"]) for s in sched]


def follow(r):
    """Per change: (at s, new R, seconds until a 1-s rate within 10% of the
    new R, mean creates/s from 5 s after the change to the next one)."""
    pts = series_rates(r)
    ch = changes(r)
    out = []
    for k, (at, newR) in enumerate(ch):
        end = ch[k + 1][0] if k + 1 < len(ch) else float("inf")
        hit = next((t - at for t, v, _ in pts if at < t <= end and abs(v - newR) <= 0.1 * newR), None)
        steady = [v for t, v, _ in pts if at + 5 < t <= end]
        out.append((at, newR, hit, statistics.mean(steady) if steady else None))
    return out


def table_rlchange(rows):
    g = by_label(rows, "rlchange")
    lines = []
    for label, rs in g.items():
        for r in rs:
            R = rate_of(r)
            pts = series_rates(r)
            ch = changes(r)
            before = [v for t, v, _ in pts if 5 < t <= (ch[0][0] if ch else float("inf"))]
            lines += ["### Changing limit: R = %s/s, then %s (%s)" % (
                fmt(R), ", then ".join("× %g from %s s" % (c[1] / R, fmt(c[0])) for c in ch), label), "",
                "Seconds count from the moment the limit was set, right before the start.", "",
                "| phase | R | creates/s (mean of 1-s samples, from 5 s in) | s until a 1-s sample within 10% of R (its end) |",
                "|---|---:|---:|---:|",
                "| start → first change | %s | %s | – |" % (fmt(R), fmt(statistics.mean(before)) if before else "–")]
            for at, newR, hit, steady in follow(r):
                lines.append("| from %s s | %s | %s | %s |" % (
                    fmt(at), fmt(newR), fmt(steady), "%.1f" % hit if hit is not None else "never"))
            lines += ["", "Whole run: %s events/s, %s; requests answered 429: %s; valid events failed: %s." % (
                fmt(eps(r)), done(r), fpct(share429(r), 1), fmt(valid_failed(r))), ""]
    return lines


def table_tenants(rows):
    g = by_label(rows, "tenants2")
    a, s = g.get("provflow-alone"), g.get("provflow-shared")
    if not a and not s:
        return []

    def teps(rs, t):
        return mean_of(rs or [], lambda r: num(((r.get("outcomes") or {}).get("tenants") or {}).get(t, {}).get("eps")))
    lim = (s or a)[0]["rate_limit"]
    lr = num(((lim.get("tenants") or {}).get("tenant-b") or {}).get("requestsPerSecond"))
    ua, us, ls = teps(a, "test-tenant"), teps(s, "test-tenant"), teps(s, "tenant-b")
    r = ratio(us, ua)
    return ["### Two tenants at 100 ms: tenant-b limited to %s/s, test-tenant unlimited (provflow)" % fmt(lr), "",
            "| | test-tenant alone | both tenants |", "|---|---:|---:|",
            "| test-tenant events/s | %s | %s |" % (fmt(ua), fmt(us)),
            "| tenant-b events/s | – | %s |" % fmt(ls),
            "| test-tenant shared ÷ alone | | **%s** |" % fpct(100 * r if r else None),
            "| requests answered 429 | %s | %s |" % (fpct(mean_of(a or [], share429), 1), fpct(mean_of(s or [], share429), 1)),
            "| valid events failed | %s | %s |" % (fmt(mean_of(a or [], valid_failed)), fmt(mean_of(s or [], valid_failed))),
            "| done | %s | %s |" % (" / ".join(done(x) for x in a or []), " / ".join(done(x) for x in s or [])),
            ""]


def table_500(rows):
    g = by_label(rows, "500ms")
    lines = []
    for label, rs in g.items():
        for r in rs:
            m = r["measure"]
            mif = num(r["mif"]) or 0
            bound = mif / (r["latency_ms"] / 1000.0)
            busy = num(m.get("cpu_s")) / num(m.get("wall_s")) if num(m.get("wall_s")) else None
            steady = steady_eps(r)
            win = steady_window(r)
            mbusy = machine_busy(r, *win) if win else None
            lines += ["### High latency: %s ms per create, %s" % (r["latency_ms"], label), "",
                      "Steady: the mean of the whole seconds from the %s"
                      " (the limit's slow start from 32 to 4,096 takes seven round trips) to the last"
                      " but one. The machine's cores busy: all processes (Kafka and the simulator"
                      " too), from /proc/stat over those seconds, of %s." % (
                          ordinal(STEADY_FROM_S), (r.get("machine_cpu") or {}).get("cpus", "?")), "",
                      "| events/s | steady events/s | in flight ÷ latency | % of it (steady) | CPU s / 10k | cores busy (CPU s ÷ wall s) | machine's cores busy (steady) | peak RSS MB | valid failed | done |",
                      "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
                      "| %s | **%s** | %s | %s (%s) | %s | %s | %s | %s | %s | %s |" % (
                          fmt(eps(r)), fmt(steady), fmt(bound), fpct(pct(eps(r), bound)),
                          fpct(pct(steady, bound)), fmt(num(m.get("cpu_s_per_10k")), 2),
                          fmt(busy, 2), fmt(mbusy, 2), fmt(num(m.get("rss_peak_kb")) / 1024, 1),
                          fmt(valid_failed(r)), done(r)), ""]
    return lines


# The 500ms scenario's steady state starts this many seconds after the
# first outcome.
STEADY_FROM_S = 5


def ordinal(n):
    return "%d%s second" % (n + 1, {1: "st", 2: "nd", 3: "rd"}.get(n + 1, "th"))


def machine_busy(r, t0, t1):
    """The machine's cores busy between wall times t0 and t1 (ms), from
    the samples of /proc/stat nearest inside them (bench/run's sample_cpu):
    how many of its cores were at work, provflow's peers included; None
    without two samples there."""
    mc = r.get("machine_cpu") or {}
    pts = [p for p in mc.get("samples") or [] if len(p) == 3 and t0 <= p[0] <= t1]
    if len(pts) < 2 or pts[-1][2] <= pts[0][2]:
        return None
    return mc.get("cpus", 1) * (pts[-1][1] - pts[0][1]) / (pts[-1][2] - pts[0][2])


def steady_window(r):
    """The steady seconds' wall times (ms): from STEADY_FROM_S after the
    first outcome to the start of the last (partial) second."""
    o = r.get("outcomes") or {}
    ps = o.get("per_second") or []
    if not o.get("first_ms") or len(ps) < STEADY_FROM_S + 4:
        return None
    return o["first_ms"] + STEADY_FROM_S * 1000, o["first_ms"] + (len(ps) - 1) * 1000


def steady_eps(r):
    """Outcomes per second after the ramp: the per-second counts from
    STEADY_FROM_S on, the last (partial) second left out; None when fewer
    than three such seconds."""
    ps = [c for _, c in ((r.get("outcomes") or {}).get("per_second") or [])]
    ps = ps[STEADY_FROM_S:-1]
    return sum(ps) / len(ps) if len(ps) >= 3 else None


def handoffs(r):
    a = num(r.get("assigned"))
    return a - 12 if a is not None and a >= 12 else None


def table_scale(rows):
    g = by_label(rows, "scale")
    labels = [l for l in ("provflow-x1", "provflow-x2", "provflow-x3") if l in g]
    if not labels:
        return []
    base = mean_of(g[labels[0]], eps)
    mif = g[labels[0]][0]["mif"]
    lines = ["### Scale-out at 20 ms, 12 partitions, %s in flight per instance" % mif, "",
             "| instances | events/s | × one instance | lists | hand-offs | lists per hand-off | valid failed | CPU s / 10k | peak RSS MB (sum) | done |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for l in labels:
        rs = g[l]
        e = mean_of(rs, eps)
        lst = mean_of(rs, lambda r: num(r.get("lists")))
        ho = mean_of(rs, handoffs)
        lines.append("| %s | **%s** | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            l[-1], fmt(e), "%.2f×" % ratio(e, base) if ratio(e, base) else "–", fmt(lst), fmt(ho),
            fmt(lst / ho, 1) if lst is not None and ho else "–", fmt(mean_of(rs, valid_failed)),
            fmt(mean_of(rs, lambda r: num(r["measure"].get("cpu_s_per_10k"))), 2),
            fmt(max(vals(rs, lambda r: num(r["measure"].get("rss_peak_kb")))) / 1024, 0),
            " / ".join(done(r) for r in rs)))
    return lines + [""]


def plots13(rows, outdir):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    files = []
    g = by_label(rows, "rl")
    labels = [l for l in RL_ORDER if l in g]
    if labels:
        R = rate_of(g[labels[0]][0])
        fig, ax = plt.subplots(figsize=(9, 4.5), dpi=110)
        xs = range(len(labels))
        e = [pct(mean_of(g[l], eps), R) or 0 for l in labels]
        q = [mean_of(g[l], share429) or 0 for l in labels]
        ax.bar([x - 0.2 for x in xs], e, 0.4, label="events/s as % of R", color="#1f77b4")
        ax.bar([x + 0.2 for x in xs], q, 0.4, label="% of requests answered 429", color="#d62728")
        for x, a, b in zip(xs, e, q):
            ax.text(x - 0.2, a + 1, "%.0f%%" % a, ha="center", fontsize=8)
            ax.text(x + 0.2, b + 1, "%.0f%%" % b, ha="center", fontsize=8)
        ax.axhline(100, color="#555", lw=0.8, ls="--")
        ax.set_xticks(list(xs))
        ax.set_xticklabels([RL_NAME.get(l, l) for l in labels], fontsize=8)
        ax.set_ylabel("%")
        ax.set_title("Rate-limited: R = %s creates/s per tenant, 100 ms per create" % fmt(R))
        ax.legend(fontsize=8)
        fig.tight_layout()
        p = "%s/issue13-rl.png" % outdir
        fig.savefig(p)
        files.append(p)
        plt.close(fig)
    for label, rs in by_label(rows, "rlchange").items():
        r = rs[-1]
        pts = series_rates(r)
        if not pts:
            continue
        fig, ax = plt.subplots(figsize=(10, 4.5), dpi=110)
        half = [(t - 0.5 * (t - u), v) for (t, v, _), (u, _, _) in zip(pts, [(pts[0][0] - 1, 0, 0)] + pts[:-1])]
        ax.plot([t for t, _ in half], [v for _, v in half], label="creates/s (simulator, 1-s samples)", color="#1f77b4")
        R0, end = rate_of(r), pts[-1][0]
        steps = [(0.0, R0)] + [(at, v) for at, v in changes(r) if at < end] + [(end, None)]
        steps[-1] = (end, steps[-2][1])
        ax.step([t for t, _ in steps], [v for _, v in steps], where="post", label="R (the schedule)",
                color="#d62728", ls="--")
        for at, _ in changes(r):
            ax.axvline(at, color="#999", lw=0.8)
        launch = (r["launch_ms"] - r["put_ms"]) / 1000.0
        ax.axvline(launch, color="#2ca02c", lw=0.8, ls=":", label="%s started" % label)
        ax.set_xlabel("seconds since the limit was set")
        ax.set_ylabel("creates/s")
        ax.set_ylim(bottom=0)
        ax.set_title("Changing limit: R halves, then recovers (%s)" % label)
        ax.legend(fontsize=8)
        fig.tight_layout()
        p = "%s/issue13-rlchange.png" % outdir
        fig.savefig(p)
        files.append(p)
        plt.close(fig)
    g = by_label(rows, "scale")
    labels = [l for l in ("provflow-x1", "provflow-x2", "provflow-x3") if l in g]
    if labels:
        fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
        e = [mean_of(g[l], eps) or 0 for l in labels]
        ax.bar(range(len(labels)), e, 0.6, color="#1f77b4", label="measured")
        ideal = [e[0] * (k + 1) for k in range(len(labels))]
        ax.plot(range(len(labels)), ideal, "o--", color="#999", label="linear (× instances)")
        for x, v in enumerate(e):
            ax.text(x, v * 1.02, "%.0f\n(%.2f×)" % (v, v / e[0] if e[0] else 0), ha="center", fontsize=8)
        ax.set_xticks(range(len(labels)))
        ax.set_xticklabels(["%s instance%s" % (l[-1], "" if l[-1] == "1" else "s") for l in labels])
        ax.set_ylabel("events/s")
        ax.set_title("Scale-out at 20 ms, 12 partitions, %s in flight per instance" % g[labels[0]][0]["mif"])
        ax.legend(fontsize=8)
        fig.tight_layout()
        p = "%s/issue13-scale.png" % outdir
        fig.savefig(p)
        files.append(p)
        plt.close(fig)
    return files


def issue13(rows):
    if not rows:
        return []
    return (["## Issue 13: throughput at Graph's limit", ""] + table_rl(rows) + table_rlchange(rows)
            + table_tenants(rows) + table_500(rows) + table_scale(rows))


def main():
    path, outdir = sys.argv[1], sys.argv[2]
    run_id, rows = load(path, sys.argv[3] if len(sys.argv) > 3 else None)
    md = ["# Benchmark results, run %s" % run_id, "",
          "Generated by bench/run from results.csv; see bench/README.md.", ""]
    files = []
    old = [r for r in rows if r["scenario"] in SCEN_ORDER]
    if old:
        mif = int(num(old[0]["mif"]) or 64)
        agg = aggregate(old)
        md += [table(agg), "", "## Goals", "", goals(agg, mif), ""]
        ba = before_after(agg)
        if ba:
            md += ["## Before and after (provflow vs provflow-base)", "", ba, ""]
        files += plots(agg, outdir)
    rows13 = load13(outdir, run_id)
    md += issue13(rows13)
    with open("%s/results.md" % outdir, "w") as f:
        f.write("\n".join(md))
    files += plots13(rows13, outdir)
    print("report: wrote %s/results.md %s" % (outdir, " ".join(files)), file=sys.stderr)


if __name__ == "__main__":
    main()
