"""BasicVSR++-style video super-resolution network (Chan et al., "BasicVSR++: Improving Video
Super-Resolution with Enhanced Propagation and Alignment", CVPR 2022), written from the paper:
SPyNet optical flow, second-order grid propagation in four branches (backward/forward twice), flow-
guided deformable alignment (modulated deformable convolution exported as ONNX DeformConv, 16 offset
groups, 3x3), reconstruction with residual blocks and two pixel-shuffle x2 steps (x4 total).

Input lqs[N,T,3,H,W] in [0,1]; output [N,T,3,4H,4W]. c64n7 = 64 channels, 7 residual blocks per
propagation branch. `mid=16, blocks=1, spynet_levels=3` gives the small CPU-test variant.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from common import deform_conv2d


def flow_warp(x, flow):
    """Warp x [N,C,H,W] by flow [N,H,W,2] (pixels), bilinear, zeros outside (BasicVSR's flow_warp)."""
    n, _, h, w = x.shape
    gy, gx = torch.meshgrid(torch.arange(h, dtype=x.dtype, device=x.device),
                            torch.arange(w, dtype=x.dtype, device=x.device), indexing="ij")
    grid = torch.stack((gx, gy), dim=2).unsqueeze(0) + flow
    gx = 2.0 * grid[..., 0] / max(w - 1, 1) - 1.0
    gy = 2.0 * grid[..., 1] / max(h - 1, 1) - 1.0
    return F.grid_sample(x, torch.stack((gx, gy), dim=3), mode="bilinear", padding_mode="zeros",
                         align_corners=True)


class SPyNetBasicModule(nn.Module):
    def __init__(self):
        super().__init__()
        chans = [8, 32, 64, 32, 16, 2]
        layers = []
        for i in range(5):
            layers.append(nn.Conv2d(chans[i], chans[i + 1], 7, padding=3))
            if i < 4:
                layers.append(nn.ReLU())
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


class SPyNet(nn.Module):
    def __init__(self, levels=6):
        super().__init__()
        self.levels = levels
        self.basic = nn.ModuleList([SPyNetBasicModule() for _ in range(levels)])
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))

    def compute_flow(self, ref, supp):
        n, _, h, w = ref.shape
        ref = [(ref - self.mean) / self.std]
        supp = [(supp - self.mean) / self.std]
        for _ in range(self.levels - 1):
            ref.append(F.avg_pool2d(ref[-1], 2, 2, count_include_pad=False))
            supp.append(F.avg_pool2d(supp[-1], 2, 2, count_include_pad=False))
        ref, supp = ref[::-1], supp[::-1]
        flow = ref[0].new_zeros(n, 2, ref[0].shape[2], ref[0].shape[3])
        for lvl in range(self.levels):
            if lvl == 0:
                up = flow
            else:
                up = F.interpolate(flow, scale_factor=2.0, mode="bilinear", align_corners=True) * 2.0
            warped = flow_warp(supp[lvl], up.permute(0, 2, 3, 1))
            flow = up + self.basic[lvl](torch.cat([ref[lvl], warped, up], dim=1))
        return flow

    def forward(self, ref, supp):
        h, w = ref.shape[2:]
        q = 2 ** (self.levels - 1)
        hu, wu = (h + q - 1) // q * q, (w + q - 1) // q * q
        ref_u = F.interpolate(ref, (hu, wu), mode="bilinear", align_corners=False)
        supp_u = F.interpolate(supp, (hu, wu), mode="bilinear", align_corners=False)
        flow = F.interpolate(self.compute_flow(ref_u, supp_u), (h, w), mode="bilinear", align_corners=False)
        scale = torch.tensor([w / wu, h / hu], dtype=flow.dtype, device=flow.device).view(1, 2, 1, 1)
        return flow * scale


class ResidualBlock(nn.Module):
    def __init__(self, ch):
        super().__init__()
        self.conv1 = nn.Conv2d(ch, ch, 3, padding=1)
        self.conv2 = nn.Conv2d(ch, ch, 3, padding=1)

    def forward(self, x):
        return x + self.conv2(F.relu(self.conv1(x))) * 0.1


def residual_blocks(cin, ch, n):
    return nn.Sequential(nn.Conv2d(cin, ch, 3, padding=1), nn.LeakyReLU(0.1), *[ResidualBlock(ch) for _ in range(n)])


class SecondOrderDeformableAlignment(nn.Module):
    def __init__(self, ch, deform_groups=16, max_residue_magnitude=10.0):
        super().__init__()
        self.dg = deform_groups
        self.mrm = max_residue_magnitude
        self.weight = nn.Parameter(torch.randn(ch, 2 * ch, 3, 3) * (1.0 / (2 * ch * 9) ** 0.5))
        self.bias = nn.Parameter(torch.zeros(ch))
        self.conv_offset = nn.Sequential(
            nn.Conv2d(3 * ch + 4, ch, 3, padding=1), nn.LeakyReLU(0.1),
            nn.Conv2d(ch, ch, 3, padding=1), nn.LeakyReLU(0.1),
            nn.Conv2d(ch, ch, 3, padding=1), nn.LeakyReLU(0.1),
            nn.Conv2d(ch, 27 * deform_groups, 3, padding=1))
        with torch.no_grad():  # small but non-zero offsets so the deformable path is exercised
            self.conv_offset[-1].weight.mul_(0.1)

    def forward(self, x, extra_feat, flow_1, flow_2):
        out = self.conv_offset(torch.cat([extra_feat, flow_1, flow_2], dim=1))
        o1, o2, mask = torch.chunk(out, 3, dim=1)
        offset = self.mrm * torch.tanh(torch.cat((o1, o2), dim=1))
        offset_1, offset_2 = torch.chunk(offset, 2, dim=1)
        offset_1 = offset_1 + flow_1.flip(1).repeat(1, offset_1.size(1) // 2, 1, 1)
        offset_2 = offset_2 + flow_2.flip(1).repeat(1, offset_2.size(1) // 2, 1, 1)
        offset = torch.cat([offset_1, offset_2], dim=1)
        mask = torch.sigmoid(mask)
        return deform_conv2d(x, offset, mask, self.weight, self.bias, (1, 1), (1, 1), (1, 1), 1, self.dg)


class BasicVSRPlusPlus(nn.Module):
    BRANCHES = ("backward_1", "forward_1", "backward_2", "forward_2")

    def __init__(self, mid=64, blocks=7, spynet_levels=6, deform_groups=16):
        super().__init__()
        self.mid = mid
        self.spynet = SPyNet(spynet_levels)
        self.feat_extract = residual_blocks(3, mid, 5 if blocks >= 5 else blocks)
        self.align = nn.ModuleDict()
        self.backbone = nn.ModuleDict()
        for i, name in enumerate(self.BRANCHES):
            self.align[name] = SecondOrderDeformableAlignment(mid, deform_groups)
            self.backbone[name] = residual_blocks((2 + i) * mid, mid, blocks)
        self.reconstruction = residual_blocks(5 * mid, mid, 5 if blocks >= 5 else blocks)
        self.upconv1 = nn.Conv2d(mid, mid * 4, 3, padding=1)
        self.upconv2 = nn.Conv2d(mid, 64 * 4, 3, padding=1)
        self.conv_hr = nn.Conv2d(64, 64, 3, padding=1)
        self.conv_last = nn.Conv2d(64, 3, 3, padding=1)

    def propagate(self, feats, flows, name):
        t = len(feats["spatial"])
        idx = list(range(t))
        if name.startswith("backward"):
            idx = idx[::-1]
        out = []
        feat_prop = feats["spatial"][0].new_zeros(feats["spatial"][0].shape[0], self.mid, *feats["spatial"][0].shape[2:])
        for i, ti in enumerate(idx):
            cur = feats["spatial"][ti]
            if i > 0:
                back = name.startswith("backward")
                flow_1 = flows[ti] if back else flows[ti - 1]
                cond_n1 = flow_warp(feat_prop, flow_1.permute(0, 2, 3, 1))
                feat_n2 = torch.zeros_like(feat_prop)
                flow_2 = torch.zeros_like(flow_1)
                cond_n2 = torch.zeros_like(cond_n1)
                if i > 1:
                    feat_n2 = out[-2]
                    f2 = flows[ti + 1] if back else flows[ti - 2]
                    flow_2 = flow_1 + flow_warp(f2, flow_1.permute(0, 2, 3, 1))
                    cond_n2 = flow_warp(feat_n2, flow_2.permute(0, 2, 3, 1))
                cond = torch.cat([cond_n1, cur, cond_n2], dim=1)
                feat_prop = self.align[name](torch.cat([feat_prop, feat_n2], dim=1), cond, flow_1, flow_2)
            feat = [cur] + [feats[k][ti] for k in feats if k not in ("spatial", name)] + [feat_prop]
            feat_prop = feat_prop + self.backbone[name](torch.cat(feat, dim=1))
            out.append(feat_prop)
        if name.startswith("backward"):
            out = out[::-1]
        feats[name] = out
        return feats

    def forward(self, lqs):
        n, t, c, h, w = lqs.shape
        flat = lqs.reshape(n * t, c, h, w)
        feats_ = self.feat_extract(flat).view(n, t, -1, h, w)
        feats = {"spatial": [feats_[:, i] for i in range(t)]}
        # flows_backward[i]: flow from frame i to frame i+1 (warps i+1 onto i); forward the reverse.
        ref = lqs[:, :-1].reshape(-1, c, h, w)
        supp = lqs[:, 1:].reshape(-1, c, h, w)
        fb = self.spynet(ref, supp).view(n, t - 1, 2, h, w)
        ff = self.spynet(supp, ref).view(n, t - 1, 2, h, w)
        flows_backward = {i: fb[:, i] for i in range(t - 1)}   # used by backward branches, key = frame i
        flows_forward = {i: ff[:, i] for i in range(t - 1)}    # key = frame i (flow i+1 -> i)
        for name in self.BRANCHES:
            flows = flows_backward if name.startswith("backward") else flows_forward
            feats = self.propagate(feats, flows, name)
        outs = []
        base = F.interpolate(flat, scale_factor=4.0, mode="bilinear", align_corners=False).view(n, t, c, 4 * h, 4 * w)
        for i in range(t):
            hr = torch.cat([feats[k][i] for k in feats], dim=1)
            hr = self.reconstruction(hr)
            hr = F.leaky_relu(F.pixel_shuffle(self.upconv1(hr), 2), 0.1)
            hr = F.leaky_relu(F.pixel_shuffle(self.upconv2(hr), 2), 0.1)
            hr = F.leaky_relu(self.conv_hr(hr), 0.1)
            hr = self.conv_last(hr) + base[:, i]
            outs.append(hr)
        return torch.stack(outs, dim=1)
