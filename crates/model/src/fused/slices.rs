//! Access to the contiguous data behind candle tensors and CPU storages, for f32 and f64.

use candle_core::{CpuStorage, DType, Layout, Result, Tensor};

/// Element types the fused kernels support.
pub trait Elem:
    num_traits::Float + candle_core::WithDType + Send + Sync + std::iter::Sum + 'static
{
    fn slice<'a>(s: &'a CpuStorage, l: &Layout, op: &'static str) -> Result<&'a [Self]>;
    fn storage(v: Vec<Self>) -> CpuStorage;
    fn tensor_vec(t: &Tensor) -> Result<Vec<Self>>;
}

fn contiguous<'a, T>(v: &'a [T], l: &Layout, op: &'static str) -> Result<&'a [T]> {
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&v[a..b]),
        None => candle_core::bail!("{op}: input must be contiguous"),
    }
}

impl Elem for f32 {
    fn slice<'a>(s: &'a CpuStorage, l: &Layout, op: &'static str) -> Result<&'a [Self]> {
        match s {
            CpuStorage::F32(v) => contiguous(v, l, op),
            _ => candle_core::bail!("{op}: expected f32 storage"),
        }
    }
    fn storage(v: Vec<Self>) -> CpuStorage {
        CpuStorage::F32(v)
    }
    fn tensor_vec(t: &Tensor) -> Result<Vec<Self>> {
        t.to_dtype(DType::F32)?.flatten_all()?.to_vec1()
    }
}

impl Elem for f64 {
    fn slice<'a>(s: &'a CpuStorage, l: &Layout, op: &'static str) -> Result<&'a [Self]> {
        match s {
            CpuStorage::F64(v) => contiguous(v, l, op),
            _ => candle_core::bail!("{op}: expected f64 storage"),
        }
    }
    fn storage(v: Vec<Self>) -> CpuStorage {
        CpuStorage::F64(v)
    }
    fn tensor_vec(t: &Tensor) -> Result<Vec<Self>> {
        t.to_dtype(DType::F64)?.flatten_all()?.to_vec1()
    }
}

/// `Σ a_i b_i`, with eight independent accumulators so the compiler can vectorise it.
#[inline]
pub fn dot<T: Elem>(a: &[T], b: &[T]) -> T {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [T::zero(); 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for l in 0..8 {
            acc[l] += x[l] * y[l];
        }
    }
    let tail = ra.iter().zip(rb).fold(T::zero(), |s, (&x, &y)| s + x * y);
    acc.iter().fold(tail, |s, &x| s + x)
}

/// `y += alpha · x`.
#[inline]
pub fn axpy<T: Elem>(alpha: T, x: &[T], y: &mut [T]) {
    for (yi, &xi) in y.iter_mut().zip(x) {
        *yi += alpha * xi;
    }
}
