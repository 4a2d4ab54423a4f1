//! The other files of a run directory, read tolerantly (only the fields drawn):
//! `reports/round-N.json` (attribution's `Report`), `onchain.json` (the ledger's
//! `RunAccounts`), `config.toml`, `labels.json` (optional display names, written by the demo),
//! `baseline.json` (optional `coalition train-local --json` output) and `verification.json`
//! (what the last `coalition verify` found, per round).

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

use crate::error::{read_err, ObserveError, Result};
use crate::view::{Address, BaselinePoint, OnchainView, PayoutView, RunInfo};

/// The part of a round report the pages draw.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportFacts {
    pub players: Vec<PlayerFacts>,
    pub payout: PayoutView,
}

/// One scored player.
#[derive(Debug, Clone, PartialEq)]
pub struct PlayerFacts {
    pub id: String,
    pub score: f64,
    pub payout: u64,
}

#[derive(Deserialize)]
struct RawReport {
    /// `coalition-report/v1`, ...
    format: String,
    #[serde(default)]
    reward: u64,
    #[serde(default)]
    payout_status: String,
    #[serde(default)]
    paid: u64,
    #[serde(default)]
    dust: u64,
    #[serde(default)]
    players: Vec<RawPlayer>,
    #[serde(default)]
    estimator: Option<RawEstimator>,
    #[serde(default)]
    stats: Option<RawStats>,
}

#[derive(Deserialize)]
struct RawPlayer {
    id: String,
    /// Hex of the f64 bits.
    #[serde(default)]
    score: Option<String>,
    /// 10⁻⁹ units.
    #[serde(default)]
    score_fixed: i64,
    #[serde(default)]
    payout: u64,
}

#[derive(Deserialize)]
struct RawEstimator {
    kind: String,
}

#[derive(Deserialize)]
struct RawStats {
    #[serde(default)]
    evaluations: u64,
}

fn malformed(path: &Path, message: impl Into<String>) -> ObserveError {
    ObserveError::Malformed {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// A score from the report: the exact f64 bits when present, else the fixed-point value.
fn player_score(p: &RawPlayer) -> f64 {
    p.score
        .as_deref()
        .filter(|s| s.len() == 16)
        .and_then(|s| u64::from_str_radix(s, 16).ok())
        .map(f64::from_bits)
        .filter(|x| x.is_finite())
        .unwrap_or(p.score_fixed as f64 * 1e-9)
}

/// Reads `reports/round-N.json`.
pub fn read_report(path: &Path) -> Result<ReportFacts> {
    let text = std::fs::read_to_string(path).map_err(read_err(path))?;
    let raw: RawReport = serde_json::from_str(&text)
        .map_err(|e| malformed(path, format!("not a round report: {e}")))?;
    if !raw.format.starts_with("coalition-report/") {
        return Err(malformed(
            path,
            format!("not a round report: format {:?}", raw.format),
        ));
    }
    let players = raw
        .players
        .iter()
        .map(|p| PlayerFacts {
            id: p.id.clone(),
            score: player_score(p),
            payout: p.payout,
        })
        .collect();
    Ok(ReportFacts {
        players,
        payout: PayoutView {
            status: raw.payout_status,
            reward: raw.reward,
            paid: raw.paid,
            dust: raw.dust,
            estimator: raw.estimator.map(|e| e.kind).unwrap_or_default(),
            evaluations: raw.stats.map_or(0, |s| s.evaluations),
        },
    })
}

#[derive(Deserialize)]
struct RawOnchain {
    #[serde(default)]
    cluster: String,
    #[serde(default)]
    program_id: String,
    #[serde(default)]
    run: String,
    #[serde(default)]
    authority: String,
    #[serde(default)]
    mint: String,
    #[serde(default)]
    vault: String,
}

/// An explorer link for an account on a public cluster (none for local ledgers).
pub fn explorer_link(cluster: &str, address: &str) -> Option<String> {
    let base = format!("https://explorer.solana.com/address/{address}");
    match cluster {
        "devnet" | "testnet" => Some(format!("{base}?cluster={cluster}")),
        "mainnet-beta" => Some(base),
        _ => None,
    }
}

/// Reads `onchain.json`.
pub fn read_onchain(path: &Path) -> Result<OnchainView> {
    let text = std::fs::read_to_string(path).map_err(read_err(path))?;
    let raw: RawOnchain = serde_json::from_str(&text)
        .map_err(|e| malformed(path, format!("not a run accounts file: {e}")))?;
    let addresses = [
        ("run", &raw.run),
        ("program", &raw.program_id),
        ("authority", &raw.authority),
        ("reward mint", &raw.mint),
        ("vault", &raw.vault),
    ]
    .into_iter()
    .filter(|(_, a)| !a.is_empty())
    .map(|(what, a)| Address {
        what: what.to_string(),
        address: a.clone(),
        explorer: explorer_link(&raw.cluster, a),
    })
    .collect();
    Ok(OnchainView {
        cluster: raw.cluster,
        addresses,
    })
}

/// Reads `labels.json`: `{"<wallet>": "<name>", ...}`.
pub fn read_labels(path: &Path) -> Result<BTreeMap<String, String>> {
    let text = std::fs::read_to_string(path).map_err(read_err(path))?;
    serde_json::from_str(&text)
        .map_err(|e| malformed(path, format!("expected {{\"<wallet>\": \"<name>\"}}: {e}")))
}

/// Reads what the pages show of `config.toml` (any other key is ignored).
pub fn read_config(path: &Path) -> Result<RunInfo> {
    let text = std::fs::read_to_string(path).map_err(read_err(path))?;
    let doc: toml::Table = text
        .parse()
        .map_err(|e| malformed(path, format!("not TOML: {e}")))?;
    let get = |section: &str, key: &str| doc.get(section).and_then(|s| s.get(key)).cloned();
    let int = |section: &str, key: &str| {
        get(section, key)
            .and_then(|v| v.as_integer())
            .and_then(|i| u64::try_from(i).ok())
    };
    Ok(RunInfo {
        name: get("run", "name").and_then(|v| v.as_str().map(str::to_string)),
        rounds_planned: int("training", "rounds"),
        inner_steps: int("training", "inner_steps"),
        reward_per_round: int("rewards", "per_round"),
        nonnegative_only: get("attribution", "aggregate_nonnegative_only")
            .and_then(|v| v.as_bool())
            .unwrap_or(false),
        ..RunInfo::default()
    })
}

#[derive(Deserialize)]
struct RawBaseline {
    eval_curve: Vec<(f64, f64)>,
}

/// Reads a `coalition train-local --json` report and puts its eval curve on the rounds' x axis
/// (steps / `inner_steps`).
pub fn read_baseline(path: &Path, inner_steps: u64) -> Result<Vec<BaselinePoint>> {
    let text = std::fs::read_to_string(path).map_err(read_err(path))?;
    let line = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    let raw: RawBaseline = serde_json::from_str(line).map_err(|e| {
        malformed(
            path,
            format!("not a `coalition train-local --json` report: {e}"),
        )
    })?;
    let h = inner_steps.max(1) as f64;
    Ok(raw
        .eval_curve
        .into_iter()
        .filter(|(_, l)| l.is_finite())
        .map(|(step, eval_loss)| BaselinePoint {
            rounds: step / h,
            eval_loss,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_scores_come_from_the_exact_bits() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("round-0.json");
        let score = 0.012345678901_f64;
        std::fs::write(
            &path,
            format!(
                r#"{{"format":"coalition-report/v1","reward":100,"payout_status":"paid","paid":99,"dust":1,
                "estimator":{{"kind":"exact","max_players":12}},"stats":{{"evaluations":16}},
                "players":[{{"id":"A","score":"{:016x}","score_fixed":12345679,"payout":99}},
                           {{"id":"B","score_fixed":-5000000000,"payout":0}}]}}"#,
                score.to_bits()
            ),
        )
        .unwrap();
        let r = read_report(&path).unwrap();
        assert_eq!(r.players[0].score, score);
        assert_eq!(r.players[1].score, -5.0);
        assert_eq!(r.payout.estimator, "exact");
        assert_eq!((r.payout.paid, r.payout.evaluations), (99, 16));
        std::fs::write(&path, "[]").unwrap();
        let err = read_report(&path).unwrap_err().to_string();
        assert!(
            err.contains("round-0.json") && err.contains("not a round report"),
            "{err}"
        );
    }

    #[test]
    fn explorer_links_only_on_public_clusters() {
        assert_eq!(
            explorer_link("devnet", "X").as_deref(),
            Some("https://explorer.solana.com/address/X?cluster=devnet")
        );
        assert!(explorer_link("mainnet-beta", "X").is_some());
        assert!(explorer_link("embedded", "X").is_none());
        assert!(explorer_link("http://127.0.0.1:8899", "X").is_none());
    }

    #[test]
    fn config_facts_and_baseline() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("config.toml");
        std::fs::write(
            &cfg,
            "[run]\nname = \"demo\"\n[training]\nrounds = 5\ninner_steps = 40\n[attribution]\naggregate_nonnegative_only = true\n[future]\nx = 1\n",
        )
        .unwrap();
        let info = read_config(&cfg).unwrap();
        assert_eq!(info.name.as_deref(), Some("demo"));
        assert_eq!((info.rounds_planned, info.inner_steps), (Some(5), Some(40)));
        assert!(info.nonnegative_only);
        let b = dir.path().join("baseline.json");
        std::fs::write(&b, r#"{"eval_curve":[[0,3.0],[80,2.0]],"steps":80}"#).unwrap();
        let pts = read_baseline(&b, 40).unwrap();
        assert_eq!(pts[1].rounds, 2.0);
        assert_eq!(pts[1].eval_loss, 2.0);
        std::fs::write(&b, "{}").unwrap();
        assert!(read_baseline(&b, 40)
            .unwrap_err()
            .to_string()
            .contains("train-local"));
    }
}

#[derive(Deserialize)]
struct RawVerification {
    rounds: Vec<RawVerifiedRound>,
}

#[derive(Deserialize)]
struct RawVerifiedRound {
    round: u64,
    status: String,
    #[serde(default)]
    detail: Option<String>,
}

/// `verification.json`, written by `coalition verify`: each round's status (`verified`,
/// `failed`) and what established it or what differed.
pub fn read_verification(path: &Path) -> Result<BTreeMap<u64, crate::view::Verification>> {
    let text = std::fs::read_to_string(path).map_err(read_err(path))?;
    let raw: RawVerification = serde_json::from_str(&text)
        .map_err(|e| malformed(path, format!("not a verification file: {e}")))?;
    Ok(raw
        .rounds
        .into_iter()
        .map(|r| {
            let v = crate::view::Verification {
                status: r.status,
                detail: r.detail,
            };
            (r.round, v)
        })
        .collect())
}
