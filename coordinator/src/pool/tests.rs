use super::*;
use coalition_attribution::{merkle_root, sha256, Seed};
use coalition_config::RunConfig;
use std::collections::BTreeSet;
use std::path::Path;

fn pool(tokens: usize) -> EvalPool {
    let set = SampleSet::new((0..tokens as u32).collect::<Vec<_>>(), 4).unwrap();
    EvalPool::new(
        set,
        PoolOrigin::PublicSplit {
            split_hash: [0; 32],
        },
    )
    .unwrap()
}

#[test]
fn the_root_commits_to_every_window_and_reveals_open_against_it() {
    let p = pool(41); // (41 - 1) / 4 = 10 samples
    assert_eq!(p.len(), 10);
    let leaves: Vec<Vec<u8>> = (0..10u64)
        .map(|k| sample_leaf(k, p.samples().window(k as usize).unwrap()))
        .collect();
    assert_eq!(p.root(), merkle_root(&leaves));
    let r = p.reveal(3, &[7, 2]).unwrap();
    assert_eq!(r.indices(), vec![7, 2]);
    assert_eq!(r.samples[0].tokens, vec![28, 29, 30, 31, 32]);
    assert_eq!(r.first_bad_proof(&p.root(), p.len()), None);
    // A changed token, a wrong index, another root or an index beyond the pool: caught.
    let mut forged = r.clone();
    forged.samples[1].tokens[0] += 1;
    assert_eq!(forged.first_bad_proof(&p.root(), p.len()), Some((1, 2)));
    let mut moved = r.clone();
    moved.samples[0].index = 6;
    assert_eq!(moved.first_bad_proof(&p.root(), p.len()), Some((0, 6)));
    assert!(r.first_bad_proof(&sha256(b"x"), p.len()).is_some());
    assert!(r.first_bad_proof(&p.root(), 5).is_some());
    assert!(p.reveal(0, &[10]).is_err());
}

#[test]
fn draws_are_deterministic_fresh_and_run_out_clearly() {
    let seed = Seed(sha256(b"round").0);
    let mut revealed = BTreeSet::new();
    let mut seen = Vec::new();
    for round in 0..5u8 {
        let left = unrevealed(20, &revealed);
        let s = Seed(sha256(&[round]).0);
        let d = draw(&s, &left, 4).unwrap();
        assert_eq!(d, draw(&s, &left, 4).unwrap());
        for i in &d {
            assert!(revealed.insert(*i), "sample {i} drawn twice");
        }
        seen.extend(d);
    }
    assert_eq!(seen.len(), 20);
    let err = draw(&seed, &unrevealed(20, &revealed), 1).unwrap_err();
    assert!(err.to_string().contains("exhausted"), "{err}");
    assert_ne!(
        draw(&seed, &unrevealed(20, &BTreeSet::new()), 4).unwrap(),
        draw(
            &Seed(sha256(b"other").0),
            &unrevealed(20, &BTreeSet::new()),
            4
        )
        .unwrap()
    );
}

const CONFIG: &str = r#"
[run]
name = "pool"
[model]
kind = "llama"
hidden_size = 16
intermediate_size = 32
num_layers = 1
num_heads = 2
[data]
dataset = "synthetic-arith"
seq_len = 16
[data.eval]
kind = "generated"
[training]
rounds = 3
[attribution]
eval_sequences = 10
"#;

#[test]
fn a_generated_pool_comes_from_a_kept_secret() {
    let cfg = RunConfig::from_toml_str(CONFIG, Path::new("pool.toml")).unwrap();
    let corpus = coalition_trainer::build::corpus(&cfg).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // A resumed run without its secret cannot rebuild the pool.
    let err = build(&cfg, &corpus, dir.path(), false).err().unwrap();
    assert!(err.to_string().contains(SECRET_FILE), "{err}");
    let a = build(&cfg, &corpus, dir.path(), true).unwrap();
    assert_eq!(a.len(), 30, "rounds × eval_sequences by default");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join(SECRET_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let again = build(&cfg, &corpus, dir.path(), false).unwrap();
    assert_eq!(again.root(), a.root());
    let other = tempfile::tempdir().unwrap();
    let b = build(&cfg, &corpus, other.path(), true).unwrap();
    assert_ne!(b.root(), a.root(), "a fresh secret, a fresh pool");
    // Not the public text: no window of the pool is a window of the training split.
    let public = SampleSet::new(corpus.eval.clone(), 16).unwrap();
    assert_ne!(a.samples().window(0).unwrap(), public.window(0).unwrap());

    let text = CONFIG.replace(
        "dataset = \"synthetic-arith\"",
        "dataset = \"tinyshakespeare\"",
    );
    let cfg = RunConfig::from_toml_str(&text, Path::new("pool.toml")).unwrap();
    let err = build(&cfg, &corpus, other.path(), true).err().unwrap();
    assert!(err.to_string().contains("data.eval.kind"), "{err}");
}
