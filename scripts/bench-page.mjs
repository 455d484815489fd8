// Runs one benchmark page of www/ in headless Chromium, served by the real static server,
// and returns what the page leaves in `window.benchResults` (with the browser version).
import { chromium } from 'playwright-core';
import { startServer } from './serve.mjs';
import { chromiumArgs } from './browsers.mjs';

export async function runBenchPage(path, timeout = 300_000) {
  const { server, url } = await startServer();
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: chromiumArgs() });
  try {
    const page = await browser.newPage();
    await page.goto(`${url}${path}`);
    await page.waitForFunction(() => window.benchResults, null, { timeout });
    const r = await page.evaluate(() => window.benchResults);
    if (r.error) throw new Error(r.error);
    return { ...r, browser: `chromium ${browser.version()}` };
  } finally {
    await browser.close();
    server.close();
  }
}
