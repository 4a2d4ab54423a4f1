//! `coalition demo`: the whole loop on one machine. A coordinator and four trainer processes
//! on loopback train configs/demo.toml (embedded in the binary): two honest trainers, one
//! trained on shuffled labels, one free-rider sending zero updates. Prints who earned what in
//! every round and the loss curve, and serves the live dashboard while it runs.

use anyhow::{bail, Context, Result};
use coalition_net::Wallet;
use coalition_observe::{Dashboard, RunReader, ServeOptions};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use crate::tables::{self, Names};

mod onchain;

/// The demo's run config (also in configs/demo.toml, where a test validates it).
const DEMO_CONFIG: &str = include_str!("../../../configs/demo.toml");

const TRAINERS: [(&str, &str); 4] = [
    ("honest-1", "honest"),
    ("honest-2", "honest"),
    ("shuffled-labels", "shuffled-labels"),
    ("free-rider", "free-rider"),
];

#[derive(clap::Args)]
pub struct Args {
    /// Directory for the demo's run (`<runs>/demo/`) and its files (`<runs>/demo-files/`);
    /// both are replaced on every demo run.
    #[arg(long, default_value = "runs")]
    runs: PathBuf,
    /// Rounds to train (default: the demo config's).
    #[arg(long)]
    rounds: Option<usize>,
    /// Give up if the demo takes longer than this many seconds.
    #[arg(long, default_value_t = 900)]
    timeout_secs: u64,
    /// Serve the live dashboard (and /api/run, /api/rounds, /metrics) on this address while the
    /// demo runs; if it is taken, any free port is used. Port 0: any free port.
    #[arg(long, default_value = "127.0.0.1:9300")]
    dashboard: SocketAddr,
    /// Do not serve the dashboard.
    #[arg(long)]
    no_dashboard: bool,
    /// Tell the demo's story on this run config instead of the embedded one
    /// (`configs/demo.toml`), e.g. `configs/low-bandwidth.toml`: the run is named `demo`,
    /// listens on loopback, waits for the demo's four trainers and records on the embedded
    /// ledger; everything else is the file's.
    #[arg(long)]
    config: Option<PathBuf>,
}

/// The demo config (`--config` or the embedded one) with `training.rounds` set (comments and
/// layout kept); a `--config` file gets the demo's name, loopback address, trainer count and
/// ledger.
fn demo_config(rounds: Option<usize>, config: Option<&Path>) -> Result<String> {
    let text = match config {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("cannot read --config {}", path.display()))?,
        None => DEMO_CONFIG.to_string(),
    };
    let what = config.map_or("the embedded configs/demo.toml".to_string(), |p| {
        p.display().to_string()
    });
    let mut doc: toml_edit::DocumentMut = text
        .parse()
        .with_context(|| format!("{what} is not TOML"))?;
    if config.is_some() {
        let mut listen = toml_edit::Array::new();
        listen.push("/ip4/127.0.0.1/tcp/0");
        doc["run"]["name"] = toml_edit::value("demo");
        doc["network"]["listen"] = toml_edit::value(listen);
        doc["network"]["min_trainers"] = toml_edit::value(TRAINERS.len() as i64);
        doc["rewards"]["cluster"] = toml_edit::value("embedded");
    }
    if let Some(r) = rounds {
        let r = i64::try_from(r).context("--rounds is too large")?;
        doc["training"]["rounds"] = toml_edit::value(r);
    }
    Ok(doc.to_string())
}

/// The dashboard on `args.dashboard`, or on any free port if that one is taken.
fn start_dashboard(args: &Args, run_dir: &Path) -> Result<Option<Dashboard>> {
    if args.no_dashboard {
        return Ok(None);
    }
    match coalition_observe::start(ServeOptions::run(args.dashboard, run_dir)) {
        Ok(d) => Ok(Some(d)),
        Err(e) if args.dashboard.port() != 0 => {
            println!("  ({e}; using another port)");
            let mut any = args.dashboard;
            any.set_port(0);
            Ok(Some(coalition_observe::start(ServeOptions::run(
                any, run_dir,
            ))?))
        }
        Err(e) => Err(e.into()),
    }
}

/// Writes the trainers' display names into the run directory once the coordinator has created
/// it (the report and the dashboard show them); `true` once written.
fn write_labels(run_dir: &Path, names: &Names) -> Result<bool> {
    if !run_dir.join("config.toml").is_file() {
        return Ok(false);
    }
    let tmp = run_dir.join("labels.json.tmp");
    std::fs::write(&tmp, serde_json::to_string_pretty(names)?)
        .and_then(|_| std::fs::rename(&tmp, run_dir.join("labels.json")))
        .with_context(|| format!("cannot write {}", run_dir.join("labels.json").display()))?;
    Ok(true)
}

struct Proc {
    name: String,
    child: Child,
    log: PathBuf,
}

fn spawn(name: &str, args: &[&str], log: &Path, threads: &str) -> Result<Proc> {
    let exe = std::env::current_exe().context("cannot find the coalition executable")?;
    let out =
        std::fs::File::create(log).with_context(|| format!("cannot create {}", log.display()))?;
    let err = out.try_clone()?;
    let child = Command::new(exe)
        .args(args)
        .env("RAYON_NUM_THREADS", threads)
        .env("COALITION_LOG", "info")
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .with_context(|| format!("cannot start {name}"))?;
    Ok(Proc {
        name: name.to_string(),
        child,
        log: log.to_path_buf(),
    })
}

fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

/// The demo's files: run directory, config, wallets and their display names.
struct Setup {
    run_dir: PathBuf,
    files: PathBuf,
    config_path: PathBuf,
    names: Names,
    wallets: Vec<PathBuf>,
}

/// Clears the previous demo, writes the config and the trainers' wallets.
fn prepare(args: &Args) -> Result<Setup> {
    let run_dir = args.runs.join("demo");
    let files = args.runs.join("demo-files");
    for d in [&run_dir, &files] {
        if d.exists() {
            std::fs::remove_dir_all(d).with_context(|| format!("cannot clear {}", d.display()))?;
        }
    }
    std::fs::create_dir_all(files.join("logs"))?;
    let config_path = files.join("demo.toml");
    std::fs::write(
        &config_path,
        demo_config(args.rounds, args.config.as_deref())?,
    )?;
    let mut names: Names = BTreeMap::new();
    let mut wallets = Vec::new();
    for (name, _) in TRAINERS {
        let w = Wallet::generate();
        let path = files.join(format!("{name}.json"));
        w.write_file(&path)?;
        names.insert(w.pubkey_base58(), name.to_string());
        wallets.push(path);
    }
    Ok(Setup {
        run_dir,
        files,
        config_path,
        names,
        wallets,
    })
}

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// Starts the coordinator and waits until it listens; returns it and its TCP address.
fn start_coordinator(args: &Args, setup: &Setup) -> Result<(Proc, String)> {
    let ready = setup.files.join("coordinator.addr");
    let coord_args = [
        "coordinate",
        "--config",
        &s(&setup.config_path),
        "--runs",
        &s(&args.runs),
        "--ready-file",
        &s(&ready),
        "--linger-secs",
        "5",
    ];
    let log = setup.files.join("logs/coordinator.log");
    let mut coordinator = spawn("coordinator", &coord_args, &log, "2")?;
    let started = Instant::now();
    loop {
        if let Ok(text) = std::fs::read_to_string(&ready) {
            if let Some(a) = text.lines().find(|l| l.contains("/tcp/")) {
                return Ok((coordinator, a.to_string()));
            }
        }
        if let Some(status) = coordinator.child.try_wait()? {
            bail!(
                "the coordinator exited ({status}) before listening:\n{}",
                tail(&coordinator.log)
            );
        }
        if started.elapsed() > Duration::from_secs(120) {
            let _ = coordinator.child.kill();
            bail!(
                "the coordinator did not start listening within 120 s:\n{}",
                tail(&coordinator.log)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn start_trainers(setup: &Setup, addr: &str) -> Result<Vec<Proc>> {
    let mut trainers = Vec::new();
    for ((name, behavior), wallet) in TRAINERS.iter().zip(&setup.wallets) {
        let log = setup.files.join(format!("logs/{name}.log"));
        let targs = [
            "train",
            "--join",
            addr,
            "--wallet",
            &s(wallet),
            "--behavior",
            behavior,
        ];
        trainers.push(spawn(name, &targs, &log, "1")?);
        println!("  started trainer {name} ({behavior})");
    }
    Ok(trainers)
}

/// Prints rounds as they commit until the coordinator exits; returns its status and the run.
fn follow(
    args: &Args,
    setup: &Setup,
    coordinator: &mut Proc,
    trainers: &mut [Proc],
) -> Result<(std::process::ExitStatus, RunReader)> {
    let deadline = Instant::now() + Duration::from_secs(args.timeout_secs);
    let mut reader = RunReader::new(&setup.run_dir);
    let (mut printed, mut labelled) = (0, false);
    loop {
        if !labelled {
            labelled = write_labels(&setup.run_dir, &setup.names)?;
        }
        reader.refresh()?;
        printed = print_new_rounds(&reader, &setup.names, printed);
        if let Some(status) = coordinator.child.try_wait()? {
            reader.refresh()?;
            print_new_rounds(&reader, &setup.names, printed);
            return Ok((status, reader));
        }
        if Instant::now() > deadline {
            let _ = coordinator.child.kill();
            for t in trainers.iter_mut() {
                let _ = t.child.kill();
            }
            bail!("the demo did not finish within {} s", args.timeout_secs);
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Gives the trainers a grace period to exit after the run finished, then stops them.
fn stop_trainers(trainers: &mut [Proc]) -> Result<()> {
    let grace = Instant::now() + Duration::from_secs(20);
    for t in trainers {
        while t.child.try_wait()?.is_none() && Instant::now() < grace {
            std::thread::sleep(Duration::from_millis(100));
        }
        if t.child.try_wait()?.is_none() {
            let _ = t.child.kill();
            let _ = t.child.wait();
            println!("  trainer {} did not exit by itself; stopped it", t.name);
        }
    }
    Ok(())
}

pub fn run(args: &Args) -> Result<ExitCode> {
    let setup = prepare(args)?;
    println!(
        "coalition demo: a coordinator and {} trainers on loopback",
        TRAINERS.len()
    );
    println!(
        "  run directory {}; logs in {}",
        setup.run_dir.display(),
        setup.files.join("logs").display()
    );
    let dashboard = start_dashboard(args, &setup.run_dir)?;
    if let Some(d) = &dashboard {
        println!("  dashboard {} (live while the demo runs)", d.url());
    }
    let started = Instant::now();
    let (mut coordinator, addr) = start_coordinator(args, &setup)?;
    println!("  coordinator at {addr}");
    let mut trainers = start_trainers(&setup, &addr)?;
    let (status, reader) = follow(args, &setup, &mut coordinator, &mut trainers)?;
    stop_trainers(&mut trainers)?;
    if !status.success() {
        bail!(
            "the coordinator failed ({status}):\n{}",
            tail(&coordinator.log)
        );
    }
    summarize(&reader, &setup.names);
    onchain::show(&setup.run_dir, &setup.names, &setup.wallets, TRAINERS[0].0)?;
    let dir = setup.run_dir.display();
    println!(
        "done in {:.0} s; the run is in {dir}; its report: coalition report {dir}",
        started.elapsed().as_secs_f64()
    );
    if let Some(d) = dashboard {
        d.stop()?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints every round committed after the first `done`; returns the new count.
fn print_new_rounds(reader: &RunReader, names: &Names, done: usize) -> usize {
    let view = reader.view();
    let mut n = done;
    for r in view.committed().skip(done) {
        println!();
        print!("{}", tables::round(r, names));
        n += 1;
    }
    n
}

/// The loss curve and the totals per trainer.
fn summarize(reader: &RunReader, names: &Names) {
    let view = reader.view();
    println!();
    println!("eval loss by round:");
    print!("{}", tables::indent(&tables::loss_curve(view), "  "));
    println!();
    println!("total over the run:");
    print!("{}", tables::indent(&tables::totals(view, names), "  "));
}

#[cfg(test)]
mod tests {
    use super::*;
    use coalition_config::RunConfig;

    #[test]
    fn the_demo_config_takes_the_round_count_and_keeps_its_comments() {
        let text = demo_config(Some(3), None).unwrap();
        let cfg = RunConfig::from_toml_str(&text, Path::new("demo.toml")).unwrap();
        assert_eq!(cfg.training.rounds, 3);
        assert!(text.starts_with("# The whole loop on one machine"));
        assert!(text.contains("# Leave updates with a negative Shapley score"));
        let default = demo_config(None, None).unwrap();
        assert_eq!(default, DEMO_CONFIG);
    }

    #[test]
    fn another_config_gets_the_demo_name_address_and_trainers() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/low-bandwidth.toml");
        let text = demo_config(Some(2), Some(&path)).unwrap();
        let cfg = RunConfig::from_toml_str(&text, &path).unwrap();
        assert_eq!(cfg.run.name, "demo");
        assert_eq!(cfg.training.rounds, 2);
        assert_eq!(
            cfg.training.inner_steps, 100,
            "the file's own settings stay"
        );
        assert_eq!(cfg.network.listen, vec!["/ip4/127.0.0.1/tcp/0".to_string()]);
        assert_eq!(cfg.network.min_trainers, 4);
        assert!(text.starts_with("# Low-bandwidth distributed training"));
        let err = demo_config(None, Some(Path::new("/nope.toml"))).unwrap_err();
        assert!(format!("{err:#}").contains("/nope.toml"), "{err:#}");
    }
}
