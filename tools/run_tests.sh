#!/usr/bin/env bash
# Run the whole test suite, creating the two environments it needs:
#   .venv-core  tfformats and its test tools, WITHOUT TensorFlow (proves the package never needs it)
#   .venv-tf    TensorFlow 2.21 for the oracle tests (TensorFlow reads what we write, runs what we freeze)
# Extra arguments go to both pytest runs. Set TFFORMATS_SKIP_ORACLE=1 to run the core suite only.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
TF_VERSION=2.21.0

pip_quiet() { "$@" --disable-pip-version-check -q 2>&1 | grep -v "^WARNING: Location" || true; }

if [ ! -x .venv-core/bin/python ]; then "$PYTHON" -m venv .venv-core; fi
pip_quiet .venv-core/bin/pip install -e ".[test]"
if .venv-core/bin/python -c "import tensorflow" >/dev/null 2>&1; then
    echo "error: the core environment must not have TensorFlow" >&2
    exit 1
fi

echo "== core tests (no TensorFlow)"
.venv-core/bin/python -m pytest tests --ignore=tests/oracle -q -p no:cacheprovider "$@"

if [ "${TFFORMATS_SKIP_ORACLE:-0}" = "1" ]; then
    echo "== oracle tests skipped (TFFORMATS_SKIP_ORACLE=1)"
    exit 0
fi

if [ ! -x .venv-tf/bin/python ]; then "$PYTHON" -m venv .venv-tf; fi
if ! .venv-tf/bin/python -c "import tensorflow as tf, sys; sys.exit(tf.__version__ != '$TF_VERSION')" >/dev/null 2>&1; then
    pip_quiet .venv-tf/bin/pip install "tensorflow-cpu==$TF_VERSION"
fi
pip_quiet .venv-tf/bin/pip install pytest hypothesis safetensors crc32c python-snappy ml_dtypes
pip_quiet .venv-tf/bin/pip install --no-deps -e .

echo "== oracle tests (TensorFlow $TF_VERSION)"
.venv-tf/bin/python -m pytest tests/oracle -q -p no:cacheprovider "$@"
