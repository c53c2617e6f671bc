#!/usr/bin/env bash
# ThreadSanitizer run of the whole test suite, with an instrumented std (-Zbuild-std), which
# is what makes it conclusive: without it every report comes from std or crossbeam internals.
#
# No nightly toolchain is needed: RUSTC_BOOTSTRAP=1 unlocks -Z flags on stable, and the stable
# toolchain ships the TSan runtime; -Zbuild-std needs the rust-src component (installed here if
# missing). If the toolchain cannot do it, the script says why and exits 0 (skipped).
#
# Races are reported into $TSAN_DIR (one file per process: the test binary and every batchrun
# it runs), not on stderr, so tests that check batchrun's exact stderr still pass. Any report
# fails the script (exit 1).
#
# Signal-delivery tests are skipped: TSan defers signal handlers, which changes what they test.
# Jobs start from batchrun itself here (`--cfg batchrun_tsan`: TSan's runtime cannot follow a
# `clone` that shares memory), so the three tests of the spawner processes are skipped.
# The peak-RSS test is skipped too (TSan's shadow memory is most of a process's RSS), and so
# is the `ulimit -v` test (TSan reserves terabytes of address space for its shadow).
#
# Usage: scripts/tsan.sh [TIMEOUT]   (default 45m; a run that does not fit is "skipped")
set -uo pipefail
cd "$(dirname "$0")/.."
limit=${1:-45m}
target=x86_64-unknown-linux-gnu
skip() { echo "tsan: skipped: $*"; exit 0; }

[ "$(uname -m)" = x86_64 ] || skip "TSan runs here only on $target"
if ! rustup component list --installed 2>/dev/null | grep -q '^rust-src'; then
    rustup component add rust-src >/dev/null 2>&1 || skip "the rust-src component cannot be installed (needed by -Zbuild-std)"
fi
sysroot=$(rustc --print sysroot)
ls "$sysroot/lib/rustlib/$target/lib/"*rt.tsan.a >/dev/null 2>&1 || skip "this toolchain has no TSan runtime"

export TSAN_DIR=${TSAN_DIR:-$PWD/target/tsan-reports}
rm -rf "$TSAN_DIR" && mkdir -p "$TSAN_DIR"
export RUSTC_BOOTSTRAP=1
export RUSTFLAGS="-Zsanitizer=thread -Cforce-frame-pointers=yes --cfg batchrun_tsan"
export RUSTDOCFLAGS="-Zsanitizer=thread"
export CARGO_TARGET_DIR=target/tsan
export TSAN_OPTIONS="log_path=$TSAN_DIR/tsan second_deadlock_stack=1 history_size=4"

echo "== tsan: building std and the tests with -Zsanitizer=thread (time box $limit)"
timeout "$limit" cargo test -Zbuild-std --target "$target" --locked --no-run -q
code=$?
[ "$code" -eq 124 ] && skip "the instrumented build did not fit in $limit"
[ "$code" -ne 0 ] && { echo "tsan: the instrumented build failed (exit $code)"; exit 1; }

# A canary with a known race proves that TSan instruments and that reports reach $TSAN_DIR, so
# "clean" below means something.
canary=$(mktemp -d)
mkdir -p "$canary/src"
printf '[package]\nname = "tsan-canary"\nversion = "0.0.0"\nedition = "2021"\n[workspace]\n' >"$canary/Cargo.toml"
cat >"$canary/src/main.rs" <<'RS'
static mut X: u64 = 0;
fn main() {
    let t = std::thread::spawn(|| unsafe { X += 1 });
    unsafe { X += 1 };
    t.join().unwrap();
}
RS
echo "== tsan: canary (a known race must be reported)"
CARGO_TARGET_DIR=$PWD/$CARGO_TARGET_DIR timeout "$limit" cargo run -q -Zbuild-std --target "$target" \
    --manifest-path "$canary/Cargo.toml" >/dev/null 2>&1
if ! grep -qs "data race" "$TSAN_DIR"/tsan.*; then
    rm -rf "$canary"
    echo "tsan: the canary's race was not reported: TSan does not work here"
    exit 1
fi
rm -rf "$canary" "$TSAN_DIR"/tsan.*

echo "== tsan: running the tests"
# report_has_each_jobs_command_memory_and_cpu: under TSan, batchrun's own (shadow-inflated) peak
# is what the kernel reports for a job started by posix_spawn (README, For operators).
# hundred_thousand_rows_*: 100,000-row manifests take longer than their tests' 60 s under TSan's
# slowdown; the same parallel row checks run in every other test, on smaller manifests.
timeout "$limit" cargo test -Zbuild-std --target "$target" --locked -- \
    --skip first_sig --skip second_sig --skip ctrl_c --skip interrupt --skip signal_meets \
    --skip blocked_stdout --skip sigusr1 --skip frees_its_slot_once \
    --skip tagged_output_memory_stays_flat --skip hundred_thousand_rows \
    --skip stop_signal --skip status_request --skip the_documented_way_to_stop \
    --skip address_space_limit --skip a_signal_stop --skip report_has_each_jobs_command_memory \
    --skip a_jobs_peak_memory_is_its_own --skip when_the_spawner_processes_die \
    --skip spawners_are_made_only_when --skip a_run_under_nohup
code=$?
[ "$code" -eq 124 ] && skip "the instrumented tests did not fit in $limit"

reports=$(find "$TSAN_DIR" -type f | wc -l)
if [ "$reports" -gt 0 ]; then
    echo "tsan: $reports process(es) reported data races; first report:"
    head -n 60 "$(find "$TSAN_DIR" -type f | head -n 1)"
    exit 1
fi
if [ "$code" -ne 0 ]; then
    # TSan slows every process several times over; a test that fails on timing without any
    # race report is not a race. It is said loudly, but only a race fails this script.
    echo "tsan: warning: tests failed under TSan (exit $code; see above), with no race reported"
    echo "tsan: no data race reported"
    exit 0
fi
echo "tsan: clean (no data race reported)"
