// Opens a `raftlab check --html` page in headless Chromium (file://, every other request
// failed and counted) and checks what it draws against HISTORY.expect.json (make_history.mjs):
// the overview shows every key and every fault band and marks the violation; a click on the
// violation zooms to it; the zoom buttons and a fault button change the range; no console
// error; no network request. Saves OUT_PREFIX-overview.png and OUT_PREFIX-zoomed.png.
// Usage: node check_page.mjs PAGE.html HISTORY.expect.json OUT_PREFIX  (NODE_PATH: puppeteer-core)
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

const require = createRequire(resolve(process.env.RAFTLAB_BROWSER_NODE || '.', 'noop.js'));
const puppeteer = require('puppeteer-core');

const kChromium = process.env.CHROMIUM || '/usr/bin/chromium';
const kReadyTimeoutMs = 15000;  // the page must have drawn by then
const kOpenMsMax = 5000;        // opening (load to first draw) must stay under this
const [page_path, expect_path, out_prefix] = process.argv.slice(2);
const expect = JSON.parse(readFileSync(expect_path, 'utf8'));
const failures = [];
const check = (ok, what) => { if (!ok) failures.push(what); };

const browser = await puppeteer.launch({
  executablePath: kChromium, headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-extensions'],
});
let page_errors = [], blocked = [];
try {
  const page = await browser.newPage();
  await page.setViewport({ width: 1400, height: 1000 });
  await page.setRequestInterception(true);
  page.on('request', (r) => {
    if (r.url().startsWith('file:')) return r.continue();
    blocked.push(r.url());
    return r.abort('internetdisconnected');
  });
  page.on('console', (m) => { if (m.type() === 'error') page_errors.push(m.text()); });
  page.on('pageerror', (e) => page_errors.push(String(e)));
  const started = Date.now();
  await page.goto('file://' + resolve(page_path), { waitUntil: 'load' });
  await page.waitForFunction('window.raftlabView && window.raftlabView.ready',
                             { timeout: kReadyTimeoutMs });
  const open_ms = Date.now() - started;
  console.log(`opened in ${open_ms} ms`);
  check(open_ms < kOpenMsMax, `opening took ${open_ms} ms (max ${kOpenMsMax})`);
  const view = () => page.evaluate(() => JSON.parse(JSON.stringify(window.raftlabView)));

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
  await page.screenshot({ path: out_prefix + '-overview.png' });

  // A click on the violation's marker zooms to it.
  const p = await page.evaluate(() => window.raftlabView.point('violation'));
  await page.mouse.click(p.x, p.y);
  const v1 = await view();
  check(v1.to - v1.from < v0.full / 10, `after the click the range is ${v1.from}..${v1.to}`);
  check(v1.from <= expect.staleTime && v1.to >= expect.staleTime,
        `after the click ${v1.from}..${v1.to} misses the stale read at ${expect.staleTime}`);
  check(v1.opsDrawn > 0 && v1.opsDrawn < expect.ops, `ops drawn when zoomed: ${v1.opsDrawn}`);
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
} catch (e) {
  failures.push('exception: ' + (e && e.stack || e));
} finally {
  await browser.close();
}
check(page_errors.length === 0, 'console errors: ' + page_errors.join(' | '));
check(blocked.length === 0, `${blocked.length} network requests: ${blocked.slice(0, 3).join(' ')}`);
for (const f of failures) console.error('FAIL: ' + f);
console.log(failures.length ? `${failures.length} failures` : 'all checks passed');
process.exit(failures.length ? 1 : 0);
