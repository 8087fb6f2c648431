#!/bin/sh
# log dump scenarios: a WAL written by the crash-test helper prints as one JSON document with
# its entries; a corrupted copy is reported with file and offset and exit code 4.
# Usage: log_dump_test.sh RAFTLAB WAL_HELPER
set -eu
raftlab=$1
helper=$2
dir=$(mktemp -d "${TMPDIR:-/tmp}/raftlab-dump-XXXXXX")
trap 'rm -rf "$dir"' EXIT
fail() { echo "log_dump_test: $*" >&2; exit 1; }

"$helper" write "$dir/node" 40
"$raftlab" log dump --wal "$dir/node" --json >"$dir/out.json" || fail "dump exited $?"
python3 - "$dir/out.json" <<'PY' || fail "bad JSON"
import json, sys
doc = json.load(open(sys.argv[1]))
assert [e["index"] for e in doc["entries"]] == list(range(1, 41)), doc["entries"][:3]
assert doc["hard_state"]["commit"] == 40 and not doc["corrupt"]
assert '"quoted"' in doc["entries"][0]["data_summary"]
PY
"$raftlab" log dump --wal "$dir/node/wal" --from 10 --to 12 | grep -q "entry 11 term 1" ||
  fail "text dump with --from/--to"
set +e
"$raftlab" log dump --wal "$dir/node" --from 12 --to 10 2>/dev/null
rc=$?
set -e
[ "$rc" -eq 2 ] || fail "--from > --to: exit $rc, want 2 (usage error)"

# Corrupt a copy: flip one byte inside the 5th record of the only segment.
cp -r "$dir/node" "$dir/copy"
seg=$(ls "$dir/copy/wal" | head -n 1)
offset=$(python3 - "$dir/out.json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
print(doc["entries"][4]["offset"])
PY
)
python3 - "$dir/copy/wal/$seg" "$offset" <<'PY'
import sys
path, off = sys.argv[1], int(sys.argv[2]) + 12
b = bytearray(open(path, "rb").read()); b[off] ^= 0x40; open(path, "wb").write(b)
PY
set +e
"$raftlab" log dump --wal "$dir/copy" --json >"$dir/bad.json" 2>"$dir/bad.err"
code=$?
set -e
[ "$code" -eq 4 ] || fail "corrupt WAL: exit $code, want 4"
grep -q "$seg at offset $offset" "$dir/bad.err" || fail "stderr does not name file and offset: $(cat "$dir/bad.err")"
python3 - "$dir/bad.json" "$offset" <<'PY' || fail "JSON does not name the damage"
import json, sys
doc = json.load(open(sys.argv[1]))
assert doc["corrupt"] and any(d["offset"] == int(sys.argv[2]) for d in doc["damage"]), doc["damage"]
assert len(doc["entries"]) == 39  # the damaged one is shown as damage, the rest still listed
PY
echo "log dump scenarios passed"
