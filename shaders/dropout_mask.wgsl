// Which elements dropout keeps: shared by the dropout kernel (elementwise.wgsl) and attention's
// dropout of its weights (attention.wgsl), so both draw the masks the CPU reference draws.

// The same arithmetic as `dropout_mask_seed` in crates/engine/src/backend/kernel.rs.
fn dropout_mask_seed(step_seed: u32, salt: u32) -> u32 {
    return (step_seed * 1103515245u + 12345u) ^ (salt * 2654435769u);
}

// The same hash as `dropout_uniform` in crates/engine/src/backend/kernel.rs.
fn dropout_uniform(seed: u32, index: u32) -> f32 {
    var state = (index * 747796405u + 2891336453u) ^ (seed * 1664525u + 1013904223u);
    state = state * 747796405u + 2891336453u;
    let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
    let hashed = (word >> 22u) ^ word;
    return f32(hashed >> 8u) * (1.0 / 16777216.0);
}
