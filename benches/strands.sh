#!/usr/bin/env bash
# Strand benchmarks (§10, issue 6), with the release binary:
#   - 100,000 concurrent strands sleeping 1 s: peak RSS (target < 300 MB)
#   - spawn + join of 100,000 trivial strands (target < 0.5 s)
#
#   benches/strands.sh                # COUNT=100000 RUNS=5
#   SKIP_BUILD=1 benches/strands.sh   # use the existing target/release/flow
#
# Each program prints the time its `main` took (time:monotonic); the script
# adds the whole process's wall time and peak RSS from /usr/bin/time -v and
# reports the median over RUNS runs. It is a report: it exits 0 whether or
# not the targets are met.
set -uo pipefail

cd "$(dirname "$0")/.." || exit 1
COUNT=${COUNT:-100000}
RUNS=${RUNS:-5}
FLOW=target/release/flow
OUT=target/bench
mkdir -p "$OUT"

if [ "${SKIP_BUILD:-0}" != 1 ]; then
    cargo build --release --quiet || { echo "error: release build failed" >&2; exit 1; }
fi
if [ ! -x /usr/bin/time ]; then
    echo "error: /usr/bin/time is missing (apt-get install time)" >&2
    exit 1
fi

median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

# run NAME PROGRAM: RUNS runs; prints median main ms, wall s, peak RSS MB.
run() {
    local name=$1 program=$2 main_ms=() wall=() rss=()
    for _ in $(seq "$RUNS"); do
        /usr/bin/time -v "$FLOW" run -C count="$COUNT" "$program" >"$OUT/$name.out" 2>"$OUT/$name.time" || {
            echo "error: $program failed:" >&2
            cat "$OUT/$name.out" "$OUT/$name.time" >&2
            return 1
        }
        main_ms+=("$(sed -E 's/.*, ([0-9]+) ms$/\1/' "$OUT/$name.out")")
        wall+=("$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s}' "$OUT/$name.time")")
        rss+=("$(awk -F': ' '/Maximum resident set size/ {printf "%.1f", $2 / 1024}' "$OUT/$name.time")")
    done
    printf '%s\t%s\t%s\t%s\n' "$name" \
        "$(printf '%s\n' "${main_ms[@]}" | median)" \
        "$(printf '%s\n' "${wall[@]}" | median)" \
        "$(printf '%s\n' "${rss[@]}" | median)"
}

{
    printf 'benchmark (COUNT=%s, median of %s)\tmain ms\tprocess wall s\tpeak RSS MB\n' "$COUNT" "$RUNS"
    run sleepers benches/strands/sleepers.flow
    run spawn_join benches/strands/spawn_join.flow
} | tee "$OUT/strands.txt" | column -t -s $'\t'
echo "targets: sleepers peak RSS < 300 MB; spawn_join < 0.5 s"
