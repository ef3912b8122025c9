"""PyTorch's side of `cargo xtask bench --compare torch`: the workloads of docs/BENCHMARKS.md
in eager PyTorch, timed as examples/bench.rs times wgrad's (the output computed to
completion and a scalar read back, medians after warm-up), with the threads wgrad uses.
`--device cuda` runs them on an NVIDIA GPU instead (FP32: TF32 stays off, as PyTorch's
default for matmul), to set beside `cargo xtask bench --device gpu` on the same machine.

    python3 benches/torch_workloads.py [--quick] [--filter W1,W9] [--threads 2] [--device cpu|cuda]

Prints one JSON object per workload and line: {"workload", "median_ms", "min_ms", "max_ms"}.
"""

import argparse
import json
import math
import time

import torch
import torch.nn.functional as F
from torch import nn


DEV = "cpu"  # set from --device below


def tokens(shape, vocab, seed):
    n = shape[0] * shape[1]
    ids = [(i * 2654435761 + seed * 97) % vocab for i in range(n)]
    return torch.tensor(ids, dtype=torch.long).reshape(shape).to(DEV)


def step_job(opt, forward):
    def run():
        opt.zero_grad(set_to_none=True)
        loss = forward()
        loss.backward()
        opt.step()
        return loss.item()
    return run


def seed_cnn():
    return nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(64, 64, 3), nn.ReLU(), nn.Flatten(), nn.Linear(576, 64), nn.ReLU(), nn.Linear(64, 10),
    ).to(DEV)


def minilm():
    from transformers import BertConfig, BertModel
    config = BertConfig(vocab_size=30522, hidden_size=384, num_hidden_layers=6, num_attention_heads=12,
                        intermediate_size=1536, hidden_act="gelu", layer_norm_eps=1e-12,
                        attn_implementation="eager")
    torch.manual_seed(0)
    return BertModel(config, add_pooling_layer=False).to(DEV)


def workload(name):
    """(warm-up calls, a function running one iteration to completion)."""
    g = torch.Generator().manual_seed(1)
    randn = lambda *shape: torch.randn(*shape, generator=g).to(DEV)
    if name in ("MM1024", "MM4096"):
        # Square products back to back, one scalar read at the end (examples/bench.rs MM*).
        n, reps = (1024, 20) if name == "MM1024" else (4096, 5)
        a, b = randn(n, n), randn(n, n)
        def products():
            for _ in range(reps - 1):
                a @ b
            return (a @ b).sum().item()
        return 2, products
    if name == "W1":
        a, b = randn(1024, 1024), randn(1024, 1024)
        return 2, lambda: (a @ b).sum().item()
    if name == "W1b":
        a, b = randn(32, 256, 256), randn(32, 256, 256)
        return 2, lambda: torch.bmm(a, b).sum().item()
    if name in ("W2", "W2b"):
        x, w, bias = randn(64, 32, 28, 28), randn(64, 32, 3, 3), randn(64)
        if name == "W2":
            return 2, lambda: F.conv2d(x, w, bias, padding=1).sum().item()
        x, w, bias = (t.requires_grad_() for t in (x, w, bias))
        def conv_grads():
            gx, gw, gb = torch.autograd.grad(F.conv2d(x, w, bias, padding=1).sum(), (x, w, bias))
            return gx.sum().item() + gw.sum().item() + gb.sum().item()
        return 2, conv_grads
    if name == "W3":
        x = randn(64, 64, 28, 28)
        return 2, lambda: F.max_pool2d(x, 2).sum().item()
    if name in ("W4", "W4b"):
        lstm = nn.LSTM(128, 256).to(DEV)
        x = randn(64, 32, 128)
        if name == "W4":
            def fwd():
                with torch.no_grad():
                    return lstm(x)[0].sum().item()
            return 2, fwd
        x.requires_grad_()
        def fwd_bwd():
            _, (h, _) = lstm(x)
            grads = torch.autograd.grad(h.sum(), [x, *lstm.parameters()])
            return sum(g.sum().item() for g in grads)
        return 2, fwd_bwd
    if name in ("W5", "W5c"):
        q, k, v = randn(8, 8, 256, 64), randn(8, 8, 256, 64), randn(8, 8, 256, 64)
        causal = name == "W5c"
        return 2, lambda: F.scaled_dot_product_attention(q, k, v, is_causal=causal).sum().item()
    if name == "W5b":
        q, k, v = (randn(8, 8, 256, 64).requires_grad_() for _ in range(3))
        def attn_grads():
            grads = torch.autograd.grad(F.scaled_dot_product_attention(q, k, v).sum(), (q, k, v))
            return sum(g.sum().item() for g in grads)
        return 2, attn_grads
    if name == "W6":
        torch.manual_seed(0)
        model = seed_cnn()
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        x, y = randn(64, 1, 28, 28), torch.tensor([(i * 7) % 10 for i in range(64)], device=DEV)
        return 2, step_job(opt, lambda: F.cross_entropy(model(x), y))
    if name == "W7":
        torch.manual_seed(0)
        emb, lstm, head = (m.to(DEV) for m in (nn.Embedding(10000, 64), nn.LSTM(64, 64, batch_first=True), nn.Linear(64, 1)))
        params = [*emb.parameters(), *lstm.parameters(), *head.parameters()]
        opt = torch.optim.Adam(params, lr=1e-3)
        x, y = tokens((32, 100), 10000, 2), torch.tensor([float(i % 2) for i in range(32)], device=DEV).reshape(32, 1)
        def forward():
            _, (h, _) = lstm(emb(x))
            return F.binary_cross_entropy_with_logits(head(h.reshape(32, 64)), y)
        return 2, step_job(opt, forward)
    if name == "W8":
        torch.manual_seed(0)
        emb, pos = nn.Embedding(10000, 128).to(DEV), nn.Embedding(128, 128).to(DEV)
        layer = lambda: nn.TransformerEncoderLayer(128, 4, 512, 0.1, batch_first=True)
        encoder = nn.TransformerEncoder(layer(), 2, enable_nested_tensor=False).to(DEV)
        head = nn.Linear(128, 2).to(DEV)
        params = [*emb.parameters(), *pos.parameters(), *encoder.parameters(), *head.parameters()]
        opt = torch.optim.AdamW(params, lr=1e-3)
        x, p = tokens((32, 128), 10000, 3), torch.arange(128, device=DEV).reshape(1, 128)
        y = torch.tensor([i % 2 for i in range(32)], device=DEV)
        encoder.train()
        return 2, step_job(opt, lambda: F.cross_entropy(head(encoder(emb(x) + pos(p)).mean(1)), y))
    if name == "W9":
        model = minilm().eval()
        x = tokens((32, 128), 30522, 4)
        def fwd():
            with torch.no_grad():
                return model(input_ids=x).last_hidden_state.sum().item()
        return 1, fwd
    if name == "W10":
        bert, head = minilm(), nn.Linear(384, 2).to(DEV)
        # Matrices decay, vectors (biases, LayerNorm weights) not: wgrad's ParamGroup::split_decay.
        params = [*bert.parameters(), *head.parameters()]
        groups = [{"params": [p for p in params if p.dim() >= 2], "weight_decay": 0.01},
                  {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]
        opt = torch.optim.AdamW(groups, lr=5e-5)
        bert.train()
        x = tokens((32, 64), 30522, 5)
        mask = torch.tensor([[1 if r % 2 == 0 or c < 32 else 0 for c in range(64)] for r in range(32)], device=DEV)
        y = torch.tensor([i % 2 for i in range(32)], device=DEV)
        def forward():
            hidden = bert(input_ids=x, attention_mask=mask).last_hidden_state
            m = mask.unsqueeze(-1).float()
            return F.cross_entropy(head((hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)), y)
        return 2, step_job(opt, forward)
    return None


ALL = ["W1", "W1b", "W2", "W2b", "W3", "W4", "W4b", "W5", "W5b", "W5c", "W6", "W7", "W8", "W9", "W10"]
EXTRA = ["MM1024", "MM4096"]

parser = argparse.ArgumentParser()
parser.add_argument("--quick", action="store_true")
parser.add_argument("--filter", default=",".join(ALL))
parser.add_argument("--threads", type=int, default=2)
parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
args = parser.parse_args()
torch.set_num_threads(args.threads)
DEV = args.device
for name in args.filter.split(","):
    job = workload(name)
    if job is None:
        raise SystemExit(f"unknown workload {name} (one of {', '.join(ALL + EXTRA)})")
    warmup, run = job
    for _ in range(warmup):
        run()
    times = []
    for _ in range(3 if args.quick else 15):
        t = time.perf_counter()
        value = run()
        times.append((time.perf_counter() - t) * 1e3)
        assert math.isfinite(value), f"{name}: {value}"
    times.sort()
    print(json.dumps({"workload": name, "median_ms": times[len(times) // 2], "min_ms": times[0], "max_ms": times[-1],
                      "torch": torch.__version__, "threads": torch.get_num_threads(),
                      "device": torch.cuda.get_device_name() if DEV == "cuda" else "cpu"}), flush=True)
