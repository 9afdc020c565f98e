#!/usr/bin/python3
"""Wrap an fp32 RVM-style ONNX model into one with the fp16 export's interface: src, r1i..r4i and all
outputs float16 (downsample_ratio stays float32, as in RVM's official fp16 exports). The body still
computes fp32 between Cast nodes, so the test checks framepipe's fp16 boundary (conversion of src, the
fp16 state carried frame to frame, fp16 outputs), not fp16 arithmetic.

usage: make_fp16_rvm.py IN.onnx OUT.onnx"""
import sys

import onnx
from onnx import TensorProto, helper

m = onnx.load(sys.argv[1])
g = m.graph
F16 = TensorProto.FLOAT16
casts_in, casts_out = [], []
for vi in g.input:
    if vi.name == "downsample_ratio" or vi.type.tensor_type.elem_type != TensorProto.FLOAT:
        continue
    inner = vi.name + "_f32"
    for n in g.node:
        for i, x in enumerate(n.input):
            if x == vi.name:
                n.input[i] = inner
    casts_in.append(helper.make_node("Cast", [vi.name], [inner], to=TensorProto.FLOAT))
    vi.type.tensor_type.elem_type = F16
for vo in g.output:
    inner = vo.name + "_f32"
    for n in g.node:
        for i, x in enumerate(n.output):
            if x == vo.name:
                n.output[i] = inner
        for i, x in enumerate(n.input):
            if x == vo.name:
                n.input[i] = inner
    casts_out.append(helper.make_node("Cast", [inner], [vo.name], to=F16))
    vo.type.tensor_type.elem_type = F16
nodes = casts_in + list(g.node) + casts_out
del g.node[:]
g.node.extend(nodes)
onnx.checker.check_model(m)
onnx.save(m, sys.argv[2])
