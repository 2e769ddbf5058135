// Headless Chromium walk through the costflow UI (driven by
// tests/integration/test-web-ui.sh, which starts the server, the scheduler
// daemon and seeds the warehouse). Writes screenshots to CF_SHOTS.
import { chromium } from 'playwright-core';
import { createHash } from 'node:crypto';
import { readFileSync, mkdirSync } from 'node:fs';

const URL = process.env.CF_WEB_URL;
const TOKEN = process.env.CF_WEB_TOKEN;
const SHOTS = process.env.CF_SHOTS;
const UPLOAD = process.env.CF_UPLOAD_FILE;
const SENSOR = process.env.CF_SENSOR === '1';
mkdirSync(SHOTS, { recursive: true });

let passed = 0, failed = 0;
const problems = [];
function ok(what) { passed++; console.log('ok   ' + what); }
function bad(what, e) {
  failed++;
  console.log('FAIL ' + what + (e ? ': ' + (e.message || e).split('\n')[0] : ''));
}
// Polls fn in the page. (waitForFunction would eval a string, which the
// UI's Content-Security-Policy rightly forbids.)
async function waitFor(fn, arg, opts) {
  const end = Date.now() + ((opts && opts.timeout) || 30000);
  for (;;) {
    if (await page.evaluate(fn, arg)) return;
    if (Date.now() > end) throw new Error('timed out waiting for ' + fn);
    await new Promise((r) => setTimeout(r, 150));
  }
}
async function step(what, fn) {
  try { await fn(); ok(what); } catch (e) { bad(what, e); }
}

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
    '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
page.on('pageerror', (e) => problems.push('page error: ' + e.message));
page.on('console', (m) => {
  // 4xx answers the UI handles itself show up as resource errors: ignore
  if (m.type() === 'error' && !/Failed to load resource/.test(m.text()))
    problems.push('console: ' + m.text());
});
const shot = (name, full) => page.screenshot({ path: `${SHOTS}/${name}.png`,
                                              fullPage: !!full });
const T = { timeout: 30000 };

// Hostile names (tests/integration/test-web-ui.sh) must stay text: the
// payload's <img class=xss> must never become an element.
const XSS = '<img src=x class=xss onerror=alert(1)>';
page.on('dialog', (d) => { problems.push('dialog: ' + d.message());
                           d.dismiss(); });
async function noMarkup(where) {
  const n = await page.evaluate(() =>
    document.querySelectorAll('img.xss, img[src="x"]').length);
  if (n) throw new Error(`${n} injected <img> on ${where}`);
}

await step('DAG list shows the DAGs and the import errors', async () => {
  await page.goto(URL + '/#/');
  await page.waitForSelector('tr[data-dag="hello"]', T);
  await page.waitForSelector('text=Import errors (2)', T);
  await shot('01-dags', true);
});

await step('token is set through the dialog', async () => {
  await page.click('#token-btn');
  await page.fill('#token-input', TOKEN);
  await page.click('#token-dlg button[value="save"]');
  await page.waitForSelector('#token-btn.ok', T);
});

await step('trigger a run from the DAG page', async () => {
  await page.click('tr[data-dag="hello"] a.dag-link');
  await page.waitForSelector('#btn-trigger', T);
  await page.click('#btn-trigger');
  await page.fill('#trigger-date', '2025-01-15');
  await page.click('#trigger-go');
  await page.waitForSelector('.sq[data-date="2025-01-15"]', T);
});

await step('the grid shows the run while it is running', async () => {
  await page.waitForSelector('.sq[data-date="2025-01-15"][data-state="running"]',
                             T);
  await shot('02-grid-running');
});

await step('the run succeeds in the grid', async () => {
  await waitFor(() => {
    const c = [...document.querySelectorAll('.sq[data-date="2025-01-15"]')];
    return c.length === 3 && c.every((x) => x.dataset.state === 'success');
  }, null, T);
  await shot('03-grid-success');
});

await step('a task opens with its attempts and log', async () => {
  await page.click('.sq[data-task="load"][data-date="2025-01-15"]');
  await waitFor(() => /read rows=/.test(
    document.getElementById('log')?.textContent || ''), null, T);
  const log = await page.textContent('#log');
  if (!log.includes('42 rows for 2025-01-15')) throw new Error(log);
  await shot('04-task-log');
});

await step('rerun with downstream from the task panel', async () => {
  await page.click('.sq[data-task="transform"][data-date="2025-01-15"]');
  await page.click('text=Rerun with downstream');
  await waitFor(() => {
    const c = [...document.querySelectorAll('.sq[data-date="2025-01-15"]')];
    return c.length === 3 && c.every((x) => x.dataset.state === 'success') &&
      /try 2/.test(document.querySelector(
        '.sq[data-task="load"][data-date="2025-01-15"]').title);
  }, null, T);
});

await step('backfill preview lists the dates', async () => {
  await page.click('summary:has-text("Backfill a range")');
  const inputs = await page.$$('details input[type="date"]');
  await inputs[0].fill('2025-01-13');
  await inputs[1].fill('2025-01-15');
  await page.click('button:has-text("Preview")');
  await page.waitForSelector('details td:has-text("2025-01-13")', T);
  const skip = await page.textContent('details tbody');
  if (!/skip/.test(skip)) throw new Error('no skip for the date that ran');
  await shot('05-backfill-preview', true);
});

await step('the run page shows a Gantt timeline', async () => {
  await page.goto(URL + '/#/dag/hello/run/2025-01-15');
  await page.waitForSelector('#gantt .gantt-bar', T);
  const bars = await page.$$('#gantt .gantt-bar');
  if (bars.length !== 3) throw new Error(bars.length + ' bars');
  await shot('06-run-gantt', true);
});

await step('upload a billing file', async () => {
  await page.goto(URL + '/#/upload');
  await page.setInputFiles('#upload-file', UPLOAD);
  await page.fill('#upload-dir', 'aws/year=2025/month=01/day=20');
  await page.click('#upload-go');
  await page.waitForSelector('#upload-result .sha', T);
  const sha = (await page.textContent('#upload-result .sha')).trim();
  const want = createHash('sha256').update(readFileSync(UPLOAD)).digest('hex');
  if (sha !== want) throw new Error(`sha ${sha} != ${want}`);
  await shot('07-upload');
});

if (SENSOR) {
  await step('the sensor starts a run for the uploaded file', async () => {
    await page.goto(URL + '/#/dag/billing_drop');
    await waitFor(() => {
      const c = [...document.querySelectorAll('.sq[data-date="2025-01-20"]')];
      return c.length > 0 && c.every((x) => x.dataset.state === 'success');
    }, null, { timeout: 60000 });
    await shot('08-sensor-run');
  });
}

await step('cost dashboard shows spend, anomalies and zombies', async () => {
  await page.goto(URL + '/#/costs');
  await page.waitForSelector('#spend-chart path.series', T);
  const total = await page.textContent('#kpi-total .value');
  if (total !== '$44,178.98') throw new Error('total ' + total);
  await page.waitForSelector('#anomalies td:has-text("AmazonEC2")', T);
  await page.waitForSelector('#zombies td:has-text("vol-0abc123")', T);
  await page.waitForSelector('#top-services .bar', T);
  await shot('09-costs', true);
});

await step('hostile billing names are shown as text', async () => {
  await page.waitForSelector('#anomalies td:has-text("' + XSS + ' anomaly")',
                             T);
  await page.waitForSelector('#zombies td:has-text("' + XSS + ' zombie")', T);
  await noMarkup('the cost dashboard');
});

await step('cost dashboard by service', async () => {
  await page.selectOption('#cost-by', 'service');
  await page.waitForSelector('.chart-legend span:has-text("AmazonEC2")', T);
  await waitFor((x) => document.body.textContent.includes(x + ' top'), XSS,
                T);
  await noMarkup('the cost dashboard by service');
  await shot('10-costs-by-service');
});

await step('a hostile description, import error and log stay text',
           async () => {
  await page.goto(URL + '/#/');
  await waitFor((x) => document.body.textContent.includes(
    x + ' in a description') && document.body.textContent.includes(
    x + '.yaml'), XSS, T);
  await noMarkup('the DAG list');
  const res = await page.evaluate(async (tok) => (await fetch(
    '/api/dags/xss/runs', { method: 'POST', headers: {
      Authorization: 'Bearer ' + tok, 'Content-Type': 'application/json' },
    body: '{"date":"2025-01-15"}' })).status, TOKEN);
  if (res !== 201) throw new Error('trigger answered ' + res);
  await page.goto(URL + '/#/dag/xss');
  await page.waitForSelector(
    '.sq[data-task="say"][data-date="2025-01-15"][data-state="success"]', T);
  await page.click('.sq[data-task="say"][data-date="2025-01-15"]');
  await waitFor((x) => (document.getElementById('log')?.textContent || '')
    .includes(x + ' in a log'), XSS, T);
  await noMarkup('the DAG page and its log');
  await shot('11-hostile-text', true);
});

await step('no script errors on any page', async () => {
  if (problems.length) throw new Error(problems.join('; '));
});

await browser.close();
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
