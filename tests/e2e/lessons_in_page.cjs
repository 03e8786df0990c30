// Every lesson trained end to end in the page, as a student would (not a test; the figures go to
// docs/LESSONS.md): headless Chromium opens `?lesson=NAME` on the CPU fallback (or WebGPU),
// clicks "Train the whole lesson" (or a one-run lesson's Train button), waits for the verdict,
// and prints each run's training time as the runs table shows it, the verdict, and saves a
// screenshot of the lesson panel and of the runs chart overlaying its runs (and, for a claim on
// the gradient's reach, the overlaid reach curves and the reach chart).
// Usage: node tests/e2e/lessons_in_page.cjs [dist dir] [cpu|webgpu] [lesson,lesson,…] [shots dir]
const path = require('path');
const { execFileSync } = require('child_process');
const { baseArgs, serve, launch } = require('./harness.cjs');

const dist = path.resolve(process.argv[2] || path.join(__dirname, '../../dist'));
const backend = process.argv[3] || 'cpu';
const shots = process.argv[5] || '/tmp';
const rnnplay = path.join(__dirname, '../../target/debug/rnnplay');
const all = execFileSync(rnnplay, ['lessons', '--json']).toString().trim().split('\n').map((l) => JSON.parse(l).name);
const chosen = process.argv[4] ? process.argv[4].split(',') : all;

async function lesson(browser, port, name) {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  try {
    const gpu = backend === 'webgpu' ? '&train_on=webgpu' : '';
    await page.goto(`http://127.0.0.1:${port}/?lesson=${name}${gpu}`, { waitUntil: 'load', timeout: 60000 });
    await page.waitForSelector(`#lesson[data-lesson="${name}"]`, { timeout: 60000 });
    await page.waitForFunction(() => document.querySelector('#backend[data-backend]'), null, { timeout: 60000 });
    await page.waitForFunction(() => /vocabulary of/.test(document.querySelector('#corpus-stats')?.textContent || '')
      || /seq2seq|toy/.test(document.querySelector('input[name="preset"], select[name="preset"]')?.value || ''), null, { timeout: 60000 });
    const started = Date.now();
    await page.click((await page.$('#lesson-train-all')) ? '#lesson-train-all' : '.lesson-train >> nth=0');
    await page.waitForFunction(() => /It showed|Not this time/.test(document.querySelector('#lesson-verdict')?.textContent || '')
      || document.querySelector('#run-error:not(:empty)') && !/diverged/.test(document.querySelector('#run-error').textContent),
    null, { timeout: 1800000, polling: 1000 });
    const total = (Date.now() - started) / 1000;
    const verdict = (await page.textContent('#lesson-verdict')).replace(/\s+/g, ' ').trim();
    const rows = await page.$$eval('#runs-table tr', (trs) => trs.slice(1).map((tr) => {
      const cells = [...tr.querySelectorAll('td')].map((td) => td.textContent.trim());
      return { name: tr.querySelector('.run-name')?.value, epochs: cells[2], final: cells[3], tokens_per_s: cells[4], time: cells[6] };
    }));
    await (await page.$('#lesson')).screenshot({ path: path.join(shots, `lesson-${name}-verdict.png`) });
    const chart = await page.$('#overlay-chart');
    if (chart) await chart.screenshot({ path: path.join(shots, `lesson-${name}-overlay.png`) });
    if (chart && /gradient \d+ steps back/.test(verdict)) {
      // A claim on the gradient's reach: the runs' reach curves overlaid, and the last run's chart.
      await page.selectOption('#overlay-metric', 'reach');
      await page.waitForTimeout(1000);
      await chart.screenshot({ path: path.join(shots, `lesson-${name}-reach.png`) });
      await (await page.$('#reach-chart')).screenshot({ path: path.join(shots, `lesson-${name}-reach-chart.png`) });
    }
    console.log(JSON.stringify({ lesson: name, backend, total_s: total, runs: rows, verdict }));
  } finally {
    await page.close();
  }
}

(async () => {
  const { port, stop } = await serve(dist, 21000);
  const args = backend === 'webgpu' ? [...baseArgs, '--enable-unsafe-webgpu'] : [...baseArgs, '--disable-gpu'];
  const browser = await launch(args);
  try {
    for (const name of chosen) await lesson(browser, port, name);
  } finally {
    await browser.close();
    stop();
  }
})().catch((err) => { console.error(err); process.exit(1); });
