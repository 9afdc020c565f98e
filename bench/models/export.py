#!/usr/bin/env python3
"""Export framepipe's reference models to ONNX with reference inputs/outputs (needs PyTorch: runs on
the GPU machine). Usage:
  export.py tiny OUTDIR    small-width variants + float64-computed reference tensors (for tests/models)
  export.py full OUTDIR    full-size models for benchmarks (fp32 ONNX) + PyTorch GPU reference outputs
Each model goes to OUTDIR/<name>/model.onnx with <step>_in_<input>.npy / <step>_out_<output>.npy.
Weights come from fixed seeds; BatchNorm statistics are randomised so folding errors show.
"""
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import randomize_bn  # noqa: E402
import rvm  # noqa: E402
import basicvsrpp  # noqa: E402
import others  # noqa: E402


def export(model, args, names_in, names_out, path, opset, dynamic_axes=None):
    torch.onnx.export(model, args, path, input_names=names_in, output_names=names_out,
                      opset_version=opset, do_constant_folding=True, dynamo=False,
                      dynamic_axes=dynamic_axes)


def save(d, prefix, names, tensors):
    for n, t in zip(names, tensors):
        a = t.detach().cpu().float().numpy() if t.is_floating_point() else t.cpu().numpy()
        np.save(os.path.join(d, f"{prefix}_{n}.npy"), np.ascontiguousarray(a))


def build(name, tiny):
    torch.manual_seed(1234)
    if name == "rvm_mobilenetv3":
        m = rvm.MattingNetwork("tiny" if tiny else "mobilenetv3")
    elif name == "rvm_resnet50":
        m = rvm.MattingNetwork("resnet50")
    elif name == "basicvsrpp":
        m = basicvsrpp.BasicVSRPlusPlus(16, 1, 3, 16) if tiny else basicvsrpp.BasicVSRPlusPlus(64, 7, 6, 16)
    elif name == "detector":
        m = others.Detector(classes=4 if tiny else 80, tiny=tiny)
    elif name == "inpainter":
        m = others.Inpainter(tiny=tiny)
    elif name == "pairclass":
        m = others.PairClassifier(tiny=tiny)
    elif name == "keypoints":
        m = others.KeypointNet(tiny=tiny)
    else:
        raise ValueError(name)
    return randomize_bn(m).eval()


def inputs_for(name, tiny, g):
    r = lambda *s: torch.rand(*s, generator=g)
    if name.startswith("rvm"):
        h, w, ratio = (72, 96, 0.5) if tiny else (1080, 1920, 0.25)
        z = torch.zeros(1, 1, 1, 1)
        return [r(1, 3, h, w), z, z, z, z, torch.tensor([ratio])], rvm.INPUT_NAMES, rvm.OUTPUT_NAMES
    if name == "basicvsrpp":
        shape = (1, 3, 3, 24, 32) if tiny else (1, 16, 3, 432, 1024)
        return [r(*shape)], ["lqs"], ["hr"]
    if name == "detector":
        return [r(1, 3, 64, 96) if tiny else r(1, 3, 640, 640)], ["images"], ["boxes"]
    if name == "inpainter":
        h, w = (64, 96) if tiny else (512, 512)
        mask = (r(1, 1, h, w) > 0.7).float()
        return [r(1, 3, h, w), mask], ["image", "mask"], ["output"]
    if name == "pairclass":
        return [r(2, 6, 48, 64) if tiny else r(8, 6, 224, 224)], ["pair"], ["scores"]
    if name == "keypoints":
        return [r(1, 3, 64, 48) if tiny else r(1, 3, 256, 192)], ["image"], ["heatmaps", "keypoints"]
    raise ValueError(name)


TINY = ["rvm_mobilenetv3", "basicvsrpp", "detector", "inpainter", "pairclass", "keypoints"]
FULL = ["rvm_mobilenetv3", "rvm_resnet50", "basicvsrpp", "detector", "inpainter", "pairclass", "keypoints"]


def main():
    mode, out = sys.argv[1], sys.argv[2]
    only = sys.argv[3:] or (TINY if mode == "tiny" else FULL)
    tiny = mode == "tiny"
    failed = []
    for name in only:
        try:
            export_one(name, tiny, out)
        except Exception as ex:  # noqa: BLE001 — report, go on with the others, fail at the end
            import traceback
            traceback.print_exc()
            failed.append(name)
    if tiny:
        export_dynamo(out)
    if failed:
        print("FAILED:", " ".join(failed), flush=True)
        sys.exit(1)


def export_one(name, tiny, out):
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    model = build(name, tiny)
    g = torch.Generator().manual_seed(42)
    ins, nin, nout = inputs_for(name, tiny, g)
    opset = 19 if name == "basicvsrpp" else 17
    dyn = None
    if name.startswith("rvm"):  # as RVM's official export: any batch/size, states of any shape
        dyn = {"src": {0: "batch", 2: "height", 3: "width"}, "fgr": {0: "batch", 2: "height", 3: "width"},
               "pha": {0: "batch", 2: "height", 3: "width"}}
        for k in range(1, 5):
            dyn[f"r{k}i"] = {0: "batch", 1: f"r{k}c", 2: f"r{k}h", 3: f"r{k}w"}
            dyn[f"r{k}o"] = {0: "batch", 1: f"r{k}oc", 2: f"r{k}oh", 3: f"r{k}ow"}
    export(model, tuple(ins), nin, nout, os.path.join(d, "model.onnx"), opset, dyn)
    if tiny:
        # Reference in float64 from the same float32 weights: the runtime's fp32 error is then
        # measured against (nearly) exact values.
        m64 = build(name, tiny).double()
        m64.load_state_dict({k: v.double() if v.is_floating_point() else v for k, v in model.state_dict().items()})
        ins64 = [t.double() if t.is_floating_point() else t for t in ins]
        with torch.no_grad():
            outs = m64(*ins64)
        outs = outs if isinstance(outs, (tuple, list)) else (outs,)
        save(d, "step0_in", nin, ins)
        save(d, "step0_out", nout, outs)
        if name.startswith("rvm"):  # a second frame, carrying the recurrent state
            ins2 = [torch.rand(ins[0].shape, generator=g)] + [o.float() for o in outs[2:6]] + [ins[5]]
            with torch.no_grad():
                outs2 = m64(*[t.double() for t in ins2])
            save(d, "step1_in", nin, ins2)
            save(d, "step1_out", nout, outs2)
    else:
        dev = "cuda"
        model = model.to(dev)
        with torch.no_grad():
            outs = model(*[t.to(dev) for t in ins])
        outs = outs if isinstance(outs, (tuple, list)) else (outs,)
        save(d, "step0_in", nin, ins)
        save(d, "step0_out", nout, outs)
    print(f"exported {name} ({'tiny' if tiny else 'full'}) opset {opset}: "
          f"{sum(p.numel() for p in model.parameters())} parameters", flush=True)


def export_dynamo(out):
    """One model through the dynamo exporter too, so both exporters' graphs are tested."""
    try:
        name = "pairclass"
        model = build(name, True)
        g = torch.Generator().manual_seed(42)
        ins, nin, nout = inputs_for(name, True, g)
        d = os.path.join(out, "pairclass_dynamo")
        os.makedirs(d, exist_ok=True)
        torch.onnx.export(model, tuple(ins), os.path.join(d, "model.onnx"), input_names=nin,
                          output_names=nout, opset_version=18, dynamo=True, external_data=False)
        m64 = build(name, True).double()
        m64.load_state_dict({k: v.double() if v.is_floating_point() else v for k, v in model.state_dict().items()})
        with torch.no_grad():
            o = m64(ins[0].double())
        save(d, "step0_in", nin, ins)
        save(d, "step0_out", nout, [o])
        print("exported pairclass via dynamo", flush=True)
    except Exception as ex:  # noqa: BLE001 — report and go on; the legacy exports matter most
        print(f"dynamo export failed: {ex!r}", flush=True)


if __name__ == "__main__":
    main()
