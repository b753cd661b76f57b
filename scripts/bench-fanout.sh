#!/usr/bin/env bash
# scripts/bench-fanout.sh runs every fan-out measurement of
# docs/benchmarks-fanout.md in sequence and prints
# their markdown tables at the end, ready to paste. Each run measures the
# baseline ("floor") and danmakud in the same invocation, with realistic
# items sent through POST /danmu/send; the cluster run measures three
# nodes on a private Redis against one node alone. About 19 minutes on
# two cores; run it on a quiet machine, from anywhere in the repository.
#
#   ./scripts/bench-fanout.sh                 everything
#   WINDOW=10s VIEWERS=2000 ./scripts/bench-fanout.sh   a quick check
#
# Needs: Go, redis-server on the PATH (for the cluster), and
# "ulimit -n" above 40,000 (it is raised here when the hard limit allows).
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=local

WINDOW=${WINDOW:-20s}          # Measured window of each run.
SEND_WINDOW=${SEND_WINDOW:-6s} # Each per-send CPU phase.
VIEWERS=${VIEWERS:-15000}      # The large room.
SMALL=${SMALL:-5000}           # The small room, and viewers per cluster node.
RATE=${RATE:-100}
CAP=200 # A tick that receives 101 at the default cap of 100 drops one by design.

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if ! command -v redis-server >/dev/null; then
  # The cluster run, the last, needs it: say so now rather than after 15 minutes.
  echo "bench-fanout: redis-server is not on the PATH (scripts/services.sh start installs it)" >&2
  exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/danmaku-bench" ./cmd/danmaku-bench

common=(-target danmakud -rate "$RATE" -max-per-tick "$CAP" -duration "$WINDOW" -send-window "$SEND_WINDOW" -v 2)
n=0
run() {
  n=$((n + 1))
  printf '\n== run %d: %s\n' "$n" "$*"
  "$work/danmaku-bench" "$@" 2>&1 | grep --line-buffered -v ' level=INFO ' | tee "$work/run$n.log"
}

run "${common[@]}" -viewers "$VIEWERS"
run "${common[@]}" -viewers "$VIEWERS" -deflate
run "${common[@]}" -viewers "$SMALL"
run "${common[@]}" -viewers "$SMALL" -deflate
run "${common[@]}" -viewers "$SMALL" -deflate -v 1 -send-window 0
run -cluster 3 -viewers "$SMALL" -rate "$RATE" -max-per-tick "$CAP" -duration "$WINDOW" -send-window 0 -deflate

printf '\n\n== tables\n'
for i in $(seq 1 "$n"); do
  echo
  grep '^|' "$work/run$i.log" || echo "(run $i printed no table: see its output above)"
done
