#!/usr/bin/env python3
"""fuse.onnx: Conv chains for the runtime's fusion pass (tests/nn/test_fuse.c): Conv+BN+Relu,
depthwise Conv+BN+HardSwish, Conv+Clip(0,6), Conv+LeakyRelu, Conv+HardSigmoid, Conv+Sigmoid, Conv+Tanh,
plus two that must NOT fuse: a Conv whose output has two readers, and a Conv whose output is a graph
output. Run from this folder: python3 make_fuse.py (writes fuse.onnx, committed)."""
import os

import numpy as np
from onnx import TensorProto as TP, helper, numpy_helper, save

HERE = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(11)
inits, nodes = [], []


def const(name, arr):
    inits.append(numpy_helper.from_array(np.asarray(arr, np.float32), name))
    return name


def conv(x, cin, cout, name, k=3, group=1, bias=True, stride=1):
    w = const(name + "_w", rng.standard_normal((cout, cin // group, k, k)) * (1.0 / np.sqrt(cin // group * k * k)))
    ins = [x, w] + ([const(name + "_b", rng.standard_normal(cout) * 0.1)] if bias else [])
    nodes.append(helper.make_node("Conv", ins, [name], pads=[k // 2] * 4, group=group, strides=[stride] * 2))
    return name


def bn(x, c, name):
    p = [const(f"{name}_{s}", v) for s, v in (("s", rng.uniform(0.5, 1.5, c)), ("b", rng.standard_normal(c) * 0.1),
                                               ("m", rng.standard_normal(c) * 0.1), ("v", rng.uniform(0.5, 2.0, c)))]
    nodes.append(helper.make_node("BatchNormalization", [x] + p, [name], epsilon=1e-3))
    return name


def act(x, op, name, **kw):
    nodes.append(helper.make_node(op, [x], [name], **kw))
    return name


y = act(bn(conv("x", 3, 8, "c1"), 8, "bn1"), "Relu", "a1")
y = act(bn(conv(y, 8, 8, "c2", group=8, bias=False), 8, "bn2"), "HardSwish", "a2")
c3 = conv(y, 8, 6, "c3", k=1)
nodes.append(helper.make_node("Clip", [c3, const("lo", 0.0), const("hi", 6.0)], ["a3"]))
y = act(conv("a3", 6, 6, "c4", stride=2), "LeakyRelu", "a4", alpha=0.1)
y = act(conv(y, 6, 6, "c5"), "HardSigmoid", "a5", alpha=0.3, beta=0.4)
y = act(conv(y, 6, 6, "c6"), "Sigmoid", "a6")
y = act(conv(y, 6, 6, "c7"), "Tanh", "a7")
c8 = conv(y, 6, 6, "c8")                      # two readers: Relu and Add
r8 = act(c8, "Relu", "a8")
nodes.append(helper.make_node("Add", [r8, c8], ["s8"]))
c9 = conv("s8", 6, 4, "c9")                   # a graph output itself, and read by Relu
act(c9, "Relu", "y")
graph = helper.make_graph(nodes, "fuse", [helper.make_tensor_value_info("x", TP.FLOAT, [2, 3, 9, 11])],
                          [helper.make_tensor_value_info("y", TP.FLOAT, None),
                           helper.make_tensor_value_info("c9", TP.FLOAT, None)], inits)
m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="framepipe-tests")
m.ir_version = 8
save(m, os.path.join(HERE, "fuse.onnx"))
