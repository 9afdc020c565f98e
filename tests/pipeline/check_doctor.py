#!/usr/bin/env python3
"""Checks `framepipe doctor` output. usage: check_doctor.py FRAMEPIPE MODE
MODE nogpu-or-any: runs --json and text; whatever the machine, the JSON parses, is self-consistent,
  exit status is 0, and a machine without a driver says so in one line ("GPU: none: ...").
MODE stub DIR: runs with LD_LIBRARY_PATH=DIR holding the CUDA toolkit's stub libcuda.so.1: no crash,
  exit 0, driver not loaded, the status names the problem.
MODE gpu: (GPU machine) at least one GPU with memory, compute capability, NVDEC probed, and an
  NVENC answer (codecs, or a note saying why there are none: the H100 has no NVENC).
MODE usage: bad options exit 2 with a message."""
import json
import os
import subprocess
import sys

exe, mode = sys.argv[1], sys.argv[2]


def run(args, env=None):
    p = subprocess.run([exe, "doctor"] + args, capture_output=True, text=True, env=env, timeout=120)
    return p.returncode, p.stdout, p.stderr


def check_json(d):
    for k in ("cpu", "driver", "gpus", "settings"):
        assert k in d, f"missing {k}"
    assert d["cpu"]["cores"] >= 1
    assert isinstance(d["driver"]["status"], str) and d["driver"]["status"]
    assert len(d["settings"]) == 2 and d["settings"][0]["width"] == 1920 and d["settings"][1]["height"] == 2160
    for s in d["settings"]:
        assert s["batch"] >= 1 and s["encoders"] >= 1 and s["host_queue_depth"] >= 2, s
    if not d["driver"]["loaded"]:
        assert d["gpus"] == [], d["gpus"]
        assert all(s["device"] == "cpu" and s["gpu_queue_depth"] == 0 for s in d["settings"])
    else:
        assert d["gpus"], "driver loaded but no GPU listed"
        assert all(s["device"] == "gpu0" for s in d["settings"])
        assert d["settings"][1]["batch"] <= d["settings"][0]["batch"], "4K batch above 1080p batch"


if mode == "any":
    rc, out, err = run(["--json"])
    assert rc == 0, (rc, err)
    d = json.loads(out)
    check_json(d)
    rc, text, err = run([])
    assert rc == 0, (rc, err)
    if not d["driver"]["loaded"]:
        lines = [l for l in text.splitlines() if l.startswith("GPU: none: ")]
        assert len(lines) == 1 and d["driver"]["status"] in lines[0], text
        assert "settings framepipe would choose (CPU)" in text, text
    rc, out, err = run(["--json", "--size", "640x360", "--no-codecs"])
    d = json.loads(out)
    assert rc == 0 and len(d["settings"]) == 1 and d["settings"][0]["width"] == 640
    assert all("nvdec" not in g for g in d["gpus"])
elif mode == "stub":
    env = dict(os.environ, LD_LIBRARY_PATH=sys.argv[3])
    rc, out, err = run(["--json"], env)
    assert rc == 0, (rc, err)
    d = json.loads(out)
    check_json(d)
    assert not d["driver"]["loaded"] and "libcuda.so.1" in d["driver"]["status"], d["driver"]
elif mode == "gpu":
    rc, out, err = run(["--json"])
    assert rc == 0, (rc, err)
    d = json.loads(out)
    check_json(d)
    assert d["driver"]["loaded"], d["driver"]["status"]
    for g in d["gpus"]:
        assert g["memory_total_bytes"] > 0 and g["memory_free_bytes"] > 0, g
        major = int(g["compute_capability"].split(".")[0])
        assert major >= 5, g["compute_capability"]
        assert g["nvdec"]["probed"], g["nvdec"]["note"]
        h264 = [c for c in g["nvdec"]["codecs"] if c["codec"] == "h264" and c["bit_depth"] == 8 and c["chroma"] == "4:2:0"]
        assert h264 and h264[0]["supported"] and h264[0]["max_width"] >= 1920, h264
        assert g["nvenc"]["available"] or g["nvenc"]["note"], g["nvenc"]
    print(json.dumps(d, indent=1))
elif mode == "usage":
    for args in (["--bogus"], ["--size"], ["--size", "10x"], ["--size", "0x0"]):
        rc, out, err = run(args)
        assert rc == 2 and "doctor" in err, (args, rc, err)
    rc, out, err = run(["--help"])
    assert rc == 0 and "--json" in out
else:
    sys.exit(f"unknown mode {mode}")
print(f"check_doctor {mode}: OK")
