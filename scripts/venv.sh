#!/usr/bin/env bash
# Prints the path of a virtual environment for CPython X.Y with a pinned
# requirements file installed, creating it first when needed:
#
#   py=$(scripts/venv.sh 3.11 requirements/test.txt)/bin/python
#
# The interpreter is pyenv's newest X.Y (`pyenv root`, or $PYENV_ROOT, or
# ~/.pyenv), never the system's, so every Debian release tests the same
# builds. For benchmarks only, X.Y may be `system`: Debian's /usr/bin/python3,
# built with PGO and LTO and about 30% faster than pyenv's, the interpreter
# whose ratios a profiler's users on Debian see. Environments are cached
# under $MEMSCOPE_VENVS (default ~/.cache/memscope/venvs), one per
# interpreter and requirements content: editing the file makes a new one; of the older ones for the same name the
# two most recently made are kept (another checkout may be using them), the
# rest removed. A half-built environment (no .complete marker) is rebuilt.
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: scripts/venv.sh X.Y|system REQUIREMENTS" >&2; exit 2; }
version=$1 requirements=$2

root=${PYENV_ROOT:-$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")}
if [ "$version" = system ]; then
    python=/usr/bin/python3
else
    python=$(ls -d "$root"/versions/"$version".* 2>/dev/null | sort -V | tail -n 1)/bin/python
fi
if [ "$version" = system ] && [ ! -x "$python" ]; then
    echo "memscope: no $python (apt-get install python3 python3-venv python3-dev)" >&2
    exit 2
elif [ ! -x "$python" ]; then
    echo "memscope: no CPython $version under '$root/versions' (install it with: pyenv install $version)" >&2
    exit 2
fi

name=$(basename "$requirements" .txt)-$version
digest=$( (cat "$requirements"; "$python" -VV) | sha256sum | cut -c1-12)
cache=${MEMSCOPE_VENVS:-${XDG_CACHE_HOME:-$HOME/.cache}/memscope/venvs}
venv=$cache/$name-$digest

if [ ! -e "$venv/.complete" ]; then
    echo "memscope: creating $venv from $requirements" >&2
    rm -rf "$venv"
    mkdir -p "$cache"
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        --no-warn-script-location -r "$requirements" 2> >(grep -v "is ignored: it is neither" >&2)
    touch "$venv/.complete"
    ls -dt "$cache/$name"-* | tail -n +4 | xargs -r rm -rf
fi
echo "$venv"
