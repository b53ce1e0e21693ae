#!/usr/bin/env bash
# Everything the lent GPU machine does for the benchmarks, in one command.
#
# Usage, from the repository root (the device tool runs commands there):
#
#   benchmarks/device_run.sh OUT DATA [TOTAL_SECONDS]
#
#   OUT             folder for the results (the device tool's $OUT)
#   DATA            mnist_10k.npz or another .npz with the keys of Keras's
#                   mnist.npz, copied into the checkout (../shared does not
#                   travel)
#   TOTAL_SECONDS   wall-clock limit of the whole script (default 560, under
#                   the device tool's 600 s per command); the full preset
#                   gets what the earlier steps left, and it writes its
#                   table after every round, so a run stopped at the limit
#                   keeps every round it finished
#
# The GPU machine has JAX but neither TensorFlow nor a network. Wheels it
# lacks (keras, namex, optree) travel in .whl/ (ignored by git; see the
# README, "Benchmarks on a lent GPU"); they are installed only where Keras
# is missing. Steps, each logged to OUT/device.log:
#
# 1. install the wheels, run under KERAS_BACKEND=jax, check there is a GPU;
# 2. time one round's fit for K = 8 runs, each strategy of the lockstep
#    engine against 8 model.fit calls (benchmarks/engine.py -> engine.json);
# 3. the MC sampler grid (benchmarks/sampler.py -> sampler.json);
# 4. memory as K grows (benchmarks/lockstep_memory.py -> memory.json);
# 5. the full preset of benchmarks/gal2017.py on DATA with the strategy
#    whose first call (compilation included, as every round pays it) was
#    fastest in step 2 (-> OUT/full-.../table.md, results.json, curves.png).
#
# For a dry run on a CPU, override the sizes (ALLOW_CPU=1 lets it go on
# without a GPU):
#   ALLOW_CPU=1 ENGINE_ARGS="--runs 2 --labels 5 --epochs 1 --batch-size 4
#   --repeats 1" SAMPLER_ARGS="--sizes 40 --samples 2 --chunk-size 16"
#   MEMORY_ARGS="--runs 1 2 --pool 200 --epochs 1" GAL_ARGS="--preset smoke"
#   benchmarks/device_run.sh /tmp/out none 60
set -uo pipefail

usage="usage: benchmarks/device_run.sh OUT DATA [TOTAL_SECONDS]"
out=${1:?${usage}}
data=${2:?${usage}}
total=${3:-560}
engine_args=${ENGINE_ARGS:-"--runs 8 --labels 20 200 --repeats 2"}
sampler_args=${SAMPLER_ARGS:-"--chunk-size 2048"}
memory_args=${MEMORY_ARGS:-"--runs 1 24 --mc-samples 100"}
gal_args=${GAL_ARGS:-"--preset full --data ${data}"}
mkdir -p "${out}"
log="${out}/device.log"
python=${PYTHON:-python3}

step() { echo "== $(date -u +%H:%M:%S) $*" | tee -a "${log}"; }
export KERAS_BACKEND=jax PYTHONUNBUFFERED=1

if ! "${python}" -c "import keras, optree" 2>/dev/null \
    && compgen -G ".whl/*.whl" >/dev/null; then
  step "installing $(ls .whl | tr '\n' ' ')"
  "${python}" -m pip install -q --no-index --no-deps --no-compile \
    --no-cache-dir --upgrade --target /tmp/keras_dbal_site .whl/*.whl \
    >>"${log}" 2>&1 || { echo "wheel install failed; see ${log}" >&2; exit 1; }
  export PYTHONPATH="/tmp/keras_dbal_site:${PYTHONPATH:-}"
fi
export PYTHONPATH="${PWD}:${PYTHONPATH:-}"

step "checking the backend"
"${python}" - <<'EOF' 2>&1 | tee -a "${log}"
import os, platform
import jax, keras
import keras_dbal
gpu = jax.default_backend() != "cpu"
print(f"keras {keras.__version__}, jax {jax.__version__}, keras_dbal "
      f"{keras_dbal.__version__}, devices {jax.devices()}, "
      f"{platform.machine()}, {os.cpu_count()} cores")
if not gpu and not os.environ.get("ALLOW_CPU"):
    raise SystemExit("no GPU: set ALLOW_CPU=1 for a dry run on a CPU")
EOF
[ "${PIPESTATUS[0]}" -eq 0 ] || exit 1

step "engine: ${engine_args}"
# shellcheck disable=SC2086
"${python}" -m benchmarks.engine ${engine_args} \
  --json "${out}/engine.json" 2>&1 | tee -a "${log}"
[ "${PIPESTATUS[0]}" -eq 0 ] || exit 1
strategy=$("${python}" -m benchmarks.engine --best "${out}/engine.json")
# --best prints a registered strategy's name, or fails.
[ -n "${strategy}" ] || {
  echo "no strategy from ${out}/engine.json" >&2; exit 1;
}
step "fastest first-call strategy: ${strategy}"

step "sampler: ${sampler_args}"
# shellcheck disable=SC2086
"${python}" -m benchmarks.sampler ${sampler_args} \
  --json "${out}/sampler.json" 2>&1 | tee -a "${log}"
[ "${PIPESTATUS[0]}" -eq 0 ] || exit 1

step "memory: ${memory_args}"
# shellcheck disable=SC2086
"${python}" -m benchmarks.lockstep_memory ${memory_args} \
  --strategy "${strategy}" --json "${out}/memory.json" 2>&1 | tee -a "${log}"
[ "${PIPESTATUS[0]}" -eq 0 ] || exit 1

# What is left of the total, less time to write the plot and to be killed.
budget=$(( total - SECONDS - 40 ))
if [ "${budget}" -lt 30 ]; then
  step "no time left for gal2017 (${SECONDS} s of ${total} used)"
  exit 1
fi
step "gal2017 ${gal_args}, ${budget} s at most"
# SIGINT: gal2017 stops after writing the rounds it finished; SIGKILL 20 s
# later if it has not.
# shellcheck disable=SC2086
timeout -k 20 --signal=INT "${budget}" "${python}" -m benchmarks.gal2017 \
  ${gal_args} --strategy "${strategy}" --quiet --out "${out}" \
  2>&1 | tee -a "${log}"
status=${PIPESTATUS[0]}
step "gal2017 exited ${status}"
case "${status}" in
  0|124|137) ;;  # finished, or stopped at the limit with its rounds so far
  *) exit "${status}" ;;
esac
