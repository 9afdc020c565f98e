/*
 * test_key — the chroma key maths on float RGB: key colour and its shades transparent, other hues
 * opaque, the softness ramp linear and monotone, layouts NCHW/NHWC equal, bad planes refused.
 */
#include "media/fp_key.h"

#include "fp_test.h"

static void fill(float *px, int layout, int w, int h, int i, float r, float g, float b)
{
    size_t plane = (size_t)w * h;
    if (layout == FP_LAYOUT_NCHW) {
        px[i] = r;
        px[plane + i] = g;
        px[2 * plane + i] = b;
    } else {
        px[3 * i] = r;
        px[3 * i + 1] = g;
        px[3 * i + 2] = b;
    }
}

int main(void)
{
    const int w = 7, h = 3; /* awkward width: no vector-friendly multiple */
    float rgb[3 * 7 * 3], a_nchw[7 * 3], a_nhwc[7 * 3];
    fp_key k = { { 0, 1, 0 }, 0.1f, 0.2f };
    fp_planar P = { rgb, FP_LAYOUT_NCHW, FP_DTYPE_F32, 3, w, h, 0, 0 };
    fp_planar A = { a_nchw, FP_LAYOUT_NCHW, FP_DTYPE_F32, 1, w, h, 0, 0 };
    fp_err e;
    float c[3];
    /* colours: pure key, darker key, red, blue, white, grey, a half-way green */
    static const float cols[7][3] = { { 0, 1, 0 }, { 0, 0.5f, 0 }, { 1, 0, 0 }, { 0, 0, 1 },
                                      { 1, 1, 1 }, { 0.5f, 0.5f, 0.5f }, { 0.3f, 0.8f, 0.3f } };

    CHECK(fp_key_parse_color("00FF00", c) == 0 && c[0] == 0 && c[1] == 1 && c[2] == 0);
    CHECK(fp_key_parse_color("#ff8000", c) == 0 && c[0] == 1 && fabsf(c[1] - 128 / 255.0f) < 1e-6f);
    CHECK(fp_key_parse_color("0x0000ff", c) == 0 && c[2] == 1);
    CHECK(fp_key_parse_color("00FF0", c) == FP_EINVAL);
    CHECK(fp_key_parse_color("00FFGG", c) == FP_EINVAL);
    CHECK(fp_key_parse_color(NULL, c) == FP_EINVAL);

    for (int layout = 0; layout < 2; layout++) {
        P.layout = A.layout = layout;
        A.data = layout == FP_LAYOUT_NCHW ? a_nchw : a_nhwc;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                fill(rgb, layout, w, h, y * w + x, cols[x][0], cols[x][1], cols[x][2]);
        fp_err_clear(&e);
        CHECK(fp_key_apply(&k, &P, &A, &e) == 0);
    }
    for (int i = 0; i < w * h; i++)
        CHECK_NEAR(a_nchw[i], a_nhwc[i], 0);
    for (int y = 0; y < h; y++) {
        CHECK_NEAR(a_nchw[y * w + 0], 0.0, 0);      /* the key */
        CHECK_NEAR(a_nchw[y * w + 1], (0.2672 - 0.1) / 0.2, 2e-3); /* darker green: chroma distance 0.267 */
        CHECK_NEAR(a_nchw[y * w + 2], 1.0, 0);      /* red */
        CHECK_NEAR(a_nchw[y * w + 3], 1.0, 0);      /* blue */
        CHECK_NEAR(a_nchw[y * w + 4], 1.0, 0);      /* white: chroma 0, distance to green's chroma 0.53 */
        CHECK_NEAR(a_nchw[y * w + 5], 1.0, 0);      /* grey: no chroma */
        CHECK_NEAR(a_nchw[y * w + 6], (0.2672 - 0.1) / 0.2, 2e-3); /* green + grey: same chroma */
    }
    /* the ramp: alpha rises linearly with distance above the tolerance */
    {
        fp_key hard = { { 0, 1, 0 }, 0.1f, 0.0f };
        float one[3] = { 0.3f, 0.8f, 0.3f }, al;
        fp_planar p1 = { one, FP_LAYOUT_NCHW, FP_DTYPE_F32, 3, 1, 1, 0, 0 };
        fp_planar a1 = { &al, FP_LAYOUT_NCHW, FP_DTYPE_F32, 1, 1, 1, 0, 0 };
        float prev = -1;
        CHECK(fp_key_apply(&hard, &p1, &a1, NULL) == 0 && al == 1.0f);
        for (float s = 0.9f; s > 0.05f; s -= 0.1f) {
            fp_key soft = { { 0, 1, 0 }, 0.1f, s };
            CHECK(fp_key_apply(&soft, &p1, &a1, NULL) == 0);
            CHECK_MSG(al >= prev, "alpha %g after %g: ramp not monotone in softness", al, prev);
            prev = al;
        }
        /* a wide tolerance swallows the half-way green */
        {
            fp_key wide = { { 0, 1, 0 }, 0.5f, 0.0f };
            CHECK(fp_key_apply(&wide, &p1, &a1, NULL) == 0 && al == 0.0f);
        }
    }
    /* refused: fp16, device memory, size mismatch */
    {
        fp_planar bad = P;
        bad.dtype = FP_DTYPE_F16;
        fp_err_clear(&e);
        CHECK(fp_key_apply(&k, &bad, &A, &e) == FP_EINVAL && strstr(e.msg, "key:"));
        bad = P;
        bad.on_device = 1;
        CHECK(fp_key_apply(&k, &bad, &A, NULL) == FP_EINVAL);
        bad = P;
        bad.width = 6;
        CHECK(fp_key_apply(&k, &bad, &A, NULL) == FP_EINVAL);
    }
    return fp_test_finish("media.key");
}
