#!/usr/bin/python3
"""Fixtures for run-time output shapes (tests/nn/test_dynamic.c): two detector-style graphs whose
NonMaxSuppression reads activations, with expected outputs from an independent numpy NMS.
  nms_dyn.onnx : feat[1,8,N] -> Conv1x1 -> Relu -> boxes[1,N,4]; Conv1x1 -> Sigmoid -> scores[1,3,N];
                 NonMaxSuppression -> selected[K,3]; Gather(boxes[0], selected[:,2]) -> sel_boxes[K,4]
  topk_nms.onnx: same heads, one class: TopK(scores, 64) -> Gather the boxes -> NMS -> selected[K,3]
N = 1024, so feat (8192 elements) is too large to be a plan-key value input: the runtime must size
NMS's output at run time. Run with Debian's /usr/bin/python3 (python3-onnx, numpy).
Writes <name>.onnx, <name>_in<k>.npy (two inputs giving different K) and <name>_out<k>_<output>.npy.
"""
import os
import numpy as np
import onnx
from onnx import TensorProto as T, helper as h, numpy_helper as nh

D = os.path.dirname(os.path.abspath(__file__))
N, C = 1024, 3
rng = np.random.default_rng(7)
W1 = (rng.standard_normal((4, 8, 1)) * 0.5).astype(np.float32)
W2 = (rng.standard_normal((C, 8, 1)) * 0.5).astype(np.float32)


def nms_ref(boxes, scores, maxk, iou_thr, score_thr):
    out = []
    for b in range(boxes.shape[0]):
        for c in range(scores.shape[1]):
            s = scores[b, c]
            order = [i for i in np.argsort(-s, kind="stable") if s[i] > score_thr]
            keep = []
            for i in order:
                if len(keep) >= maxk:
                    break
                ok = True
                for j in keep:
                    if iou(boxes[b, i], boxes[b, j]) > iou_thr:
                        ok = False
                        break
                if ok:
                    keep.append(i)
            out += [[b, c, i] for i in keep]
    return np.array(out, dtype=np.int64).reshape(-1, 3)


def iou(a, b):
    ay1, ay2 = min(a[0], a[2]), max(a[0], a[2])
    ax1, ax2 = min(a[1], a[3]), max(a[1], a[3])
    by1, by2 = min(b[0], b[2]), max(b[0], b[2])
    bx1, bx2 = min(b[1], b[3]), max(b[1], b[3])
    ih = max(0.0, min(ay2, by2) - max(ay1, by1))
    iw = max(0.0, min(ax2, bx2) - max(ax1, bx1))
    inter = ih * iw
    union = (ay2 - ay1) * (ax2 - ax1) + (by2 - by1) * (bx2 - bx1) - inter
    return 0.0 if union <= 0 else inter / union


def heads(feat):
    relu = np.maximum(np.einsum("oc,bcn->bon", W1[:, :, 0], feat), 0)      # [1,4,N]
    boxes = relu.transpose(0, 2, 1).astype(np.float32)                     # [1,N,4]
    sc = 1 / (1 + np.exp(-np.einsum("oc,bcn->bon", W2[:, :, 0], feat)))    # [1,C,N]
    return boxes, sc.astype(np.float32)


def common_nodes():
    return [
        h.make_node("Conv", ["feat", "W1"], ["c1"], name="conv_box"),
        h.make_node("Relu", ["c1"], ["r1"], name="relu_box"),
        h.make_node("Transpose", ["r1"], ["boxes"], perm=[0, 2, 1], name="to_boxes"),
        h.make_node("Conv", ["feat", "W2"], ["c2"], name="conv_score"),
        h.make_node("Sigmoid", ["c2"], ["scores"], name="sigmoid"),
    ]


def inits(extra):
    return [nh.from_array(W1, "W1"), nh.from_array(W2, "W2")] + [nh.from_array(v, k) for k, v in extra.items()]


def save(name, graph, outs_fn):
    m = h.make_model(graph, opset_imports=[h.make_opsetid("", 13)], producer_name="make_dynamic.py")
    m.ir_version = 8
    onnx.checker.check_model(m)
    onnx.save(m, os.path.join(D, name + ".onnx"))
    for k, scale in enumerate([1.0, 2.0]):
        feat = (rng.standard_normal((1, 8, N)) * scale).astype(np.float32)
        np.save(os.path.join(D, f"{name}_in{k}.npy"), feat)
        for oname, arr in outs_fn(feat).items():
            np.save(os.path.join(D, f"{name}_out{k}_{oname}.npy"), arr)
            print(name, k, oname, arr.shape)


feat_in = h.make_tensor_value_info("feat", T.FLOAT, [1, 8, N])
consts = {"maxk": np.array([200], np.int64), "iou": np.array([0.2], np.float32),
          "thr": np.array([0.8], np.float32), "two": np.array(2, np.int64), "zero": np.array([0], np.int64)}

# nms_dyn
nodes = common_nodes() + [
    h.make_node("NonMaxSuppression", ["boxes", "scores", "maxk", "iou", "thr"], ["selected"], name="nms"),
    h.make_node("Gather", ["selected", "two"], ["idx"], axis=1, name="box_index"),
    h.make_node("Squeeze", ["boxes", "zero"], ["boxes0"], name="squeeze"),
    h.make_node("Gather", ["boxes0", "idx"], ["sel_boxes"], axis=0, name="gather_boxes"),
]
g = h.make_graph(nodes, "nms_dyn", [feat_in],
                 [h.make_tensor_value_info("selected", T.INT64, ["K", 3]),
                  h.make_tensor_value_info("sel_boxes", T.FLOAT, ["K", 4])], inits(consts))


def nms_dyn_ref(feat):
    boxes, sc = heads(feat)
    sel = nms_ref(boxes, sc, 200, 0.2, 0.8)
    return {"selected": sel, "sel_boxes": boxes[0][sel[:, 2]]}


save("nms_dyn", g, nms_dyn_ref)

# topk_nms: class 0 only, top 64 by score, then NMS on those
K = 64
consts2 = {"maxk": np.array([64], np.int64), "iou": np.array([0.1], np.float32),
           "thr": np.array([0.5], np.float32), "k": np.array([K], np.int64),
           "zero": np.array([0], np.int64), "s0": np.array([0], np.int64), "e1": np.array([1], np.int64),
           "ax1": np.array([1], np.int64)}
nodes = common_nodes() + [
    h.make_node("Slice", ["scores", "s0", "e1", "ax1"], ["s_cls0"], name="class0"),        # [1,1,N]
    h.make_node("Squeeze", ["s_cls0", "zero"], ["s_flat"], name="sq_scores"),              # [1,N]
    h.make_node("TopK", ["s_flat", "k"], ["top_s", "top_i"], axis=1, name="topk"),         # [1,64]
    h.make_node("Squeeze", ["boxes", "zero"], ["boxes0"], name="sq_boxes"),                # [N,4]
    h.make_node("Squeeze", ["top_i", "zero"], ["top_i0"], name="sq_idx"),                  # [64]
    h.make_node("Gather", ["boxes0", "top_i0"], ["cand0"], axis=0, name="gather_cand"),    # [64,4]
    h.make_node("Unsqueeze", ["cand0", "zero"], ["cand"], name="unsq_cand"),               # [1,64,4]
    h.make_node("Unsqueeze", ["top_s", "zero"], ["cand_s"], name="unsq_scores"),           # [1,1,64]
    h.make_node("NonMaxSuppression", ["cand", "cand_s", "maxk", "iou", "thr"], ["selected"], name="nms"),
]
g = h.make_graph(nodes, "topk_nms", [feat_in],
                 [h.make_tensor_value_info("selected", T.INT64, ["K", 3])], inits(consts2))


def topk_nms_ref(feat):
    boxes, sc = heads(feat)
    s = sc[0, 0]
    top = np.argsort(-s, kind="stable")[:K]
    cand = boxes[0][top][None]
    return {"selected": nms_ref(cand, s[top][None, None], 64, 0.1, 0.5)}


save("topk_nms", g, topk_nms_ref)
