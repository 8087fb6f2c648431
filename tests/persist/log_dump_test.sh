#!/bin/sh
# log dump scenarios: a WAL written by the crash-test helper prints as one JSON document with
# its entries; a corrupted copy is reported with file and offset and exit code 4, and so is a
# copy missing its newest or first segment, or with a damaged snapshot file.
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
seg=$(ls "$dir/copy/wal" | grep -v MANIFEST | head -n 1)
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

# Every damage that makes a node refuse to start exits 4, names the file, and still prints what
# is there. A WAL of several segments (the helper rolls at 16 KiB):
"$helper" write "$dir/multi" 400
[ "$(ls "$dir/multi/wal" | grep -c -v MANIFEST)" -ge 3 ] || fail "helper wrote one segment only"
"$raftlab" log dump --wal "$dir/multi" --json >"$dir/multi.json" || fail "healthy multi-segment dump exited $?"
python3 - "$dir/multi.json" <<'PY' || fail "healthy multi-segment JSON"
import json, sys
doc = json.load(open(sys.argv[1]))
assert len(doc["entries"]) == 400 and not doc["corrupt"] and doc["manifest"]["first_seq"] == 1, doc["manifest"]
PY

# expect_refused NAME DIR WORDS: log dump of DIR exits 4, stderr holds WORDS, stdout still lists entries.
expect_refused() {
  set +e
  "$raftlab" log dump --wal "$2" >"$dir/$1.out" 2>"$dir/$1.err"
  code=$?
  set -e
  [ "$code" -eq 4 ] || fail "$1: exit $code, want 4 (stderr: $(cat "$dir/$1.err"))"
  grep -qF -- "$3" "$dir/$1.err" || fail "$1: stderr does not name $3: $(cat "$dir/$1.err")"
  grep -q "entries shown" "$dir/$1.out" || fail "$1: nothing printed on stdout"
}

cp -r "$dir/multi" "$dir/no-newest"
newest=$(ls "$dir/no-newest/wal" | grep '^open-' | tail -n 1)
rm "$dir/no-newest/wal/$newest"
expect_refused no-newest "$dir/no-newest" "$newest"

cp -r "$dir/multi" "$dir/no-first"
first=$(ls "$dir/no-first/wal" | grep '^[0-9]' | head -n 1)
rm "$dir/no-first/wal/$first"
expect_refused no-first "$dir/no-first" "$first"

# Without a manifest (an older WAL) a deleted first segment is still seen: the log must start at
# 1, or right after the snapshot.
cp -r "$dir/multi" "$dir/old-no-first"
rm "$dir/old-no-first/wal/MANIFEST" "$dir/old-no-first/wal/$first"
expect_refused old-no-first "$dir/old-no-first" "are missing"

cp -r "$dir/multi" "$dir/bad-snap"
mkdir "$dir/bad-snap/snap"
snap="$dir/bad-snap/snap/snap-00000000000000000010.snap"
printf 'RLABSNAP-not-really-a-snapshot' >"$snap"
expect_refused bad-snap "$dir/bad-snap" "$snap"

# What recovery repairs is not damage: no manifest (an older WAL), a leftover snapshot .tmp.
cp -r "$dir/multi" "$dir/repairable"
rm "$dir/repairable/wal/MANIFEST"
mkdir "$dir/repairable/snap"
printf 'partial' >"$dir/repairable/snap/snap-00000000000000000010.tmp"
"$raftlab" log dump --wal "$dir/repairable" >"$dir/repairable.out" 2>&1 ||
  fail "repairable WAL: exit $?: $(cat "$dir/repairable.out")"
echo "log dump scenarios passed"
