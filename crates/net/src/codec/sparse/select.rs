//! Top-k selection within one block: which entries a sparse frame keeps.
//!
//! The kept entries are the `k` largest by magnitude; ties at the threshold go to the lowest
//! indices, so the choice is a pure function of the block's values. The magnitude order is the
//! order of `bits & 0x7FFF_FFFF` for finite floats, so the search runs on integers: a histogram
//! of the top 11 bits finds the bucket that holds the k-th largest key, a selection among that
//! bucket's keys finds the key itself, and one last pass collects the positions in order.

/// Keys (magnitude bits) at or above this are infinite or NaN.
pub(crate) const NON_FINITE_BITS: u32 = 0x7F80_0000;

/// Keys are 31 bits; the histogram buckets them by their top `HIST_BITS`.
const HIST_BITS: u32 = 11;
const HIST_SHIFT: u32 = 31 - HIST_BITS;

/// Blocks at most this long skip the histogram and select directly.
const DIRECT_MAX: usize = 512;

/// Reusable buffers for [`select_top_k`].
pub(crate) struct Scratch {
    hist: Vec<u32>,
    candidates: Vec<u32>,
}

impl Scratch {
    pub(crate) fn new() -> Self {
        Self {
            hist: vec![0; 1 << HIST_BITS],
            candidates: Vec::new(),
        }
    }
}

/// The magnitude key of a value.
#[inline(always)]
pub(crate) fn key(v: f32) -> u32 {
    v.to_bits() & 0x7FFF_FFFF
}

/// Writes to `positions` (cleared first) the ascending indices of the `k` entries of `x` with
/// the largest magnitudes, ties going to lower indices. `x` must be finite and `k <= x.len()`.
pub(crate) fn select_top_k(x: &[f32], k: usize, scratch: &mut Scratch, positions: &mut Vec<u32>) {
    positions.clear();
    if k == 0 {
        return;
    }
    if k >= x.len() {
        positions.extend(0..x.len() as u32);
        return;
    }
    let (threshold, above) = threshold(x, k, scratch);
    // `above` keys are strictly larger than the threshold; the rest come from its ties.
    let mut ties = k - above;
    for (i, &v) in x.iter().enumerate() {
        let kv = key(v);
        if kv > threshold {
            positions.push(i as u32);
        } else if kv == threshold && ties > 0 {
            positions.push(i as u32);
            ties -= 1;
        }
    }
}

/// The k-th largest key of `x` (1 <= k < len) and how many keys are strictly larger.
fn threshold(x: &[f32], k: usize, scratch: &mut Scratch) -> (u32, usize) {
    let cands = &mut scratch.candidates;
    cands.clear();
    let mut larger = 0usize;
    if x.len() <= DIRECT_MAX {
        cands.extend(x.iter().map(|&v| key(v)));
    } else {
        let hist = &mut scratch.hist;
        hist.fill(0);
        for &v in x {
            hist[(key(v) >> HIST_SHIFT) as usize] += 1;
        }
        // Walk down from the top bucket until it holds the k-th largest.
        let mut bucket = hist.len() - 1;
        loop {
            let count = hist[bucket] as usize;
            if larger + count >= k || bucket == 0 {
                break;
            }
            larger += count;
            bucket -= 1;
        }
        cands.extend(
            x.iter()
                .map(|&v| key(v))
                .filter(|&kv| (kv >> HIST_SHIFT) as usize == bucket),
        );
    }
    // The (k - larger)-th largest candidate, 1-based.
    let nth = k - larger - 1;
    let (_, &mut t, _) = cands.select_nth_unstable_by(nth, |a, b| b.cmp(a));
    let above_in_bucket = cands.iter().filter(|&&c| c > t).count();
    (t, larger + above_in_bucket)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference: sort indices by (magnitude desc, index asc), keep k, sort by index.
    fn reference(x: &[f32], k: usize) -> Vec<u32> {
        let mut idx: Vec<u32> = (0..x.len() as u32).collect();
        idx.sort_by(|&a, &b| key(x[b as usize]).cmp(&key(x[a as usize])).then(a.cmp(&b)));
        idx.truncate(k);
        idx.sort_unstable();
        idx
    }

    fn check(x: &[f32], k: usize) {
        let mut scratch = Scratch::new();
        let mut got = Vec::new();
        select_top_k(x, k, &mut scratch, &mut got);
        assert_eq!(got, reference(x, k), "k = {k} of {}", x.len());
    }

    #[test]
    fn matches_the_reference_with_ties_and_signs() {
        let mut s = 12345u64;
        for len in [1usize, 2, 7, 100, 512, 513, 4096, 5000] {
            let x: Vec<f32> = (0..len)
                .map(|_| {
                    s ^= s << 13;
                    s ^= s >> 7;
                    s ^= s << 17;
                    // Few distinct magnitudes: many ties, both signs, some zeros.
                    ((s % 7) as f32 - 3.0) * if s.is_multiple_of(5) { 1e-3 } else { 1.0 }
                })
                .collect();
            for k in [1, 2, len / 50 + 1, len / 3 + 1, len] {
                check(&x, k.min(len));
            }
        }
    }

    #[test]
    fn all_equal_and_all_zero_blocks() {
        check(&[0.5; 1000], 20);
        check(&[0.0; 1000], 20);
        check(&[-0.0; 700], 699);
        let mut x = vec![1e-30f32; 2000];
        x[1999] = 3.0e38;
        x[3] = -3.0e38;
        check(&x, 1);
        check(&x, 2);
        check(&x, 3);
    }
}
