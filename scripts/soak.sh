#!/usr/bin/env bash
# Soak every loaded service of one `vouch up` (issue 12, R5): the log, the CA and the TSA under
# `vouch bench` at a fixed offered load for DURATION, while 100 idle and 100 slow-loris
# connections sit on every port; then require 0 errors and resident memory of the instance
# flat within 10% after warm-up (the first third of the run).
#
#   scripts/soak.sh [DURATION] [SERVICES]   # default 30s and "log ca tsa" (the CI version)
#   scripts/soak.sh 10m log                  # one server at a time, by hand, release build
#   scripts/soak.sh 10m proxy                # the proof cache in front of the instance's log
#
# With "proxy", the log is first filled (PROXY_FILL entries/s for 30 s) and memory is sampled
# from the `vouch serve proxy` process instead of the instance. SOAK_OUT=DIR keeps the bench
# outputs and the memory samples (one KiB figure per second) there.
# VOUCH: the binary (default: target/debug/vouch, or $CARGO_TARGET_DIR/debug/vouch).
# LOG_RATE / LOG_CLIENTS / CA_CLIENTS / TSA_CLIENTS / PROXY_CLIENTS: offered load (defaults suit a shared 2-core machine;
# by hand use ~80% of the capacity `vouch bench` measures on the machine).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
duration=${1:-30s}
vouch=${VOUCH:-${CARGO_TARGET_DIR:-target}/debug/vouch}
[[ -x $vouch ]] || { echo "soak: $vouch is not built (cargo build -p vouch)" >&2; exit 1; }
log_rate=${LOG_RATE:-50}
ca_clients=${CA_CLIENTS:-2}
tsa_clients=${TSA_CLIENTS:-2}
proxy_clients=${PROXY_CLIENTS:-2}
services=${2:-log ca tsa}
secs=$(python3 -c "import sys; s=sys.argv[1]; print(int(float(s[:-1])*60) if s.endswith('m') else int(float(s.rstrip('s'))))" "$duration")

work=$(mktemp -d)
up_pid=""
proxy_pid=""
cleanup() {
  [[ -n $proxy_pid ]] && kill "$proxy_pid" 2>/dev/null
  [[ -n $up_pid ]] && kill "$up_pid" 2>/dev/null
  wait 2>/dev/null
  if [[ -n ${SOAK_OUT:-} ]]; then mkdir -p "$SOAK_OUT" && cp "$work"/*.txt "$work"/*.err "$work/rss" "$SOAK_OUT/" 2>/dev/null; fi
  rm -rf "$work"
}
trap cleanup EXIT

# Tokens outlive the run (the CA bench sends one token for the whole run).
"$vouch" up --data "$work/data" --port 0 --oidc-token-lifetime "$((secs + 600))s" >"$work/up.out" 2>"$work/up.log" &
up_pid=$!
for _ in $(seq 600); do grep -q '^trust config:' "$work/up.out" 2>/dev/null && break; sleep 0.1; done
grep -q '^trust config:' "$work/up.out" || { echo "soak: vouch up did not start" >&2; cat "$work/up.log" >&2; exit 1; }
url() { awk -v k="$1" 'index($0, k) { for (i = 1; i <= NF; i++) if ($i ~ /^http/) { print $i; exit } }' "$work/up.out"; }
log=$(url "transparency log"); ca=$(url "certificate auth."); oidc=$(url "OIDC provider")
tsa=$(url "timestamp auth."); tsa=${tsa%/api/v1/timestamp}; tuf=$(url "TUF repository"); ct=$(url "CT log")
token=$("$vouch" oidc token --url "$oidc" --email soak@example.com)
watched=$up_pid
if [[ " $services " == *" proxy "* ]]; then
  "$vouch" bench log --url "$log" --duration 30s --clients 256 --rate "${PROXY_FILL:-1000}" >"$work/fill.txt" 2>"$work/fill.err"
  pport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "$vouch" serve proxy --upstream "$log" --public-key "$work/data/log/public.pem" --data "$work/proxy" \
    --listen "127.0.0.1:$pport" >"$work/proxy.out" 2>"$work/proxy.log" &
  proxy_pid=$!
  proxy="http://127.0.0.1:$pport"
  for _ in $(seq 100); do curl -sf "$proxy/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
  watched=$proxy_pid
fi

# Hostile neighbours on every port for the whole run: idle and slow-loris connections (they are
# cut off by the bootstrap's timeouts, and reconnect).
python3 - "$secs" "$tuf" "$log" "$ca" "$oidc" "$tsa" "$ct" <<'PY' &
import socket, sys, time
end = time.time() + int(sys.argv[1])
addrs = [u.split("//")[1].split("/")[0].rsplit(":", 1) for u in sys.argv[2:]]
conns = []
while time.time() < end:
    conns = [c for c in conns if c[1] > time.time()]
    while len(conns) < 200 * len(addrs) // 6:
        h, p = addrs[len(conns) % len(addrs)]
        try:
            s = socket.create_connection((h, int(p)), timeout=1)
            if len(conns) % 2:
                s.send(b"GET /healthz HTTP/1.1\r\nX-Slow: ")
            conns.append((s, time.time() + 60))
        except OSError:
            break
    for s, _ in conns[1::2]:
        try: s.send(b"a")
        except OSError: pass
    time.sleep(1)
PY
noise=$!

# Resident memory of the instance, once a second.
( while kill -0 "$watched" 2>/dev/null; do awk '/^VmRSS/ {print $2}' "/proc/$watched/status"; sleep 1; done ) >"$work/rss" 2>/dev/null &
sampler=$!

pids=()
for s in $services; do
  case $s in
    log) "$vouch" bench log --url "$log" --duration "$duration" --rate "$log_rate" --clients "${LOG_CLIENTS:-16}" --entries $((log_rate * secs * 6 / 5 + 100)) >"$work/log.txt" 2>"$work/log.err" & ;;
    ca) "$vouch" bench ca --url "$ca" --identity-token "$token" --duration "$duration" --clients "$ca_clients" >"$work/ca.txt" 2>"$work/ca.err" & ;;
    tsa) "$vouch" bench tsa --url "$tsa" --duration "$duration" --clients "$tsa_clients" >"$work/tsa.txt" 2>"$work/tsa.err" & ;;
    proxy) "$vouch" bench proxy --url "$proxy" --duration "$duration" --clients "$proxy_clients" >"$work/proxy.txt" 2>"$work/proxy.err" & ;;
    *) echo "soak: unknown service $s (log, ca, tsa, proxy)" >&2; exit 2 ;;
  esac
  pids+=($!)
done
fail=0
for b in "${pids[@]}"; do wait "$b" || fail=1; done
kill "$sampler" 2>/dev/null || true
wait "$noise" 2>/dev/null || true

echo "== soak $duration ($services): log at ${log_rate}/s, CA ${ca_clients} clients, TSA ${tsa_clients} clients, proxy ${proxy_clients} clients, 200 hostile connections"
for s in $services; do
  echo "-- $s"; cat "$work/$s.txt"
  errs=$(grep -o 'errors=[0-9]*' "$work/$s.txt" | head -1 | cut -d= -f2 || true)
  [[ ${errs:-1} == 0 ]] || { echo "soak: $s had ${errs:-?} errors" >&2; tail -3 "$work/$s.err" >&2; fail=1; }
done
python3 - "$work/rss" <<'PY' || fail=1
import sys
rss = [int(x) for x in open(sys.argv[1]).read().split() if x.strip()]
if len(rss) < 6:
    sys.exit(f"soak: only {len(rss)} memory samples")
warm = rss[len(rss) // 3:]
lo, hi = min(warm), max(warm)
growth = (warm[-1] - warm[0]) / warm[0] * 100
print(f"rss_kib start={rss[0]} after_warmup={warm[0]} end={warm[-1]} min={lo} max={hi} growth_after_warmup={growth:+.1f}%")
if hi > warm[0] * 1.10:
    sys.exit(f"soak: resident memory grew more than 10% after warm-up ({warm[0]} -> {hi} KiB)")
PY
[[ $fail == 0 ]] && echo "== soak passed" || { echo "== soak FAILED" >&2; exit 1; }
