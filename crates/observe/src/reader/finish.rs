//! After applying new entries: per-trainer totals, labels, run status.

use super::RunReader;
use crate::view::{Outcome, RoundState, RunStatus};

impl RunReader {
    /// Recomputes what is derived from the rounds (cheap: rounds × trainers).
    pub(super) fn finish(&mut self) {
        let v = &mut self.view;
        for t in &mut v.trainers {
            t.label = self.labels.get(&t.wallet).cloned();
            t.rounds_scored = 0;
            t.rounds_not_scored = 0;
            t.score_total = 0.0;
            t.earned_total = 0;
            t.update_bytes = 0;
        }
        for r in &v.rounds {
            for u in &r.updates {
                let Some(t) = v.trainers.iter_mut().find(|t| t.wallet == u.trainer) else {
                    continue;
                };
                t.update_bytes += u.bytes.unwrap_or(0);
                if r.state != RoundState::Committed {
                    continue;
                }
                match u.outcome {
                    Outcome::Merged | Outcome::LeftOut => {
                        t.rounds_scored += 1;
                        t.score_total += u.score.unwrap_or(0.0);
                        t.earned_total += u.payout.unwrap_or(0);
                    }
                    Outcome::Refused | Outcome::Duplicate | Outcome::Missed => {
                        t.rounds_not_scored += 1
                    }
                    Outcome::Training | Outcome::Pending => {}
                }
            }
        }
        v.rounds_committed = v
            .rounds
            .iter()
            .filter(|r| r.state == RoundState::Committed)
            .count() as u64;
        v.current_round = v
            .rounds
            .iter()
            .rev()
            .find(|r| r.state != RoundState::Committed)
            .map(|r| r.round);
        if v.status != RunStatus::Starting || !v.rounds.is_empty() {
            let done = v
                .run
                .rounds_planned
                .is_some_and(|n| v.rounds_committed >= n && v.current_round.is_none());
            v.status = if done {
                RunStatus::Finished
            } else {
                RunStatus::Running
            };
        }
    }
}
