/*
 * Unit tests for fp_autoconf, the settings policy: values worked out by hand from the rules in
 * fp_autoconf.h for a large and a small GPU, monotonic in frame size and free memory, the
 * tight-memory warning, the CPU-only branch, and bad sizes refused.
 */
#include "core/fp_error.h"
#include "fp_test.h"
#include "pipeline/fp_autoconf.h"

#define GIB 1073741824ULL

static fp_autoconf_out conf(uint64_t free_b, int w, int h, int cores)
{
    fp_gpu_device d = { .index = 0, .mem_total = 80 * GIB, .mem_free = free_b };
    fp_autoconf_in in = { .width = w, .height = h, .cpu_cores = cores, .host_mem_available = 16 * GIB,
                          .gpu = free_b ? &d : NULL };
    fp_autoconf_out o;
    CHECK_EQ_INT(fp_autoconf(&in, &o), 0);
    return o;
}

int main(void)
{
    fp_autoconf_out o, o4k;

    /* 1080p frame in flight: NV12 3110400 + fp16 input 12441600 + 24 x input + RGBA 8294400 */
    o = conf(80 * GIB, 1920, 1080, 16);
    CHECK_EQ_INT(o.gpu_frame_bytes, 3110400ULL + 12441600ULL + 24ULL * 12441600ULL + 8294400ULL);
    CHECK_EQ_INT(o.gpu_budget, 80 * GIB * 7 / 10 - GIB);
    CHECK_EQ_INT(o.batch, 16);
    CHECK_EQ_INT(o.gpu_queue_depth, 32);
    CHECK_EQ_INT(o.encoders, 14);
    CHECK_EQ_INT(o.host_queue_depth, 8);
    CHECK_EQ_INT(conf(80 * GIB, 8192, 4096, 16).host_queue_depth, 4); /* 512 MiB / 128 MiB frames */
    CHECK_EQ_INT(o.host_frame_bytes, 1920 * 1080 * 4);

    /* 8 GiB free: budget 4.6 GiB; 1080p fits 4 frames in half of it, 4K only 1 */
    o = conf(8 * GIB, 1920, 1080, 16);
    o4k = conf(8 * GIB, 3840, 2160, 16);
    CHECK_EQ_INT(o.batch, 4);
    CHECK_EQ_INT(o4k.batch, 1);
    CHECK(o4k.gpu_queue_depth >= 2 && o4k.gpu_queue_depth <= o.gpu_queue_depth);
    CHECK(strstr(o4k.why, "memory is tight") == NULL);

    /* 2 GiB free: 4K does not fit: batch 1 and a warning */
    o4k = conf(2 * GIB, 3840, 2160, 4);
    CHECK_EQ_INT(o4k.batch, 1);
    CHECK_EQ_INT(o4k.gpu_queue_depth, 2);
    CHECK(strstr(o4k.why, "memory is tight") != NULL);
    CHECK_EQ_INT(o4k.encoders, 2);

    /* monotonic in free memory */
    for (uint64_t g = 2; g < 96; g += 6)
        CHECK(conf(g * GIB, 1920, 1080, 8).batch <= conf((g + 6) * GIB, 1920, 1080, 8).batch);

    /* CPU only */
    o = conf(0, 1920, 1080, 2);
    CHECK_EQ_INT(o.batch, 1);
    CHECK_EQ_INT(o.gpu_queue_depth, 0);
    CHECK_EQ_INT(o.encoders, 1);
    CHECK_EQ_INT(o.host_queue_depth, 4);
    CHECK(!strncmp(o.why, "CPU only: 2 cores", 17));
    CHECK_EQ_INT(conf(0, 1920, 1080, 64).encoders, 16);
    CHECK_EQ_INT(conf(0, 640, 360, 1).encoders, 1);

    /* host memory caps the host queue */
    {
        fp_autoconf_in in = { .width = 3840, .height = 2160, .cpu_cores = 32, .host_mem_available = 256ULL << 20 };
        CHECK_EQ_INT(fp_autoconf(&in, &o), 0);
        CHECK_EQ_INT(o.host_queue_depth, 2); /* 64 MiB budget / 33 MB frames -> floor of 2 */
    }
    {
        fp_autoconf_in in = { .width = -4, .height = 10 };
        CHECK_EQ_INT(fp_autoconf(&in, &o), FP_EINVAL);
        CHECK_EQ_INT(o.batch, 0);
    }
    return fp_test_finish("test_autoconf");
}
