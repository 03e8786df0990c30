// The page's training worker: loads the same wasm module as the page and hands over to its
// worker entry point (web/src/worker.rs), which owns the backend, the session and the loop.
import init, { worker_main } from './pkg/rnnplay_web.js';

await init();
worker_main();
