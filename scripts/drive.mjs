// One way to open pages in either browser, with the flags and prefs of webdriver.json:
// playwright-core drives Chromium, puppeteer-core drives Firefox ESR (playwright cannot
// drive a stock Firefox). Both answer goto / evaluate / reload / close.
import { chromium } from 'playwright-core';
import puppeteer from 'puppeteer-core';
import { chromiumArgs, firefoxPrefs } from './browsers.mjs';

/** Chromium's flags without the ones that turn WebGPU on (it stays off headless on Linux). */
function withoutWebGpu(args) {
  return args
    .filter((a) => !/^--(enable-unsafe-webgpu|use-webgpu-adapter|use-vulkan)/.test(a))
    .map((a) => (a.startsWith('--enable-features=') ? a.replace(/\bVulkan,?/, '') : a));
}

/** Launches `name` ('chromium' | 'firefox'); `newPage()` gives a page in a fresh profile
 * context on Chromium (so per-origin overrides stay in one test) and in the one Firefox
 * profile. `webgpu: false` launches with the WebGPU flags (prefs) off. */
export async function launch(name, { webgpu = true } = {}) {
  if (name === 'chromium') {
    const args = webgpu ? chromiumArgs() : withoutWebGpu(chromiumArgs());
    const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args });
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
      extraPrefsFirefox: { ...firefoxPrefs(), ...(webgpu ? {} : { 'dom.webgpu.enabled': false }) },
      // One page call may take this long unless set: a long clip on a software WebGPU
      // adapter takes minutes, and on a fresh machine (measured: a cold CI run) Whisper's
      // WebGPU reference on lavapipe ran past puppeteer's default of 180 s.
      protocolTimeout: Number(process.env.PAGE_CALL_TIMEOUT_MS ?? 600_000),
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
    screenshot: (path) => page.screenshot({ path, fullPage: true }),
    text: (selector) => page.$eval(selector, (el) => el.textContent),
    reload: () => page.reload(),
    evaluate: (fn, arg) => page.evaluate(fn, arg),
    /** Polls `fn(arg)` in the page until it returns something truthy; resolves to that. */
    async waitFor(fn, arg, timeoutMs = 120_000) {
      const end = Date.now() + timeoutMs;
      for (;;) {
        const v = await page.evaluate(fn, arg);
        if (v) return v;
        if (errors.length) throw new Error(`the page failed while waiting: ${errors.join('; ')}`);
        if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${fn}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    },
    /** A CDP session (Chromium only), for Storage.overrideQuotaForOrigin and the like. */
    cdp,
    close,
  };
}

/** The browsers a test file should run in: $BROWSERS (comma-separated) or both. */
export function browsersToTest() {
  return (process.env.BROWSERS ?? 'chromium,firefox').split(',').filter(Boolean);
}
