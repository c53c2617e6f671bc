#!/usr/bin/env bash
# Fuzzes manifest parsing + planning (`manifest`), template substitution (`template`) and
# shard reports parsed and folded as `merge` does (`merge`) with
# cargo-fuzz (libFuzzer), each for SECONDS (default 60). Needs cargo-fuzz
# (`cargo install cargo-fuzz`); unstable flags come from RUSTC_BOOTSTRAP=1 on stable.
# Skips (exit 0, with a message) when cargo-fuzz is missing or cannot build; exits 1 on a crash,
# whose input is left in fuzz/artifacts/TARGET/ (keep it as a regression test).
#
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]
set -uo pipefail
cd "$(dirname "$0")/../fuzz"
secs=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(manifest template merge)
skip() { echo "fuzz: skipped: $*"; exit 0; }

command -v cargo-fuzz >/dev/null || skip "cargo-fuzz is not installed (cargo install cargo-fuzz)"
export RUSTC_BOOTSTRAP=1
echo "== fuzz: building ${targets[*]}"
for t in "${targets[@]}"; do
    out=$(cargo fuzz build -O "$t" 2>&1)
    code=$?
    grep -E "^(error|warning)" -A 10 <<<"$out" | head -n 40
    if [ "$code" -ne 0 ]; then
        # A compile error in the target (rustc's error[E…]) is ours, and fails: the target must
        # keep up with the library. Anything else is the toolchain's, and skips.
        grep -q "^error\[E" <<<"$out" && { echo "fuzz: target $t does not compile (see above)"; exit 1; }
        skip "fuzz target $t does not build with this toolchain (see above)"
    fi
done

failed=0
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t" "artifacts/$t"
    echo "== fuzz: $t for ${secs}s"
    log=$(mktemp)
    cargo fuzz run -O "$t" "corpus/$t" "seeds/$t" -- -max_total_time="$secs" -print_final_stats=1 >"$log" 2>&1
    code=$?
    grep -E "^(Done|stat::number_of_executed_units|==[0-9]+== ERROR|thread .* panicked|SUMMARY)" "$log"
    if [ "$code" -ne 0 ]; then
        echo "fuzz: $t found a crash (exit $code); input in fuzz/artifacts/$t/:"
        ls "artifacts/$t"
        tail -n 40 "$log"
        failed=1
    fi
    rm -f "$log"
done
exit "$failed"
