#!/usr/bin/env bash
# Run the whole test suite, creating the environments it needs:
#   .venv-core   tfformats (editable) and its test tools, WITHOUT TensorFlow: proves the package never needs it
#   .venv-wheel  tfformats installed from a freshly built wheel (not editable): proves the wheel has its data files
#   .venv-tf     TensorFlow 2.21 for the oracle tests (TensorFlow reads what we write, runs what we freeze)
#
# Extra arguments go to every pytest run (e.g. -k NAME, -x). A run whose selection matches no test there is
# fine as long as some run does. Environment:
#   TFFORMATS_SKIP_ORACLE=1   core (and wheel) tests only: no TensorFlow download
#   TFFORMATS_SKIP_WHEEL=1    skip the run against the built wheel
#   TFFORMATS_FUZZ_SECONDS=N  also run N seconds of fuzzing in the core run (CI sets 60)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
TF_VERSION=2.21.0
ran=0

pip_quiet() {
    # pip's own output is noise here; its failure is not.
    local log
    log=$(mktemp)
    if ! "$@" --disable-pip-version-check -q >"$log" 2>&1; then
        grep -v "^WARNING: Location" "$log" >&2 || true
        rm -f "$log"
        echo "error: $* failed" >&2
        exit 1
    fi
    rm -f "$log"
}

run_pytest() {
    # pytest exits 5 when the selection holds no test; that is an error only if no run finds any.
    local status=0
    "$@" || status=$?
    if [ "$status" -eq 0 ]; then ran=1; return 0; fi
    if [ "$status" -eq 5 ]; then echo "(no test selected in this environment)"; return 0; fi
    exit "$status"
}

if [ ! -x .venv-core/bin/python ]; then "$PYTHON" -m venv .venv-core; fi
pip_quiet .venv-core/bin/pip install -e ".[test]"
if .venv-core/bin/python -c "import tensorflow" >/dev/null 2>&1; then
    echo "error: the core environment must not have TensorFlow" >&2
    exit 1
fi

echo "== core tests (no TensorFlow)"
run_pytest .venv-core/bin/python -m pytest tests --ignore=tests/oracle -q -p no:cacheprovider "$@"

if [ "${TFFORMATS_SKIP_WHEEL:-0}" != "1" ]; then
    echo "== core tests against the built wheel (installed, not editable)"
    rm -rf build/wheel
    pip_quiet .venv-core/bin/pip install setuptools wheel
    pip_quiet .venv-core/bin/pip wheel . --no-deps --no-build-isolation -w build/wheel
    if [ ! -x .venv-wheel/bin/python ]; then "$PYTHON" -m venv .venv-wheel; fi
    pip_quiet .venv-wheel/bin/pip install --force-reinstall --no-deps build/wheel/tfformats-*.whl
    pip_quiet .venv-wheel/bin/pip install "$(ls build/wheel/tfformats-*.whl)[test]"
    # Run from the tests folder so that the source tree is not importable: only the installed copy is.
    (cd tests && TFFORMATS_EXPECT_INSTALLED=1 TFFORMATS_FUZZ_SECONDS=0 \
        run_pytest ../.venv-wheel/bin/python -m pytest . --ignore=oracle -q -p no:cacheprovider "$@")
fi

if [ "${TFFORMATS_SKIP_ORACLE:-0}" = "1" ]; then
    echo "== oracle tests skipped (TFFORMATS_SKIP_ORACLE=1)"
    [ "$ran" = 1 ] || { echo "error: no test ran" >&2; exit 5; }
    exit 0
fi

if [ ! -x .venv-tf/bin/python ]; then "$PYTHON" -m venv .venv-tf; fi
if ! .venv-tf/bin/python -c "import tensorflow as tf, sys; sys.exit(tf.__version__ != '$TF_VERSION')" >/dev/null 2>&1; then
    pip_quiet .venv-tf/bin/pip install "tensorflow-cpu==$TF_VERSION"
fi
pip_quiet .venv-tf/bin/pip install pytest hypothesis safetensors crc32c python-snappy ml_dtypes onnx onnxruntime
pip_quiet .venv-tf/bin/pip install --no-deps -e .

echo "== oracle tests (TensorFlow $TF_VERSION)"
run_pytest .venv-tf/bin/python -m pytest tests/oracle -q -p no:cacheprovider "$@"
[ "$ran" = 1 ] || { echo "error: no test ran" >&2; exit 5; }
