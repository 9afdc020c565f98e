/*
 * fp_key_core — the per-pixel chroma-key maths shared by fp_key.c (CPU) and fp_key_cuda.cu (device),
 * so both twins run the very same float operations in the same order. Both are compiled without
 * floating-point contraction (-ffp-contract=off / -fmad=false, src/media/CMakeLists.txt), and sqrtf
 * and division are IEEE-rounded on both sides: the twins agree to the bit (gpu.test_key_cuda checks).
 * Owns nothing; private to src/media.
 */
#ifndef FP_KEY_CORE_H
#define FP_KEY_CORE_H

#ifdef __CUDACC__
#define FP_KEY_HD __host__ __device__ static inline
#else
#define FP_KEY_HD static inline
#endif

/* BT.601 full-range Cb/Cr, the weights FFmpeg's chromakey filter uses. */
FP_KEY_HD void fp_key_chroma(float r, float g, float b, float *cb, float *cr)
{
    *cb = -0.168736f * r - 0.331264f * g + 0.5f * b;
    *cr = 0.5f * r - 0.418688f * g - 0.081312f * b;
}

FP_KEY_HD float fp_key_alpha(float r, float g, float b, float kcb, float kcr, float tol, float soft)
{
    float cb, cr, d;
    fp_key_chroma(r, g, b, &cb, &cr);
    d = sqrtf((cb - kcb) * (cb - kcb) + (cr - kcr) * (cr - kcr));
    if (d <= tol)
        return 0.0f;
    if (soft > 0.0f)
        return fminf(1.0f, (d - tol) / soft);
    return 1.0f;
}

#endif
