// End-to-end test of the web page in headless Chromium (Debian's /usr/bin/chromium driven by
// playwright-core; no browser download). Serves dist/ on 127.0.0.1, then:
//  1. with WebGPU (SwiftShader, --enable-unsafe-webgpu): the banner says GPU; a small preset
//     trains a few epochs; the perplexity chart has one point per epoch and falls; both
//     prediction panels have text; the console has no errors; a screenshot is saved;
//  2. without WebGPU: the banner says so and training on the CPU backend works the same way;
//  3. the encoder-decoder on WebGPU: the toy reverse task with scheduled sampling trains three
//     epochs, its loss falls, the translation table has four rows and the box translates;
//  4. a checkpoint saved by `rnnplay train --save` opens in the page and continues
//     "time traveller" exactly as `rnnplay predict` does; the cell view at a picked position
//     holds the numbers `rnnplay inspect --cell` prints, for a GRU and an LSTM checkpoint, and
//     a hovered unit shows the cell's arithmetic; a corrupt file gets a message next to the
//     control and the loaded model stays;
//  5. settings: a URL with lr=0 shows, next to the learning-rate field, exactly the message
//     `rnnplay train --lr 0` prints after "--lr: " (one RunSpec::validate); Start refuses and
//     says so; a value that does not parse gets its own message; a good value clears both;
//  6. frames: while the page trains d2l-gru (in its training worker), on WebGPU and on the CPU
//     fallback, no animation frame waits more than 100 ms;
//  8. inside the network (in 1, 2 and 4): the heatmap is drawn, a click on a unit's row colours
//     the passage by that unit, a click on a character gives its next-token bars and shades
//     the earlier characters by the gradient of its prediction, and after training the
//     gradient's reach chart has one value per step of the window;
//  7. the benchmark page (`?bench=1`) on WebGPU measures d2l-gru with window kernels, per-step
//     kernels and unfused, each with plan replay on and off: six rows, tokens/s and host time
//     above 0, the timed steps of the replay rows replayed (and none of the others), the window
//     rows with far fewer dispatches than the per-step ones, and those than the unfused.
//  9. a lesson's address (`?lesson=clipping`) shows its text, sets up its first run, and its
//     second run's button sets θ; an unknown lesson gets a banner naming the lessons.
// 10. runs (kept in IndexedDB): two runs survive a reload, the table says what differs and
//     overlays them; a paused run resumes after a reload from its autosave and ends with the
//     uninterrupted run's curve; a simulated full quota is a message and training goes on;
// 11. lessons, with and without WebGPU: the index is a first visit's landing view, and every
//     lesson's address trains its first run from one click.
// 12. reliability (reliability.cjs): a 500-minibatch soak on WebGPU (in the worker) and on the
//     CPU fallback (on the page's thread, with its JS heap) keeps memory flat; a WebGPU device destroyed mid-run stops the run with a message, keeps
//     its last epoch, and the run continues on the CPU from it.
// 13. backend-auto: by default a model size's first run times WebGPU and the CPU backend, trains
//     on the faster (on SwiftShader the CPU) with both figures in the banner; the next run of
//     that size reuses them; “Train on” forces WebGPU. The WebGPU scenarios above force it with
//     `backend=gpu` in the address.
// 14. cpu-cores: a CPU run split over two cores (two Web Workers) trains the curve one core
//     trains, up to rounding, and says so in the progress line.
// Usage: node tests/e2e/e2e.cjs [dist dir] [screenshot dir]. Prints "N passed, N failed".
// E2E_ONLY=settings-messages,webgpu runs only the scenarios named.
// The CLI binary is $RNNPLAY_BIN, else target/debug/rnnplay (built by `cargo test`).
const { execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const root = path.resolve(__dirname, '../..');
const dist = path.resolve(process.argv[2] || path.join(root, 'dist'));
// Screenshots go beside the build, never into dist/ (which ships).
const shots = path.resolve(process.argv[3] || path.join(root, 'target', 'e2e-screenshots'));
fs.mkdirSync(shots, { recursive: true });
const { baseArgs, serve, launch } = require('./harness.cjs');
const reliability = require('./reliability.cjs');
const { attention } = require('./attention.cjs');

let port = 0;
// Every lesson (crates/run/src/lessons/catalogue.rs), in order: `rnnplay lessons --json` prints one a line.
const LESSONS = execFileSync(process.env.RNNPLAY_BIN || path.join(root, 'target/debug/rnnplay'),
  ['lessons', '--json'], { stdio: 'pipe' }).toString().trim().split('\n').map((l) => JSON.parse(l).name);
// Sized for SwiftShader (5–8× slower than lavapipe): a tiny scratch RNN, 3 epochs.
const query = '?preset=d2l-rnn-scratch&hidden=32&batch_size=8&num_steps=10&epochs=3&max_tokens=1500&lr=1&seed=0';

// A 1280×1000 page whose console errors and uncaught exceptions land in `errors`.
async function openPage(browser, errors) {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`console.error: ${m.text()}`); });
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  return page;
}

// Runs `body(page)` in a fresh headless Chromium started with `args`: a thrown error, a console
// error or an uncaught exception fails the scenario. Prints "<name> FAILED" with the reasons and
// returns whether it passed.
async function inBrowser(name, args, body) {
  const browser = await launch(args);
  const errors = [];
  try {
    await body(await openPage(browser, errors));
  } catch (e) {
    errors.push(e.message);
  } finally {
    await browser.close();
  }
  if (errors.length) console.error(`${name} FAILED:\n  ${errors.join('\n  ')}`);
  return errors.length === 0;
}

// The address's ending that keeps a run on WebGPU where the browser has it: by default the page
// times both backends and trains on the faster, which on SwiftShader is its CPU backend.
const onGpu = (args) => (args.includes('--enable-unsafe-webgpu') ? '&backend=gpu' : '');

async function scenario(name, args, expectBackend) {
  let pauseNote = '';
  return inBrowser(name, args, async (page) => {
    await page.goto(`http://127.0.0.1:${port}/${query}${onGpu(args)}`, { waitUntil: 'load', timeout: 60000 });
    await page.waitForFunction(() => document.querySelector('#backend[data-backend]') !== null, null, { timeout: 60000 });
    const backend = await page.getAttribute('#backend', 'data-backend');
    const banner = await page.textContent('#backend');
    if (backend !== expectBackend) throw new Error(`backend ${backend}, expected ${expectBackend}: ${banner}`);
    if (expectBackend === 'cpu' && !(banner.includes('WebGPU is not available') && banner.includes('Chrome') && !banner.includes('apt-get'))) {
      throw new Error(`the fallback banner should say what the browser can do: ${banner}`);
    }
    if (expectBackend === 'gpu' && !(await page.$('#backend-choice'))) throw new Error('no backend switch next to the WebGPU banner');
    if (JSON.parse(await page.getAttribute('#perplexity-chart', 'data-values')).length !== 0) throw new Error('a chart before training');
    await page.waitForFunction(() => /vocabulary of/.test(document.querySelector('#corpus-stats')?.textContent || ''), null, { timeout: 60000 });
    if (expectBackend === 'cpu') {
      // Step trains exactly one minibatch and leaves the run paused; Resume goes on from there.
      await page.click('#step');
      await page.waitForFunction(() => document.querySelector('#status')?.dataset.phase === 'paused'
        && /^epoch 1\/3 · batch 1\//.test(document.querySelector('#progress')?.textContent || ''), null, { timeout: 60000 });
    }
    if (expectBackend === 'gpu') {
      // Pause within a batch or two: the loop keeps one minibatch in flight on WebGPU.
      await page.click('#start');
      await page.waitForFunction(() => /batch [2-9]/.test(document.querySelector('#progress')?.textContent || ''), null, { timeout: 120000 });
      const before = await page.evaluate(() => performance.now());
      await page.click('#pause');
      await page.waitForFunction(() => document.querySelector('#status')?.dataset.phase === 'paused', null, { timeout: 60000, polling: 'raf' });
      const latency = (await page.evaluate(() => performance.now())) - before;
      const progress = await page.textContent('#progress');
      const perSecond = Number((progress.match(/([0-9.]+) tokens\/s/) || [])[1]);
      const batchMs = 1000 * 80 / perSecond; // batch 8 × 10 steps
      if (!(latency <= 2 * batchMs + 300)) throw new Error(`Pause took ${latency.toFixed(0)} ms; a batch takes ${batchMs.toFixed(0)} ms`);
      pauseNote = `, pause ${latency.toFixed(0)} ms (a batch ${batchMs.toFixed(0)} ms)`;
    }
    // Keyboard use: the controls are buttons, so focus and Enter start (or resume) training.
    await page.focus('#start');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => {
      const phase = document.querySelector('#status')?.dataset.phase;
      return phase === 'finished' || phase === 'stopped';
    }, null, { timeout: 300000, polling: 500 });
    const runError = await page.$('#run-error');
    if (runError) throw new Error(`run error: ${await runError.textContent()}`);
    const values = JSON.parse(await page.getAttribute('#perplexity-chart', 'data-values'));
    if (values.length !== 3) throw new Error(`perplexity chart has ${values.length} points, expected 3`);
    if (!(values[2] < values[0])) throw new Error(`perplexity did not fall: ${values}`);
    await page.waitForFunction(() => (document.querySelector('#free-running-text')?.textContent || '').length > 14, null, { timeout: 120000 });
    const forced = await page.textContent('#teacher-forced-text');
    const free = await page.textContent('#free-running-text');
    if (forced.length < 20) throw new Error(`teacher-forced panel: '${forced}'`);
    if (!free.startsWith('time␣traveller')) throw new Error(`free-running panel (spaces drawn as ␣): '${free}'`);
    // The argmax row sits under the positions it predicts, spaces visible.
    const argmax = await page.textContent('#teacher-forced-argmax');
    if ([...argmax].length !== [...forced].length) throw new Error(`argmax row ${[...argmax].length} chars under a ${[...forced].length}-char passage`);
    // The last epoch's predictions arrive after its end; until then the views say they are stale.
    await page.waitForFunction(() => [...document.querySelectorAll('.freshness')].every((e) => e.textContent === 'after epoch 3'), null, { timeout: 120000 })
      .catch(async () => { throw new Error(`predictions do not say they are from epoch 3: '${await page.textContent('.freshness')}'`); });
    // A prefix with characters outside the vocabulary says so.
    await page.fill('#prefix', 'Hello, Traveller!');
    await page.dispatchEvent('#prefix', 'change');
    await page.click('#predict-now');
    await page.waitForSelector('#prefix-unknown', { timeout: 60000 });
    const unknown = await page.textContent('#prefix-unknown');
    if (!unknown.includes("'!'")) throw new Error(`unknown-character notice: '${unknown}'`);
    // Save: the worker sends the checkpoint and the page offers it as a download that
    // `rnnplay predict` reads.
    if (expectBackend === 'cpu') {
      const [download] = await Promise.all([page.waitForEvent('download', { timeout: 60000 }), page.click('#save')]);
      const saved = path.join(os.tmpdir(), `rnnplay-e2e-${port}.safetensors`);
      await download.saveAs(saved);
      const bin = process.env.RNNPLAY_BIN || path.join(root, 'target/debug/rnnplay');
      const out = JSON.parse(execFileSync(bin, ['predict', '--checkpoint', saved, '--backend', 'cpu', '--json'], { stdio: 'pipe' }).toString());
      fs.rmSync(saved, { force: true });
      if (!out.free_running) throw new Error(`the saved checkpoint did not predict: ${JSON.stringify(out)}`);
    }
    const inside = await checkInside(page, name, 10);
    await page.screenshot({ path: path.join(shots, `screenshot-${name}.png`), fullPage: true });
    // A narrow window: everything reflows, nothing scrolls sideways.
    await page.setViewportSize({ width: 420, height: 900 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    if (overflow > 0) throw new Error(`at 420 px wide the page is ${overflow} px too wide`);
    console.log(`${name}: backend ${backend}, perplexity ${values.map((v) => v.toFixed(2)).join(' → ')}${pauseNote}, free-running '${free.slice(0, 40)}…'; ${inside}`);
  });
}

// The views inside the network, once predictions have arrived: returns a short description.
// How many pixels `count` (run in the page) finds, once it finds at least `atLeast` or a minute
// has passed. The page paints canvases in a later animation frame, within a per-frame budget,
// so on a loaded machine the pixels follow the data attributes by a few frames.
async function drawnPixels(page, count, atLeast) {
  await page.waitForFunction(`(${count})() >= ${atLeast}`, null, { timeout: 60000, polling: 100 }).catch(() => {});
  return page.evaluate(count);
}

async function checkInside(page, name, steps) {
  await page.waitForFunction(() => Number(document.querySelector('#heatmap')?.dataset.rows || 0) > 0, null, { timeout: 120000 });
  const coloured = await drawnPixels(page, () => {
    const c = document.querySelector('#heatmap');
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4) if (Math.abs(d[i] - d[i + 2]) > 40) n++;
    return n;
  }, 200);
  if (coloured < 200) throw new Error(`the heatmap has ${coloured} coloured pixels`);
  // A click on the third unit row colours the passage by that unit.
  await page.click('#heatmap', { position: { x: 20, y: 16 + 2 * 5 + 2 } });
  await page.waitForSelector('#unit-passage', { timeout: 30000 });
  const shades = await page.$$eval('#unit-passage span', (spans) => new Set(spans.map((s) => s.style.background)).size);
  if (shades < 3) throw new Error(`the unit's passage has ${shades} distinct colours`);
  const firstUnit = await page.getAttribute('#unit-passage', 'data-unit');
  await page.click('#heatmap', { position: { x: 20, y: 16 + 5 + 2 } });
  await page.waitForFunction((u) => document.querySelector('#unit-passage')?.dataset.unit !== u, firstUnit, { timeout: 30000 });
  // A character picked: its next-token bars, and the connectivity of its prediction.
  await page.click('#connectivity-passage span:nth-child(21)');
  await page.waitForFunction(() => /reaches \d+ step/.test(document.querySelector('#connectivity-summary')?.textContent || ''), null, { timeout: 60000 });
  const shaded = await page.$$eval('#connectivity-passage span', (spans) => spans.filter((s) => /rgba/.test(s.style.background)).length);
  if (shaded < 2) throw new Error(`the connectivity view shades ${shaded} characters`);
  const bars = await page.$$eval('#top-k-bars .bar-row', (rows) => rows.length);
  if (bars < 3) throw new Error(`${bars} next-token bars`);
  let through = '';
  if (steps) {
    const values = JSON.parse(await page.getAttribute('#reach-chart', 'data-values'));
    if (values.length !== steps || !values.every((v) => v > 0)) throw new Error(`gradient's reach: ${values}`);
    through = `, gradient's reach ${values[0].toExponential(1)} … ${values[steps - 1].toExponential(1)}`;
    await (await page.$('#reach-chart')).screenshot({ path: path.join(shots, `reach-${name}.png`) });
  }
  const inside = await page.$('section.inside');
  await inside.screenshot({ path: path.join(shots, `inside-${name}.png`) });
  return `heatmap ${coloured} px, ${await page.textContent('#connectivity-summary')}${through}`;
}

async function seq2seq(name, args) {
  return inBrowser(name, args, async (page) => {
    const q = `?preset=toy-reverse&num_examples=640&epochs=3&hidden=32&embedding=8&scheduled_sampling=0.5${onGpu(args)}`;
    await page.goto(`http://127.0.0.1:${port}/${q}`, { waitUntil: 'load', timeout: 60000 });
    await page.waitForFunction(() => document.querySelector('#backend[data-backend]') !== null, null, { timeout: 60000 });
    const backend = await page.getAttribute('#backend', 'data-backend');
    if (backend !== 'gpu') throw new Error(`backend ${backend}, expected gpu`);
    await page.click('#start');
    // After the first epoch the chart has one point, and it is drawn (blue pixels on the canvas).
    await page.waitForFunction(() => JSON.parse(document.querySelector('#perplexity-chart')?.dataset.values || '[]').length >= 1, null, { timeout: 300000, polling: 200 });
    const blue = await drawnPixels(page, () => {
      const c = document.querySelector('#perplexity-chart canvas');
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 0; i < d.length; i += 4) if (d[i + 2] > 200 && d[i] < 80 && d[i + 1] < 80) n++;
      return n;
    }, 10);
    if (blue < 10) throw new Error(`the one-point chart drew ${blue} blue pixels`);
    const sentence = await page.inputValue('#sentence');
    if (sentence === 'go .') throw new Error("a toy task's translate box still holds fra-eng's 'go .'");
    await page.waitForFunction(() => ['finished', 'stopped'].includes(document.querySelector('#status')?.dataset.phase), null, { timeout: 300000, polling: 500 });
    const runError = await page.$('#run-error');
    if (runError) throw new Error(`run error: ${await runError.textContent()}`);
    const values = JSON.parse(await page.getAttribute('#perplexity-chart', 'data-values'));
    if (values.length !== 3 || !(values[2] < values[0])) throw new Error(`per-token CE per epoch: ${values}`);
    await page.waitForFunction(() => document.querySelectorAll('#translations tbody tr').length === 4, null, { timeout: 120000 });
    await page.fill('#sentence', 'a b c');
    await page.click('#translate');
    await page.waitForFunction(() => (document.querySelector('#sentence-translation')?.textContent || '').startsWith('a b c ⇒ '), null, { timeout: 120000 });
    const translated = await page.textContent('#sentence-translation');
    // Inside the encoder-decoder: both heatmaps drawn; a target word picked shades the source.
    await page.waitForFunction(() => Number(document.querySelector('#encoder-heatmap')?.dataset.rows || 0) > 0
      && Number(document.querySelector('#decoder-heatmap')?.dataset.rows || 0) > 0
      && document.querySelector('#encoder-heatmap')?.width > 0, null, { timeout: 120000 });
    await page.click('#target-words span:nth-child(2)');
    await page.waitForFunction(() => Number(document.querySelector('#source-saliency')?.dataset.shaded || 0) > 0
      && /the decoder expects/.test(document.querySelector('#translation-pick')?.textContent || ''), null, { timeout: 120000 });
    const shaded = await page.$$eval('#source-saliency span', (spans) => spans.filter((s) => /rgba/.test(s.style.background)).length);
    if (shaded < 2) throw new Error(`the source saliency shades ${shaded} words`);
    // Beam search: k = 3 draws the search as a tree, at most 3 hypotheses kept a step, the chosen
    // output's path one node a step; a forced start begins the translation with it.
    await page.fill('#beam-size', '3');
    await page.press('#beam-size', 'Tab');
    await page.fill('#forced-start', 'd');
    await page.press('#forced-start', 'Tab');
    await page.click('#translate');
    await page.waitForFunction(() => document.querySelector('#beam-tree')?.dataset.beam === '3'
      && (document.querySelector('#sentence-translation')?.textContent || '').startsWith('a b c ⇒ d'), null, { timeout: 120000 });
    const tree = await page.evaluate(() => {
      const t = document.querySelector('#beam-tree');
      return { steps: Number(t.dataset.steps), kept: t.querySelectorAll('text.kept, text.chosen').length - 1, chosen: t.querySelectorAll('text.chosen').length };
    });
    if (!(tree.steps > 0 && tree.chosen >= 1 && tree.chosen <= tree.steps && tree.kept <= 3 * tree.steps)) throw new Error(`beam tree: ${JSON.stringify(tree)}`);
    await (await page.$('#beam-tree')).screenshot({ path: path.join(shots, `beam-tree-${name}.png`) });
    const beamed = await page.textContent('#sentence-translation');
    await (await page.$('section.inside')).screenshot({ path: path.join(shots, `inside-${name}.png`) });
    await page.screenshot({ path: path.join(shots, `screenshot-${name}.png`), fullPage: true });
    console.log(`${name}: per-token CE ${values.map((v) => v.toFixed(3)).join(' → ')}, 'a b c' → '${translated}'; ${await page.textContent('#translation-pick')}; beam k = 3 forced to start with 'd': '${beamed}', a tree of ${tree.steps} steps`);
  });
}

// The user's own sentence pairs: a bad line is refused with the CLI's message naming it; good
// pairs train, and the translations table shows the first of them.
async function pastedPairs(name, args) {
  return inBrowser(name, args, async (page) => {
    await page.goto(`http://127.0.0.1:${port}/?preset=toy-reverse&epochs=2&hidden=16&embedding=8`, { waitUntil: 'load', timeout: 60000 });
    await page.waitForFunction(() => document.querySelector('#backend[data-backend]') !== null, null, { timeout: 60000 });
    await page.fill('#pairs-text', 'one\tun\ntwo deux');
    await page.click('#use-pairs');
    const refused = await page.textContent('#pairs-error');
    if (!/line 2 of the pasted pairs .* has no tab/.test(refused)) throw new Error(`bad pairs: '${refused}'`);
    const words = ['one\tun', 'two\tdeux', 'three\ttrois', 'four\tquatre', 'five\tcinq', 'six\tsix'];
    const pairs = Array.from({ length: 60 }, (_, i) => words[i % words.length]).join('\n');
    await page.fill('#pairs-text', pairs);
    await page.click('#use-pairs');
    await page.waitForFunction(() => /60 sentence pairs/.test(document.body.textContent), null, { timeout: 10000 });
    if ((await page.$eval('select[name="task"]', (s) => s.value)) !== 'your-pairs') throw new Error('the task select does not show your pairs');
    await page.click('#start');
    await page.waitForFunction(() => ['finished', 'stopped'].includes(document.querySelector('#status')?.dataset.phase), null, { timeout: 300000, polling: 500 });
    const runError = await page.$('#run-error');
    if (runError) throw new Error(`run error: ${await runError.textContent()}`);
    const values = JSON.parse(await page.getAttribute('#perplexity-chart', 'data-values'));
    await page.waitForFunction(() => document.querySelectorAll('#translations tbody tr').length === 4, null, { timeout: 120000 });
    const first = await page.textContent('#translations tbody tr td');
    if (values.length !== 2 || first.trim() !== 'one') throw new Error(`per-token CE ${values}, first example '${first}'`);
    // A language model never trains on the pasted pairs (they are kept apart from its corpus).
    await page.click('#reset');
    await page.selectOption('select[name="preset"]', 'd2l-gru');
    await page.waitForTimeout(500);
    const stats = await page.evaluate(() => document.querySelector('#corpus-stats')?.textContent || 'no corpus loaded');
    if (/vocabulary of/.test(stats)) throw new Error(`the language model's corpus after pasted pairs: ${stats}`);
    const pageErrors = await page.evaluate(() => document.querySelector('#run-error')?.textContent || '');
    if (pageErrors) throw new Error(pageErrors);
    console.log(`${name}: a line without a tab refused ('${refused.slice(0, 60)}…'); 60 pasted pairs trained, per-token CE ${values.map((v) => v.toFixed(3)).join(' → ')}`);
  });
}

// The page stays smooth while it trains d2l-gru (the preset's sizes): the training worker
// computes, the page only draws. Fails when an animation frame waits more than 100 ms.
async function frameGaps(name, args) {
  return inBrowser(name, args, async (page) => {
    await page.goto(`http://127.0.0.1:${port}/?preset=d2l-gru&epochs=50${onGpu(args)}`, { waitUntil: 'load', timeout: 60000 });
    await page.waitForFunction(() => document.querySelector('#backend[data-backend]')
      && /vocabulary of/.test(document.querySelector('#corpus-stats')?.textContent || ''), null, { timeout: 60000 });
    await page.click('#start');
    await page.waitForFunction(() => /batch [1-9]/.test(document.querySelector('#progress')?.textContent || ''), null, { timeout: 300000 });
    const gaps = await page.evaluate(() => new Promise((resolve) => {
      const gaps = [];
      let last = performance.now();
      const end = last + 4000;
      const frame = (now) => { gaps.push(now - last); last = now; if (now < end) requestAnimationFrame(frame); else resolve(gaps); };
      requestAnimationFrame(frame);
    }));
    const longest = Math.max(...gaps);
    const progress = await page.textContent('#progress');
    if (!(longest <= 100)) throw new Error(`an animation frame waited ${longest.toFixed(0)} ms while training (${progress})`);
    await page.click('#pause');
    console.log(`${name}: ${gaps.length} frames in 4 s of training, longest gap ${longest.toFixed(0)} ms (${progress})`);
  });
}

// The message next to the field named `key`, or '' when there is none.
async function fieldError(page, key) {
  return page.evaluate((k) => document.querySelector(`input[name="${k}"]`)?.parentElement.querySelector('.error')?.textContent || '', key);
}

async function settingsMessages(name, args) {
  const bin = process.env.RNNPLAY_BIN || path.join(root, 'target/debug/rnnplay');
  let cli = '';
  try {
    execFileSync(bin, ['train', '--backend', 'cpu', '--lr', '0'], { stdio: 'pipe' });
  } catch (e) {
    cli = (e.stderr.toString().split('\n').find((l) => l.includes('--lr: ')) || '').split('--lr: ')[1] || '';
  }
  return inBrowser(name, args, async (page) => {
    if (!cli.startsWith('the learning rate')) throw new Error(`rnnplay train --lr 0 said: '${cli}'`);
    await page.goto(`http://127.0.0.1:${port}/${query.replace('lr=1', 'lr=0')}`, { waitUntil: 'load', timeout: 60000 });
    await page.waitForFunction(() => document.querySelector('#backend[data-backend]') !== null
      && /vocabulary of/.test(document.querySelector('#corpus-stats')?.textContent || ''), null, { timeout: 60000 });
    const shown = await fieldError(page, 'lr');
    if (shown !== cli) throw new Error(`the page says '${shown}', the CLI '${cli}'`);
    await page.click('#start');
    await page.waitForFunction(() => /fix the settings/.test(document.querySelector('#run-error')?.textContent || ''), null, { timeout: 10000 });
    const phase = await page.getAttribute('#status', 'data-phase');
    if (phase !== 'ready') throw new Error(`a bad setting started a run (phase ${phase})`);
    await page.fill('input[name="lr"]', 'abc');
    await page.dispatchEvent('input[name="lr"]', 'change');
    const unparsed = await fieldError(page, 'lr');
    if (!unparsed.includes("'abc' is not a finite number")) throw new Error(`after 'abc': '${unparsed}'`);
    await page.fill('input[name="lr"]', '0.5');
    await page.dispatchEvent('input[name="lr"]', 'change');
    const cleared = await fieldError(page, 'lr');
    if (cleared !== '') throw new Error(`after 0.5 the field still says '${cleared}'`);
    if (!(await page.evaluate(() => location.search)).includes('lr=0.5')) throw new Error('the URL did not follow the field');
    console.log(`${name}: page and CLI both say '${cli.slice(0, 60)}…'`);
  });
}

// A lesson's address: its text, its first run set up, a button for the other run; an unknown
// lesson gets a banner naming the lessons.
async function lessonPage(name, args) {
  return inBrowser(name, args, async (page) => {
    await page.goto(`http://127.0.0.1:${port}/?lesson=clipping`, { waitUntil: 'load', timeout: 60000 });
    await page.waitForSelector('#lesson[data-lesson=clipping]', { timeout: 60000 });
    const text = await page.textContent('#lesson');
    if (!text.includes('Exploding gradients and clipping') || !text.includes('rnnplay train --preset d2l-rnn-scratch --hidden 128 --max-tokens 10000 --epochs 30 --lr 4 --clip 1000000')
      || !text.includes('You should see: the unclipped run')) throw new Error(`lesson panel: ${text}`);
    const field = (key) => page.inputValue(`input[name="${key}"]`);
    if ((await field('hidden')) !== '128' || (await field('epochs')) !== '30' || (await field('clip')) !== '0.5') throw new Error(`first run: hidden ${await field('hidden')}, epochs ${await field('epochs')}, clip ${await field('clip')}`);
    await page.click('.lesson-run >> nth=1');
    await page.waitForFunction(() => Number(document.querySelector('input[name="clip"]')?.value) === 1000000, null, { timeout: 10000 });
    if (!(await page.evaluate(() => location.search)).includes('lesson=clipping')) throw new Error('the address lost the lesson');
    // The whole lesson, end to end in the page's CPU fallback: both runs train one after the
    // other, then the panel says whether its claim held, with the numbers (rnnplay lessons --check
    // measures the same claim on the same runs: seed 0 holds).
    await pageReady(page);
    const started = Date.now();
    await page.click('#lesson-train-all');
    await page.waitForFunction(() => /It showed|Not this time/.test(document.querySelector('#lesson-verdict')?.textContent || ''), null, { timeout: 300000, polling: 500 });
    const verdict = await page.textContent('#lesson-verdict');
    if (!verdict.includes('✓ It showed') || !verdict.includes('∞ (diverged)')) throw new Error(`lesson verdict: ${verdict}`);
    const seconds = ((Date.now() - started) / 1000).toFixed(0);
    await (await page.$('#lesson')).screenshot({ path: path.join(shots, `lesson-${name}.png`) });
    await page.goto(`http://127.0.0.1:${port}/?lesson=transformers`, { waitUntil: 'load', timeout: 60000 });
    await page.waitForSelector('#url-error', { timeout: 60000 });
    const banner = await page.textContent('#url-error');
    if (!banner.includes("no lesson 'transformers'; the lessons are language-model")) throw new Error(`unknown lesson: ${banner}`);
    console.log(`${name}: ?lesson=clipping sets up θ = 0.5, its second run θ = 10⁶; its two runs trained one after the other in ${seconds} s and its verdict holds; an unknown lesson is named`);
  });
}

// Waits until the corpus is loaded and the backend chosen.
async function pageReady(page) {
  await page.waitForFunction(() => document.querySelector('#backend[data-backend]')
    && /vocabulary of/.test(document.querySelector('#corpus-stats')?.textContent || ''), null, { timeout: 60000 });
}

// Starts a run and waits for its end; returns its curve.
async function trainToEnd(page) {
  await page.click('#start');
  await page.waitForFunction(() => document.querySelector('#status')?.dataset.phase === 'finished', null, { timeout: 300000, polling: 250 });
  return JSON.parse(await page.getAttribute('#perplexity-chart', 'data-values'));
}

async function setField(page, key, value) {
  await page.fill(`input[name="${key}"]`, value);
  await page.dispatchEvent(`input[name="${key}"]`, 'change');
}

// By default the page times a few minibatches on WebGPU and on its CPU backend before a model
// size's first run, trains on the faster (on SwiftShader: the CPU) and shows both figures; the
// browser remembers them, so the next run of that size starts at once with the same pick; and
// “Train on” forces WebGPU.
async function backendAuto(name, args) {
  const q = '?preset=d2l-gru&hidden=32&batch_size=8&num_steps=10&epochs=2&max_tokens=3000&seed=4';
  const figures = /^WebGPU ([\d ]+) tokens\/s, CPU ([\d ]+) tokens\/s on this model: training on this page's CPU backend/;
  return inBrowser(name, args, async (page) => {
    await page.goto(`http://127.0.0.1:${port}/${q}`, { waitUntil: 'load', timeout: 60000 });
    await pageReady(page);
    const before = await page.textContent('#backend');
    if (!before.includes('times a few minibatches on WebGPU and on this page')) throw new Error(`before the first run: ${before}`);
    if ((await page.inputValue('#backend-choice')) !== 'auto') throw new Error('“Train on” does not start on the measured choice');
    await page.click('#start');
    await page.waitForFunction(() => document.querySelector('#backend')?.dataset.measured === 'true', null, { timeout: 120000 });
    const banner = (await page.textContent('#backend')).trim();
    const [, gpu, cpu] = banner.match(figures) || [];
    if (!gpu) throw new Error(`the banner after measuring: ${banner}`);
    const rate = (text) => Number(text.replace(/ /g, ''));
    if (!(rate(cpu) > rate(gpu))) throw new Error(`picked the CPU at ${cpu} tokens/s over WebGPU at ${gpu}?`);
    if ((await page.getAttribute('#backend', 'data-backend')) !== 'cpu') throw new Error('the banner does not say the run is on the CPU');
    await (await page.$('#backend')).screenshot({ path: path.join(shots, 'backend-measured.png') });
    await page.waitForFunction(() => document.querySelector('#status')?.dataset.phase === 'finished', null, { timeout: 300000, polling: 250 });

    // The same model size again: remembered, no second measurement.
    await page.goto(`http://127.0.0.1:${port}/${q.replace('seed=4', 'seed=5')}`, { waitUntil: 'load', timeout: 60000 });
    await pageReady(page);
    await page.click('#start');
    await page.waitForFunction(() => document.querySelector('#backend')?.dataset.measured === 'true', null, { timeout: 30000 });
    const again = (await page.textContent('#backend')).trim();
    if (!figures.test(again) || !again.includes('measured earlier in this browser')) throw new Error(`the second run: ${again}`);
    await page.waitForFunction(() => document.querySelector('#status')?.dataset.phase === 'finished', null, { timeout: 300000, polling: 250 });

    // Before a run the banner shows the figures of the model size the settings describe: none
    // for another size, the remembered ones again for this one.
    await page.goto(`http://127.0.0.1:${port}/${q}`, { waitUntil: 'load', timeout: 60000 });
    await pageReady(page);
    if ((await page.getAttribute('#backend', 'data-measured')) !== 'true') throw new Error('the remembered figures are not shown on load');
    await setField(page, 'hidden', '48');
    await page.waitForFunction(() => document.querySelector('#backend')?.dataset.measured === 'false', null, { timeout: 10000 });
    await setField(page, 'hidden', '32');
    await page.waitForFunction(() => document.querySelector('#backend')?.dataset.measured === 'true', null, { timeout: 10000 });

    // Forced: WebGPU, whatever was measured.
    await page.selectOption('#backend-choice', 'gpu');
    await page.click('#start');
    await page.waitForFunction(() => /batch [1-9]|epoch [1-9]/.test(document.querySelector('#progress')?.textContent || ''), null, { timeout: 120000 });
    const forced = await page.textContent('#backend');
    if ((await page.getAttribute('#backend', 'data-backend')) !== 'gpu' || !forced.includes('WebGPU')) throw new Error(`forced WebGPU: ${forced}`);
    console.log(`${name}: WebGPU ${gpu} tokens/s, CPU ${cpu} tokens/s → CPU; remembered on the next run; “Train on” forces WebGPU`);
  });
}

// More than one core: the same CPU run on one core and split over two (`cores=`, one Web Worker
// each) trains the same curve up to rounding, and the progress line says on how many cores.
// Prints both runs' tokens/s (a figure, not a test: the machine is shared).
async function cpuCores(name, args) {
  const q = '?preset=d2l-gru&hidden=64&batch_size=16&num_steps=10&epochs=2&max_tokens=6000&seed=3';
  return inBrowser(name, args, async (page) => {
    const train = async (cores) => {
      await page.goto(`http://127.0.0.1:${port}/${q}&cores=${cores}`, { waitUntil: 'load', timeout: 60000 });
      await pageReady(page);
      if ((await page.inputValue('#cores-choice')) !== String(cores)) throw new Error(`“CPU cores” does not show cores=${cores}`);
      const values = await trainToEnd(page);
      const runError = await page.$('#run-error');
      if (runError) throw new Error(`run error on ${cores} core(s): ${await runError.textContent()}`);
      const progress = await page.textContent('#progress');
      return { values, progress, rate: Number((progress.match(/([0-9.]+) tokens\/s/) || [])[1]) };
    };
    const one = await train(1);
    const two = await train(2);
    if (one.progress.includes('CPU cores') || !two.progress.includes('on 2 CPU cores')) {
      throw new Error(`progress lines: '${one.progress}', '${two.progress}'`);
    }
    if (one.values.length !== 2 || !(one.values[1] < one.values[0])) throw new Error(`one core's curve: ${one.values}`);
    const apart = one.values.map((v, i) => Math.abs(v - two.values[i]) / v);
    if (two.values.length !== 2 || !apart.every((d) => d < 1e-3)) throw new Error(`curves: one core ${one.values}, two ${two.values}`);
    console.log(`${name}: perplexity ${one.values.map((v) => v.toFixed(4))} on one core, ${two.values.map((v) => v.toFixed(4))} on two; last epoch ${one.rate.toFixed(0)} and ${two.rate.toFixed(0)} tokens/s (${(two.rate / one.rate).toFixed(2)}×)`);
  });
}

// Runs are kept: two runs survive a reload, the table says what differs, ticking both overlays
// them; a CLI --metrics file imports and overlays; export, rename, delete and clear all work; a run paused after an autosave resumes after a reload from its epoch and ends with
// exactly the curve of the same run trained uninterrupted; a refused storage quota is a message
// and training goes on.
async function keptRuns(name, args) {
  // On one core: split over two, this run can end before Pause reaches it (cpu-cores covers the split).
  const tiny = '?preset=d2l-rnn-scratch&hidden=32&batch_size=8&num_steps=10&epochs=6&max_tokens=3000&lr=1&seed=3&cores=1';
  return inBrowser(name, args, async (page) => {
    await page.goto(`http://127.0.0.1:${port}/${tiny}`, { waitUntil: 'load', timeout: 60000 });
    await pageReady(page);
    const whole = await trainToEnd(page);
    if (whole.length !== 6) throw new Error(`the first run has ${whole.length} points`);
    await page.click('#reset');
    await setField(page, 'hidden', '16');
    await setField(page, 'epochs', '3');
    await trainToEnd(page);
    await page.click('#reset');
    await page.reload({ waitUntil: 'load' });
    await page.waitForFunction(() => document.querySelectorAll('#runs-table tbody tr').length === 2, null, { timeout: 30000 });
    const differs = await page.textContent('#runs-table tbody tr:first-child .differs');
    if (!differs.includes('hidden units 32 → 16') || !differs.includes('epochs 6 → 3')) throw new Error(`what differs: '${differs}'`);
    await page.check('#runs-table tbody tr:nth-child(1) .overlay-pick');
    await page.check('#runs-table tbody tr:nth-child(2) .overlay-pick');
    await page.waitForFunction(() => document.querySelector('#overlay-chart')?.dataset.series === '2', null, { timeout: 10000 });
    await (await page.$('#runs')).screenshot({ path: path.join(shots, 'runs-table.png') });
    await (await page.$('#overlay-chart')).screenshot({ path: path.join(shots, 'runs-overlay.png') });

    // A terminal run's --metrics file imports and overlays; a run exports, renames, deletes.
    const bin = process.env.RNNPLAY_BIN || path.join(root, 'target/debug/rnnplay');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rnnplay-runs-'));
    const metrics = path.join(dir, 'terminal.jsonl');
    execFileSync(bin, ['train', '--backend', 'cpu', '--preset', 'd2l-rnn-scratch', '--hidden', '32', '--batch-size', '8',
      '--num-steps', '10', '--epochs', '3', '--max-tokens', '3000', '--metrics', metrics, '--json'], { stdio: 'pipe' });
    await page.setInputFiles('#runs-import', metrics);
    await page.waitForFunction(() => document.querySelector('#overlay-chart')?.dataset.series === '3', null, { timeout: 10000 });
    const imported = await page.inputValue('#runs-table tbody tr:first-child .run-name');
    if (imported !== 'terminal') throw new Error(`the imported run is named '${imported}'`);
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#runs-table tbody tr:nth-child(2) .run-export')]);
    const exported = JSON.parse(fs.readFileSync(await download.path(), 'utf8'));
    if (!download.suggestedFilename().endsWith('.json') || exported.curve.length !== 3 || exported.spec.hidden !== 16) {
      throw new Error(`export ${download.suggestedFilename()}: ${JSON.stringify(exported).slice(0, 200)}`);
    }
    await page.click('#runs-table tbody tr:first-child .run-delete');
    await page.waitForFunction(() => document.querySelectorAll('#runs-table tbody tr').length === 2, null, { timeout: 10000 });
    await page.fill('#runs-table tbody tr:first-child .run-name', 'smaller');
    await page.dispatchEvent('#runs-table tbody tr:first-child .run-name', 'change');
    fs.rmSync(dir, { recursive: true, force: true });

    // The first run again, paused after its first autosave, then resumed after a reload.
    await page.goto(`http://127.0.0.1:${port}/${tiny}`, { waitUntil: 'load', timeout: 60000 });
    await pageReady(page);
    await page.click('#start');
    await page.waitForFunction(() => Number(document.querySelector('#runs-table tr.training')?.dataset.savedEpoch) >= 1, null, { timeout: 120000 });
    await page.click('#pause');
    await page.waitForFunction(() => document.querySelector('#status')?.dataset.phase !== 'training', null, { timeout: 60000 });
    await page.reload({ waitUntil: 'load' });
    await pageReady(page);
    await page.waitForSelector('#resume-run', { timeout: 30000 });
    const offer = await page.textContent('#resume-run');
    const from = Number((offer.match(/from epoch (\d+)/) || [])[1]);
    if (!(from >= 1 && from < 6)) throw new Error(`resume offer: '${offer}'`);
    await page.click('#resume-run');
    await page.waitForFunction(() => document.querySelector('#status')?.dataset.phase === 'finished', null, { timeout: 300000, polling: 250 });
    const resumed = JSON.parse(await page.getAttribute('#perplexity-chart', 'data-values'));
    if (JSON.stringify(resumed) !== JSON.stringify(whole)) throw new Error(`resumed from epoch ${from}: ${resumed}; uninterrupted: ${whole}`);
    const rows = await page.$$eval('#runs-table tbody tr .run-name', (inputs) => inputs.map((i) => i.value));
    if (rows.length !== 3 || !rows.includes('smaller')) throw new Error(`the resumed run continues its own row, the renamed one stays: ${rows}`);

    // A full quota: a message, and the run trains to its end.
    await page.click('#reset');
    await page.evaluate(() => {
      IDBObjectStore.prototype.put = function put() { throw new DOMException('simulated', 'QuotaExceededError'); };
    });
    await setField(page, 'epochs', '2');
    const curve = await trainToEnd(page);
    const message = await page.textContent('#storage-error');
    if (!message.includes('storage is full or refused') || curve.length !== 2) throw new Error(`quota: '${message}', ${curve.length} epochs`);
    // Clear all (asked twice) leaves no run once nothing trains.
    await page.reload({ waitUntil: 'load' });
    await page.waitForSelector('#runs-table', { timeout: 30000 });
    await page.click('#runs-clear');
    await page.click('#runs-clear-confirm');
    await page.waitForSelector('#no-runs', { timeout: 10000 });
    await page.reload({ waitUntil: 'load' });
    await page.waitForSelector('#no-runs', { timeout: 30000 });
    console.log(`${name}: two runs kept over a reload and overlaid with an imported --metrics run; export, rename, delete, clear; resumed from epoch ${from} = uninterrupted (${whole.map((v) => v.toFixed(3)).join(' ')}); a full quota is a message`);
  });
}

// The lessons index is the landing view of a first visit; every lesson's address sets up its
// first run and one click trains it (a minibatch trains, no error).
async function lessons(name, args, lessonNames) {
  return inBrowser(name, args, async (page) => {
    await page.goto(`http://127.0.0.1:${port}/`, { waitUntil: 'load', timeout: 60000 });
    await page.waitForSelector('#lessons-index', { timeout: 60000 });
    const cards = await page.$$eval('.lesson-card', (els) => els.map((e) => e.dataset.lesson));
    if (cards.join(',') !== lessonNames.join(',')) throw new Error(`index cards: ${cards}`);
    if (name === 'lessons-cpu') await page.screenshot({ path: path.join(shots, 'lessons-index.png') });
    await page.click('#playground');
    await page.waitForSelector('#lessons-index', { state: 'detached', timeout: 10000 });
    await page.reload({ waitUntil: 'load' });
    await page.waitForSelector('#start', { timeout: 60000 });
    if (await page.$('#lessons-index')) throw new Error('the index is the landing view of a first visit only');
    const trained = [];
    for (const lesson of lessonNames) {
      await page.goto(`http://127.0.0.1:${port}/?lesson=${lesson}${onGpu(args)}`, { waitUntil: 'load', timeout: 60000 });
      await page.waitForSelector(`#lesson[data-lesson="${lesson}"]`, { timeout: 60000 });
      await page.waitForFunction(() => document.querySelector('#backend[data-backend]'), null, { timeout: 60000 });
      await page.waitForFunction(() => /vocabulary of/.test(document.querySelector('#corpus-stats')?.textContent || '')
        || /seq2seq|toy/.test(document.querySelector('input[name="preset"], select[name="preset"]')?.value || ''), null, { timeout: 60000 });
      await page.click('.lesson-train >> nth=0');
      await page.waitForFunction(() => /batch [1-9]|epoch [1-9]/.test(document.querySelector('#progress')?.textContent || '')
        || document.querySelector('#run-error'), null, { timeout: 240000, polling: 250 });
      const error = await page.$('#run-error');
      if (error) throw new Error(`${lesson}: ${await error.textContent()}`);
      trained.push(lesson);
    }
    // A lesson's second run is overlaid with its first (trained above) as soon as it starts.
    await page.goto(`http://127.0.0.1:${port}/?lesson=clipping`, { waitUntil: 'load', timeout: 60000 });
    await pageReady(page);
    await page.click('.lesson-train >> nth=1');
    await page.waitForFunction(() => document.querySelectorAll('#runs-table .overlay-pick:checked').length === 2, null, { timeout: 60000 });
    const names = await page.$$eval('#runs-table tr', (trs) => trs.filter((tr) => tr.querySelector('.overlay-pick:checked'))
      .map((tr) => tr.querySelector('.run-name').value));
    if (names.join(' | ') !== 'clipping: no clipping (θ = 10⁶) | clipping: θ = 0.5') throw new Error(`overlaid: ${names}`);
    console.log(`${name}: the index lists ${cards.length} lessons; each trains from its address: ${trained.join(', ')}`);
  });
}

// The cell view at the picked position holds the numbers `rnnplay inspect --cell` prints for
// the same checkpoint, passage and position; a unit hovered shows the cell's arithmetic.
async function cellMatchesCli(page, bin, ckpt, label, hasC) {
  await page.waitForSelector(hasC ? '#cell-view .cell-row[data-name="c"]' : '#cell-view .cell-row[data-name="h"]', { timeout: 120000 });
  const position = Number(await page.getAttribute('#cell-view', 'data-position'));
  const ours = JSON.parse(await page.getAttribute('#cell-view', 'data-vectors'));
  const passage = (await page.$$eval('#connectivity-passage span', (spans) => spans.map((s) => s.textContent))).join('').replaceAll('␣', ' ');
  const cli = JSON.parse(execFileSync(bin, ['inspect', '--checkpoint', ckpt, '--text', passage, '--position', String(position),
    '--cell', '--backend', 'cpu', '--json'], { stdio: 'pipe' }).toString()).cell.vectors;
  if (JSON.stringify(Object.keys(ours)) !== JSON.stringify(Object.keys(cli))) {
    throw new Error(`${label} cell view has ${Object.keys(ours)}, rnnplay inspect --cell ${Object.keys(cli)}`);
  }
  for (const [key, values] of Object.entries(cli)) {
    values.forEach((v, i) => {
      if (!(Math.abs(ours[key][i] - v) <= 1e-5 * Math.max(1, Math.abs(v)))) throw new Error(`${label} cell view ${key}[${i}] = ${ours[key][i]}, rnnplay inspect --cell ${v}`);
    });
  }
  await page.hover('#cell-view .cell-row[data-name="h"] .cell-unit:nth-child(3)');
  await page.waitForFunction(() => /unit 2:/.test(document.querySelector('#cell-hover')?.textContent || ''), null, { timeout: 10000 });
  const hover = await page.textContent('#cell-hover');
  if (!/h = \(1 − z\)|h = o·tanh/.test(hover)) throw new Error(`${label} cell view's hover shows no arithmetic for h: '${hover}'`);
  await (await page.$('#cell-view')).screenshot({ path: path.join(shots, `cell-${label}.png`) });
  return `the ${label} cell view at position ${position} equals rnnplay inspect --cell (${Object.keys(cli).join(', ')})`;
}

async function loadCheckpoint(name, args) {
  const bin = process.env.RNNPLAY_BIN || path.join(root, 'target/debug/rnnplay');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rnnplay-e2e-'));
  const ckpt = path.join(dir, 'tiny.safetensors');
  const lstm = path.join(dir, 'lstm.safetensors');
  const corrupt = path.join(dir, 'corrupt.safetensors');
  fs.writeFileSync(corrupt, 'this is not a checkpoint');
  try {
    return await inBrowser(name, args, async (page) => {
      execFileSync(bin, ['train', '--backend', 'cpu', '--preset', 'd2l-gru', '--hidden', '24', '--epochs', '3',
        '--max-tokens', '3000', '--batch-size', '8', '--num-steps', '10', '--save', ckpt, '--json'], { stdio: 'pipe' });
      const expected = JSON.parse(execFileSync(bin, ['predict', '--checkpoint', ckpt, '--backend', 'cpu',
        '--prefix', 'time traveller', '--len', '50', '--json'], { stdio: 'pipe' }).toString()).free_running;
      await page.goto(`http://127.0.0.1:${port}/?batch_size=8&num_steps=10&max_tokens=3000`, { waitUntil: 'load', timeout: 60000 });
      await page.waitForFunction(() => document.querySelector('#backend[data-backend]') && /vocabulary of/.test(document.querySelector('#corpus-stats')?.textContent || ''), null, { timeout: 60000 });
      await page.setInputFiles('#load-checkpoint', ckpt);
      await page.waitForFunction(() => (document.querySelector('#free-running-text')?.textContent || '').length > 14, null, { timeout: 120000 });
      // The page draws spaces as ␣.
      const got = (await page.textContent('#free-running-text')).replaceAll('␣', ' ');
      if (got !== expected) throw new Error(`the page continues '${got}', rnnplay predict '${expected}'`);
      const hidden = await page.inputValue('input[name=hidden]');
      if (hidden !== '24') throw new Error(`hidden field shows ${hidden} after loading a hidden-24 model`);
      const progress = await page.textContent('#progress');
      if (!progress.includes('had trained 3 epoch(s) before')) throw new Error(`a loaded model's epochs: '${progress}'`);
      const inside = await checkInside(page, name, 0);
      const gruCell = await cellMatchesCli(page, bin, ckpt, 'gru', false);
      execFileSync(bin, ['train', '--backend', 'cpu', '--preset', 'd2l-lstm', '--hidden', '16', '--epochs', '2',
        '--max-tokens', '3000', '--batch-size', '8', '--num-steps', '10', '--save', lstm, '--json'], { stdio: 'pipe' });
      await page.setInputFiles('#load-checkpoint', lstm);
      await page.waitForFunction(() => /had trained 2 epoch/.test(document.querySelector('#progress')?.textContent || ''), null, { timeout: 120000 });
      await page.waitForSelector('#connectivity-passage span:nth-child(21)', { timeout: 120000 });
      await page.click('#connectivity-passage span:nth-child(21)');
      const lstmCell = await cellMatchesCli(page, bin, lstm, 'lstm', true);
      await page.setInputFiles('#load-checkpoint', corrupt);
      await page.waitForSelector('#load-error', { timeout: 30000 });
      const message = await page.textContent('#load-error');
      if (!message.includes('not a usable rnnplay checkpoint')) throw new Error(`load error: '${message}'`);
      if (!(await page.textContent('#progress')).includes('had trained 2 epoch(s) before')) throw new Error('a bad file replaced the loaded model');
      // Reset clears old messages.
      await page.click('#reset');
      await page.waitForFunction(() => !document.querySelector('#load-error'), null, { timeout: 10000 });
      console.log(`${name}: the page and rnnplay predict both continue '${expected.slice(0, 40)}…'; a corrupt file is refused; ${inside}; ${gruCell}; ${lstmCell}`);
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function benchPage(name, args) {
  return inBrowser(name, args, async (page) => {
    // Two warm-up steps make a plan, so the timed step of a replay-on row is replayed.
    const q = '?bench=1&bench_presets=d2l-gru&bench_warmup=2&bench_batches=1&bench_layers=all&bench_replay=both';
    await page.goto(`http://127.0.0.1:${port}/${q}`, { waitUntil: 'load', timeout: 60000 });
    await page.waitForFunction(() => ['finished', 'failed'].includes(document.querySelector('#bench-status')?.dataset.phase), null, { timeout: 300000, polling: 500 });
    const status = await page.textContent('#bench-status');
    if ((await page.getAttribute('#bench-status', 'data-phase')) !== 'finished') throw new Error(`benchmark: ${status}`);
    const rows = await page.$$eval('#bench-table tbody tr', (trs) => trs.map((tr) => ({ ...tr.dataset })));
    const kinds = rows.map((r) => `${r.layers}/${r.replay}`).join(' ');
    if (kinds !== 'window/on window/off steps/on steps/off unfused/on unfused/off') throw new Error(`rows: ${JSON.stringify(rows)}`);
    // Host time is a number of milliseconds; Chromium's 0.1 ms clock may read 0 for a replayed step.
    if (!rows.every((r) => Number(r.tokensPerS) > 0 && Number(r.hostMsPerStep) >= 0)) throw new Error(`tokens/s, host ms: ${JSON.stringify(rows)}`);
    if (rows.map((r) => Number(r.replayed)).join(' ') !== '1 0 1 0 1 0') throw new Error(`replayed: ${JSON.stringify(rows)}`);
    const [window, , steps, , unfused] = rows.map((r) => Number(r.dispatchesPerStep));
    if (!(window * 3 < steps && steps * 2 < unfused)) throw new Error(`dispatches per step: window ${window}, steps ${steps}, unfused ${unfused}`);
    if (!(await page.textContent('#bench-header')).includes('WebGPU')) throw new Error('the benchmark did not run on WebGPU');
    const host = rows.map((r) => `${r.layers}/${r.replay} ${Number(r.hostMsPerStep).toFixed(2)} ms`).join(', ');
    const rate = (i) => Number(rows[i].tokensPerS).toFixed(0);
    // On a phone the twelve columns scroll in their own box: the page does not, no cell breaks.
    await page.setViewportSize({ width: 420, height: 900 });
    const narrow = await page.evaluate(() => {
      const table = document.querySelector('#bench-table');
      // The line boxes of a cell's text: more than one when it wraps.
      const lines = [...table.querySelectorAll('td, th')].map((cell) => {
        const range = document.createRange();
        range.selectNodeContents(cell);
        return range.getClientRects().length;
      });
      return {
        overflow: document.documentElement.scrollWidth - window.innerWidth,
        scrolls: table.parentElement.scrollWidth > table.parentElement.clientWidth,
        mostLines: Math.max(...lines),
      };
    });
    await page.screenshot({ path: path.join(shots, `screenshot-${name}-420px.png`), fullPage: true });
    if (narrow.overflow > 0 || !narrow.scrolls || narrow.mostLines > 1) {
      throw new Error(`at 420 px the benchmark table should scroll in its box with unbroken cells: ${JSON.stringify(narrow)}`);
    }
    console.log(`${name}: d2l-gru tokens/s window ${rate(0)} (${window} dispatches/step), steps ${rate(2)} (${steps}), unfused ${rate(4)} (${unfused}); host per step: ${host}`);
  });
}

(async () => {
  const server = await serve(dist, 8000);
  port = server.port;
  let passed = 0; let failed = 0;
  try {
    // E2E_ONLY=name,name runs only those scenarios (while working on one).
    const want = (n) => !process.env.E2E_ONLY || process.env.E2E_ONLY.split(',').includes(n);
    // What the scenarios in other files need from this one.
    const shared = { inBrowser, port: () => port, dist, shots };
    const scenarios = [
      ['webgpu', () => scenario('webgpu', [...baseArgs, '--enable-unsafe-webgpu'], 'gpu')],
      ['cpu-fallback', () => scenario('cpu-fallback', [...baseArgs, '--disable-gpu'], 'cpu')],
      ['seq2seq-webgpu', () => seq2seq('seq2seq-webgpu', [...baseArgs, '--enable-unsafe-webgpu'])],
      ['pasted-pairs', () => pastedPairs('pasted-pairs', [...baseArgs, '--disable-gpu'])],
      ['attention-webgpu', () => attention('attention-webgpu', [...baseArgs, '--enable-unsafe-webgpu'], shared)],
      ['load-checkpoint', () => loadCheckpoint('load-checkpoint', [...baseArgs, '--disable-gpu'])],
      ['settings-messages', () => settingsMessages('settings-messages', [...baseArgs, '--disable-gpu'])],
      ['lesson', () => lessonPage('lesson', [...baseArgs, '--disable-gpu'])],
      ['runs', () => keptRuns('runs', [...baseArgs, '--disable-gpu'])],
      ['lessons-cpu', () => lessons('lessons-cpu', [...baseArgs, '--disable-gpu'], LESSONS)],
      ['lessons-webgpu', () => lessons('lessons-webgpu', [...baseArgs, '--enable-unsafe-webgpu'], LESSONS)],
      ['frames-webgpu', () => frameGaps('frames-webgpu', [...baseArgs, '--enable-unsafe-webgpu'])],
      ['frames-cpu', () => frameGaps('frames-cpu', [...baseArgs, '--disable-gpu'])],
      ['bench-page', () => benchPage('bench-page', [...baseArgs, '--enable-unsafe-webgpu'])],
      ['soak-webgpu', () => reliability.soak('soak-webgpu', [...baseArgs, '--enable-unsafe-webgpu'], shared)],
      ['soak-cpu', () => reliability.soak('soak-cpu', [...baseArgs, '--disable-gpu', '--enable-precise-memory-info'], shared, '&worker=0')],
      ['device-lost', () => reliability.deviceLost('device-lost', [...baseArgs, '--enable-unsafe-webgpu'], shared)],
      ['backend-auto', () => backendAuto('backend-auto', [...baseArgs, '--enable-unsafe-webgpu'])],
      ['cpu-cores', () => cpuCores('cpu-cores', [...baseArgs, '--disable-gpu'])],
    ];
    for (const [name, run] of scenarios) {
      if (!want(name)) continue;
      if (await run()) passed++; else failed++;
    }
  } finally {
    server.stop();
  }
  const shipped = fs.readdirSync(dist).filter((f) => f.startsWith('screenshot-'));
  if (shipped.length) { console.error(`screenshots in ${dist}, which ships: ${shipped}`); failed++; }
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed === 0 ? 0 : 1);
})();
