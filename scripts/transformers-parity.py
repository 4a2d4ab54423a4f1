#!/usr/bin/env python3
"""Mean next-token loss of a checkpoint in Hugging Face `transformers`, on the reference windows.

Developer-run (needs torch, transformers, gguf and accelerate in a venv; the committed tests do
not run it). Loads either a checkpoint directory coalition wrote (config.json + model.safetensors,
e.g. runs/<run>/checkpoints/round-N or the output of `coalition train-local --out DIR`) or a GGUF
file, computes the loss on the token windows stored in
../shared/reference/smollm2-135m-q4_1-transformers.json (so no tokenizer is involved), and prints
one JSON line. Compare it with what coalition computes on the same windows:

    python scripts/transformers-parity.py --checkpoint runs/smollm2-shakespeare/checkpoints/round-3
    coalition eval --checkpoint runs/smollm2-shakespeare/checkpoints/round-3 \
        --windows ../shared/reference/smollm2-135m-q4_1-transformers.json
    python scripts/transformers-parity.py --gguf models/SmolLM2-135M-Instruct.Q4_1.gguf

A venv that has what it needs: python3 -m venv venv && venv/bin/pip install torch transformers
gguf accelerate (about 4 GB with torch's CUDA libraries; CPU is enough).
"""
import argparse
import json
import os
import sys

import torch
from transformers import AutoModelForCausalLM

here = os.path.dirname(os.path.abspath(__file__))
default_ref = os.path.join(here, "..", "..", "shared", "reference",
                           "smollm2-135m-q4_1-transformers.json")

p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
g = p.add_mutually_exclusive_group(required=True)
g.add_argument("--checkpoint", help="a Hugging Face layout directory (config.json + model.safetensors)")
g.add_argument("--gguf", help="a GGUF file")
p.add_argument("--reference", default=default_ref, help="the reference JSON with window_token_ids")
args = p.parse_args()

torch.set_num_threads(int(os.environ.get("RAYON_NUM_THREADS", "2")))
if args.checkpoint:
    model = AutoModelForCausalLM.from_pretrained(args.checkpoint, torch_dtype=torch.float32)
else:
    model = AutoModelForCausalLM.from_pretrained(os.path.dirname(os.path.abspath(args.gguf)),
                                                 gguf_file=os.path.basename(args.gguf),
                                                 torch_dtype=torch.float32)
model.eval()
with open(args.reference) as f:
    windows = json.load(f)["window_token_ids"]
losses = []
with torch.no_grad():
    for w in windows:
        ids = torch.tensor([w])
        out = model(input_ids=ids[:, :-1], labels=None)
        logits = out.logits[0]
        loss = torch.nn.functional.cross_entropy(logits, ids[0, 1:])
        losses.append(float(loss))
json.dump({"source": args.checkpoint or args.gguf, "window_mean_loss": losses,
           "mean_loss": sum(losses) / len(losses)}, sys.stdout)
print()
