# shellcheck shell=bash
#
# echo_lib.sh - helpers of the redaction tests (send_redaction.sh,
# run_redaction.sh) around echo_server.py, a token endpoint and a Graph
# that quote what they received. Source it after lib.sh (or run_lib.sh).
#
#   echo_start [echo_server.py options...]   # SIM_URL now points at it
#   secret_forms SECRET... >FILE             # every form, one a line
#   assert_no_secret WHAT FORMS-FILE FILES...

ECHO_SERVER=$(dirname "${BASH_SOURCE[0]}")/echo_server.py

# echo_start [options...]: starts echo_server.py (TLS in https mode) and
# sets SIM_PID, SIM_DIR and SIM_URL, as sim_start does, so that pf_send and
# pf_run talk to it; sim_stop stops it. Its requests are logged to
# $SIM_DIR/requests.
echo_start() {
    local tls=() i
    SIM_DIR=$(mktemp -d "$TMP/echo.XXXXXX")
    if [ "$PF_SCHEME" = https ]; then
        tls=(--tls-cert "$TLS_DIR/server.pem" --tls-key "$TLS_DIR/server.key")
    fi
    python3 "$ECHO_SERVER" --port-file "$SIM_DIR/port" --log "$SIM_DIR/requests" \
        ${tls[@]+"${tls[@]}"} "$@" >"$SIM_DIR/stdout" 2>"$SIM_DIR/stderr" &
    SIM_PID=$!
    SIM_PIDS+=("$SIM_PID")
    for i in $(seq 200); do
        [ -s "$SIM_DIR/port" ] && break
        if ! kill -0 "$SIM_PID" 2>/dev/null; then
            echo "echo_server.py did not start:" >&2
            cat "$SIM_DIR/stderr" >&2
            exit 1
        fi
        sleep 0.05
    done
    if [ ! -s "$SIM_DIR/port" ]; then
        echo "echo_server.py wrote no port file in 10 s" >&2
        exit 1
    fi
    SIM_URL=$PF_SCHEME://127.0.0.1:$(cat "$SIM_DIR/port")
    : "$i"
}

# secret_forms SECRET...: each secret as it is, JSON-escaped (once, twice,
# with and without \u escapes, with \/), form-encoded and percent-encoded
# (upper- and lower-case hex), and its first 8 characters (a secret's
# start that a cut before the masking would leave), one a line.
secret_forms() {
    python3 - "$@" <<'PY'
import json, re, sys, urllib.parse
forms = set()
for s in sys.argv[1:]:
    once = json.dumps(s, ensure_ascii=False)[1:-1]
    for f in (s, once, json.dumps(s)[1:-1], json.dumps(once)[1:-1],
              json.dumps(once, ensure_ascii=False)[1:-1],
              once.replace("/", "\\/"), s[:8],
              urllib.parse.quote_plus(s, safe=""),
              urllib.parse.quote(s, safe=""),
              urllib.parse.quote(s, safe="/+&=")):
        forms.add(f)
        forms.add(re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), f))
for f in sorted(forms):
    print(f)
PY
}

# assert_no_secret WHAT FORMS-FILE FILES...: no line of FORMS-FILE in any
# of the files.
assert_no_secret() {
    local what=$1 forms=$2 hits
    shift 2
    if hits=$(grep -F -n -f "$forms" "$@" 2>/dev/null); then
        fail "$what" "a secret in:" "$(printf '%s\n' "$hits" | cut -c 1-400 | head -n 5)"
    else
        pass "$what ($(wc -l <"$forms") forms, $(cat "$@" | wc -c) bytes)"
    fi
}
