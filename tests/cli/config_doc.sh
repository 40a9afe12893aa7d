#!/usr/bin/env bash
# docs/configuration.md must name every flag and variable the commands
# accept (their --help is generated from the settings table).
set -uo pipefail
pf=$1
root=$2
doc=$root/docs/configuration.md
here=$(dirname "$0")
# shellcheck source=lib.sh
. "$here/lib.sh"

for cmd in run send replay; do
    help=$("$pf" "$cmd" --help)
    for flag in $(grep -oE '^  --[a-z0-9-]+' <<<"$help" | tr -d ' ' | sort -u); do
        [ "$flag" = --config ] || [ "$flag" = --help ] && continue
        if grep -q -- "\`$flag" "$doc"; then ok "$cmd $flag documented"
        else fail "$cmd $flag documented" "not found in docs/configuration.md"; fi
    done
    for var in $(grep -oE '(PROVFLOW|AZURE)_[A-Z_]+' <<<"$help" | sort -u); do
        if grep -q "$var" "$doc"; then ok "$cmd $var documented"
        else fail "$cmd $var documented" "not found in docs/configuration.md"; fi
    done
done
lib_finish
