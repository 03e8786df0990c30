//! Parameter initialisers, drawn on the host from a seeded ChaCha generator so that a seed
//! reproduces a run on either backend.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// How a parameter's initial values are drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Init {
    /// N(0, std²), as d2l's scratch models (`torch.randn(shape) * 0.01`).
    Normal {
        std: f32,
    },
    /// U(low, high).
    Uniform {
        low: f32,
        high: f32,
    },
    /// `nn.init.xavier_uniform_`: U(±sqrt(6 / (fan_in + fan_out))), with PyTorch's fans for a
    /// (fan_out, fan_in) weight; for other ranks fan_in = last dim, fan_out = first dim.
    XavierUniform,
    Zeros,
    /// A constant.
    Constant(f32),
}

/// The seeded generator every initialiser draws from.
pub struct InitRng(ChaCha8Rng);

impl InitRng {
    pub fn new(seed: u64) -> Self {
        Self(ChaCha8Rng::seed_from_u64(seed))
    }

    /// One standard normal sample (Box–Muller).
    fn standard_normal(&mut self) -> f32 {
        let u1: f64 = self.0.random_range(f64::EPSILON..1.0);
        let u2: f64 = self.0.random();
        ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()) as f32
    }

    /// Values of a tensor of `shape` drawn from `init`.
    pub fn values(&mut self, shape: &[usize], init: Init) -> Vec<f32> {
        let len: usize = shape.iter().product();
        match init {
            Init::Normal { std } => (0..len).map(|_| self.standard_normal() * std).collect(),
            Init::Uniform { low, high } => (0..len).map(|_| self.0.random_range(low..high)).collect(),
            Init::XavierUniform => {
                let fan_in = *shape.last().unwrap_or(&1) as f32;
                let fan_out = if shape.len() > 1 { shape[0] as f32 } else { 1.0 };
                let bound = (6.0 / (fan_in + fan_out)).sqrt();
                (0..len).map(|_| self.0.random_range(-bound..bound)).collect()
            }
            Init::Zeros => vec![0.0; len],
            Init::Constant(value) => vec![value; len],
        }
    }

    /// A u32 for seeding dropout masks.
    pub fn next_seed(&mut self) -> u32 {
        self.0.random()
    }
}
