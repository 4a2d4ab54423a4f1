//! `coalition bench run DIR`: a finished run's bytes per trainer per round, counted on the
//! wire in both directions, against fp32 data-parallel training over the same optimizer
//! steps, and the attribution share of round time. One JSON line per round, then a summary.
//!
//! fp32 data-parallel, counted the same way: a parameter server to which each trainer sends a
//! full f32 gradient and from which it receives the full f32 weights every step, 4P bytes up
//! and 4P down per step (P parameters), H steps per round.

use anyhow::{Context, Result};
use coalition_coordinator::journal::{read_entries, Entry};
use serde_json::json;
use std::collections::HashMap;
use std::path::Path;

/// One committed round's figures.
struct RoundBytes {
    round: u64,
    participants: usize,
    /// Wire bytes into and out of the coordinator (None in journals without wire counts).
    up: Option<u64>,
    down: Option<u64>,
    /// Update frames received (their encoded sizes).
    frames: Vec<u64>,
    round_seconds: f64,
    scoring_seconds: f64,
}

/// The committed rounds' figures, in one pass over the journal: each round's participants
/// (its last `RoundOpened`) and every update frame received for it.
fn rounds(entries: &[Entry]) -> Vec<RoundBytes> {
    let mut participants: HashMap<u64, usize> = HashMap::new();
    let mut frames: HashMap<u64, Vec<u64>> = HashMap::new();
    for e in entries {
        match e {
            Entry::RoundOpened {
                round,
                participants: p,
                ..
            } => {
                participants.insert(*round, p.len());
            }
            Entry::UpdateReceived { round, bytes, .. } => {
                frames.entry(*round).or_default().push(*bytes);
            }
            _ => {}
        }
    }
    entries
        .iter()
        .filter_map(|e| match e {
            Entry::RoundCommitted {
                round,
                round_seconds,
                scoring_seconds,
                bytes_up,
                bytes_down,
                ..
            } => Some(RoundBytes {
                round: *round,
                participants: participants.get(round).copied().unwrap_or(0),
                up: *bytes_up,
                down: *bytes_down,
                frames: frames.get(round).cloned().unwrap_or_default(),
                round_seconds: *round_seconds,
                scoring_seconds: *scoring_seconds,
            }),
            _ => None,
        })
        .collect()
}

pub fn bench_run(dir: &Path) -> Result<()> {
    let cfg = coalition_config::RunConfig::from_file(&dir.join("config.toml"))?;
    let model = coalition_model::checkpoint::load_llama(
        &dir.join("checkpoints/round-0"),
        &candle_core::Device::Cpu,
    )
    .with_context(|| format!("cannot load {}/checkpoints/round-0", dir.display()))?;
    let p = model.params().num_elements() as f64;
    let h = cfg.training.inner_steps as f64;
    let fp32_dp = h * 8.0 * p;
    let entries = read_entries(&dir.join("journal.jsonl"))?;
    let rounds = rounds(&entries);
    let wire = rounds.iter().all(|r| r.up.is_some() && r.down.is_some());
    let (mut up, mut down, mut trainer_rounds) = (0f64, 0f64, 0f64);
    let (mut frames, mut frame_count, mut scoring, mut total) = (0f64, 0f64, 0f64, 0f64);
    for r in &rounds {
        let n = r.participants.max(1) as f64;
        let frame_sum = r.frames.iter().sum::<u64>() as f64;
        // Without wire counts, an upload is its frame and a download the raw model (4P).
        let (u, d) = match (r.up, r.down) {
            (Some(u), Some(d)) if wire => (u as f64, d as f64),
            _ => (frame_sum, 4.0 * p * n),
        };
        up += u;
        down += d;
        trainer_rounds += n;
        frames += frame_sum;
        frame_count += r.frames.len() as f64;
        scoring += r.scoring_seconds;
        total += r.round_seconds;
        println!(
            "{}",
            json!({
                "bench": "run", "round": r.round, "trainers": r.participants,
                "upload_bytes_per_trainer": u / n, "download_bytes_per_trainer": d / n,
                "total_bytes_per_trainer": (u + d) / n, "fp32_dp_bytes_per_trainer": fp32_dp,
                "reduction_vs_fp32_dp": fp32_dp / ((u + d) / n).max(1.0),
                "round_seconds": r.round_seconds, "attribution_seconds": r.scoring_seconds,
                "attribution_share": r.scoring_seconds / r.round_seconds.max(1e-9),
            })
        );
    }
    let per = |x: f64| x / trainer_rounds.max(1.0);
    let mean_frame = frames / frame_count.max(1.0);
    println!(
        "{}",
        json!({
            "bench": "run-summary", "parameters": p, "inner_steps": h,
            "counted": if wire { "wire: every byte of every connection, both directions" }
                       else { "estimated: no wire counts in this journal (update frames up, the raw model down)" },
            "upload_bytes_per_trainer_per_round": per(up),
            "download_bytes_per_trainer_per_round": per(down),
            "total_bytes_per_trainer_per_round": per(up + down),
            "fp32_dp_bytes_per_trainer_per_round": fp32_dp,
            "reduction_vs_fp32_dp": fp32_dp / per(up + down).max(1.0),
            "update_frame_bytes": mean_frame,
            "compression_vs_fp32_update": 4.0 * p / mean_frame.max(1.0),
            "attribution_share_of_round_time": scoring / total.max(1e-9),
        })
    );
    Ok(())
}
