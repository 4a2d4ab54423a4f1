//! Update codec throughput and compression, printed as one JSON line per figure.
//!
//! `cargo bench -p coalition-net --bench codec`. Both codecs: int8 (block 256) and sparse
//! (SparseLoCo's 64 of 4096 kept, with 2-bit and 4-bit values). Throughput is in GB/s of f32
//! input (4 bytes per value), the median of several runs, on the rayon pool's threads (set
//! `RAYON_NUM_THREADS`; the first line says how many); `bytes_per_param` is frame bytes per
//! value, `ratio_vs_f32` its inverse times 4. For the sparse codec, `index_bits_*` compare what
//! its positions cost per kept entry with the alternatives and with the information bound. Two
//! deterministic gradient-like vectors of 4Mi values:
//!
//! * `heavy_tailed`: Student-t (3 degrees of freedom) values whose scale varies log-normally from
//!   row to row (1024-value rows), like gradients of a layered model.
//! * `random_walk_diff`: `w_H − w_0` computed in f32, where `w` is a weight vector (init
//!   N(0, 0.02²)) that takes H = 8 heavy-tailed SGD-like steps: a pseudo-gradient as a trainer
//!   computes it, f32 rounding noise in the low bits included.
//!
//! Printed figures only; nothing is asserted.

use std::time::{Duration, Instant};

use coalition_net::codec::{
    decode, decode_into_add, CodecSpec, ErrorFeedback, SparseSpec, DEFAULT_BLOCK_SIZE, GROUP_ELEMS,
    SPARSE_HEADER_LEN,
};

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

fn print_figure(codec: &str, case: &str, figure: &str, value: f64) {
    println!(
        "{{\"bench\":\"codec\",\"codec\":\"{codec}\",\"case\":\"{case}\",\"n\":{N},\"figure\":\"{figure}\",\"value\":{value:.4}}}"
    );
}

/// Relative L2 error of `decoded` against `x`.
fn relative_l2(x: &[f32], decoded: &[f32]) -> f64 {
    let (err2, norm2) = x
        .iter()
        .zip(decoded)
        .fold((0.0f64, 0.0f64), |(e, s), (a, b)| {
            (e + f64::from(a - b).powi(2), s + f64::from(*a).powi(2))
        });
    (err2 / norm2).sqrt()
}

/// Throughput, size and error figures common to both codecs.
fn bench_codec(name: &str, case: &str, spec: CodecSpec, x: &[f32]) -> Vec<u8> {
    let f32_bytes = (x.len() * 4) as f64;
    let gbps = |t: Duration| f32_bytes / t.as_secs_f64() / 1e9;
    let frame = spec.encode(x).expect("encode");
    let encode_time = median_time(|| {
        std::hint::black_box(spec.encode(x).expect("encode"));
    });
    let decode_time = median_time(|| {
        std::hint::black_box(decode(&frame, x.len() as u64).expect("decode"));
    });
    let mut theta = vec![0.0f32; x.len()];
    let add_time = median_time(|| {
        decode_into_add(&frame, &mut theta).expect("decode_into_add");
    });
    let mut feedback = ErrorFeedback::with_codec(x.len(), spec).expect("feedback");
    let feedback_time = median_time(|| {
        std::hint::black_box(feedback.encode_with_feedback(x).expect("feedback encode"));
    });
    let decoded = decode(&frame, x.len() as u64).expect("decode");
    print_figure(name, case, "encode_gbps", gbps(encode_time));
    print_figure(name, case, "decode_gbps", gbps(decode_time));
    print_figure(name, case, "decode_into_add_gbps", gbps(add_time));
    print_figure(name, case, "feedback_encode_gbps", gbps(feedback_time));
    print_figure(
        name,
        case,
        "bytes_per_param",
        frame.len() as f64 / x.len() as f64,
    );
    print_figure(name, case, "ratio_vs_f32", f32_bytes / frame.len() as f64);
    print_figure(name, case, "relative_l2_error", relative_l2(x, &decoded));
    frame
}

/// log2 of the binomial coefficient C(n, k).
fn log2_binomial(n: u64, k: u64) -> f64 {
    (0..k)
        .map(|i| ((n - i) as f64 / (i + 1) as f64).log2())
        .sum()
}

/// What the sparse frame's positions cost, against the alternatives: bits per kept entry for
/// the Rice gaps actually written (frame size minus everything else, byte padding included),
/// fixed-width offsets, a bitmap, u16 gaps through zstd level 3, and log2 C(block, k) / k, the
/// least any code can spend on positions drawn uniformly (structured positions can do better).
fn index_figures(case: &str, spec: &SparseSpec, x: &[f32], frame: &[u8]) {
    let decoded = decode(frame, x.len() as u64).expect("decode");
    let block = spec.block_size as usize;
    let k = spec.kept_per_block() as usize;
    let (blocks, groups) = (
        x.len().div_ceil(block),
        x.len().div_ceil((GROUP_ELEMS / block).max(1) * block),
    );
    let kept: usize = x.chunks(block).map(|b| k.min(b.len())).sum();
    let payload_bits = (frame.len() - SPARSE_HEADER_LEN) as f64 * 8.0;
    // Group table, per-block lo/hi/r (69 bits), value codes; padding (< 8 bits a group) is
    // counted as position bits.
    let other = (groups * 32 + blocks * 69 + kept * usize::from(spec.bits)) as f64;
    let mut gaps = Vec::new();
    for b in decoded.chunks(block) {
        let mut next = 0;
        for (i, v) in b.iter().enumerate() {
            if *v != 0.0 {
                gaps.extend_from_slice(&((i - next) as u16).to_le_bytes());
                next = i + 1;
            }
        }
    }
    let zstd_gaps = zstd::bulk::compress(&gaps, 3).expect("zstd").len() as f64 * 8.0;
    let per = |bits: f64| bits / kept as f64;
    let name = "sparse";
    print_figure(name, case, "index_bits_rice", per(payload_bits - other));
    print_figure(name, case, "index_bits_fixed", (block as f64).log2().ceil());
    print_figure(name, case, "index_bits_bitmap", block as f64 / k as f64);
    print_figure(name, case, "index_bits_u16_gaps_zstd3", per(zstd_gaps));
    print_figure(
        name,
        case,
        "index_bits_uniform_bound",
        log2_binomial(block as u64, k as u64) / k as f64,
    );
    print_figure(name, case, "value_bits", f64::from(spec.bits));
    print_figure(name, case, "block_header_bits_per_kept", 69.0 / k as f64);
}

fn bench_case(case: &str, x: &[f32]) {
    let int8 = CodecSpec::Int8 {
        block_size: DEFAULT_BLOCK_SIZE,
    };
    bench_codec("int8", case, int8, x);
    let raw: Vec<u8> = x.iter().flat_map(|v| v.to_le_bytes()).collect();
    let zstd_only = zstd::bulk::compress(&raw, 1).expect("zstd").len();
    let f32_bytes = (x.len() * 4) as f64;
    print_figure(
        "int8",
        case,
        "zstd_only_ratio_vs_f32",
        f32_bytes / zstd_only as f64,
    );
    for bits in [2u8, 4] {
        let spec = SparseSpec {
            bits,
            ..SparseSpec::default()
        };
        let name = format!("sparse_b{bits}");
        let frame = bench_codec(&name, case, CodecSpec::Sparse(spec), x);
        if bits == 2 {
            index_figures(case, &spec, x, &frame);
        }
    }
}

fn main() {
    println!(
        "{{\"bench\":\"codec\",\"rayon_threads\":{},\"int8_block\":{DEFAULT_BLOCK_SIZE},\"sparse\":\"{:?}\"}}",
        rayon::current_num_threads(),
        SparseSpec::default()
    );
    bench_case("heavy_tailed", &heavy_tailed(N, 1));
    bench_case("random_walk_diff", &random_walk_diff(N, 2));
}
