//! The CPU backend's threads: a persistent pool that splits one kernel's work into parts.
//!
//! A training step is a long chain of small kernels (a d2l GRU step is 35 products of
//! 32×256·256×768 and 35 cell updates, each well under a millisecond), so the worker threads
//! are made once per process and kept: spawning threads per kernel, or a GEMM library's per-call
//! threading, costs more than these products take (measured: `matrixmultiply`'s own threading
//! made d2l-gru 0.78–0.90× as fast on two cores). The calling thread takes parts too, and takes
//! every part no worker has claimed, so a worker the OS has descheduled costs little. A
//! backend's [`Pool`] only says into how many parts its kernels are cut.
//!
//! Parts never depend on the thread count for their arithmetic: a kernel is cut into pieces
//! whose every output element is computed by the same instructions in the same order as in one
//! piece, so the numbers are the same bit for bit on 1 thread or 16 (`tests/cpu_threads.rs`).
//! In wasm32 (no threads on stable Rust, see docs/PERFORMANCE.md) the pool is one thread.

/// The most threads a pool takes (`RNNPLAY_THREADS` is checked against it).
pub const MAX_THREADS: usize = 256;

/// How many threads the CPU backend uses when nobody says: every core the OS offers.
pub fn default_threads() -> usize {
    #[cfg(not(target_arch = "wasm32"))]
    {
        std::thread::available_parallelism().map_or(1, |n| n.get()).min(MAX_THREADS)
    }
    #[cfg(target_arch = "wasm32")]
    {
        1
    }
}

/// A raw pointer that parts of one kernel share to write disjoint elements of one buffer.
#[derive(Clone, Copy)]
pub(super) struct SharedMut(pub *mut f32);

// SAFETY: the pointer is only dereferenced by the parts of one kernel, each at elements no other
// part touches, while the kernel holds the buffer exclusively (see `Pool::run`'s callers).
unsafe impl Send for SharedMut {}
unsafe impl Sync for SharedMut {}

impl SharedMut {
    /// The pointer (a method, so that closures capture the `Sync` wrapper, not its field).
    #[inline]
    pub fn ptr(self) -> *mut f32 {
        self.0
    }
}

/// A CPU backend's share of the process's workers: how many parts its kernels are cut into.
pub(super) struct Pool {
    threads: usize,
}

impl Pool {
    pub fn new(threads: usize) -> Self {
        Self { threads: threads.clamp(1, MAX_THREADS) }
    }

    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Runs `part(0)`, …, `part(parts - 1)` and returns when all have finished: on the process's
    /// workers and the calling thread together when this pool has several threads, else (and
    /// when another thread is using the workers, or in wasm32) one after another here.
    pub fn run(&self, parts: usize, part: impl Fn(usize) + Sync) {
        #[cfg(not(target_arch = "wasm32"))]
        if parts > 1 && self.threads > 1 {
            if let Some(workers) = workers::get() {
                if workers.try_run(parts, &part) {
                    return;
                }
            }
        }
        (0..parts).for_each(part);
    }

    /// Cuts `len` items into at most `threads` ranges of whole `align`-sized groups, none smaller
    /// than `min_len` items (fewer ranges when `len` is short); the last may be shorter.
    pub fn ranges(&self, len: usize, align: usize, min_len: usize) -> Vec<std::ops::Range<usize>> {
        let parts = self.threads.min(len / min_len.max(1)).max(1);
        let align = align.max(1);
        let chunk = len.div_ceil(parts).div_ceil(align) * align;
        (0..len).step_by(chunk.max(1)).map(|start| start..(start + chunk).min(len)).collect()
    }
}

/// The process's worker threads, shared by every CPU backend: one fewer than the cores, made on
/// first use. Waiting workers spin for a moment before sleeping, because the next kernel of a
/// step follows within microseconds and waking a sleeping thread costs tens of them (measured:
/// rayon's sleep-and-wake made d2l-gru no faster on two threads than on one).
#[cfg(not(target_arch = "wasm32"))]
mod workers {
    use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex, OnceLock};
    use std::thread::Thread;
    use std::time::{Duration, Instant};

    /// How long an idle worker spins before it sleeps.
    const SPIN: Duration = Duration::from_micros(200);

    /// One call's parts. The counters live on the heap so that a worker arriving after the call
    /// returned touches only them; it claims no part (all are taken) and never calls `part`,
    /// whose borrow ended with the call.
    struct Job {
        part: *const (dyn Fn(usize) + Sync + 'static),
        parts: usize,
        next: AtomicUsize,
        done: AtomicUsize,
        /// A part panicked (a bug): the caller panics too once all parts are over.
        panicked: AtomicBool,
    }

    // SAFETY: `part` is Sync and only called for a claimed part, while the caller waits.
    unsafe impl Send for Job {}
    unsafe impl Sync for Job {}

    impl Job {
        /// Claims and runs parts until none are left.
        fn work(&self) {
            loop {
                let p = self.next.fetch_add(1, Ordering::AcqRel);
                if p >= self.parts {
                    return;
                }
                // SAFETY: a part was claimed, so the caller of `try_run` is still waiting and the
                // closure it lent is alive.
                let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| unsafe { (*self.part)(p) }));
                if ran.is_err() {
                    self.panicked.store(true, Ordering::Release);
                }
                self.done.fetch_add(1, Ordering::Release);
            }
        }
    }

    pub(super) struct Workers {
        /// Bumped for each new job.
        epoch: AtomicU64,
        job: Mutex<Option<Arc<Job>>>,
        /// One caller at a time; others run their parts themselves.
        busy: Mutex<()>,
        /// Per worker: whether it sleeps (and needs an unpark), and its handle.
        asleep: Vec<AtomicBool>,
        threads: OnceLock<Vec<Thread>>,
    }

    static WORKERS: OnceLock<Option<Arc<Workers>>> = OnceLock::new();

    /// The workers, made on first use; `None` on a one-core machine or if the OS refuses threads.
    pub(super) fn get() -> Option<&'static Workers> {
        WORKERS.get_or_init(spawn).as_deref()
    }

    fn spawn() -> Option<Arc<Workers>> {
        let count = super::default_threads().saturating_sub(1);
        let workers = Arc::new(Workers {
            epoch: AtomicU64::new(0),
            job: Mutex::new(None),
            busy: Mutex::new(()),
            asleep: (0..count).map(|_| AtomicBool::new(false)).collect(),
            threads: OnceLock::new(),
        });
        let mut threads = Vec::new();
        for i in 0..count {
            let shared = Arc::clone(&workers);
            let spawned = std::thread::Builder::new().name(format!("rnnplay-cpu-{i}")).spawn(move || shared.serve(i));
            match spawned {
                Ok(handle) => threads.push(handle.thread().clone()),
                // Fewer workers than asked: the parts are claimed by whoever is there.
                Err(_) => break,
            }
        }
        if threads.is_empty() {
            return None;
        }
        let _ = workers.threads.set(threads);
        Some(workers)
    }

    impl Workers {
        /// A worker's life: wait for a job (spinning, then sleeping), help with it, repeat.
        fn serve(&self, me: usize) {
            let mut seen = 0;
            loop {
                let started = Instant::now();
                let mut spins = 0u32;
                loop {
                    let epoch = self.epoch.load(Ordering::SeqCst);
                    if epoch != seen {
                        seen = epoch;
                        break;
                    }
                    spins = spins.wrapping_add(1);
                    if spins.is_multiple_of(64) && started.elapsed() > SPIN {
                        self.asleep[me].store(true, Ordering::SeqCst);
                        // A job posted after the flag was raised unparks us; one posted before
                        // it is seen here.
                        if self.epoch.load(Ordering::SeqCst) == seen {
                            std::thread::park();
                        }
                        self.asleep[me].store(false, Ordering::SeqCst);
                    } else {
                        std::hint::spin_loop();
                    }
                }
                let job = self.job.lock().ok().and_then(|slot| slot.clone());
                if let Some(job) = job {
                    job.work();
                }
            }
        }

        /// Runs the parts here and on the workers; `false` (nothing run) when another thread
        /// is using them.
        pub(super) fn try_run(&self, parts: usize, part: &(dyn Fn(usize) + Sync)) -> bool {
            let Ok(_busy) = self.busy.try_lock() else { return false };
            // SAFETY: only the lifetime is erased; `Job::work` calls it only for claimed parts,
            // and this function returns only after every claimed part is done.
            let part: *const (dyn Fn(usize) + Sync + 'static) = unsafe { std::mem::transmute(part) };
            let job = Arc::new(Job {
                part,
                parts,
                next: AtomicUsize::new(0),
                done: AtomicUsize::new(0),
                panicked: AtomicBool::new(false),
            });
            match self.job.lock() {
                Ok(mut slot) => *slot = Some(Arc::clone(&job)),
                Err(_) => return false,
            }
            self.epoch.fetch_add(1, Ordering::SeqCst);
            if let Some(threads) = self.threads.get() {
                for (thread, asleep) in threads.iter().zip(&self.asleep) {
                    if asleep.load(Ordering::SeqCst) {
                        thread.unpark();
                    }
                }
            }
            job.work();
            while job.done.load(Ordering::Acquire) < parts {
                std::hint::spin_loop();
            }
            if let Ok(mut slot) = self.job.lock() {
                *slot = None;
            }
            assert!(!job.panicked.load(Ordering::Acquire), "a part of a CPU kernel panicked on a worker thread");
            true
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Pool;

    #[test]
    fn ranges_cover_the_items_once_in_aligned_pieces() {
        for threads in 1..6 {
            let pool = Pool::new(threads);
            for len in [0, 1, 7, 16, 31, 32, 100, 768, 1000] {
                let ranges = pool.ranges(len, 16, 32);
                assert!(ranges.len() <= threads.max(1));
                let mut next = 0;
                for r in &ranges {
                    assert_eq!(r.start, next);
                    assert!(r.start % 16 == 0);
                    next = r.end;
                }
                assert_eq!(next, len, "threads {threads}, len {len}: {ranges:?}");
            }
        }
    }

    #[test]
    fn every_part_runs_once() {
        let pool = Pool::new(3);
        let hits: Vec<std::sync::atomic::AtomicU32> = (0..7).map(|_| 0.into()).collect();
        pool.run(7, |p| {
            hits[p].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        });
        assert!(hits.iter().all(|h| h.load(std::sync::atomic::Ordering::Relaxed) == 1));
    }
}
