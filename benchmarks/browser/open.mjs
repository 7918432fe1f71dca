/**
 * Open notebooks in Debian's Chromium (playwright-core, no browser download) and
 * time "rendered and interactive". Driven by benchmarks/bench_browser.py:
 *
 *   node open.mjs plan.json   ->  one JSON line per visit on stdout
 *
 * plan.json: { url, token, runs, screenshots, profile, items: [{ name, path, rendered, count }] }
 *
 * With `profile` (a folder), every visit also records a V8 CPU profile through
 * the DevTools protocol (`<name>-<run>.cpuprofile`, open it in Chrome DevTools
 * or aggregate it with `python -m benchmarks.browser_profile`).
 *
 * One visit = a fresh browser context (no cache, no storage) and a fresh
 * JupyterLab workspace; the clock starts before navigation and stops when
 *   1. `count` elements match the item's `rendered` selector (every cell's
 *      output or markdown rendered), and
 *   2. the notebook answers input: a click on the first cell's prompt, then
 *      `j` (command mode: next cell) makes the second cell the active one.
 * Items alternate within each run (A B, then B A) so drift hits both alike.
 * After each visit the page's sessions are shut down (no kernels pile up).
 */
import { chromium } from 'playwright-core';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const plan = JSON.parse(readFileSync(process.argv[2], 'utf-8'));
const auth = { Authorization: `token ${plan.token}` };
const TIMEOUT = 180_000;

const browser = await chromium.launch({
  executablePath: plan.executable ?? '/usr/bin/chromium',
  headless: true,
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run'
  ]
});

async function shutdownSessions() {
  const response = await fetch(`${plan.url}api/sessions`, { headers: auth });
  for (const session of await response.json()) {
    await fetch(`${plan.url}api/sessions/${session.id}`, {
      method: 'DELETE',
      headers: auth
    });
  }
}

async function visit(item, index) {
  const context = await browser.newContext({
    viewport: { width: 1280, height: 900 },
    extraHTTPHeaders: auth
  });
  const page = await context.newPage();
  const workspace = `bench-${item.name}-${index}`;
  const url = `${plan.url}lab/workspaces/${workspace}/tree/${item.path}`;
  const cells = page.locator(
    '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell'
  );
  let cdp = null;
  if (plan.profile) {
    cdp = await context.newCDPSession(page);
    await cdp.send('Profiler.enable');
    await cdp.send('Profiler.setSamplingInterval', { interval: 500 });
    await cdp.send('Profiler.start');
  }
  try {
    const start = performance.now();
    await page.goto(url, { waitUntil: 'commit', timeout: TIMEOUT });
    await page.waitForFunction(
      ([selector, count]) =>
        document.querySelectorAll(selector).length >= count,
      [item.rendered, item.count],
      { timeout: TIMEOUT, polling: 'raf' }
    );
    const rendered = performance.now() - start;
    await cells.first().locator('.jp-InputPrompt').click({ timeout: TIMEOUT });
    await page.keyboard.press('j');
    await page.waitForFunction(
      () => {
        const all = document.querySelectorAll(
          '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell'
        );
        return all.length > 1 && all[1].classList.contains('jp-mod-active');
      },
      null,
      { timeout: TIMEOUT, polling: 'raf' }
    );
    const interactive = performance.now() - start;
    if (plan.screenshots) {
      await page.screenshot({
        path: join(plan.screenshots, `${item.name}-${index}.png`)
      });
    }
    const cellCount = await cells.count();
    if (cdp) {
      const { profile } = await cdp.send('Profiler.stop');
      writeFileSync(
        join(plan.profile, `${item.name}-${index}.cpuprofile`),
        JSON.stringify(profile)
      );
    }
    return {
      name: item.name,
      run: index,
      rendered,
      interactive,
      cells: cellCount
    };
  } finally {
    await context.close();
    await shutdownSessions();
  }
}

try {
  for (let run = 0; run < plan.runs; run++) {
    const items = run % 2 === 0 ? plan.items : [...plan.items].reverse();
    for (const item of items) {
      const result = await visit(item, run);
      process.stdout.write(JSON.stringify(result) + '\n');
    }
  }
} finally {
  await browser.close();
}
