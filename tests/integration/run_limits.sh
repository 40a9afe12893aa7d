#!/usr/bin/env bash
# shellcheck disable=SC2016  # jq programs in single quotes
# provflow run, what a record may bring:
#  1. Many headers: a binary-mode event whose 64 tracing headers come
#     before its ce_* headers is valid and created (every header is read;
#     only the decoder's are kept).
#  2. Memory bounded in bytes: 24 valid events of about 1 MB each (a user
#     flow whose licenseSku is that long) while Graph answers no create
#     (600 s latency). With --max-buffered-bytes 4194304 (4 MiB) provflow
#     holds at most 2 of them (each counts its record and the request
#     built from it: about 3 MB) and takes no more, whatever the backlog;
#     /healthz still answers. The RSS this gives is measured in bench/
#     (memory_large.sh), not here.
. "$(dirname "$0")/run_lib.sh"
run_init "$@"

group "1. 64 headers before the ce_* headers"
run_topics headers 1
sim_start
python3 - "$TMP" "$RUN_BROKERS" "$IN" "$RUN_ID" <<'PY'
import subprocess
import sys
import uuid

sys.path.insert(0, sys.argv[1])
import run_helper  # noqa: E402

tmp, brokers, topic, prefix = sys.argv[1:5]
fs = str(uuid.uuid5(uuid.NAMESPACE_URL, "urn:provflow-it:limits:" + prefix))
data = run_helper.compact({"flowSetId": fs, "flowType": "user",
                           "flow": run_helper.FLOWS["user"]})
hdrs = ["x-trace-%02d=00-%032x-%016x-01" % (i, i + 1, i + 1) for i in range(64)]
hdrs += ["ce_specversion=1.0", "ce_id=%s-traced" % prefix,
         "ce_source=urn:provflow-it", "ce_type=" + run_helper.EVTYPE,
         "content-type=application/json"]
path = tmp + "/traced.json"
with open(path, "wb") as f:
    f.write(data)
run_helper.kcat_produce(brokers, topic, files=[path], key=fs, headers=hdrs)
PY
pf_run hd
if wait_done hd 1 60; then
    pass "the record is committed"
else
    fail "the record is committed" "$(pf_log_show hd)"
fi
timeout 30 kcat -C -b "$RUN_BROKERS" -t "$OUT" -o beginning -e -q -f '%s\n' \
    >"$TMP/headers.out" 2>/dev/null || true
assert_eq "one outcome" 1 "$(grep -c . "$TMP/headers.out" || true)"
assert_jq "created, with its ce_id as requestId" "$TMP/headers.out" \
    '[.data.status, .data.requestId]' "[\"created\",\"$RUN_ID-traced\"]"
pf_stop hd TERM 30
assert_eq "exit 0 after SIGTERM" 0 "$PF_STOP_RC"
sim_stop

group "2. 1 MB events under a stalled Graph: the byte budget holds"
N=24
run_topics_config budget 1 max.message.bytes=2097152
sim_start --config "$(sim_config "$TMP/sim.json" \
    '{"faults": {"createFlow": {"latencyMs": 600000}}}')"
python3 - "$TMP" "$RUN_BROKERS" "$IN" "$RUN_ID" "$N" <<'PY'
import copy
import subprocess
import sys
import uuid

sys.path.insert(0, sys.argv[1])
import run_helper  # noqa: E402

tmp, brokers, topic, prefix, n = sys.argv[1:6]
lines = []
for i in range(int(n)):
    fs = str(uuid.uuid5(uuid.NAMESPACE_URL, "urn:provflow-it:big:%s:%d"
                        % (prefix, i)))
    e = copy.deepcopy(run_helper.event("%s-big-%02d" % (prefix, i), fs, "user"))
    e["data"]["flow"]["creationOptions"] = {
        "configurations": [{
            "roleGroup@odata.bind": "https://graph.microsoft.com/beta/"
                                    "external/industryData/roleGroups/students",
            "licenseSkus": [""]}]}
    n0 = len(run_helper.compact(e))
    e["data"]["flow"]["creationOptions"]["configurations"][0][
        "licenseSkus"][0] = "s" * (1000000 - n0)
    lines.append(fs.encode() + b"\t" + run_helper.compact(e) + b"\n")
subprocess.run(["kcat", "-P", "-b", brokers, "-t", topic, "-K", "\t",
                "-X", "message.max.bytes=2000000"], input=b"".join(lines),
               check=True)
PY
pf_run bg --max-buffered-bytes 4194304
# The loop takes records until the budget is reached; held then stays.
held() { pf_metric bg provflow_records_buffered; }
if wait_for 60 eval '[ "$(held)" -ge 1 ]'; then
    pass "provflow holds records ($(held))"
else
    fail "provflow holds records" "$(pf_log_show bg)"
fi
# Long enough for several pauses and resumptions of the consumer to show.
sleep 5
assert_cmp "at most 2 records of 1 MB held under a 4 MiB budget" \
    "$(held)" -le 2
assert_cmp "far fewer consumed than the backlog" \
    "$(pf_metric bg provflow_events_consumed_total)" -le 2
assert_eq "/healthz: 200" 200 \
    "$(pf_get bg /healthz -o /dev/null -w '%{http_code}' 2>/dev/null || echo 000)"
pf_stop bg TERM 30
assert_eq "exit 0 after SIGTERM" 0 "$PF_STOP_RC"
lib_finish
