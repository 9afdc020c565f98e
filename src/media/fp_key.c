/*
 * fp_key — chroma-key alpha on float RGB. See fp_key.h.
 */
#include "media/fp_key.h"

#include <math.h>

#include "media/fp_key_core.h"
#include <stdio.h>
#include <string.h>

int fp_key_parse_color(const char *s, float rgb[3])
{
    unsigned v = 0;
    if (!s)
        return FP_EINVAL;
    if (s[0] == '#')
        s++;
    else if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
        s += 2;
    if (strlen(s) != 6 || strspn(s, "0123456789abcdefABCDEF") != 6 || sscanf(s, "%x", &v) != 1)
        return FP_EINVAL;
    rgb[0] = ((v >> 16) & 0xff) / 255.0f;
    rgb[1] = ((v >> 8) & 0xff) / 255.0f;
    rgb[2] = (v & 0xff) / 255.0f;
    return 0;
}

int fp_key_apply(const fp_key *k, const fp_planar *rgb, const fp_planar *alpha, fp_err *e)
{
    const size_t plane = (size_t)rgb->width * rgb->height;
    float kcb, kcr;
    if (rgb->dtype != FP_DTYPE_F32 || alpha->dtype != FP_DTYPE_F32 || rgb->on_device || alpha->on_device ||
        rgb->channels < 3 || alpha->channels != 1 || rgb->width != alpha->width || rgb->height != alpha->height ||
        rgb->layout != alpha->layout)
        return fp_errorf(e, FP_EINVAL, "key: unsupported planes (need host fp32 RGB and alpha of one size)");
    fp_key_chroma(k->rgb[0], k->rgb[1], k->rgb[2], &kcb, &kcr);
    for (size_t i = 0; i < plane; i++) {
        const float *src;
        float r, g, b;
        if (rgb->layout == FP_LAYOUT_NCHW) {
            src = (const float *)rgb->data + (size_t)rgb->n * rgb->channels * plane;
            r = src[i];
            g = src[plane + i];
            b = src[2 * plane + i];
        } else {
            src = (const float *)rgb->data + ((size_t)rgb->n * plane + i) * rgb->channels;
            r = src[0];
            g = src[1];
            b = src[2];
        }
        ((float *)alpha->data)[(size_t)alpha->n * plane + i] =
            fp_key_alpha(r, g, b, kcb, kcr, k->tolerance, k->softness);
    }
    return 0;
}
