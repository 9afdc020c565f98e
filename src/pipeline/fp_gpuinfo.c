/*
 * fp_gpuinfo — driver discovery through dlopen. See fp_gpuinfo.h.
 *
 * FFmpeg's nv-codec headers (dynlink_loader.h) are the loader: the same symbols, the same library
 * names FFmpeg itself will load, so what doctor reports is what decode will find. Three driver entry
 * points the loader does not wrap (cuDriverGetVersion, cuMemGetInfo_v2, cuDeviceTotalMem_v2) are
 * looked up with dlsym on the handle it opened. Loader messages are captured (not printed) and
 * become the "why" of the status line.
 */
#include "pipeline/fp_gpuinfo.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fp_error.h"

#ifdef FP_HAVE_FFNVCODEC

/* capture the loader's first complaint ("Cannot load libcuda.so.1") instead of printing it */
static void loader_log(void *logctx, const char *fmt, ...)
{
    char *buf = logctx;
    va_list ap;
    if (!buf || buf[0])
        return;
    va_start(ap, fmt);
    vsnprintf(buf, 160, fmt, ap);
    va_end(ap);
    buf[strcspn(buf, "\n")] = '\0';
}
#define FFNV_LOG_FUNC(logctx, msg, ...) loader_log((logctx), (msg), __VA_ARGS__)
#define FFNV_DEBUG_LOG_FUNC(logctx, msg, ...)
#include <ffnvcodec/dynlink_loader.h>

typedef CUresult CUDAAPI tcuDriverGetVersion(int *version);
typedef CUresult CUDAAPI tcuMemGetInfo(size_t *free_bytes, size_t *total_bytes);
typedef CUresult CUDAAPI tcuDeviceTotalMem(size_t *bytes, CUdevice dev);

#define CUDA_ERROR_STUB_LIBRARY_ 34    /* not in the nv-codec headers' enum */
#define CUDA_ERROR_NO_DEVICE_ 100

static const char *cu_errname(CudaFunctions *cu, CUresult r)
{
    const char *s = NULL;
    if (cu->cuGetErrorName && cu->cuGetErrorName(r, &s) == CUDA_SUCCESS && s)
        return s;
    return "unknown CUDA error";
}

static void read_kernel_driver_version(char *out, size_t n)
{
    char line[256];
    FILE *f = fopen("/proc/driver/nvidia/version", "r");
    out[0] = '\0';
    if (!f)
        return;
    /* "NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.15  Tue Mar  5 ..." */
    if (fgets(line, sizeof(line), f)) {
        char *p = strstr(line, "Kernel Module");
        if (p && sscanf(p + 13, " %63s", out) != 1)
            out[0] = '\0';
    }
    fclose(f);
}

static const struct {
    const char *name;
    cudaVideoCodec codec;
    int bit_depth, chroma;
} dec_rows[] = {
    { "h264", cudaVideoCodec_H264, 8, 420 },
    { "h264", cudaVideoCodec_H264, 8, 444 },
    { "hevc", cudaVideoCodec_HEVC, 8, 420 },
    { "hevc", cudaVideoCodec_HEVC, 10, 420 },
    { "hevc", cudaVideoCodec_HEVC, 8, 444 },
    { "hevc", cudaVideoCodec_HEVC, 10, 444 },
    { "vp9", cudaVideoCodec_VP9, 8, 420 },
    { "vp9", cudaVideoCodec_VP9, 10, 420 },
    { "av1", cudaVideoCodec_AV1, 8, 420 },
    { "av1", cudaVideoCodec_AV1, 10, 420 },
};
_Static_assert(sizeof(dec_rows) / sizeof(dec_rows[0]) <= FP_GPU_DEC_MAX, "FP_GPU_DEC_MAX too small");

static void probe_nvdec(CuvidFunctions *cv, fp_gpu_device *d)
{
    d->nb_dec = 0;
    for (size_t i = 0; i < sizeof(dec_rows) / sizeof(dec_rows[0]); i++) {
        CUVIDDECODECAPS caps;
        fp_gpu_dec_caps *o = &d->dec[d->nb_dec];
        CUresult r;
        memset(&caps, 0, sizeof(caps));
        caps.eCodecType = dec_rows[i].codec;
        caps.eChromaFormat = dec_rows[i].chroma == 444 ? cudaVideoChromaFormat_444 : cudaVideoChromaFormat_420;
        caps.nBitDepthMinus8 = dec_rows[i].bit_depth - 8;
        r = cv->cuvidGetDecoderCaps(&caps);
        o->codec = dec_rows[i].name;
        o->bit_depth = dec_rows[i].bit_depth;
        o->chroma = dec_rows[i].chroma;
        if (r != CUDA_SUCCESS) {
            /* a codec the driver does not know at all reads as unsupported */
            o->supported = 0;
        } else {
            o->supported = caps.bIsSupported;
            o->engines = caps.nNumNVDECs;
            o->max_width = (int)caps.nMaxWidth;
            o->max_height = (int)caps.nMaxHeight;
        }
        d->nb_dec++;
    }
    d->nvdec_probed = 1;
}

static int guid_eq(const GUID *a, const GUID *b) { return !memcmp(a, b, sizeof(*a)); }

static int enc_cap(NV_ENCODE_API_FUNCTION_LIST *fl, void *enc, GUID g, NV_ENC_CAPS what)
{
    NV_ENC_CAPS_PARAM p;
    int v = 0;
    memset(&p, 0, sizeof(p));
    p.version = NV_ENC_CAPS_PARAM_VER;
    p.capsToQuery = what;
    if (fl->nvEncGetEncodeCaps(enc, g, &p, &v) != NV_ENC_SUCCESS)
        return 0;
    return v;
}

static const char *nvenc_status_name(NVENCSTATUS s)
{
    switch (s) {
    case NV_ENC_ERR_NO_ENCODE_DEVICE: return "NV_ENC_ERR_NO_ENCODE_DEVICE";
    case NV_ENC_ERR_UNSUPPORTED_DEVICE: return "NV_ENC_ERR_UNSUPPORTED_DEVICE";
    case NV_ENC_ERR_INVALID_VERSION: return "NV_ENC_ERR_INVALID_VERSION (driver older than the headers)";
    case NV_ENC_ERR_OUT_OF_MEMORY: return "NV_ENC_ERR_OUT_OF_MEMORY";
    case NV_ENC_ERR_UNSUPPORTED_PARAM: return "NV_ENC_ERR_UNSUPPORTED_PARAM";
    case NV_ENC_ERR_INVALID_DEVICE: return "NV_ENC_ERR_INVALID_DEVICE";
    default: return "NVENC error";
    }
}

static void probe_nvenc(NvencFunctions *nv, CUcontext ctx, fp_gpu_device *d)
{
    NV_ENCODE_API_FUNCTION_LIST fl;
    NV_ENC_OPEN_ENCODE_SESSION_EX_PARAMS op;
    void *enc = NULL;
    GUID guids[16];
    uint32_t n = 0;
    NVENCSTATUS s;

    memset(&fl, 0, sizeof(fl));
    fl.version = NV_ENCODE_API_FUNCTION_LIST_VER;
    if ((s = nv->NvEncodeAPICreateInstance(&fl)) != NV_ENC_SUCCESS) {
        snprintf(d->nvenc_note, sizeof(d->nvenc_note), "NVENC API unavailable (%s)", nvenc_status_name(s));
        return;
    }
    memset(&op, 0, sizeof(op));
    op.version = NV_ENC_OPEN_ENCODE_SESSION_EX_PARAMS_VER;
    op.deviceType = NV_ENC_DEVICE_TYPE_CUDA;
    op.device = ctx;
    op.apiVersion = NVENCAPI_VERSION;
    if ((s = fl.nvEncOpenEncodeSessionEx(&op, &enc)) != NV_ENC_SUCCESS) {
        /* the H100 lands here: it has no NVENC engine */
        snprintf(d->nvenc_note, sizeof(d->nvenc_note), "this GPU has no usable NVENC engine (%s)",
                 nvenc_status_name(s));
        return;
    }
    d->nvenc_probed = 1;
    if (fl.nvEncGetEncodeGUIDCount(enc, &n) != NV_ENC_SUCCESS)
        n = 0;
    if (n > 16)
        n = 16;
    if (n && fl.nvEncGetEncodeGUIDs(enc, guids, n, &n) != NV_ENC_SUCCESS)
        n = 0;
    for (uint32_t i = 0; i < n && d->nb_enc < FP_GPU_ENC_MAX; i++) {
        fp_gpu_enc_caps *c = &d->enc[d->nb_enc++];
        c->codec = guid_eq(&guids[i], &NV_ENC_CODEC_H264_GUID) ? "h264"
                 : guid_eq(&guids[i], &NV_ENC_CODEC_HEVC_GUID) ? "hevc" : "other";
        c->max_width = enc_cap(&fl, enc, guids[i], NV_ENC_CAPS_WIDTH_MAX);
        c->max_height = enc_cap(&fl, enc, guids[i], NV_ENC_CAPS_HEIGHT_MAX);
        c->ten_bit = enc_cap(&fl, enc, guids[i], NV_ENC_CAPS_SUPPORT_10BIT_ENCODE);
        c->yuv444 = enc_cap(&fl, enc, guids[i], NV_ENC_CAPS_SUPPORT_YUV444_ENCODE);
        c->alpha = enc_cap(&fl, enc, guids[i], NV_ENC_CAPS_SUPPORT_ALPHA_LAYER_ENCODING);
        c->engines = enc_cap(&fl, enc, guids[i], NV_ENC_CAPS_NUM_ENCODER_ENGINES);
    }
    if (!d->nb_enc)
        snprintf(d->nvenc_note, sizeof(d->nvenc_note), "the encode session lists no codecs");
    fl.nvEncDestroyEncoder(enc);
}

int fp_gpuinfo_query(fp_gpuinfo **pinfo, unsigned flags)
{
    fp_gpuinfo *gi = calloc(1, sizeof(*gi));
    CudaFunctions *cu = NULL;
    CuvidFunctions *cv = NULL;
    NvencFunctions *nv = NULL;
    char why[160] = "", cv_why[160] = "", nv_why[160] = "";
    tcuDriverGetVersion *get_version;
    tcuMemGetInfo *mem_info;
    tcuDeviceTotalMem *total_mem;
    CUresult r;
    int count = 0;

    *pinfo = NULL;
    if (!gi)
        return FP_ENOMEM;
#ifdef FP_CUDA_TOOLKIT_VERSION
    gi->cuda_build_version = FP_CUDA_TOOLKIT_VERSION;
#endif
    read_kernel_driver_version(gi->driver_version, sizeof(gi->driver_version));
    if (cuda_load_functions(&cu, why) < 0) {
        if (!strncmp(why, "Cannot load libcuda", 19))
            snprintf(gi->status, sizeof(gi->status), "no NVIDIA driver: libcuda.so.1 not found");
        else if (!strncmp(why, "Cannot load ", 12))
            snprintf(gi->status, sizeof(gi->status),
                     "libcuda.so.1 found but unusable: it lacks %s (the CUDA toolkit's stub library, "
                     "or a driver too old)", why + 12);
        else
            snprintf(gi->status, sizeof(gi->status), "libcuda.so.1 found but unusable (%s)",
                     why[0] ? why : "unknown reason");
        *pinfo = gi;
        return 0;
    }
    get_version = (tcuDriverGetVersion *)dlsym(cu->lib, "cuDriverGetVersion");
    mem_info = (tcuMemGetInfo *)dlsym(cu->lib, "cuMemGetInfo_v2");
    total_mem = (tcuDeviceTotalMem *)dlsym(cu->lib, "cuDeviceTotalMem_v2");
    if (get_version)
        get_version(&gi->cuda_driver_version);
    if ((r = cu->cuInit(0)) != CUDA_SUCCESS) {
        if (r == CUDA_ERROR_STUB_LIBRARY_)
            snprintf(gi->status, sizeof(gi->status),
                     "no NVIDIA driver: libcuda.so.1 is the CUDA toolkit's stub library");
        else if (r == CUDA_ERROR_NO_DEVICE_)
            snprintf(gi->status, sizeof(gi->status), "NVIDIA driver present but no GPU visible (%s)",
                     cu_errname(cu, r));
        else
            snprintf(gi->status, sizeof(gi->status), "NVIDIA driver failed to initialise (cuInit: %s)",
                     cu_errname(cu, r));
        goto done;
    }
    if ((r = cu->cuDeviceGetCount(&count)) != CUDA_SUCCESS || count <= 0) {
        snprintf(gi->status, sizeof(gi->status), "NVIDIA driver loaded but no GPU visible%s%s",
                 r != CUDA_SUCCESS ? ": " : "", r != CUDA_SUCCESS ? cu_errname(cu, r) : "");
        goto done;
    }
    gi->driver_loaded = 1;
    if (!(gi->devices = calloc((size_t)count, sizeof(*gi->devices)))) {
        fp_gpuinfo_freep(&gi);
        cuda_free_functions(&cu);
        return FP_ENOMEM;
    }
    if (flags & FP_GPUINFO_CODECS) {
        if (cuvid_load_functions(&cv, cv_why) < 0 || !cv->cuvidGetDecoderCaps)
            cuvid_free_functions(&cv);
        if (nvenc_load_functions(&nv, nv_why) < 0)
            nvenc_free_functions(&nv);
    }
    for (int i = 0; i < count; i++) {
        fp_gpu_device *d = &gi->devices[gi->nb_devices];
        CUdevice dev;
        CUcontext ctx = NULL, dummy;
        size_t fr = 0, tot = 0;
        if (cu->cuDeviceGet(&dev, i) != CUDA_SUCCESS)
            continue;
        gi->nb_devices++;
        d->index = i;
        if (cu->cuDeviceGetName(d->name, sizeof(d->name), dev) != CUDA_SUCCESS)
            snprintf(d->name, sizeof(d->name), "GPU %d", i);
        cu->cuDeviceComputeCapability(&d->cc_major, &d->cc_minor, dev);
        cu->cuDeviceGetAttribute(&d->sm_count, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, dev);
        if (total_mem && total_mem(&tot, dev) == CUDA_SUCCESS)
            d->mem_total = tot;
        /* the primary context is the one FFmpeg's hwdevice and framepipe share, so querying through it
         * does not leave a second context's memory behind */
        r = cu->cuDevicePrimaryCtxRetain(&ctx, dev);
        if (r != CUDA_SUCCESS) {
            snprintf(d->nvdec_note, sizeof(d->nvdec_note), "cannot create a CUDA context: %s", cu_errname(cu, r));
            snprintf(d->nvenc_note, sizeof(d->nvenc_note), "%s", d->nvdec_note);
            continue;
        }
        cu->cuCtxPushCurrent(ctx);
        if (mem_info && mem_info(&fr, &tot) == CUDA_SUCCESS) {
            d->mem_free = fr;
            if (!d->mem_total)
                d->mem_total = tot;
        }
        if (flags & FP_GPUINFO_CODECS) {
            if (cv)
                probe_nvdec(cv, d);
            else
                snprintf(d->nvdec_note, sizeof(d->nvdec_note), "NVDEC unavailable: %s",
                         cv_why[0] ? cv_why : "libnvcuvid.so.1 lacks cuvidGetDecoderCaps");
            if (nv)
                probe_nvenc(nv, ctx, d);
            else
                snprintf(d->nvenc_note, sizeof(d->nvenc_note), "NVENC unavailable: %s",
                         nv_why[0] ? nv_why : "libnvidia-encode.so.1 not usable");
        }
        cu->cuCtxPopCurrent(&dummy);
        cu->cuDevicePrimaryCtxRelease(dev);
    }
    snprintf(gi->status, sizeof(gi->status), "%d NVIDIA GPU%s, CUDA driver API %d.%d", gi->nb_devices,
             gi->nb_devices == 1 ? "" : "s", gi->cuda_driver_version / 1000, gi->cuda_driver_version % 1000 / 10);
done:
    nvenc_free_functions(&nv);
    cuvid_free_functions(&cv);
    if (gi->driver_loaded)
        free(cu); /* keep libcuda mapped: unloading an initialised driver races its own threads */
    else
        cuda_free_functions(&cu);
    *pinfo = gi;
    return 0;
}

#else /* !FP_HAVE_FFNVCODEC */

/* Built without the nv-codec headers: say so instead of pretending there is no GPU. */
int fp_gpuinfo_query(fp_gpuinfo **pinfo, unsigned flags)
{
    fp_gpuinfo *gi = calloc(1, sizeof(*gi));
    *pinfo = NULL;
    if (!gi)
        return FP_ENOMEM;
#ifdef FP_CUDA_TOOLKIT_VERSION
    gi->cuda_build_version = FP_CUDA_TOOLKIT_VERSION;
#endif
    snprintf(gi->status, sizeof(gi->status), "GPU discovery not built in: framepipe was compiled without "
             "FFmpeg's nv-codec headers (install libffmpeg-nvenc-dev and rebuild)");
    *pinfo = gi;
    return 0;
}

#endif /* FP_HAVE_FFNVCODEC */

void fp_gpuinfo_freep(fp_gpuinfo **pinfo)
{
    if (!pinfo || !*pinfo)
        return;
    free((*pinfo)->devices);
    free(*pinfo);
    *pinfo = NULL;
}

const fp_gpu_dec_caps *fp_gpu_dec_find(const fp_gpu_device *d, const char *codec, int bit_depth, int chroma)
{
    for (int i = 0; i < d->nb_dec; i++)
        if (!strcmp(d->dec[i].codec, codec) && d->dec[i].bit_depth == bit_depth && d->dec[i].chroma == chroma)
            return &d->dec[i];
    return NULL;
}
