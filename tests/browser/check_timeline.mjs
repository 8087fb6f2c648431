// Opens a `raftlab timeline --html` page in headless Chromium (file://, every other request
// failed and counted) and checks what it draws against EXPECT.json (written by run.sh from
// `raftlab timeline --json`): one lane per node; the leader band moves from the killed node to
// another after the kill; the arrows drawn match the trace's message count, for the whole run
// and for a window; the time slider changes the drawn logs; a click on an arrow shows its
// fields; no console error; no network request; it opens in under kOpenMsMax. Saves
// OUT.png. With "large": true in EXPECT only the lanes, the shown/total line and the open time
// are checked (a trace past the page's message cap).
// Usage: node check_timeline.mjs PAGE.html EXPECT.json OUT.png  (RAFTLAB_BROWSER_NODE: modules)
import { readFileSync } from 'node:fs';

import { check, failures, runPage } from './page_harness.mjs';

const kOpenMsMax = 3000;  // issue 13: a 60 s bench's trace opens in under 3 s
const [page_path, expect_path, out_png] = process.argv.slice(2);
const expect = JSON.parse(readFileSync(expect_path, 'utf8'));

await runPage({ path: page_path, ready: 'window.raftlabTimeline && window.raftlabTimeline.ready',
               viewport: { width: 1400, height: 900 }, open_ms_max: kOpenMsMax }, async (page) => {
  const S = () => page.evaluate(() => JSON.parse(JSON.stringify(window.raftlabTimeline)));
  const v0 = await S();
  check(v0.lanes === expect.lanes, `lanes ${v0.lanes} != ${expect.lanes}`);
  check(v0.total === expect.messages, `the page counts ${v0.total} messages, the trace ${expect.messages}`);
  const sum = await page.$eval('#sum', (e) => e.textContent);
  check(sum.includes(`showing ${v0.shown} of ${v0.total} messages`), `summary: ${sum}`);
  if (expect.large) {
    console.log(`large: ${sum}`);
  } else {
    check(v0.shown === v0.total, `${v0.shown} of ${v0.total} shown in a small run`);
    check(v0.arrowsDrawn === expect.paired, `arrows drawn ${v0.arrowsDrawn} != paired ${expect.paired}`);
    const before = await page.evaluate((t) => window.raftlabTimeline.leadersAt(t), expect.kill_us - 1);
    check(before.includes(expect.killed), `before the kill the leader is ${before}, not ${expect.killed}`);
    const bands = await page.evaluate(() => window.raftlabTimeline.leaderBands());
    const after = bands.filter((b) => b.from > expect.kill_us);
    check(after.length > 0 && after[0].node !== expect.killed,
          `after the kill the leader band is on ${after.map((b) => b.node)}`);
    const killed_band = bands.find((b) => b.node === expect.killed && b.from < expect.kill_us);
    check(killed_band && killed_band.to <= expect.kill_us,
          `the killed leader's band does not end at the kill: ${JSON.stringify(killed_band)}`);
    // A window around the kill: the arrows sent in it, against `timeline --json --since --until`.
    await page.evaluate((a, b) => window.raftlabTimeline.setView(a, b), expect.window.from_us,
                        expect.window.to_us);
    const vw = await S();
    check(vw.from === expect.window.from_us && vw.to === expect.window.to_us, `window ${vw.from}..${vw.to}`);
    check(vw.arrowsSentInView === expect.window.paired,
          `arrows sent in the window ${vw.arrowsSentInView} != ${expect.window.paired}`);
    // One type off: its arrows go.
    await page.evaluate(() => window.raftlabTimeline.setType('AppendEntries', false));
    check((await S()).arrowsSentInView === expect.window.paired - expect.window.append_entries,
          'unchecking AppendEntries did not remove its arrows');
    await page.evaluate(() => window.raftlabTimeline.setType('AppendEntries', true));
    // The slider: the logs drawn at the kill differ from those at the end.
    await page.evaluate(() => window.raftlabTimeline.setView(0, window.raftlabTimeline.full));
    const end_logs = (await S()).logText;
    await page.evaluate((t) => window.raftlabTimeline.setSlider(t), expect.kill_us / 2);
    const mid_logs = (await S()).logText;
    check(mid_logs && end_logs && mid_logs !== end_logs, `the slider did not change the logs: ${mid_logs}`);
    // A click on an arrow shows its fields.
    const p = await page.evaluate(() => window.raftlabTimeline.arrowPoint(0));
    if (p) {
      const box = await (await page.$('#main')).boundingBox();
      await page.mouse.click(box.x + p.x, box.y + p.y);
      const detail = await page.$eval('#detail', (e) => e.textContent);
      check(/ n\d+ -> n\d+ /.test(detail), `a click on an arrow showed: "${detail}"`);
    } else {
      check(false, 'no arrow to click');
    }
    await page.evaluate((t) => window.raftlabTimeline.setSlider(t), expect.kill_us + 1);
  }
  await page.screenshot({ path: out_png, fullPage: true });
});
