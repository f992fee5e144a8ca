#!/usr/bin/env bash
# The wgpu check (docs/gpu.md), from any folder:
#
#   scripts/gpu_check.sh                 the full demo on the best wgpu adapter (a GPU)
#   scripts/gpu_check.sh --limit 10      the demo on 10 samples per dataset (a software adapter)
#   GPU_CHECK_DEVICE=wgpu-cpu scripts/gpu_check.sh --limit 10    the CPU adapter only
#
# 1. checks that a Vulkan loader and driver are there (installs nothing; says what to install);
# 2. builds faithbench with `--features wgpu`;
# 3. runs the explainer and model parity tests on the wgpu device (FAITHBENCH_TEST_DEVICE) and
#    the CPU-vs-wgpu comparison of every explainer on the shipped demo models;
# 4. runs configs/demo.toml on the wgpu device and `faithbench check`s it: the full demo against
#    the committed results/demo/summary.csv; a `--limit N` run against the same limited run on
#    the CPU (a limited run's scores are not the full baseline's);
# 5. prints the time and outcome of every stage (a failed test stage does not stop the others).
#
# Not part of .ci/run (CI has no GPU). Cargo runs under `nice -n 19`; set GPU_CHECK_NICE=0 on a
# machine of your own. Exit status: 0 all passed, 1 a stage failed, 2 Vulkan missing / bad usage.
set -euo pipefail
cd "$(dirname "$0")/.."

device="${GPU_CHECK_DEVICE:-wgpu}"
limit=""
while [ $# -gt 0 ]; do
  case "$1" in
    --limit) limit="${2:?--limit needs a number}"; shift 2 ;;
    --limit=*) limit="${1#--limit=}"; shift ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "gpu_check: unknown argument \`$1\` (--limit N)" >&2; exit 2 ;;
  esac
done
case "$device" in
  wgpu|wgpu-cpu) ;;
  *) echo "gpu_check: GPU_CHECK_DEVICE=$device: use wgpu or wgpu-cpu" >&2; exit 2 ;;
esac
if [ -n "$limit" ] && ! [[ "$limit" =~ ^[1-9][0-9]*$ ]]; then
  echo "gpu_check: --limit $limit: a positive number" >&2; exit 2
fi

nice_cmd=(nice -n "${GPU_CHECK_NICE:-19}")
export CARGO_TERM_COLOR=never
timings=()
failed=()
stage() { # stage NAME COMMAND...: runs and times one stage; a failed test stage is recorded and
  # the script goes on (so one failing test does not hide the others and the demo); a failed
  # build stops it (stage_required)
  local name="$1"; shift
  echo "gpu_check: == $name"
  local t0; t0=$(date +%s)
  local status=ok
  if ! "$@"; then
    status=FAILED
    failed+=("$name")
    echo "gpu_check: FAILED: $name (after $(( $(date +%s) - t0 )) s)" >&2
  fi
  timings+=("$(printf '%-44s %6d s  %s' "$name" $(( $(date +%s) - t0 )) "$status")")
}
stage_required() { # like stage, but stops the script when it fails
  stage "$@"
  if [ ${#failed[@]} -gt 0 ]; then print_timings; exit 1; fi
}
print_timings() {
  echo "gpu_check: timings"
  for t in "${timings[@]}"; do echo "  $t"; done
}

# --- 1. Vulkan ---------------------------------------------------------------------------------
missing=()
if ! ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1'; then
  missing+=("the Vulkan loader (libvulkan.so.1)")
fi
icds=$(ls /usr/share/vulkan/icd.d/*.json /etc/vulkan/icd.d/*.json /usr/local/share/vulkan/icd.d/*.json 2>/dev/null || true)
if [ -z "$icds" ] && [ -z "${VK_ICD_FILENAMES:-}${VK_DRIVER_FILES:-}" ]; then
  missing+=("a Vulkan driver (an ICD file in /usr/share/vulkan/icd.d)")
fi
if [ ${#missing[@]} -gt 0 ]; then
  {
    echo "gpu_check: Vulkan is missing: ${missing[*]}."
    echo "  NVIDIA GPU: the NVIDIA driver ships its Vulkan ICD (nvidia_icd.json); install the"
    echo "    driver's Vulkan part (Debian/Ubuntu: libnvidia-gl-<version>, plus libvulkan1)."
    echo "  AMD / Intel GPU, or no GPU (Mesa's software driver lavapipe):"
    echo "    apt-get install mesa-vulkan-drivers libvulkan1 vulkan-tools"
    echo "  then check with \`vulkaninfo --summary\`."
  } >&2
  exit 2
fi
if command -v vulkaninfo >/dev/null; then
  echo "gpu_check: Vulkan adapters (vulkaninfo --summary):"
  vulkaninfo --summary 2>/dev/null | grep -E 'deviceType|deviceName|driverInfo' | sed 's/^/  /' || true
fi
echo "gpu_check: device $device${limit:+, demo limited to $limit samples per dataset}"

# --- 2. build ------------------------------------------------------------------------------------
# One cargo invocation (packages and features) for the binary and every test below: cargo
# rebuilds the whole burn/cubecl stack for each other feature set (dev-dependencies change
# features of shared crates), which takes 35-70 min on 2 cores.
target="${CARGO_TARGET_DIR:-target}"
pkgs=(-p faithbench-cli -p faithbench-explain -p faithbench-models)
features=faithbench-cli/wgpu,faithbench-explain/wgpu
stage_required "build (release, --features wgpu; binary and tests)" \
  "${nice_cmd[@]}" cargo test --release --no-run "${pkgs[@]}" --features "$features"
bin="$target/release/faithbench"

# --- 3. tests on the wgpu device ----------------------------------------------------------------
wgpu_test() { # wgpu_test [--nocapture] TEST...: the named test targets on $device, one at a time
  local tests=() args=(--test-threads=1)
  for t in "$@"; do
    if [ "$t" = --nocapture ]; then args+=(--nocapture); else tests+=(--test "$t"); fi
  done
  env FAITHBENCH_TEST_DEVICE="$device" "${nice_cmd[@]}" cargo test --release "${pkgs[@]}" \
    --features "$features" "${tests[@]}" -- "${args[@]}"
}
# --nocapture: the comparison prints max |flex − wgpu| of every model and method.
stage "CPU-vs-wgpu comparison (every explainer)" wgpu_test --nocapture wgpu_vs_cpu
stage "explainer + model parity tests on $device" wgpu_test parity clip_parity invariants
stage "backward ops on $device against f64 (GELU, softmax, A·V, LayerNorm)" wgpu_test --nocapture wgpu_backward

# --- 4. the demo ---------------------------------------------------------------------------------
out=$(mktemp -d)
echo "gpu_check: run folders under $out"
limit_args=()
[ -n "$limit" ] && limit_args=(--limit "$limit")
stage "demo on $device${limit:+ (--limit $limit)}" \
  "${nice_cmd[@]}" "$bin" run configs/demo.toml --out "$out/demo-$device" --device "$device" "${limit_args[@]}"
if [ -n "$limit" ]; then
  baseline="$out/demo-cpu/summary.csv"
  stage "demo on cpu (--limit $limit), the baseline" \
    "${nice_cmd[@]}" "$bin" run configs/demo.toml --out "$out/demo-cpu" --device cpu --quiet "${limit_args[@]}"
else
  baseline=results/demo/summary.csv
fi
check_demo() { # faithbench check; the report goes to $out/check.md, its verdict line here
  local rc=0
  "$bin" check --baseline "$baseline" "$out/demo-$device/summary.csv" > "$out/check.md" || rc=$?
  grep -m1 -E '^\*\*(PASS|FAIL)' "$out/check.md" || true
  echo "gpu_check: check report: $out/check.md"
  return $rc
}
stage "faithbench check against $baseline" check_demo

print_timings
if [ ${#failed[@]} -gt 0 ]; then
  echo "gpu_check: ${#failed[@]} stage(s) failed: ${failed[*]}" >&2
  exit 1
fi
echo "gpu_check: all stages passed"
