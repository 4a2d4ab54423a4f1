//! Tests of the model crate: gradients exist and are right, parameter vectors round-trip,
//! checkpoints and Hub-cache loading work, the optimiser matches a reference.

use candle_core::{DType, Device, Tensor};
use std::collections::HashMap;

use crate::checkpoint::{load_llama, load_llama_files, params_hash, save_llama};
use crate::hub::{resolve, HubModel};
use crate::{AdamW, AdamWParams, Llama, LlamaConfig, Mlp, MlpConfig, ModelError};

fn tiny(tied: bool, kv: usize) -> LlamaConfig {
    LlamaConfig {
        vocab_size: 11,
        hidden_size: 16,
        intermediate_size: 24,
        num_hidden_layers: 2,
        num_attention_heads: 4,
        num_key_value_heads: Some(kv),
        max_position_embeddings: 8,
        rms_norm_eps: 1e-5,
        rope_theta: 10_000.0,
        tie_word_embeddings: tied,
    }
}

fn batch(model: &Llama, b: usize, t: usize, seed: u32) -> (Tensor, Tensor) {
    let v = model.config().vocab_size as u32;
    let rows = |off: u32| -> Vec<Vec<u32>> {
        (0..b as u32)
            .map(|i| {
                (0..t as u32)
                    .map(|j| (seed.wrapping_mul(31) + i * 7 + (j + off) * 3 + i * j) % v)
                    .collect()
            })
            .collect()
    };
    let x = model.ids_tensor(&rows(0)).expect("ids");
    let y = model.ids_tensor(&rows(1)).expect("ids");
    (x, y)
}

#[test]
fn every_parameter_gets_a_nonzero_gradient() {
    for (tied, kv) in [(false, 4), (true, 2)] {
        let model = Llama::new_random(&tiny(tied, kv), 0.2, 1, &Device::Cpu).expect("model");
        let (x, y) = batch(&model, 2, 8, 3);
        let loss = model.loss(&x, &y).expect("loss");
        let grads = loss.backward().expect("backward");
        assert!(!model.params().params().is_empty());
        for p in model.params().params() {
            let g = grads
                .get(p.var.as_tensor())
                .unwrap_or_else(|| panic!("{} has no gradient (tied={tied})", p.name));
            let norm: f32 = g.sqr().unwrap().sum_all().unwrap().to_scalar().unwrap();
            assert!(norm > 0.0 && norm.is_finite(), "{}: |g|² = {norm}", p.name);
        }
        assert_eq!(
            model
                .params()
                .params()
                .iter()
                .any(|p| p.name == "lm_head.weight"),
            !tied
        );
    }
}

#[test]
fn mlp_parameters_get_gradients() {
    let mlp = Mlp::new_random(
        &MlpConfig {
            dims: vec![6, 8, 3],
        },
        2,
        &Device::Cpu,
    )
    .expect("mlp");
    let x = Tensor::from_vec(
        (0..24).map(|i| (i as f32 * 0.37).sin()).collect(),
        (4, 6),
        &Device::Cpu,
    )
    .expect("x");
    let y = Tensor::new(&[0u32, 1, 2, 1], &Device::Cpu).expect("y");
    let grads = mlp
        .loss(&x, &y)
        .expect("loss")
        .backward()
        .expect("backward");
    for p in mlp.params().params() {
        let g = grads.get(p.var.as_tensor()).expect("gradient");
        let norm: f32 = g.sqr().unwrap().sum_all().unwrap().to_scalar().unwrap();
        assert!(norm > 0.0, "{}", p.name);
    }
}

#[test]
fn gradients_match_finite_differences() {
    let model =
        Llama::new_random_dtype(&tiny(false, 2), 0.3, 5, &Device::Cpu, DType::F64).expect("model");
    let (x, y) = batch(&model, 2, 6, 9);
    let loss_of = |m: &Llama| -> f64 { m.loss(&x, &y).unwrap().to_scalar::<f64>().unwrap() };
    let grads = model.loss(&x, &y).unwrap().backward().unwrap();
    let h = 1e-5;
    let mut checked = 0;
    for (pi, p) in model.params().params().iter().enumerate() {
        let g: Vec<f64> = grads
            .get(p.var.as_tensor())
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let orig: Vec<f64> = p.var.flatten_all().unwrap().to_vec1().unwrap();
        for k in 0..3 {
            let idx = (pi * 7919 + k * 104_729) % orig.len();
            let set = |delta: f64| {
                let mut v = orig.clone();
                v[idx] += delta;
                p.var
                    .set(&Tensor::from_vec(v, p.var.shape(), &Device::Cpu).unwrap())
                    .unwrap();
            };
            set(h);
            let up = loss_of(&model);
            set(-h);
            let down = loss_of(&model);
            set(0.0);
            let fd = (up - down) / (2.0 * h);
            let err = (fd - g[idx]).abs();
            assert!(
                err <= 1e-6 + 1e-4 * fd.abs().max(g[idx].abs()),
                "{}[{idx}]: analytic {} vs finite difference {fd}",
                p.name,
                g[idx]
            );
            checked += 1;
        }
    }
    assert!(checked >= 3 * 19);
}

#[test]
fn flat_vector_round_trips_in_a_stable_order() {
    let model = Llama::new_random(&tiny(false, 4), 0.02, 3, &Device::Cpu).expect("model");
    let store = model.params();
    let names: Vec<&str> = store.params().iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names[0], "model.embed_tokens.weight");
    assert_eq!(names[1], "model.layers.0.input_layernorm.weight");
    assert_eq!(names[2], "model.layers.0.self_attn.q_proj.weight");
    assert_eq!(*names.last().unwrap(), "lm_head.weight");
    let flat = store.flatten().expect("flatten");
    assert_eq!(flat.len(), store.num_elements());
    let shifted: Vec<f32> = flat.iter().map(|x| x + 0.5).collect();
    store.load_flat(&shifted).expect("load");
    assert_eq!(store.flatten().unwrap(), shifted);
    let parts = store.unflatten(&flat).expect("unflatten");
    assert_eq!(parts.len(), store.params().len());
    assert_eq!(parts[0].1.dims(), &[11, 16]);
    match store.load_flat(&flat[1..]) {
        Err(ModelError::FlatLength { got, expected }) => assert_eq!(got + 1, expected),
        other => panic!("expected a length error, got {other:?}"),
    }
    // Same seed, same weights; different seed, different weights.
    let again = Llama::new_random(&tiny(false, 4), 0.02, 3, &Device::Cpu).unwrap();
    assert_eq!(
        params_hash(&again.params().flatten().unwrap()),
        params_hash(&flat)
    );
    let other = Llama::new_random(&tiny(false, 4), 0.02, 4, &Device::Cpu).unwrap();
    assert_ne!(
        params_hash(&other.params().flatten().unwrap()),
        params_hash(&flat)
    );
}

#[test]
fn checkpoint_round_trips_with_hugging_face_names() {
    let dir = tempfile::tempdir().expect("tempdir");
    let model = Llama::new_random(&tiny(true, 2), 0.02, 8, &Device::Cpu).expect("model");
    save_llama(&model, dir.path()).expect("save");
    let cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("config.json")).unwrap())
            .unwrap();
    assert_eq!(cfg["architectures"][0], "LlamaForCausalLM");
    assert_eq!(cfg["num_key_value_heads"], 2);
    let names: Vec<String> =
        candle_core::safetensors::load(dir.path().join("model.safetensors"), &Device::Cpu)
            .unwrap()
            .into_keys()
            .collect();
    assert!(names.contains(&"model.layers.1.mlp.down_proj.weight".to_string()));
    assert!(
        !names.contains(&"lm_head.weight".to_string()),
        "tied head is not stored"
    );
    let loaded = load_llama(dir.path(), &Device::Cpu).expect("load");
    assert_eq!(
        loaded.params().flatten().unwrap(),
        model.params().flatten().unwrap()
    );
    let (x, _) = batch(&model, 1, 5, 1);
    let a: Vec<f32> = model
        .forward(&x)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    let b: Vec<f32> = loaded
        .forward(&x)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    assert_eq!(a, b);
}

#[test]
fn bad_checkpoints_are_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    match load_llama(dir.path(), &Device::Cpu) {
        Err(e) => assert!(e.to_string().contains("config.json"), "{e}"),
        Ok(_) => panic!("empty dir loaded"),
    }
    let model = Llama::new_random(&tiny(false, 4), 0.02, 8, &Device::Cpu).expect("model");
    save_llama(&model, dir.path()).expect("save");
    // Drop one tensor: the error names it and the file.
    let mut tensors: HashMap<String, Tensor> = model.params().named_tensors();
    tensors.remove("model.norm.weight");
    candle_core::safetensors::save(&tensors, dir.path().join("model.safetensors")).unwrap();
    let err = load_llama(dir.path(), &Device::Cpu).expect_err("missing tensor");
    assert!(err.to_string().contains("model.norm.weight"), "{err}");
    // Wrong shape.
    tensors.insert(
        "model.norm.weight".into(),
        Tensor::zeros(3, DType::F32, &Device::Cpu).unwrap(),
    );
    candle_core::safetensors::save(&tensors, dir.path().join("model.safetensors")).unwrap();
    let err = load_llama(dir.path(), &Device::Cpu).expect_err("bad shape");
    assert!(err.to_string().contains("shape"), "{err}");
    // Garbage weights file.
    std::fs::write(dir.path().join("model.safetensors"), b"not safetensors").unwrap();
    let err = load_llama(dir.path(), &Device::Cpu).expect_err("garbage");
    assert!(err.to_string().contains("model.safetensors"), "{err}");
    // Bad config.json.
    std::fs::write(dir.path().join("config.json"), b"{\"hidden_size\": 3}").unwrap();
    let err = load_llama(dir.path(), &Device::Cpu).expect_err("bad config");
    assert!(err.to_string().contains("config.json"), "{err}");
}

#[test]
fn hub_cache_checkpoint_loads_offline_including_shards() {
    let cache = tempfile::tempdir().expect("tempdir");
    let commit = "0123456789abcdef0123456789abcdef01234567";
    let repo_dir = cache.path().join("models--tiny-org--tiny-llama");
    let snap = repo_dir.join("snapshots").join(commit);
    std::fs::create_dir_all(repo_dir.join("refs")).unwrap();
    std::fs::write(repo_dir.join("refs").join("main"), commit).unwrap();
    let model = Llama::new_random(&tiny(false, 2), 0.02, 21, &Device::Cpu).expect("model");
    std::fs::create_dir_all(&snap).unwrap();
    std::fs::write(
        snap.join("config.json"),
        serde_json::to_string(&model.config().to_hf_json()).unwrap(),
    )
    .unwrap();
    // Two shards plus an index, as large Hub checkpoints are laid out (in bf16, as many are).
    let mut a = HashMap::new();
    let mut b = HashMap::new();
    let mut weight_map = serde_json::Map::new();
    for (i, p) in model.params().params().iter().enumerate() {
        let (map, file) = if i % 2 == 0 {
            (&mut a, "model-00001-of-00002.safetensors")
        } else {
            (&mut b, "model-00002-of-00002.safetensors")
        };
        map.insert(
            p.name.clone(),
            p.var.as_tensor().to_dtype(DType::BF16).unwrap(),
        );
        weight_map.insert(p.name.clone(), serde_json::Value::String(file.into()));
    }
    candle_core::safetensors::save(&a, snap.join("model-00001-of-00002.safetensors")).unwrap();
    candle_core::safetensors::save(&b, snap.join("model-00002-of-00002.safetensors")).unwrap();
    std::fs::write(
        snap.join("model.safetensors.index.json"),
        serde_json::json!({ "metadata": {}, "weight_map": weight_map }).to_string(),
    )
    .unwrap();

    let spec = HubModel::parse("hf:tiny-org/tiny-llama").expect("spec");
    let files = resolve(&spec, Some(cache.path()), true).expect("resolve offline");
    assert_eq!(files.weights.len(), 2);
    let loaded = load_llama_files(&files.config, &files.weights, &Device::Cpu).expect("load");
    let want: Vec<f32> = model.params().flatten().unwrap();
    let got: Vec<f32> = loaded.params().flatten().unwrap();
    assert_eq!(got.len(), want.len());
    let max_err = want
        .iter()
        .zip(&got)
        .map(|(x, y)| (x - y).abs())
        .fold(0f32, f32::max);
    assert!(max_err < 1e-2 * 0.1, "bf16 round trip error {max_err}");

    let missing = HubModel::parse("tiny-org/absent@main").unwrap();
    let err = resolve(&missing, Some(cache.path()), true).expect_err("not cached");
    assert!(err.to_string().contains("tiny-org/absent"), "{err}");
    assert!(HubModel::parse("not-a-repo").is_err());
}

#[test]
fn adamw_matches_candle_nn_reference() {
    use candle_nn::Optimizer;
    let cfg = MlpConfig {
        dims: vec![5, 7, 3],
    };
    let ours = Mlp::new_random(&cfg, 4, &Device::Cpu).expect("mlp");
    let theirs = Mlp::new_random(&cfg, 4, &Device::Cpu).expect("mlp");
    let hp = AdamWParams {
        lr: 0.01,
        beta1: 0.9,
        beta2: 0.99,
        eps: 1e-8,
        weight_decay: 0.1,
    };
    let mut opt = AdamW::new(ours.params(), hp);
    let mut reference = candle_nn::AdamW::new(
        theirs.params().vars(),
        candle_nn::ParamsAdamW {
            lr: 0.01,
            beta1: 0.9,
            beta2: 0.99,
            eps: 1e-8,
            weight_decay: 0.1,
        },
    )
    .unwrap();
    let x = Tensor::from_vec(
        (0..20).map(|i| (i as f32).cos()).collect(),
        (4, 5),
        &Device::Cpu,
    )
    .unwrap();
    let y = Tensor::new(&[0u32, 2, 1, 1], &Device::Cpu).unwrap();
    let first = ours.loss(&x, &y).unwrap().to_scalar::<f32>().unwrap();
    for _ in 0..5 {
        let g = ours.loss(&x, &y).unwrap().backward().unwrap();
        opt.step(ours.params(), &g, 0.0).unwrap();
        let g = theirs.loss(&x, &y).unwrap().backward().unwrap();
        reference.step(&g).unwrap();
    }
    let a = ours.params().flatten().unwrap();
    let b = theirs.params().flatten().unwrap();
    let max_err = a
        .iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs())
        .fold(0f32, f32::max);
    assert!(max_err < 1e-5, "max |Δθ| {max_err}");
    let last = ours.loss(&x, &y).unwrap().to_scalar::<f32>().unwrap();
    assert!(last < first, "loss {first} -> {last}");
}

#[test]
fn gradient_clipping_bounds_the_step() {
    let model = Llama::new_random(&tiny(false, 4), 0.02, 3, &Device::Cpu).expect("model");
    let (x, y) = batch(&model, 2, 8, 1);
    let before = model.params().flatten().unwrap();
    let mut opt = AdamW::new(
        model.params(),
        AdamWParams {
            lr: 0.1,
            ..Default::default()
        },
    );
    let g = model.loss(&x, &y).unwrap().backward().unwrap();
    let norm = opt.step(model.params(), &g, 1e-3).unwrap();
    assert!(norm > 1e-3);
    // With Adam the first step moves each coordinate by about lr regardless of scale; check it
    // stays finite and bounded.
    let after = model.params().flatten().unwrap();
    let max_step = before
        .iter()
        .zip(&after)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(max_step.is_finite() && max_step <= 0.1 + 1e-4, "{max_step}");
}

fn seeded(shape: &[usize], seed: u64, dtype: DType) -> Tensor {
    let n: usize = shape.iter().product();
    let v = crate::init::NormalInit::new(seed).normal(n, 1.0);
    Tensor::from_vec(v, shape, &Device::Cpu)
        .unwrap()
        .to_dtype(dtype)
        .unwrap()
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f64 {
    (a - b)
        .unwrap()
        .abs()
        .unwrap()
        .flatten_all()
        .unwrap()
        .max(0)
        .unwrap()
        .to_dtype(DType::F64)
        .unwrap()
        .to_scalar::<f64>()
        .unwrap()
}

/// A fused kernel against its composite twin: outputs within `tol` (1e-12 in f64, 1e-5 in
/// f32), and the gradients of `Σ weights ⊙ output` with respect to every named variable within
/// `10·tol`.
fn assert_twins(
    fused: Tensor,
    reference: Tensor,
    weights: &Tensor,
    vars: &[(&str, &candle_core::Var)],
) {
    let dtype = fused.dtype();
    let tol = if dtype == DType::F64 { 1e-12 } else { 1e-5 };
    assert!(
        max_abs_diff(&fused, &reference) < tol,
        "forward differs ({dtype:?})"
    );
    let grads = |out: Tensor| {
        (out * weights)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap()
    };
    let (g1, g2) = (grads(fused), grads(reference));
    for (name, var) in vars {
        let d = max_abs_diff(
            g1.get(var.as_tensor()).expect("fused gradient"),
            g2.get(var.as_tensor()).expect("reference gradient"),
        );
        assert!(d < tol * 10.0, "d{name} differs by {d} ({dtype:?})");
    }
}

#[test]
fn fused_attention_matches_composite_forward_and_backward() {
    use crate::fused::{causal_attention, causal_attention_reference};
    for dtype in [DType::F64, DType::F32] {
        let shape = [2, 3, 7, 6];
        let vars: Vec<candle_core::Var> = (0..3)
            .map(|i| candle_core::Var::from_tensor(&seeded(&shape, 10 + i, dtype)).unwrap())
            .collect();
        let (q, k, v) = (
            vars[0].as_tensor(),
            vars[1].as_tensor(),
            vars[2].as_tensor(),
        );
        let weights = seeded(&shape, 99, dtype);
        let fused = causal_attention(q, k, v).unwrap();
        let reference = causal_attention_reference(q, k, v).unwrap();
        let named = [("q", &vars[0]), ("k", &vars[1]), ("v", &vars[2])];
        assert_twins(fused, reference, &weights, &named);
    }
}

#[test]
fn fused_rms_norm_matches_composite_forward_and_backward() {
    use crate::fused::{rms_norm, rms_norm_reference};
    for dtype in [DType::F64, DType::F32] {
        let x = candle_core::Var::from_tensor(&seeded(&[3, 5, 12], 1, dtype)).unwrap();
        let w = candle_core::Var::from_tensor(&(seeded(&[12], 2, dtype) + 1.0).unwrap()).unwrap();
        let weights = seeded(&[3, 5, 12], 3, dtype);
        let fused = rms_norm(x.as_tensor(), w.as_tensor(), 1e-5).unwrap();
        let reference = rms_norm_reference(x.as_tensor(), w.as_tensor(), 1e-5).unwrap();
        assert_twins(fused, reference, &weights, &[("x", &x), ("w", &w)]);
    }
}

#[test]
fn fused_cross_entropy_matches_composite_forward_and_backward() {
    use crate::fused::{cross_entropy_rows, cross_entropy_rows_reference};
    for dtype in [DType::F64, DType::F32] {
        let scaled = (seeded(&[7, 11], 4, dtype) * 4.0).unwrap();
        let x = candle_core::Var::from_tensor(&scaled).unwrap();
        let t = Tensor::new(&[0u32, 10, 3, 3, 7, 1, 9], &Device::Cpu).unwrap();
        let weights = seeded(&[7], 5, dtype);
        let fused = cross_entropy_rows(x.as_tensor(), &t).unwrap();
        let reference = cross_entropy_rows_reference(x.as_tensor(), &t).unwrap();
        assert_twins(fused, reference, &weights, &[("x", &x)]);
    }
    let x = seeded(&[2, 3], 6, DType::F32);
    let bad = Tensor::new(&[0u32, 3], &Device::Cpu).unwrap();
    let e = cross_entropy_rows(&x, &bad).unwrap_err().to_string();
    assert!(e.contains("target 3 is not below the 3 classes"), "{e}");
}
