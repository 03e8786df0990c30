//! Every GPU kernel against the CPU reference on awkward shapes (1, 3, 17, 65, 257).
//!
//! Both backends are fresh and never free a buffer here, so allocating on both in the same
//! order yields the same `BufId`s and one `Kernel` value can be run on each.

use rnnplay_engine::backend::{
    adam_bias_corrections, f32_words, groups_of, Backend, BinaryOp, BufId, CellStep, ClipBy, CpuBackend, GpuBackend,
    JoinPart, Kernel, MatmulVariant, ResetGruHalf, UnaryOp, UpdateSlot, JOIN_PARTS, NORM_GROUP, SGD_GROUP,
};
use rnnplay_engine::nn::CellKind;
use rnnplay_engine::testing::{assert_close, gpu_or_skip, random_values};

struct Pair {
    cpu: CpuBackend,
    gpu: GpuBackend,
    seed: u64,
}

impl Pair {
    fn values(&mut self, data: &[f32]) -> BufId {
        let cpu = self.cpu.alloc(data.len()).unwrap();
        let gpu = self.gpu.alloc(data.len()).unwrap();
        assert_eq!(cpu, gpu, "test invariant: both backends hand out ids in lockstep");
        self.cpu.upload(cpu, f32_words(data)).unwrap();
        self.gpu.upload(gpu, f32_words(data)).unwrap();
        cpu
    }

    fn random(&mut self, len: usize, scale: f32) -> BufId {
        self.seed += 1;
        let data = random_values(len, scale, self.seed);
        self.values(&data)
    }

    fn indices(&mut self, data: &[u32]) -> BufId {
        let cpu = self.cpu.alloc(data.len()).unwrap();
        let gpu = self.gpu.alloc(data.len()).unwrap();
        assert_eq!(cpu, gpu);
        self.cpu.upload(cpu, data).unwrap();
        self.gpu.upload(gpu, data).unwrap();
        cpu
    }

    /// Runs `kernel` on both and compares the first `len` elements of each output.
    fn check(&self, what: &str, kernel: Kernel, outputs: &[(BufId, usize)], rtol: f32, atol: f32) {
        self.cpu.run(kernel.clone()).unwrap();
        self.gpu.run(kernel).unwrap();
        for (index, (buf, len)) in outputs.iter().enumerate() {
            let cpu: Vec<f32> =
                pollster::block_on(self.cpu.read(*buf, *len)).unwrap().into_iter().map(f32::from_bits).collect();
            let gpu: Vec<f32> =
                pollster::block_on(self.gpu.read(*buf, *len)).unwrap().into_iter().map(f32::from_bits).collect();
            assert_close(&format!("{what} (output {index})"), &gpu, &cpu, rtol, atol);
        }
    }
}

const SIZES: [usize; 5] = [1, 3, 17, 65, 257];

#[test]
fn every_gpu_kernel_matches_the_cpu_reference() {
    let Some(gpu) = gpu_or_skip("every_gpu_kernel_matches_the_cpu_reference") else { return };
    let mut pair = Pair { cpu: CpuBackend::new(), gpu, seed: 0 };

    // Matmul: every variant, every transpose combination, accumulate on and off; shapes whose
    // dimensions are multiples of 4 where an operand is read take the vec4 paths of the blocked
    // variant (none, a or b transposed). Tolerance:
    // f32 sums of up to 257 products of values in [-1, 1] in a different order: 1e-4 relative
    // plus 1e-4 absolute.
    for &(m, k, n) in &[
        (1, 1, 1),
        (3, 17, 65),
        (17, 3, 1),
        (65, 257, 3),
        (257, 65, 17),
        (33, 1, 257),
        (17, 4, 8),
        (65, 68, 36),
        (3, 256, 4),
        (1, 8, 260),
        // Multiples of 4 in m and n (and not in k) for the transposed-a vec4 path.
        (64, 12, 20),
        (8, 3, 4),
        (36, 17, 260),
    ] {
        for variant in MatmulVariant::ALL {
            for (trans_a, trans_b) in [(false, false), (true, false), (false, true), (true, true)] {
                for accumulate in [false, true] {
                    let a = pair.random(m * k, 1.0);
                    let b = pair.random(k * n, 1.0);
                    let c = pair.random(m * n, 1.0);
                    let kernel = Kernel::Matmul {
                        a,
                        b,
                        c,
                        m,
                        k,
                        n,
                        trans_a,
                        trans_b,
                        accumulate,
                        offsets: [0; 3],
                        variant: Some(variant),
                    };
                    let what = format!("matmul {m}×{k}×{n} {variant:?} ta={trans_a} tb={trans_b} acc={accumulate}");
                    pair.check(&what, kernel, &[(c, m * n)], 1e-4, 1e-4);
                }
            }
        }
    }

    // Element-wise kernels: f32 transcendental functions differ by a few ulps between
    // implementations; 1e-5 relative, 1e-6 absolute.
    for len in SIZES {
        let out = pair.random(len, 1.0);
        pair.check("fill", Kernel::Fill { out, len, value: 0.25 }, &[(out, len)], 0.0, 0.0);
        for op in [UnaryOp::Tanh, UnaryOp::Sigmoid, UnaryOp::Relu] {
            let x = pair.random(len, 3.0);
            let y = pair.random(len, 1.0);
            pair.check(&format!("{op:?} len {len}"), Kernel::Unary { op, x, y, len }, &[(y, len)], 1e-5, 1e-6);
            let dy = pair.random(len, 1.0);
            for accumulate in [false, true] {
                let dx = pair.random(len, 1.0);
                let kernel = Kernel::UnaryBackward { op, saved: y, dy, dx, len, accumulate };
                pair.check(&format!("{op:?} backward len {len}"), kernel, &[(dx, len)], 1e-5, 1e-6);
            }
        }
        for op in [BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul] {
            for accumulate in [false, true] {
                let (a, b, out) = (pair.random(len, 1.0), pair.random(len, 1.0), pair.random(len, 1.0));
                let kernel = Kernel::Binary { op, a, b, out, len, accumulate };
                pair.check(&format!("{op:?} len {len}"), kernel, &[(out, len)], 1e-6, 1e-7);
            }
        }
        for accumulate in [false, true] {
            let (x, out) = (pair.random(len, 1.0), pair.random(len, 1.0));
            pair.check("scale", Kernel::Scale { x, out, len, alpha: -0.7, accumulate }, &[(out, len)], 1e-6, 1e-7);
            let (s, out) = (pair.random(1, 2.0), pair.random(len, 1.0));
            let kernel = Kernel::ScaleByScalar { x: Some(x), s, out, len, alpha: 1.5, accumulate };
            pair.check("scale_by_scalar", kernel, &[(out, len)], 1e-6, 1e-7);
            let out = pair.random(len, 1.0);
            let kernel = Kernel::ScaleByScalar { x: None, s, out, len, alpha: -2.0, accumulate };
            pair.check("broadcast_scalar", kernel, &[(out, len)], 1e-6, 1e-7);
            let (x, y, seed) = (pair.random(len, 1.0), pair.random(len, 1.0), pair.indices(&[42 + len as u32]));
            for salt in [0, 5] {
                let kernel = Kernel::Dropout { x, y, len, p: 0.3, seed, salt, accumulate };
                pair.check("dropout", kernel, &[(y, len)], 1e-6, 1e-7);
            }
        }
    }

    // Row/column kernels on rows×cols shapes.
    for &(rows, cols) in &[(1, 1), (3, 17), (17, 3), (65, 257), (257, 65)] {
        let (x, bias, out) = (pair.random(rows * cols, 1.0), pair.random(cols, 1.0), pair.random(rows * cols, 1.0));
        pair.check("add_bias", Kernel::AddBias { x, bias, out, rows, cols }, &[(out, rows * cols)], 1e-6, 1e-7);
        for accumulate in [false, true] {
            let out = pair.random(cols, 1.0);
            let kernel = Kernel::ColumnSum { x, out, rows, cols, accumulate };
            pair.check("column_sum", kernel, &[(out, cols)], 1e-5, 1e-5);
        }
        // Blocks of 2 rows after a 1-row offset, into the middle of a longer output.
        if rows >= 3 {
            let blocks = (rows - 1) / 2;
            let out = pair.random(blocks + 4, 1.0);
            let kernel = Kernel::RowNormMean { x, offset: cols, rows: 2, cols, blocks, out, out_offset: 2 };
            pair.check("row_norm_mean", kernel, &[(out, blocks + 4)], 1e-5, 1e-5);
        }
        // Copy the middle third of the columns into a wider destination at an offset.
        let width = cols.div_ceil(3);
        let start = cols / 3;
        for accumulate in [false, true] {
            let dst = pair.random(rows * (width + 5), 1.0);
            let kernel = Kernel::Copy2d {
                src: x,
                dst,
                rows,
                cols: width.min(cols - start),
                src_stride: cols,
                src_offset: start,
                dst_stride: width + 5,
                dst_offset: 2,
                accumulate,
            };
            pair.check("copy2d", kernel, &[(dst, rows * (width + 5))], 1e-6, 1e-7);
        }
        for accumulate in [false, true] {
            let out = pair.random(rows * cols, 1.0);
            pair.check(
                "transpose",
                Kernel::Transpose { x, out, rows, cols, accumulate },
                &[(out, rows * cols)],
                1e-6,
                1e-7,
            );
        }
        // Gather rows of a rows×cols table by indices with repeats and one out-of-range index.
        let num_indices = rows * 2 + 1;
        let idx: Vec<u32> =
            (0..num_indices).map(|i| if i == 1 { rows as u32 + 7 } else { ((i * 7) % rows) as u32 }).collect();
        let indices = pair.indices(&idx);
        let out = pair.random(num_indices * cols, 1.0);
        // Both layouts: as stored, and transposed (columns of a cols×rows weight).
        for transposed in [false, true] {
            let kernel =
                Kernel::Gather { table: x, indices, out, num_indices, dim: cols, table_rows: rows, transposed };
            pair.check("gather", kernel, &[(out, num_indices * cols)], 0.0, 0.0);
            // Added into a table holding values, or into zeros (the table's old values dropped).
            for accumulate in [true, false] {
                let grad_out = pair.random(num_indices * cols, 1.0);
                let grad_table = pair.random(rows * cols, 1.0);
                let kernel = Kernel::ScatterAdd {
                    grad_out,
                    indices,
                    grad_table,
                    num_indices,
                    dim: cols,
                    table_rows: rows,
                    transposed,
                    accumulate,
                };
                pair.check("scatter_add", kernel, &[(grad_table, rows * cols)], 1e-5, 1e-6);
            }
        }
        // Softmax cross-entropy with and without a padding mask.
        let labels: Vec<u32> = (0..rows).map(|r| ((r * 5 + 1) % cols) as u32).collect();
        let labels = pair.indices(&labels);
        let mask: Vec<f32> = (0..rows).map(|r| if r % 3 == 2 { 0.0 } else { 1.0 }).collect();
        let mask = pair.values(&mask);
        for weights in [None, Some(mask)] {
            let logits = pair.random(rows * cols, 4.0);
            let (row_loss, dlogits) = (pair.random(rows, 1.0), pair.random(rows * cols, 1.0));
            let kernel = Kernel::SoftmaxCrossEntropy {
                logits,
                labels,
                weights,
                row_loss,
                dlogits,
                rows,
                classes: cols,
                grad_scale: 0.5,
            };
            pair.check("softmax_cross_entropy", kernel, &[(row_loss, rows), (dlogits, rows * cols)], 1e-5, 1e-6);
        }
    }

    // Reductions and optimizer updates, on lengths up to 70 000 (more than one 256-thread
    // stride and more than 256 workgroups).
    for len in [1, 3, 17, 65, 257, 70_001] {
        for squares in [false, true] {
            for accumulate in [false, true] {
                let (x, out) = (pair.random(len, 1.0), pair.random(4, 1.0));
                let kernel = Kernel::Sum { x, out, out_index: 2, len, scale: 0.5, squares, accumulate };
                pair.check("sum", kernel, &[(out, 4)], 1e-5, 1e-5);
            }
        }
        // The global norm over a group of gradients of unequal lengths, a full group and one
        // of a single gradient; first (written) or not (added), last (the norm and the factor)
        // or not; θ below and above the norm.
        let lens = [len, len + 2, 5, 1, len / 2 + 1, 3];
        let all: Vec<(BufId, usize)> = lens.iter().map(|&l| (pair.random(l, 1.0), l)).collect();
        for grads in [groups_of::<_, NORM_GROUP>(&all).next().unwrap(), groups_of(&all[..1]).next().unwrap()] {
            for (first, last, max_norm) in
                [(true, true, 1.0), (false, true, 1e4), (true, false, 1.0), (false, false, 1.0)]
            {
                let (clip, norm) = (ClipBy { state: pair.values(&[max_norm, 2.5, 0.0]) }, pair.random(1, 1.0));
                let kernel = Kernel::GradNorm { grads, clip, norm, first, last };
                pair.check("grad_norm", kernel, &[(clip.state, ClipBy::LEN), (norm, 1)], 1e-5, 1e-6);
            }
        }
        // What the clip and the updates read: the factor of a norm of 3 with θ = 1 (⅓) and
        // θ = 5 (1); and no clipping.
        let clips = [None, Some(1.0), Some(5.0)]
            .map(|t| t.map(|t| ClipBy { state: pair.values(&[t, 9.0, ClipBy::factor(3.0, t)]) }));
        for clip in clips.iter().flatten() {
            let grad = pair.random(len, 1.0);
            pair.check("clip_scale", Kernel::ClipScale { grad, len, clip: *clip }, &[(grad, len)], 1e-6, 1e-7);
        }
        let lr = pair.values(&[0.1]);
        let slots: Vec<UpdateSlot> = [len, len + 3, 2]
            .iter()
            .map(|&len| UpdateSlot { param: pair.random(len, 1.0), grad: pair.random(len, 1.0), len })
            .collect();
        let (param, grad) = (slots[0].param, slots[0].grad);
        for (weight_decay, clip) in [0.0, 0.05].into_iter().flat_map(|w| clips.map(|c| (w, c))) {
            // Groups of three, two and one parameters.
            for count in [3, 2, 1] {
                let params = groups_of::<_, SGD_GROUP>(&slots[..count]).next().unwrap();
                let kernel = Kernel::SgdUpdate { params, lr, batch_size: 32.0, weight_decay, clip };
                let outputs: Vec<(BufId, usize)> = slots[..count].iter().map(|s| (s.param, s.len)).collect();
                pair.check("sgd", kernel, &outputs, 1e-6, 1e-7);
            }
        }
        let (m, v) = (pair.random(len, 0.1), pair.values(&vec![0.01; len]));
        let (bias1, bias2) = adam_bias_corrections(0.9, 0.999, 3);
        let scalars = pair.values(&[0.01, bias1, bias2]);
        for (decoupled, clip) in [false, true].into_iter().flat_map(|d| clips.map(|c| (d, c))) {
            let kernel = Kernel::AdamUpdate {
                param,
                grad,
                m,
                v,
                len,
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-8,
                weight_decay: 0.01,
                decoupled,
                scalars,
                clip,
            };
            pair.check(
                if decoupled { "adamw" } else { "adam" },
                kernel,
                &[(param, len), (m, len), (v, len)],
                1e-5,
                1e-6,
            );
        }
    }
}

#[test]
fn pick_tokens_chooses_the_argmax_or_the_truth_exactly_as_the_cpu() {
    let Some(gpu) = gpu_or_skip("pick_tokens_chooses_the_argmax_or_the_truth_exactly_as_the_cpu") else { return };
    let mut pair = Pair { cpu: CpuBackend::new(), gpu, seed: 100 };
    for rows in SIZES {
        for classes in [1, 3, 17, 65] {
            let logits = pair.random(rows * classes, 3.0);
            let truth = pair.indices(&(0..rows as u32).map(|r| (r * 7) % classes as u32).collect::<Vec<_>>());
            let coins = pair.indices(&(0..rows as u32).map(|r| r % 3).collect::<Vec<_>>());
            let out = pair.indices(&vec![u32::MAX; rows]);
            let kernel = Kernel::PickTokens { logits, truth, coins, out, rows, classes };
            pair.cpu.run(kernel.clone()).unwrap();
            pair.gpu.run(kernel).unwrap();
            // Token ids: compare the words exactly (as floats they would be denormals).
            let cpu = pollster::block_on(pair.cpu.read(out, rows)).unwrap();
            let gpu = pollster::block_on(pair.gpu.read(out, rows)).unwrap();
            assert_eq!(gpu, cpu, "pick_tokens rows {rows} classes {classes}");
            let values: Vec<f32> = pollster::block_on(pair.cpu.read(logits, rows * classes))
                .unwrap()
                .into_iter()
                .map(f32::from_bits)
                .collect();
            for r in 0..rows {
                let row = &values[r * classes..(r + 1) * classes];
                let expected = if r % 3 == 0 {
                    (r * 7 % classes) as u32
                } else {
                    row.iter().enumerate().fold(0, |best, (c, &v)| if v > row[best] { c } else { best }) as u32
                };
                assert_eq!(cpu[r], expected, "row {r}");
            }
        }
    }
}

#[test]
fn matmul_with_offsets_matches_the_cpu_reference() {
    let Some(gpu) = gpu_or_skip("matmul_with_offsets_matches_the_cpu_reference") else { return };
    let mut pair = Pair { cpu: CpuBackend::new(), gpu, seed: 200 };
    // Offsets that are and are not multiples of 4 (the vec4 path needs them to be).
    for &(m, k, n, offsets) in &[(3, 8, 12, [24, 8, 36]), (5, 4, 8, [3, 1, 5]), (17, 17, 3, [17, 0, 51])] {
        for variant in MatmulVariant::ALL {
            for (trans_a, trans_b) in [(false, false), (true, false), (false, true)] {
                let a = pair.random(offsets[0] + m * k + 7, 1.0);
                let b = pair.random(offsets[1] + k * n + 5, 1.0);
                let c = pair.random(offsets[2] + m * n + 9, 1.0);
                let kernel = Kernel::Matmul {
                    a,
                    b,
                    c,
                    m,
                    k,
                    n,
                    trans_a,
                    trans_b,
                    accumulate: true,
                    offsets,
                    variant: Some(variant),
                };
                let what = format!("matmul {m}×{k}×{n} offsets {offsets:?} {variant:?} ta={trans_a} tb={trans_b}");
                // The whole of c: elements outside the block must be left alone.
                pair.check(&what, kernel, &[(c, offsets[2] + m * n + 9)], 1e-4, 1e-4);
            }
        }
    }
}

#[test]
fn recurrent_cells_match_the_cpu_reference() {
    let Some(gpu) = gpu_or_skip("recurrent_cells_match_the_cpu_reference") else { return };
    let mut pair = Pair { cpu: CpuBackend::new(), gpu, seed: 300 };
    for cell in [CellKind::Rnn, CellKind::Gru, CellKind::Lstm] {
        for &(steps, batch, hidden) in &[(1, 1, 1), (3, 2, 17), (2, 65, 3), (2, 3, 257)] {
            let probe = CellStep { cell, reset_before: false, step: 0, steps, batch, hidden };
            let rows = cell.gates() * hidden;
            let (gi, gh) = (pair.random(probe.gates_len(), 2.0), pair.random(probe.gates_len(), 2.0));
            let bias = pair.random(rows, 1.0);
            let states = pair.random(probe.states_len(), 1.0);
            let gates = (cell != CellKind::Rnn).then(|| pair.random(probe.gates_len(), 1.0));
            let dstates = pair.random(probe.states_len(), 1.0);
            let dgi = pair.random(probe.gates_len(), 1.0);
            let dgh = (cell == CellKind::Gru).then(|| pair.random(probe.gates_len(), 1.0));
            for step in 0..steps {
                let at = CellStep { step, ..probe };
                let what = format!("{cell:?} cell step {step} of {steps}, batch {batch}, hidden {hidden}");
                let mut outputs = vec![(states, probe.states_len())];
                outputs.extend(gates.map(|g| (g, probe.gates_len())));
                let kernel = Kernel::RecurrentCell { at, gi, gh, bias_hh: bias, states, gates };
                pair.check(&what, kernel, &outputs, 1e-5, 1e-6);
            }
            for step in (0..steps).rev() {
                let at = CellStep { step, ..probe };
                let what = format!("{cell:?} cell backward step {step} of {steps}, batch {batch}, hidden {hidden}");
                let mut outputs = vec![(dstates, probe.states_len()), (dgi, probe.gates_len())];
                outputs.extend(dgh.map(|g| (g, probe.gates_len())));
                let kernel = Kernel::RecurrentCellBackward { at, gh, bias_hh: bias, states, gates, dstates, dgi, dgh };
                pair.check(&what, kernel, &outputs, 1e-5, 1e-6);
            }
        }
    }
}

/// Joins and splits of 2 to 4 parts of unequal widths, over several rows (a concatenation along
/// an inner dimension) and one row (along the first), each split part accumulating or not.
#[test]
fn joins_match_the_cpu_reference() {
    let Some(gpu) = gpu_or_skip("joins_match_the_cpu_reference") else { return };
    let mut pair = Pair { cpu: CpuBackend::new(), gpu, seed: 320 };
    for rows in [1, 3, 257] {
        for count in 2..=JOIN_PARTS {
            let widths: Vec<usize> = (0..count).map(|k| [1, 17, 5, 300][k]).collect();
            let whole_stride: usize = widths.iter().sum::<usize>() + 2;
            let whole = pair.random(rows * whole_stride, 1.0);
            let mut offset = 1;
            let mut slots = Vec::new();
            for (k, cols) in widths.iter().enumerate() {
                let buf = pair.random(rows * cols, 1.0);
                slots.push(JoinPart { buf, cols: *cols, offset, accumulate: k % 2 == 1 });
                offset += cols;
            }
            let parts = std::array::from_fn(|k| slots.get(k).copied());
            let what = format!("join of {count} parts, {rows} rows");
            let kernel = Kernel::Join { whole, rows, whole_stride, parts, split: false };
            pair.check(&what, kernel, &[(whole, rows * whole_stride)], 0.0, 0.0);
            let outputs: Vec<(BufId, usize)> = slots.iter().map(|s| (s.buf, rows * s.cols)).collect();
            let kernel = Kernel::Join { whole, rows, whole_stride, parts, split: true };
            pair.check(&format!("split of {count} parts, {rows} rows"), kernel, &outputs, 1e-6, 1e-6);
        }
    }
}

/// A window kernel whose optional buffers do not fit its cell is refused by both backends, not
/// run (nor a panic): d2l's GRU without r ⊙ h's buffer, an RNN with it, an LSTM asking for d2l's
/// reset.
#[test]
fn window_kernels_with_the_wrong_buffers_for_their_cell_are_refused() {
    let Some(gpu) = gpu_or_skip("window_kernels_with_the_wrong_buffers_for_their_cell_are_refused") else { return };
    let mut pair = Pair { cpu: CpuBackend::new(), gpu, seed: 360 };
    let (steps, batch, hidden) = (2, 2, 3);
    let buf = |pair: &mut Pair| pair.random(4 * steps * batch * 4 * hidden, 1.0);
    let (gi, w_t, bias, states, gates, gh, reset_h) = (
        buf(&mut pair),
        buf(&mut pair),
        buf(&mut pair),
        buf(&mut pair),
        buf(&mut pair),
        buf(&mut pair),
        buf(&mut pair),
    );
    let wrong = [
        (CellKind::Gru, true, Some(gates), None),
        (CellKind::Rnn, false, None, Some(reset_h)),
        (CellKind::Lstm, true, Some(gates), Some(reset_h)),
    ];
    for (cell, reset_before, gates, reset_h) in wrong {
        let at = CellStep { cell, reset_before, step: 0, steps, batch, hidden };
        let kernel = Kernel::RecurrentWindow { at, gi, w_t, bias_hh: bias, states, gates, gh, reset_h };
        for (name, backend) in [("cpu", &pair.cpu as &dyn Backend), ("gpu", &pair.gpu)] {
            let error =
                backend.run(kernel.clone()).expect_err(&format!("{name}: {cell:?} window, reset {reset_before}"));
            assert!(error.to_string().contains("window kernel"), "{name}: {error}");
        }
    }
}

/// The halves of d2l's GRU cell (reset before its matmul) against the CPU reference, each way.
#[test]
fn reset_gru_halves_match_the_cpu_reference() {
    let Some(gpu) = gpu_or_skip("reset_gru_halves_match_the_cpu_reference") else { return };
    let mut pair = Pair { cpu: CpuBackend::new(), gpu, seed: 350 };
    for &(steps, batch, hidden) in &[(1, 1, 1), (3, 2, 17), (2, 65, 3), (2, 3, 257)] {
        let probe = CellStep { cell: CellKind::Gru, reset_before: true, step: 0, steps, batch, hidden };
        let (gi, gh) = (pair.random(probe.gates_len(), 2.0), pair.random(probe.gates_len(), 2.0));
        let bias = pair.random(3 * hidden, 1.0);
        let states = pair.random(probe.states_len(), 1.0);
        let gates = pair.random(probe.gates_len(), 1.0);
        let reset_h = pair.random(steps * probe.block(), 1.0);
        let (dstates, dgi, dgh) = (
            pair.random(probe.states_len(), 1.0),
            pair.random(probe.gates_len(), 1.0),
            pair.random(probe.gates_len(), 1.0),
        );
        for step in 0..steps {
            let at = CellStep { step, ..probe };
            for half in [ResetGruHalf::Gates, ResetGruHalf::Candidate] {
                let what = format!("GRU {half:?} half, step {step} of {steps}, batch {batch}, hidden {hidden}");
                let outputs =
                    [(states, probe.states_len()), (gates, probe.gates_len()), (reset_h, steps * probe.block())];
                let kernel = Kernel::ResetGruCell { at, half, gi, gh, bias_hh: bias, states, gates, reset_h };
                pair.check(&what, kernel, &outputs, 1e-5, 1e-6);
            }
        }
        for step in (0..steps).rev() {
            let at = CellStep { step, ..probe };
            for half in [ResetGruHalf::Candidate, ResetGruHalf::Gates] {
                let what =
                    format!("GRU {half:?} half backward, step {step} of {steps}, batch {batch}, hidden {hidden}");
                let outputs = [(dstates, probe.states_len()), (dgi, probe.gates_len()), (dgh, probe.gates_len())];
                let kernel = Kernel::ResetGruCellBackward { at, half, gh, states, gates, dstates, dgi, dgh };
                pair.check(&what, kernel, &outputs, 1e-5, 1e-6);
            }
        }
    }
}

/// The window kernels (one dispatch a window, `shaders/recurrent_window.wgsl`) against the CPU,
/// which runs a window as the per-step kernels and matmuls in order. Hidden sizes past 64 give
/// a thread more than one unit; several sequences each take their own workgroup. The sums of
/// the recurrent products run in another order, compounded over the steps: 1e-4 relative.
#[test]
fn recurrent_windows_match_the_cpu_reference() {
    let Some(gpu) = gpu_or_skip("recurrent_windows_match_the_cpu_reference") else { return };
    let mut pair = Pair { cpu: CpuBackend::new(), gpu, seed: 500 };
    for (cell, reset_before) in
        [(CellKind::Rnn, false), (CellKind::Gru, false), (CellKind::Gru, true), (CellKind::Lstm, false)]
    {
        for &(steps, batch, hidden) in &[(1, 1, 1), (3, 2, 17), (4, 3, 70), (2, 2, 130)] {
            let at = CellStep { cell, reset_before, step: 0, steps, batch, hidden };
            let rows = cell.gates() * hidden;
            let gi = pair.random(at.gates_len(), 1.0);
            let (w_t, w_hh) = (pair.random(hidden * rows, 0.3), pair.random(rows * hidden, 0.3));
            let bias = pair.random(rows, 0.5);
            let states = pair.random(at.states_len(), 1.0);
            let gates = (cell != CellKind::Rnn).then(|| pair.random(at.gates_len(), 1.0));
            let gh = pair.random(at.gates_len(), 1.0);
            let reset_h = reset_before.then(|| pair.random(steps * at.block(), 1.0));
            let what = format!(
                "{cell:?} (reset before: {reset_before}) window of {steps} steps, batch {batch}, hidden {hidden}"
            );
            let mut outputs = vec![(states, at.states_len()), (gh, at.gates_len())];
            outputs.extend(gates.map(|g| (g, at.gates_len())));
            outputs.extend(reset_h.map(|r| (r, steps * at.block())));
            let kernel = Kernel::RecurrentWindow { at, gi, w_t, bias_hh: bias, states, gates, gh, reset_h };
            pair.check(&what, kernel, &outputs, 1e-4, 1e-5);
            let dstates = pair.random(at.states_len(), 1.0);
            let dgi = pair.random(at.gates_len(), 1.0);
            let dgh = (cell == CellKind::Gru).then(|| pair.random(at.gates_len(), 1.0));
            let mut outputs = vec![(dstates, at.states_len()), (dgi, at.gates_len())];
            outputs.extend(dgh.map(|g| (g, at.gates_len())));
            let kernel =
                Kernel::RecurrentWindowBackward { at, w_hh, gh, bias_hh: bias, states, gates, dstates, dgi, dgh };
            pair.check(&format!("{what}, backward"), kernel, &outputs, 1e-4, 1e-5);
        }
    }
}

#[test]
fn sums_match_the_cpu_with_and_without_subgroup_kernels() {
    for allowed in [true, false] {
        let Some(_) = gpu_or_skip("sums_match_the_cpu_with_and_without_subgroup_kernels") else { return };
        let gpu = pollster::block_on(GpuBackend::new(None, allowed)).unwrap();
        if allowed && !gpu.info().subgroups {
            eprintln!("this adapter offers no subgroups; only the portable sum is checked");
        }
        let path = if gpu.info().subgroups { "subgroup" } else { "portable" };
        let mut pair = Pair { cpu: CpuBackend::new(), gpu, seed: 400 };
        for len in [1, 3, 17, 65, 257, 4099, 100_003] {
            for squares in [false, true] {
                let x = pair.random(len, 1.0);
                let out = pair.random(3, 1.0);
                let kernel = Kernel::Sum { x, out, out_index: 1, len, scale: 0.5, squares, accumulate: true };
                pair.check(&format!("{path} sum len {len} squares {squares}"), kernel, &[(out, 3)], 1e-5, 1e-5);
            }
        }
    }
}
