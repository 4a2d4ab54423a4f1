use super::*;
use crate::hashing::split_hash;
use crate::hub::write_cache_entry;
use crate::source::HubRepoType;

const SHAKESPEARE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/datasets/tinyshakespeare.txt"
);
const COMMIT: &str = "fedcba9876543210fedcba9876543210fedcba98";

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn lines(n: usize) -> String {
    (0..n).map(|i| format!("line number {i}\n")).collect()
}

#[test]
fn synthetic_arith_builtin_is_deterministic_and_beatable() {
    let m = Manifest::builtin("synthetic-arith").unwrap();
    let a = load(&m, &LoadOptions::default()).unwrap();
    let b = m.load(&LoadOptions::default()).unwrap();
    assert_eq!(a.split_hash, b.split_hash);
    assert_eq!(a.source_sha256, b.source_sha256);
    assert_eq!(a.split_hash, split_hash(&a.train, &a.eval));
    assert_eq!(a.vocab_size, 256);
    let total = (a.train.len() + a.eval.len()) as f64;
    assert!((a.eval.len() as f64 / total - 0.1).abs() < 0.01);
    let text = a.tokenizer.decode(&a.eval).unwrap();
    assert!(
        text.lines().all(|l| l.contains('+') && l.contains('=')),
        "{text}"
    );
    let baseline = a.unigram_baseline_nats();
    assert!(baseline > 1.0 && baseline < (256f64).ln(), "{baseline}");
    println!("synthetic-arith: {a:?}, unigram baseline {baseline:.4} nats/token");
}

#[test]
fn synthetic_rejects_a_path_override() {
    let m = Manifest::builtin("synthetic-arith").unwrap();
    let opts = LoadOptions {
        path_override: Some("x.txt".into()),
        ..Default::default()
    };
    let e = load(&m, &opts).unwrap_err().to_string();
    assert!(e.contains("synthetic-arith") && e.contains("x.txt"), "{e}");
}

#[test]
fn text_manifest_resolves_relative_paths_against_its_directory() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "corpus.txt", &lines(50));
    let sha = hex::encode(sha256(lines(50).as_bytes()));
    let mpath = write(
        dir.path(),
        "m.toml",
        &format!("name = \"mine\"\n[source]\nkind = \"text\"\npath = \"corpus.txt\"\nsha256 = \"{sha}\"\n"),
    );
    let m = Manifest::from_file(&mpath).unwrap();
    let c = load(&m, &LoadOptions::default()).unwrap();
    assert_eq!(c.name, "mine");
    assert_eq!(c.source_sha256_hex(), sha);
    let all = [c.train.clone(), c.eval.clone()].concat();
    assert_eq!(c.tokenizer.decode(&all).unwrap(), lines(50));
}

#[test]
fn missing_text_file_says_where_it_looked() {
    let dir = tempfile::tempdir().unwrap();
    let mpath = write(
        dir.path(),
        "m.toml",
        "name = \"mine\"\n[source]\nkind = \"text\"\npath = \"gone.txt\"\n",
    );
    let m = Manifest::from_file(&mpath).unwrap();
    let e = load(&m, &LoadOptions::default()).unwrap_err().to_string();
    assert!(e.contains("data file not found"), "{e}");
    assert!(
        e.contains(&dir.path().join("gone.txt").display().to_string()),
        "{e}"
    );
    assert!(e.contains("m.toml") && e.contains("path override"), "{e}");

    let opts = LoadOptions {
        path_override: Some(dir.path().join("also-gone.txt")),
        ..Default::default()
    };
    let e = load(&m, &opts).unwrap_err().to_string();
    assert!(
        e.contains("also-gone.txt") && e.contains("given as the path override"),
        "{e}"
    );
}

#[test]
fn local_builtins_take_an_override() {
    let dir = tempfile::tempdir().unwrap();
    let txt = write(dir.path(), "a.txt", &lines(30));
    let opts = LoadOptions {
        path_override: Some(txt),
        ..Default::default()
    };
    let c = load(&Manifest::builtin("local-text").unwrap(), &opts).unwrap();
    assert_eq!(c.name, "local-text");

    let jsonl: String = (0..20)
        .map(|i| format!("{{\"text\": \"doc {i}\", \"id\": {i}}}\n"))
        .collect();
    let path = write(dir.path(), "a.jsonl", &jsonl);
    let opts = LoadOptions {
        path_override: Some(path),
        ..Default::default()
    };
    let c = load(&Manifest::builtin("local-jsonl").unwrap(), &opts).unwrap();
    assert_eq!(c.tokenizer.decode(&c.eval).unwrap(), "doc 18\ndoc 19\n");
}

#[test]
fn bad_jsonl_line_is_reported_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "a.jsonl",
        "{\"text\": \"ok\"}\n{\"body\": \"no\"}\n",
    );
    let opts = LoadOptions {
        path_override: Some(path.clone()),
        ..Default::default()
    };
    let e = load(&Manifest::builtin("local-jsonl").unwrap(), &opts)
        .unwrap_err()
        .to_string();
    assert!(e.starts_with(&format!("{}:2:", path.display())), "{e}");
}

#[test]
fn hf_json_tokenizer_from_the_manifest() {
    let dir = tempfile::tempdir().unwrap();
    crate::tokenizer::tests::write_word_level(dir.path());
    let text: String = (0..40).map(|_| "to be or not to be\n").collect();
    write(dir.path(), "c.txt", &text);
    let mpath = write(
        dir.path(),
        "m.toml",
        "name = \"words\"\ntokenizer = { hf-json = \"tokenizer.json\" }\neval_fraction = 0.25\n[source]\nkind = \"text\"\npath = \"c.txt\"\n",
    );
    let c = load(
        &Manifest::from_file(&mpath).unwrap(),
        &LoadOptions::default(),
    )
    .unwrap();
    assert_eq!(c.vocab_size, 9);
    assert_eq!(c.eval.len(), 10 * 6);
    assert!(c.tokenizer_desc.starts_with("hf-json:"));
    assert!(c.unigram_baseline_nats() < (9f64).ln());
}

#[test]
fn gguf_tokenizer_from_the_manifest_or_the_override() {
    use crate::tokenizer::tests::{tiny_metadata, write_gguf};
    let dir = tempfile::tempdir().unwrap();
    let gguf = write_gguf(dir.path(), "tiny.gguf", &tiny_metadata("smollm"));
    crate::tokenizer::tests::write_word_level(dir.path());
    let text: String = (0..40).map(|i| format!("the {i} the\n")).collect();
    write(dir.path(), "c.txt", &text);
    let manifest = |tokenizer: &str| {
        let path = write(
            dir.path(),
            "m.toml",
            &format!("name = \"g\"\ntokenizer = {tokenizer}\n[source]\nkind = \"text\"\npath = \"c.txt\"\n"),
        );
        Manifest::from_file(&path)
    };
    let c = load(
        &manifest("{ gguf = \"tiny.gguf\" }").unwrap(),
        &LoadOptions::default(),
    )
    .unwrap();
    assert_eq!(c.tokenizer_desc, format!("gguf:{}", gguf.display()));
    assert_eq!(c.vocab_size, 267);

    // The override wins over the manifest's tokenizer; its path is not joined to the base.
    let words = manifest("{ hf-json = \"tokenizer.json\" }").unwrap();
    let over = LoadOptions {
        tokenizer_override: Some(TokenizerSpec::Gguf(gguf.clone())),
        ..Default::default()
    };
    let c2 = load(&words, &over).unwrap();
    assert_eq!(c2.tokenizer_desc, c.tokenizer_desc);
    assert_eq!((c2.train, c2.eval), (c.train, c.eval));
    let bytes = LoadOptions {
        tokenizer_override: Some(TokenizerSpec::Byte),
        ..Default::default()
    };
    assert_eq!(load(&words, &bytes).unwrap().vocab_size, 256);
    let e = manifest("{ gguf = \"\" }").unwrap_err().to_string();
    assert!(e.contains("key `tokenizer.gguf`"), "{e}");
    let e = load(
        &manifest("{ gguf = \"gone.gguf\" }").unwrap(),
        &LoadOptions::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("GGUF file not found") && e.contains("gone.gguf"),
        "{e}"
    );
}

fn hub_manifest(sha: &str, format: HubFormat, field: Option<&str>) -> Manifest {
    Manifest::new(
        "hub",
        SourceSpec::HfHub {
            repo: "someone/corpus".into(),
            repo_type: HubRepoType::Dataset,
            revision: "main".into(),
            file: "input.txt".into(),
            sha256: sha.into(),
            format,
            field: field.map(String::from),
        },
    )
    .unwrap()
}

fn hub_file() -> HubFile {
    HubFile {
        repo: "someone/corpus".into(),
        repo_type: HubRepoType::Dataset,
        revision: "main".into(),
        file: "input.txt".into(),
    }
}

#[test]
fn hf_hub_offline_from_a_cache_the_test_writes() {
    let cache = tempfile::tempdir().unwrap();
    let text = lines(40);
    write_cache_entry(cache.path(), &hub_file(), COMMIT, text.as_bytes());
    let sha = hex::encode(sha256(text.as_bytes()));
    let opts = LoadOptions {
        hub_cache: Some(cache.path().into()),
        offline: true,
        ..Default::default()
    };
    let c = load(&hub_manifest(&sha, HubFormat::Text, None), &opts).unwrap();
    assert_eq!(c.source_sha256_hex(), sha);
    let all = [c.train.clone(), c.eval.clone()].concat();
    assert_eq!(c.tokenizer.decode(&all).unwrap(), text);

    // A wrong pin is refused, naming both hashes.
    let wrong = "ab".repeat(32);
    let e = load(&hub_manifest(&wrong, HubFormat::Text, None), &opts)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(&wrong) && e.contains(&sha) && e.contains("refusing"),
        "{e}"
    );

    // A local override is checked against the pin too.
    let dir = tempfile::tempdir().unwrap();
    let other = write(dir.path(), "other.txt", &lines(41));
    let over = LoadOptions {
        path_override: Some(other),
        ..opts.clone()
    };
    let e = load(&hub_manifest(&sha, HubFormat::Text, None), &over)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("other.txt") && e.contains("sha256 mismatch"),
        "{e}"
    );
}

#[test]
fn hf_hub_jsonl_and_cache_miss() {
    let cache = tempfile::tempdir().unwrap();
    let jsonl: String = (0..10)
        .map(|i| format!("{{\"t\": \"doc {i}\"}}\n"))
        .collect();
    write_cache_entry(cache.path(), &hub_file(), COMMIT, jsonl.as_bytes());
    let sha = hex::encode(sha256(jsonl.as_bytes()));
    let opts = LoadOptions {
        hub_cache: Some(cache.path().into()),
        offline: true,
        ..Default::default()
    };
    let c = load(&hub_manifest(&sha, HubFormat::Jsonl, Some("t")), &opts).unwrap();
    assert_eq!(c.tokenizer.decode(&c.eval).unwrap(), "doc 9\n");

    let empty = tempfile::tempdir().unwrap();
    let opts = LoadOptions {
        hub_cache: Some(empty.path().into()),
        offline: true,
        ..Default::default()
    };
    let e = load(&hub_manifest(&sha, HubFormat::Text, None), &opts)
        .unwrap_err()
        .to_string();
    assert!(e.contains("datasets--someone--corpus/refs/main"), "{e}");
}

#[test]
fn tinyshakespeare_real_file() {
    let path = Path::new(SHAKESPEARE);
    if !path.is_file() {
        println!("skipping: {} not found", path.display());
        return;
    }
    let m = Manifest::builtin("tinyshakespeare").unwrap();
    let opts = LoadOptions {
        path_override: Some(path.into()),
        ..Default::default()
    };
    let c = load(&m, &opts).unwrap();
    assert_eq!(
        c.source_sha256_hex(),
        "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"
    );
    assert_eq!(c.train.len() + c.eval.len(), 1_115_394);
    assert!(c.eval.len() >= 111_540);
    // The manifest's default path, resolved against the repository root, finds it too.
    let root = LoadOptions {
        base_dir: Some(concat!(env!("CARGO_MANIFEST_DIR"), "/..").into()),
        ..Default::default()
    };
    assert_eq!(load(&m, &root).unwrap().split_hash, c.split_hash);
    let baseline = c.unigram_baseline_nats();
    assert!(baseline > 3.0 && baseline < 3.5, "{baseline}");
    println!("tinyshakespeare: {c:?}, unigram baseline {baseline:.4} nats/token");
}
