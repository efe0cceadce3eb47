#!/usr/bin/env bash
# TierKV GPU data path check. Two parts, because the GPU machine has no .NET:
#
#   1. Here (a machine with the .NET SDK):   scripts/gpu-check.sh build
#      Publishes the NativeAOT runner `tierkv-gpu` (src/TierKv.Cuda.Bench: the GPU checks of tests/TierKv.Cuda.Tests
#      and the benchmark of `tierkv bench gpu`, same code) into .gpu/bin/ (git-ignored, about 2 MiB).
#
#   2. On the GPU machine (x86-64 Linux, NVIDIA driver, CUDA toolkit; no .NET):   bash scripts/gpu-check.sh device
#      Finds libcuda.so.1 and the toolkit's libnvrtc, runs the GPU checks, then the benchmark (Llama-3-8B layout,
#      16k tokens, block size 16, then 32), and prints a short table. Logs and JSON go to $OUT (or .gpu/out).
#
# With this workplace's device tool, part 2 is one call whose working tree carries the build:
#      run  command="bash scripts/gpu-check.sh device"  carry=[".gpu"]  timeout_s=420
# Elsewhere, copy the repository (or just scripts/ and .gpu/bin/) to the GPU machine and run part 2 there.
set -uo pipefail
cd "$(dirname "$0")/.."

build() {
  set -e
  mkdir -p .gpu
  # NativeAOT links with gcc where clang is missing.
  local linker=()
  command -v clang >/dev/null || linker=(-p:CppCompilerAndLinker=gcc)
  dotnet publish src/TierKv.Cuda.Bench -c Release -r linux-x64 -o .gpu/bin "${linker[@]}" -v q -nologo
  rm -f .gpu/bin/*.dbg .gpu/bin/*.pdb .gpu/bin/*.xml
  ls -la .gpu/bin
  echo "built .gpu/bin/tierkv-gpu; on the GPU machine run: bash scripts/gpu-check.sh device (carry .gpu)"
}

find_nvrtc() {
  local f
  for f in /usr/local/cuda/targets/x86_64-linux/lib/libnvrtc.so* /usr/local/cuda*/targets/x86_64-linux/lib/libnvrtc.so* \
           /usr/local/cuda*/lib64/libnvrtc.so* /usr/lib/x86_64-linux-gnu/libnvrtc.so*; do
    case "$f" in *builtins*|*alt*) continue ;; esac
    [ -e "$f" ] && { echo "$f"; return 0; }
  done
  # Python wheels (nvidia-cuda-nvrtc) as a last resort.
  find / -xdev \( -path /proc -o -path /sys \) -prune -o -name 'libnvrtc.so*' ! -name '*builtins*' ! -name '*alt*' -print 2>/dev/null | sort -r | head -1
}

device() {
  local out="${OUT:-.gpu/out}"
  mkdir -p "$out"
  local bin=.gpu/bin/tierkv-gpu
  [ -x "$bin" ] || { echo "no $bin: run 'scripts/gpu-check.sh build' on a machine with .NET first and carry .gpu"; exit 1; }
  nvidia-smi --query-gpu=name,driver_version,memory.total,pcie.link.gen.current,pcie.link.width.current --format=csv,noheader 2>&1 | tee "$out/gpu.txt"
  local nvrtc; nvrtc=$(find_nvrtc)
  [ -n "$nvrtc" ] || { echo "no libnvrtc found on this machine (CUDA toolkit missing)"; exit 1; }
  export TIERKV_NVRTC="$nvrtc"
  export LD_LIBRARY_PATH="$(dirname "$nvrtc")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  if ! ldconfig -p 2>/dev/null | grep -q 'libcuda.so.1'; then
    local cuda; cuda=$(find / -xdev \( -path /proc -o -path /sys \) -prune -o -name libcuda.so.1 -print 2>/dev/null | head -1)
    [ -n "$cuda" ] && export TIERKV_LIBCUDA="$cuda"
  fi
  echo "nvrtc: $TIERKV_NVRTC; libcuda: ${TIERKV_LIBCUDA:-from ld.so.cache}"

  local rc=0
  echo "== GPU checks (tierkv-gpu selftest)"
  timeout 180 "$bin" selftest 2>&1 | tee "$out/selftest.log" || rc=1
  echo "== bench, block size 16"
  timeout 180 "$bin" bench --json 2> >(tee "$out/bench16.log" >&2) > "$out/bench16.json" || rc=1
  echo "== bench, block size 32"
  timeout 120 "$bin" bench --json --block-size 32 --reps 5 --no-naive 2> >(tee "$out/bench32.log" >&2) > "$out/bench32.json" || rc=1
  local sanitizer; sanitizer=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
  if [ -n "$sanitizer" ]; then
    echo "== GPU checks under compute-sanitizer memcheck (out-of-bounds and misaligned accesses in the kernels)"
    # API errors are not reported: one check provokes CUDA_ERROR_OUT_OF_MEMORY on purpose (an error must name its call).
    timeout 150 "$sanitizer" --tool memcheck --report-api-errors no --error-exitcode 9 "$bin" selftest > "$out/sanitizer.log" 2>&1; local src=$?
    grep -E "ERROR SUMMARY|passed, " "$out/sanitizer.log" | tail -2; echo "compute-sanitizer exit code $src"
    [ $src -eq 0 ] || rc=1
  fi
  python3 - "$out" <<'PY' || rc=1
import json, sys, os
out = sys.argv[1]
rows = []
for name in ("bench16.json", "bench32.json"):
    p = os.path.join(out, name)
    try:
        d = json.load(open(p))
    except Exception as e:
        print(f"{name}: no result ({e})"); continue
    print(f"{name}: {d['device']} sm_{d['compute_capability']} driver CUDA {d['driver_cuda']} NVRTC {d['nvrtc']} {d['kernel_arch']} ({d['kernel_image']}), "
          f"compile {d['compile_ms']} ms, module load {d['module_load_ms']} ms; {d['model']} {d['tokens']} tokens, block {d['block_size']}, {d['bytes']/2**20:.0f} MiB")
    print(f"  ceiling H2D {d['ceiling_h2d_gbs']} GB/s, D2H {d['ceiling_d2h_gbs']} GB/s; naive per-page load {d['naive_load_gbs']} GB/s")
    print(f"  {'variant':<14}{'load GB/s':>10}{'x ceil':>8}{'store GB/s':>11}{'x ceil':>8}{'1st layer ms':>13}{'layer p50 ms':>13}{'layers/copy':>12}")
    for v, r in d["variants"].items():
        print(f"  {v:<14}{r['load_gbs']:>10}{r['load_gbs']/d['ceiling_h2d_gbs']:>8.3f}{r['store_gbs']:>11}{r['store_gbs']/d['ceiling_d2h_gbs']:>8.3f}"
              f"{r['load_first_layer_ms']:>13}{r['load_layer_p50_ms']:>13}{r['layers_per_group']:>12}")
    ok = d["load_vs_ceiling"] >= 0.95 and d["store_vs_ceiling"] >= 0.95
    print(f"  load_gbs {d['load_gbs']} ({d['load_vs_ceiling']} x), store_gbs {d['store_gbs']} ({d['store_vs_ceiling']} x): target 0.95 x {'MET' if ok else 'MISSED'}")
PY
  echo "== summary: $(tail -1 "$out/selftest.log")"
  exit $rc
}

case "${1:-}" in
  build) build ;;
  device) device ;;
  *) echo "usage: scripts/gpu-check.sh build   (here, publishes .gpu/bin/tierkv-gpu)"; echo "       scripts/gpu-check.sh device  (on the GPU machine, carrying .gpu)"; exit 64 ;;
esac
