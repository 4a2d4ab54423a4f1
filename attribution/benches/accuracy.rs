//! Accuracy of the estimators against budget on near-quadratic random games.
//!
//! For n = 8, 12, 16, 32 and two cubic shares (0.05, the test setting, and 0.20, a stress
//! setting), 21 random `QuadraticGame`s each: the reference is the exact estimator for n ≤ 16
//! and the closed form for n = 32 (2^32 evaluations are out of reach). Error is the relative
//! L1 error Σ|φ̂ − φ| / Σ|φ|; the table shows the median and, in parentheses, the 90th percentile
//! over games. Budgets are coalition evaluations as the permutation estimator charges them
//! (2 + 2(n−1) per antithetic pair, so 2n = one pair); integrated gradients costs k path points
//! (forward + backward each) plus 2 endpoint evaluations.
//!
//! Prints one JSON line per cell and the Markdown table, and writes the table into
//! docs/ATTRIBUTION.md between `<!-- BEGIN accuracy-table -->` and `<!-- END accuracy-table -->`.
//! Run: `cargo bench -p coalition-attribution --bench accuracy`. No timing is asserted.

use coalition_attribution::games::QuadraticGame;
use coalition_attribution::{estimate, sha256, EstimatorSpec, Seed};
use std::fmt::Write as _;

const GAMES: u64 = 21;
const SIZES: [usize; 4] = [8, 12, 16, 32];
const CUBIC_SHARES: [f64; 2] = [0.05, 0.20];
const PERM_BUDGETS: [u64; 5] = [2, 4, 10, 20, 50];
const IG_POINTS: [u32; 4] = [1, 2, 4, 8];
/// Standard-error tolerances (ppm of |v(N) − v(∅)|) for the early-stopping columns.
const TOLERANCES: [u32; 2] = [10_000, 1_000];
const BEGIN: &str = "<!-- BEGIN accuracy-table -->";
const END: &str = "<!-- END accuracy-table -->";

fn rel_l1(est: &[f64], exact: &[f64]) -> f64 {
    let num: f64 = est.iter().zip(exact).map(|(a, b)| (a - b).abs()).sum();
    let den: f64 = exact.iter().map(|b| b.abs()).sum();
    num / den
}

fn quantile(xs: &[f64], q: f64) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * q).round() as usize]
}

struct Cell {
    median: f64,
    p90: f64,
}

impl Cell {
    fn new(errors: &[f64]) -> Self {
        Cell {
            median: quantile(errors, 0.5),
            p90: quantile(errors, 0.9),
        }
    }
    fn show(&self) -> String {
        format!("{:.4} ({:.4})", self.median, self.p90)
    }
}

fn json(n: usize, rho: f64, estimator: &str, budget: u64, cell: &Cell, extra: &str) {
    println!(
        "{{\"bench\":\"attribution-accuracy\",\"n\":{n},\"cubic_share\":{rho},\"estimator\":\"{estimator}\",\"budget\":{budget},\"median_rel_l1\":{:.6},\"p90_rel_l1\":{:.6}{extra}}}",
        cell.median, cell.p90
    );
}

fn row(n: usize, rho: f64) -> String {
    let mut perm: Vec<Vec<f64>> = vec![Vec::new(); PERM_BUDGETS.len()];
    let mut ig: Vec<Vec<f64>> = vec![Vec::new(); IG_POINTS.len()];
    let mut tol_err: Vec<Vec<f64>> = vec![Vec::new(); TOLERANCES.len()];
    let mut tol_evals: Vec<Vec<f64>> = vec![Vec::new(); TOLERANCES.len()];
    for g in 0..GAMES {
        let mut game = QuadraticGame::random(n, 7919 * n as u64 + g, 0.5, rho);
        let reference = if n <= 16 {
            let spec = EstimatorSpec::Exact { max_players: 16 };
            estimate(&mut game, &spec, Seed([0; 32]))
                .expect("exact")
                .estimate
                .scores
        } else {
            game.shapley()
        };
        let seed = Seed(sha256(&(n as u64 * 1000 + g).to_le_bytes()).0);
        for (k, &b) in PERM_BUDGETS.iter().enumerate() {
            let spec = EstimatorSpec::Permutation {
                tolerance_ppm: 0,
                max_evaluations: b * n as u64,
                min_pairs: 2,
            };
            let e = estimate(&mut game, &spec, seed)
                .expect("permutation")
                .estimate;
            perm[k].push(rel_l1(&e.scores, &reference));
        }
        for (k, &tolerance_ppm) in TOLERANCES.iter().enumerate() {
            let spec = EstimatorSpec::Permutation {
                tolerance_ppm,
                max_evaluations: 100 * n as u64,
                min_pairs: 2,
            };
            let e = estimate(&mut game, &spec, seed)
                .expect("permutation")
                .estimate;
            tol_err[k].push(rel_l1(&e.scores, &reference));
            tol_evals[k].push(e.stats.evaluations as f64);
        }
        for (k, &p) in IG_POINTS.iter().enumerate() {
            let spec = EstimatorSpec::integrated_gradients(p);
            let e = estimate(&mut game, &spec, seed).expect("ig").estimate;
            ig[k].push(rel_l1(&e.scores, &reference));
        }
    }
    let reference = if n <= 16 {
        format!("exact (2^{n})")
    } else {
        "closed form".to_string()
    };
    let mut line = format!("| {n} | {rho:.2} | {reference} |");
    for (k, &b) in PERM_BUDGETS.iter().enumerate() {
        let c = Cell::new(&perm[k]);
        json(n, rho, "permutation", b * n as u64, &c, "");
        write!(line, " {} |", c.show()).ok();
    }
    for (k, &tolerance_ppm) in TOLERANCES.iter().enumerate() {
        let c = Cell::new(&tol_err[k]);
        let evals = quantile(&tol_evals[k], 0.5);
        json(
            n,
            rho,
            &format!("permutation_tol_{tolerance_ppm}ppm"),
            100 * n as u64,
            &c,
            &format!(",\"median_evaluations\":{evals}"),
        );
        write!(line, " {} @ {evals:.0} |", c.show()).ok();
    }
    for (k, &p) in IG_POINTS.iter().enumerate() {
        let c = Cell::new(&ig[k]);
        json(n, rho, "integrated_gradients", u64::from(p) + 2, &c, "");
        write!(line, " {} |", c.show()).ok();
    }
    line
}

fn table() -> String {
    let mut t = String::new();
    t.push_str("| n | cubic share | reference |");
    for b in PERM_BUDGETS {
        write!(t, " perm {b}n |").ok();
    }
    for tol in TOLERANCES {
        write!(t, " perm tol {}% @ evals |", f64::from(tol) / 1e4).ok();
    }
    for p in IG_POINTS {
        write!(t, " IG {p} pts |").ok();
    }
    t.push('\n');
    t.push_str(&"|---".repeat(3 + PERM_BUDGETS.len() + TOLERANCES.len() + IG_POINTS.len()));
    t.push_str("|\n");
    for rho in CUBIC_SHARES {
        for n in SIZES {
            t.push_str(&row(n, rho));
            t.push('\n');
        }
    }
    t
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` does not. Only the former runs the
    // full measurement and rewrites the docs.
    if !std::env::args().any(|a| a == "--bench") {
        println!(
            "accuracy bench: run with `cargo bench -p coalition-attribution --bench accuracy`"
        );
        return;
    }
    let table = table();
    let body = format!(
        "Median relative L1 error (90th percentile) over {GAMES} random games per row; \
         generated by `cargo bench -p coalition-attribution --bench accuracy`.\n\n{table}"
    );
    println!("\n{body}");
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/ATTRIBUTION.md");
    match std::fs::read_to_string(path) {
        Ok(doc) => match (doc.find(BEGIN), doc.find(END)) {
            (Some(b), Some(e)) if b < e => {
                let new = format!("{}{BEGIN}\n{body}{}", &doc[..b], &doc[e..]);
                if let Err(err) = std::fs::write(path, new) {
                    eprintln!("could not write {path}: {err}");
                } else {
                    eprintln!("wrote the table into {path}");
                }
            }
            _ => eprintln!("{path} has no {BEGIN} … {END} markers; table not written"),
        },
        Err(err) => eprintln!("could not read {path}: {err}; table not written"),
    }
}
