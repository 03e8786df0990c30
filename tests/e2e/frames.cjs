// Measures how smooth the page stays while it trains (not a test; the numbers go to
// docs/PERFORMANCE.md): headless Chromium opens the page with d2l-gru (The Time Machine, the
// preset's sizes), starts training, and records the gaps between animation frames for
// `seconds` (default 10) once the first minibatch is done — on WebGPU (SwiftShader) and on the
// CPU fallback, with the training worker and on the page's own thread (`worker=0`). Prints the longest gap, the 99th percentile and how many gaps exceeded 50 ms.
// Usage: node tests/e2e/frames.cjs [dist dir] [seconds]
const path = require('path');
const { baseArgs, serve, launch } = require('./harness.cjs');

let port = 0;
const dist = path.resolve(process.argv[2] || path.join(__dirname, '../../dist'));
const seconds = Number(process.argv[3] || 10);

async function measure(name, args, extra = '') {
  const browser = await launch(args);
  try {
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${port}/?preset=d2l-gru&epochs=50${extra}`, { waitUntil: 'load' });
    await page.waitForFunction(() => document.querySelector('#backend[data-backend]')
      && /vocabulary of/.test(document.querySelector('#corpus-stats')?.textContent || ''), null, { timeout: 60000 });
    await page.click('#start');
    await page.waitForFunction(() => /batch [1-9]/.test(document.querySelector('#progress')?.textContent || ''), null, { timeout: 300000 });
    const gaps = await page.evaluate((ms) => new Promise((resolve) => {
      const gaps = [];
      let last = performance.now();
      const end = last + ms;
      const frame = (now) => {
        gaps.push(now - last);
        last = now;
        if (now < end) requestAnimationFrame(frame); else resolve(gaps);
      };
      requestAnimationFrame(frame);
    }), seconds * 1000);
    gaps.sort((a, b) => a - b);
    const p99 = gaps[Math.floor(gaps.length * 0.99)];
    const over = gaps.filter((g) => g > 50).length;
    const progress = await page.textContent('#progress');
    console.log(`${name}: ${gaps.length} frames in ${seconds} s, longest gap ${gaps[gaps.length - 1].toFixed(0)} ms, p99 ${p99.toFixed(0)} ms, ${over} gaps > 50 ms (${progress})`);
  } finally {
    await browser.close();
  }
}

(async () => {
  const server = await serve(dist, 9000);
  port = server.port;
  try {
    for (const [mode, extra] of [['training worker', ''], ['page thread (worker=0)', '&worker=0']]) {
      await measure(`webgpu (SwiftShader), ${mode}`, [...baseArgs, '--enable-unsafe-webgpu'], extra);
      await measure(`cpu fallback, ${mode}`, [...baseArgs, '--disable-gpu'], extra);
    }
  } finally {
    server.stop();
  }
})();
