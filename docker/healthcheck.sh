#!/bin/bash
# provflow-healthcheck [PORT [PATH]]
# provflow-healthcheck --listen-of PROGRAM [PATH]
#
# Exits 0 if GET http://127.0.0.1:PORT/PATH answers 200, else 1. The images'
# HEALTHCHECK (docker/Dockerfile).
#
# bash and its /dev/tcp only: the runtime image has no curl or wget, and
# needs none (no HTTP client for an intruder, no extra package to patch).
# PORT defaults to the port of PROVFLOW_ADMIN_LISTEN, else 8080 (provflow's
# default admin port); PATH to /healthz. With --listen-of, PORT is the one
# of the last `--listen HOST:PORT` on PROGRAM's command line: the
# simulator's image takes its port from its CMD, which `docker run IMAGE
# --listen ...` replaces, so a fixed port would check the wrong one.
# Docker's --timeout bounds the connect; `read -t` bounds the wait for the
# answer.
set -u

# listen_of PROGRAM: prints the port of PROGRAM's last --listen (getopt's
# rule: the last one wins), read from /proc; 1 when no such process runs.
listen_of() {
    local f arg next= listen= argv=()
    for f in /proc/[0-9]*/cmdline; do
        # A process may exit between the glob and the read.
        mapfile -d '' -t argv 2>/dev/null <"$f" || continue
        [ ${#argv[@]} -gt 0 ] && [ "${argv[0]##*/}" = "$1" ] || continue
        for arg in "${argv[@]:1}"; do
            if [ -n "$next" ]; then
                listen=$arg next=
                continue
            fi
            case $arg in
            --listen) next=yes ;;
            --listen=*) listen=${arg#--listen=} ;;
            esac
        done
        if [ -z "$listen" ]; then
            echo "healthcheck: $1 has no --listen" >&2
            return 1
        fi
        echo "${listen##*:}"
        return 0
    done
    echo "healthcheck: no $1 process" >&2
    return 1
}

if [ "${1:-}" = --listen-of ]; then
    port=$(listen_of "${2:-}") || exit 1
    shift 2
    set -- "$port" "$@"
fi
port=${1:-${PROVFLOW_ADMIN_LISTEN:-0.0.0.0:8080}}
port=${port##*:}
path=${2:-/healthz}

case $port in
'' | *[!0-9]* | 0)
    echo "healthcheck: bad port \"$port\"" >&2
    exit 1
    ;;
esac

exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1:%s\r\nConnection: close\r\n\r\n' \
    "$path" "$port" >&3 || exit 1
IFS=' ' read -r -t 5 proto status _ <&3 || exit 1
exec 3<&-
case $proto in HTTP/1.[01]) ;; *) exit 1 ;; esac
[ "${status%$'\r'}" = 200 ]
