#!/usr/bin/env bash
# Writes benches/link-order.ld: a linker script that puts the functions the
# `flow` binary runs for each remote call (and their jump tables) next to
# each other; build.rs passes it to the release build's linker (docs/PERFORMANCE.md,
# "Session 10"). Run it after large changes to the call path; entries that
# no longer match a function are harmless.
#
#     benches/link_order.sh [OUTPUT]    # needs valgrind; OUTPUT defaults to benches/link-order.ld
#
# How: callgrind runs benches/programs/http_loop.flow against the issue 5
# benchmark's server with 1,000 and 3,000 GETs, sequentially and with 64
# strands; a function is hot when its own instruction count grows with the
# number of requests.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-benches/link-order.ld}
command -v valgrind >/dev/null || { echo "valgrind is needed" >&2; exit 1; }
work=$(mktemp -d)
trap 'kill "${server:-}" 2>/dev/null || true; rm -rf "$work"' EXIT

# Profiled in the default layout: valgrind does not attribute the
# functions of the added sections to the binary. (The benchmark build
# below rebuilds the binary too, so both builds need the variable.)
export FLOW_LINK_ORDER=0
cargo build --release --quiet
bench=$(cargo bench --bench http_throughput --no-run 2>&1 |
    sed -n 's/.*Executable .*(\(.*\)).*/\1/p' | tail -1)
SERVE_ONLY=1 "$bench" >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 50); do
    port=$(sed -n 's/.*127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/server.log")
    [ -n "$port" ] && break
    sleep 0.1
done
[ -n "${port:-}" ] || { echo "the benchmark server did not start" >&2; exit 1; }

# Own instruction counts per function of the flow binary: "count name".
profile() { # requests workers
    valgrind --tool=callgrind --demangle=no --callgrind-out-file="$work/cg" \
        target/release/flow run -C port="$port" -C n="$1" -C workers="$2" \
        benches/programs/http_loop.flow >/dev/null 2>&1
    callgrind_annotate --auto=no --threshold=100 "$work/cg" 2>/dev/null |
        awk '/\[.*target\/release\/flow\]$/ { gsub(",", "", $1); sub(/ \[.*/, "", $0);
             name = $0; sub(/.*:/, "", name); print $1, name }'
}

hot() { # workers
    profile 1000 "$1" >"$work/small"
    profile 3000 "$1" >"$work/large"
    echo "workers $1: $(wc -l <"$work/small") and $(wc -l <"$work/large") functions profiled" >&2
    awk 'NR == FNR { small[$2] += $1; next } { large[$2] += $1 }
         END { for (f in large) if (large[f] - small[f] >= 2000) print large[f] - small[f], f }' \
        "$work/small" "$work/large"
}

# Names lose their hash, so an entry also matches the other instances of
# a generic function: the hot range grows, but stays right as code changes.
{ hot 1; hot 64; } | sort -rn | awk '{ print $2 }' |
    sed -E 's/17h[0-9a-f]{16}E(\.llvm\.[0-9]+)?$/17h*/; s/\.llvm\.[0-9]+$/*/' |
    awk '!seen[$0]++' >"$work/names"
# Output sections in front of .text and .rodata, filled in this order.
section() { # output-section input-prefix
    echo "SECTIONS {"
    echo "  $1 : {"
    sed "s/^/    *($2./; s/\$/)/" "$work/names"
    echo "  }"
    echo "}"
    echo "INSERT BEFORE $2;"
}
{
    echo "/* Written by benches/link_order.sh: the functions a remote call runs, laid"
    echo "   out together by the release build (build.rs; docs/PERFORMANCE.md). */"
    section .text.hot .text
    section .rodata.hot .rodata
} >"$out"
echo "$out: $(wc -l <"$work/names") functions (the next release build uses it)"
