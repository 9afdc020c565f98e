/*
 * fp_autoconf — the settings policy. See fp_autoconf.h for the rules; this file is their only copy.
 */
#include "pipeline/fp_autoconf.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/fp_error.h"
#include "pipeline/fp_mem.h"

#define GIB (1024.0 * 1024 * 1024)

static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

int fp_autoconf(const fp_autoconf_in *in, fp_autoconf_out *out)
{
    int w = in->width ? in->width : 1920, h = in->height ? in->height : 1080;
    int bps = in->bit_depth > 8 ? 2 : 1;
    int cores = in->cpu_cores > 0 ? in->cpu_cores : (int)sysconf(_SC_NPROCESSORS_ONLN);
    uint64_t host = in->host_mem_available ? in->host_mem_available : fp_mem_available_ram();
    double act = in->model_act_factor > 0 ? in->model_act_factor : 24;
    uint64_t px, host_budget;
    int host_frames;

    memset(out, 0, sizeof(*out));
    if (w < 0 || h < 0 || w > 32768 || h > 32768)
        return FP_EINVAL;
    if (cores < 1)
        cores = 1;
    px = (uint64_t)w * h;
    out->host_frame_bytes = px * 4;

    if (in->gpu && in->gpu->mem_free) {
        uint64_t input = px * 3 * 2;
        uint64_t free_b = in->gpu->mem_free, reserve = (uint64_t)GIB;
        uint64_t budget = free_b * 7 / 10 > reserve ? free_b * 7 / 10 - reserve : 0;
        uint64_t per_batch_frame, left;
        out->gpu_frame_bytes = px * 3 / 2 * bps + input + (uint64_t)(act * input) + px * 4;
        out->gpu_budget = budget;
        per_batch_frame = out->gpu_frame_bytes;
        out->batch = 1;
        while (out->batch < 16 && per_batch_frame * (uint64_t)(out->batch * 2) <= budget / 2)
            out->batch *= 2;
        /* queued frames hold only the decoded surface + model input, not activations */
        left = budget > per_batch_frame * out->batch ? budget - per_batch_frame * out->batch : 0;
        out->gpu_queue_depth = clampi((int)(left / (px * 3 / 2 * bps + input)), 2, 32);
        out->gpu_queue_depth = clampi(out->gpu_queue_depth, 2, clampi(2 * out->batch, 2, 32));
        out->encoders = clampi(cores - 2, 1, 16);
        snprintf(out->why, sizeof(out->why),
                 "GPU %d: %.1f GiB free -> %.1f GiB budget, %.0f MiB per frame in flight at %dx%d",
                 in->gpu->index, free_b / GIB, budget / GIB, out->gpu_frame_bytes / 1048576.0, w, h);
        if (out->batch == 1 && per_batch_frame > budget / 2)
            snprintf(out->why + strlen(out->why), sizeof(out->why) - strlen(out->why),
                     "; memory is tight: expect slow runs or out-of-memory at this size");
    } else {
        out->batch = 1;
        out->gpu_queue_depth = 0;
        out->encoders = clampi(cores / 2, 1, 16);
        snprintf(out->why, sizeof(out->why), "CPU only: %d cores shared by the model and %d encoder%s",
                 cores, out->encoders, out->encoders == 1 ? "" : "s");
    }
    /* The encoder pool buffers whole segments itself (--encode-buffer); this queue only decouples the
     * model from the pool's hand-off, so a few frames do, and never more than 512 MiB of them (an 8K
     * RGBA frame is 128 MiB: 28 of them pinned on the device path was a 2026-11-22 out-of-memory). */
    host_budget = host / 4 < (512ULL << 20) ? host / 4 : (512ULL << 20);
    host_frames = out->host_frame_bytes ? (int)(host_budget / out->host_frame_bytes) : 4;
    out->host_queue_depth = clampi(clampi(2 * out->encoders, 4, 8), 2, host_frames > 2 ? host_frames : 2);
    return 0;
}
