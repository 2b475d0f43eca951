#!/usr/bin/env bash
# The GPU checks of issue 14 in one run: tests/gpu/run_gpu_checks.sh OUTDIR
#
# On a CUDA machine (the lent H200: no internet, its python3 holds a CUDA torch): prints the GPU, torch and CUDA
# versions, makes (or reuses) a venv that sees that python's packages (--system-site-packages: its CUDA torch,
# numpy, pandas, scipy, matplotlib, pytest) and installs the project into it without touching an index; the
# packages that image lacks (smplx, mlflow, optuna and their own dependencies) come from a wheel folder made here
# beforehand with tests/gpu/fetch_wheels.sh (default build/gpu-wheels; name it in the device tool's `carry`).
# Then: `pytest -m gpu` (junit XML), `hmrbench runtime --device cuda` for Table IV (proposed and smplifyx) and for
# tests/gpu/runtime_gpu.toml (lifter, fhgr, bf16 predict), `hmrbench report`. Each step has a time limit and its
# own log; a failed step does not stop the next ones; the exit code is 1 when any step failed, 2 when there is no
# CUDA (nothing else is run then). OUTDIR gets at most 8 files at its top level (the device tool brings back 8),
# written as the steps go: summary.txt, env.log, install.log, pytest.log, pytest-junit.xml, runtime.log, report.log,
# hmrbench-out.tar.gz (the output folder: tracking store, rows, report/; OUTDIR/hmrbench-out unless
# HMRBENCH_GPU_STORE says otherwise). On the device tool, keep the folder out of $OUT and give $OUT as OUTDIR:
#   HMRBENCH_GPU_STORE=/tmp/hmrbench-out tests/gpu/run_gpu_checks.sh "$OUT"      (carry: build/gpu-wheels)
# The whole run stops within HMRBENCH_GPU_CHECKS_BUDGET seconds (default 540: a step gets what is left of it).
#
# Settings (environment):
#   HMRBENCH_GPU_CHECKS_DEVICE  cuda (default) or cpu: cpu runs every step on the CPU at quick settings and skips
#                               the install (the python given is used as it is): the CI check of this script
#   HMRBENCH_GPU_CHECKS_QUICK   1: table4's [quick] settings and the quick runtime file (default 0 on cuda)
#   HMRBENCH_GPU_CHECKS_SMOKE   1: a few gpu tests, runtime of the lifter only (the CI check; default 0)
#   HMRBENCH_GPU_PYTHON         the python to use (default python3)
#   HMRBENCH_GPU_VENV           the venv (default $TMPDIR/hmrbench-gpu-venv), reused when it is there
#   HMRBENCH_GPU_WHEELS         the wheel folder (default build/gpu-wheels)
#   HMRBENCH_GPU_CHECKS_INSTALL 0: use HMRBENCH_GPU_PYTHON as it is (default 1 on cuda, 0 on cpu)
#   HMRBENCH_CACHE              embedded model and synthetic sets (default $TMPDIR/hmrbench-gpu-cache)
#   HMRBENCH_GPU_STORE          the output folder of runtime and report (default OUTDIR/hmrbench-out)
#   HMRBENCH_GPU_CHECKS_BUDGET  seconds for the whole run (default 540), below the device tool's 600 s per command
#   T_ENV T_INSTALL T_TESTS T_RUNTIME T_REPORT   each step's own limit in seconds (20 120 180 180 90; two runtime
#                               steps), cut to what is left of the budget; about 3-4 minutes expected on an H200
set -uo pipefail

if [[ $# -ne 1 || $1 == -* ]]; then
    echo "usage: $0 OUTDIR   (see the header of this file for the settings)" >&2
    exit 64
fi
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
mkdir -p "$1" || { echo "$0: cannot create OUTDIR $1" >&2; exit 64; }
OUT="$(cd "$1" && pwd)"
DEVICE="${HMRBENCH_GPU_CHECKS_DEVICE:-cuda}"
case "$DEVICE" in
    cpu) QUICK="${HMRBENCH_GPU_CHECKS_QUICK:-1}"; INSTALL="${HMRBENCH_GPU_CHECKS_INSTALL:-0}" ;;
    cuda | cuda:[0-9]*) QUICK="${HMRBENCH_GPU_CHECKS_QUICK:-0}"; INSTALL="${HMRBENCH_GPU_CHECKS_INSTALL:-1}" ;;
    *) echo "$0: HMRBENCH_GPU_CHECKS_DEVICE=$DEVICE: use cuda, cuda:N or cpu" >&2; exit 64 ;;
esac
SMOKE="${HMRBENCH_GPU_CHECKS_SMOKE:-0}"
PY="${HMRBENCH_GPU_PYTHON:-python3}"
TMP="${TMPDIR:-/tmp}"
VENV="${HMRBENCH_GPU_VENV:-$TMP/hmrbench-gpu-venv}"
WHEELS="${HMRBENCH_GPU_WHEELS:-$ROOT/build/gpu-wheels}"
export HMRBENCH_CACHE="${HMRBENCH_CACHE:-$TMP/hmrbench-gpu-cache}"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
STORE="${HMRBENCH_GPU_STORE:-$OUT/hmrbench-out}"
DEADLINE=$(($(date +%s) + ${HMRBENCH_GPU_CHECKS_BUDGET:-540} - 10))  # 10 s kept for the summary and the archive
SUMMARY="$OUT/summary.txt"
FAILED=()
cd "$ROOT" || exit 64
: >"$SUMMARY"
say() { echo "$*" | tee -a "$SUMMARY"; }

# step NAME LOG LIMIT COMMAND...: COMMAND's output appended to OUTDIR/LOG; its exit code and seconds to the summary
step() {
    local name=$1 log=$2 limit=$3 start rc
    shift 3
    start=$(date +%s)
    if ((DEADLINE - start < limit)); then
        limit=$((DEADLINE - start))
    fi
    if ((limit < 1)); then
        say "$(printf '%-16s rc=%-3s not run: the budget of %s s is spent' "$name" 124 "${HMRBENCH_GPU_CHECKS_BUDGET:-540}")"
        FAILED+=("$name")
        return 124
    fi
    echo "=== $name: $*" >>"$OUT/$log"
    timeout --kill-after=10 "$limit" "$@" >>"$OUT/$log" 2>&1
    rc=$?
    local why=""
    [[ $rc -eq 124 || $rc -eq 137 ]] && why=" (time limit ${limit} s)"
    say "$(printf '%-16s rc=%-3s %4ss%s  log: %s' "$name" "$rc" "$(($(date +%s) - start))" "$why" "$log")"
    [[ $rc -eq 0 ]] || FAILED+=("$name")
    return "$rc"
}

say "hmrbench GPU checks ($DEVICE$([[ $QUICK == 1 ]] && echo ', quick settings')$([[ $SMOKE == 1 ]] && echo ', smoke')): $(date -u '+%Y-%m-%d %H:%M:%S UTC') in $ROOT"
if command -v git >/dev/null && git -C "$ROOT" rev-parse --git-dir >/dev/null 2>&1; then
    say "commit $(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet HEAD || echo ' (working tree differs)')"
else
    say "commit unknown (no git checkout here)"
fi

# --- 1. the machine: GPU, python, torch and CUDA versions; no CUDA torch on a cuda run: stop here (exit 2) ---
ENV_PY='import platform, torch
print("python", platform.python_version(), "at", __import__("sys").executable)
print("torch", torch.__version__, "| CUDA", torch.version.cuda, "| cuDNN", torch.backends.cudnn.version(), "| CUDA available", torch.cuda.is_available())
for i in range(torch.cuda.device_count()):
    p = torch.cuda.get_device_properties(i)
    print(f"cuda:{i}", p.name, f"{p.total_memory / 2**30:.0f} GiB", f"compute {p.major}.{p.minor}", f"{p.multi_processor_count} SMs")'
if command -v nvidia-smi >/dev/null; then
    step nvidia-smi env.log "${T_ENV:-20}" nvidia-smi
elif [[ $DEVICE != cpu ]]; then
    say "nvidia-smi: not found on this machine"
fi
step versions env.log "${T_ENV:-20}" "$PY" -c "$ENV_PY"
grep -E '^(python|torch|cuda:)' "$OUT/env.log" | sed 's/^/  /' | tee -a "$SUMMARY"
if [[ $DEVICE != cpu ]] && ! "$PY" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
    say "NO CUDA: $PY has $("$PY" -c 'import torch; print("torch", torch.__version__, "built for CUDA", torch.version.cuda)' 2>&1 | tail -1), and torch.cuda.is_available() is False."
    say "Nothing else was run. Set HMRBENCH_GPU_PYTHON to a python whose torch has CUDA (on the lent H200: python3),"
    say "or run HMRBENCH_GPU_CHECKS_DEVICE=cpu $0 OUTDIR to check the script itself."
    exit 2
fi

# --- 2. install: a venv over the image's packages, the missing ones from the wheel folder, the project (no index) ---
install() {
    set -e
    if [[ ! -x $VENV/bin/python ]]; then
        "$PY" -m venv --system-site-packages --without-pip "$VENV"  # pip and setuptools: the base python's
        # the image's python3 is itself a venv (/opt/torch/.venv): --system-site-packages would see the base
        # interpreter's packages, not its torch; a .pth line adds that python's site-packages (and runs its .pth)
        local site
        site="$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
        echo "import site; site.addsitedir('$site')" >"$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/_hmrbench_base.pth"
    fi
    local vpy="$VENV/bin/python" need=()
    for module in smplx mlflow optuna; do
        "$vpy" -c "import $module" 2>/dev/null || need+=("$module")
    done
    if [[ ${#need[@]} -gt 0 ]]; then
        echo "missing in $PY's packages: ${need[*]}"
        if ! compgen -G "$WHEELS/*.whl" >/dev/null; then
            echo "MISSING PACKAGES: ${need[*]} and no wheel folder at $WHEELS."
            echo "Make one on a machine with an index: tests/gpu/fetch_wheels.sh build/gpu-wheels (then carry it)."
            return 3
        fi
        "$vpy" -m pip install --no-index --no-deps --disable-pip-version-check "$WHEELS"/*.whl
    fi
    "$vpy" -m pip install --no-index --no-deps --no-build-isolation --disable-pip-version-check -e "$ROOT"
    "$vpy" -c 'import torch, smplx, mlflow, optuna, bench.cli; print("imports ok: torch", torch.__version__, "CUDA", torch.cuda.is_available(), "mlflow", mlflow.__version__, "optuna", optuna.__version__)'
}
if [[ $INSTALL == 1 ]]; then
    step install install.log "${T_INSTALL:-120}" bash -c "$(declare -f install); PY='$PY' VENV='$VENV' WHEELS='$WHEELS' ROOT='$ROOT'; install" \
        && PY="$VENV/bin/python"
    grep -E '^(MISSING|Make one|imports ok)' "$OUT/install.log" | sed 's/^/  /' | tee -a "$SUMMARY"
else
    echo "install skipped (HMRBENCH_GPU_CHECKS_INSTALL=0): $PY as it is" >"$OUT/install.log"
    say "install          skipped: $PY as it is"
fi

# --- 3. the gpu-marked tests (on cpu: the same tests with HMRBENCH_GPU_TESTS_DEVICE=cpu) ---
TESTS=(tests -m gpu)
[[ $SMOKE == 1 ]] && TESTS=(tests/gpu -m gpu -k "registered or metrics or projections")
[[ $DEVICE == cpu ]] && export HMRBENCH_GPU_TESTS_DEVICE=cpu
step pytest pytest.log "${T_TESTS:-180}" "$PY" -m pytest "${TESTS[@]}" -q -rs -p no:cacheprovider --benchmark-skip \
    --junitxml="$OUT/pytest-junit.xml"
tail -n 1 "$OUT/pytest.log" | sed 's/^/  /' | tee -a "$SUMMARY"

# --- 4. runtime per image on the device: Table IV, then the methods beside it ---
QUICK_FLAG=()
[[ $QUICK == 1 ]] && QUICK_FLAG=(--quick)
if [[ $SMOKE == 1 ]]; then
    step runtime runtime.log "${T_RUNTIME:-180}" "$PY" -m bench runtime -m lifter --device "$DEVICE" --out "$STORE"
else
    step runtime-table4 runtime.log "${T_RUNTIME:-180}" "$PY" -m bench runtime "${QUICK_FLAG[@]}" --device "$DEVICE" \
        --out "$STORE"
    step runtime-more runtime.log "${T_RUNTIME:-180}" "$PY" -m bench runtime tests/gpu/runtime_gpu.toml \
        "${QUICK_FLAG[@]}" --device "$DEVICE" --out "$STORE"
fi
grep -E 'ms per image' "$OUT/runtime.log" | sed 's/^/  /' | tee -a "$SUMMARY"

# --- 5. the report from the store (Table IV: CPU and GPU rows side by side when both are there) ---
step report report.log "${T_REPORT:-90}" "$PY" -m bench report --out "$STORE"
for table in "$STORE"/report/table4*.md "$STORE"/report/experiment_runtime_gpu*.md; do
    [[ -f $table ]] && { say "--- ${table#"$STORE"/}"; cat "$table" >>"$SUMMARY"; }
done

tar -czf "$OUT/hmrbench-out.tar.gz" -C "$(dirname "$STORE")" "$(basename "$STORE")" 2>>"$OUT/report.log" \
    || say "could not pack $STORE"
if [[ ${#FAILED[@]} -gt 0 ]]; then
    say "FAILED: ${FAILED[*]} (logs in $OUT)"
    exit 1
fi
say "all steps passed (logs in $OUT)"
