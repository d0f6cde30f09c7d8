#!/usr/bin/env bash
# Installs what memscope needs to build and test, from Debian's packages,
# when it is missing. Safe to run repeatedly; needs root (or sudo) only when
# something is missing.
set -euo pipefail

packages=(
    gcc make                     # the build
    libzstd-dev libxxhash-dev    # capture compression and checksums
    python3 python3-dev          # the CPython 3.11 extension
    python3-pytest               # Python tests
    python3-memory-profiler python3-objgraph python3-numpy  # comparisons in tests and benchmarks
    graphviz                     # heap graph pictures
    clang libclang-rt-14-dev     # the fuzzers
    libprotobuf-c-dev protobuf-c-compiler  # the pprof export's encoder and its generator
    zlib1g-dev                   # gzip of the pprof export
    protobuf-compiler            # protoc --decode checks pprof files in the tests
    librsvg2-bin                 # rsvg-convert: `memscope timeline -o plot.png`
    nodejs                       # runs the browser tests (playwright-core, from npm)
    chromium                     # the browser the HTML report is tested in
)
# npm: Debian ships it as its own package; Node.js builds from elsewhere
# bundle it in theirs (and conflict with Debian's), so only when missing.
command -v npm >/dev/null || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "memscope: installing ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
