#!/usr/bin/env bash
# Builds everything, then profiles the examples and prints their reports:
# the naive and streaming CSV pipelines side by side, the advice for the
# naive one, and a leaking cache.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
# pyenv's CPython in the test environment, so every Debian release runs the same.
py=$(scripts/venv.sh 3.11 requirements/test.txt)/bin/python
make -j2 PYTHON="$py" >/dev/null
export MEMSCOPE_PYTHON="$py"
out=$(mktemp -d)
ms=bin/memscope

for mode in naive streaming; do
    echo "==================== CSV pipeline, $mode ===================="
    $ms run -o "$out/$mode.msc" examples/csv_pipeline.py "$mode" 2>/dev/null
    $ms stats "$out/$mode.msc" --top 5
    echo
    $ms table "$out/$mode.msc" --at peak --by function --limit 5
    echo
done

echo "==================== line by line, naive pipeline ===================="
$ms lines "$out/naive.msc" | sed -n '1,4p;/def naive_total/,/^ *[0-9]* .*def streaming_total/p'
echo

echo "==================== what to change, naive pipeline ===================="
$ms advise "$out/naive.msc"
echo

echo "==================== leaked at exit: a growing cache ===================="
$ms run -o "$out/leak.msc" examples/leaky_cache.py 2>/dev/null
$ms table "$out/leak.msc" --at exit --limit 5
echo
echo "captures are in $out"
