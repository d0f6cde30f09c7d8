#!/usr/bin/env bash
# The C sources in the house style (.clang-format), by the pinned
# clang-format of requirements/lint.txt.
#   scripts/format.sh           reformat every tracked .c and .h file
#   scripts/format.sh --check   list the files that differ, exit 1 if any
set -euo pipefail
cd "$(dirname "$0")/.."
formatter="$(scripts/venv.sh 3.11 requirements/lint.txt)/bin/clang-format"
mapfile -t files < <(git ls-files '*.c' '*.h')
if [ "${1:-}" = "--check" ]; then
    differ=()
    for f in "${files[@]}"; do
        "$formatter" --style=file "$f" | cmp -s - "$f" || differ+=("$f")
    done
    if [ ${#differ[@]} -gt 0 ]; then
        echo "not in the house style (scripts/format.sh fixes them):" >&2
        printf '  %s\n' "${differ[@]}" >&2
        exit 1
    fi
    echo "${#files[@]} C files in the house style"
else
    "$formatter" --style=file -i "${files[@]}"
fi
