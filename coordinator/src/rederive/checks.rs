//! The checks of [`rederive_round`], one function each, in the order of the module docs.

use candle_core::Device;
use coalition_attribution::{
    spot_check_agrees, spot_check_sample, verify_report, Game, Hash32, Report, Seed,
};
use coalition_config::RunConfig;
use coalition_datasets::choose_indices;
use coalition_model::Llama;
use coalition_trainer::batches::TokenBatch;
use std::path::Path;
use std::time::Instant;

use super::artifacts::Artifacts;
use super::context::History;
use super::{ChainRound, ChainRun, Discrepancy, Passed};
use crate::aggregate::{aggregate, nonnegative_only, weights, Weighting};
use crate::manifest::{Manifest, UpdateStatus};
use crate::outer::{OuterOptimizer, OuterParams};
use crate::pool::{draw, unrevealed, Reveal};
use crate::prefilter::{prefilter, Candidate, FilterOutcome, PrefilterConfig};
use crate::rundir::RunDir;
use crate::score_round::ScoringPolicy;
use crate::scoring::RoundGame;

/// How the coalitions to re-evaluate are chosen, and how close a re-evaluation must be.
#[derive(Debug, Clone, PartialEq)]
pub struct Challenge {
    /// A seed the coordinator could not know when it published (a later blockhash, or the
    /// reviewer's own).
    pub seed: Seed,
    /// Transcript records (coalitions or path points) to re-evaluate per round; all of them
    /// when the transcript has fewer.
    pub records: usize,
    /// Largest allowed |transcript − re-evaluated| in nats (0: bit-identical).
    pub tolerance: f64,
}

/// A round that re-derived: what passed, and what the next round's check needs.
#[derive(Debug, Clone)]
pub struct RoundCheck {
    pub round: u64,
    pub passed: Vec<Passed>,
    pub manifest: Manifest,
    pub reveal: Reveal,
    pub report: Report,
    /// What this round published by content (its accepted updates and outer step), for the
    /// next rounds' replay check: pass it to [`super::History::absorb`].
    pub content: Vec<crate::prefilter::Published>,
    /// `attribution.replay_window` of the run.
    pub replay_window: u64,
    /// Transcript records re-evaluated, and the largest difference seen.
    pub reevaluated: usize,
    pub max_difference: f64,
    pub seconds: f64,
}

/// Everything loaded for one round.
struct Loaded {
    cfg: RunConfig,
    manifest: Manifest,
    report: Report,
    model: Llama,
    theta: Vec<f32>,
    outer: OuterOptimizer,
}

struct Ctx {
    round: u64,
    passed: Vec<Passed>,
}

impl Ctx {
    fn fail(&self, check: &'static str, detail: impl Into<String>) -> Discrepancy {
        Discrepancy {
            round: self.round,
            check,
            detail: detail.into(),
        }
    }
    fn pass(&mut self, check: &'static str, detail: impl Into<String>) {
        self.passed.push(Passed {
            check,
            detail: detail.into(),
        });
    }
}

/// Re-derive round `chain.round` (see the module docs); `history` holds rounds before it.
pub fn rederive_round(
    run: &ChainRun,
    chain: &ChainRound,
    history: &History,
    artifacts: &mut dyn Artifacts,
    challenge: &Challenge,
    device: &Device,
) -> Result<RoundCheck, Discrepancy> {
    let start = Instant::now();
    let mut ctx = Ctx {
        round: chain.round,
        passed: Vec::new(),
    };
    let loaded = load(&mut ctx, run, chain, artifacts, device)?;
    check_report(&mut ctx, chain, &loaded)?;
    let outcome = check_prefilter(&mut ctx, history, artifacts, &loaded)?;
    let (reveal, batches) = check_eval(&mut ctx, run, history, artifacts, &loaded)?;
    let (reevaluated, max_difference) =
        check_coalitions(&mut ctx, challenge, &loaded, &outcome, &batches)?;
    let step = check_next_model(&mut ctx, chain, artifacts.root(), &loaded, &outcome)?;
    check_credits(&mut ctx, chain, &loaded.report)?;
    let content = crate::service::published_content(chain.round, &outcome, step).collect();
    Ok(RoundCheck {
        round: chain.round,
        content,
        replay_window: loaded.cfg.attribution.replay_window,
        passed: ctx.passed,
        manifest: loaded.manifest,
        report: loaded.report,
        reveal,
        reevaluated,
        max_difference,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// Checks 1-3: the manifest, every file it lists, the config and θ_r with m_r.
fn load(
    ctx: &mut Ctx,
    run: &ChainRun,
    chain: &ChainRound,
    artifacts: &mut dyn Artifacts,
    device: &Device,
) -> Result<Loaded, Discrepancy> {
    let round = chain.round;
    let bytes = artifacts
        .manifest(round, &chain.manifest_hash)
        .map_err(|e| ctx.fail("manifest", e))?;
    let where_ = RunDir::at("").manifest_path(round);
    let manifest =
        Manifest::from_bytes(&bytes, &where_).map_err(|e| ctx.fail("manifest", e.to_string()))?;
    if manifest.round != round
        || manifest.before.model_hash != chain.model_hash
        || manifest.after.model_hash != chain.next_model_hash
    {
        return Err(ctx.fail(
            "manifest",
            "its round or model hashes differ from the Round account's",
        ));
    }
    let files = manifest.files();
    for f in &files {
        artifacts.ensure(f).map_err(|e| ctx.fail("manifest", e))?;
    }
    ctx.pass(
        "manifest",
        format!(
            "sha256 matches the chain; {} files match their sha256",
            files.len()
        ),
    );

    if manifest.config.sha256 != run.config_hash {
        return Err(ctx.fail(
            "config",
            format!(
                "config.toml is {}, the Run account says {}",
                manifest.config.sha256, run.config_hash
            ),
        ));
    }
    let config_path = artifacts.root().join(&manifest.config.path);
    let text =
        std::fs::read_to_string(&config_path).map_err(|e| ctx.fail("config", e.to_string()))?;
    let cfg = RunConfig::from_toml_str(&text, &config_path)
        .map_err(|e| ctx.fail("config", e.to_string()))?;
    ctx.pass("config", "hashes to the Run account's config hash");

    let dir = RunDir::at(artifacts.root());
    let expected: Vec<_> = dir
        .checkpoint_files(round)
        .iter()
        .map(|p| dir.relative(p))
        .collect();
    let listed: Vec<_> = manifest
        .before
        .files
        .iter()
        .map(|f| f.path.clone())
        .collect();
    if listed != expected {
        return Err(ctx.fail("model", "the checkpoint files are not checkpoints/round-N/{config.json, model.safetensors, outer.safetensors}"));
    }
    let n_params = coalition_model::checkpoint::load_llama(&dir.checkpoint_dir(round), device)
        .map_err(|e| ctx.fail("model", e.to_string()))?
        .params()
        .num_elements();
    let mut outer = OuterOptimizer::new(OuterParams::from_config(&cfg.training), n_params);
    let (model, theta) = dir
        .load_checkpoint(round, device, Some(&chain.model_hash), &mut outer)
        .map_err(|e| ctx.fail("model", e.to_string()))?;
    ctx.pass(
        "model",
        format!("θ_{round} ({n_params} parameters) hashes to the Round's model hash"),
    );
    let report_path = artifacts.root().join(&manifest.report.path);
    let json =
        std::fs::read_to_string(&report_path).map_err(|e| ctx.fail("report", e.to_string()))?;
    let report = Report::from_json(&json).map_err(|e| ctx.fail("report", e.to_string()))?;
    Ok(Loaded {
        cfg,
        manifest,
        report,
        model,
        theta,
        outer,
    })
}

/// Check 4: the report is the one on chain and its scores replay from its transcript.
fn check_report(ctx: &mut Ctx, chain: &ChainRound, l: &Loaded) -> Result<(), Discrepancy> {
    let r = &l.report;
    let pairs = [
        ("updates root", r.roots.updates, chain.updates_root),
        ("scores root", r.roots.scores, chain.scores_root),
        ("transcript root", r.roots.transcript, chain.transcript_root),
        ("model hash", r.model_hash, chain.model_hash),
    ];
    for (what, report, on_chain) in pairs {
        if report != on_chain {
            return Err(ctx.fail(
                "report",
                format!("{what} is {report} in the report, {on_chain} on chain"),
            ));
        }
    }
    if r.round != chain.round {
        return Err(ctx.fail("report", format!("the report is for round {}", r.round)));
    }
    let outcome = verify_report(r);
    if !outcome.is_match() {
        return Err(ctx.fail("report", outcome.to_string()));
    }
    ctx.pass(
        "report",
        format!(
            "roots equal the Round account's; {} scores replay from the transcript",
            r.players.len()
        ),
    );
    Ok(())
}

/// Check 5: the pre-filter's decisions, re-run on the decoded frames.
fn check_prefilter(
    ctx: &mut Ctx,
    history: &History,
    artifacts: &mut dyn Artifacts,
    l: &Loaded,
) -> Result<FilterOutcome, Discrepancy> {
    let m = &l.manifest;
    let same = |a: Option<f64>, b: Option<f64>| a.map(f64::to_bits) == b.map(f64::to_bits);
    if !same(m.prev_median, history.carried_median) {
        return Err(ctx.fail(
            "prefilter",
            format!(
            "the manifest says the previous median norm was {:?}, the previous round carried {:?}",
            m.prev_median, history.carried_median
        ),
        ));
    }
    let n = l.theta.len();
    let mut candidates = Vec::new();
    let mut undecodable = Vec::new();
    for u in &m.updates {
        let path = artifacts
            .ensure(&u.frame)
            .map_err(|e| ctx.fail("prefilter", e))?;
        let frame = std::fs::read(&path).map_err(|e| ctx.fail("prefilter", e.to_string()))?;
        match coalition_net::decode(&frame, n as u64) {
            Ok(values) => candidates.push(Candidate {
                trainer: u.trainer.clone(),
                update_hash: u.frame.sha256.0,
                values,
                tokens: u.tokens,
            }),
            Err(_) => undecodable.push(u.trainer.clone()),
        }
    }
    let pcfg = PrefilterConfig::from_config(&l.cfg, n);
    let h = super::super::prefilter::History {
        by_hash: |h: &[u8; 32]| history.published.get(h).copied(),
        recent: &history.recent,
        reference_norm: history.carried_median,
    };
    let mut outcome = prefilter(candidates, &pcfg, &h);
    let slot = |t: &str| {
        m.updates
            .iter()
            .find(|u| u.trainer == t)
            .map_or(u32::MAX, |u| u.slot)
    };
    outcome.accepted.sort_by_key(|c| slot(&c.trainer));
    compare_outcome(ctx, l, &outcome, &undecodable)?;
    ctx.pass(
        "prefilter",
        format!(
        "{} frames decoded and re-filtered: {} players, {} refused, {} merged, same as published",
        m.updates.len(),
        outcome.accepted.len(),
        outcome.rejected.len() + undecodable.len(),
        outcome.duplicates.len()
    ),
    );
    Ok(outcome)
}

/// The manifest's statuses and the report's players against a re-run pre-filter.
fn compare_outcome(
    ctx: &Ctx,
    l: &Loaded,
    outcome: &FilterOutcome,
    undecodable: &[String],
) -> Result<(), Discrepancy> {
    let tokens: Vec<u64> = outcome.accepted.iter().map(|c| c.tokens).collect();
    let p =
        weights(Weighting::Uniform, &tokens).map_err(|e| ctx.fail("prefilter", e.to_string()))?;
    for u in &l.manifest.updates {
        let who = &u.trainer;
        let found = outcome.accepted.iter().position(|c| c.trainer == *who);
        let ok = match (&u.status, found) {
            (
                UpdateStatus::Accepted {
                    player,
                    weight,
                    clip,
                    projected_off,
                },
                Some(i),
            ) => {
                let c = outcome
                    .clipped
                    .iter()
                    .find(|(t, _)| t == who)
                    .map_or(1.0, |(_, f)| *f);
                let off: Vec<&String> = outcome
                    .projected
                    .iter()
                    .filter(|(t, _)| t == who)
                    .map(|(_, o)| o)
                    .collect();
                *player as usize == i
                    && weight.to_bits() == p[i].to_bits()
                    && clip.to_bits() == c.to_bits()
                    && off.len() == projected_off.len()
                    && off.iter().zip(projected_off).all(|(a, b)| *a == b)
            }
            (UpdateStatus::Duplicate { of }, None) => {
                outcome.duplicates.iter().any(|(t, o)| t == who && o == of)
            }
            (UpdateStatus::Rejected { .. }, None) => {
                undecodable.contains(who) || outcome.rejected.iter().any(|(t, _)| t == who)
            }
            _ => false,
        };
        if !ok {
            return Err(ctx.fail(
                "prefilter",
                format!(
                    "trainer {who}: the manifest says {:?}, re-filtering disagrees",
                    u.status
                ),
            ));
        }
    }
    let players: Vec<(&str, [u8; 32])> = l
        .report
        .players
        .iter()
        .map(|p| (p.id.as_str(), p.update_hash.0))
        .collect();
    let accepted: Vec<(&str, [u8; 32])> = outcome
        .accepted
        .iter()
        .map(|c| (c.trainer.as_str(), c.update_hash))
        .collect();
    if players != accepted {
        return Err(ctx.fail(
            "prefilter",
            "the report's players are not the re-filtered updates, in order",
        ));
    }
    Ok(())
}

/// Check 6: the revealed samples open against the committed pool and are the seed's draw.
fn check_eval(
    ctx: &mut Ctx,
    run: &ChainRun,
    history: &History,
    artifacts: &mut dyn Artifacts,
    l: &Loaded,
) -> Result<(Reveal, Vec<TokenBatch>), Discrepancy> {
    let m = &l.manifest;
    let path = artifacts
        .ensure(&m.eval.reveal)
        .map_err(|e| ctx.fail("eval", e))?;
    let bytes = std::fs::read(&path).map_err(|e| ctx.fail("eval", e.to_string()))?;
    let reveal: Reveal =
        serde_json::from_slice(&bytes).map_err(|e| ctx.fail("eval", e.to_string()))?;
    if reveal.pool_root != run.eval_pool_root
        || reveal.pool_count != run.eval_pool_count
        || m.eval.pool.root != run.eval_pool_root
    {
        return Err(ctx.fail(
            "eval",
            "the reveal is for another pool than the Run account commits to",
        ));
    }
    if let Some((pos, index)) = reveal.first_bad_proof(&run.eval_pool_root, run.eval_pool_count) {
        return Err(ctx.fail(
            "eval",
            format!(
                "sample {index} (position {pos}) does not open against the committed pool root"
            ),
        ));
    }
    if m.eval.revealed_before != history.revealed.len() as u64 {
        return Err(ctx.fail(
            "eval",
            format!(
                "{} samples were revealed before, the manifest says {}",
                history.revealed.len(),
                m.eval.revealed_before
            ),
        ));
    }
    let seq = l.cfg.data.seq_len;
    let k = l.cfg.attribution.eval_sequences;
    let left = unrevealed(run.eval_pool_count, &history.revealed);
    let expected = draw(&l.report.seed, &left, k).map_err(|e| ctx.fail("eval", e.to_string()))?;
    if reveal.indices() != expected {
        return Err(ctx.fail(
            "eval",
            "the revealed samples are not the round seed's draw from the unrevealed pool",
        ));
    }
    if let Some(s) = reveal.samples.iter().find(|s| s.tokens.len() != seq + 1) {
        return Err(ctx.fail(
            "eval",
            format!(
                "sample {} has {} tokens, not seq_len + 1 = {}",
                s.index,
                s.tokens.len(),
                seq + 1
            ),
        ));
    }
    let per_batch = ScoringPolicy::from_config(&l.cfg)
        .map_err(|e| ctx.fail("eval", e.to_string()))?
        .eval_batch_size;
    let batches = reveal
        .samples
        .chunks(per_batch)
        .map(|chunk| TokenBatch {
            inputs: chunk.iter().map(|s| s.tokens[..seq].to_vec()).collect(),
            targets: chunk.iter().map(|s| s.tokens[1..].to_vec()).collect(),
        })
        .collect();
    ctx.pass("eval", format!("{k} samples open against the committed pool and are the seed's draw ({} were revealed before)", history.revealed.len()));
    Ok((reveal, batches))
}

/// Check 7: re-evaluate the challenged transcript records: `records` coalitions chosen by
/// `spot_check_sample` from the challenge seed, and as many path points (integrated
/// gradients), chosen the same way.
fn check_coalitions(
    ctx: &mut Ctx,
    challenge: &Challenge,
    l: &Loaded,
    outcome: &FilterOutcome,
    batches: &[TokenBatch],
) -> Result<(usize, f64), Discrepancy> {
    let t = &l.report.transcript;
    let key = challenge
        .seed
        .derive(&format!("challenge/round-{}", ctx.round));
    let coalitions = spot_check_sample(t, challenge.records, &key.0);
    let k_path = challenge.records.min(t.path.len());
    let path = choose_indices(key.0, t.path.len(), k_path)
        .map_err(|e| ctx.fail("coalitions", e.to_string()))?;
    let deltas: Vec<&[f32]> = outcome
        .accepted
        .iter()
        .map(|c| c.values.as_slice())
        .collect();
    let tokens: Vec<u64> = outcome.accepted.iter().map(|c| c.tokens).collect();
    let p =
        weights(Weighting::Uniform, &tokens).map_err(|e| ctx.fail("coalitions", e.to_string()))?;
    let mut game = RoundGame::new(&l.model, &l.theta, &l.outer, deltas, p, batches)
        .map_err(|e| ctx.fail("coalitions", e.to_string()))?;
    let tol = challenge.tolerance;
    let agrees = |a: f64, b: f64| a.to_bits() == b.to_bits() || spot_check_agrees(a, b, 0.0, tol);
    let mut max_diff = 0.0f64;
    for c in &coalitions {
        let got = game
            .utility(c.coalition())
            .map_err(|e| ctx.fail("coalitions", e.to_string()))?;
        max_diff = max_diff.max((got - c.value).abs());
        if !agrees(c.value, got) {
            return Err(ctx.fail("coalitions", format!(
                "coalition {:?} (mask {:#x}): the transcript says v = {:.9}, re-evaluation gives {got:.9}",
                c.coalition().members().collect::<Vec<_>>(), c.mask, c.value
            )));
        }
    }
    for &i in &path {
        let pp = &t.path[i];
        let point = game
            .path_point(pp.t)
            .map_err(|e| ctx.fail("coalitions", e.to_string()))?;
        let diffs = std::iter::once((pp.value, point.value)).chain(
            pp.gradient
                .iter()
                .copied()
                .zip(point.gradient.iter().copied()),
        );
        for (recorded, got) in diffs {
            max_diff = max_diff.max((recorded - got).abs());
            if !agrees(recorded, got) || point.gradient.len() != pp.gradient.len() {
                return Err(ctx.fail("coalitions", format!(
                    "path point t = {}: the transcript says {recorded:.9}, re-evaluation gives {got:.9}", pp.t
                )));
            }
        }
    }
    let k = coalitions.len() + path.len();
    let total = t.coalitions.len() + t.path.len();
    ctx.pass("coalitions", format!("{k} of {total} transcript records re-evaluated by challenge, largest difference {max_diff:.1e} nats"));
    Ok((k, max_diff))
}

/// Check 8: θ_{r+1} and m_{r+1} follow from θ_r, m_r and the players' updates. Returns the
/// sketch of the outer step θ_r − θ_{r+1}.
fn check_next_model(
    ctx: &mut Ctx,
    chain: &ChainRound,
    root: &Path,
    l: &Loaded,
    outcome: &FilterOutcome,
) -> Result<crate::sketch::Sketch, Discrepancy> {
    let n = l.theta.len();
    let deltas: Vec<&[f32]> = outcome
        .accepted
        .iter()
        .map(|c| c.values.as_slice())
        .collect();
    let tokens: Vec<u64> = outcome.accepted.iter().map(|c| c.tokens).collect();
    let p =
        weights(Weighting::Uniform, &tokens).map_err(|e| ctx.fail("next model", e.to_string()))?;
    let scores: Vec<f64> = l.report.players.iter().map(|r| r.score).collect();
    let coeffs = if l.cfg.attribution.aggregate_nonnegative_only {
        nonnegative_only(&p, &scores)
    } else {
        p
    };
    let g = aggregate(&deltas, &coeffs, n).map_err(|e| ctx.fail("next model", e.to_string()))?;
    let mut outer = l.outer.clone();
    let theta = next_theta(ctx, root, l, &mut outer, &g)?;
    let got = Hash32(coalition_model::checkpoint::params_hash(&theta));
    if got != chain.next_model_hash {
        return Err(ctx.fail(
            "next model",
            format!(
                "the outer step gives θ_{} = {got}, the Round account says {}",
                ctx.round + 1,
                chain.next_model_hash
            ),
        ));
    }
    let dir = RunDir::at(root);
    let mut published = OuterOptimizer::new(outer.params(), n);
    published
        .load_state(&dir.outer_state_path(ctx.round + 1))
        .map_err(|e| ctx.fail("next model", e.to_string()))?;
    let bits = |a: &[f32], b: &[f32]| {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
    };
    if !bits(published.momentum(), outer.momentum()) {
        return Err(ctx.fail(
            "next model",
            format!(
                "the published momentum m_{} is not the outer step's",
                ctx.round + 1
            ),
        ));
    }
    if !bits(published.residual(), outer.residual()) {
        return Err(ctx.fail(
            "next model",
            format!(
                "the published broadcast residual e_{} is not what the broadcast left",
                ctx.round + 1
            ),
        ));
    }
    ctx.pass(
        "next model",
        format!(
            "θ_{0} and m_{0} recomputed from θ_{1}, m_{1} and {2} updates match",
            ctx.round + 1,
            ctx.round,
            deltas.len()
        ),
    );
    let sketch = crate::sketch::sketch;
    Ok(sketch(&l.theta).minus(&sketch(&theta)))
}

/// θ_{r+1}: the outer step of `g` from θ_r, or — when the round published a compressed
/// broadcast — θ_r plus the broadcast of that step, which must be the listed frame byte for
/// byte (the encoding is deterministic, and the residual e_r is in m_r's file).
fn next_theta(
    ctx: &Ctx,
    root: &Path,
    l: &Loaded,
    outer: &mut OuterOptimizer,
    g: &[f32],
) -> Result<Vec<f32>, Discrepancy> {
    let fail = |e: crate::error::CoordinatorError| ctx.fail("next model", e.to_string());
    let mut target = l.theta.clone();
    outer.apply(&mut target, g).map_err(fail)?;
    let Some(listed) = &l.manifest.broadcast else {
        return Ok(target);
    };
    let Some(codec) = coalition_trainer::build::broadcast_codec(&l.cfg) else {
        return Err(ctx.fail(
            "next model",
            "the manifest lists a broadcast but the config broadcasts whole models",
        ));
    };
    let mut theta = l.theta.clone();
    let frame = outer
        .broadcast_step(&mut theta, &target, codec)
        .map_err(fail)?;
    let published = super::artifacts::read_checked(&root.join(&listed.path), &listed.sha256)
        .map_err(|e| ctx.fail("next model", e))?;
    if frame != published {
        return Err(ctx.fail(
            "next model",
            format!(
                "{} is not the broadcast of the outer step (θ_{} − θ_{} with e_{})",
                listed.path.display(),
                ctx.round + 1,
                ctx.round,
                ctx.round
            ),
        ));
    }
    Ok(theta)
}

/// Check 9: the chain credited what the report pays.
fn check_credits(ctx: &mut Ctx, chain: &ChainRound, report: &Report) -> Result<(), Discrepancy> {
    let players = report.players.len() as u32;
    if !chain.closed {
        return Err(ctx.fail("credits", "the round is not closed on chain"));
    }
    if chain.total_payout != report.paid || chain.credited_payout != report.paid {
        return Err(ctx.fail(
            "credits",
            format!(
                "the chain records {} to pay and {} credited, the report pays {}",
                chain.total_payout, chain.credited_payout, report.paid
            ),
        ));
    }
    if chain.trainer_count != players || chain.contributions_recorded != players {
        return Err(ctx.fail(
            "credits",
            format!(
                "the chain credited {} of {} trainers, the report has {players}",
                chain.contributions_recorded, chain.trainer_count
            ),
        ));
    }
    ctx.pass(
        "credits",
        format!(
            "{} credited to {players} trainers, as the report pays",
            report.paid
        ),
    );
    Ok(())
}
