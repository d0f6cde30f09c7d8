#!/usr/bin/env bash
# Installs the C libraries and tools memscope needs to build and test, from
# Debian's packages, when one is missing. Python packages come from the
# package index into virtual environments instead (scripts/venv.sh), so this
# list has no python3-* module. Safe to run repeatedly; needs root (or sudo)
# only when something is missing.
set -euo pipefail

packages=(
    gcc make                     # the build
    libzstd-dev libxxhash-dev    # capture compression and checksums
    graphviz                     # heap graph pictures
    clang libclang-rt-dev        # the fuzzers (the default clang's runtime on 12 and 13)
    libprotobuf-c-dev protobuf-c-compiler  # the pprof export's encoder and its generator
    zlib1g-dev                   # gzip of the pprof export
    protobuf-compiler            # protoc --decode checks pprof files in the tests
    librsvg2-bin                 # rsvg-convert: `memscope timeline -o plot.png`
    chromium                     # the browser the HTML report is tested in
    libunwind-dev                # the recorder unwinds C stacks (--native-frames)
    libdw-dev                    # the analyser symbolizes them (elfutils: symbols, lines, build ids)
)

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
