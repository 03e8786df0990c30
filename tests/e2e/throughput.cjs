// Measures the page's training throughput in headless Chromium (not a test; numbers go to
// docs/PERFORMANCE.md): the d2l-gru preset on a short corpus, once on WebGPU (SwiftShader) and
// once on the CPU fallback, reading the page's own tokens/s for the last epoch.
// Usage: node tests/e2e/throughput.cjs [dist dir] [epochs]
const { chromium } = require('playwright-core');
const { spawn } = require('child_process');
const path = require('path');

const dist = path.resolve(process.argv[2] || path.join(__dirname, '../../dist'));
const epochs = Number(process.argv[3] || 2);
const port = 9000 + Math.floor(Math.random() * 1000);
const query = `?preset=d2l-gru&epochs=${epochs}&max_tokens=4000`;
const baseArgs = ['--no-sandbox', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync'];

async function measure(name, args) {
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, chromiumSandbox: false, args });
  try {
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${port}/${query}`, { waitUntil: 'load' });
    await page.waitForFunction(() => document.querySelector('#backend[data-backend]') && /vocabulary/.test(document.querySelector('#corpus-stats')?.textContent || ''), null, { timeout: 60000 });
    await page.click('#start');
    await page.waitForFunction(() => ['finished', 'stopped'].includes(document.querySelector('#status')?.dataset.phase), null, { timeout: 590000, polling: 1000 });
    console.log(`${name}: ${await page.getAttribute('#backend', 'data-backend')} — ${await page.textContent('#progress')}`);
  } finally {
    await browser.close();
  }
}

(async () => {
  const server = spawn('python3', ['-m', 'http.server', String(port), '--bind', '127.0.0.1', '--directory', dist], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 1000));
  try {
    await measure('webgpu (SwiftShader)', [...baseArgs, '--enable-unsafe-webgpu']);
    await measure('cpu fallback', [...baseArgs, '--disable-gpu']);
  } finally {
    server.kill();
  }
})();
