#!/usr/bin/env python3
"""The way users matte a video today, as the benchmark's baseline (GPU machine): OpenCV decodes,
PyTorch runs the RVM-style model in fp16 on the GPU frame by frame (recurrent state carried), and the
RGBA frames are piped to an `ffmpeg` process encoding libvpx-vp9 with alpha (yuva420p) in WebM.

The model is rebuilt with bench/models/export.py's build(), which seeds the same way the ONNX export
did, so the weights are the ones framepipe runs. Prints one JSON line: frames, seconds, fps, peak GPU
memory. Usage: baseline.py MODEL_NAME IN OUT.webm [--ratio R] [--ffmpeg PATH] [--frames N]
"""
import argparse
import json
import os
import subprocess
import sys
import time

import cv2
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models"))
import export  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("input")
    ap.add_argument("output")
    ap.add_argument("--ratio", type=float, default=0.0)
    ap.add_argument("--ffmpeg", default="/tmp/ffmin/bin/ffmpeg")
    ap.add_argument("--frames", type=int, default=0)
    a = ap.parse_args()

    cap = cv2.VideoCapture(a.input)
    w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    fps = cap.get(cv2.CAP_PROP_FPS) or 25
    ratio = a.ratio or max(1 / 16, min(1.0, int(512 / max(w, h) * 16) / 16))
    model = export.build(a.model, False).cuda().half().eval()
    enc = subprocess.Popen([a.ffmpeg, "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgba", "-s", f"{w}x{h}",
                            "-r", str(fps), "-i", "-", "-c:v", "libvpx-vp9", "-pix_fmt", "yuva420p",
                            "-row-mt", "1", a.output], stdin=subprocess.PIPE)
    rec = [None] * 4
    n = 0
    torch.cuda.reset_peak_memory_stats()
    t0 = time.time()
    with torch.no_grad():
        while True:
            ok, bgr = cap.read()
            if not ok or (a.frames and n >= a.frames):
                break
            src = torch.from_numpy(bgr).cuda().flip(-1).permute(2, 0, 1)[None].half() / 255
            if rec[0] is None:
                rec = [torch.zeros(1, 1, 1, 1, device="cuda", dtype=torch.half)] * 4
            fgr, pha, *rec = model(src, *rec, torch.tensor([ratio], device="cuda"))
            rgba = torch.cat([fgr, pha], 1)[0].clamp(0, 1).mul(255).byte().permute(1, 2, 0).contiguous()
            enc.stdin.write(rgba.cpu().numpy().tobytes())
            n += 1
    enc.stdin.close()
    enc.wait()
    dt = time.time() - t0
    print(json.dumps({"baseline": "opencv+pytorch-fp16+ffmpeg-libvpx-vp9", "model": a.model, "input": a.input,
                      "size": f"{w}x{h}", "ratio": ratio, "frames": n, "seconds": round(dt, 3),
                      "fps": round(n / dt, 3) if dt > 0 else 0,
                      "gpu_peak_mib": round(torch.cuda.max_memory_allocated() / 2**20, 1),
                      "ffmpeg_rc": enc.returncode}))
    return 0 if enc.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
