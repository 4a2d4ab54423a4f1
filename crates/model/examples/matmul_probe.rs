use candle_core::{Device, Tensor};
use std::time::Instant;
fn main() -> candle_core::Result<()> {
    let dev = Device::Cpu;
    for (m, k, n) in [
        (2048, 256, 256),
        (2048, 256, 768),
        (2048, 768, 256),
        (256, 2048, 256),
    ] {
        let a = Tensor::randn(0f32, 1.0, (m, k), &dev)?;
        let b = Tensor::randn(0f32, 1.0, (k, n), &dev)?;
        let bt = Tensor::randn(0f32, 1.0, (n, k), &dev)?;
        let at = Tensor::randn(0f32, 1.0, (k, m), &dev)?;
        for (name, f) in [
            (
                "a@b",
                Box::new(|| a.matmul(&b)) as Box<dyn Fn() -> candle_core::Result<Tensor>>,
            ),
            ("a@btT", Box::new(|| a.matmul(&bt.t()?))),
            ("atT@b", Box::new(|| at.t()?.matmul(&b))),
        ] {
            f()?;
            let t0 = Instant::now();
            let reps = 20;
            for _ in 0..reps {
                f()?;
            }
            let s = t0.elapsed().as_secs_f64() / reps as f64;
            println!(
                "{m}x{k}x{n} {name}: {:.2} ms, {:.1} GFLOP/s",
                s * 1e3,
                2.0 * (m * k * n) as f64 / s / 1e9
            );
        }
    }
    Ok(())
}
