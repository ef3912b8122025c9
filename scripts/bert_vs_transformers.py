"""Compares `cargo run --release --example bert -- embed --json` with PyTorch `transformers`.

    venv/bin/pip install torch transformers
    venv/bin/python scripts/bert_vs_transformers.py [--device cpu|gpu] [TEXT ...]

The reference is what sentence-transformers computes for all-MiniLM-L6-v2, in float64:
transformers' BertModel and tokenizer loaded from data/minilm (fetched by the example on
first use), mean pooling over the real tokens, L2 normalisation. Prints, per text, whether
the token ids are identical and the max |diff| of the embedding; exits 1 if any ids differ
or a diff exceeds --tol (1e-5).
"""

import argparse
import json
import subprocess
import sys

import torch
from transformers import BertModel, BertTokenizer

TEXTS = [
    "A great film, moving and funny.",
    "The plot was thin; the acting? Worse than thin!",
    "Café au lait, naïve résumé, déjà vu.",
    "Don't you think it's 100% over-hyped (again)?",
    "",
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
    "北京 and Tōkyō are capitals \u2603 \U0001f600",
    " ".join(["a long text that runs past the truncation limit"] * 40),
]

parser = argparse.ArgumentParser()
parser.add_argument("--device", default="cpu")
parser.add_argument("--model", default="data/minilm")
parser.add_argument("--tol", type=float, default=1e-5)
parser.add_argument("texts", nargs="*")
args = parser.parse_args()
texts = args.texts or TEXTS

run = ["cargo", "run", "--release", "--quiet", "--example", "bert", "--", "embed", "--json",
       "--device", args.device, "--model", args.model, "--", *texts]
ours = [json.loads(line) for line in subprocess.run(run, check=True, capture_output=True, text=True).stdout.splitlines()]

tok = BertTokenizer.from_pretrained(args.model)
model = BertModel.from_pretrained(args.model).double().eval()
with open(f"{args.model}/sentence_bert_config.json") as f:
    max_len = json.load(f)["max_seq_length"]
worst, ok = 0.0, True
for text, got in zip(texts, ours):
    enc = tok(text, truncation=True, max_length=max_len, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**enc).last_hidden_state
    m = enc["attention_mask"].unsqueeze(-1).double()
    want = torch.nn.functional.normalize((hidden * m).sum(1) / m.sum(1).clamp(min=1e-9), p=2, dim=1)[0]
    same_ids = enc["input_ids"][0].tolist() == got["input_ids"]
    diff = (torch.tensor(got["embedding"], dtype=torch.float64) - want).abs().max().item()
    worst = max(worst, diff)
    ok &= same_ids and diff <= args.tol
    print(f"ids {'same' if same_ids else 'DIFFER'}  max|diff| {diff:.2e}  {len(got['input_ids']):4d} tokens  {text[:50]!r}")
print(f"{args.device}: {len(texts)} texts, max |diff| {worst:.2e} (tolerance {args.tol:g}), ids {'identical' if ok else 'CHECK'}")
sys.exit(0 if ok else 1)
