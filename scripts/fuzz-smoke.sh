#!/usr/bin/env bash
# A brief run of every cargo-fuzz target (issue 11: "CI runs each target briefly"): builds the
# targets in fuzz/ and runs each for SECONDS (default 10) on its seed corpus. Any crash, panic,
# timeout or out-of-memory fails the script and leaves the input in fuzz/artifacts/<target>/.
# The 10-minute runs are by hand; their results are in fuzz/README.md.
#
#   scripts/fuzz-smoke.sh [SECONDS]
#
# Needs cargo-fuzz (installed here if missing, into ~/.cargo/bin) and RUSTC_BOOTSTRAP=1 for the
# nightly flags on stable Rust. Built with `-s none`: the workspace has no `unsafe` code, so
# AddressSanitizer would instrument nothing of ours; libFuzzer still catches panics, integer
# overflows (debug assertions are on), timeouts and memory blow-ups.
# FUZZ_TARGET_DIR: where the fuzz build goes (default ~/.cache/vouch-fuzz-target, kept between runs).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../fuzz"
seconds=${1:-10}
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-$HOME/.cache/vouch-fuzz-target}"
if ! command -v cargo-fuzz >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked --version 0.13.2   # a failed install fails CI
fi
if [[ -d ../../shared/testdata || -n ${VOUCH_TESTDATA:-} ]]; then
  ./seed-corpus.sh >/dev/null
elif [[ ${VOUCH_REQUIRE_PEERS:-} == 1 ]]; then
  echo "fuzz-smoke: VOUCH_REQUIRE_PEERS=1 but the shared test data (seed corpora) is absent" >&2
  exit 1
else
  echo "SKIP fuzz seeds: ../../shared/testdata is absent; the targets start from empty corpora"
fi
echo "== cargo fuzz build -s none"
cargo fuzz build -s none
failed=()
for t in $(cargo fuzz list); do
  mkdir -p "corpus/$t"
  # -rss_limit_mb: well above any target's steady state; a leak or blow-up is a finding.
  if out=$(cargo fuzz run -s none "$t" "corpus/$t" -- -max_total_time="$seconds" \
        -rss_limit_mb=2048 -timeout=20 -print_final_stats=1 2>&1); then
    runs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' <<<"$out" | grep -Eo '[0-9]+$' || echo "?")
    echo "fuzz $t: ${seconds}s, $runs runs, no crash"
  else
    echo "fuzz $t: FAILED" >&2
    tail -40 <<<"$out" >&2
    failed+=("$t")
  fi
done
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "fuzz targets failed: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
  exit 1
fi
echo "== every fuzz target ran ${seconds}s with no crash"
