//! Arguments shared by the commands that read a run on chain (`inspect`, `claim`).

use anyhow::{bail, Context, Result};
use coalition_ledger::{
    connect::{embedded_program_id, Connection, Genesis},
    pubkey_from_base58, Cluster, Pubkey, RunAccounts,
};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Target {
    /// Where the run is recorded: `embedded:RUN_DIR` (the ledger a coordinator kept in its run
    /// directory, e.g. `embedded:runs/demo`), `localnet`, `devnet`, `mainnet-beta` or an http(s)
    /// JSON-RPC URL.
    #[arg(long)]
    pub cluster: String,
    /// The run's address (base58). Optional with `embedded:RUN_DIR`, where the coordinator wrote
    /// it to RUN_DIR/onchain.json.
    #[arg(long)]
    pub run: Option<String>,
    /// The registry program id (base58). Default: the embedded one, or the one in
    /// RUN_DIR/onchain.json.
    #[arg(long)]
    pub program_id: Option<String>,
}

/// A resolved target: the cluster, the run and the program.
pub struct Resolved {
    pub cluster: Cluster,
    pub run: Pubkey,
    pub program_id: Pubkey,
    /// The embedded run directory, if any.
    pub run_dir: Option<PathBuf>,
}

fn key(what: &str, s: &str) -> Result<Pubkey> {
    match pubkey_from_base58(s) {
        Some(k) => Ok(k),
        None => bail!("{what} {s:?} is not a base58 address"),
    }
}

impl Target {
    pub fn resolve(&self) -> Result<Resolved> {
        let cluster = Cluster::parse(&self.cluster, None)?;
        let run_dir = match &cluster {
            Cluster::Embedded { run_dir } => Some(run_dir.clone()),
            _ => None,
        };
        let info = match &run_dir {
            Some(d) if d.join("onchain.json").exists() => {
                Some(RunAccounts::read(&d.join("onchain.json"))?)
            }
            _ => None,
        };
        let run = match (&self.run, &info) {
            (Some(r), _) => key("--run", r)?,
            (None, Some(i)) => i.run()?,
            (None, None) => bail!("say which run with --run PUBKEY"),
        };
        let program_id = match (&self.program_id, &info, &run_dir) {
            (Some(p), _, _) => key("--program-id", p)?,
            (None, Some(i), _) => key("program id in onchain.json", &i.program_id)?,
            (None, None, Some(_)) => embedded_program_id(),
            (None, None, None) => {
                bail!("say which registry program with --program-id (the id you deployed)")
            }
        };
        Ok(Resolved {
            cluster,
            run,
            program_id,
            run_dir,
        })
    }
}

impl Resolved {
    /// Connects (starting the embedded validator on the existing ledger if embedded).
    pub fn connect(&self) -> Result<Connection> {
        Connection::open(&self.cluster, self.program_id, Genesis::MustExist)
            .with_context(|| format!("cannot reach the ledger {}", self.cluster))
    }
}
