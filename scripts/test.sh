#!/usr/bin/env bash
# Builds everything and runs every test: the C tests; the Python tests on
# each supported CPython, each in its own virtual environment from the
# pinned requirements/test.txt; the HTML report in chromium; CPython's own
# test modules plain and under memscope run (tests/cpython); then the C and
# Python tests again under AddressSanitizer + UndefinedBehaviorSanitizer;
# last, each fuzzer of a file format for FUZZ_SECONDS (20 here) from its seeds.
# First of all, the C sources must be in the house style (.clang-format).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh

echo "== house style =="
scripts/format.sh --check

PYTHONS=($(cat scripts/pythons))   # the supported CPythons (pyproject.toml's requires-python)

for version in "${PYTHONS[@]}"; do
    py=$(scripts/venv.sh "$version" requirements/test.txt)/bin/python
    echo "== CPython $version =="
    make -j2 PYTHON="$py"
    [ "$version" = "${PYTHONS[0]}" ] && make test-c PYTHON="$py"
    "$py" -m pytest -q tests/py
done

py=$(scripts/venv.sh "${PYTHONS[0]}" requirements/test.txt)/bin/python
make -j2 PYTHON="$py"
echo "== HTML report in a browser =="
"$py" -m pytest -q -p no:cacheprovider tests/browser

echo "== wheels, installed as a user would =="
bash scripts/wheels.sh build/dist >/dev/null
for version in "${PYTHONS[@]}"; do
    MEMSCOPE_WHEELS=build/dist "$(scripts/venv.sh "$version" requirements/test.txt)/bin/python" \
        -m pytest -q -p no:cacheprovider tests/packaging
done

echo "== CPython's own tests, plain and under memscope run =="
"$py" tests/cpython/run.py

echo "== again under ASan+UBSan =="
make -j2 PYTHON="$py" SANITIZE=1
make test-c PYTHON="$py" SANITIZE=1
# Python itself is not instrumented: preload the runtimes so the extension's
# checks work inside it; interpreter-exit leaks are CPython's, not ours.
preload="$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so)"
LD_PRELOAD="$preload" ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 MEMSCOPE_BUILD=build-asan \
    "$py" -m pytest -q -p no:cacheprovider tests/py

echo "== the fuzzers, ${FUZZ_SECONDS:-20} s each =="
make fuzz PYTHON="$py" FUZZ_SECONDS="${FUZZ_SECONDS:-20}"
