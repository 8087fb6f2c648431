#!/usr/bin/env bash
# Configures and builds the release tree in build/release (warnings are errors).
# RAFTLAB_JOBS overrides the build parallelism (default: nproc).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

jobs=${RAFTLAB_JOBS:-$(nproc)}
cmake -S . -B build/release -DRAFTLAB_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build/release -j"$jobs"
