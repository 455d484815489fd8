// One way to open pages in either browser, with the flags and prefs of webdriver.json:
// playwright-core drives Chromium, puppeteer-core drives Firefox ESR (playwright cannot
// drive a stock Firefox). Both answer goto / evaluate / reload / close.
import { chromium } from 'playwright-core';
import puppeteer from 'puppeteer-core';
import { chromiumArgs, firefoxPrefs } from './browsers.mjs';

/** Launches `name` ('chromium' | 'firefox'); `newPage()` gives a page in a fresh profile
 * context on Chromium (so per-origin overrides stay in one test) and in the one Firefox
 * profile. */
export async function launch(name) {
  if (name === 'chromium') {
    const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: chromiumArgs() });
    return {
      name,
      version: `chromium ${browser.version()}`,
      async newPage() {
        const context = await browser.newContext();
        const page = await context.newPage();
        return wrap(page, () => context.close(), () => context.newCDPSession(page));
      },
      close: () => browser.close(),
    };
  }
  if (name === 'firefox') {
    const browser = await puppeteer.launch({
      browser: 'firefox',
      executablePath: '/usr/bin/firefox-esr',
      headless: true,
      extraPrefsFirefox: firefoxPrefs(),
    });
    return {
      name,
      version: `firefox ${(await browser.version()).replace(/^firefox\//i, '')}`,
      async newPage() {
        const page = await browser.newPage();
        return wrap(page, () => page.close(), null);
      },
      close: () => browser.close(),
    };
  }
  throw new Error(`unknown browser ${name}`);
}

function wrap(page, close, cdp) {
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message ?? String(e)));
  return {
    page,
    errors,
    goto: (url) => page.goto(url),
    reload: () => page.reload(),
    evaluate: (fn, arg) => page.evaluate(fn, arg),
    /** A CDP session (Chromium only), for Storage.overrideQuotaForOrigin and the like. */
    cdp,
    close,
  };
}

/** The browsers a test file should run in: $BROWSERS (comma-separated) or both. */
export function browsersToTest() {
  return (process.env.BROWSERS ?? 'chromium,firefox').split(',').filter(Boolean);
}
