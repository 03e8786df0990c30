// The attention decoder in the page (issue #27), run by e2e.cjs: a toy reversal trained with
// additive attention on WebGPU shows each example's attention map during training (read from
// the page's data: every row sums to 1), and the translate box draws the sentence's map, whose
// rows sum to 1 and whose output words attend most to the source word they copy (the
// anti-diagonal of a reversal).
const path = require('path');

// Each row of the map `selector` (its `data-weights`), after at least `rows` rows are drawn.
async function weightsOf(page, selector, rows) {
  await page.waitForFunction(([s, n]) => JSON.parse(document.querySelector(s)?.dataset.weights || '[]').length >= n,
    [selector, rows], { timeout: 300000, polling: 500 });
  return JSON.parse(await page.getAttribute(selector, 'data-weights'));
}

function checkRows(what, weights) {
  for (const [i, row] of weights.entries()) {
    const sum = row.reduce((a, b) => a + b, 0);
    if (Math.abs(sum - 1) > 1e-3) throw new Error(`${what}: row ${i} sums to ${sum}`);
  }
}

// `inBrowser(name, args, body)`, `port()` and `shots` come from e2e.cjs.
async function attention(name, args, { inBrowser, port, shots }) {
  return inBrowser(name, args, async (page) => {
    const q = '?preset=toy-reverse&attention=additive&num_examples=4000&epochs=5&hidden=32&embedding=8&backend=gpu';
    await page.goto(`http://127.0.0.1:${port()}/${q}`, { waitUntil: 'load', timeout: 60000 });
    await page.waitForFunction(() => document.querySelector('#backend[data-backend]') !== null, null, { timeout: 60000 });
    await page.click('#start');
    // During training: the first example's map, drawn after an epoch.
    const during = await weightsOf(page, '#attention-example-0', 1);
    checkRows('the first example during training', during);
    const phase = await page.getAttribute('#status', 'data-phase');
    await page.waitForFunction(() => ['finished', 'stopped'].includes(document.querySelector('#status')?.dataset.phase), null, { timeout: 600000, polling: 500 });
    const runError = await page.$('#run-error');
    if (runError) throw new Error(`run error: ${await runError.textContent()}`);
    await page.fill('#sentence', 'a b c d e');
    await page.click('#translate');
    await page.waitForFunction(() => (document.querySelector('#sentence-translation')?.textContent || '').startsWith('a b c d e ⇒ '), null, { timeout: 120000 });
    const weights = await weightsOf(page, '#attention-map', 2);
    checkRows('the translate box', weights);
    const translated = await page.textContent('#sentence-translation');
    // Reversal: output word i copies source word 4 - i, where it should look most.
    await (await page.$('#attention-map')).screenshot({ path: path.join(shots, `attention-map-${name}.png`) });
    await (await page.$('section.predictions')).screenshot({ path: path.join(shots, `translations-${name}.png`) });
    const looked = weights.slice(0, 5).map((row) => row.indexOf(Math.max(...row)));
    const diagonal = looked.filter((s, i) => s === 4 - i).length;
    if (diagonal < 4) throw new Error(`'${translated}': the output words looked most at source words ${looked}, not the anti-diagonal`);
    console.log(`${name}: first example's map drawn while ${phase} (${during.length} rows, each summing to 1); '${translated}': ${diagonal} of 5 output words look most at the source word they copy`);
  });
}

module.exports = { attention };
