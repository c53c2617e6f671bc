#!/bin/sh
# Combines the per-region reports into one summary (runs after them, see nightly.csv).
set -eu
out=$1; shift
{
    echo "Nightly summary"
    for f in "$@"; do grep -h "total" "$f" | sed "s|^ *total|$(basename "$f" .txt)|"; done
} > "$out"
echo "wrote $out"
