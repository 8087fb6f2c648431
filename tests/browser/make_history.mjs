// Writes a history for the browser test: --ops operations by 5 processes on 5 keys, one after
// another (so linearizable), three faults (a partition, a kill, a pause) and one stale read
// planted on key "k2" at 70% of the run (so not linearizable). Beside it, FILE.expect.json
// says what the page must show: the keys, the fault bands, the planted operation, the lanes;
// and FILE.cluster/n1..n5/events.jsonl, the events of a cluster that ran it (for `check
// --dir`): node 3 leads until it is killed, node 1 is elected after, node 3 comes back.
// Usage: node make_history.mjs FILE [--ops N]
import { mkdirSync, writeFileSync } from 'node:fs';

const kProcesses = 5;
const kKeys = 5;
const kOpNs = 1_000_000;      // one operation starts every 1 ms
const kOpLengthNs = 600_000;  // and takes 0.6 ms
const kFailEvery = 17;        // every 17th put fails (never takes effect)
const kStaleAt = 0.7;         // the planted stale read, as a fraction of the run
const kStaleKey = 2;
const kGapNs = (kOpNs - kOpLengthNs) / 2;  // a fault event falls between two operations
const kNodes = 5;
const kFirstLeader = 3;   // killed by the 'kill' fault below
const kSecondLeader = 1;  // elected after the kill

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

// The cluster's events (cmd/node_process/event_log.cc's lines), on the history's clock.
const [killAt, restartAt] = [faults[1][0], faults[1][1]];
const events = Array.from({ length: kNodes }, () => []);
const ev = (node, fraction, event, fields) =>
  events[node - 1].push({ t_ns: fraction === 0 ? 0 : at(fraction), event, ...fields });
const elect = (leader, term, start) => {
  ev(leader, start, 'role', { role: 'precandidate', from: 'follower', term: term - 1 });
  ev(leader, start + 0.005, 'term', { term, from: term - 1 });
  ev(leader, start + 0.005, 'role', { role: 'candidate', from: 'precandidate', term });
  for (let n = 1; n <= kNodes; n++) {
    if (n !== leader && !(n === kFirstLeader && term > 2)) ev(n, start + 0.008, 'term', { term, from: term - 1 });
  }
  ev(leader, start + 0.01, 'role', { role: 'leader', from: 'candidate', term });
};
for (let n = 1; n <= kNodes; n++) ev(n, 0, 'started', { pid: 100 + n, term: 1 });
elect(kFirstLeader, 2, 0.02);
// kill -9 writes nothing in the node's file: only the history's kill event says it died.
elect(kSecondLeader, 3, killAt + 0.02);
ev(kFirstLeader, restartAt, 'started', { pid: 200, term: 2 });
ev(kFirstLeader, restartAt + 0.005, 'term', { term: 3, from: 2 });
for (let n = 1; n <= kNodes; n++) {
  events[n - 1].sort((a, b) => a.t_ns - b.t_ns);
  mkdirSync(`${file}.cluster/n${n}`, { recursive: true });
  writeFileSync(`${file}.cluster/n${n}/events.jsonl`,
                events[n - 1].map((e) => JSON.stringify(e) + '\n').join(''));
}
// What the lanes must show, with a margin inside each stretch (bands may be wider).
const lanes = {
  count: kNodes,
  leaders: [{ node: kFirstLeader, from: at(0.04), to: at(killAt - 0.01), term: 2 },
            { node: kSecondLeader, from: at(killAt + 0.04), to: at(0.99), term: 3 }],
  dead: [{ node: kFirstLeader, from: at(killAt + 0.01), to: at(restartAt - 0.01) }],
};
writeFileSync(file + '.expect.json', JSON.stringify({
  keys: kKeys, ops: total, staleKey: '"k' + kStaleKey + '"', staleIndex, staleTime,
  bands: faults.map(([a, b, f, , , family]) => ({ family, from: at(a), to: at(b), f })),
  lanes,
}, null, 1));
