#!/usr/bin/env python3
"""PyTorch on the two shapes of `coalition bench train`, for the ratio in docs/PERFORMANCE.md.

Developer-run (needs torch and transformers in a venv). Same shapes, same optimizer (AdamW), same
loss, same thread count (RAYON_NUM_THREADS, default 2), float32 on the CPU:

* MLP 784-256-256-10 (ReLU), batch 128, cross-entropy;
* transformers' LlamaForCausalLM: d_model 256, 4 layers, 8 heads, ffn 768, vocab 76, untied
  head, seq 128, batch 16, SDPA attention.

    venv/bin/python scripts/bench_pytorch.py --steps 20 --warmup 2 [--only mlp|lm]

Prints one JSON line per shape with the keys `coalition bench train` prints.
"""
import argparse
import json
import os
import time

import torch

p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
p.add_argument("--steps", type=int, default=20)
p.add_argument("--warmup", type=int, default=2)
p.add_argument("--only", choices=["mlp", "lm"])
args = p.parse_args()
threads = int(os.environ.get("RAYON_NUM_THREADS", "2"))
torch.set_num_threads(threads)
torch.manual_seed(0)


def timed(model, loss_fn, tokens_per_step, name):
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    fwd = bwd = step = 0.0
    for i in range(args.warmup + args.steps):
        t0 = time.perf_counter()
        loss = loss_fn()
        t1 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        t2 = time.perf_counter()
        opt.step()
        t3 = time.perf_counter()
        if i >= args.warmup:
            fwd, bwd, step = fwd + t1 - t0, bwd + t2 - t1, step + t3 - t2
    total = fwd + bwd + step
    n = args.steps
    print(json.dumps({
        "bench": "train", "impl": f"pytorch {torch.__version__}", "model": name,
        "parameters": sum(x.numel() for x in model.parameters()), "steps": n,
        "steps_per_s": n / total, "tokens_per_s": n * tokens_per_step / total,
        "forward_ms": 1e3 * fwd / n, "backward_ms": 1e3 * bwd / n, "optimizer_ms": 1e3 * step / n,
        "threads": torch.get_num_threads(),
    }), flush=True)


def mlp():
    model = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 256),
                                torch.nn.ReLU(), torch.nn.Linear(256, 10))
    x = torch.arange(128 * 784, dtype=torch.float32).mul(2654435761).remainder(1000).div(1000).view(128, 784)
    y = torch.arange(128) % 10
    timed(model, lambda: torch.nn.functional.cross_entropy(model(x), y), 128, "mlp-784-256-256-10-b128")


def lm():
    from transformers import LlamaConfig, LlamaForCausalLM
    cfg = LlamaConfig(vocab_size=76, hidden_size=256, intermediate_size=768, num_hidden_layers=4,
                      num_attention_heads=8, num_key_value_heads=8, max_position_embeddings=128,
                      rms_norm_eps=1e-5, rope_theta=10000.0, tie_word_embeddings=False)
    model = LlamaForCausalLM(cfg).float()
    model.config._attn_implementation = "sdpa"
    b, t = 16, 128
    i = torch.arange(b).view(b, 1)
    j = torch.arange(t + 1).view(1, t + 1)
    ids = (i * 131 + j * 17) % 76
    x, y = ids[:, :t], ids[:, 1:]

    def loss():
        logits = model(input_ids=x).logits
        return torch.nn.functional.cross_entropy(logits.reshape(b * t, 76), y.reshape(b * t))
    timed(model, loss, b * t, "llama-d256-l4-h8-ffn768-s128-b16-v76")


if args.only in (None, "mlp"):
    mlp()
if args.only in (None, "lm"):
    lm()
