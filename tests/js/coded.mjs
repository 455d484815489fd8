// Shared by the tests in this folder (not a test file itself: node --test runs *.test.mjs).
import assert from 'node:assert/strict';

/** Asserts that promise `p` rejects with an `Error` whose `code` is `code` and whose
 * message names every one of `parts`. */
export const rejectsWith = (p, code, ...parts) =>
  assert.rejects(p, (e) => {
    assert.ok(e instanceof Error, 'an Error');
    assert.equal(e.code, code, e.message);
    for (const part of parts) assert.ok(e.message.includes(part), `"${e.message}" names ${part}`);
    return true;
  });
