// Writes a history for the browser test: --ops operations by 5 processes on 5 keys, one after
// another (so linearizable), three faults (a partition, a kill, a pause) and one stale read
// planted on key "k2" at 70% of the run (so not linearizable). Beside it, FILE.expect.json
// says what the page must show: the keys, the fault bands, the planted operation.
// Usage: node make_history.mjs FILE [--ops N]
import { writeFileSync } from 'node:fs';

const kProcesses = 5;
const kKeys = 5;
const kOpNs = 1_000_000;      // one operation starts every 1 ms
const kOpLengthNs = 600_000;  // and takes 0.6 ms
const kFailEvery = 17;        // every 17th put fails (never takes effect)
const kStaleAt = 0.7;         // the planted stale read, as a fraction of the run
const kStaleKey = 2;
const kGapNs = (kOpNs - kOpLengthNs) / 2;  // a fault event falls between two operations

const file = process.argv[2];
const opsArg = process.argv.indexOf('--ops');
const total = opsArg > 0 ? Number(process.argv[opsArg + 1]) : 600;
if (!file || !(total >= 50)) {
  console.error('usage: node make_history.mjs FILE [--ops N >= 50]');
  process.exit(2);
}
const faults = [  // [open, close, f, value, family]
  [0.25, 0.40, 'partition', '1,2 | 3,4,5', 'heal', 'net'],
  [0.55, 0.65, 'kill', '3', 'start', 'kill'],
  [0.78, 0.82, 'pause', '2', 'resume', 'pause'],
];
const at = (fraction) => Math.floor(fraction * total) * kOpNs - kGapNs;
const nemesis = [];
for (const [a, b, f, value, end] of faults) {
  nemesis.push({ time: at(a), f, value });
  nemesis.push({ time: at(b), f: end, value });
}
const lines = [];
const line = (o) => lines.push(JSON.stringify(o));
const register = new Array(kKeys).fill(null);
const previous = new Array(kKeys).fill(null);
let staleIndex = -1, staleTime = 0, next = 0;
for (let i = 0; i < total; i++) {
  const t = i * kOpNs;
  while (next < nemesis.length && nemesis[next].time <= t) {
    const n = nemesis[next++];
    line({ process: 'nemesis', type: 'info', f: n.f, value: n.value, time: n.time });
  }
  const process_ = i % kProcesses, k = (i * 7 + Math.floor(i / kKeys)) % kKeys, key = 'k' + k;
  if (i % 2 === 0) {
    const value = 'v' + i, fails = i % kFailEvery === 0;
    line({ process: process_, type: 'invoke', f: 'put', key, value, time: t });
    line({ process: process_, type: fails ? 'fail' : 'ok', f: 'put', key, time: t + kOpLengthNs });
    if (!fails) { previous[k] = register[k]; register[k] = value; }
    continue;
  }
  let value = register[k];
  if (staleIndex < 0 && k === kStaleKey && i >= kStaleAt * total && previous[k] !== null) {
    value = previous[k];  // a read of a value overwritten before it began
    staleIndex = i;
    staleTime = t;
  }
  line({ process: process_, type: 'invoke', f: 'get', key, time: t });
  line({ process: process_, type: 'ok', f: 'get', key, value, time: t + kOpLengthNs });
}
if (staleIndex < 0) {
  console.error('make_history: no stale read planted');
  process.exit(1);
}
writeFileSync(file, lines.join('\n') + '\n');
writeFileSync(file + '.expect.json', JSON.stringify({
  keys: kKeys, ops: total, staleKey: '"k' + kStaleKey + '"', staleIndex, staleTime,
  bands: faults.map(([a, b, f, , , family]) => ({ family, from: at(a), to: at(b), f })),
}, null, 1));
