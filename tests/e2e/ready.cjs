// Time from navigation to ready-to-train in headless Chromium (not a test; the figures go to
// docs/PERFORMANCE.md): a fresh browser per run, so nothing is cached, then the page's clock
// (`performance.now()`, 0 at navigation) when the backend is chosen, the corpus is read and
// the Train button is enabled. Also when the wasm module had arrived (its resource timing's
// `responseEnd`), which splits download from compiling and starting it.
// Usage: node tests/e2e/ready.cjs [dist dir] [runs per browser setting, 5 by default]
const path = require('path');
const { baseArgs, serve, launch } = require('./harness.cjs');

const dist = path.resolve(process.argv[2] || path.join(__dirname, '../../dist'));
const runs = Number(process.argv[3] || 5);

async function once(port, args) {
  const browser = await launch(args);
  try {
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${port}/`, { waitUntil: 'commit' });
    await page.waitForFunction(() => document.querySelector('#backend[data-backend]') !== null
      && /vocabulary of/.test(document.querySelector('#corpus-stats')?.textContent || '')
      && document.querySelector('#start') && !document.querySelector('#start').disabled,
    null, { timeout: 120000, polling: 'raf' });
    return await page.evaluate(() => ({
      ready: performance.now(),
      wasm: performance.getEntriesByType('resource').find((r) => r.name.endsWith('.wasm'))?.responseEnd ?? NaN,
      backend: document.querySelector('#backend').dataset.backend,
    }));
  } finally {
    await browser.close();
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

(async () => {
  const server = await serve(dist, 9500);
  try {
    for (const [name, flag] of [['webgpu (SwiftShader)', '--enable-unsafe-webgpu'], ['cpu fallback', '--disable-gpu']]) {
      const times = [];
      for (let i = 0; i < runs; i++) times.push(await once(server.port, [...baseArgs, flag]));
      const ready = times.map((t) => t.ready);
      const wasm = times.map((t) => t.wasm);
      console.log(`${name} (backend ${times[0].backend}): ready-to-train ${ready.map((t) => t.toFixed(0)).join(', ')} ms `
        + `(median ${median(ready).toFixed(0)}); wasm arrived at ${wasm.map((t) => t.toFixed(0)).join(', ')} ms`);
    }
  } finally {
    server.stop();
  }
})();
