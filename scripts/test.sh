#!/usr/bin/env bash
# Builds everything and runs every test: the C tests, the Python tests, the
# HTML report in chromium, then the C and Python tests again under
# AddressSanitizer + UndefinedBehaviorSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh

PY=/usr/bin/python3   # Debian's interpreter: it has pytest, numpy, objgraph
make -j2 PYTHON=$PY
make test-c PYTHON=$PY
$PY -m pytest -q tests/py

echo "== HTML report in a browser =="
npm ci --no-audit --no-fund --loglevel=error
node tests/browser/run.mjs

echo "== again under ASan+UBSan =="
make -j2 PYTHON=$PY SANITIZE=1
make test-c PYTHON=$PY SANITIZE=1
# Python itself is not instrumented: preload the runtimes so the extension's
# checks work inside it; interpreter-exit leaks are CPython's, not ours.
preload="$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so)"
LD_PRELOAD="$preload" ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 MEMSCOPE_BUILD=build-asan \
    $PY -m pytest -q -p no:cacheprovider tests/py
