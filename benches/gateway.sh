#!/usr/bin/env bash
# Gateway benchmark (issue 6): requests per second of a Flow service that
# proxies GET /ping to a loopback backend through an endpoint
# (benches/programs/gateway.flow), against nginx `proxy_pass` to the same
# backend, both measured with wrk in one run. Needs `wrk` and `nginx`
# (apt-get install wrk nginx). It is a report: it exits 0 whether or not the
# target (Flow >= 0.70 x nginx) is met.
#
#   benches/gateway.sh                      # wrk -t2 -c64 -d10s, 3 rounds
#   DURATION=5s CONNECTIONS=32 ROUNDS=1 benches/gateway.sh
#   FLOOR=1 benches/gateway.sh              # also the same gateway in plain Rust
#
# With FLOOR=1 each round also measures benches/support/floor_gateway.rs:
# the gateway written directly on Flow's stack (hyper server, reqwest
# client, a runtime per core) without the VM, which shows what the stack
# itself can reach against nginx.
#
# The backend is the hyper server of benches/http_throughput.rs
# (SERVE_ONLY=1). nginx runs with `worker_processes auto` and upstream
# keep-alive; rounds alternate nginx and Flow and the medians are compared.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-3}
OUT=$PWD/target/bench/gateway
mkdir -p "$OUT"
for tool in wrk nginx; do
    command -v "$tool" >/dev/null || { echo "error: $tool is missing (apt-get install wrk nginx)" >&2; exit 1; }
done
cargo build --release --quiet || { echo "error: release build failed" >&2; exit 1; }
BENCH=$(cargo bench --bench http_throughput --no-run 2>&1 | sed -n 's/.*(\(target[^)]*\)).*/\1/p' | tail -1)
[ -x "$BENCH" ] || { echo "error: cannot find the http_throughput bench binary" >&2; exit 1; }

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; return 1; }

SERVE_ONLY=1 "$BENCH" >"$OUT/backend.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do grep -q listening "$OUT/backend.log" && break; sleep 0.1; done
BACKEND=$(sed -n 's/.*127\.0\.0\.1:\([0-9]*\).*/\1/p' "$OUT/backend.log" | head -1)
[ -n "$BACKEND" ] || { echo "error: the backend did not start" >&2; cat "$OUT/backend.log" >&2; exit 1; }

NGINX_PORT=$(free_port)
mkdir -p "$OUT/nginx/logs"
cat >"$OUT/nginx/nginx.conf" <<CONF
worker_processes auto;
daemon off;
pid $OUT/nginx/nginx.pid;
error_log $OUT/nginx/logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $OUT/nginx/body;
    proxy_temp_path $OUT/nginx/proxy;
    fastcgi_temp_path $OUT/nginx/fastcgi;
    uwsgi_temp_path $OUT/nginx/uwsgi;
    scgi_temp_path $OUT/nginx/scgi;
    upstream backend { server 127.0.0.1:$BACKEND; keepalive 64; }
    server {
        listen 127.0.0.1:$NGINX_PORT;
        location / {
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
CONF
nginx -p "$OUT/nginx" -c "$OUT/nginx/nginx.conf" 2>"$OUT/nginx/logs/start.log" &
pids+=($!)
wait_port "$NGINX_PORT" || { echo "error: nginx did not start" >&2; cat "$OUT/nginx/logs/"*.log >&2; exit 1; }

FLOW_PORT=$(free_port)
target/release/flow run -C port="$FLOW_PORT" -C backendPort="$BACKEND" benches/programs/gateway.flow >"$OUT/flow.log" 2>&1 &
pids+=($!)
wait_port "$FLOW_PORT" || { echo "error: the Flow gateway did not start" >&2; cat "$OUT/flow.log" >&2; exit 1; }

FLOOR=${FLOOR:-0}
if [ "$FLOOR" = 1 ]; then
    FLOOR_PORT=$(free_port)
    FLOOR_GATEWAY_PORT="$FLOOR_PORT" BACKEND_PORT="$BACKEND" "$BENCH" >"$OUT/floor.log" 2>&1 &
    pids+=($!)
    wait_port "$FLOOR_PORT" || { echo "error: the Rust gateway did not start" >&2; cat "$OUT/floor.log" >&2; exit 1; }
fi

# rps URL: requests per second reported by wrk.
rps() { wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" "$1" 2>&1 | awk '/^Requests\/sec:/ {print $2}'; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

check_body() { [ "$(curl -s "http://127.0.0.1:$1/ping")" = pong ] || { echo "error: port $1 does not proxy /ping" >&2; exit 1; }; }
check_body "$NGINX_PORT"
check_body "$FLOW_PORT"
[ "$FLOOR" = 1 ] && check_body "$FLOOR_PORT"

# ratio A B: A / B with two decimals.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0) ? a / b : 0 }'; }

ng=() fl=() rs=() ratios=()
for r in $(seq "$ROUNDS"); do
    ng+=("$(rps "http://127.0.0.1:$NGINX_PORT/ping")")
    fl+=("$(rps "http://127.0.0.1:$FLOW_PORT/ping")")
    ratios+=("$(ratio "${fl[-1]}" "${ng[-1]}")")
    line="round $r: nginx ${ng[-1]} req/s, flow ${fl[-1]} req/s (${ratios[-1]})"
    if [ "$FLOOR" = 1 ]; then
        rs+=("$(rps "http://127.0.0.1:$FLOOR_PORT/ping")")
        line="$line, rust ${rs[-1]} req/s ($(ratio "${rs[-1]}" "${ng[-1]}"))"
    fi
    echo "$line"
done
NG=$(printf '%s\n' "${ng[@]}" | median)
FL=$(printf '%s\n' "${fl[@]}" | median)
echo "wrk -t$THREADS -c$CONNECTIONS -d$DURATION, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "nginx proxy_pass : $NG req/s (median of $ROUNDS)"
echo "flow gateway     : $FL req/s (median of $ROUNDS)"
if [ "$FLOOR" = 1 ]; then
    RS=$(printf '%s\n' "${rs[@]}" | median)
    echo "rust gateway     : $RS req/s (median of $ROUNDS; same stack, no VM)"
    echo "rust / nginx: $(ratio "$RS" "$NG"); flow / rust: $(ratio "$FL" "$RS")"
fi
echo "flow / nginx: $(ratio "$FL" "$NG") (target >= 0.70)"
# Each round's two measurements are adjacent in time, so background load
# from elsewhere on the machine hits both alike.
echo "median of the per-round ratios: $(printf '%s\n' "${ratios[@]}" | median)"
