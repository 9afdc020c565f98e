"""RobustVideoMatting-style network (Lin et al., "Robust High-Resolution Video Matting with Temporal
Guidance", 2021), written from the paper: a MobileNetV3-Large or ResNet-50 encoder, an LR-ASPP
module, a recurrent decoder of ConvGRU units at 1/16, 1/8, 1/4, 1/2 resolution, and a Deep Guided
Filter refiner that upsamples the low-resolution prediction to full resolution.

Interface (the official RVM ONNX export's): inputs src[N,3,H,W] in [0,1], r1i..r4i (recurrent states;
zeros of shape [1,1,1,1] at the start, broadcast by the network), downsample_ratio (float32 [1]);
outputs fgr[N,3,H,W], pha[N,1,H,W], r1o..r4o.
`width="tiny"` builds a small-width variant (own encoder) for CPU tests.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from common import conv_bn_act, resize_by_ratio


class MobileNetV3LargeEncoder(nn.Module):
    channels = (16, 24, 40, 960)

    def __init__(self):
        super().__init__()
        import torchvision
        # dilated=True keeps the last stage at 1/16 with dilated convolutions, as RVM does.
        self.features = torchvision.models.mobilenet_v3_large(weights=None, dilated=True).features

    def forward(self, x):
        f = self.features
        f1 = f[1](f[0](x))
        f2 = f[3](f[2](f1))
        f3 = f[6](f[5](f[4](f2)))
        x = f3
        for i in range(7, 17):
            x = f[i](x)
        return f1, f2, f3, x


class ResNet50Encoder(nn.Module):
    channels = (64, 256, 512, 2048)

    def __init__(self):
        super().__init__()
        import torchvision
        self.net = torchvision.models.resnet50(weights=None, replace_stride_with_dilation=[False, False, True])

    def forward(self, x):
        n = self.net
        f1 = n.relu(n.bn1(n.conv1(x)))
        f2 = n.layer1(n.maxpool(f1))
        f3 = n.layer2(f2)
        f4 = n.layer4(n.layer3(f3))
        return f1, f2, f3, f4


class TinyEncoder(nn.Module):
    """Small-width stand-in with the same strides (1/2, 1/4, 1/8, 1/16) and op mix (depthwise conv,
    HardSwish, squeeze-excite with HardSigmoid), for fast CPU tests."""
    channels = (8, 12, 16, 24)

    def __init__(self):
        super().__init__()
        c = self.channels
        self.s1 = conv_bn_act(3, c[0], 3, 2, nn.Hardswish)
        self.s2 = nn.Sequential(conv_bn_act(c[0], c[0], 3, 2, nn.ReLU, groups=c[0]), conv_bn_act(c[0], c[1], 1))
        self.s3 = nn.Sequential(conv_bn_act(c[1], c[1], 5, 2, nn.Hardswish, groups=c[1]), conv_bn_act(c[1], c[2], 1))
        self.s4 = nn.Sequential(conv_bn_act(c[2], c[3], 3, 2, nn.Hardswish), conv_bn_act(c[3], c[3], 3, 1, nn.Hardswish, dilation=2))
        self.se = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(c[3], 8, 1), nn.ReLU(), nn.Conv2d(8, c[3], 1), nn.Hardsigmoid())

    def forward(self, x):
        f1 = self.s1(x)
        f2 = self.s2(f1)
        f3 = self.s3(f2)
        f4 = self.s4(f3)
        return f1, f2, f3, f4 * self.se(f4)


class LRASPP(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.aspp1 = nn.Sequential(nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True))
        self.aspp2 = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(cin, cout, 1, bias=False), nn.Sigmoid())

    def forward(self, x):
        return self.aspp1(x) * self.aspp2(x)


class ConvGRU(nn.Module):
    def __init__(self, ch):
        super().__init__()
        self.ch = ch
        self.ih = nn.Sequential(nn.Conv2d(ch * 2, ch * 2, 3, padding=1), nn.Sigmoid())
        self.hh = nn.Sequential(nn.Conv2d(ch * 2, ch, 3, padding=1), nn.Tanh())

    def forward(self, x, h):
        # h may be the [1,1,1,1] zero start state: broadcast it to x's shape.
        h = h.expand_as(x)
        r, z = self.ih(torch.cat([x, h], dim=1)).split(self.ch, dim=1)
        c = self.hh(torch.cat([x, r * h], dim=1))
        h = (1 - z) * h + z * c
        return h, h


class BottleneckBlock(nn.Module):
    def __init__(self, ch):
        super().__init__()
        self.ch = ch
        self.gru = ConvGRU(ch // 2)

    def forward(self, x, r):
        a, b = x.split(self.ch // 2, dim=1)
        b, r = self.gru(b, r)
        return torch.cat([a, b], dim=1), r


class UpsamplingBlock(nn.Module):
    def __init__(self, cin, cskip, csrc, cout):
        super().__init__()
        self.cout = cout
        self.conv = conv_bn_act(cin + cskip + csrc, cout, 3)
        self.gru = ConvGRU(cout // 2)

    def forward(self, x, f, s, r):
        x = F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)
        x = x[:, :, :s.size(2), :s.size(3)]
        x = self.conv(torch.cat([x, f, s], dim=1))
        a, b = x.split(self.cout // 2, dim=1)
        b, r = self.gru(b, r)
        return torch.cat([a, b], dim=1), r


class OutputBlock(nn.Module):
    def __init__(self, cin, csrc, cout):
        super().__init__()
        self.conv = nn.Sequential(conv_bn_act(cin + csrc, cout, 3), conv_bn_act(cout, cout, 3))

    def forward(self, x, s):
        x = F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)
        x = x[:, :, :s.size(2), :s.size(3)]
        return self.conv(torch.cat([x, s], dim=1))


class RecurrentDecoder(nn.Module):
    def __init__(self, feature_ch, decoder_ch):
        super().__init__()
        self.avgpool = nn.AvgPool2d(2, 2, count_include_pad=False, ceil_mode=True)
        self.decode4 = BottleneckBlock(feature_ch[3])
        self.decode3 = UpsamplingBlock(feature_ch[3], feature_ch[2], 3, decoder_ch[0])
        self.decode2 = UpsamplingBlock(decoder_ch[0], feature_ch[1], 3, decoder_ch[1])
        self.decode1 = UpsamplingBlock(decoder_ch[1], feature_ch[0], 3, decoder_ch[2])
        self.decode0 = OutputBlock(decoder_ch[2], 3, decoder_ch[3])

    def forward(self, s0, f1, f2, f3, f4, r1, r2, r3, r4):
        s1 = self.avgpool(s0)
        s2 = self.avgpool(s1)
        s3 = self.avgpool(s2)
        x4, r4 = self.decode4(f4, r4)
        x3, r3 = self.decode3(x4, f3, s3, r3)
        x2, r2 = self.decode2(x3, f2, s2, r2)
        x1, r1 = self.decode1(x2, f1, s1, r1)
        x0 = self.decode0(x1, s0)
        return x0, r1, r2, r3, r4


class DeepGuidedFilterRefiner(nn.Module):
    def __init__(self, hid=16):
        super().__init__()
        self.box_filter = nn.Conv2d(4, 4, 3, padding=1, bias=False, groups=4)
        self.box_filter.weight.data[...] = 1 / 9
        self.conv = nn.Sequential(
            nn.Conv2d(4 * 2 + hid, hid, 1, bias=False), nn.BatchNorm2d(hid), nn.ReLU(True),
            nn.Conv2d(hid, hid, 1, bias=False), nn.BatchNorm2d(hid), nn.ReLU(True),
            nn.Conv2d(hid, 4, 1, bias=True))

    def forward(self, fine_src, base_src, base_fgr, base_pha, base_hid):
        fine_x = torch.cat([fine_src, fine_src.mean(1, keepdim=True)], dim=1)
        base_x = torch.cat([base_src, base_src.mean(1, keepdim=True)], dim=1)
        base_y = torch.cat([base_fgr, base_pha], dim=1)
        mean_x = self.box_filter(base_x)
        mean_y = self.box_filter(base_y)
        cov_xy = self.box_filter(base_x * base_y) - mean_x * mean_y
        var_x = self.box_filter(base_x * base_x) - mean_x * mean_x
        A = self.conv(torch.cat([cov_xy, var_x, base_hid], dim=1))
        b = mean_y - A * mean_x
        H, W = fine_src.shape[2:]
        A = F.interpolate(A, (H, W), mode="bilinear", align_corners=False)
        b = F.interpolate(b, (H, W), mode="bilinear", align_corners=False)
        out = A * fine_x + b
        fgr, pha = out.split([3, 1], dim=1)
        return fgr, pha


class MattingNetwork(nn.Module):
    def __init__(self, variant="mobilenetv3"):
        super().__init__()
        if variant == "mobilenetv3":
            self.backbone, aspp, dec = MobileNetV3LargeEncoder(), 128, (80, 40, 32, 16)
        elif variant == "resnet50":
            self.backbone, aspp, dec = ResNet50Encoder(), 256, (128, 64, 32, 16)
        elif variant == "tiny":
            self.backbone, aspp, dec = TinyEncoder(), 16, (16, 12, 8, 8)
        else:
            raise ValueError(variant)
        ch = self.backbone.channels
        self.aspp = LRASPP(ch[3], aspp)
        self.decoder = RecurrentDecoder((ch[0], ch[1], ch[2], aspp), dec)
        self.project_mat = nn.Conv2d(dec[3], 4, 1)
        self.refiner = DeepGuidedFilterRefiner(dec[3])
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))

    def forward(self, src, r1, r2, r3, r4, downsample_ratio):
        src_sm = resize_by_ratio(src, downsample_ratio)
        f1, f2, f3, f4 = self.backbone((src_sm - self.mean) / self.std)
        f4 = self.aspp(f4)
        hid, r1, r2, r3, r4 = self.decoder(src_sm, f1, f2, f3, f4, r1, r2, r3, r4)
        fgr_res, pha = self.project_mat(hid).split([3, 1], dim=1)
        fgr_res, pha = self.refiner(src, src_sm, fgr_res, pha, hid)
        fgr = (fgr_res + src).clamp(0.0, 1.0)
        pha = pha.clamp(0.0, 1.0)
        return fgr, pha, r1, r2, r3, r4


INPUT_NAMES = ["src", "r1i", "r2i", "r3i", "r4i", "downsample_ratio"]
OUTPUT_NAMES = ["fgr", "pha", "r1o", "r2o", "r3o", "r4o"]


def example_inputs(n=1, h=1080, w=1920, ratio=0.25, dtype=torch.float32, device="cpu", seed=0):
    g = torch.Generator(device="cpu").manual_seed(seed)
    src = torch.rand(n, 3, h, w, generator=g).to(device=device, dtype=dtype)
    z = torch.zeros(1, 1, 1, 1, dtype=dtype, device=device)
    return (src, z, z, z, z, torch.tensor([ratio], dtype=torch.float32, device=device))
