#!/usr/bin/env bash
# shellcheck disable=SC2016  # jq programs in single quotes
# provflow run, records too large for what the producer may send
# (librdkafka's message.max.bytes, 1,000,000 by default) as a dead letter
# or an outcome, among small valid events, on one partition of an input
# topic that takes records up to 2 MiB (max.message.bytes; kcat produces
# them with message.max.bytes=2000000):
#   not-json-990k    a 990,000-byte value, not JSON: its dead letter fits,
#                    whole
#   not-json-1500k   a 1,500,000-byte value, not JSON (over the 1 MiB an
#                    event may have): the dead letter's value is cut,
#                    provflow-value-truncated: 1500000
#   json-990k        a CloudEvent padded to 990 KB with an unknown property:
#                    failed, its dead letter whole
#   json-999k        the same, padded to 999,800 bytes: the dead letter's
#                    value is cut
#   key-1m-invalid   a 1,000,000-byte key, a small invalid value: outcome
#                    and dead letter keyed by the key's first 1024 bytes,
#                    provflow-key-truncated: 1000000 on both
#   key-1m-valid     a 1,000,000-byte key, a valid event: created, the
#                    outcome's key cut the same way
#   headers-1m       24 headers of 45,000 bytes, a small invalid value: the
#                    dead letter carries provflow's headers only, plus
#                    provflow-headers-dropped: 24
#   headers-value    10 headers of 50,000 bytes and a 600,000-byte value:
#                    headers kept, the value cut
# Each one gets its failed (or created) outcome and its dead letter; the
# service keeps running (no exit 70, /readyz 200), commits past them (the
# group at the end) and creates the small valid events after them. Twice:
# --delivery at-least-once, then exactly-once (new group and output
# topics, read back with isolation.level=read_committed).
. "$(dirname "$0")/run_lib.sh"
run_init "$@"

run_topics_config oversize 1 max.message.bytes=2097152
sim_start

cat >"$TMP/oversize.py" <<'PY'
"""Produces the oversized records (gen) and checks what came out (check)."""
import copy
import hashlib
import json
import re
import subprocess
import sys
import uuid

sys.path.insert(0, sys.argv[1])
import run_helper  # noqa: E402

LIMIT = 1000000  # librdkafka's message.max.bytes, provflow's producer
KEEP = 1024      # bytes of a cut key
DLQ = ["provflow-error-code", "provflow-error-message", "provflow-attempts",
       "provflow-source-topic", "provflow-source-partition",
       "provflow-source-offset"]


def gen(brokers, topic, prefix, out, big_valid=""):
    ns = uuid.uuid5(uuid.NAMESPACE_URL, "urn:provflow-it:oversize:" + prefix)
    n = [0]

    def fs():
        n[0] += 1
        return str(uuid.uuid5(ns, "set-%d" % n[0]))

    def ev(name):
        return copy.deepcopy(run_helper.event("%s-%s" % (prefix, name), fs(),
                                              "user"))

    def padded(name, size):
        e = ev(name)
        e["data"]["flow"]["bogusPadding"] = ""
        v = run_helper.compact(e)
        e["data"]["flow"]["bogusPadding"] = "p" * (size - len(v))
        v = run_helper.compact(e)
        assert len(v) == size
        return e["id"], v

    recs = []  # name, key, value, headers, expectation

    def add(name, key, value, headers=(), valid=False, rid=None, **exp):
        exp.update(name=name, valid=valid, id=rid)
        recs.append((name, key, value, list(headers), exp))

    def small(name):
        e = ev(name)
        add(name, e["data"]["flowSetId"].encode(), run_helper.compact(e),
            valid=True, rid=e["id"], set=e["data"]["flowSetId"])

    small("small-1")
    add("not-json-990k", b"k-990k", b"n" * 990000, value_cut=False)
    small("small-2")
    add("not-json-1500k", b"k-1500k", b"m" * 1500000, value_cut=True)
    i_d, v = padded("json-990k", 990000)
    add("json-990k", b"k-json-990k", v, rid=i_d, value_cut=False)
    i_d, v = padded("json-999k", 999800)
    add("json-999k", b"k-json-999k", v, rid=i_d, value_cut=True)
    small("small-3")
    add("key-1m-invalid", b"K" * 1000000, b"not json: a huge key",
        key_cut=True, value_cut=False)
    e = ev("key-1m-valid")
    add("key-1m-valid", b"V" * 1000000, run_helper.compact(e), valid=True,
        rid=e["id"], set=e["data"]["flowSetId"], key_cut=True)
    add("headers-1m", b"k-headers-1m", b"not json: many large headers",
        ["x-big-%02d=%s" % (i, chr(97 + i % 26) * 45000) for i in range(24)],
        headers_dropped=24, value_cut=False)
    add("headers-value", b"k-headers-value", b"v" * 600000,
        ["x-big-%02d=%s" % (i, chr(65 + i % 26) * 50000) for i in range(10)],
        headers_dropped=None, value_cut=True)
    if big_valid:
        e = ev("valid-1040k")
        e["data"]["flow"]["creationOptions"] = {
            "configurations": [{
                "roleGroup@odata.bind": "https://graph.microsoft.com/beta/"
                                        "external/industryData/roleGroups/"
                                        "students",
                "licenseSkus": [""]}]}
        n0 = len(run_helper.compact(e))
        e["data"]["flow"]["creationOptions"]["configurations"][0][
            "licenseSkus"][0] = "s" * (1040000 - n0)
        add("valid-1040k", e["data"]["flowSetId"].encode(),
            run_helper.compact(e), valid=True, rid=e["id"],
            set=e["data"]["flowSetId"])
    small("small-4")
    for name, key, value, headers, _ in recs:
        assert b"\t" not in key and b"\n" not in key + value
        cmd = ["kcat", "-P", "-b", brokers, "-t", topic, "-p", "0", "-K",
               "\t", "-X", "message.max.bytes=2000000"]
        for h in headers:
            cmd += ["-H", h]
        subprocess.run(cmd, input=key + b"\t" + value + b"\n", check=True)
    exp = []
    for name, key, value, headers, e in recs:
        e.update(key_len=len(key), value_len=len(value),
                 key=hashlib.sha256(key).hexdigest(),
                 value=hashlib.sha256(value).hexdigest(),
                 headers=len(headers))
        exp.append(e)
    with open(out, "w") as f:
        json.dump(exp, f)
    print("# produced %d records to %s: %s" % (len(recs), topic, ", ".join(
        "%s (key %d, value %d, %d headers)" % (r[0], len(r[1]), len(r[2]),
                                               len(r[3])) for r in recs)))


HNAME = re.compile(
    r",(?=(?:provflow-[a-z-]+|x-big-\d+|content-type|traceparent|tracestate)=)")


def headers(h):
    """kcat's %h (name=value,...) as a list of (name, value)."""
    if not h:
        return []
    return [tuple(p.split("=", 1)) for p in HNAME.split(h)]


def check(a_in, a_out, a_dlq, a_exp, topic):
    exp = json.load(open(a_exp))
    ins, outs, dlqs = (run_helper.dump(p) for p in (a_in, a_out, a_dlq))
    res = []

    def verdict(what, bad):
        if not bad:
            res.append("PASS\t" + what)
        else:
            res.append("FAIL\t%s\t%s" % (what, "\\n".join(bad[:8])))

    sha = lambda b: hashlib.sha256(b or b"").hexdigest()  # noqa: E731
    verdict("the input topic holds the %d records produced, in order"
            % len(exp),
            [] if len(ins) == len(exp) and all(
                sha(r["key"]) == e["key"] and sha(r["value"]) == e["value"]
                for r, e in zip(ins, exp)) else
            ["%d records: %s" % (len(ins), [(r["o"], len(r["key"] or b""),
                                             len(r["value"] or b""))
                                            for r in ins])])
    by_in, dl_by_in, bad = {}, {}, []
    for r in outs:
        try:
            ce = json.loads(r["value"])
            i = ce["data"]["input"]
            by_in.setdefault((i["partition"], i["offset"]), []).append(
                (r, ce))
        except (ValueError, KeyError, TypeError) as e:
            bad.append("outcome %d/%d: %s" % (r["p"], r["o"], e))
    for r in dlqs:
        h = dict(headers(r["h"]))
        try:
            dl_by_in.setdefault((int(h["provflow-source-partition"]),
                                 int(h["provflow-source-offset"])),
                                []).append((r, h))
        except (KeyError, ValueError):
            bad.append("dead letter %d/%d: headers %r" % (r["p"], r["o"],
                                                         r["h"][:200]))
    verdict("every outcome and dead letter names its input record", bad)
    for r, e in zip(ins, exp):
        name, prob = e["name"], []
        ikey, ival = r["key"] or b"", r["value"] or b""
        ihdr = headers(r["h"])
        cut_key = ikey[:KEEP] if e.get("key_cut") else ikey
        got = by_in.pop((r["p"], r["o"]), [])
        if len(got) != 1:
            prob.append("%d outcomes" % len(got))
        for o, ce in got:
            d = ce.get("data", {})
            oh = dict(headers(o["h"]))
            if e["valid"]:
                if d.get("status") not in ("created", "exists"):
                    prob.append("outcome %s: %s" % (
                        d.get("status"), json.dumps(d.get("error"))[:300]))
            elif d.get("status") != "failed" or \
                    (d.get("error") or {}).get("code") != "invalid_event":
                prob.append("outcome %s, error %s" % (
                    d.get("status"), json.dumps(d.get("error"))[:300]))
            if e["id"] is not None and d.get("requestId") != e["id"]:
                prob.append("outcome requestId %r" % d.get("requestId"))
            if o["key"] != cut_key:
                prob.append("outcome key: %d bytes, want %d" % (
                    len(o["key"] or b""), len(cut_key)))
            if e.get("key_cut"):
                if oh.get("provflow-key-truncated") != str(len(ikey)):
                    prob.append("outcome provflow-key-truncated %r, want %d"
                                % (oh.get("provflow-key-truncated"),
                                   len(ikey)))
            elif "provflow-key-truncated" in oh:
                prob.append("outcome: provflow-key-truncated on a whole key")
        dls = dl_by_in.pop((r["p"], r["o"]), [])
        if e["valid"]:
            if dls:
                prob.append("%d dead letters for a valid event" % len(dls))
        elif len(dls) != 1:
            prob.append("%d dead letters" % len(dls))
        for dl, h in dls:
            names = [n for n, _ in headers(dl["h"])]
            dval = dl["value"] or b""
            if h.get("provflow-error-code") != "invalid_event":
                prob.append("dead letter provflow-error-code %r" %
                            h.get("provflow-error-code"))
            if h.get("provflow-source-topic") != topic:
                prob.append("dead letter provflow-source-topic %r" %
                            h.get("provflow-source-topic"))
            if [n for n in DLQ if n not in names]:
                prob.append("dead letter headers %r" % names)
            if dl["key"] != cut_key:
                prob.append("dead letter key: %d bytes, want %d" % (
                    len(dl["key"] or b""), len(cut_key)))
            if e.get("key_cut"):
                if h.get("provflow-key-truncated") != str(len(ikey)):
                    prob.append("dead letter provflow-key-truncated %r" %
                                h.get("provflow-key-truncated"))
            elif "provflow-key-truncated" in h:
                prob.append("dead letter: provflow-key-truncated on a "
                            "whole key")
            vt = h.get("provflow-value-truncated")
            if e.get("value_cut"):
                if vt != str(len(ival)):
                    prob.append("dead letter provflow-value-truncated %r, "
                                "want %d" % (vt, len(ival)))
                if not (0 < len(dval) < len(ival) and ival.startswith(dval)):
                    prob.append("dead letter value: %d bytes, not a cut of "
                                "the input's %d" % (len(dval), len(ival)))
            else:
                if vt is not None:
                    prob.append("dead letter provflow-value-truncated %r on "
                                "a value that fits" % vt)
                if dval != ival:
                    prob.append("dead letter value: %d bytes, not the "
                                "input's %d" % (len(dval), len(ival)))
            # provflow's own: provflow-* and the trace context it adds
            # (the inputs here carry none of their own).
            orig = [x for x in headers(dl["h"])
                    if not x[0].startswith("provflow-")
                    and x[0] not in ("traceparent", "tracestate")]
            hd = h.get("provflow-headers-dropped")
            if e.get("headers_dropped"):
                if orig or hd is None:
                    prob.append("dead letter: %d original headers left, "
                                "provflow-headers-dropped %r" % (len(orig),
                                                                 hd))
                # The count on its own line: see HEADERS_DROPPED in the
                # script.
                res.append("HEADERS_DROPPED\t%s: provflow-headers-dropped "
                           "= %d (the original headers)\t%s" % (
                               name, e["headers_dropped"],
                               "ok" if hd == str(e["headers_dropped"])
                               else "it says %r" % hd))
            else:
                if hd is not None:
                    prob.append("dead letter provflow-headers-dropped %r" %
                                hd)
                if orig != ihdr:
                    prob.append("dead letter: original headers %d, input "
                                "had %d" % (len(orig), len(ihdr)))
            size = len(dl["key"] or b"") + len(dval) + sum(
                len(n) + len(v) for n, v in headers(dl["h"]))
            if size > LIMIT:
                prob.append("dead letter of %d bytes" % size)
        verdict("%s (key %d, value %d, %d headers): %s" % (
            name, len(ikey), len(ival), len(ihdr),
            "created/exists, key and outcome as expected" if e["valid"] else
            "failed invalid_event, its dead letter as expected"), prob)
    extra = ["outcome for %r" % (k,) for k in by_in] + \
        ["dead letter for %r" % (k,) for k in dl_by_in]
    verdict("no outcome or dead letter for another record", extra)
    print("\n".join(res))


if __name__ == "__main__":
    if sys.argv[2] == "gen":
        gen(*sys.argv[3:8])
    else:
        check(*sys.argv[3:8])
PY

EXPECT=$TMP/oversize.expect.json
# A valid event of 1,040,000 bytes (a licenseSku that long) is created in
# Graph; its outcome, quoting the flow, would be about 1,041,000 bytes: it
# is written without the flow, data.warning saying so.
BIG_VALID=yes
python3 "$TMP/oversize.py" "$TMP" gen "$RUN_BROKERS" "$IN" "$RUN_ID" \
    "$EXPECT" "$BIG_VALID" || {
    echo "could not produce the records" >&2
    exit 1
}
N=$(jq length "$EXPECT")
NVALID=$(jq '[.[] | select(.valid)] | length' "$EXPECT")

# oversize_check WHAT [kcat options...]: the outputs against EXPECT.
oversize_check() {
    local what=$1 kind text detail
    shift
    topic_dump "$IN" "$TMP/in.dump"
    topic_dump "$OUT" "$TMP/out.dump" "$@"
    topic_dump "$DLQ" "$TMP/dlq.dump" "$@"
    while IFS=$'\t' read -r kind text detail; do
        case $kind in
        PASS) pass "$what: $text" ;;
        FAIL) fail "$what: $text" "$(printf '%b' "$detail")" ;;
        HEADERS_DROPPED)
            if [ "$detail" = ok ]; then pass "$what: $text"; else
                fail "$what: $text" "$detail"; fi
            ;;
        esac
    done < <(python3 "$TMP/oversize.py" "$TMP" check "$TMP/in.dump" \
        "$TMP/out.dump" "$TMP/dlq.dump" "$EXPECT" "$IN" ||
        echo "FAIL	the checker ran	exit $?")
}

# oversize_case NAME DELIVERY [kcat options...]: one instance over IN
# under a new group with output topics of its own.
oversize_case() {
    local name=$1 delivery=$2
    shift 2
    run_outputs "$name"
    group "$name: --delivery $delivery"
    pf_run "$name" --delivery "$delivery"
    if wait_done "$name" "$N" 90; then
        pass "$name: provflow committed the $N records"
    else
        fail "$name: provflow committed the $N records" "$(pf_log_show "$name")"
    fi
    if pid_alive "${PF_PID[$name]}"; then
        pass "$name: provflow still runs"
    else
        wait "${PF_PID[$name]}" && rc=0 || rc=$?
        fail "$name: provflow still runs" "exited with status $rc" \
            "$(pf_log_show "$name")"
    fi
    assert_eq "$name: /readyz 200" 200 "$(pf_ready_status "$name")"
    assert_group_at_end 60
    oversize_check "$name" "$@"
    assert_eq "$name: provflow_outcomes_total = $N" "$N" \
        "$(pf_metric "$name" provflow_outcomes_total)"
    assert_eq "$name: provflow_dead_letters_total = $((N - NVALID))" \
        $((N - NVALID)) "$(pf_metric "$name" provflow_dead_letters_total)"
    pf_stop "$name" TERM 30
    assert_eq "$name: exit 0 after SIGTERM" 0 "$PF_STOP_RC"
    if grep -q '"level":"error"' "${PF_LOG[$name]}"; then
        fail "$name: no error logged" \
            "$(grep '"level":"error"' "${PF_LOG[$name]}" | cut -c 1-300)"
    else
        pass "$name: no error logged"
    fi
}

oversize_case alo at-least-once
oversize_case eos exactly-once -X isolation.level=read_committed

group "the simulator"
sim_get /_sim/stats >"$TMP/stats.json"
assert_jq "the $NVALID valid events created once each, no duplicate" \
    "$TMP/stats.json" '[.flowsCreated, .duplicatesCreated]' "[$NVALID,0]"
lib_finish
