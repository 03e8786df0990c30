// Measures the page's CPU runs on one core and split over several (`cores=N`, one Web Worker
// each; web/src/helpers.rs) in headless Chromium without WebGPU, alternating the contenders, and
// prints each run's tokens/s and the ratio to one core (not a test; the numbers go to
// docs/PERFORMANCE.md). Each run trains `epochs` epochs with the views off; the figure is the
// progress line's tokens/s of its last epoch (the first pays for building the run).
// Usage: node tests/e2e/cores.cjs [dist dir] [rounds] [cores, e.g. 1,2] [extra query]
const path = require('path');
const { baseArgs, serve, launch } = require('./harness.cjs');

const dist = path.resolve(process.argv[2] || path.join(__dirname, '../../dist'));
const rounds = Number(process.argv[3] || 2);
const counts = (process.argv[4] || '1,2').split(',').map(Number);
const extra = process.argv[5] || '';
const presets = {
  'd2l-gru': '?preset=d2l-gru&max_tokens=40000&epochs=3',
  'd2l-rnn-scratch': '?preset=d2l-rnn-scratch&max_tokens=40000&epochs=3',
};

async function tokensPerSecond(page, port, query, cores) {
  await page.goto(`http://127.0.0.1:${port}/${query}&views=0&cores=${cores}${extra}`, { waitUntil: 'load', timeout: 60000 });
  await page.waitForFunction(() => /vocabulary of/.test(document.querySelector('#corpus-stats')?.textContent || ''), null, { timeout: 60000 });
  await page.click('#start');
  await page.waitForFunction(() => ['finished', 'failed'].includes(document.querySelector('#status')?.dataset.phase), null, { timeout: 1_800_000, polling: 500 });
  const progress = await page.textContent('#progress');
  const error = await page.$('#run-error');
  if (error) throw new Error(`${query} on ${cores} core(s): ${await error.textContent()}`);
  return { rate: Number((progress.match(/([0-9.]+) tokens\/s/) || [])[1]), progress };
}

(async () => {
  const server = await serve(dist, 9500);
  const browser = await launch([...baseArgs, '--disable-gpu']);
  try {
    const page = await browser.newPage();
    for (const [name, query] of Object.entries(presets)) {
      const rates = Object.fromEntries(counts.map((n) => [n, []]));
      for (let round = 0; round < rounds; round++) {
        for (const cores of counts) {
          const { rate, progress } = await tokensPerSecond(page, server.port, query, cores);
          rates[cores].push(rate);
          console.log(`${name}, round ${round + 1}, ${cores} core(s): ${progress}`);
        }
      }
      const cells = counts.map((n) => `${n} core(s) ${rates[n].map((r) => r.toFixed(0)).join(' · ')}`);
      const ratios = counts.slice(1).map((n) => `${n}/1: ${rates[n].map((r, i) => (r / rates[counts[0]][i]).toFixed(2)).join(' · ')}`);
      console.log(`| ${name} | ${cells.join(' | ')} | ${ratios.join(' | ')} |`);
    }
  } finally {
    await browser.close();
    server.stop();
  }
})().catch((e) => { console.error(e); process.exit(1); });
