// Opens the page of a running `raftlab ui` (URL) in headless Chromium (only its own origin may
// be requested) against a live 5-node cluster started with --no-prevote (so a campaign sends
// RequestVote at once), and drives it by clicks as a user would: five nodes and one leader
// drawn; kill on the leader's menu -> another leader drawn within kNewLeaderMs; cut on a
// link's menu -> `raftlab faults --json` shows both directions, and heal on it removes them;
// hold RequestVote, campaign a follower -> its held messages drawn; deliver one from its menu
// -> a dot moves from that sender to that receiver; the time slider replays the trace (the old
// leader before the kill, another after it); release and a put from the form; no console
// error. Saves OUT-held.png (held votes drawn) and OUT.png (healthy again).
// Usage: node check_ui.mjs URL RAFTLAB_BINARY DIR OUT.png  (RAFTLAB_BROWSER_NODE: modules)
import { execFileSync } from 'node:child_process';

import { check, runPage } from './page_harness.mjs';

const kOpenMsMax = 5000;       // the page and its first state event
const kNewLeaderMs = 2000;     // issue 15: another leader shown within 2 s of the click
const kActionMs = 12000;       // an action's answer (the server's bound is 10 s)
const kShownMs = 3000;         // a change the status or trace shows, drawn by then
const kRateWindowMs = 2000;     // the state event rate, counted over this
const kStateRateMin = 10;       // issue 15: at least 10 updates a second
const kDotSampleMs = 80;         // two looks at a dot in flight, this far apart
const kHealthyMs = 8000;       // an election after the release of the held votes
const kReplayStepMs = 100;     // replay: the slider scans after the kill in steps of this
const kReplaySlackMs = 3000;   // ... up to the time the live page took to show it, plus this
const [url, raftlab, dir, out_png] = process.argv.slice(2);

const ui = (page) => page.evaluate(() => JSON.parse(JSON.stringify(window.raftlabUi)));
const faults = () => JSON.parse(execFileSync(raftlab, ['faults', '--json', '--dir', dir]).toString());
const hasCut = (F, a, b) => (F.cuts || []).some((c) => c[0] === a && c[1] === b);

// Clicks what S.<point>(...args) places (a node, a link, a held message), then the menu's
// button `button`, and waits for the action's answer.
// A click can land while the page redraws (a state event every 50 ms); it is tried again, at
// most kClickTries times, and a failure says what was under the pointer.
const kClickTries = 3;
async function menuAction(page, point, args, button) {
  let under = '';
  for (let attempt = 1; ; ++attempt) {
    const p = await page.evaluate((f, a) => window.raftlabUi[f](...a), point, args);
    if (!p) throw new Error(`nothing drawn at ${point}(${args})`);
    await page.mouse.click(p.x, p.y);
    try {
      await page.waitForSelector('#menu ' + button, { visible: true, timeout: kShownMs / kClickTries });
      break;
    } catch (e) {
      under = await page.evaluate((x, y) => {
        const el = document.elementFromPoint(x, y);
        return `${el ? el.tagName + '#' + el.id + '.' + el.getAttribute('class') : 'nothing'}; menu: ` +
          document.getElementById('menu').style.display + ' ' + document.getElementById('menu').textContent;
      }, p.x, p.y);
      console.log(`${point}(${args}): no ${button} after click ${attempt} at ${p.x},${p.y} (under it: ${under})`);
      if (attempt === kClickTries) throw new Error(`${point}(${args}): no menu button ${button}: ${under}`);
    }
  }
  const before = (await ui(page)).lastAction;
  await page.click('#menu ' + button);
  await page.waitForFunction((b) => { const a = window.raftlabUi.lastAction;
    return a && a !== b && !a.pending; }, { timeout: kActionMs }, before);
  const a = (await ui(page)).lastAction;
  check(a.ok === true && a.exit === 0, `${point}(${args}) ${button}: ${JSON.stringify(a)}`);
  return a;
}

async function killLeader(page) {
  await page.waitForFunction(() => { const S = window.raftlabUi;
    return S.nodes.length === 5 && S.leaders.length === 1; }, { timeout: kShownMs });
  const v = await ui(page);
  check(v.nodes.length === 5, `${v.nodes.length} nodes drawn`);
  const old = v.leaders[0];
  console.log(`5 nodes, leader n${old}; killing it from its menu`);
  const clicked = Date.now();
  await menuAction(page, 'nodePoint', [old], 'button[data-verb=kill]');
  try {
    await page.waitForFunction((o) => { const S = window.raftlabUi;
      return S.leaders.length === 1 && S.leaders[0] !== o &&
        S.nodes.find((n) => n.id === o).process === 'stopped'; }, { timeout: kNewLeaderMs, polling: 20 }, old);
  } catch (e) {
    check(false, `no other leader drawn within ${kNewLeaderMs} ms: ${JSON.stringify((await ui(page)).nodes)}`);
  }
  const now = await ui(page), shown_ms = Date.now() - clicked;
  console.log(`new leader n${now.leaders[0]} drawn ${shown_ms} ms after the click`);
  return { old: old, leader: now.leaders[0], shown_ms: shown_ms };
}

async function cutAndHeal(page, a, b) {
  await menuAction(page, 'linkPoint', [a, b], 'button[data-verb=cut]:not([data-one-way])');
  const F = faults();
  check(hasCut(F, a, b) && hasCut(F, b, a), `faults --json after the cut ${a}-${b}: ${JSON.stringify(F)}`);
  await page.waitForFunction(() => document.querySelectorAll('#linksG .cut').length === 2, { timeout: kShownMs })
    .catch(() => check(false, 'the cut is not drawn on the link'));
  await menuAction(page, 'linkPoint', [a, b], 'button[data-verb=heal-link]');
  const G = faults();
  check(!hasCut(G, a, b) && !hasCut(G, b, a), `faults --json after the link's heal: ${JSON.stringify(G)}`);
  console.log(`cut ${a}-${b} from the link's menu, seen by faults --json, healed`);
}

// Holds RequestVote, makes `c` campaign, delivers one of its held votes to a running node and
// watches the dot move from c to it.
async function holdAndDeliver(page, c, down) {
  await page.select('#holdType', 'RequestVote');
  await page.click('#hold');
  await page.waitForFunction(() => { const a = window.raftlabUi.lastAction; return a && !a.pending &&
    a.request.verb === 'hold'; }, { timeout: kActionMs });
  check((await ui(page)).lastAction.ok === true, `hold: ${JSON.stringify((await ui(page)).lastAction)}`);
  await menuAction(page, 'nodePoint', [c], 'button[data-verb=campaign]');
  await page.waitForFunction((c) => window.raftlabUi.held.some((id) => id.startsWith(c + '.')) &&
    document.querySelectorAll('#heldG rect.held').length > 0, { timeout: kShownMs }, c);
  const held = await page.evaluate(() => document.querySelectorAll('#heldG rect.held').length);
  const ids = (await ui(page)).held;
  console.log(`n${c} campaigned: ${ids.length} held (${ids.join(' ')}), ${held} drawn`);
  const list = await page.evaluate(() => Array.from(document.querySelectorAll('#heldList div')).map((d) => d.textContent));
  const target = list.map((t) => t.match(/(\d+\.\d+) (\d+)->(\d+) RequestVote/)).find((m) =>
    m && Number(m[2]) === c && Number(m[3]) !== down);
  if (!target) return check(false, `no held RequestVote of n${c} to a running node: ${list}`);
  const [id, to] = [target[1], Number(target[3])];
  const started = (await ui(page)).dotsStarted;
  await menuAction(page, 'heldPoint', [id], 'button[data-verb=deliver]');
  const seen = await page.waitForFunction((c, to) => window.raftlabUi.dots.some((d) =>
    d.type === 'RequestVote' && d.from === c && d.to === to && d.kind === 'fly' && d.f < 0.6),
    { timeout: kShownMs, polling: 'raf' }, c, to).then(() => true, () => false);
  check(seen, `no RequestVote dot n${c} -> n${to} after delivering ${id} (dots started ${started} -> ${(await ui(page)).dotsStarted})`);
  if (!seen) return;
  const moved = await page.evaluate(async (c, to, ms) => {
    const at = () => window.raftlabUi.dots.find((d) => d.type === 'RequestVote' && d.from === c && d.to === to);
    const a = at();
    await new Promise((r) => setTimeout(r, ms));
    const b = at();
    return { a: a, b: b };
  }, c, to, kDotSampleMs);
  check(moved.a && moved.b && moved.b.f > moved.a.f && (moved.a.x !== moved.b.x || moved.a.y !== moved.b.y),
        `the dot did not move: ${JSON.stringify(moved)}`);
  check(!(await ui(page)).held.includes(id), `${id} is still listed as held after its delivery`);
  console.log(`delivered ${id}: a RequestVote dot n${c} -> n${to} moved ${JSON.stringify(moved)}`);
}

// The slider over /api/timeline: the old leader leads just before the kill, and another leads
// at some moment after the kill's record, found by scanning forward from it, at most as long
// as the live page took to show it plus kReplaySlackMs. (A fixed moment is not enough: the
// kill is recorded after it happened, later still when the kill command starts slowly, and
// the campaign that follows the kill in this test deposes the new leader.)
async function replay(page, old, shown_ms) {
  await page.click('#replay');
  await page.waitForFunction(() => window.raftlabUi.mode === 'replay', { timeout: kActionMs });
  const marks = await page.evaluate(() => window.raftlabUi.replayMarks);
  const kill = marks.find((m) => new RegExp(`^kill ${old}\\b`).test(m.text));
  if (!kill) return check(false, `no kill of n${old} in the replayed trace: ${JSON.stringify(marks)}`);
  await page.evaluate((t) => window.raftlabUi.setReplayTime(t), kill.t - 1);
  const before = (await ui(page)).leaders;
  const end = (await ui(page)).replayEnd;
  let at = null;
  let after = [];
  for (let ms = 0; ms <= shown_ms + kReplaySlackMs && kill.t + ms * 1000 <= end; ms += kReplayStepMs) {
    await page.evaluate((t) => window.raftlabUi.setReplayTime(t), kill.t + ms * 1000);
    at = await ui(page);
    after = at.leaders;
    if (after.length >= 1 && !after.includes(old)) break;
  }
  check(before.length === 1 && before[0] === old, `replay: leaders before the kill ${before}, not n${old}`);
  check(after.length >= 1 && !after.includes(old),
        `replay: no leader but n${old} within ${shown_ms + kReplaySlackMs} ms after the kill ` +
        `(${kill.t} us); at ${at && at.replayTime} us: ${JSON.stringify(at && at.nodes)}`);
  console.log(`replay: leader n${before} before the kill, n${after} after`);
  await page.click('#live');
  await page.waitForFunction(() => window.raftlabUi.mode === 'live', { timeout: kShownMs });
}

// Release every hold (the held votes go on, an election completes), then a put from the form:
// the screenshot shows a healthy cluster.
async function healthy(page) {
  await page.click('#release');
  await page.waitForFunction(() => { const S = window.raftlabUi;
    return S.leaders.length === 1 && S.held.length === 0; }, { timeout: kHealthyMs })
    .catch(async () => check(false, `no leader after the release: ${JSON.stringify((await ui(page)).nodes)}`));
  const before = (await ui(page)).logText;
  await page.click('#put');
  await page.waitForFunction((b) => { const a = window.raftlabUi.lastAction;
    return a && a.request.verb === 'put' && !a.pending && window.raftlabUi.logText !== b; },
    { timeout: kActionMs }, before).catch(() => 0);
  const a = (await ui(page)).lastAction;
  check(a.request.verb === 'put' && a.ok === true, `put from the form: ${JSON.stringify(a)}`);
  console.log(`released: leader n${(await ui(page)).leaders}; put: ${a.output.trim()}`);
}

// Issue 15: at least 10 updates a second, counted as the page receives them.
async function stateRate(page) {
  const a = (await ui(page)).states;
  await new Promise((r) => setTimeout(r, kRateWindowMs));
  const rate = ((await ui(page)).states - a) * 1000 / kRateWindowMs;
  check(rate >= kStateRateMin, `${rate} state events a second (min ${kStateRateMin})`);
  console.log(`the page receives ${rate} state events a second`);
}

await runPage({ url: url, ready: 'window.raftlabUi && window.raftlabUi.ready',
               viewport: { width: 1300, height: 1000 }, open_ms_max: kOpenMsMax }, async (page) => {
  await stateRate(page);
  const { old, leader, shown_ms } = await killLeader(page);
  const followers = (await ui(page)).nodes.filter((n) => n.id !== old && n.id !== leader).map((n) => n.id);
  await cutAndHeal(page, followers[0], followers[1]);
  await holdAndDeliver(page, followers[2], old);
  await replay(page, old, shown_ms);
  await page.screenshot({ path: out_png.replace(/\.png$/, '-held.png'), fullPage: true });
  await healthy(page);
  const v = await ui(page);
  console.log(`${v.states} state events, ${v.traceRecords} trace records, ${v.dotsStarted} dots started, ` +
              `${v.thinned} heartbeat dots thinned, ${v.skipped} records skipped by the server`);
  await page.screenshot({ path: out_png, fullPage: true });
});
