// The log explorer driven as a person uses it, in Debian's headless chromium through
// playwright-core: type a search and press Enter, open a result, then use the Log key panel
// (paste a PEM and press "Pin this key", reload, "Unpin", pin a wrong fingerprint, type
// garbage, "Pin the key this server serves now").
//
// usage: node explorer_ui.js LOG_URL QUERY PEM_FILE WRONG_FINGERPRINT OUT_DIR
// Prints one JSON object of what the page showed at each step; exits 1 naming the first step
// whose expectation failed. Screenshots go to OUT_DIR.
'use strict';
const fs = require('fs');
const path = require('path');
const { chromium } = require('playwright-core');

const [log, query, pemFile, wrong, outDir] = process.argv.slice(2);
const pem = fs.readFileSync(pemFile, 'utf8');
const seen = {};
const TIMEOUT = 30000;

function expect(step, cond, detail) {
  if (!cond) throw new Error(`${step}: ${detail}`);
}

async function verdict(page) {
  const v = page.locator('#verdict');
  await v.waitFor({ timeout: TIMEOUT });
  await page.waitForFunction(
    () => document.querySelector('#verdict')?.dataset.state !== 'pending',
    null,
    { timeout: TIMEOUT },
  );
  return { state: await v.getAttribute('data-state'), text: (await v.textContent()).trim() };
}

async function text(page, sel) {
  return (await page.locator(sel).textContent()).trim();
}

async function main() {
  const browser = await chromium.launch({
    executablePath: process.env.VOUCH_CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 1400 } });
    const page = await ctx.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    const requests = new Set();
    page.on('request', (r) => requests.add(new URL(r.url()).origin));

    // 1. The search box submits on Enter.
    await page.goto(`${log}/explorer`);
    await page.locator('#q').fill(query);
    await page.locator('#q').press('Enter');
    const first = page.locator('#results a[href^="#/entry/"]').first();
    await first.waitFor({ timeout: TIMEOUT });
    seen.searchHash = new URL(page.url()).hash;
    seen.results = await page.locator('#results a[href^="#/entry/"]').count();
    seen.resultsText = (await page.locator('#results').textContent()).replace(/\s+/g, ' ').trim().slice(0, 200);
    expect('search on Enter', seen.searchHash === `#/search/${encodeURIComponent(query)}`, `the URL is ${page.url()}`);
    await page.screenshot({ path: path.join(outDir, 'ui-search.png'), fullPage: true });

    // 2. Opening a result verifies it in the browser, trust on first use.
    const href = await first.getAttribute('href');
    await first.click();
    seen.entryHash = new URL(page.url()).hash;
    expect('open a result', seen.entryHash === href, `clicked ${href}, the URL is ${page.url()}`);
    seen.tofu = await verdict(page);
    seen.tofuNotice = await text(page, '#key-notice');
    expect('verify unpinned', seen.tofu.state === 'ok', JSON.stringify(seen.tofu));

    // 3. Paste the log's PEM into the Log key panel and press "Pin this key".
    await page.locator('#key-panel summary').click();
    await page.locator('#pin-input').fill(pem);
    await page.locator('#pin').click();
    await page.waitForFunction(() => /Pinned sha256:/.test(document.querySelector('#pin-message').textContent), null, { timeout: TIMEOUT });
    seen.pinMessage = await text(page, '#pin-message');
    // The panel is redrawn, then the entry re-verified with the pin: wait for both.
    await page.waitForFunction(() => /^Log key pinned/.test(document.querySelector('#key-state').textContent), null, { timeout: TIMEOUT });
    await page.waitForFunction(() => /^Key pinned/.test(document.querySelector('#key-notice')?.textContent || '') && document.querySelector('#verdict')?.dataset.state !== 'pending', null, { timeout: TIMEOUT });
    seen.pinnedState = await text(page, '#key-state');
    seen.pinned = await verdict(page);
    seen.pinnedNotice = await text(page, '#key-notice');
    seen.unpinVisible = await page.locator('#unpin').isVisible();
    expect('pin the PEM', seen.pinned.state === 'ok' && seen.unpinVisible, JSON.stringify(seen));
    await page.screenshot({ path: path.join(outDir, 'ui-pinned.png'), fullPage: true });

    // 4. The pin survives a reload (this origin's storage).
    await page.reload();
    seen.reloaded = await verdict(page);
    seen.reloadedNotice = await text(page, '#key-notice');

    // 5. "Unpin": trust on first use again.
    await page.locator('#key-panel summary').click();
    await page.locator('#unpin').click();
    await page.waitForFunction(() => /^Unpinned/.test(document.querySelector('#pin-message').textContent), null, { timeout: TIMEOUT });
    seen.unpinMessage = await text(page, '#pin-message');
    await page.waitForFunction(() => /not pinned/.test(document.querySelector('#key-state').textContent), null, { timeout: TIMEOUT });
    await page.waitForFunction(() => /^Key not pinned/.test(document.querySelector('#key-notice')?.textContent || '') && document.querySelector('#verdict')?.dataset.state !== 'pending', null, { timeout: TIMEOUT });
    seen.unpinnedState = await text(page, '#key-state');
    seen.unpinned = await verdict(page);
    seen.unpinHidden = !(await page.locator('#unpin').isVisible());

    // 6. A wrong fingerprint pinned: this server's key no longer verifies.
    await page.locator('#pin-input').fill(wrong);
    await page.locator('#pin').click();
    await page.waitForFunction((w) => document.querySelector('#pin-message').textContent.includes(w), wrong, { timeout: TIMEOUT });
    await page.waitForFunction((w) => document.querySelector('#key-state').textContent.includes(w), wrong, { timeout: TIMEOUT });
    await page.waitForFunction(() => document.querySelector('#verdict')?.dataset.state === 'fail', null, { timeout: TIMEOUT });
    seen.wrongPin = await verdict(page);
    await page.screenshot({ path: path.join(outDir, 'ui-wrong-pin.png'), fullPage: true });

    // 7. Garbage is refused, and the previous pin stays.
    await page.locator('#pin-input').fill('not a key!');
    await page.locator('#pin').click();
    await page.waitForFunction(() => /^Not pinned/.test(document.querySelector('#pin-message').textContent), null, { timeout: TIMEOUT });
    seen.garbageMessage = await text(page, '#pin-message');
    seen.garbageState = await text(page, '#key-state');

    // 8. "Pin the key this server serves now" replaces the wrong pin.
    await page.locator('#pin-served').click();
    await page.waitForFunction((w) => /Pinned sha256:/.test(document.querySelector('#pin-message').textContent) && !document.querySelector('#pin-message').textContent.includes(w), wrong, { timeout: TIMEOUT });
    seen.servedMessage = await text(page, '#pin-message');
    await page.waitForFunction((w) => /^Log key pinned/.test(document.querySelector('#key-state').textContent) && !document.querySelector('#key-state').textContent.includes(w), wrong, { timeout: TIMEOUT });
    await page.waitForFunction(() => document.querySelector('#verdict')?.dataset.state === 'ok', null, { timeout: TIMEOUT });
    seen.servedPinned = await verdict(page);
    seen.servedState = await text(page, '#key-state');

    seen.pageErrors = errors;
    seen.origins = [...requests].sort();
  } finally {
    await browser.close();
  }
}

main().then(
  () => console.log(JSON.stringify(seen)),
  (e) => {
    console.log(JSON.stringify(seen));
    console.error('explorer UI failed:', e && e.message ? e.message : e);
    process.exit(1);
  },
);
