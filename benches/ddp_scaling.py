"""The step-time model of docs/DISTRIBUTED.md: data-parallel training on N machines.

Each machine keeps its own batch; ring all-reduce moves 2 (N-1)/N x B bytes per machine.
  all-reduce  A = 2 (N-1)/N x B / W
  wgrad       step = T + S + A                   (no overlap; S = 2 B / 25 GB/s GPU staging)
  overlapped  step = T + S + max(0, A - 2/3 T)   (the backward, ~2/3 of T, hides A)
T: one machine's step (ms): H100 from docs/PERFORMANCE.md (wgrad W6, W8, W10), CPU here.
Run: python3 benches/ddp_scaling.py [N]
"""
import sys

PCIE_BYTES_PER_S = 25e9
# name, parameters (f32 gradients), H100 step ms, 2-core CPU step ms
MODELS = [
    ("seed CNN (W6)", 93_322, 2.15, 25.0),
    ("transformer (W8)", 1_693_186, 7.56, 170.0),
    ("BERT MiniLM fine-tuning (W10)", 22_566_146, 21.5, 1300.0),
]


def step(t_ms, stage_ms, allreduce_ms, overlap):
    hidden = 2 / 3 * t_ms if overlap else 0.0
    return t_ms + stage_ms + max(0.0, allreduce_ms - hidden)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 8
    print(f"N = {n} machines")
    for name, params, t_gpu, t_cpu in MODELS:
        size = params * 4
        print(f"{name}: {size / 1e6:.2f} MB per step")
        for gbit in (10, 25, 100):
            allreduce = 2 * (n - 1) / n * size / (gbit / 8 * 1e9) * 1e3
            stage = 2 * size / PCIE_BYTES_PER_S * 1e3
            gpu, gpu_overlap = step(t_gpu, stage, allreduce, False), step(t_gpu, stage, allreduce, True)
            cpu = step(t_cpu, 0.0, allreduce, False)
            print(
                f"  {gbit:>3} Gbit/s: all-reduce {allreduce:7.2f} ms | H100 {gpu:7.2f} ms {t_gpu / gpu:4.0%}"
                f" | overlapped {gpu_overlap:7.2f} ms {t_gpu / gpu_overlap:4.0%} | CPU {cpu:8.1f} ms {t_cpu / cpu:4.0%}"
            )


if __name__ == "__main__":
    main()
