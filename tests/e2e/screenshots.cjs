// Takes the screenshots in docs/PAGE.md of the views inside the network (not a test): headless
// Chromium on the CPU fallback loads a language-model checkpoint (default: the one
// `scripts/run.sh` saves, runs/d2l-gru.safetensors), picks a unit and a position, and saves the
// "Inside the network" panel; then it trains d2l's scratch RNN for `epochs` epochs on the
// first 20 000 characters and saves its panel.
// Usage: node tests/e2e/screenshots.cjs [dist dir] [checkpoint] [out dir] [epochs]
const path = require('path');
const { baseArgs, serve, launch } = require('./harness.cjs');

const root = path.resolve(__dirname, '../..');
const dist = path.resolve(process.argv[2] || path.join(root, 'dist'));
const checkpoint = path.resolve(process.argv[3] || path.join(root, 'runs/d2l-gru.safetensors'));
const out = path.resolve(process.argv[4] || path.join(root, 'target/screenshots'));
const epochs = Number(process.argv[5] || 20);
let port = 0;

async function ready(page, query) {
  await page.goto(`http://127.0.0.1:${port}/${query}`, { waitUntil: 'load' });
  await page.waitForFunction(() => document.querySelector('#backend[data-backend]')
    && /vocabulary of/.test(document.querySelector('#corpus-stats')?.textContent || ''), null, { timeout: 60000 });
}

async function pick(page, name) {
  await page.waitForFunction(() => Number(document.querySelector('#heatmap')?.dataset.rows || 0) > 0, null, { timeout: 300000 });
  await page.click('#heatmap', { position: { x: 20, y: 16 + 5 + 2 } });
  await page.click('#connectivity-passage span:nth-child(40)');
  await page.waitForFunction(() => /reaches/.test(document.querySelector('#connectivity-summary')?.textContent || ''), null, { timeout: 60000 });
  await (await page.$('section.inside')).screenshot({ path: path.join(out, `inside-${name}.png`) });
  console.log(`${name}: ${await page.textContent('#connectivity-summary')}`);
}

(async () => {
  require('fs').mkdirSync(out, { recursive: true });
  const server = await serve(dist, 8700);
  port = server.port;
  const browser = await launch([...baseArgs, '--disable-gpu']);
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    await ready(page, '');
    await page.setInputFiles('#load-checkpoint', checkpoint);
    await pick(page, 'gru');
    await ready(page, `?preset=d2l-rnn-scratch&epochs=${epochs}&max_tokens=20000`);
    await page.click('#start');
    await page.waitForFunction(() => document.querySelector('#status')?.dataset.phase === 'finished', null, { timeout: 900000, polling: 500 });
    await pick(page, 'rnn-scratch');
  } finally {
    await browser.close();
    server.stop();
  }
})();
