//! Applying one journal event to the view being built.

use super::RunReader;
use crate::files;
use crate::journal::{Event, VerificationField};
use crate::view::{
    Outcome, Phase, RoundState, RoundView, RunStatus, TrainerView, UpdateView, Verification,
};
use std::collections::BTreeMap;

/// The phases in the order a round passes through them; others follow by name.
const PHASE_ORDER: [&str; 6] = ["gather", "train", "transfer", "score", "commit", "record"];

impl RunReader {
    pub(super) fn apply(&mut self, event: Event) {
        match event {
            Event::RunStarted {
                run_id,
                config_hash,
                seed,
            } => {
                self.view.run.run_id = run_id;
                self.view.run.config_hash = config_hash;
                self.view.run.seed = seed;
                self.view.status = RunStatus::Running;
            }
            Event::TrainerAdmitted { wallet, slot } => {
                let t = self.trainer_mut(&wallet);
                t.joined = true;
                t.slot = slot.or(t.slot);
            }
            Event::TrainerLeft { wallet, reason } => {
                let t = self.trainer_mut(&wallet);
                t.joined = false;
                t.left_reason = reason;
            }
            e @ Event::RoundOpened { .. } => self.opened(e),
            Event::UpdateReceived {
                round,
                trainer,
                bytes,
            } => self.update_received(round, trainer, bytes),
            e @ Event::RoundScored { .. } => self.scored(e),
            e @ Event::RoundCommitted { .. } => self.committed(e),
            Event::RoundVerified {
                round,
                status,
                ok,
                detail,
            } => {
                let status = status.unwrap_or_else(|| match ok {
                    Some(true) => "verified".into(),
                    Some(false) => "failed".into(),
                    None => "unknown".into(),
                });
                self.round_mut(round).verification = Some(Verification { status, detail });
            }
            Event::Other => self.view.unknown_entries += 1,
        }
    }

    fn opened(&mut self, e: Event) {
        let Event::RoundOpened {
            round,
            model_hash,
            participants,
        } = e
        else {
            return;
        };
        let r = self.round_mut(round);
        r.attempts += 1;
        r.state = RoundState::Open;
        r.participants = participants.len() as u32;
        r.model_hash_before = model_hash;
        r.updates = participants
            .into_iter()
            .map(|p| UpdateView {
                trainer: p.trainer,
                outcome: Outcome::Training,
                reason: None,
                score: None,
                payout: None,
                bytes: None,
                clip_factor: None,
            })
            .collect();
    }

    fn scored(&mut self, e: Event) {
        let Event::RoundScored {
            round,
            report,
            rejected,
            clipped,
            duplicates,
        } = e
        else {
            return;
        };
        self.scored_report(round, report.as_deref());
        let r = self.round_mut(round);
        r.state = RoundState::Scored;
        for u in r
            .updates
            .iter_mut()
            .filter(|u| u.outcome == Outcome::Training)
        {
            u.outcome = Outcome::Missed;
            u.reason = Some("no update before the deadline".into());
        }
        for x in rejected {
            let u = update_mut(r, &x.trainer);
            u.outcome = Outcome::Refused;
            u.reason = Some(x.reason);
        }
        for d in duplicates {
            let u = update_mut(r, &d.trainer);
            u.outcome = Outcome::Duplicate;
            u.reason = Some(format!("copy of {}", d.of));
        }
        for c in clipped {
            update_mut(r, &c.trainer).clip_factor = Some(c.factor);
        }
    }

    fn committed(&mut self, e: Event) {
        let Event::RoundCommitted {
            round,
            model_hash,
            eval_loss_before,
            eval_loss_after,
            round_seconds,
            scoring_seconds,
            bytes_up,
            bytes_down,
            phases,
            verification,
        } = e
        else {
            return;
        };
        let r = self.round_mut(round);
        r.state = RoundState::Committed;
        r.model_hash_after = model_hash;
        r.eval_loss_before = eval_loss_before;
        r.eval_loss_after = eval_loss_after;
        r.round_seconds = round_seconds.filter(|s| *s > 0.0);
        r.scoring_seconds = scoring_seconds.filter(|s| *s > 0.0);
        r.bytes_up = bytes_up;
        r.bytes_down = bytes_down;
        (r.timeline, r.timeline_measured) = timeline(r, phases);
        if let Some(v) = verification {
            r.verification = Some(match v {
                VerificationField::Status(status) => Verification {
                    status,
                    detail: None,
                },
                VerificationField::Full { status, detail } => Verification { status, detail },
            });
        }
    }

    fn update_received(&mut self, round: u64, trainer: String, bytes: u64) {
        if self.view.trainer(&trainer).is_none() {
            self.trainer_mut(&trainer);
        }
        let r = self.round_mut(round);
        r.update_bytes += bytes;
        let u = update_mut(r, &trainer);
        u.outcome = Outcome::Pending;
        u.reason = None;
        u.bytes = Some(u.bytes.unwrap_or(0) + bytes);
    }

    /// Reads the round's report and marks its players scored.
    fn scored_report(&mut self, round: u64, report: Option<&str>) {
        let rel = report.map_or_else(|| format!("reports/round-{round}.json"), str::to_string);
        let path = self.dir.join(rel);
        let facts = match files::read_report(&path) {
            Ok(f) => f,
            Err(e) => {
                self.warn(format!("round {round}: {e}"));
                return;
            }
        };
        let left_out = self.view.run.nonnegative_only;
        let r = self.round_mut(round);
        for p in &facts.players {
            let u = update_mut(r, &p.id);
            u.score = Some(p.score);
            u.payout = Some(p.payout);
            if left_out && p.score < 0.0 {
                u.outcome = Outcome::LeftOut;
                u.reason = Some("negative score: not aggregated".into());
            } else {
                u.outcome = Outcome::Merged;
                u.reason = None;
            }
        }
        r.payout = Some(facts.payout);
    }

    fn trainer_mut(&mut self, wallet: &str) -> &mut TrainerView {
        let i = match self.view.trainers.iter().position(|t| t.wallet == wallet) {
            Some(i) => i,
            None => {
                self.view.trainers.push(TrainerView {
                    wallet: wallet.to_string(),
                    ..TrainerView::default()
                });
                self.view.trainers.len() - 1
            }
        };
        &mut self.view.trainers[i]
    }

    fn round_mut(&mut self, round: u64) -> &mut RoundView {
        // Rounds arrive in order: the one asked for is nearly always the last.
        let i = match self.view.rounds.iter().rposition(|r| r.round == round) {
            Some(i) => i,
            None => {
                let at = self.view.rounds.partition_point(|r| r.round < round);
                self.view.rounds.insert(
                    at,
                    RoundView {
                        round,
                        ..RoundView::default()
                    },
                );
                at
            }
        };
        &mut self.view.rounds[i]
    }
}

/// The round's update row for `trainer` (added if the trainer was not a participant).
fn update_mut<'a>(r: &'a mut RoundView, trainer: &str) -> &'a mut UpdateView {
    let i = match r.updates.iter().position(|u| u.trainer == trainer) {
        Some(i) => i,
        None => {
            r.updates.push(UpdateView {
                trainer: trainer.to_string(),
                outcome: Outcome::Pending,
                reason: None,
                score: None,
                payout: None,
                bytes: None,
                clip_factor: None,
            });
            r.updates.len() - 1
        }
    };
    &mut r.updates[i]
}

/// The round's phases: measured ones from the journal in round order, else two spans derived
/// from the round and scoring seconds.
fn timeline(r: &RoundView, phases: Option<BTreeMap<String, f64>>) -> (Vec<Phase>, bool) {
    if let Some(mut p) = phases.filter(|p| !p.is_empty()) {
        let mut out = Vec::new();
        for name in PHASE_ORDER {
            if let Some(s) = p.remove(name) {
                out.push(Phase {
                    name: name.into(),
                    seconds: s.max(0.0),
                });
            }
        }
        out.extend(p.into_iter().map(|(name, s)| Phase {
            name,
            seconds: s.max(0.0),
        }));
        return (out, true);
    }
    let (Some(total), scoring) = (r.round_seconds, r.scoring_seconds.unwrap_or(0.0)) else {
        return (Vec::new(), false);
    };
    let spans = [
        ("gather + train + transfer", (total - scoring).max(0.0)),
        ("score + commit", scoring.min(total)),
    ];
    let out = spans
        .into_iter()
        .map(|(n, s)| Phase {
            name: n.into(),
            seconds: s,
        })
        .collect();
    (out, false)
}
