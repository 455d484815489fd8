// Word error rate, as tests/fixtures/whisper/gen_whisper.py computes it: lower-cased words
// of letters, digits and apostrophes, edit distance over the reference's length. Shared by
// the speech page tests and the speech benchmark.

function words(t) {
  return t.toLowerCase().replace(/[^a-z0-9' ]/g, ' ').split(/\s+/).filter(Boolean);
}

/** The word error rate of `hyp` against `reference`. */
export function wer(reference, hyp) {
  const r = words(reference), h = words(hyp);
  let d = Array.from({ length: h.length + 1 }, (_, j) => j);
  for (let i = 1; i <= r.length; i++) {
    const prev = d;
    d = [i];
    for (let j = 1; j <= h.length; j++) d[j] = Math.min(prev[j] + 1, d[j - 1] + 1, prev[j - 1] + (r[i - 1] !== h[j - 1]));
  }
  return d[h.length] / Math.max(1, r.length);
}
