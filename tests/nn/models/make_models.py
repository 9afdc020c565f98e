#!/usr/bin/python3
"""Generate the small ONNX fixtures of tests/nn (run with Debian's /usr/bin/python3: python3-onnx 1.12).

The outputs are committed, so CI needs no Python; rerun after changing this file:
    /usr/bin/python3 tests/nn/models/make_models.py
Test ops live in the domain 'test.framepipe' (tests/nn/test_ops.c) so the runtime can be tested
without depending on which ONNX ops the op groups have landed.
"""
import os
import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto as TP

HERE = os.path.dirname(os.path.abspath(__file__))
TD = "test.framepipe"


def model(nodes, inputs, outputs, inits=(), opset=13, extra_opsets=((TD, 1),), functions=None, ir=8):
    g = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(inits))
    ops = [helper.make_opsetid("", opset)] + [helper.make_opsetid(d, v) for d, v in extra_opsets]
    kw = {}
    if functions:
        kw["functions"] = functions
    m = helper.make_model(g, opset_imports=ops, producer_name="framepipe-tests", **kw)
    m.ir_version = ir
    return m


def save(m, name):
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(m.SerializeToString())


def vi(name, dt, shape):
    return helper.make_tensor_value_info(name, dt, shape)


def n(op, ins, outs, **attrs):
    return helper.make_node(op, ins, outs, domain=TD, **attrs)


# add.onnx: y = (x + w) + c, c from a constant node (folded at plan time)
w = numpy_helper.from_array(np.arange(6, dtype=np.float32).reshape(2, 3), "w")
c = numpy_helper.from_array(np.full((1, 3), 0.5, np.float32))
save(model([n("TConst", [], ["c"], value=c),
            n("TAdd", ["x", "w"], ["t"]),
            n("TAdd", ["t", "c"], ["y"]),
            n("TAdd", ["x", "x"], ["dead"])],  # feeds no output: removed at load
           [vi("x", TP.FLOAT, ["batch", 3])], [vi("y", TP.FLOAT, ["batch", 3])], [w]), "add.onnx")

# add_typed.onnx: same but w stored in float_data (typed field) instead of raw_data
wt = helper.make_tensor("w", TP.FLOAT, [2, 3], np.arange(6, dtype=np.float32).tolist(), raw=False)
save(model([n("TAdd", ["x", "w"], ["y"])], [vi("x", TP.FLOAT, [2, 3])], [vi("y", TP.FLOAT, [2, 3])], [wt]),
     "add_typed.onnx")

# half.onnx: fp16 graph, TAdd only accepts fp32 -> the CPU backend upcasts around it
w16 = numpy_helper.from_array((np.arange(4, dtype=np.float32) * 0.25).astype(np.float16), "w16")
save(model([n("TAdd", ["x", "w16"], ["y"])], [vi("x", TP.FLOAT16, [4])], [vi("y", TP.FLOAT16, [4])], [w16]),
     "half.onnx")

# island.onnx: fp32 in -> cast to fp16 -> add (fp16, upcast) -> cast back to fp32
save(model([n("TCast", ["x"], ["h"], to=TP.FLOAT16),
            n("TAdd", ["h", "w16"], ["h2"]),
            n("TCast", ["h2"], ["y"], to=TP.FLOAT)],
           [vi("x", TP.FLOAT, [4])], [vi("y", TP.FLOAT, [4])], [w16]), "island.onnx")

# ratio.onnx: RVM-like runtime scalar deciding a resize: s = ratio * 2; y = resize(x, s)
two = numpy_helper.from_array(np.array([2.0], np.float32), "two")
save(model([n("TMul", ["ratio", "two"], ["s"]),
            n("TResize", ["x", "s"], ["y"])],
           [vi("x", TP.FLOAT, [1, 1, "h", "w"]), vi("ratio", TP.FLOAT, [1])],
           [vi("y", TP.FLOAT, [1, 1, "oh", "ow"])], [two]), "ratio.onnx")

# ratio_sym.onnx: same with a ratio of symbolic length (value inputs are capped at 4096 elements)
save(model([n("TMul", ["ratio", "two"], ["s"]),
            n("TResize", ["x", "s"], ["y"])],
           [vi("x", TP.FLOAT, [1, 1, "h", "w"]), vi("ratio", TP.FLOAT, ["n"])],
           [vi("y", TP.FLOAT, [1, 1, "oh", "ow"])], [two]), "ratio_sym.onnx")

# shape.onnx: shape subgraph folded: y = reshape(x + x, shape(z))
save(model([n("TShape", ["z"], ["zs"]),
            n("TAdd", ["x", "x"], ["xx"]),
            n("TReshape", ["xx", "zs"], ["y"])],
           [vi("x", TP.FLOAT, [6]), vi("z", TP.FLOAT, [2, 3])], [vi("y", TP.FLOAT, [2, 3])]), "shape.onnx")

# chain.onnx: a long chain for arena reuse and thread determinism
nodes, prev = [], "x"
for i in range(8):
    nodes.append(n("TAdd", [prev, "x"], ["a%d" % i]))
    prev = "a%d" % i
nodes.append(n("TAdd", [prev, prev], ["y"]))
save(model(nodes, [vi("x", TP.FLOAT, [1, 4096])], [vi("y", TP.FLOAT, [1, 4096])]), "chain.onnx")

# function.onnx: model-local function AddTwice(a, b) = (a + b) + b, called once; its body uses TAdd
fn = helper.make_function("local.fn", "AddTwice", ["a", "b"], ["o"],
                          [n("TAdd", ["a", "b"], ["t"]), n("TAdd", ["t", "b"], ["o"])],
                          [helper.make_opsetid("", 13), helper.make_opsetid(TD, 1)])
save(model([helper.make_node("AddTwice", ["x", "x"], ["y"], domain="local.fn")],
           [vi("x", TP.FLOAT, [3])], [vi("y", TP.FLOAT, [3])],
           extra_opsets=((TD, 1), ("local.fn", 1)), functions=[fn]), "function.onnx")

# external data: weights in weights.bin next to the model (offset 16)
wext = np.arange(6, dtype=np.float32).reshape(2, 3) * 10
blob = b"\0" * 16 + wext.tobytes()
for d in ("", "bad"):
    os.makedirs(os.path.join(HERE, d), exist_ok=True)
    with open(os.path.join(HERE, d, "weights.bin"), "wb") as f:
        f.write(blob)


def ext_model(location, offset=16, length=None):
    t = TP()
    t.name = "w"
    t.data_type = TP.FLOAT
    t.dims.extend([2, 3])
    t.data_location = TP.EXTERNAL
    for k, v in (("location", location), ("offset", str(offset)), ("length", str(length if length is not None else 24))):
        e = t.external_data.add()
        e.key, e.value = k, v
    return model([n("TAdd", ["x", "w"], ["y"])], [vi("x", TP.FLOAT, [2, 3])], [vi("y", TP.FLOAT, [2, 3])], [t])


save(ext_model("weights.bin"), "external.onnx")
os.makedirs(os.path.join(HERE, "bad"), exist_ok=True)
B = lambda name: os.path.join("bad", name)
save(ext_model("/etc/passwd"), B("external_absolute.onnx"))
save(ext_model("../models/weights.bin"), B("external_dotdot.onnx"))
save(ext_model("missing.bin"), B("external_missing.onnx"))
save(ext_model("../weights.bin", offset=16, length=24), B("external_dotdot2.onnx"))
save(ext_model("weights.bin", offset=20), B("external_short.onnx"))
save(ext_model("weights.bin", length=20), B("external_length.onnx"))
save(ext_model("escape.bin"), B("external_symlink.onnx"))  # tests create bad/escape.bin -> /etc/hostname

# bad models
good = model([n("TAdd", ["x", "w"], ["y"])], [vi("x", TP.FLOAT, [2, 3])], [vi("y", TP.FLOAT, [2, 3])], [w])
raw = good.SerializeToString()
with open(os.path.join(HERE, B("truncated.onnx")), "wb") as f:
    f.write(raw[: len(raw) * 2 // 3])
corrupt = bytearray(raw)
for i in range(7, len(corrupt), 13):
    corrupt[i] ^= 0xA5
with open(os.path.join(HERE, B("corrupt.onnx")), "wb") as f:
    f.write(bytes(corrupt))

m = onnx.ModelProto(); m.CopyFrom(good)
m.graph.initializer[0].raw_data = m.graph.initializer[0].raw_data[:-4]
save(m, B("raw_length.onnx"))
m = onnx.ModelProto(); m.CopyFrom(good)
m.graph.initializer[0].dims[0] = -2
save(m, B("negative_dim.onnx"))
m = onnx.ModelProto(); m.CopyFrom(good)
del m.graph.initializer[0].dims[:]
m.graph.initializer[0].dims.extend([1 << 40, 1 << 40, 1 << 40])
save(m, B("overflow_dim.onnx"))
m = onnx.ModelProto(); m.CopyFrom(good)
m.graph.input[0].type.tensor_type.shape.dim[0].dim_value = -5
save(m, B("negative_input_dim.onnx"))
save(model([helper.make_node("NoSuchOp", ["x"], ["y"])], [vi("x", TP.FLOAT, [2])], [vi("y", TP.FLOAT, [2])]),
     B("unknown_op.onnx"))
save(model([helper.make_node("Relu", ["x"], ["y"], domain="com.example")], [vi("x", TP.FLOAT, [2])],
           [vi("y", TP.FLOAT, [2])], extra_opsets=(("com.example", 1),)), B("unknown_domain.onnx"))
save(model([n("TAdd", ["x", "x"], ["y"])], [vi("x", TP.FLOAT, [2])], [vi("y", TP.FLOAT, [2])], opset=10),
     B("opset10.onnx"))
save(model([n("TAdd", ["x", "x"], ["y"])], [vi("x", TP.FLOAT, [2])], [vi("y", TP.FLOAT, [2])], opset=20),
     B("opset20.onnx"))
save(model([n("TAdd", ["x", "b"], ["a"]), n("TAdd", ["a", "x"], ["b"]), n("TAdd", ["a", "b"], ["y"])],
           [vi("x", TP.FLOAT, [2])], [vi("y", TP.FLOAT, [2])]), B("cycle.onnx"))
save(model([n("TAdd", ["x", "nowhere"], ["y"])], [vi("x", TP.FLOAT, [2])], [vi("y", TP.FLOAT, [2])]),
     B("dangling.onnx"))
save(model([n("TAdd", ["x", "x"], ["y"]), n("TAdd", ["x", "x"], ["y"])], [vi("x", TP.FLOAT, [2])],
           [vi("y", TP.FLOAT, [2])]), B("two_producers.onnx"))
typed_bad = helper.make_tensor("w", TP.FLOAT, [2, 3], [1.0] * 6, raw=False)
del typed_bad.float_data[2:]
save(model([n("TAdd", ["x", "w"], ["y"])], [vi("x", TP.FLOAT, [2, 3])], [vi("y", TP.FLOAT, [2, 3])],
           [typed_bad]), B("typed_count.onnx"))
# concrete input dims whose product overflows / whose bytes cannot be allocated: the load-time plan
# must refuse them cleanly
save(model([n("TAdd", ["x", "x"], ["y"])], [vi("x", TP.FLOAT, [1 << 40, 1 << 40])], [vi("y", TP.FLOAT, ["a", "b"])]),
     B("huge_input_overflow.onnx"))
save(model([n("TAdd", ["x", "x"], ["y"])], [vi("x", TP.FLOAT, [1 << 22, 1 << 22])], [vi("y", TP.FLOAT, ["a", "b"])]),
     B("huge_input_alloc.onnx"))
with open(os.path.join(HERE, B("empty.onnx")), "wb") as f:
    pass

# numpy files for the .npy reader
np.save(os.path.join(HERE, "f32.npy"), np.arange(24, dtype=np.float32).reshape(2, 3, 4))
np.save(os.path.join(HERE, "i64_scalar.npy"), np.array(7, dtype=np.int64))
np.save(os.path.join(HERE, "f16.npy"), np.array([1.5, -2.0, 65504.0], dtype=np.float16))
np.save(os.path.join(HERE, B("fortran.npy")), np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3)))
np.save(os.path.join(HERE, B("bigendian.npy")), np.arange(4, dtype=">f4"))
with open(os.path.join(HERE, "f32.npy"), "rb") as f:
    data = f.read()
with open(os.path.join(HERE, B("truncated.npy")), "wb") as f:
    f.write(data[:-10])

# reference for the CLI test: ONNX's own test_constant expected output, as numpy writes it
TDATA = "/usr/share/libonnx-testdata/data/node/test_constant/test_data_set_0/output_0.pb"
if os.path.exists(TDATA):
    t = TP()
    with open(TDATA, "rb") as f:
        t.ParseFromString(f.read())
    np.save(os.path.join(HERE, "test_constant_values.npy"), numpy_helper.to_array(t))

# real_fp16.onnx / real_fp32.onnx: the same small network with real ONNX ops, weights in float16 and
# their exact float32 values; real_island.onnx: float32 in/out with a float16 middle (Cast islands).
rng = np.random.default_rng(7)
W = rng.standard_normal((4, 3, 3, 3)).astype(np.float16)
Bc = rng.standard_normal(4).astype(np.float16)
K = rng.standard_normal((1, 4, 1, 1)).astype(np.float16)


def real(dt, island=False):
    npdt = np.float16 if dt == TP.FLOAT16 else np.float32
    inits = [numpy_helper.from_array(W.astype(npdt), "W"), numpy_helper.from_array(Bc.astype(npdt), "B"),
             numpy_helper.from_array(K.astype(npdt), "K"),
             numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales")]
    nodes = []
    src = "x"
    if island:
        nodes.append(helper.make_node("Cast", ["x"], ["xh"], to=TP.FLOAT16))
        src = "xh"
    nodes += [helper.make_node("Conv", [src, "W", "B"], ["c"], pads=[1, 1, 1, 1]),
              helper.make_node("Relu", ["c"], ["r"]),
              helper.make_node("Resize", ["r", "", "scales"], ["u"], mode="nearest"),
              helper.make_node("Add", ["u", "K"], ["a"]),
              helper.make_node("Softmax", ["a"], ["y" if not island else "yh"], axis=1)]
    if island:
        nodes.append(helper.make_node("Cast", ["yh"], ["y"], to=TP.FLOAT))
    io = TP.FLOAT if island else dt
    return model(nodes, [vi("x", io, [1, 3, 8, 8])], [vi("y", io, [1, 4, 16, 16])], inits, opset=13,
                 extra_opsets=())


save(real(TP.FLOAT16), "real_fp16.onnx")
save(real(TP.FLOAT), "real_fp32.onnx")
save(real(TP.FLOAT16, island=True), "real_island.onnx")
