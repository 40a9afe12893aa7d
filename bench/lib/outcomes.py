#!/usr/bin/env python3
"""outcomes.py EVENTS DUMP - what the outcome records of one run say, by
tenant and by second (bench/run, the issue 13 scenarios).

EVENTS: the run's input, "KEY|CLOUDEVENT" lines (bench/lib/gen_events.py).
DUMP: the results topic, "TIMESTAMP_MS<TAB>VALUE" lines
(`kcat -C -e -f '%T\\t%s\\n'`). Prints one JSON object:

  distinct         request ids with an outcome (the first one counts)
  statuses         {status: count} of those
  valid_failed     outcomes `failed` of VALID events (an invalid event's
                   `failed` is its right answer): the number the issue's
                   acceptance wants at 0
  failed_codes     {error code: count} of those
  tenants          {tenant: {n, distinct, first_ms, last_ms, eps}}: eps =
                   (distinct - 1) / (last - first) of that tenant's outcomes
                   ("" when the events carry no tenantid)
  per_second       [[second since the first outcome, outcomes]] (every
                   status), for the time series

An event is invalid when gen_events.py made it so: a flowSetId that is not
a GUID, or a securityGroup flow without creationOptions.
"""
import json
import re
import sys
from collections import Counter, defaultdict

GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def events(path):
    """{request id: (tenant, valid)}"""
    out = {}
    with open(path) as f:
        for line in f:
            _, _, value = line.rstrip("\n").partition("|")
            ev = json.loads(value)
            data = ev.get("data") or {}
            flow = data.get("flow") or {}
            valid = bool(GUID.match(str(data.get("flowSetId", "")))) and not (
                data.get("flowType") == "securityGroup" and "creationOptions" not in flow)
            out[ev["id"]] = (ev.get("tenantid", ""), valid)
    return out


def main():
    evs = events(sys.argv[1])
    seen = set()
    statuses, codes = Counter(), Counter()
    valid_failed = 0
    per_tenant = defaultdict(lambda: {"n": 0, "distinct": 0, "first_ms": None, "last_ms": None})
    times = []
    for t, e in evs.values():
        per_tenant[t]["n"] += 1
    with open(sys.argv[2], errors="replace") as f:
        for line in f:
            ts, _, value = line.rstrip("\n").partition("\t")
            try:
                doc = json.loads(value)
                ts = int(ts)
            except ValueError:
                continue
            data = doc.get("data") if isinstance(doc.get("data"), dict) else doc
            rid, status = data.get("requestId"), data.get("status")
            if rid is None or rid in seen or rid not in evs:
                continue
            seen.add(rid)
            tenant, valid = evs[rid]
            statuses[status] += 1
            if status == "failed" and valid:
                valid_failed += 1
                codes[((data.get("error") or {}).get("code")) or "?"] += 1
            pt = per_tenant[tenant]
            pt["distinct"] += 1
            pt["first_ms"] = ts if pt["first_ms"] is None else min(pt["first_ms"], ts)
            pt["last_ms"] = ts if pt["last_ms"] is None else max(pt["last_ms"], ts)
            times.append(ts)
    for pt in per_tenant.values():
        span = (pt["last_ms"] - pt["first_ms"]) / 1000.0 if pt["first_ms"] is not None else 0
        pt["eps"] = round((pt["distinct"] - 1) / span, 1) if span > 0 else 0
    per_second = []
    if times:
        t0 = min(times)
        buckets = Counter((t - t0) // 1000 for t in times)
        per_second = [[s, buckets.get(s, 0)] for s in range(max(buckets) + 1)]
    json.dump({"distinct": len(seen), "statuses": dict(statuses), "valid_failed": valid_failed,
               "failed_codes": dict(codes), "tenants": per_tenant,
               "first_ms": min(times) if times else None, "per_second": per_second},
              sys.stdout, separators=(",", ":"))
    print()


if __name__ == "__main__":
    main()
