#!/usr/bin/env python3
"""Reads test_progress --emit-json output on stdin: every line must be a JSON object with the
documented fields; each run ends with a "done" event whose frame count is final."""
import json
import sys

lines = [l for l in sys.stdin.read().splitlines() if l.strip()]
assert lines, "no JSON lines"
done = 0
for l in lines:
    d = json.loads(l)
    for k in ("event", "frames", "total", "fps", "eta_s", "elapsed_s", "stages"):
        assert k in d, f"missing {k}: {l}"
    assert d["event"] in ("progress", "done"), l
    assert isinstance(d["stages"], list) and all("busy_s" in s and "wait_in_s" in s for s in d["stages"])
    if d["total"] is None:
        assert d["eta_s"] is None, l
    if d["event"] == "done":
        done += 1
        assert d["frames"] == 50, l
assert done == 2, f"{done} done events"
print(f"check_progress: {len(lines)} lines OK")
