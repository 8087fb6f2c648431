#!/usr/bin/env bash
# Installs the build and test dependencies of raftlab on Debian 12 with apt-get, only those that
# are missing. Runs `apt-get update` only when something is missing, and never reads stdin.
# Exit 4 (docs/cli.md: environment) when something is missing and we are not root.
set -euo pipefail

packages=(build-essential cmake clang-format libcli11-dev libuv1-dev libmsgpack-cxx-dev
  libspdlog-dev catch2 nlohmann-json3-dev libcpp-httplib-dev pkg-config)

missing=()
for package in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
  if [[ "$status" != "install ok installed" ]]; then
    missing+=("$package")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

if [[ "$(id -u)" != 0 ]]; then
  echo "install-deps: missing packages: ${missing[*]}" >&2
  echo "install-deps: run as root, or: sudo apt-get install -y ${missing[*]}" >&2
  exit 4
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q </dev/null
apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
