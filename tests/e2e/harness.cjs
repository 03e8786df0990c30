// What the browser scripts share: Chromium's flags, a static server for dist/ on 127.0.0.1, and
// a headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core).
const { chromium } = require('playwright-core');
const { spawn } = require('child_process');

const baseArgs = ['--no-sandbox', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync'];

// Serves `dir` on a random port from `from`; returns { port, stop }.
async function serve(dir, from) {
  const port = from + Math.floor(Math.random() * 1000);
  const server = spawn('python3', ['-m', 'http.server', String(port), '--bind', '127.0.0.1', '--directory', dir], { stdio: 'ignore' });
  for (let i = 0; i < 50; i++) {
    try { const r = await fetch(`http://127.0.0.1:${port}/`); if (r.ok) break; } catch (_) {}
    await new Promise((r) => setTimeout(r, 100));
  }
  return { port, stop: () => server.kill() };
}

// A headless Chromium started with `args`.
function launch(args) {
  return chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, chromiumSandbox: false, args });
}

module.exports = { baseArgs, serve, launch };
