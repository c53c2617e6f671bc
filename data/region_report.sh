#!/bin/sh
# Turns the rows of sales.csv for one region and month into a small report file.
# Usage: region_report.sh REGION MONTH OUTFILE
set -eu
region=$1 month=$2 out=$3
rows=$(awk -F, -v r="$region" -v m="$month" 'NR > 1 && $1 == r && $2 == m' sales.csv)
if [ -z "$rows" ]; then
    echo "region_report: no sales rows for region '$region' in $month" >&2
    exit 2
fi
{
    echo "Sales report: region $region, $month"
    echo "$rows" | awk -F, '{ printf "  %-8s %5d units  %10.2f\n", $3, $4, $5; u += $4; r += $5 }
                            END { printf "  %-8s %5d units  %10.2f\n", "total", u, r }'
} > "$out.tmp"
mv "$out.tmp" "$out"
echo "wrote $out"
