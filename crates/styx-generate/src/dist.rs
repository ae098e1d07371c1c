//! Small random distributions over a seeded generator.

use rand::Rng;

/// An exponential variate with this mean.
pub fn exponential(rng: &mut impl Rng, mean: f64) -> f64 {
    let u: f64 = rng.random();
    -mean * (1.0 - u).ln()
}

/// A standard normal variate (Box-Muller).
pub fn normal(rng: &mut impl Rng) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// A log-normal variate with this median and spread.
pub fn log_normal(rng: &mut impl Rng, median: f64, sigma: f64) -> f64 {
    median * (sigma * normal(rng)).exp()
}

/// An index in `0..n`, small ones far likelier (about Zipf's law).
pub fn skewed(rng: &mut impl Rng, n: usize) -> usize {
    let u: f64 = rng.random();
    ((n as f64).powf(u) - 1.0).floor().min(n as f64 - 1.0) as usize
}

/// An index into `weights`, each as likely as its weight.
pub fn weighted(rng: &mut impl Rng, weights: &[f64]) -> usize {
    let total: f64 = weights.iter().sum();
    let mut x = rng.random::<f64>() * total;
    for (i, w) in weights.iter().enumerate() {
        if x < *w {
            return i;
        }
        x -= w;
    }
    weights.len() - 1
}

/// A uniform value in `[lo, hi)`, rounded to cents.
pub fn money(rng: &mut impl Rng, lo: f64, hi: f64) -> f64 {
    cents(rng.random_range(lo..hi))
}

/// Rounds to cents.
pub fn cents(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// An index in `0..n` drawn as `n * u^power`: with `power > 1`, small indices are
/// likelier, mildly for 2.
pub fn power(rng: &mut impl Rng, n: usize, power: f64) -> usize {
    let u: f64 = rng.random();
    ((n as f64 * u.powf(power)) as usize).min(n - 1)
}

/// The generator of a kind's world (its accounts, patients, roads, machines): the same
/// for every seed, so that reference data in a store fits the events of any run.
pub fn world(salt: u64) -> rand_chacha::ChaCha8Rng {
    rand::SeedableRng::seed_from_u64(0x5717_0000 + salt)
}
