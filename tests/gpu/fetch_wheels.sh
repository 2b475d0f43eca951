#!/usr/bin/env bash
# tests/gpu/fetch_wheels.sh [DIR]: download, on a machine with a package index, the wheels the lent GPU machine
# lacks for this project (it has no internet), for its python (CPython 3.12, manylinux x86_64; override with
# HMRBENCH_WHEELS_PYTHON=3.13 etc.), into DIR (default build/gpu-wheels, an ignored folder: name it in the device
# tool's `carry`). run_gpu_checks.sh installs them with `pip install --no-index --no-deps`.
#
# The list is the project's dependencies (smplx, mlflow, optuna) and theirs, minus what that machine's image already
# holds (/work/.library/device/KINDS.md, "Python packages already there": torch, numpy, pandas, scipy, matplotlib,
# pytest, pyyaml, requests, protobuf, ...). mlflow is mlflow-skinny: the tracking client and its SQLite store
# without the web UI (the UI is ~50 MB; nothing here serves it). About 22 MB, 33 wheels; versions as on the
# development machine. Checked on the development machine in a CPython 3.11 venv holding only what the image holds
# (`import mlflow` needs cryptography, hence cffi): the CPU smoke run of run_gpu_checks.sh passed there.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DIR="${1:-$ROOT/build/gpu-wheels}"
PYV="${HMRBENCH_WHEELS_PYTHON:-3.12}"
PIP="${PIP:-python3 -m pip}"
PACKAGES=(
    smplx==0.1.28 mlflow-skinny==3.17.2 mlflow-tracing==3.17.2 optuna==5.1.0 alembic==1.20.1 sqlalchemy==2.1.9
    mako==1.4.3 colorlog==6.12.0 cachetools==7.3.3 databricks-sdk==0.167.0 gitpython==3.2.1 gitdb==4.0.12
    smmap==5.0.3 importlib-metadata==9.1.0 opentelemetry-api==1.45.2 opentelemetry-proto==1.45.2
    opentelemetry-sdk==1.45.2 opentelemetry-semantic-conventions==0.66b2 sqlparse==0.6.1 pydantic==2.14.4
    pydantic-core==2.50.5 annotated-types==0.8.0 typing-inspection==0.4.5 python-dotenv==1.2.4 fastapi==0.165.0
    starlette==1.10.0 uvicorn==0.55.0 google-auth==2.63.0 pyasn1==0.6.5 pyasn1-modules==0.4.2 cryptography==50.0.2
    cffi==2.1.1 pycparser==3.12
)
mkdir -p "$DIR"
# shellcheck disable=SC2086  # PIP may be a command with arguments
$PIP download --only-binary=:all: --no-deps --python-version "$PYV" --implementation cp \
    --abi "cp${PYV/./}" --abi abi3 --abi none \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform any \
    -d "$DIR" "${PACKAGES[@]}"
echo "$(find "$DIR" -name '*.whl' | wc -l) wheels, $(du -sh "$DIR" | cut -f1), in $DIR"
