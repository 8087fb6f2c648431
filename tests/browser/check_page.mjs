// Opens a `raftlab check --html` page in headless Chromium (file://, every other request
// failed and counted) and checks what it draws against HISTORY.expect.json (make_history.mjs):
// the overview shows every key and every fault band and marks the violation; one lane per node
// of the cluster, with the leader's band (in the leader's colour, read from the canvas) where
// the cluster had one and the killed node dead; a click on the violation zooms to it, lanes
// still drawn; the zoom buttons and a fault button change the range; no console error; no
// network request. Saves OUT_PREFIX-overview.png and OUT_PREFIX-zoomed.png.
// Usage: node check_page.mjs PAGE.html HISTORY.expect.json OUT_PREFIX  (NODE_PATH: puppeteer-core)
import { readFileSync } from 'node:fs';

import { check, failures, runPage } from './page_harness.mjs';

const kOpenMsMax = 5000;        // opening (load to first draw) must stay under this
const [page_path, expect_path, out_prefix] = process.argv.slice(2);
const expect = JSON.parse(readFileSync(expect_path, 'utf8'));

await runPage({ path: page_path, ready: 'window.raftlabView && window.raftlabView.ready',
               viewport: { width: 1400, height: 1000 }, open_ms_max: kOpenMsMax }, async (page) => {
  const view = () => page.evaluate(() => JSON.parse(JSON.stringify(window.raftlabView)));
  // The colour drawn at node `node`'s lane at time t of the detail view, as #rrggbb.
  const lane_colour = (node, t) => page.evaluate((node, t) => {
    const p = window.raftlabView.lanePoint(node, t), c = document.getElementById('main');
    if (!p) return null;
    const dpr = c.width / c.clientWidth;
    const d = c.getContext('2d').getImageData(Math.round(p.x * dpr), Math.round(p.y * dpr), 1, 1).data;
    return '#' + [d[0], d[1], d[2]].map((v) => v.toString(16).padStart(2, '0')).join('');
  }, node, t);
  // A drawn band of `role` on `node`'s lane covering the stretch s.from..s.to.
  const covers = (v, node, role, s) => (v.laneBands || []).some(
    (b) => b.node === node && b.role === role && b.from <= s.from && b.to >= s.to);
  const L = expect.lanes;

  // The overview: the whole run, every key, every band, the violation marked.
  const v0 = await view();
  check(v0.from === 0 && v0.to === v0.full, `opens on ${v0.from}..${v0.to}, not the whole run`);
  check(v0.overviewKeyRows === expect.keys, `overview key rows ${v0.overviewKeyRows} != ${expect.keys}`);
  check(v0.overviewBands === expect.bands.length,
        `overview bands ${v0.overviewBands} != ${expect.bands.length}`);
  check(v0.mainBands === expect.bands.length, `detail bands ${v0.mainBands} != ${expect.bands.length}`);
  check(v0.opsDrawn === expect.ops, `ops drawn at the whole run ${v0.opsDrawn} != ${expect.ops}`);
  check(v0.violation && v0.violation.marked, 'the violation is not marked');
  check(v0.violation && v0.violation.key === expect.staleKey, `violation key ${v0.violation?.key}`);
  check(v0.violation && v0.violation.ops.includes(expect.staleIndex),
        `the planted stale read (op ${expect.staleIndex}) is not among the violation's ops`);

  // The lanes: one per node; each leader where the cluster had one, alone, in its colour.
  check(v0.lanes === L.count && v0.lanesDrawn === L.count,
        `lanes: ${v0.lanes} in the data, ${v0.lanesDrawn} drawn, want ${L.count}`);
  for (const s of L.leaders) {
    check(covers(v0, s.node, 'leader', s), `no leader band on node ${s.node} over ${s.from}..${s.to}`);
    const others = (v0.laneBands || []).filter(
      (b) => b.role === 'leader' && b.node !== s.node && b.from < s.to && b.to > s.from);
    check(others.length === 0, `another leader while node ${s.node} led: node ${others[0]?.node}`);
    const colour = await lane_colour(s.node, (s.from + s.to) / 2);
    check(colour === v0.roleColors.leader,
          `node ${s.node}'s lane is drawn ${colour} mid-lead, not the leader's ${v0.roleColors.leader}`);
  }
  for (const s of L.dead) {
    check(covers(v0, s.node, 'dead', s), `node ${s.node} not dead over ${s.from}..${s.to}`);
    const colour = await lane_colour(s.node, (s.from + s.to) / 2);
    check(colour === v0.roleColors.dead, `node ${s.node}'s lane is ${colour} while dead`);
  }
  await page.screenshot({ path: out_prefix + '-overview.png' });

  // A click on the violation's marker zooms to it.
  const p = await page.evaluate(() => window.raftlabView.point('violation'));
  await page.mouse.click(p.x, p.y);
  const v1 = await view();
  check(v1.to - v1.from < v0.full / 10, `after the click the range is ${v1.from}..${v1.to}`);
  check(v1.from <= expect.staleTime && v1.to >= expect.staleTime,
        `after the click ${v1.from}..${v1.to} misses the stale read at ${expect.staleTime}`);
  check(v1.opsDrawn > 0 && v1.opsDrawn < expect.ops, `ops drawn when zoomed: ${v1.opsDrawn}`);
  // Zoomed to the violation, the lanes say who led at that moment.
  const leader_then = L.leaders.find((s) => s.from <= expect.staleTime && s.to >= expect.staleTime);
  check(leader_then && covers(v1, leader_then.node, 'leader', { from: v1.from, to: v1.to }),
        `zoomed to the violation, no leader band on node ${leader_then?.node} across the view`);
  await page.screenshot({ path: out_prefix + '-zoomed.png' });

  // Zoom out and in with the buttons.
  await page.click('#zoom-out');
  const v2 = await view();
  check(v2.to - v2.from > v1.to - v1.from, 'zoom out did not widen the range');
  await page.click('#zoom-in');
  const v3 = await view();
  check(v3.to - v3.from < v2.to - v2.from, 'zoom in did not narrow the range');

  // Each fault: its button zooms to it.
  const buttons = await page.$$('#faults button.fault');
  check(buttons.length === expect.bands.length, `${buttons.length} fault buttons`);
  for (let i = 0; i < buttons.length && i < expect.bands.length; i++) {
    await buttons[i].click();
    const v = await view(), b = expect.bands[i];
    check(v.from <= b.from && v.to >= b.to && v.to - v.from < v0.full,
          `fault ${b.f}: range ${v.from}..${v.to} does not frame ${b.from}..${b.to}`);
  }
  // A click on a fault band in the overview zooms to it too.
  await page.click('#zoom-all');
  const q = await page.evaluate(() => window.raftlabView.point(0));
  await page.mouse.click(q.x, q.y);
  const v4 = await view();
  check(v4.from <= expect.bands[0].from && v4.to >= expect.bands[0].to && v4.to - v4.from < v0.full,
        `overview click on the first fault: ${v4.from}..${v4.to}`);
});
