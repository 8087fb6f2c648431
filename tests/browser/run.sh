#!/usr/bin/env bash
# The browser test of `raftlab check --html` (ctest label "browser"): renders a generated
# history with faults and a planted stale read, opens the page in Debian's headless Chromium
# through puppeteer-core, and checks what it draws (check_page.mjs). Runs twice: a small
# history (the screenshots a learner sees) and a 20,000-operation one (size and open time).
# Then plants a JavaScript error in a copy of the page and requires the check to fail on it.
# Installs what it needs: chromium (apt-get, as root) and puppeteer-core (npm, into
# build/browser-node, nothing saved in the repository).
# Usage: tests/browser/run.sh RAFTLAB_BINARY
set -euo pipefail

readonly kPuppeteerVersion=24.10.0
readonly kLargeOps=20000
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
raftlab=${1:?usage: run.sh RAFTLAB_BINARY}
node_dir=$root/build/browser-node
out_dir=$root/build/browser
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [[ ! -x /usr/bin/chromium ]]; then
  if [[ $(id -u) -ne 0 ]]; then
    echo "browser test: /usr/bin/chromium is missing (apt-get install chromium)" >&2
    exit 1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y chromium >/dev/null
fi
if [[ ! -d $node_dir/node_modules/puppeteer-core ]]; then
  mkdir -p "$node_dir"
  npm install --silent --no-save --no-package-lock --no-audit --no-fund --prefix "$node_dir" \
    "puppeteer-core@$kPuppeteerVersion" >/dev/null
fi
mkdir -p "$out_dir"
export RAFTLAB_BROWSER_NODE=$node_dir

# Renders history $1 (made with make_history.mjs args $2...) to $1.html; the verdict must be
# "not linearizable" (exit 1): the stale read is planted.
render() {
  local history=$1
  shift
  node "$here/make_history.mjs" "$history" "$@"
  local rc=0
  "$raftlab" check --history "$history" --html "$history.html" >"$history.report" || rc=$?
  if [[ $rc -ne 1 ]]; then
    echo "browser test: raftlab check exited $rc, expected 1 (not linearizable)" >&2
    cat "$history.report" >&2
    exit 1
  fi
}

render "$work/small.jsonl"
node "$here/check_page.mjs" "$work/small.jsonl.html" "$work/small.jsonl.expect.json" \
  "$out_dir/check"

render "$work/large.jsonl" --ops "$kLargeOps"
echo "large: $kLargeOps operations, $(stat -c %s "$work/large.jsonl.html") bytes of HTML"
node "$here/check_page.mjs" "$work/large.jsonl.html" "$work/large.jsonl.expect.json" \
  "$out_dir/check-large"

# The check must see a broken page: a script error planted before the page's own script.
sed 's|<script>|<script>throw new Error("planted by run.sh");</script><script>|' \
  "$work/small.jsonl.html" >"$work/broken.html"
if node "$here/check_page.mjs" "$work/broken.html" "$work/small.jsonl.expect.json" \
  "$work/broken" >"$work/broken.log" 2>&1; then
  echo "browser test: a page with a planted script error passed the check" >&2
  exit 1
fi
echo "browser test: passed (a page with a planted error fails, as it must)"
