//! `coalition bench train` without the rest of coalition, so that a release build compiles only
//! candle and this crate (minutes, not the half hour of the whole binary):
//!
//! ```sh
//! RAYON_NUM_THREADS=2 cargo run --release -p coalition-model --example bench_train -- 20 2
//! ```
//!
//! Arguments: timed steps (default 20), warm-up steps (default 2), then optionally `mlp` or
//! `lm` to run one shape. Prints one JSON line per shape.

// The same global allocator and options as the `coalition` binary: without them the step
// spends a large share in the kernel faulting in pages glibc just returned.
#[path = "../../../src/alloc.rs"]
mod alloc;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    alloc::tune();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number = |i: usize, default: usize| -> Result<usize, String> {
        args.get(i).map_or(Ok(default), |s| {
            s.parse()
                .map_err(|_| format!("argument {}: {s:?} is not a count", i + 1))
        })
    };
    let (steps, warmup) = (number(0, 20)?, number(1, 2)?);
    let only = args.get(2).map(String::as_str);
    if only.is_none_or(|o| o == "mlp") {
        println!("{}", coalition_model::bench::mlp(steps, warmup)?);
    }
    if only.is_none_or(|o| o == "lm") {
        println!("{}", coalition_model::bench::lm(steps, warmup)?);
    }
    Ok(())
}
