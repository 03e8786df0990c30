// Measures what the views inside the network cost training (not a test; the numbers go to
// docs/PERFORMANCE.md): headless Chromium trains d2l-gru (the preset's sizes, `epochs` epochs
// of The Time Machine's first `tokens` tokens) on the CPU fallback, with the views on (the
// default: the inspection and the picked position's connectivity at every prediction refresh,
// i.e. after each of the first 10 epochs) and off (`views=0`), alternating `rounds` times, and
// prints the wall time from Start to the end of the last epoch and the tokens/s over it.
// Usage: node tests/e2e/views_cost.cjs [dist dir] [rounds] [epochs] [tokens]
const path = require('path');
const { baseArgs, serve, launch } = require('./harness.cjs');

const dist = path.resolve(process.argv[2] || path.join(__dirname, '../../dist'));
const rounds = Number(process.argv[3] || 2);
const epochs = Number(process.argv[4] || 6);
const tokens = Number(process.argv[5] || 20000);
let port = 0;

async function run(views) {
  const browser = await launch([...baseArgs, '--disable-gpu']);
  try {
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${port}/?preset=d2l-gru&epochs=${epochs}&max_tokens=${tokens}&views=${views}`, { waitUntil: 'load' });
    await page.waitForFunction(() => document.querySelector('#backend[data-backend]')
      && /vocabulary of/.test(document.querySelector('#corpus-stats')?.textContent || ''), null, { timeout: 60000 });
    const started = await page.evaluate(() => performance.now());
    await page.click('#start');
    if (views === '1') {
      // A picked position, so each refresh also computes its connectivity.
      await page.waitForSelector('#connectivity-passage span', { timeout: 300000 });
      await page.click('#connectivity-passage span:nth-child(60)');
    }
    await page.waitForFunction(() => document.querySelector('#status')?.dataset.phase === 'finished', null, { timeout: 600000, polling: 50 });
    const seconds = ((await page.evaluate(() => performance.now())) - started) / 1000;
    // The switch is real: with the views off no heatmap was ever computed.
    const drawn = await page.$('#heatmap');
    if ((views === '0') !== !drawn) throw new Error(`views=${views} but the heatmap is ${drawn ? 'there' : 'missing'}`);
    const trained = epochs * Math.floor(tokens / (32 * 35)) * 32 * 35;
    return { seconds, perSecond: trained / seconds };
  } finally {
    await browser.close();
  }
}

(async () => {
  const server = await serve(dist, 8500);
  port = server.port;
  try {
    const results = { '1': [], '0': [] };
    for (let round = 0; round < rounds; round++) {
      for (const views of ['1', '0']) {
        const r = await run(views);
        results[views].push(r.seconds);
        console.log(`round ${round + 1}, views ${views === '1' ? 'on ' : 'off'}: ${r.seconds.toFixed(1)} s, ${r.perSecond.toFixed(0)} tokens/s`);
      }
    }
    const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const ratio = mean(results['1']) / mean(results['0']);
    console.log(`views on / views off, wall time: ${ratio.toFixed(3)} (training ${((1 - 1 / ratio) * 100).toFixed(1)}% slower with the views)`);
  } finally {
    server.stop();
  }
})();
