// Runs the page's benchmark (`?bench=1`) in headless Chromium and prints its table (not a test;
// the numbers go to docs/PERFORMANCE.md): WebGPU on SwiftShader, then the CPU fallback.
// Usage: node tests/e2e/bench.cjs [dist dir] [extra query, e.g. "&bench_presets=d2l-gru&bench_batches=3"]
const path = require('path');
const { baseArgs, serve, launch } = require('./harness.cjs');

let port = 0;
const dist = path.resolve(process.argv[2] || path.join(__dirname, '../../dist'));
const extra = process.argv[3] || '';

async function bench(name, args) {
  const browser = await launch(args);
  try {
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${port}/?bench=1${extra}`, { waitUntil: 'load' });
    await page.waitForFunction(() => ['finished', 'failed'].includes(document.querySelector('#bench-status')?.dataset.phase),
      null, { timeout: 3_600_000, polling: 1000 });
    console.log(`== ${name}: ${await page.textContent('#bench-header')}`);
    const text = await page.textContent('#bench-status');
    if (text !== 'finished') console.log(text);
    const rows = await page.$$eval('#bench-table tr', (trs) => trs.map((tr) => [...tr.children].map((c) => c.textContent).join(' | ')));
    for (const row of rows) console.log(`| ${row} |`);
  } finally {
    await browser.close();
  }
}

(async () => {
  const server = await serve(dist, 9000);
  port = server.port;
  try {
    await bench('webgpu (SwiftShader)', [...baseArgs, '--enable-unsafe-webgpu']);
    await bench('cpu fallback', [...baseArgs, '--disable-gpu']);
  } finally {
    server.stop();
  }
})();
