"""Shared pieces for framepipe's PyTorch reference models (bench/models).

These models are written from their papers so framepipe's runtime can be checked against PyTorch on
the same weights. They run only where PyTorch is installed (the GPU machine). Export helpers here
emit the ONNX operators the workloads need (Resize with runtime scales, DeformConv opset 19) with
symbolic functions, so the graphs look like the official exports users bring.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision  # noqa: F401 — imported up front: a first import inside ONNX tracing fails


class _ResizeByRatio(torch.autograd.Function):
    """Bilinear resize by a runtime scalar ratio; exports as Resize(scales=[1,1,r,r]) whose scales come
    from a graph input (RVM's official export feeds `downsample_ratio` into Resize this way)."""

    @staticmethod
    def forward(ctx, x, ratio):
        r = float(ratio.reshape(-1)[0])
        return F.interpolate(x, scale_factor=(r, r), mode="bilinear", align_corners=False,
                             recompute_scale_factor=False)

    @staticmethod
    def symbolic(g, x, ratio):
        one = g.op("Constant", value_t=torch.tensor([1.0, 1.0], dtype=torch.float32))
        r = g.op("Cast", g.op("Reshape", ratio, g.op("Constant", value_t=torch.tensor([1]))), to_i=1)
        scales = g.op("Concat", one, r, r, axis_i=0)
        roi = g.op("Constant", value_t=torch.tensor([], dtype=torch.float32))
        return g.op("Resize", x, roi, scales, mode_s="linear",
                    coordinate_transformation_mode_s="pytorch_half_pixel")


def resize_by_ratio(x, ratio):
    return _ResizeByRatio.apply(x, ratio)


class _DeformConv(torch.autograd.Function):
    """torchvision's deform_conv2d, exported as ONNX DeformConv (opset 19)."""

    @staticmethod
    def forward(ctx, x, offset, mask, weight, bias, stride, padding, dilation, groups, offset_groups):
        return torchvision.ops.deform_conv2d(x, offset, weight, bias, stride=stride, padding=padding,
                                             dilation=dilation, mask=mask)

    @staticmethod
    def symbolic(g, x, offset, mask, weight, bias, stride, padding, dilation, groups, offset_groups):
        return g.op("DeformConv", x, weight, offset, bias, mask,
                    dilations_i=list(dilation), group_i=groups, offset_group_i=offset_groups,
                    kernel_shape_i=[weight.type().sizes()[2], weight.type().sizes()[3]]
                    if weight.type().sizes() else [3, 3],
                    pads_i=[padding[0], padding[1], padding[0], padding[1]], strides_i=list(stride))


def deform_conv2d(x, offset, mask, weight, bias, stride=(1, 1), padding=(1, 1), dilation=(1, 1),
                  groups=1, offset_groups=1):
    return _DeformConv.apply(x, offset, mask, weight, bias, tuple(stride), tuple(padding),
                             tuple(dilation), groups, offset_groups)


def conv_bn_act(cin, cout, k=3, s=1, act=nn.ReLU, groups=1, dilation=1):
    layers = [nn.Conv2d(cin, cout, k, s, padding=dilation * (k // 2), bias=False, groups=groups,
                        dilation=dilation), nn.BatchNorm2d(cout)]
    if act is not None:
        layers.append(act())
    return nn.Sequential(*layers)


def randomize_bn(model, seed=0):
    """Give BatchNorm layers non-trivial statistics so folding/ordering errors show up in tests."""
    gen = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):
            with torch.no_grad():
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=gen) * 0.1)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=gen) * 0.5 + 0.75)
                m.weight.copy_(torch.rand(m.weight.shape, generator=gen) * 0.5 + 0.75)
                m.bias.copy_(torch.randn(m.bias.shape, generator=gen) * 0.1)
    return model
