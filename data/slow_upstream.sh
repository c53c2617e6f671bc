#!/bin/sh
# Stands in for a forecast that waits on a slow upstream service: it never answers in time.
echo "forecast: waiting for the upstream service..." >&2
sleep 60
