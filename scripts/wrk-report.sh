#!/usr/bin/env bash
# Load test of a running benchboard-serve with wrk: POSTs valid reports (with
# X-Team-ID and X-Team-Name) as fast as the server takes them, then prints wrk's
# throughput and latency figures. Exits 1 if any answer was not 2xx.
#
# Usage: scripts/wrk-report.sh [SERVER_URL]        (default http://127.0.0.1:8080)
# Settings (environment): DURATION (10s), CONNECTIONS (64), THREADS (2),
#   TEAMS (6), TEAM_PREFIX (wrk: ids wrk1..wrkN).
# Every report is stored: point it at a throw-away server, e.g.
#   benchboard-serve --port 8081 --data-dir "$(mktemp -d)"
set -euo pipefail

url="${1:-http://127.0.0.1:8080}"
url="${url%/}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

if ! command -v wrk >/dev/null; then
    echo "wrk-report: wrk is not installed (Debian/Ubuntu: apt-get install wrk)" >&2
    exit 2
fi
if ! curl -fs -o /dev/null --max-time 5 "$url/api/teams"; then
    echo "wrk-report: no BenchBoard server answers at $url (start benchboard-serve, or give its URL)" >&2
    exit 2
fi

out="$(mktemp)"
trap 'rm -f "$out"' EXIT
TEAMS="${TEAMS:-6}" TEAM_PREFIX="${TEAM_PREFIX:-wrk}" \
    wrk --latency \
        --threads "${THREADS:-2}" \
        --connections "${CONNECTIONS:-64}" \
        --duration "${DURATION:-10s}" \
        --timeout 10s \
        --script "$here/wrk-report.lua" \
        "$url/api/stats/report" | tee "$out"

if grep -q "Non-2xx or 3xx responses" "$out"; then
    echo "wrk-report: the server refused or failed some reports (see above)" >&2
    exit 1
fi
if grep -q "Socket errors" "$out"; then
    echo "wrk-report: some connections failed or timed out (see above)" >&2
    exit 1
fi
