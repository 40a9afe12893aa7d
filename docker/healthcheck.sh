#!/bin/bash
# provflow-healthcheck [PORT [PATH]]: exit 0 if GET http://127.0.0.1:PORT/PATH
# answers 200, else 1. The images' HEALTHCHECK (docker/Dockerfile).
#
# bash and its /dev/tcp only: the runtime image has no curl or wget, and
# needs none (no HTTP client for an intruder, no extra package to patch).
# PORT defaults to the port of PROVFLOW_ADMIN_LISTEN, else 8080 (provflow's
# default admin port); PATH to /healthz. Docker's --timeout bounds the
# connect; `read -t` bounds the wait for the answer.
set -u

port=${1:-${PROVFLOW_ADMIN_LISTEN:-0.0.0.0:8080}}
port=${port##*:}
path=${2:-/healthz}

case $port in
'' | *[!0-9]*)
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
