#!/usr/bin/env bash
# Compares `flow` builds on the issue 5 loop with the reqwest loop as the
# yardstick, finely enough to see a 2% difference on a noisy machine.
#
#     benches/http_ab.sh /tmp/flow-before target/release/flow
#     ROUNDS=60 N=5000 WORKERS=1 benches/http_ab.sh A B ...
#     benches/http_ab.sh rust:transport rust:endpoint rust:policy target/release/flow
#
# `rust:LAYERS` stands for part of Flow's call path driven from Rust,
# without the VM (the benchmark binary with LAYERS_CLIENT_PORT; sequential
# only): `transport` (Flow's reqwest transport alone), `endpoint` (an
# endpoint with the default policy) or `policy` (an endpoint with
# http_loop.flow's timeout, retry, circuit breaker and bulkhead).
#
# Each round runs the reqwest loop, every given build in turn, and the
# reqwest loop again, all against one server (the benchmark binary with
# SERVE_ONLY=1), N sequential GETs each. Per build it prints the median
# time, the median of the per-round ratios to the mean of that round's two
# reqwest runs, and a 95% bootstrap interval for that median; with two
# builds also the median of their per-round time ratio (first / second)
# and its interval. Swap the order of the builds and run again: the first
# build of a round tends to be about 1% slower (docs/PERFORMANCE.md,
# "Session 9").
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { echo "usage: $0 FLOW_BINARY..." >&2; exit 2; }
ROUNDS=${ROUNDS:-60}
N=${N:-5000}
WORKERS=${WORKERS:-1}

bench=$(cargo bench --bench http_throughput --no-run 2>&1 |
    sed -n 's/.*Executable .*(\(.*\))$/\1/p' | tail -1)
[ -x "$bench" ] || { echo "cannot find the http_throughput benchmark binary" >&2; exit 1; }

out=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; rm -rf "$out"' EXIT
SERVE_ONLY=1 "$bench" > "$out/server.log" 2>&1 &
server=$!
for _ in $(seq 50); do
    port=$(sed -n 's/.*127\.0\.0\.1:\([0-9]*\).*/\1/p' "$out/server.log")
    [ -n "$port" ] && break
    sleep 0.1
done
[ -n "$port" ] || { echo "the server did not start" >&2; exit 1; }

reqwest_ms() {
    REQWEST_CLIENT_PORT=$port N=$N CONCURRENCY=$WORKERS "$bench" | awk '{print $1 / 1000}'
}

for round in $(seq "$ROUNDS"); do
    row="$(reqwest_ms)"
    for flow in "$@"; do
        case $flow in
            rust:*)
                ms=$(LAYERS_CLIENT_PORT=$port LAYERS=${flow#rust:} N=$N "$bench" |
                    awk '{print $1 / 1000}') ;;
            *)
                ms=$("$flow" run -C port="$port" -C n="$N" -C workers="$WORKERS" \
                    benches/programs/http_loop.flow | awk '{print $1}') ;;
        esac
        row="$row $ms"
    done
    echo "$row $(reqwest_ms)" >> "$out/rounds.txt"
    printf '\rround %d/%d' "$round" "$ROUNDS" >&2
done
echo >&2

python3 - "$out/rounds.txt" "$N" "$@" <<'PY'
import random, statistics, sys
rows = [list(map(float, line.split())) for line in open(sys.argv[1])]
n, names = sys.argv[2], sys.argv[3:]
rng = random.Random(5)

def interval(values):
    medians = sorted(statistics.median(rng.choices(values, k=len(values))) for _ in range(2000))
    return medians[50], medians[1949]

print(f"{len(rows)} rounds of {n} GETs; reqwest median "
      f"{statistics.median((r[0] + r[-1]) / 2 for r in rows):.0f} ms")
for j, name in enumerate(names, start=1):
    ratios = [(r[0] + r[-1]) / 2 / r[j] for r in rows]
    low, high = interval(ratios)
    print(f"{name}: median {statistics.median(r[j] for r in rows):.0f} ms, "
          f"flow/reqwest {statistics.median(ratios):.3f} (95% interval {low:.3f}-{high:.3f})")
if len(names) == 2:
    times = [r[1] / r[2] for r in rows]
    low, high = interval(times)
    print(f"time {names[0]} / {names[1]}: {statistics.median(times):.3f} "
          f"(95% interval {low:.3f}-{high:.3f})")
PY
