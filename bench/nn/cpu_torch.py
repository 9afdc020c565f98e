#!/usr/bin/env python3
"""PyTorch CPU side of the ONNX runtime's CPU benchmark (issue 3 "Speed": framepipe's CPU backend no
worse than 3x PyTorch CPU). For each configuration below it builds the model definition from
bench/models (same seeds as export.py), exports it with the same exporter settings to
OUTDIR/<tag>/model.onnx + step0_in_<input>.npy (so bench/nn/cpu_bench.sh times framepipe on the very
same graph and inputs), then times torch's eager forward under torch.no_grad() at each thread count.
Needs PyTorch (GPU machine; run through scripts/gpu/nn_cpu.sh bench).
Usage: cpu_torch.py OUTDIR [THREADS...]   (default threads: 1 2 16, capped at os.cpu_count())
Prints one JSON line per configuration and thread count, prefixed "cpu_torch: ".
"""
import json
import os
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "models"))
import export as ex  # noqa: E402  (bench/models/export.py: build(), export(), inputs_for())


def configs():
    g = torch.Generator().manual_seed(42)
    r = lambda *s: torch.rand(*s, generator=g)  # noqa: E731
    out = []
    # the tiny reference models at their test shapes (tests/models)
    for name in ["rvm_mobilenetv3", "basicvsrpp", "detector", "pairclass", "keypoints"]:
        ins, nin, nout = ex.inputs_for(name, True, g)
        out.append((name + "_tiny", name, ins, nin, nout))
    # mid-size inputs
    z = torch.zeros(1, 1, 1, 1)
    out.append(("rvm_tiny_512x288", "rvm_mobilenetv3", [r(1, 3, 288, 512), z, z, z, z, torch.tensor([0.5])],
                ex.rvm.INPUT_NAMES, ex.rvm.OUTPUT_NAMES))
    out.append(("pairclass_tiny_224_b8", "pairclass", [r(8, 6, 224, 224)], ["pair"], ["scores"]))
    return out


def timed(fn, iters=10, warmup=2):
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(iters):
        t0 = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t0) * 1e3)
    ts.sort()
    return ts[len(ts) // 2], ts[0]


def main():
    outdir = sys.argv[1]
    threads = [int(t) for t in sys.argv[2:]] or [1, 2, 16]
    threads = sorted({min(t, os.cpu_count() or 1) for t in threads})
    for tag, name, ins, nin, nout in configs():
        d = os.path.join(outdir, tag)
        os.makedirs(d, exist_ok=True)
        model = ex.build(name, True)
        opset = 19 if name == "basicvsrpp" else 17
        ex.export(model, tuple(ins), nin, nout, os.path.join(d, "model.onnx"), opset)
        for n, t in zip(nin, ins):
            np.save(os.path.join(d, f"step0_in_{n}.npy"), np.ascontiguousarray(t.numpy()))
        for nt in threads:
            torch.set_num_threads(nt)
            with torch.no_grad():
                med, mn = timed(lambda: model(*ins))
            print("cpu_torch: " + json.dumps({"model": tag, "threads": nt, "ms_median": round(med, 3),
                                              "ms_min": round(mn, 3), "torch": torch.__version__}), flush=True)


if __name__ == "__main__":
    main()
