//! Update codec throughput and compression, printed as one JSON line per figure.
//!
//! `cargo bench -p coalition-net --bench codec`. Throughput is in GB/s of f32 input (4 bytes per
//! value), the median of several runs; ratios are f32 bytes over frame bytes. Two deterministic
//! gradient-like vectors of 4Mi values:
//!
//! * `heavy_tailed`: Student-t (3 degrees of freedom) values whose scale varies log-normally from
//!   row to row (1024-value rows), like gradients of a layered model.
//! * `random_walk_diff`: `w_H − w_0` computed in f32, where `w` is a weight vector (init
//!   N(0, 0.02²)) that takes H = 8 heavy-tailed SGD-like steps: a pseudo-gradient as a trainer
//!   computes it, f32 rounding noise in the low bits included.
//!
//! Printed figures only; nothing is asserted.

use std::time::{Duration, Instant};

use coalition_net::codec::{decode, encode, ErrorFeedback, DEFAULT_BLOCK_SIZE};

const N: usize = 4 << 20;
const RUNS: usize = 7;

/// splitmix64 with Box–Muller normals.
struct Rng(u64);

impl Rng {
    fn u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1).
    fn uniform(&mut self) -> f64 {
        ((self.u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    fn normal(&mut self) -> f64 {
        (-2.0 * self.uniform().ln()).sqrt() * (std::f64::consts::TAU * self.uniform()).cos()
    }

    /// Student-t with 3 degrees of freedom.
    fn student_t3(&mut self) -> f64 {
        let chi2: f64 = (0..3).map(|_| self.normal().powi(2)).sum();
        self.normal() / (chi2 / 3.0).sqrt()
    }
}

/// Student-t values with a log-normal scale per 1024-value row.
fn heavy_tailed(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = Rng(seed);
    let mut scale = 0.0;
    (0..n)
        .map(|i| {
            if i % 1024 == 0 {
                scale = 1e-3 * (1.5 * rng.normal()).exp();
            }
            (scale * rng.student_t3()) as f32
        })
        .collect()
}

/// `w_H − w_0` in f32 after H heavy-tailed steps from a N(0, 0.02²) start.
fn random_walk_diff(n: usize, seed: u64) -> Vec<f32> {
    const H: usize = 8;
    let mut rng = Rng(seed);
    let w0: Vec<f32> = (0..n).map(|_| (0.02 * rng.normal()) as f32).collect();
    let mut w = w0.clone();
    for step in 0..H {
        let g = heavy_tailed(n, seed ^ ((step as u64 + 1) * 0x1234_5678));
        for (wi, gi) in w.iter_mut().zip(&g) {
            *wi -= 0.01 * gi;
        }
    }
    w.iter().zip(&w0).map(|(a, b)| a - b).collect()
}

/// Median wall time of `RUNS` calls after one warm-up.
fn median_time(mut f: impl FnMut()) -> Duration {
    f();
    let mut times: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    times[RUNS / 2]
}

fn print_figure(case: &str, figure: &str, value: f64) {
    println!(
        "{{\"bench\":\"codec\",\"case\":\"{case}\",\"n\":{N},\"block_size\":{DEFAULT_BLOCK_SIZE},\"figure\":\"{figure}\",\"value\":{value:.4}}}"
    );
}

fn bench_case(case: &str, x: &[f32]) {
    let f32_bytes = (x.len() * 4) as f64;
    let gbps = |t: Duration| f32_bytes / t.as_secs_f64() / 1e9;

    let frame = encode(x, DEFAULT_BLOCK_SIZE).expect("encode");
    let encode_time = median_time(|| {
        std::hint::black_box(encode(x, DEFAULT_BLOCK_SIZE).expect("encode"));
    });
    let decode_time = median_time(|| {
        std::hint::black_box(decode(&frame, x.len() as u64).expect("decode"));
    });
    let mut feedback = ErrorFeedback::new(x.len(), DEFAULT_BLOCK_SIZE).expect("feedback");
    let feedback_time = median_time(|| {
        std::hint::black_box(feedback.encode_with_feedback(x).expect("feedback encode"));
    });

    let decoded = decode(&frame, x.len() as u64).expect("decode");
    let (err2, norm2) = x
        .iter()
        .zip(&decoded)
        .fold((0.0f64, 0.0f64), |(e, s), (a, b)| {
            (e + f64::from(a - b).powi(2), s + f64::from(*a).powi(2))
        });
    let raw: Vec<u8> = x.iter().flat_map(|v| v.to_le_bytes()).collect();
    let zstd_only = zstd::bulk::compress(&raw, 1).expect("zstd").len();

    print_figure(case, "encode_gbps", gbps(encode_time));
    print_figure(case, "decode_gbps", gbps(decode_time));
    print_figure(case, "feedback_encode_gbps", gbps(feedback_time));
    print_figure(case, "ratio_vs_f32", f32_bytes / frame.len() as f64);
    print_figure(case, "zstd_only_ratio_vs_f32", f32_bytes / zstd_only as f64);
    print_figure(case, "relative_l2_error", (err2 / norm2).sqrt());
}

fn main() {
    bench_case("heavy_tailed", &heavy_tailed(N, 1));
    bench_case("random_walk_diff", &random_walk_diff(N, 2));
}
