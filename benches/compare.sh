#!/usr/bin/env bash
# Flow benchmark suite (issue 4): the same programs in Flow, Lua 5.4 and
# Python 3, timed side by side with hyperfine in one run per program.
#
#   benches/compare.sh                 # every program
#   benches/compare.sh fib maps        # only these
#   RUNS=10 benches/compare.sh         # more timed runs per command
#
# Environment: RUNS (timed runs per command, default 5), WARMUP (default 1),
# HELLO_RUNS (default 30), LUA (default lua5.4), PYTHON (default python3),
# SKIP_BUILD=1 (time the existing target/release/flow without `cargo build`).
#
# Targets: Flow <= 1.5 x Lua 5.4 and <= 0.35 x CPython on every program;
# `flow run examples/hello.flow` median <= 5 ms and peak RSS <= 10 MiB.
# This is a report: it exits 0 whether or not the targets are met (non-zero only
# when it cannot measure at all, e.g. hyperfine is missing or the build fails).
#
# Results: target/bench/<program>.json (hyperfine exports), target/bench/hyperfine.log
# (hyperfine's own output), target/bench/report.txt (the table printed at the end).
set -uo pipefail

cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
PROGRAMS_DIR=benches/programs
OUT=target/bench
RUNS=${RUNS:-5}
WARMUP=${WARMUP:-1}
HELLO_RUNS=${HELLO_RUNS:-30}
ALL_PROGRAMS=(fib loop strings arrays maps records)

if [ "$#" -gt 0 ]; then
    PROGRAMS=("$@")
else
    PROGRAMS=("${ALL_PROGRAMS[@]}")
fi
for p in "${PROGRAMS[@]}"; do
    if [ ! -f "$PROGRAMS_DIR/$p.flow" ]; then
        echo "error: no program $PROGRAMS_DIR/$p.flow (known: ${ALL_PROGRAMS[*]})" >&2
        exit 2
    fi
done

# ---- tools (installs nothing; says how) -------------------------------------
missing=()
command -v hyperfine >/dev/null 2>&1 || missing+=(hyperfine)
LUA_CMD=${LUA:-lua5.4}
if ! command -v "$LUA_CMD" >/dev/null 2>&1; then
    missing+=(lua5.4)
    LUA_BIN=""
else
    LUA_BIN=$(command -v "$LUA_CMD")
fi
PYTHON_CMD=${PYTHON:-python3}
# Resolve the real interpreter: a pyenv/asdf shim is a shell script whose
# start-up would otherwise be charged to Python.
PYTHON_BIN=$("$PYTHON_CMD" -c 'import sys; print(sys.executable)' 2>/dev/null || true)
if [ -z "$PYTHON_BIN" ]; then
    echo "error: $PYTHON_CMD not found; it is needed for the Python programs and to read the results" >&2
    exit 1
fi
if [ ${#missing[@]} -gt 0 ]; then
    echo "missing: ${missing[*]}; install with:" >&2
    echo "    apt-get update && apt-get install -y hyperfine lua5.4" >&2
    if ! command -v hyperfine >/dev/null 2>&1; then
        exit 1
    fi
    echo "continuing without Lua" >&2
fi
TIME_BIN=/usr/bin/time
if [ ! -x "$TIME_BIN" ]; then
    echo "note: $TIME_BIN not found (apt-get install -y time); peak RSS will not be measured" >&2
    TIME_BIN=""
fi

# ---- build ------------------------------------------------------------------
mkdir -p "$OUT"
if [ "${SKIP_BUILD:-0}" != 1 ]; then
    echo "building release binary (cargo waits here if another build holds the lock)..."
    if ! cargo build --release --quiet; then
        echo "error: cargo build --release failed" >&2
        exit 1
    fi
fi
if [ ! -x target/release/flow ]; then
    echo "error: target/release/flow does not exist" >&2
    exit 1
fi
# Time a private copy so a rebuild by someone else cannot swap the binary mid-run.
FLOW="$OUT/flow"
cp target/release/flow "$FLOW.tmp" && mv -f "$FLOW.tmp" "$FLOW"
REV=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git status --porcelain -- src Cargo.toml stdlib 2>/dev/null)" ]; then
    REV="$REV+dirty"
fi

echo "flow:   $ROOT/target/release/flow ($REV)"
echo "lua:    ${LUA_BIN:-(missing)} ${LUA_BIN:+$("$LUA_BIN" -v 2>&1 | cut -d' ' -f1-2)}"
echo "python: $PYTHON_BIN ($("$PYTHON_BIN" -c 'import platform; print(platform.python_implementation(), platform.python_version())'))"
echo "runs:   warmup $WARMUP, timed $RUNS per command; hello-world $HELLO_RUNS"
echo "load:   $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null) on $(nproc 2>/dev/null) CPUs (other busy processes make the numbers noisy)"
echo

LOG="$OUT/hyperfine.log"
: >"$LOG"
STATUS="$OUT/status.tsv"   # program <TAB> ok|reason
: >"$STATUS"

# ---- check outputs, then time -------------------------------------------------
for p in "${PROGRAMS[@]}"; do
    rm -f "$OUT/$p.json"
    src="$PROGRAMS_DIR/$p"
    printf '%-8s ' "$p"

    diag=$("$FLOW" check "$src.flow" 2>&1)
    if [ -n "$diag" ]; then
        echo "flow check printed diagnostics:"
        echo "$diag" | sed 's/^/    /'
        printf '%s\t%s\n' "$p" "flow check failed" >>"$STATUS"
        continue
    fi

    flow_out=$("$FLOW" run "$src.flow" 2>&1)
    flow_rc=$?
    py_out=$("$PYTHON_BIN" "$src.py" 2>&1)
    reason=""
    if [ $flow_rc -ne 0 ]; then
        reason="flow exited $flow_rc"
    elif [ "$flow_out" != "$py_out" ]; then
        reason="output differs from Python"
    fi
    has_lua=0
    if [ -z "$reason" ] && [ -n "$LUA_BIN" ] && [ -f "$src.lua" ]; then
        has_lua=1
        lua_out=$("$LUA_BIN" "$src.lua" 2>&1)
        if [ "$flow_out" != "$lua_out" ]; then
            reason="output differs from Lua"
        fi
    fi
    if [ -n "$reason" ]; then
        echo "$reason; not timed"
        echo "    flow:   $(echo "$flow_out" | head -3)"
        echo "    python: $(echo "$py_out" | head -3)"
        [ $has_lua = 1 ] && echo "    lua:    $(echo "$lua_out" | head -3)"
        printf '%s\t%s\n' "$p" "$reason" >>"$STATUS"
        continue
    fi
    printf 'output %s matches; timing... ' "$flow_out"

    cmds=(-n flow "$FLOW run $src.flow")
    [ $has_lua = 1 ] && cmds+=(-n lua "$LUA_BIN $src.lua")
    cmds+=(-n python "$PYTHON_BIN $src.py")
    echo "===== $p" >>"$LOG"
    if hyperfine -N --warmup "$WARMUP" --runs "$RUNS" --export-json "$OUT/$p.json" \
        "${cmds[@]}" >>"$LOG" 2>&1; then
        echo "done"
        printf '%s\tok\n' "$p" >>"$STATUS"
    else
        echo "hyperfine failed (see $LOG)"
        printf '%s\t%s\n' "$p" "hyperfine failed" >>"$STATUS"
    fi
done

# ---- hello world: start-up time and peak RSS ------------------------------------
HELLO=examples/hello.flow
rm -f "$OUT/hello.json" "$OUT/hello_rss.txt"
printf '%-8s ' hello
hello_out=$("$FLOW" run "$HELLO" 2>&1)
if [ "$hello_out" != "Hello, World!" ]; then
    echo "unexpected output: $hello_out"
else
    echo "===== hello" >>"$LOG"
    hyperfine -N --warmup 3 --runs "$HELLO_RUNS" --export-json "$OUT/hello.json" \
        -n "flow run $HELLO" "$FLOW run $HELLO" >>"$LOG" 2>&1 || echo -n "(hyperfine failed) "
    if [ -n "$TIME_BIN" ]; then
        for _ in 1 2 3 4 5; do
            "$TIME_BIN" -v "$FLOW" run "$HELLO" 2>&1 >/dev/null \
                | sed -n 's/^[[:space:]]*Maximum resident set size (kbytes): //p' >>"$OUT/hello_rss.txt"
        done
    fi
    echo "done"
fi
echo

# ---- report -------------------------------------------------------------------
"$PYTHON_BIN" - "$OUT" "$RUNS" "$WARMUP" "$REV" "${PROGRAMS[@]}" <<'PY' | tee "$OUT/report.txt"
import json, os, sys

out, runs, warmup, rev = sys.argv[1:5]
programs = sys.argv[5:]
LUA_TARGET, PY_TARGET = 1.5, 0.35
HELLO_MS_TARGET, HELLO_RSS_TARGET_KIB = 5.0, 10 * 1024

status = {}
with open(os.path.join(out, "status.tsv")) as f:
    for line in f:
        name, _, why = line.rstrip("\n").partition("\t")
        status[name] = why

def results(name):
    path = os.path.join(out, name + ".json")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return json.load(f)["results"]

def medians(name):
    return {r["command"]: r["median"] * 1000.0 for r in results(name)}

def ms(v):
    return "-" if v is None else f"{v:.1f}"

def ratio(v):
    return "-" if v is None else f"{v:.2f}"

header = ["program", "Flow ms", "Lua ms", "Python ms", "Flow/Lua", "Flow/Python", "target met?"]
rows = []
met = total = 0
for p in programs:
    m = medians(p)
    if status.get(p) != "ok" or "flow" not in m:
        rows.append([p, "-", "-", "-", "-", "-", "not measured: " + status.get(p, "?")])
        continue
    f, l, py = m.get("flow"), m.get("lua"), m.get("python")
    rl = f / l if l else None
    rp = f / py if py else None
    misses = []
    if rl is not None and rl > LUA_TARGET:
        misses.append(f"Lua > {LUA_TARGET}x")
    if rp is not None and rp > PY_TARGET:
        misses.append(f"Python > {PY_TARGET}x")
    verdict = "yes" if not misses else "NO (" + ", ".join(misses) + ")"
    total += 1
    met += not misses
    rows.append([p, ms(f), ms(l), ms(py), ratio(rl), ratio(rp), verdict])

widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
def line(r):
    cells = [str(c).ljust(w) if i in (0, len(r) - 1) else str(c).rjust(w)
             for i, (c, w) in enumerate(zip(r, widths))]
    return "| " + " | ".join(cells) + " |"

print(f"Medians of {runs} runs (hyperfine -N, warmup {warmup}), flow {rev}; "
      f"targets: Flow/Lua <= {LUA_TARGET}, Flow/Python <= {PY_TARGET}")
print(line(header))
print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
for r in rows:
    print(line(r))
print(f"programs meeting their targets: {met} of {total}")
print()

hello = results("hello")
hello_ms = hello[0]["median"] * 1000.0 if hello else None
rss = []
rss_path = os.path.join(out, "hello_rss.txt")
if os.path.exists(rss_path):
    with open(rss_path) as f:
        rss = [int(x) for x in f.read().split() if x.isdigit()]
peak = max(rss) if rss else None
if hello_ms is None:
    print("hello world: not measured")
else:
    ok = "yes" if hello_ms <= HELLO_MS_TARGET else "NO"
    print(f"hello world (flow run examples/hello.flow): median {hello_ms:.2f} ms "
          f"over {len(hello[0]['times'])} runs "
          f"(target <= {HELLO_MS_TARGET:g} ms: {ok})")
if peak is None:
    print("hello world peak RSS: not measured")
else:
    ok = "yes" if peak <= HELLO_RSS_TARGET_KIB else "NO"
    print(f"hello world peak RSS: {peak / 1024:.1f} MiB ({peak} KiB, max of {len(rss)} runs of "
          f"/usr/bin/time -v; target <= 10 MiB: {ok})")
PY

echo
echo "hyperfine details: $LOG; JSON: $OUT/*.json"
exit 0
