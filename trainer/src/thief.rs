//! What an eval thief ([`crate::round::Behavior::EvalThief`]) can get its hands on: the public
//! held-out split of the training text, and every eval sample the coordinator has revealed.
//! In the tests the revealed samples are read from the coordinator's run directory
//! (`$COALITION_STEAL_FROM/reveals/round-N.json`), standing in for fetching them from the
//! published manifests.

use coalition_datasets::SampleSet;
use std::path::Path;

/// Environment variable naming the run directory whose reveals a thief reads.
pub const STEAL_FROM: &str = "COALITION_STEAL_FROM";

/// Every window of the public held-out split.
pub fn public_split(eval: &[u32], seq_len: usize) -> Vec<Vec<u32>> {
    let Ok(set) = SampleSet::new(eval.to_vec(), seq_len) else {
        return Vec::new();
    };
    (0..set.len())
        .filter_map(|k| set.window(k).ok().map(<[u32]>::to_vec))
        .collect()
}

/// Every revealed sample under `run_dir/reveals/` (unreadable files are skipped: a thief
/// takes what it can).
pub fn revealed(run_dir: &Path) -> Vec<Vec<u32>> {
    let Ok(entries) = std::fs::read_dir(run_dir.join("reveals")) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let Ok(bytes) = std::fs::read(entry.path()) else {
            continue;
        };
        let Ok(json) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
            continue;
        };
        let samples = json["samples"].as_array().cloned().unwrap_or_default();
        for s in samples {
            let tokens: Option<Vec<u32>> = s["tokens"].as_array().map(|t| {
                t.iter()
                    .filter_map(|v| v.as_u64().and_then(|x| u32::try_from(x).ok()))
                    .collect()
            });
            out.extend(tokens);
        }
    }
    out
}
