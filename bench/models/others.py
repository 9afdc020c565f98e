"""Reference networks for the remove, classify and pose workloads, written from their papers' designs:

- Detector: a YOLO-style single-stage, anchor-free detector (CSP-style backbone with SiLU, FPN/PAN
  neck with nearest upsampling, decoupled per-level heads); output [N, boxes, 4 + classes] with boxes
  as (cx, cy, w, h) in input pixels and sigmoid class scores (NMS is the task's job, as in exports).
- Inpainter: an AOT-GAN-style image+mask network (strided encoder, aggregated contextual
  transformation blocks with four dilation rates, transposed-convolution decoder); the hole is
  composited in-graph: out = image * (1 - mask) + pred * mask.
- Pair classifier: a small ResNet on two frames stacked along channels ([N,6,h,w]) → softmax scores.
- Keypoints: a SimpleBaseline-style network (strided backbone + three ConvTranspose upsamplers) giving
  heatmaps and soft-argmax coordinates [N,K,3] = (x, y, confidence).
Each takes `tiny=True` for the small-width CPU-test variant.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from common import conv_bn_act


class SiLUConv(nn.Sequential):
    def __init__(self, cin, cout, k=3, s=1):
        super().__init__(nn.Conv2d(cin, cout, k, s, k // 2, bias=False), nn.BatchNorm2d(cout), nn.SiLU())


class CSPBlock(nn.Module):
    def __init__(self, cin, cout, n=1):
        super().__init__()
        h = cout // 2
        self.a = SiLUConv(cin, h, 1)
        self.b = SiLUConv(cin, h, 1)
        self.m = nn.Sequential(*[nn.Sequential(SiLUConv(h, h, 3), SiLUConv(h, h, 3)) for _ in range(n)])
        self.out = SiLUConv(2 * h, cout, 1)

    def forward(self, x):
        a = self.a(x)
        return self.out(torch.cat([a + self.m(a), self.b(x)], dim=1))


class Detector(nn.Module):
    def __init__(self, classes=80, tiny=False):
        super().__init__()
        w = (8, 16, 32, 64, 64) if tiny else (32, 64, 128, 256, 512)
        n = 1 if tiny else 2
        self.classes = classes
        self.stem = SiLUConv(3, w[0], 3, 2)
        self.s2 = nn.Sequential(SiLUConv(w[0], w[1], 3, 2), CSPBlock(w[1], w[1], n))
        self.s3 = nn.Sequential(SiLUConv(w[1], w[2], 3, 2), CSPBlock(w[2], w[2], n))       # /8
        self.s4 = nn.Sequential(SiLUConv(w[2], w[3], 3, 2), CSPBlock(w[3], w[3], n))       # /16
        self.s5 = nn.Sequential(SiLUConv(w[3], w[4], 3, 2), CSPBlock(w[4], w[4], n))       # /32
        self.sppf_pool = nn.MaxPool2d(5, 1, 2)
        self.sppf = SiLUConv(4 * w[4], w[4], 1)
        self.up4 = CSPBlock(w[4] + w[3], w[3], n)
        self.up3 = CSPBlock(w[3] + w[2], w[2], n)
        self.down4 = nn.Sequential(SiLUConv(w[2], w[2], 3, 2))
        self.pan4 = CSPBlock(w[2] + w[3], w[3], n)
        self.heads = nn.ModuleList([nn.Sequential(SiLUConv(c, c, 3), nn.Conv2d(c, 4 + classes, 1)) for c in (w[2], w[3])])
        self.strides = (8, 16)

    def forward(self, x):
        c3 = self.s3(self.s2(self.stem(x)))
        c4 = self.s4(c3)
        c5 = self.s5(c4)
        p1 = self.sppf_pool(c5)
        p2 = self.sppf_pool(p1)
        p3 = self.sppf_pool(p2)
        c5 = self.sppf(torch.cat([c5, p1, p2, p3], dim=1))
        p4 = self.up4(torch.cat([F.interpolate(c5, scale_factor=2.0, mode="nearest"), c4], dim=1))
        p3 = self.up3(torch.cat([F.interpolate(p4, scale_factor=2.0, mode="nearest"), c3], dim=1))
        n4 = self.pan4(torch.cat([self.down4(p3), p4], dim=1))
        outs = []
        for feat, head, stride in zip((p3, n4), self.heads, self.strides):
            o = head(feat)
            n, _, h, w = o.shape
            gy, gx = torch.meshgrid(torch.arange(h, dtype=o.dtype), torch.arange(w, dtype=o.dtype), indexing="ij")
            grid = torch.stack([gx, gy], 0).view(1, 2, h, w)
            xy = (o[:, 0:2].sigmoid() * 2 - 0.5 + grid) * stride
            wh = (o[:, 2:4].sigmoid() * 2) ** 2 * (4 * stride)
            cls = o[:, 4:].sigmoid()
            outs.append(torch.cat([xy, wh, cls], dim=1).flatten(2))
        return torch.cat(outs, dim=2).transpose(1, 2)


class AOTBlock(nn.Module):
    def __init__(self, ch, rates=(1, 2, 4, 8)):
        super().__init__()
        self.blocks = nn.ModuleList([nn.Sequential(nn.ReflectionPad2d(r), nn.Conv2d(ch, ch // 4, 3, dilation=r), nn.ReLU())
                                     for r in rates])
        self.fuse = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(ch, ch, 3))
        self.gate = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(ch, ch, 3))

    def forward(self, x):
        out = self.fuse(torch.cat([b(x) for b in self.blocks], dim=1))
        g = self.gate(x)
        mean = g.mean(dim=(2, 3), keepdim=True)
        std = g.std(dim=(2, 3), keepdim=True) + 1e-9
        m = torch.sigmoid(5 * (2 * (g - mean) / std - 1))
        return x * (1 - m) + out * m


class Inpainter(nn.Module):
    def __init__(self, tiny=False):
        super().__init__()
        c = 16 if tiny else 64
        nb = 2 if tiny else 8
        self.enc = nn.Sequential(nn.ReflectionPad2d(3), nn.Conv2d(4, c, 7), nn.ReLU(),
                                 nn.Conv2d(c, 2 * c, 4, 2, 1), nn.ReLU(),
                                 nn.Conv2d(2 * c, 4 * c, 4, 2, 1), nn.ReLU())
        self.mid = nn.Sequential(*[AOTBlock(4 * c) for _ in range(nb)])
        self.dec = nn.Sequential(nn.ConvTranspose2d(4 * c, 2 * c, 4, 2, 1), nn.ReLU(),
                                 nn.ConvTranspose2d(2 * c, c, 4, 2, 1), nn.ReLU(),
                                 nn.Conv2d(c, 3, 3, 1, 1), nn.Tanh())

    def forward(self, image, mask):
        x = torch.cat([image * (1 - mask), mask], dim=1)
        pred = self.dec(self.mid(self.enc(x))) * 0.5 + 0.5
        return image * (1 - mask) + pred * mask


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, s=1):
        super().__init__()
        self.c1 = conv_bn_act(cin, cout, 3, s)
        self.c2 = conv_bn_act(cout, cout, 3, 1, act=None)
        self.skip = conv_bn_act(cin, cout, 1, s, act=None) if (s != 1 or cin != cout) else nn.Identity()

    def forward(self, x):
        return F.relu(self.c2(self.c1(x)) + self.skip(x))


class PairClassifier(nn.Module):
    def __init__(self, classes=2, tiny=False):
        super().__init__()
        w = (8, 16, 32) if tiny else (64, 128, 256)
        self.stem = nn.Sequential(conv_bn_act(6, w[0], 7, 2), nn.MaxPool2d(3, 2, 1))
        self.layers = nn.Sequential(BasicBlock(w[0], w[0]), BasicBlock(w[0], w[1], 2), BasicBlock(w[1], w[2], 2))
        self.fc = nn.Linear(w[2], classes)

    def forward(self, pair):
        x = self.layers(self.stem(pair))
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return torch.softmax(self.fc(x), dim=1)


class KeypointNet(nn.Module):
    def __init__(self, joints=17, tiny=False):
        super().__init__()
        w = (8, 16, 32, 32) if tiny else (64, 128, 256, 512)
        d = 16 if tiny else 256
        self.backbone = nn.Sequential(conv_bn_act(3, w[0], 3, 2), BasicBlock(w[0], w[1], 2), BasicBlock(w[1], w[2], 2),
                                      BasicBlock(w[2], w[3], 2), BasicBlock(w[3], w[3], 2))          # /32
        layers, cin = [], w[3]
        for _ in range(3):
            layers += [nn.ConvTranspose2d(cin, d, 4, 2, 1, bias=False), nn.BatchNorm2d(d), nn.ReLU()]
            cin = d
        self.deconv = nn.Sequential(*layers)                                                          # /4
        self.final = nn.Conv2d(d, joints, 1)

    def forward(self, x):
        hm = self.final(self.deconv(self.backbone(x)))
        n, k, h, w = hm.shape
        p = torch.softmax(hm.flatten(2), dim=2).view(n, k, h, w)
        xs = (p.sum(dim=2) * torch.arange(w, dtype=hm.dtype)).sum(dim=2) * 4.0
        ys = (p.sum(dim=3) * torch.arange(h, dtype=hm.dtype)).sum(dim=2) * 4.0
        conf = hm.flatten(2).amax(dim=2).sigmoid()
        return hm, torch.stack([xs, ys, conf], dim=2)
