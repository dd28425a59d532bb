#!/usr/bin/env bash
# Soak the servers of one `vouch up` (issue 12, R5) under `vouch bench` at a fixed offered load
# for DURATION, while 100 idle and 100 slow-loris connections sit on every port; then require 0
# errors and resident memory flat within 10% after warm-up (the first third of the run): the
# median of the last quarter of the samples after warm-up within 10% of the first quarter's,
# and no sample more than 25% above it.
#
#   scripts/soak.sh [DURATION] [SERVICES]   # default 30s and "log ca tsa" (the CI version)
#   scripts/soak.sh 10m log                  # one server at a time, by hand, release build
#   scripts/soak.sh 10m proxy                # the proof cache in front of the instance's log
#
# SERVICES: log, ca, tsa, oidc (the IdP's token endpoint), tuf (a TUF client's refresh) of the
# instance; proxy, witness and admission run as their own processes next to it:
# - proxy: the log is first filled (PROXY_FILL entries/s for 30 s), then `vouch serve proxy`;
# - witness: `vouch serve witness` following WITNESS_CLIENTS benchmark logs, one per client
#   (`vouch bench witness --print-logs`);
# - admission: a docker-registry on loopback (REGISTRY_BIN, default docker-registry) holding
#   one image signed keyless through the instance, a ClusterImagePolicy for it, an openssl
#   test CA and serving certificate, and `vouch admission serve` with the instance's trust.
# Memory is sampled from each process under load: the instance (when a service of it is
# loaded) and each of proxy, witness and admission. SOAK_OUT=DIR keeps the bench outputs and
# the memory samples (one KiB figure per second per process, rss.NAME) there.
# VOUCH: the binary (default: target/debug/vouch, or $CARGO_TARGET_DIR/debug/vouch).
# Offered load: LOG_RATE / LOG_CLIENTS / CA_CLIENTS / TSA_CLIENTS / PROXY_CLIENTS / OIDC_CLIENTS /
# TUF_CLIENTS / WITNESS_CLIENTS / ADMISSION_CLIENTS (defaults suit a shared 2-core machine; by
# hand use ~80% of the capacity `vouch bench` measures on the machine).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
duration=${1:-30s}
vouch=${VOUCH:-${CARGO_TARGET_DIR:-target}/debug/vouch}
[[ -x $vouch ]] || { echo "soak: $vouch is not built (cargo build -p vouch)" >&2; exit 1; }
log_rate=${LOG_RATE:-50}
ca_clients=${CA_CLIENTS:-2}
tsa_clients=${TSA_CLIENTS:-2}
proxy_clients=${PROXY_CLIENTS:-2}
oidc_clients=${OIDC_CLIENTS:-2}
tuf_clients=${TUF_CLIENTS:-2}
witness_clients=${WITNESS_CLIENTS:-2}
admission_clients=${ADMISSION_CLIENTS:-2}
services=${2:-log ca tsa}
secs=$(python3 -c "import sys; s=sys.argv[1]; print(int(float(s[:-1])*60) if s.endswith('m') else int(float(s.rstrip('s'))))" "$duration")
has() { [[ " $services " == *" $1 "* ]]; }
for s in $services; do
  case $s in
    log | ca | tsa | oidc | tuf | proxy | witness | admission) ;;
    *) echo "soak: unknown service $s (log, ca, tsa, oidc, tuf, proxy, witness, admission)" >&2; exit 2 ;;
  esac
done

work=$(mktemp -d)
up_pid=""
side_pids=()
cleanup() {
  for p in "${side_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [[ -n $up_pid ]] && kill "$up_pid" 2>/dev/null
  wait 2>/dev/null
  if [[ -n ${SOAK_OUT:-} ]]; then mkdir -p "$SOAK_OUT" && cp "$work"/*.txt "$work"/*.err "$work"/*.log "$work"/rss.* "$SOAK_OUT/" 2>/dev/null; fi
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# Wait (60 s at most) until FILE has a line starting with PREFIX; print the rest of that line.
wait_line() {
  for _ in $(seq 600); do
    grep -q "^$2" "$1" 2>/dev/null && break
    sleep 0.1
  done
  sed -n "s|^$2||p" "$1" | head -1
}

# Tokens outlive the run (the CA bench sends one token for the whole run).
"$vouch" up --data "$work/data" --port 0 --oidc-token-lifetime "$((secs + 600))s" >"$work/up.out" 2>"$work/up.log" &
up_pid=$!
for _ in $(seq 600); do grep -q '^trust config:' "$work/up.out" 2>/dev/null && break; sleep 0.1; done
grep -q '^trust config:' "$work/up.out" || { echo "soak: vouch up did not start" >&2; cat "$work/up.log" >&2; exit 1; }
url() { awk -v k="$1" 'index($0, k) { for (i = 1; i <= NF; i++) if ($i ~ /^http/) { print $i; exit } }' "$work/up.out"; }
log=$(url "transparency log"); ca=$(url "certificate auth."); oidc=$(url "OIDC provider")
tsa=$(url "timestamp auth."); tsa=${tsa%/api/v1/timestamp}; tuf=$(url "TUF repository"); ct=$(url "CT log")
tc="$work/data/trust_config.json"
token=$("$vouch" oidc token --url "$oidc" --email soak@example.com)
# Processes whose resident memory is sampled, as NAME:PID.
watched=()
for s in log ca tsa oidc tuf; do has "$s" && { watched+=("instance:$up_pid"); break; }; done
extra_urls=()
if has proxy; then
  "$vouch" bench log --url "$log" --duration 30s --clients 256 --rate "${PROXY_FILL:-1000}" >"$work/fill.txt" 2>"$work/fill.err"
  pport=$(free_port)
  "$vouch" serve proxy --upstream "$log" --public-key "$work/data/log/public.pem" --data "$work/proxy" \
    --listen "127.0.0.1:$pport" >"$work/proxy.out" 2>"$work/proxy.log" &
  side_pids+=($!)
  watched+=("proxy:$!")
  proxy="http://127.0.0.1:$pport"
  for _ in $(seq 100); do curl -sf "$proxy/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
  extra_urls+=("$proxy")
fi
if has witness; then
  # The witness follows one benchmark log per client (their key is made here).
  "$vouch" bench witness --log-key "$work/witness-logs.pk8" --clients "$witness_clients" --print-logs >"$work/witness-logs" 2>"$work/witness-logs.err"
  wargs=()
  while IFS= read -r l; do wargs+=(--log "$l"); done <"$work/witness-logs"
  "$vouch" serve witness --data "$work/witness" --listen 127.0.0.1:0 "${wargs[@]}" >"$work/witness.out" 2>"$work/witness.log" &
  side_pids+=($!)
  watched+=("witness:$!")
  witness=$(wait_line "$work/witness.out" "vouch witness listening on ")
  [[ -n $witness ]] || { echo "soak: vouch serve witness did not start" >&2; cat "$work/witness.log" >&2; exit 1; }
  extra_urls+=("$witness")
fi
if has admission; then
  # A registry on loopback with one image signed keyless through the instance.
  registry_bin=${REGISTRY_BIN:-docker-registry}
  command -v "$registry_bin" >/dev/null || { echo "soak: admission needs $registry_bin (apt-get install docker-registry)" >&2; exit 1; }
  reg="127.0.0.1:$(free_port)"
  mkdir -p "$work/registry"
  printf 'version: 0.1\nlog: {level: warn}\nstorage: {filesystem: {rootdirectory: %s}}\nhttp: {addr: %s}\n' "$work/registry" "$reg" >"$work/registry.yml"
  "$registry_bin" serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
  side_pids+=($!)
  for _ in $(seq 200); do curl -sf "http://$reg/v2/" >/dev/null 2>&1 && break; sleep 0.1; done
  digest=$(python3 - "$reg" <<'PY'
# Push a one-layer OCI image (distribution's blob upload: POST, then PUT ?digest=).
import hashlib, json, sys, urllib.parse, urllib.request
reg = sys.argv[1]
base = f"http://{reg}/v2/soak/app"
def blob(data):
    d = "sha256:" + hashlib.sha256(data).hexdigest()
    r = urllib.request.urlopen(urllib.request.Request(base + "/blobs/uploads/", method="POST"))
    loc = urllib.parse.urljoin(f"http://{reg}", r.headers["Location"])
    loc += ("&" if "?" in loc else "?") + "digest=" + urllib.parse.quote(d)
    urllib.request.urlopen(urllib.request.Request(loc, data=data, method="PUT",
        headers={"Content-Type": "application/octet-stream"}))
    return d
layer = b"vouch soak image"
ld = blob(layer)
config = json.dumps({"architecture": "amd64", "os": "linux",
                     "rootfs": {"type": "layers", "diff_ids": [ld]}}).encode()
cd = blob(config)
mt = "application/vnd.oci.image.manifest.v1+json"
manifest = json.dumps({"schemaVersion": 2, "mediaType": mt,
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": len(config)},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": ld, "size": len(layer)}]}).encode()
r = urllib.request.urlopen(urllib.request.Request(base + "/manifests/v1", data=manifest, method="PUT",
    headers={"Content-Type": mt}))
print(r.headers["Docker-Content-Digest"])
PY
  )
  image="$reg/soak/app@$digest"
  "$vouch" sign "$image" -y --identity-token "$token" --trust-config "$tc" >"$work/sign.out" 2>&1 \
    || { echo "soak: signing $image failed" >&2; cat "$work/sign.out" >&2; exit 1; }
  mkdir -p "$work/policy" "$work/tls"
  printf '%s\n' "apiVersion: policy.sigstore.dev/v1beta1" "kind: ClusterImagePolicy" "metadata:" "  name: soak" \
    "spec:" "  images:" "  - glob: \"$reg/soak/*\"" "  authorities:" "  - name: soak-keyless" "    keyless:" \
    "      url: https://ca.invalid" "      identities:" "      - issuer: $oidc" "        subject: soak@example.com" \
    >"$work/policy/soak.yaml"
  # A test CA and a serving certificate for the webhook's Service name.
  svc=vouch-admission.vouch-system.svc
  (
    cd "$work/tls" || exit 1
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.crt -days 2 \
      -subj "/CN=vouch soak CA" -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" &&
      openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout tls.key -out tls.csr -subj "/CN=$svc" &&
      printf 'subjectAltName=DNS:%s\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n' "$svc" >ext.cnf &&
      openssl x509 -req -in tls.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out tls.crt -days 2 -extfile ext.cnf
  ) >"$work/tls.log" 2>&1 || { echo "soak: openssl failed" >&2; cat "$work/tls.log" >&2; exit 1; }
  "$vouch" admission serve --policy "$work/policy" --tls-cert "$work/tls/tls.crt" --tls-key "$work/tls/tls.key" \
    --listen 127.0.0.1:0 --trust-config "$tc" >"$work/admission.out" 2>"$work/admission.log" &
  side_pids+=($!)
  watched+=("admission:$!")
  admission=$(wait_line "$work/admission.out" "vouch admission listening on ")
  [[ -n $admission ]] || { echo "soak: vouch admission serve did not start" >&2; cat "$work/admission.log" >&2; exit 1; }
  extra_urls+=("$admission")
fi

# Hostile neighbours on every port for the whole run: idle and slow-loris connections (they are
# cut off by the bootstrap's timeouts, and reconnect).
python3 - "$secs" "$tuf" "$log" "$ca" "$oidc" "$tsa" "$ct" "${extra_urls[@]}" <<'PY' &
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

# Resident memory of each process under load, once a second.
samplers=()
for w in "${watched[@]}"; do
  name=${w%%:*} pid=${w#*:}
  ( while kill -0 "$pid" 2>/dev/null; do awk '/^VmRSS/ {print $2}' "/proc/$pid/status"; sleep 1; done ) >"$work/rss.$name" 2>/dev/null &
  samplers+=($!)
done

pids=()
for s in $services; do
  case $s in
    log) "$vouch" bench log --url "$log" --duration "$duration" --rate "$log_rate" --clients "${LOG_CLIENTS:-16}" --entries $((log_rate * secs * 6 / 5 + 100)) >"$work/log.txt" 2>"$work/log.err" & ;;
    ca) "$vouch" bench ca --url "$ca" --identity-token "$token" --duration "$duration" --clients "$ca_clients" >"$work/ca.txt" 2>"$work/ca.err" & ;;
    tsa) "$vouch" bench tsa --url "$tsa" --duration "$duration" --clients "$tsa_clients" >"$work/tsa.txt" 2>"$work/tsa.err" & ;;
    proxy) "$vouch" bench proxy --url "$proxy" --duration "$duration" --clients "$proxy_clients" >"$work/proxy.txt" 2>"$work/proxy.err" & ;;
    oidc) "$vouch" bench oidc --url "$oidc" --email soak@example.com --duration "$duration" --clients "$oidc_clients" >"$work/oidc.txt" 2>"$work/oidc.err" & ;;
    tuf) "$vouch" bench tuf --url "$tuf" --root "$work/data/root.json" --duration "$duration" --clients "$tuf_clients" >"$work/tuf.txt" 2>"$work/tuf.err" & ;;
    witness) "$vouch" bench witness --url "$witness" --log-key "$work/witness-logs.pk8" --duration "$duration" --clients "$witness_clients" >"$work/witness.txt" 2>"$work/witness.err" & ;;
    admission) "$vouch" bench admission --url "$admission" --ca-bundle "$work/tls/ca.crt" --server-name "$svc" --image "$image" --duration "$duration" --clients "$admission_clients" >"$work/admission.txt" 2>"$work/admission.err" & ;;
  esac
  pids+=($!)
done
fail=0
for b in "${pids[@]}"; do wait "$b" || fail=1; done
for p in "${samplers[@]}"; do kill "$p" 2>/dev/null || true; done
wait "$noise" 2>/dev/null || true

load=""
for s in $services; do
  case $s in
    log) load+=" log at ${log_rate}/s," ;;
    ca) load+=" CA ${ca_clients} clients," ;;
    tsa) load+=" TSA ${tsa_clients} clients," ;;
    proxy) load+=" proxy ${proxy_clients} clients," ;;
    oidc) load+=" OIDC ${oidc_clients} clients," ;;
    tuf) load+=" TUF ${tuf_clients} clients," ;;
    witness) load+=" witness ${witness_clients} clients (one log each)," ;;
    admission) load+=" admission ${admission_clients} clients," ;;
  esac
done
echo "== soak $duration ($services):$load 200 hostile connections"
for s in $services; do
  echo "-- $s"; cat "$work/$s.txt"
  errs=$(grep -o 'errors=[0-9]*' "$work/$s.txt" | head -1 | cut -d= -f2 || true)
  [[ ${errs:-1} == 0 ]] || { echo "soak: $s had ${errs:-?} errors" >&2; tail -3 "$work/$s.err" >&2; fail=1; }
done
for w in "${watched[@]}"; do
  name=${w%%:*}
  python3 - "$work/rss.$name" "$name" <<'PY' || fail=1
import sys
rss = [int(x) for x in open(sys.argv[1]).read().split() if x.strip()]
name = sys.argv[2]
if len(rss) < 6:
    sys.exit(f"soak: only {len(rss)} memory samples of the {name}")
warm = rss[len(rss) // 3:]
lo, hi = min(warm), max(warm)
# Growth is a trend, not a peak: the allocator (mimalloc) returns freed pages to the system
# in bursts, so single samples swing by ±10% on a flat process. Compare the median of the
# first and last quarters after warm-up; a peak more than 25% above the start also fails.
q = max(1, len(warm) // 4)
med = lambda xs: sorted(xs)[len(xs) // 2]
first, last = med(warm[:q]), med(warm[-q:])
growth = (last - first) / first * 100
print(f"rss_kib[{name}] start={rss[0]} after_warmup={warm[0]} end={warm[-1]} min={lo} max={hi} "
      f"median_first_quarter={first} median_last_quarter={last} growth_after_warmup={growth:+.1f}%")
if last > first * 1.10:
    sys.exit(f"soak: resident memory of the {name} grew more than 10% after warm-up (median {first} -> {last} KiB)")
if hi > first * 1.25:
    sys.exit(f"soak: resident memory of the {name} peaked more than 25% above its level after warm-up ({first} -> {hi} KiB)")
PY
done
[[ $fail == 0 ]] && echo "== soak passed" || { echo "== soak FAILED" >&2; exit 1; }
