//! `coalition check-config FILE`.

use anyhow::Result;
use coalition_config::RunConfig;
use std::path::Path;
use std::process::ExitCode;

pub fn run(file: &Path) -> Result<ExitCode> {
    let cfg = RunConfig::from_file(file)?;
    let m = &cfg.model;
    println!("{}: ok", file.display());
    println!("  run         {} (seed {})", cfg.run.name, cfg.run.seed);
    println!(
        "  model       {:?}: hidden {}, {} layers, {} heads ({} kv), ffn {}",
        m.kind,
        m.hidden_size,
        m.num_layers,
        m.num_heads,
        cfg.num_kv_heads(),
        m.intermediate_size
    );
    if let Some(init) = &m.init_from {
        println!("  init from   {init}");
    }
    println!(
        "  data        {} (seq_len {})",
        cfg.data.dataset, cfg.data.seq_len
    );
    if let Some(t) = cfg.data_tokenizer() {
        println!("  tokenizer   {t} (instead of the dataset's; trainers pass --tokenizer)");
    }
    println!(
        "  training    {} rounds x {} inner steps, batch {}, lr {}",
        cfg.training.rounds, cfg.training.inner_steps, cfg.training.batch_size, cfg.training.lr
    );
    match cfg.public_eval_pool() {
        None => println!(
            "  eval pool   {:?}: the coordinator's own, never sent to trainers",
            cfg.eval_kind()
        ),
        Some(why) => {
            println!("  eval pool   {:?}: PUBLIC", cfg.eval_kind());
            println!(
                "  warning: {why}: trainers can train on the eval pool and inflate their own scores; \
                 set [data.eval] kind = \"generated\" (synthetic data) or kind = \"dataset\" with a \
                 private path for a run that pays strangers"
            );
        }
    }
    println!("  sha256      {}", cfg.hash_hex());
    Ok(ExitCode::SUCCESS)
}
