// Runs one benchmark page of www/ in a headless browser (Chromium or Firefox), served by the
// real static server, and returns what the page leaves in `window.benchResults` (with the
// browser version).
import { startServer } from './serve.mjs';
import { launch } from './drive.mjs';

export async function runBenchPage(path, { browser = 'chromium', timeout = 300_000 } = {}) {
  const { server, url } = await startServer();
  const b = await launch(browser);
  try {
    const page = await b.newPage();
    await page.goto(`${url}${path}`);
    const r = await page.waitFor(() => window.benchResults, undefined, timeout);
    if (r.error) throw new Error(`${path} in ${browser}: ${r.error}`);
    return { ...r, browser: b.version };
  } finally {
    await b.close();
    server.close();
  }
}
