#!/usr/bin/env python3
"""The time-per-step model of data-parallel training (fit_data_parallel), from measured costs.

    python3 benchmarks/distributed/scaling_model.py        (standard library only)

prints the Markdown tables of docs/distributed.md, section "Scaling past this machine":

  T(p) = compute(B/p) + step + allreduce(n, p)
    compute(b)  forward + backward of b samples on one core: b · c(b), c(b) the measured CPU seconds per
                sample at batch b (interpolated in log2 b between the measured batches, clamped outside)
    step        the optimiser step, replicated on every rank (measured)
    allreduce   of n bytes (the gradients) on p ranks, α the latency of one message, β the bandwidth:
                ring                   2(p−1)·α + 2(p−1)/p · n/β    (large messages: bandwidth-optimal)
                recursive doubling     ⌈log2 p⌉ · (α + n/β)          (small messages: fewest rounds)
                halving-doubling       2⌈log2 p⌉·α + 2(p−1)/p · n/β  (Rabenseifner)
                MPI libraries pick by size: the model takes the cheapest.
  efficiency    E(p) = T(1) / (p · T(p)),  T(1) = compute(B) + step (one process sends nothing).

The overlap of the reduction with the backward pass can hide at most min(allreduce, backward) per step; the
model leaves it out (an upper bound on T(p)). The measured inputs below come from
benchmarks/distributed/measure_mpi.cpp (release build, one thread per rank: OMP_NUM_THREADS=1), run on
2 December 2026 at 17:07 UTC on the 2-core machine under load (load average 15–17), the small MLP's
gradients then reduced in buckets of 4 096 (run A of docs/benchmarks.md).
"""

import math

# ---------------------------------------------------------------------------------------- measured inputs
MODELS = {
    # name: parameters, layer widths, CPU µs per sample of forward + backward at batch 256, 128, 64,
    # optimiser step (SGD) in CPU ms, and this machine's epochs: rows, batch
    "MLP 64-256-10": dict(parameters=19210, widths=[64, 256, 10], per_sample_us={256: 1.45, 128: 1.49, 64: 1.55},
                          step_ms=0.002, rows=20000),
    "MLP 1024-1024-1024-10": dict(parameters=2109450, widths=[1024, 1024, 1024, 10],
                                  per_sample_us={256: 135.31, 128: 155.24, 64: 194.34}, step_ms=0.797, rows=2048),
}
BATCH = 256  # the measured epochs' global batch
# One epoch on this machine, 1 rank: wall and CPU seconds (overlap off), for the load factor.
MEASURED_1 = {"MLP 64-256-10": (0.096, 0.03), "MLP 1024-1024-1024-10": (1.105, 0.33)}
# The reduction of one step's buffer alone on p ranks (MPI_Iallreduce in the epochs' buckets), wall ms.
MEASURED_REDUCTION_MS = {"MLP 64-256-10": {2: 2.292, 4: 2.642}, "MLP 1024-1024-1024-10": {2: 40.804, 4: 76.120}}
# One epoch on p ranks, wall seconds: (overlap on, overlap off).
MEASURED_EPOCH = {"MLP 64-256-10": {1: (0.097, 0.096), 2: (0.842, 0.877), 4: (0.728, 0.747)},
                  "MLP 1024-1024-1024-10": {1: (1.085, 1.105), 2: (2.204, 2.352), 4: (2.952, 3.192)}}
CORES = 2  # of this machine

# ---------------------------------------------------------------------------------------- assumptions
BANDWIDTH = 100e9 / 8  # 100 Gbit/s, bytes per second, per direction of a link
NETWORKS = {"RDMA (α = 2 µs)": 2e-6, "TCP (α = 20 µs)": 20e-6}
RANKS = [8, 64, 512]
GLOBAL_BATCHES = [256, 1024, 4096, 16384, 65536]
BYTES = 8  # double
# Memory: nodes of 32 cores and 256 GiB, one rank per core: 8 GiB a rank.
MEMORY_PER_RANK = 8 * 2**30
FEATURES = 1024  # of a data set's rows, for the data-set sizes


def per_sample(model, b):
    """CPU seconds per sample at batch b: log2-linear between the measured batches, clamped outside."""
    points = sorted(model["per_sample_us"].items())
    if b <= points[0][0]:
        return points[0][1] * 1e-6
    if b >= points[-1][0]:
        return points[-1][1] * 1e-6
    for (b0, c0), (b1, c1) in zip(points, points[1:]):
        if b0 <= b <= b1:
            w = (math.log2(b) - math.log2(b0)) / (math.log2(b1) - math.log2(b0))
            return (c0 + w * (c1 - c0)) * 1e-6
    raise AssertionError


def compute(model, b):
    return b * per_sample(model, b) if b > 0 else 0.0


def allreduce(n, p, alpha, beta=BANDWIDTH):
    """Seconds to sum n bytes over p ranks, and the algorithm: the cheapest of the three."""
    if p == 1:
        return 0.0, "-"
    rounds = math.ceil(math.log2(p))
    options = {
        "ring": 2 * (p - 1) * alpha + 2 * (p - 1) / p * n / beta,
        "recursive doubling": rounds * (alpha + n / beta),
        "halving-doubling": 2 * rounds * alpha + 2 * (p - 1) / p * n / beta,
    }
    name = min(options, key=options.get)
    return options[name], name


def gradient_bytes(model):
    return (model["parameters"] + 2) * BYTES  # + the batch loss and the correct count


def step_time(model, B, p, alpha):
    t_comm, algorithm = allreduce(gradient_bytes(model), p, alpha)
    return compute(model, math.ceil(B / p)) + model["step_ms"] * 1e-3 + t_comm, t_comm, algorithm


def efficiency(model, B, p, alpha):
    t1 = compute(model, B) + model["step_ms"] * 1e-3
    tp = step_time(model, B, p, alpha)[0]
    return t1 / (p * tp)


def fmt_time(seconds):
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.0f} µs"


def this_machine():
    print("### Predicted against measured on this machine (one epoch, global batch 256)\n")
    print("| model | ranks | compute + step per step (CPU) | reduction per step (measured) | predicted, idle | "
          "predicted, under the 1-rank load | measured (overlap on / off) |")
    print("|---|---|---|---|---|---|---|")
    for name, model in MODELS.items():
        wall1, cpu1 = MEASURED_1[name]
        load = wall1 / cpu1  # how much slower than one idle core the loaded machine ran one rank
        steps = math.ceil(model["rows"] / BATCH)
        for p in (1, 2, 4):
            local = compute(model, math.ceil(BATCH / p)) + model["step_ms"] * 1e-3
            per_core = math.ceil(p / CORES)  # ranks sharing a core
            reduction = MEASURED_REDUCTION_MS[name].get(p, 0.0) * 1e-3
            idle = steps * (local * per_core + reduction)
            loaded = steps * (local * per_core * load + reduction)
            on, off = MEASURED_EPOCH[name][p]
            print(f"| {name} | {p} | {fmt_time(local)} | {fmt_time(reduction) if p > 1 else '-'} | "
                  f"{idle:.3f} s | {loaded:.3f} s (×{load:.1f}) | {on:.3f} / {off:.3f} s |")
    print()


def cluster():
    print("### Time per step and efficiency on a 100 Gbit/s network\n")
    for name, model in MODELS.items():
        n = gradient_bytes(model)
        print(f"{name}: {model['parameters']:,} parameters, {n / 2**20:.2f} MiB of gradients per step (double).\n")
        print("| network | ranks | allreduce (algorithm) | " +
              " | ".join(f"B = {B}: T, E" for B in GLOBAL_BATCHES) + " |")
        print("|---|---|---|" + "---|" * len(GLOBAL_BATCHES))
        for network, alpha in NETWORKS.items():
            for p in RANKS:
                t_comm, algorithm = allreduce(n, p, alpha)
                cells = []
                for B in GLOBAL_BATCHES:
                    t = step_time(model, B, p, alpha)[0]
                    cells.append(f"{fmt_time(t)}, {efficiency(model, B, p, alpha) * 100:.0f} %")
                print(f"| {network} | {p} | {fmt_time(t_comm)} ({algorithm}) | " + " | ".join(cells) + " |")
        print()
    print("### The smallest global batch keeping the efficiency ≥ 50 %\n")
    print("| model | network | " + " | ".join(f"p = {p}" for p in RANKS) + " |")
    print("|---|---|" + "---|" * len(RANKS))
    for name, model in MODELS.items():
        for network, alpha in NETWORKS.items():
            cells = []
            for p in RANKS:
                B = p  # at least one sample a rank
                while efficiency(model, B, p, alpha) < 0.5 and B < 2**24:
                    B *= 2
                cells.append(f"{B:,} ({B // p} a rank)" if B < 2**24 else "none")
            print(f"| {name} | {network} | " + " | ".join(cells) + " |")
    print()
    # For an MLP, compute, gradient bytes and optimiser step all grow with the parameter count P, so the
    # per-rank batch that balances them does not depend on P: compute b·κ·P (κ: CPU seconds per sample and
    # parameter), ring reduction ≈ 2·8P/β, step σ·P. E ≈ 50 % when b·κ = 16/β + σ.
    big = MODELS["MLP 1024-1024-1024-10"]
    kappa = big["per_sample_us"][256] * 1e-6 / big["parameters"]
    sigma = big["step_ms"] * 1e-3 / big["parameters"]
    print(f"For an MLP of P parameters (κ = {kappa:.2e} s per sample and parameter at batch 256, optimiser step "
          f"σ = {sigma:.2e} s per parameter, both measured on the large MLP), compute equals the ring's bandwidth "
          f"term plus the step (E ≈ 50 %) at a per-rank batch b = (16/β + σ)/κ = {(16 / BANDWIDTH + sigma) / kappa:.0f} "
          "samples, whatever P; the latency term adds 2(p−1)·α, which matters only for small models.\n")


def memory():
    print("### The largest model and data set a rank can hold (8 GiB a rank, double)\n")
    print("Per rank: parameters, gradients, the reduction buffer and the optimiser state (SGD with momentum: "
          "1 copy; Adam: 2), so 8 · (3 + k) bytes a parameter, plus the activations of the rank's share of the "
          "batch, plus the data: replicated (what fit_data_parallel requires today: every rank holds X) or "
          "sharded (1/p of it each).\n")
    print("| optimiser | bytes a parameter | largest model (no data) | with 2 GiB of data replicated |")
    print("|---|---|---|---|")
    for opt, k in (("SGD + momentum", 1), ("Adam", 2)):
        per = BYTES * (3 + k)
        print(f"| {opt} | {per} | {MEMORY_PER_RANK / per / 1e6:,.0f} M parameters | "
              f"{(MEMORY_PER_RANK - 2 * 2**30) / per / 1e6:,.0f} M parameters |")
    print()
    big = MODELS["MLP 1024-1024-1024-10"]
    model_bytes = big["parameters"] * BYTES * (3 + 2)  # Adam
    activations = 2 * BATCH * sum(big["widths"]) * BYTES  # forward cache and backward, a generous bound
    row = FEATURES * BYTES + BYTES
    free = MEMORY_PER_RANK - model_bytes - activations
    print(f"The large MLP with Adam takes {model_bytes / 2**20:.0f} MiB and its activations at batch {BATCH} "
          f"≤ {activations / 2**20:.0f} MiB; a row of {FEATURES} doubles and its label {row} bytes:\n")
    print("| ranks | replicated: largest data set | sharded: largest data set | total memory |")
    print("|---|---|---|---|")
    for p in RANKS:
        print(f"| {p} | {free / row / 1e6:,.1f} M rows ({free / 2**30:.1f} GiB) | {p * free / row / 1e6:,.0f} M rows "
              f"({p * free / 2**40:.2f} TiB) | {p * MEMORY_PER_RANK / 2**40:.2f} TiB |")
    print()


if __name__ == "__main__":
    this_machine()
    cluster()
    memory()
