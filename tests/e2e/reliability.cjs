// Browser scenarios of docs/RELIABILITY.md, run by e2e.cjs:
//  - soak: the benchmark page's soak (`?bench=1&bench_soak=N`) trains a small GRU for N
//    minibatches (500 here; E2E_SOAK_MINIBATCHES=5000 for the long run the docs record) and
//    fails unless the live buffers, their memory, the wasm memory and (on the page's thread,
//    the CPU scenario) the JS heap stay flat;
//  - device lost: WebGPU's device is destroyed mid-run (as a driver reset would): the run stops
//    with a message, keeps the last finished epoch, and "Continue on the CPU" trains on from it.
const fs = require('fs');
const os = require('os');
const path = require('path');
const { serve } = require('./harness.cjs');

const SOAK_MINIBATCHES = Number(process.env.E2E_SOAK_MINIBATCHES || 500);
const SOAK_RUN = 'preset=d2l-gru&hidden=16&batch_size=8&num_steps=10&max_tokens=3000&seed=1';

// `inBrowser(name, args, body)` and `port()` come from e2e.cjs.
// `extra`: more of the address (`&worker=0` trains on the page's thread, where Chromium's
// JS heap can be read).
async function soak(name, args, { inBrowser, port }, extra = '') {
  return inBrowser(name, args, async (page) => {
    const q = `?bench=1&bench_soak=${SOAK_MINIBATCHES}&${SOAK_RUN}${extra}`;
    await page.goto(`http://127.0.0.1:${port()}/${q}`, { waitUntil: 'load', timeout: 60000 });
    await page.waitForFunction(() => ['finished', 'failed'].includes(document.querySelector('#bench-status')?.dataset.phase),
      null, { timeout: 40 * 60000, polling: 1000 });
    const status = await page.textContent('#bench-status');
    const rows = await page.$$eval('#soak-table tbody tr', (trs) => trs.map((tr) => ({ ...tr.dataset })));
    const verdict = await page.$$eval('#soak-verdict li', (lis) => lis.map((li) => ({ flat: li.dataset.flat, text: li.textContent })));
    const mib = (b) => (Number(b) / 2 ** 20).toFixed(1);
    const first = rows[0] || {}; const last = rows[rows.length - 1] || {};
    const summary = `${last.minibatches} minibatches; live buffers ${first.liveBuffers} → ${last.liveBuffers}, wasm ${mib(first.wasmBytes)} → ${mib(last.wasmBytes)} MiB`
      + (last.jsHeapBytes ? `, JS heap ${mib(first.jsHeapBytes)} → ${mib(last.jsHeapBytes)} MiB` : '');
    if ((await page.getAttribute('#bench-status', 'data-phase')) !== 'finished') throw new Error(`soak: ${status}; ${summary}; ${verdict.map((v) => v.text).join('; ')}`);
    if (rows.length < 20 || Number(last.minibatches) !== SOAK_MINIBATCHES) throw new Error(`soak samples: ${JSON.stringify(rows)}`);
    const names = verdict.map((v) => v.text.split(' ')[0]).join(',');
    const wanted = extra.includes('worker=0') ? 5 : 4;
    if (verdict.length < wanted || !verdict.every((v) => v.flat === 'yes')) throw new Error(`soak verdict (${names}): ${verdict.map((v) => v.text).join('; ')}`);
    console.log(`${name}: ${summary}; ${verdict.map((v) => v.text).join('; ')}`);
  });
}

// A copy of `dist` whose worker keeps its WebGPU device where a BroadcastChannel message can
// destroy it; everything else is linked, not copied.
function distThatCanLoseItsDevice(dist) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rnnplay-lost-'));
  for (const entry of fs.readdirSync(dist)) {
    if (entry !== 'worker.js') fs.symlinkSync(path.join(dist, entry), path.join(dir, entry));
  }
  const patch = `// Test only (tests/e2e/reliability.cjs): the device can be destroyed from the page.
const rnnplayRequestDevice = GPUAdapter.prototype.requestDevice;
GPUAdapter.prototype.requestDevice = async function (...args) {
  const device = await rnnplayRequestDevice.apply(this, args);
  (self.rnnplayDevices ||= []).push(device);
  return device;
};
new BroadcastChannel('rnnplay-e2e').onmessage = (e) => {
  if (e.data === 'destroy-device') for (const device of self.rnnplayDevices || []) device.destroy();
};
`;
  fs.writeFileSync(path.join(dir, 'worker.js'), patch + fs.readFileSync(path.join(dist, 'worker.js'), 'utf8'));
  return dir;
}

async function deviceLost(name, args, { inBrowser, dist }) {
  const dir = distThatCanLoseItsDevice(dist);
  const server = await serve(dir, 9000);
  try {
    return await inBrowser(name, args, async (page) => {
      const q = '?preset=d2l-gru&hidden=16&batch_size=8&num_steps=10&epochs=12&max_tokens=3000&lr=1&seed=2&backend=gpu';
      await page.goto(`http://127.0.0.1:${server.port}/${q}`, { waitUntil: 'load', timeout: 60000 });
      await page.waitForFunction(() => document.querySelector('#backend')?.dataset.backend === 'gpu'
        && /vocabulary of/.test(document.querySelector('#corpus-stats')?.textContent || ''), null, { timeout: 60000 });
      await page.click('#start');
      const points = () => page.evaluate(() => JSON.parse(document.querySelector('#perplexity-chart')?.dataset.values || '[]'));
      await page.waitForFunction(() => JSON.parse(document.querySelector('#perplexity-chart')?.dataset.values || '[]').length >= 3,
        null, { timeout: 120000, polling: 100 });
      await page.evaluate(() => new BroadcastChannel('rnnplay-e2e').postMessage('destroy-device'));
      await page.waitForSelector('#continue-on-cpu', { timeout: 60000 });
      const message = await page.textContent('#run-error');
      if (!/device was lost/.test(message)) throw new Error(`the message: ${message}`);
      const kept = Number((message.match(/weights after epoch (\d+) are kept/) || [])[1]);
      const before = await points();
      if (!(kept >= 3 && kept === before.length)) throw new Error(`kept epoch ${kept}, curve ${JSON.stringify(before)}: ${message}`);
      await page.click('#continue-on-cpu');
      await page.waitForFunction(() => document.querySelector('#backend')?.dataset.backend === 'cpu'
        && document.querySelector('#status')?.dataset.phase === 'finished', null, { timeout: 120000, polling: 250 });
      const after = await points();
      if (after.length !== 12 || JSON.stringify(after.slice(0, kept)) !== JSON.stringify(before)) {
        throw new Error(`the continued curve ${JSON.stringify(after)} does not extend ${JSON.stringify(before)}`);
      }
      if (!(after[11] < after[0])) throw new Error(`perplexity did not fall: ${JSON.stringify(after)}`);
      if (await page.$('#run-error')) throw new Error(`an error after continuing: ${await page.textContent('#run-error')}`);
      console.log(`${name}: lost in epoch ${kept + 1}: "${message.slice(0, 90)}…"; continued on the CPU from epoch ${kept} to 12, perplexity ${after[0].toFixed(1)} → ${after[11].toFixed(1)}`);
    });
  } finally {
    server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

module.exports = { soak, deviceLost };
