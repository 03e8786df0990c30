// What the page's own thread spends its time on while a run trains (not a test; the figures go
// to docs/PERFORMANCE.md): headless Chromium opens the page with d2l-gru (The Time Machine, the
// preset's sizes), starts training and, once the first minibatch is done, records for `seconds`
// (default 4) the gaps between animation frames, a trace of the page's main thread (tasks,
// style, layout, paint, garbage collection) and a sampling profile of its JavaScript and wasm.
// Prints the longest gap, the main thread's busy time by kind, its longest tasks and the
// functions that took the most time of their own.
// Usage: node tests/e2e/frames_profile.cjs [dist dir] [cpu|webgpu] [seconds] [extra query]
const path = require('path');
const { baseArgs, serve, launch } = require('./harness.cjs');

const dist = path.resolve(process.argv[2] || path.join(__dirname, '../../dist'));
const backend = process.argv[3] || 'cpu';
const seconds = Number(process.argv[4] || 4);
const extra = process.argv[5] || '';

// Trace events whose durations say what the main thread did.
const KINDS = {
  script: ['FunctionCall', 'EventDispatch', 'TimerFire', 'FireAnimationFrame', 'EvaluateScript', 'v8.callFunction', 'RunMicrotasks'],
  style: ['UpdateLayoutTree', 'RecalculateStyles', 'ParseAuthorStyleSheet'],
  layout: ['Layout', 'UpdateLayerTree', 'PrePaint', 'Layerize'],
  paint: ['Paint', 'PaintImage', 'RasterTask', 'CompositeLayers', 'Commit'],
  gc: ['MinorGC', 'MajorGC', 'V8.GC_SCAVENGER', 'V8.GC_MARK_COMPACTOR', 'BlinkGC.AtomicPhase'],
};

// The gaps between animation frames over `seconds`, measured in the page.
function frameGaps(page) {
  return page.evaluate((ms) => new Promise((resolve) => {
    const gaps = [];
    let last = performance.now();
    const end = last + ms;
    const frame = (now) => { gaps.push(now - last); last = now; if (now < end) requestAnimationFrame(frame); else resolve(gaps); };
    requestAnimationFrame(frame);
  }), seconds * 1000);
}

async function profile(port) {
  const args = backend === 'webgpu' ? [...baseArgs, '--enable-unsafe-webgpu'] : [...baseArgs, '--disable-gpu'];
  const browser = await launch(args);
  try {
    const page = await browser.newPage();
    const query = `?preset=d2l-gru&epochs=50${backend === 'webgpu' ? '&backend=gpu' : ''}${extra}`;
    await page.goto(`http://127.0.0.1:${port}/${query}`, { waitUntil: 'load', timeout: 60000 });
    await page.waitForFunction(() => document.querySelector('#backend[data-backend]')
      && /vocabulary of/.test(document.querySelector('#corpus-stats')?.textContent || ''), null, { timeout: 60000 });
    await page.click('#start');
    await page.waitForFunction(() => /batch [1-9]/.test(document.querySelector('#progress')?.textContent || ''), null, { timeout: 300000 });
    if (process.env.GAPS_ONLY) {
      const gaps = await frameGaps(page);
      const progress = await page.textContent('#progress');
      console.log(`${backend}${extra}: longest gap ${Math.max(...gaps).toFixed(0)} ms, gaps > 34 ms: ${gaps.filter((g) => g > 34).map((g) => g.toFixed(0)).join(' ')} (${progress})`);
      return;
    }
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Profiler.enable');
    await cdp.send('Profiler.setSamplingInterval', { interval: 500 });
    await cdp.send('Profiler.start');
    const events = [];
    cdp.on('Tracing.dataCollected', (data) => events.push(...data.value));
    const traced = new Promise((resolve) => cdp.once('Tracing.tracingComplete', resolve));
    await cdp.send('Tracing.start', {
      categories: 'devtools.timeline,disabled-by-default-devtools.timeline,toplevel,v8,blink.user_timing,__metadata',
      transferMode: 'ReportEvents',
    });
    const gaps = await frameGaps(page);
    await cdp.send('Tracing.end');
    await traced;
    const { profile } = await cdp.send('Profiler.stop');
    const byIdAll = new Map(profile.nodes.map((n) => [n.id, n]));
    const intervalAll = (profile.endTime - profile.startTime) / Math.max(1, profile.samples.length);
    const progress = await page.textContent('#progress');
    await page.click('#pause');

    gaps.sort((a, b) => a - b);
    console.log(`${backend}${extra}: ${gaps.length} frames in ${seconds} s, longest gap ${gaps[gaps.length - 1].toFixed(0)} ms, `
      + `p99 ${gaps[Math.floor(gaps.length * 0.99)].toFixed(0)} ms, ${gaps.filter((g) => g > 50).length} gaps > 50 ms (${progress})`);

    // The renderer's main thread.
    const main = events.find((e) => e.name === 'thread_name' && e.args && e.args.name === 'CrRendererMain'
      && events.some((t) => t.pid === e.pid && t.name === 'FireAnimationFrame'));
    const onMain = events.filter((e) => main && e.pid === main.pid && e.tid === main.tid && e.ph === 'X' && e.dur);
    // Top-level tasks only (a task event can hold another).
    const tasks = [];
    for (const e of onMain.filter((t) => t.name === 'RunTask' || t.name === 'ThreadControllerImpl::RunTask').sort((a, b) => a.ts - b.ts)) {
      const last = tasks[tasks.length - 1];
      if (!last || e.ts >= last.ts + last.dur) tasks.push(e);
    }
    const busy = tasks.reduce((s, e) => s + e.dur, 0) / 1000;
    console.log(`  main thread busy ${busy.toFixed(0)} ms of ${seconds * 1000} ms in ${tasks.length} tasks`);
    for (const [kind, names] of Object.entries(KINDS)) {
      // Outermost events of the kind only (a function call holds others).
      let ms = 0; let end = -1;
      for (const e of onMain.filter((t) => names.includes(t.name)).sort((a, b) => a.ts - b.ts)) {
        if (e.ts >= end) { ms += e.dur / 1000; end = e.ts + e.dur; }
      }
      console.log(`  ${kind.padEnd(7)} ${ms.toFixed(0)} ms`);
    }
    if (process.env.TIMELINE) {
      // Every task of 8 ms or more, in order, with its largest parts.
      for (const task of tasks.filter((t) => t.dur >= 8000)) {
        const inside = onMain.filter((e) => e !== task && e.ts >= task.ts && e.ts + e.dur <= task.ts + task.dur && e.dur > 1000 && !/RunTask|v8.callFunction/.test(e.name));
        const parts = inside.sort((a, b) => b.dur - a.dur).slice(0, 5).map((e) => `${e.name}${e.args?.data?.type ? '(' + e.args.data.type + ')' : ''} ${(e.dur / 1000).toFixed(1)}`);
        console.log(`  @${((task.ts - tasks[0].ts) / 1000).toFixed(0).padStart(5)} ms  ${(task.dur / 1000).toFixed(1).padStart(5)} ms: ${parts.join(', ')}`);
      }
    }
    const longest = [...tasks].sort((a, b) => b.dur - a.dur).slice(0, 5);
    for (const task of longest) {
      const inside = onMain.filter((e) => e !== task && e.ts >= task.ts && e.ts + e.dur <= task.ts + task.dur && e.dur > 1000);
      const parts = inside.sort((a, b) => b.dur - a.dur).slice(0, 6).map((e) => `${e.name} ${(e.dur / 1000).toFixed(1)}`);
      console.log(`  task ${(task.dur / 1000).toFixed(1)} ms: ${parts.join(', ')}`);
    }
    // Inclusive time per function of ours (wasm names with rnnplay_web, leptos, plotters).
    const parent = new Map();
    for (const n of profile.nodes) for (const c of n.children || []) parent.set(c, n.id);
    const inclusive = new Map();
    const frameName = (n) => `${n.callFrame.functionName || '(anonymous)'}`;
    for (const id of profile.samples) {
      const seen = new Set();
      for (let at = id; at !== undefined; at = parent.get(at)) {
        const name = frameName(byIdAll.get(at));
        if (!/rnnplay_web|plotters|leptos|serde_json|base64/.test(name) || seen.has(name)) continue;
        seen.add(name);
        inclusive.set(name, (inclusive.get(name) || 0) + intervalAll / 1000);
      }
    }
    console.log('  inclusive time, our functions:');
    for (const [name, ms] of [...inclusive.entries()].sort((a, b) => b[1] - a[1]).slice(0, 25)) {
      console.log(`    ${ms.toFixed(0).padStart(5)} ms  ${name.slice(0, 150)}`);
    }
    // Self time per function of the sampling profile.
    const self = new Map();
    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    const interval = (profile.endTime - profile.startTime) / Math.max(1, profile.samples.length);
    for (const id of profile.samples) {
      const frame = byId.get(id).callFrame;
      const name = `${frame.functionName || '(anonymous)'} ${frame.url ? path.basename(frame.url) : ''}`.trim();
      self.set(name, (self.get(name) || 0) + interval / 1000);
    }
    const top = [...self.entries()].filter(([n]) => !/^\((idle|program|root)\)/.test(n)).sort((a, b) => b[1] - a[1]).slice(0, 15);
    console.log('  self time by function:');
    for (const [name, ms] of top) console.log(`    ${ms.toFixed(0).padStart(5)} ms  ${name}`);
  } finally {
    await browser.close();
  }
}

(async () => {
  const server = await serve(dist, 9500);
  try {
    await profile(server.port);
  } finally {
    server.stop();
  }
})();
