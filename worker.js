// The page's training worker, and its helpers: loads the same wasm module as the page and hands
// over to the worker entry point (web/src/worker.rs), which owns the backend, the session and
// the loop, or, loaded as worker.js?role=helper, to a helper's (web/src/helpers.rs), which
// trains its share of each minibatch of a run split over the CPU cores.
import init, { worker_main, helper_main } from './pkg/rnnplay_web.js';

await init();
if (new URL(self.location.href).searchParams.get('role') === 'helper') {
  helper_main();
} else {
  worker_main();
}
