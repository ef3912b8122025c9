"""PyTorch's side of `cargo run --release --example bert -- finetune`: the same recipe, timed.

    target/torch-venv/bin/python scripts/bert_finetune_torch.py [--epochs 3] [--limit N]

all-MiniLM-L6-v2 from data/minilm (`cargo xtask data minilm`) + mean pooling over the real
tokens + Linear(384, 2), fine-tuned on the movie-review sentences of data/sentiment
(`cargo xtask data sentiment`; label = score > 0, a seeded 80/20 split of the same sizes as
wgrad's), AdamW 5e-5 with weight decay 0.01 except biases and LayerNorm weights, the head at
1e-3, linear warm-up over 10% of the steps then linear decay, gradient norm clipped to 1,
batch 32, at most 64 tokens, each batch padded to its longest sentence; 2 threads. Prints
one line per epoch with the test accuracy and the epoch's seconds (training and evaluation,
as wgrad's epoch line counts them; training alone in brackets).
"""

import argparse
import math
import random
import time

import torch
from transformers import BertModel, BertTokenizerFast


def load_sentences(path):
    texts, labels = [], []
    for line in open(path, encoding="utf-8", errors="replace"):
        fields = line.rstrip("\r\n").split("\t", 2)
        if len(fields) == 3 and fields[2].strip():
            texts.append(fields[2].strip())
            labels.append(int(float(fields[1]) > 0))
    return texts, labels


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--limit", type=int, default=None, help="use only the first N sentences of each split")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)

    texts, labels = load_sentences("data/sentiment/movieReviewSnippets_GroundTruth.txt")
    order = list(range(len(texts)))
    random.Random(1234).shuffle(order)
    n_test = round(0.2 * len(order))
    test, train = order[:n_test], order[n_test:]
    if args.limit:
        train, test = train[: args.limit], test[: args.limit]
    print(f"movie reviews: {len(train)} training and {len(test)} test sentences")

    tok = BertTokenizerFast.from_pretrained("data/minilm")
    bert = BertModel.from_pretrained("data/minilm", add_pooling_layer=False)
    head = torch.nn.Linear(bert.config.hidden_size, 2)

    def logits(idx):
        enc = tok([texts[i] for i in idx], padding="longest", truncation=True, max_length=64, return_tensors="pt")
        hidden = bert(**enc).last_hidden_state
        mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        return head((hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9))

    decay = [p for n, p in bert.named_parameters() if not (n.endswith("bias") or "LayerNorm" in n)]
    no_decay = [p for n, p in bert.named_parameters() if n.endswith("bias") or "LayerNorm" in n]
    opt = torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": 0.01},
            {"params": no_decay, "weight_decay": 0.0},
            {"params": head.parameters(), "lr": 1e-3, "weight_decay": 0.0},
        ],
        lr=5e-5,
    )
    steps_per_epoch = math.ceil(len(train) / 32)
    total = args.epochs * steps_per_epoch
    warmup = round(0.1 * total)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: s / max(warmup, 1) if s < warmup else max(total - s, 0) / max(total - warmup, 1)
    )
    rng = random.Random(1)
    for epoch in range(1, args.epochs + 1):
        bert.train()
        rng.shuffle(train)
        start = time.perf_counter()
        for k in range(0, len(train), 32):
            idx = train[k : k + 32]
            loss = torch.nn.functional.cross_entropy(logits(idx), torch.tensor([labels[i] for i in idx]))
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(list(bert.parameters()) + list(head.parameters()), 1.0)
            opt.step()
            schedule.step()
        train_seconds = time.perf_counter() - start
        bert.eval()
        correct = 0
        with torch.no_grad():
            for k in range(0, len(test), 128):
                idx = test[k : k + 128]
                pred = logits(idx).argmax(1)
                correct += sum(int(p) == labels[i] for p, i in zip(pred.tolist(), idx))
        seconds = time.perf_counter() - start
        print(
            f"epoch {epoch}: test_accuracy={correct / len(test):.4f} seconds={seconds:.1f} (training {train_seconds:.1f})",
            flush=True,
        )


if __name__ == "__main__":
    main()
