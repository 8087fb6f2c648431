#!/usr/bin/env bash
# The demo: a simulated 5-node cluster elects a leader, is partitioned and heals, narrated.
# Installs what it needs (root on Debian 12), builds the release tree, then runs the demo with
# any arguments given to this script.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/install-deps.sh
bash scripts/build.sh
exec build/release/tests/sim/raftlab_sim_demo "$@"
