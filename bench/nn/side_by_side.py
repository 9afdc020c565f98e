#!/usr/bin/env python3
"""framepipe's nn_bench rows next to bench/models/pytorch_bench.py's, as one markdown table.

Usage: side_by_side.py NN_BENCH_LOG PYTORCH_JSONL

For each model and batch: framepipe fp32 and fp16 (best of CUDA graph on/off), PyTorch fp32 and fp16
(autocast fp16 for BasicVSR++), the ratio of framepipe's best to PyTorch's best, peak GPU memory of
both (framepipe: device-wide used memory over the run; PyTorch: its allocator's peak, which leaves out
cuDNN/cuBLAS workspaces and the context, so it reads low), framepipe's plan counts per run (GFLOP of
the matrix ops, MB of every step's inputs and outputs), the predicted limit (the larger of FLOPs over
the measured fp16/fp32 matrix rate and bytes over the measured copy bandwidth, nn_bench's machine row)
and the fraction of it framepipe reached. Frames: RVM counts batch frames per run; BasicVSR++
counts its T=16 input frames per run on both sides.
Owns: the table only (numbers come from the two benches, measured in the same GPU session).
"""
import json
import os
import sys

T_BASICVSR = 16


def load_nn(path):
    rows, machine = [], {}
    for line in open(path, errors="replace"):
        if not line.startswith("nn_bench: "):
            continue
        try:
            d = json.loads(line[len("nn_bench: "):])
        except ValueError:
            continue
        if "machine" in d:
            machine = d
        elif "fps" in d:
            d["name"] = os.path.basename(d["model"].rstrip("/"))
            rows.append(d)
    return rows, machine


def load_torch(path):
    rows = []
    for line in open(path, errors="replace"):
        try:
            d = json.loads(line)
        except ValueError:
            continue
        if "fps" in d:
            rows.append(d)
    return rows


def main():
    nn, machine = load_nn(sys.argv[1])
    pt = load_torch(sys.argv[2]) if len(sys.argv) > 2 and os.path.exists(sys.argv[2]) else []
    names = {"rvm_mobilenetv3": "rvm_mobilenetv3", "rvm_resnet50": "rvm_resnet50", "basicvsrpp": "basicvsrpp_c64n7"}
    print(f"machine: {machine.get('machine', '?')}, copy {machine.get('copy_bw_gbs', 0):.0f} GB/s, "
          f"GEMM fp16 {machine.get('gemm_fp16_tflops', 0):.0f} TFLOP/s, fp32 {machine.get('gemm_fp32_tflops', 0):.0f} TFLOP/s")
    print("| model | batch | framepipe fp32 | framepipe fp16 | PyTorch fp32 | PyTorch fp16 | best/best | "
          "peak MiB fp / PT | GFLOP/run | MB/run | predicted ms | fraction |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, ptname in names.items():
        for batch in (1, 8):
            mine = [r for r in nn if r["name"] == name and r["batch"] == batch]
            if not mine:
                continue
            per = T_BASICVSR if name == "basicvsrpp" else 1
            best = {}
            for r in mine:
                p = r["precision"]
                if p not in best or r["fps"] > best[p]["fps"]:
                    best[p] = r
            theirs = {}
            for r in pt:
                if r.get("row") == ptname and r.get("batch") == batch:
                    p = "fp16" if "16" in r.get("precision", "") else "fp32"
                    theirs[p] = r
            fp = {p: best[p]["fps"] * per for p in best}
            tf = {p: theirs[p]["fps"] for p in theirs}
            ratio = max(fp.values()) / max(tf.values()) if fp and tf else None
            fbest = max(best.values(), key=lambda r: r["fps"])
            gflops, mbytes = fbest.get("gflop_per_run"), fbest.get("mbytes_per_run")
            pred = frac = None
            rate = machine.get("gemm_fp16_tflops" if fbest["precision"] == "fp16" else "gemm_fp32_tflops")
            bw = machine.get("copy_bw_gbs")
            if gflops and rate and mbytes and bw:
                pred = max(gflops / rate, mbytes / bw)  # ms: GFLOP / (TFLOP/s) and MB / (GB/s)
                frac = pred / fbest["ms_per_run"]
            mem_pt = max((t.get("peak_gpu_MiB", 0) for t in theirs.values()), default=None)
            cell = lambda d, p: f"{d[p]:.1f}" if p in d else "–"
            print(f"| {name} | {batch} | {cell(fp, 'fp32')} | {cell(fp, 'fp16')} | {cell(tf, 'fp32')} | "
                  f"{cell(tf, 'fp16')} | {f'{ratio:.2f}×' if ratio else '–'} | "
                  f"{fbest['peak_gpu_mib']:.0f} / {f'{mem_pt:.0f}' if mem_pt else '–'} | "
                  f"{f'{gflops:.1f}' if gflops else '–'} | {f'{mbytes:.0f}' if mbytes else '–'} | "
                  f"{f'{pred:.4f}' if pred else '–'} | "
                  f"{f'{frac:.3f}' if frac else '–'} |")


if __name__ == "__main__":
    main()
