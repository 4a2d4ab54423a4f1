//! indicatif progress bars for long work.

use coalition_trainer::{Observer, StepStats};
use indicatif::{ProgressBar, ProgressStyle};

/// Draws `step, loss, tokens/s` while training and prints eval losses above the bar.
pub struct TrainBar {
    bar: ProgressBar,
    tokens: usize,
    seconds: f64,
}

impl TrainBar {
    pub fn new(hidden: bool) -> Self {
        let bar = if hidden {
            ProgressBar::hidden()
        } else {
            ProgressBar::new(0)
        };
        let style = ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} steps  {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        Self {
            bar,
            tokens: 0,
            seconds: 0.0,
        }
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl Observer for TrainBar {
    fn start(&mut self, total_steps: usize, params: usize, baseline: f64) {
        self.bar.set_length(total_steps as u64);
        self.bar.println(format!(
            "training {params} parameters for {total_steps} steps; unigram baseline {baseline:.4} nats/token"
        ));
    }

    fn step(&mut self, s: &StepStats) {
        self.tokens += s.tokens;
        self.seconds += s.seconds;
        self.bar.set_position(s.step as u64);
        self.bar.set_message(format!(
            "loss {:.4}  lr {:.2e}  {:.0} tok/s",
            s.loss,
            s.lr,
            self.tokens as f64 / self.seconds.max(1e-9)
        ));
    }

    fn eval(&mut self, step: usize, loss: f64) {
        self.bar
            .println(format!("step {step:>6}  eval loss {loss:.4}"));
    }
}
