// What every browser test here does around its own checks: start Debian's chromium headless
// through puppeteer-core (installed by run.sh into RAFTLAB_BROWSER_NODE), open one page from
// file:// (or, with `url`, from a local server: then its own origin is allowed too) with every
// other request failed and counted, wait until the page says it has drawn,
// time that, run the test's checks, then fail on any console error or network request, print
// each failure and exit 1 if there was one.
import { createRequire } from 'node:module';
import { resolve } from 'node:path';

const require = createRequire(resolve(process.env.RAFTLAB_BROWSER_NODE || '.', 'noop.js'));
const puppeteer = require('puppeteer-core');

const kChromium = process.env.CHROMIUM || '/usr/bin/chromium';
const kReadyTimeoutMs = 15000;  // the page must have drawn by then

export const failures = [];
export const check = (ok, what) => { if (!ok) failures.push(what); };

// Opens page_path (or url), waits for `ready` (a JS expression) to hold, requires the open to
// take under open_ms_max, then awaits body(page). Exits the process with the verdict.
export async function runPage({ path, url, ready, viewport, open_ms_max }, body) {
  const origin = url ? new URL(url).origin + '/' : null;
  const browser = await puppeteer.launch({
    executablePath: kChromium, headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-extensions'],
  });
  const page_errors = [], blocked = [];
  try {
    const page = await browser.newPage();
    await page.setViewport(viewport);
    await page.setRequestInterception(true);
    page.on('request', (r) => {
      if (r.url().startsWith('file:') || (origin && r.url().startsWith(origin))) return r.continue();
      blocked.push(r.url());
      return r.abort('internetdisconnected');
    });
    page.on('console', (m) => { if (m.type() === 'error') page_errors.push(m.text()); });
    page.on('pageerror', (e) => page_errors.push(String(e)));
    const started = Date.now();
    await page.goto(url || 'file://' + resolve(path), { waitUntil: 'load' });
    await page.waitForFunction(ready, { timeout: kReadyTimeoutMs });
    const open_ms = Date.now() - started;
    console.log(`opened in ${open_ms} ms`);
    check(open_ms < open_ms_max, `opening took ${open_ms} ms (max ${open_ms_max})`);
    await body(page);
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
}
