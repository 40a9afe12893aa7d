#!/usr/bin/env bash
# provflow run, the admin server under a slowloris: hundreds of connections
# that say nothing and some that send never-ending headers a byte every
# 0.3 s, kept up for the whole test (every connection the server closes is
# opened again). Meanwhile /healthz, /readyz and /metrics still answer
# (curl, 5 s per try, polled) and the service still creates the seed's four
# flows; once the attackers leave, /healthz answers again; SIGTERM → 0.
# Before the fix, 16 idle connections stopped /healthz for good, even after
# they closed.
. "$(dirname "$0")/run_lib.sh"
run_init "$@"

IDLE=300
SLOW=24

run_topics admin 1
sim_start
pf_run adm
if ! wait_for 60 eval '[ "$(pf_assigned adm)" = "0" ]'; then
    fail "provflow takes the partition" "$(pf_log_show adm)"
fi

# healthz: the status of one GET /healthz (000: no answer within 5 s).
healthz() {
    curl -s --max-time 5 -o /dev/null -w '%{http_code}' \
        "http://127.0.0.1:${PF_ADMIN[adm]}/healthz" 2>/dev/null || true
}
healthz_ok() { [ "$(healthz)" = 200 ]; }

group "before"
assert_eq "/healthz: 200" 200 "$(healthz)"

# The attackers: non-blocking sockets, polled every 0.1 s; writes
# "OPEN REOPENED" to its status file after each pass.
cat >"$TMP/siege.py" <<'EOF'
import errno, os, select, socket, sys, time

port, idle, slow, status = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
headers = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 100000
socks = {}  # fd -> [socket, slow, bytes sent]
reopened = 0

def open_one(is_slow):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setblocking(False)
    s.connect_ex(("127.0.0.1", port))
    socks[s.fileno()] = [s, is_slow, 0]

for i in range(idle + slow):
    open_one(i >= idle)
next_nudge = 0.0
while True:
    p = select.poll()
    for fd in socks:
        p.register(fd, select.POLLIN)
    closed = [fd for fd, ev in p.poll(0)
              if ev & (select.POLLIN | select.POLLHUP | select.POLLERR)]
    nudge = time.monotonic() >= next_nudge
    if nudge:
        next_nudge = time.monotonic() + 0.3
    for fd in list(socks):
        s, is_slow, sent = socks[fd]
        if fd in closed:
            try:
                if s.recv(4096):
                    continue  # an answer (never for these): ignore
            except OSError as e:
                if e.errno in (errno.EAGAIN, errno.ENOTCONN):
                    continue
            # the server let go of it: open another at once
            del socks[fd]
            s.close()
            open_one(is_slow)
            reopened += 1
        elif is_slow and nudge:
            try:
                socks[fd][2] += s.send(headers[sent:sent + 1])
            except OSError:
                pass
    with open(status + ".tmp", "w") as f:
        f.write("%d %d\n" % (len(socks), reopened))
    os.replace(status + ".tmp", status)
    time.sleep(0.1)
EOF

reopened() { cut -d' ' -f2 "$TMP/siege.status" 2>/dev/null || echo 0; }

group "under siege"
python3 "$TMP/siege.py" "${PF_ADMIN[adm]}" "$IDLE" "$SLOW" "$TMP/siege.status" &
SIEGE=$!
RUN_PIDS+=("$SIEGE")
# The server is full and sheds attackers, which come back at once.
if wait_for 60 eval '[ "$(reopened)" -gt 100 ]'; then
    pass "the server drops attackers and they come back ($(reopened) so far)"
else
    fail "the server drops attackers and they come back" \
        "status: $(cat "$TMP/siege.status" 2>/dev/null)"
fi
if wait_for 60 healthz_ok; then
    pass "/healthz answers 200 under the siege"
else
    fail "/healthz answers 200 under the siege" "last: $(healthz)"
fi
if wait_for 60 eval '[ "$(pf_ready_status adm)" = 200 ]'; then
    pass "/readyz answers 200 under the siege"
else
    fail "/readyz answers 200 under the siege" "last: $(pf_ready_status adm)"
fi
gen_seed
if wait_done adm 4 120; then
    pass "the service creates the seed's four flows under the siege"
else
    fail "the service creates the seed's four flows under the siege" \
        "$(pf_log_show adm)"
fi
assert_eq "the siege held to the end" 0 \
    "$(pid_alive "$SIEGE" && echo 0 || echo 1)"
echo "# siege: $(cat "$TMP/siege.status") (open, reopened)"

group "after"
kill -TERM "$SIEGE" 2>/dev/null || true
wait "$SIEGE" 2>/dev/null || true
if wait_for 60 healthz_ok; then
    pass "/healthz answers 200 after the attackers left"
else
    fail "/healthz answers 200 after the attackers left" "last: $(healthz)"
fi
assert_eq "/metrics answers" 1 "$(pf_metric adm provflow_build_info)"
assert_all_done exact

pf_stop adm TERM 30
assert_eq "exit 0 after SIGTERM" 0 "$PF_STOP_RC"
lib_finish
