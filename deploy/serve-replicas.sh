#!/usr/bin/env bash
# serve-replicas.sh — N `qlm serve` replicas on this host behind one vllm-router.
#
#   deploy/serve-replicas.sh -m models/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf -n 2
#   curl localhost:8000/v1/chat/completions -d '{"messages":[{"role":"user","content":"hi"}]}' \
#        -H 'Content-Type: application/json'
#
# Options (defaults in brackets):
#   -m FILE            model (required)
#   -n N               replicas [2]
#   -t N               threads per replica [1]; keep N x threads <= physical cores
#   --port P           router port [8000]; replicas listen on P+1 .. P+N
#   --host H           address the router binds [127.0.0.1]
#   --policy NAME      vllm-router policy [cache_aware]; kv_aware turns on KV events
#   --drain-timeout S  per replica [30]
#   --                 everything after is passed to every `qlm serve`
# Environment: QLM (qlm binary) [build/tools/qlm/qlm], VLLM_ROUTER [.venv/bin/vllm-router].
#
# Replicas bind 127.0.0.1; only the router is reachable from outside (--host).
# Ctrl-C / SIGTERM drains: the replicas get SIGTERM (their /ready turns 503, the
# router stops sending them work, requests in flight finish), then the router stops.
set -euo pipefail
cd "$(dirname "$0")/.."

QLM=${QLM:-build/tools/qlm/qlm}
ROUTER=${VLLM_ROUTER:-.venv/bin/vllm-router}
model="" n=2 threads=1 port=8000 host=127.0.0.1 policy=cache_aware drain=30
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    -m) model=$2; shift 2 ;;
    -n) n=$2; shift 2 ;;
    -t) threads=$2; shift 2 ;;
    --port) port=$2; shift 2 ;;
    --host) host=$2; shift 2 ;;
    --policy) policy=$2; shift 2 ;;
    --drain-timeout) drain=$2; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "serve-replicas: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ -n "$model" ] || { echo "serve-replicas: -m FILE is required" >&2; exit 2; }
[ -x "$QLM" ] || { echo "serve-replicas: no qlm binary at $QLM (build it, or set QLM)" >&2; exit 2; }
[ -x "$ROUTER" ] || { echo "serve-replicas: no vllm-router at $ROUTER (make venv, or set VLLM_ROUTER)" >&2; exit 2; }

pids=() urls=() kv=()
rc=0
stop() {
  trap - INT TERM EXIT
  echo "serve-replicas: draining ${#pids[@]} replicas"
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  [ -n "${router_pid:-}" ] && kill -TERM "$router_pid" 2>/dev/null && wait "$router_pid" || rc=$?
[ "$rc" = 0 ] || echo "serve-replicas: the router exited with status $rc" >&2 2>/dev/null
  exit "$rc"
}
trap stop INT TERM EXIT

alias=$(basename "$model")
[ "$policy" = kv_aware ] && kv+=(--kv-event-model "$alias" --kv-event-block-size 16)
for i in $(seq 1 "$n"); do
  p=$((port + i))
  args=(serve -m "$model" --host 127.0.0.1 --port "$p" -t "$threads" --drain-timeout "$drain" --alias "$alias")
  if [ "$policy" = kv_aware ]; then
    # vllm-router's kv_aware decodes events as maps; the replicas stay local
    zport=$((5556 + i))
    args+=(--kv-events-endpoint "tcp://127.0.0.1:$zport" --kv-events-format map)
    kv+=(--kv-event-source "http://127.0.0.1:$p=tcp://127.0.0.1:$zport")
  fi
  "$QLM" "${args[@]}" "${extra[@]}" &
  pids+=($!)
  urls+=("http://127.0.0.1:$p")
done

# The router waits for every worker's /health at start-up; traffic follows /ready.
"$ROUTER" --host "$host" --port "$port" --worker-urls "${urls[@]}" --policy "$policy" \
  --health-check-endpoint /ready --health-check-interval-secs 2 \
  --health-failure-threshold 1 --health-success-threshold 1 \
  --worker-startup-check-interval 1 --worker-startup-timeout-secs 600 \
  --prometheus-port $((port + 1000)) "${kv[@]}" &
router_pid=$!
echo "serve-replicas: router on http://$host:$port -> ${urls[*]} (policy $policy)"
wait "$router_pid" || rc=$?
[ "$rc" = 0 ] || echo "serve-replicas: the router exited with status $rc" >&2
