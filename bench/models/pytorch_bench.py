#!/usr/bin/env python3
"""PyTorch side of framepipe's model benchmarks (GPU machine). For each reference model: TorchScript
(trace + freeze), cudnn.benchmark on, fp32 and fp16, batch 1 (and 8 for the matting networks);
prints one JSON line per row (fps, ms per call, peak GPU memory, FLOPs per frame) and measures the
GPU's copy bandwidth and fp16 matrix rate for the predicted-limit column.
Usage: pytorch_bench.py [--quick] > rows.jsonl
"""
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rvm  # noqa: E402
import basicvsrpp  # noqa: E402
from common import randomize_bn  # noqa: E402

QUICK = "--quick" in sys.argv


def timed(fn, iters, warmup):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(3):
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record()
        for _ in range(iters):
            fn()
        e.record()
        torch.cuda.synchronize()
        times.append(s.elapsed_time(e) / iters)
    times.sort()
    return times[1]  # median of three, ms per call


def flops_of(model, args):
    from torch.utils.flop_counter import FlopCounterMode
    with FlopCounterMode(display=False) as fc, torch.no_grad():
        model(*args)
    return fc.get_total_flops()


def machine_limits():
    x = torch.empty(2 ** 30 // 2, dtype=torch.float16, device="cuda")  # 1 GiB
    y = torch.empty_like(x)
    ms = timed(lambda: y.copy_(x), 20, 3)
    bw = 2 * x.numel() * 2 / (ms / 1e3)
    a = torch.randn(8192, 8192, dtype=torch.float16, device="cuda")
    b = torch.randn(8192, 8192, dtype=torch.float16, device="cuda")
    ms = timed(lambda: a @ b, 10, 3)
    tflops = 2 * 8192 ** 3 / (ms / 1e3) / 1e12
    del x, y, a, b
    return {"row": "machine", "copy_GBps": bw / 1e9, "fp16_matmul_TFLOPs": tflops}


def bench_rvm(variant, dtype, batch):
    torch.manual_seed(1234)
    model = randomize_bn(rvm.MattingNetwork(variant)).eval().cuda().to(dtype)
    src, z, _, _, _, ratio = rvm.example_inputs(batch, 1080, 1920, 0.25, dtype, "cuda")
    with torch.no_grad():
        flops = flops_of(model, (src[:1], z, z, z, z, ratio))
        out = model(src, z, z, z, z, ratio)
        rec = list(out[2:6])
        traced = torch.jit.freeze(torch.jit.trace(model, (src, *rec, ratio), check_trace=False))
        torch.cuda.reset_peak_memory_stats()
        state = {"r": rec}

        def step():
            o = traced(src, *state["r"], ratio)
            state["r"] = list(o[2:6])
        ms = timed(step, 5 if QUICK else 20, 5)
    return {"row": f"rvm_{variant}", "precision": str(dtype).split(".")[-1], "batch": batch,
            "size": "1920x1080", "downsample_ratio": 0.25, "ms_per_call": ms, "fps": batch * 1000 / ms,
            "peak_gpu_MiB": torch.cuda.max_memory_allocated() / 2 ** 20, "gflops_per_frame": flops / 1e9}


def bench_basicvsr(autocast):
    torch.manual_seed(1234)
    model = basicvsrpp.BasicVSRPlusPlus(64, 7, 6, 16).eval().cuda()
    T = 16
    x = torch.rand(1, T, 3, 432, 1024, device="cuda")
    with torch.no_grad():
        flops = flops_of(model, (x[:, :2],)) if QUICK else None
        torch.cuda.reset_peak_memory_stats()
        with torch.autocast("cuda", dtype=torch.float16, enabled=autocast):
            ms = timed(lambda: model(x), 1 if QUICK else 3, 1)
    return {"row": "basicvsrpp_c64n7", "precision": "autocast_fp16" if autocast else "float32", "batch": 1,
            "T": T, "size": "1024x432", "ms_per_call": ms, "fps": T * 1000 / ms,
            "peak_gpu_MiB": torch.cuda.max_memory_allocated() / 2 ** 20,
            "gflops_first2frames": flops / 1e9 if flops else None}


def main():
    torch.backends.cudnn.benchmark = True
    rows = [machine_limits()]
    print(json.dumps(rows[-1]), flush=True)
    for variant in ("mobilenetv3", "resnet50"):
        for dtype in (torch.float32, torch.float16):
            for batch in (1, 8):
                try:
                    rows.append(bench_rvm(variant, dtype, batch))
                except Exception as ex:  # noqa: BLE001
                    rows.append({"row": f"rvm_{variant}", "precision": str(dtype), "batch": batch, "error": repr(ex)})
                print(json.dumps(rows[-1]), flush=True)
    for ac in (True, False):
        try:
            rows.append(bench_basicvsr(ac))
        except Exception as ex:  # noqa: BLE001
            rows.append({"row": "basicvsrpp_c64n7", "autocast": ac, "error": repr(ex)})
        print(json.dumps(rows[-1]), flush=True)


if __name__ == "__main__":
    main()
