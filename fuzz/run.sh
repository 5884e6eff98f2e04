#!/usr/bin/env bash
# Runs every fuzz target for a while: fuzz/run.sh [seconds-per-target] (default 60).
#
# Needs cargo-fuzz (`cargo install cargo-fuzz --locked`) and a nightly toolchain
# (FUZZ_TOOLCHAIN, default `nightly`). Each target starts from its seeds
# (fuzz/seeds/<target>, committed) and the corpus of earlier runs
# (fuzz/corpus/<target>, not committed); a crash is saved under
# fuzz/artifacts/<target>/ and makes the script fail. Per input: a 10 s timeout and
# a 2 GiB memory limit.
set -euo pipefail
cd "$(dirname "$0")"

seconds=${1:-60}
toolchain=${FUZZ_TOOLCHAIN:-nightly}
fuzz=(cargo "+$toolchain" fuzz)
# Debug assertions on: an arithmetic overflow is a crash too.
build_flags=(--debug-assertions)

"${fuzz[@]}" build "${build_flags[@]}"

failed=()
summary=()
for target in $("${fuzz[@]}" list); do
  mkdir -p "corpus/$target"
  log=$(mktemp)
  started=$(date +%s)
  status=0
  "${fuzz[@]}" run "${build_flags[@]}" "$target" "corpus/$target" "seeds/$target" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    >"$log" 2>&1 || status=$?
  elapsed=$(($(date +%s) - started))
  runs=$(awk '/stat::number_of_executed_units/ {print $2}' "$log" | tail -1)
  runs=${runs:-0}
  rate=$((runs / (elapsed > 0 ? elapsed : 1)))
  line=$(printf '%-14s %12s inputs in %5s s  %7s exec/s' "$target" "$runs" "$elapsed" "$rate")
  if [ "$status" -ne 0 ]; then
    tail -n 60 "$log" >&2
    line="$line  FAILED (exit $status; see fuzz/artifacts/$target/)"
    failed+=("$target")
  fi
  echo "$line"
  summary+=("$line")
  rm -f "$log"
done

echo
printf '%s\n' "${summary[@]}"
if [ "${#failed[@]}" -ne 0 ]; then
  echo "fuzzing failed: ${failed[*]}" >&2
  exit 1
fi
