// Test-only: `Promise.withResolvers` for Node 20, which Helia's dependencies call (Node 22
// has it). Loaded with `node --import`.
if (typeof Promise.withResolvers !== 'function') {
  Promise.withResolvers = function withResolvers() {
    let resolve;
    let reject;
    const promise = new Promise((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}
