# Shared by the scripts: repo root, logging, Debian package list.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export NODE_PATH=/usr/share/nodejs   # Debian's emscripten needs node-acorn from here
log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
# Every Debian package the project needs (build, tests, demo).
APT_PACKAGES=(build-essential cmake git bc ca-certificates curl nodejs npm python3 python3-onnx python3-numpy
  emscripten libhnswlib-dev libstb-dev nlohmann-json3-dev libcereal-dev doctest-dev libeigen3-dev libcli11-dev
  pkg-config libwebp-dev librsvg2-dev libcurl4-openssl-dev libbrotli-dev zlib1g-dev
  chromium imagemagick fonts-dejavu-core librsvg2-bin clang libclang-rt-14-dev)
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
