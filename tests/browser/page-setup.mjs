// Shared by the browser tests (not a test file itself): a model server and one page of
// `name` for a describe block, started before its tests and closed after them.
import { before, after } from 'node:test';
import { startServer } from '../../scripts/serve.mjs';
import { launch } from '../../scripts/drive.mjs';

/** Registers the block's set-up and tear-down; the returned object's `page` is the
 * open page (at `path` on the server) once the tests run. */
export function openPage(name, path = 'capabilities/') {
  const ctx = {};
  before(async () => {
    ({ server: ctx.server, url: ctx.url } = await startServer());
    ctx.browser = await launch(name);
    ctx.page = await ctx.browser.newPage();
    await ctx.page.goto(`${ctx.url}${path}`);
  });
  after(async () => {
    await ctx.browser?.close();
    ctx.server?.close();
  });
  return ctx;
}
