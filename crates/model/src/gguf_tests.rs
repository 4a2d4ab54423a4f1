//! GGUF loading: a tiny model written in llama.cpp's layout loads back to the same logits; bad
//! metadata is refused by key; SmolLM2-135M matches what `transformers` computes with it.

use super::*;
use candle_core::quantized::{GgmlDType, QTensor};
use std::path::PathBuf;

fn tiny_config() -> LlamaConfig {
    LlamaConfig {
        vocab_size: 40,
        hidden_size: 32,
        intermediate_size: 64,
        num_hidden_layers: 2,
        num_attention_heads: 4,
        num_key_value_heads: Some(2),
        max_position_embeddings: 16,
        rms_norm_eps: 1e-5,
        rope_theta: 50_000.0,
        tie_word_embeddings: true,
    }
}

/// llama.cpp's converter permutation (the inverse of [`unpermute_rows`]).
fn permute_rows(w: &Tensor, heads: usize) -> Tensor {
    let (d, inp) = w.dims2().unwrap();
    w.reshape((heads, 2, d / heads / 2, inp))
        .unwrap()
        .transpose(1, 2)
        .unwrap()
        .contiguous()
        .unwrap()
        .reshape((d, inp))
        .unwrap()
}

fn metadata(cfg: &LlamaConfig, arch: &str) -> Vec<(String, Value)> {
    let u = |n: usize| Value::U32(n as u32);
    vec![
        ("general.architecture".into(), Value::String(arch.into())),
        ("llama.block_count".into(), u(cfg.num_hidden_layers)),
        ("llama.embedding_length".into(), u(cfg.hidden_size)),
        ("llama.feed_forward_length".into(), u(cfg.intermediate_size)),
        (
            "llama.attention.head_count".into(),
            u(cfg.num_attention_heads),
        ),
        ("llama.attention.head_count_kv".into(), u(cfg.kv_heads())),
        (
            "llama.context_length".into(),
            u(cfg.max_position_embeddings),
        ),
        (
            "llama.rope.freq_base".into(),
            Value::F32(cfg.rope_theta as f32),
        ),
        ("llama.rope.dimension_count".into(), u(cfg.head_dim())),
        (
            "llama.attention.layer_norm_rms_epsilon".into(),
            Value::F32(cfg.rms_norm_eps as f32),
        ),
    ]
}

/// Write `model` as llama.cpp would: GGUF names, permuted q/k, matrices in `dtype`.
fn write_gguf(model: &Llama, meta: &[(String, Value)], dtype: GgmlDType, path: &Path) {
    let cfg = model.config();
    let named: HashMap<String, Tensor> = model.params().named_tensors();
    let mut tensors = Vec::new();
    for (ours, theirs) in name_map(cfg) {
        let mut t = named[&ours].clone();
        if ours.ends_with("q_proj.weight") {
            t = permute_rows(&t, cfg.num_attention_heads);
        } else if ours.ends_with("k_proj.weight") {
            t = permute_rows(&t, cfg.kv_heads());
        }
        let ty = if t.rank() == 2 { dtype } else { GgmlDType::F32 };
        tensors.push((theirs, QTensor::quantize(&t, ty).unwrap()));
    }
    let meta: Vec<(&str, &Value)> = meta.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let tensors: Vec<(&str, &QTensor)> = tensors.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let mut f = std::fs::File::create(path).unwrap();
    candle_core::quantized::gguf_file::write(&mut f, &meta, &tensors).unwrap();
}

fn logits(model: &Llama) -> Vec<f32> {
    let ids = model.ids_tensor(&[vec![3, 7, 1, 39, 12, 5, 5, 0]]).unwrap();
    model
        .forward(&ids)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap()
}

/// A random tiny model (seed `seed`) written in llama.cpp's layout with `meta` and matrices in
/// `dtype`, and what loading that file gives.
fn round_trip(seed: u64, meta: &[(String, Value)], dtype: GgmlDType) -> (Llama, Result<Llama>) {
    let model = Llama::new_random(&tiny_config(), 0.1, seed, &Device::Cpu).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.gguf");
    write_gguf(&model, meta, dtype, &path);
    let back = load_llama_gguf(&path, &Device::Cpu);
    (model, back)
}

/// The largest |difference| between the two models' logits on a fixed input.
fn largest_logit_difference(a: &Llama, b: &Llama) -> f32 {
    let (a, b) = (logits(a), logits(b));
    a.iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn a_model_written_in_llama_cpp_layout_loads_back_to_the_same_logits() {
    let cfg = tiny_config();
    let (model, back) = round_trip(7, &metadata(&cfg, "llama"), GgmlDType::F32);
    let back = back.unwrap();
    assert_eq!(back.config(), &cfg);
    let worst = largest_logit_difference(&model, &back);
    assert!(worst < 1e-5, "largest logit difference {worst}");
}

#[test]
fn quantised_matrices_are_dequantised() {
    let (model, back) = round_trip(8, &metadata(&tiny_config(), "llama"), GgmlDType::Q8_0);
    let worst = largest_logit_difference(&model, &back.unwrap());
    let scale = logits(&model).iter().map(|x| x.abs()).fold(0.0, f32::max);
    assert!(
        worst > 0.0 && worst < 0.05 * scale,
        "difference {worst} of {scale}"
    );
}

fn load_error(meta: &[(String, Value)]) -> String {
    round_trip(9, meta, GgmlDType::F32)
        .1
        .unwrap_err()
        .to_string()
}

#[test]
fn unsupported_metadata_is_refused_by_key() {
    let cfg = tiny_config();
    let e = load_error(&metadata(&cfg, "gpt2"));
    assert!(e.contains("`general.architecture` = \"gpt2\""), "{e}");
    let mut m = metadata(&cfg, "llama");
    m.retain(|(k, _)| k != "llama.block_count");
    let e = load_error(&m);
    assert!(e.contains("`llama.block_count` is missing"), "{e}");
    let mut m = metadata(&cfg, "llama");
    m.push((
        "llama.rope.scaling.type".into(),
        Value::String("yarn".into()),
    ));
    let e = load_error(&m);
    assert!(e.contains("llama.rope.scaling.type"), "{e}");
    let mut m = metadata(&cfg, "llama");
    for (k, v) in &mut m {
        if k == "llama.rope.dimension_count" {
            *v = Value::U32(4);
        }
    }
    let e = load_error(&m);
    assert!(e.contains("llama.rope.dimension_count"), "{e}");
}

#[test]
fn garbage_is_a_named_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("junk.gguf");
    std::fs::write(&path, b"GGUF\x03\0\0\0\xff\xff\xff\xff\xff\xff\xff\xff").unwrap();
    let e = load_llama_gguf(&path, &Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(e.contains("junk.gguf"), "{e}");
    let e = load_llama_gguf(&dir.path().join("absent.gguf"), &Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(e.contains("absent.gguf"), "{e}");
}

/// The SmolLM2 GGUF and the reference outputs, or `None` (skip) when they are not on this
/// machine and `COALITION_REQUIRE_SMOLLM2` is unset.
pub(crate) fn smollm2() -> Option<(PathBuf, serde_json::Value)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let gguf = std::env::var_os("COALITION_SMOLLM2_GGUF")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("models/SmolLM2-135M-Instruct.Q4_1.gguf"));
    let reference = root.join("../shared/reference/smollm2-135m-q4_1-transformers.json");
    if !gguf.is_file() || !reference.is_file() {
        let required = std::env::var_os("COALITION_REQUIRE_SMOLLM2").is_some();
        assert!(
            !required,
            "{} or {} is missing",
            gguf.display(),
            reference.display()
        );
        eprintln!("skipped: SmolLM2 GGUF not found (run scripts/fetch-smollm2.sh)");
        return None;
    }
    let text = std::fs::read_to_string(&reference).unwrap();
    Some((gguf, serde_json::from_str(&text).unwrap()))
}

#[test]
fn smollm2_matches_transformers_on_tinyshakespeare() {
    let Some((gguf, reference)) = smollm2() else {
        return;
    };
    let model = load_llama_gguf(&gguf, &Device::Cpu).unwrap();
    let cfg = model.config();
    assert_eq!(
        (cfg.vocab_size, cfg.hidden_size, cfg.num_hidden_layers),
        (49_152, 576, 30)
    );
    assert_eq!((cfg.num_attention_heads, cfg.kv_heads()), (9, 3));
    assert!(cfg.tie_word_embeddings);
    let windows: Vec<Vec<u32>> =
        serde_json::from_value(reference["window_token_ids"].clone()).unwrap();
    let want: Vec<f64> = serde_json::from_value(reference["window_mean_loss"].clone()).unwrap();
    for (w, want) in windows.iter().zip(&want) {
        let inputs = model.ids_tensor(&[w[..w.len() - 1].to_vec()]).unwrap();
        let targets = model.ids_tensor(&[w[1..].to_vec()]).unwrap();
        let got = f64::from(
            model
                .loss(&inputs, &targets)
                .unwrap()
                .to_scalar::<f32>()
                .unwrap(),
        );
        eprintln!("window loss {got:.6} vs transformers {want:.6}");
        assert!(
            (got - want).abs() <= 1e-3 * want,
            "window loss {got} vs transformers {want}"
        );
    }
    let w0 = &windows[0];
    let logits = model
        .forward(&model.ids_tensor(&[w0[..4].to_vec()]).unwrap())
        .unwrap();
    for top in reference["top5_logits_window0"].as_array().unwrap() {
        let pos = top["position"].as_u64().unwrap() as usize;
        let row: Vec<f32> = logits.get(0).unwrap().get(pos).unwrap().to_vec1().unwrap();
        let ids: Vec<usize> = serde_json::from_value(top["ids"].clone()).unwrap();
        let want: Vec<f32> = serde_json::from_value(top["logits"].clone()).unwrap();
        for (id, want) in ids.iter().zip(&want) {
            let got = row[*id];
            assert!(
                (got - want).abs() <= 1e-3 * want.abs().max(1.0),
                "logit {id}@{pos}: {got} vs {want}"
            );
        }
    }
}
