//! A leaked update, for simulations that include a copier: one honest node posts each
//! round's update here, and a copier node takes it, adds 5% noise and submits it as its own
//! (see `coalition simulate`). Real deployments have no board: `NodeOptions::leak` is `None`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Relative size (in norm) of the noise a copier adds to the leaked update.
pub const COPY_NOISE: f32 = 0.05;

/// Updates by round, shared between the nodes of one process.
#[derive(Debug, Default)]
pub struct LeakBoard {
    updates: Mutex<HashMap<u64, Vec<f32>>>,
}

impl LeakBoard {
    /// The victim's update for `round`.
    pub fn post(&self, round: u64, delta: Vec<f32>) {
        if let Ok(mut u) = self.updates.lock() {
            u.insert(round, delta);
        }
    }

    /// Wait (up to `patience`) for round `round`'s leaked update.
    pub async fn take(&self, round: u64, patience: Duration) -> Option<Vec<f32>> {
        let end = Instant::now() + patience;
        loop {
            if let Some(d) = self
                .updates
                .lock()
                .ok()
                .and_then(|u| u.get(&round).cloned())
            {
                return Some(d);
            }
            if Instant::now() >= end {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// `delta` plus deterministic pseudo-random noise of `COPY_NOISE` times its norm.
pub fn disguise(delta: &[f32], seed: u64) -> Vec<f32> {
    let mut state = seed | 1;
    let noise: Vec<f32> = delta
        .iter()
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        })
        .collect();
    let norm = |v: &[f32]| v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    let (nd, nn) = (norm(delta), norm(&noise));
    let k = if nn > 0.0 {
        (f64::from(COPY_NOISE) * nd / nn) as f32
    } else {
        0.0
    };
    delta.iter().zip(&noise).map(|(d, e)| d + k * e).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_disguise_is_five_percent_noise() {
        let d: Vec<f32> = (0..1000).map(|i| (i as f32).sin()).collect();
        let c = disguise(&d, 7);
        let diff: f64 = d
            .iter()
            .zip(&c)
            .map(|(a, b)| f64::from(a - b).powi(2))
            .sum::<f64>()
            .sqrt();
        let nd: f64 = d.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
        assert!((diff / nd - 0.05).abs() < 1e-3, "{}", diff / nd);
        assert_eq!(c, disguise(&d, 7));
    }
}
