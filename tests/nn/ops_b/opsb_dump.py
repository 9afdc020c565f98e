#!/usr/bin/python3
"""opsb_dump -- convert ONNX node conformance tests of the group-b ops into one text fixture.

Reads <data>/{node,pytorch-operator,pytorch-converted}/test_*/ (model.onnx + test_data_set_*/),
keeps single-node graphs whose op is in group b, and writes blocks the C runner
(test_ops_b_conformance.c) parses:

  test <dir> <op_type> <opset> <nin> <nout>
  attr <name> i <v> | f <v> | s <str> | ints <n> <v...> | floats <n> <v...>
  in <pos> <dtype> <ndim> <dims...> : <values...>      (absent optional input: in <pos> -)
  out <pos> <dtype> <ndim> <dims...> : <values...>
  end

Floats are printed with 9 significant digits (exact for float32). Multi-node graphs (e.g. the
*_expanded tests) are left to the runtime's own conformance runner. Test-only tool.
"""
import os
import sys

try:
    import numpy as np
    import onnx
    from onnx import numpy_helper
except ImportError as exc:  # reported as skipped by ctest (SKIP_RETURN_CODE 77), never as passed
    print("opsb_dump: SKIP: python3-onnx/numpy not available (%s)" % exc)
    if len(sys.argv) > 2 and os.path.exists(sys.argv[2]):
        os.remove(sys.argv[2])
    sys.exit(77)

OPS = {"Conv", "ConvTranspose", "DeformConv", "BatchNormalization", "InstanceNormalization",
       "LayerNormalization", "GroupNormalization", "LRN", "Gemm", "MatMul", "MaxPool", "AveragePool",
       "GlobalMaxPool", "GlobalAveragePool", "Resize", "Upsample", "GridSample", "DepthToSpace",
       "SpaceToDepth"}
DT = {np.dtype("float32"): 1, np.dtype("uint8"): 2, np.dtype("int8"): 3, np.dtype("int32"): 6,
      np.dtype("int64"): 7, np.dtype("bool"): 9, np.dtype("float16"): 10, np.dtype("float64"): 11}


def fmt_tensor(a):
    a = np.asarray(a)
    dt = DT.get(a.dtype)
    if dt is None:
        return None
    flat = a.reshape(-1)
    if a.dtype.kind == "f":
        vals = " ".join("%.9g" % float(v) for v in flat.astype(np.float64))
    else:
        vals = " ".join(str(int(v)) for v in flat)
    return "%d %d %s : %s" % (dt, a.ndim, " ".join(str(d) for d in a.shape), vals)


def attr_line(a):
    t = a.type
    if t == onnx.AttributeProto.INT:
        return "attr %s i %d" % (a.name, a.i)
    if t == onnx.AttributeProto.FLOAT:
        return "attr %s f %.9g" % (a.name, a.f)
    if t == onnx.AttributeProto.STRING:
        return "attr %s s %s" % (a.name, a.s.decode())
    if t == onnx.AttributeProto.INTS:
        return "attr %s ints %d %s" % (a.name, len(a.ints), " ".join(str(v) for v in a.ints))
    if t == onnx.AttributeProto.FLOATS:
        return "attr %s floats %d %s" % (a.name, len(a.floats), " ".join("%.9g" % v for v in a.floats))
    return None


def load_pb(path):
    t = onnx.TensorProto()
    with open(path, "rb") as f:
        t.ParseFromString(f.read())
    return numpy_helper.to_array(t)


def dump_test(d, name, out):
    m = onnx.load(os.path.join(d, "model.onnx"))
    g = m.graph
    if len(g.node) != 1 or g.node[0].op_type not in OPS or g.node[0].domain not in ("", "ai.onnx"):
        return 0
    node = g.node[0]
    opset = next((o.version for o in m.opset_import if o.domain in ("", "ai.onnx")), 1)
    inits = {i.name: numpy_helper.to_array(i) for i in g.initializer}
    graph_inputs = [i.name for i in g.input if i.name not in inits]
    n_done = 0
    for ds in sorted(x for x in os.listdir(d) if x.startswith("test_data_set_")):
        dsd = os.path.join(d, ds)
        vals = dict(inits)
        for k, nm in enumerate(graph_inputs):
            p = os.path.join(dsd, "input_%d.pb" % k)
            if not os.path.exists(p):
                return n_done
            vals[nm] = load_pb(p)
        outs = []
        for k, o in enumerate(g.output):
            outs.append((o.name, load_pb(os.path.join(dsd, "output_%d.pb" % k))))
        lines = ["test %s/%s %s %d %d %d" % (name, ds, node.op_type, opset, len(node.input), len(node.output))]
        for a in node.attribute:
            l = attr_line(a)
            if l is None:
                return n_done
            lines.append(l)
        for k, nm in enumerate(node.input):
            if nm == "":
                lines.append("in %d -" % k)
                continue
            s = fmt_tensor(vals[nm])
            if s is None:
                return n_done
            lines.append("in %d %s" % (k, s))
        for k, nm in enumerate(node.output):
            match = [v for (on, v) in outs if on == nm]
            if nm == "" or not match:
                lines.append("out %d -" % k)
                continue
            s = fmt_tensor(match[0])
            if s is None:
                return n_done
            lines.append("out %d %s" % (k, s))
        lines.append("end")
        out.write("\n".join(lines) + "\n")
        n_done += 1
    return n_done


def main():
    data, dest = sys.argv[1], sys.argv[2]
    n = 0
    with open(dest + ".tmp", "w") as out:
        for part in ("node", "pytorch-operator", "pytorch-converted"):
            base = os.path.join(data, part)
            if not os.path.isdir(base):
                continue
            for t in sorted(os.listdir(base)):
                d = os.path.join(base, t)
                if os.path.exists(os.path.join(d, "model.onnx")):
                    n += dump_test(d, part + "/" + t, out)
    os.replace(dest + ".tmp", dest)
    print("opsb_dump: %d test data sets written to %s" % (n, dest))
    return 0 if n > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
