/*
 * fp_input — demux + decode of one input, the NVDEC/CPU decision and the stall watchdog. See
 * fp_input.h. Does not convert pixels, encode or mux.
 *
 * Why a watchdog thread and not the AVIOInterruptCB alone: a blocking read() on a pipe or a stuck
 * network mount, and a decoder stuck inside avcodec_send_packet, never return to check the interrupt
 * callback. The watchdog only observes "busy since" and the position; what happens on a stall is
 * the owner's handler (it must end the process: the stuck call cannot be cancelled safely).
 */
#include "media/fp_input.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <dlfcn.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>

#ifdef FP_HAVE_CUDA
#include <ffnvcodec/dynlink_loader.h>
#include <libavutil/hwcontext.h>
#include <libavutil/hwcontext_cuda.h>
#include <cuda_runtime_api.h>
#endif

#include "core/fp_log.h"

struct fp_input {
    char *path;
    AVFormatContext *fmt;
    int vindex;
    AVStream *vst;
    AVCodecContext *dec;
    AVBufferRef *hw_device;
    int use_gpu;
    int alpha_vp9;   /* VP9 with alpha_mode=1 decoded by libvpx-vp9: frames are yuva420p */
    char why[256];
    AVPacket *pkt;
    fp_input_opts o;
    int read_eof;    /* demuxer returned EOF and the decoder was sent the flush packet */
    int done;        /* range end reached or decoder drained */
    int errors;
    int64_t last_pts;

    /* watchdog: busy_since_us != 0 while a demux/decode call runs */
    pthread_t wd;
    int wd_started, wd_stop;
    pthread_mutex_t lk;
    pthread_cond_t cv;
    int64_t busy_since_us;
    const char *busy_what;
};

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int fp_decode_mode_parse(const char *s, fp_decode_mode *out)
{
    static const struct { const char *name; fp_decode_mode m; } t[] = {
        { "auto", FP_DECODE_AUTO }, { "gpu", FP_DECODE_GPU }, { "cpu", FP_DECODE_CPU },
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        if (s && !strcmp(s, t[i].name)) {
            *out = t[i].m;
            return 0;
        }
    return FP_EINVAL;
}

void fp_input_opts_default(fp_input_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->decode = FP_DECODE_AUTO;
    o->max_errors = 0;
    o->watchdog_s = 30.0;
    o->start_pts = AV_NOPTS_VALUE;
    o->end_pts = AV_NOPTS_VALUE;
    o->start_s = o->end_s = -1;
    o->want_alpha_decoder = 1;
}

/* ---- FFmpeg's log, routed through fp_log ---------------------------------------------------- */

/* FFmpeg's own messages are detail under framepipe's one-line errors: shown from -v (verbose) on. */
static void av_log_bridge(void *avcl, int level, const char *fmt, va_list vl)
{
    char line[1024];
    int print = 1;
    if (level > AV_LOG_WARNING || fp_log_get_level() < FP_LOG_VERBOSE)
        return;
    av_log_format_line(avcl, level, fmt, vl, line, sizeof(line), &print);
    line[strcspn(line, "\n")] = '\0';
    if (line[0])
        fp_log(FP_LOG_VERBOSE, "ffmpeg", "%s", line);
}

static pthread_once_t log_once = PTHREAD_ONCE_INIT;
static void log_init(void)
{
    av_log_set_callback(av_log_bridge);
    /* SVT-AV1 prints its banner straight to stderr; keep warnings and errors only unless asked. */
    if (fp_log_get_level() < FP_LOG_VERBOSE)
        setenv("SVT_LOG", "2", 0);
}
void fp_media_log_init(void) { pthread_once(&log_once, log_init); }

/* ---- decode path ---------------------------------------------------------------------------- */

#ifdef FP_HAVE_CUDA
static int nvdec_codec(enum AVCodecID id)
{
    switch (id) {
    case AV_CODEC_ID_H264: return cudaVideoCodec_H264;
    case AV_CODEC_ID_HEVC: return cudaVideoCodec_HEVC;
    case AV_CODEC_ID_VP9: return cudaVideoCodec_VP9;
    case AV_CODEC_ID_VP8: return cudaVideoCodec_VP8;
    case AV_CODEC_ID_AV1: return cudaVideoCodec_AV1;
    case AV_CODEC_ID_MPEG1VIDEO: return cudaVideoCodec_MPEG1;
    case AV_CODEC_ID_MPEG2VIDEO: return cudaVideoCodec_MPEG2;
    case AV_CODEC_ID_MPEG4: return cudaVideoCodec_MPEG4;
    case AV_CODEC_ID_VC1: return cudaVideoCodec_VC1;
    case AV_CODEC_ID_MJPEG: return cudaVideoCodec_JPEG;
    default: return -1;
    }
}

/* Ask the driver (cuvidGetDecoderCaps on FFmpeg's own context) whether this GPU decodes the stream.
 * Returns 1 yes, 0 no (why filled), negative when the question cannot be asked. */
static int nvdec_caps_ok(AVBufferRef *dev, const AVCodecParameters *par, char *why, size_t n)
{
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(par->format);
    AVHWDeviceContext *hd = (AVHWDeviceContext *)dev->data;
    AVCUDADeviceContext *cu = hd->hwctx;
    CudaFunctions *cf = NULL;
    CuvidFunctions *cv = NULL;
    CUVIDDECODECAPS caps = { 0 };
    CUcontext dummy;
    int codec = nvdec_codec(par->codec_id), ret;

    if (codec < 0) {
        snprintf(why, n, "NVDEC has no %s decoder", avcodec_get_name(par->codec_id));
        return 0;
    }
    if (!d) {
        snprintf(why, n, "unknown pixel format, cannot ask NVDEC");
        return 0;
    }
    if (cuda_load_functions(&cf, NULL) < 0 || cuvid_load_functions(&cv, NULL) < 0 || !cv->cuvidGetDecoderCaps) {
        cuda_free_functions(&cf);
        cuvid_free_functions(&cv);
        snprintf(why, n, "libnvcuvid not loadable");
        return 0;
    }
    caps.eCodecType = codec;
    caps.eChromaFormat = (d->flags & AV_PIX_FMT_FLAG_RGB) ? cudaVideoChromaFormat_444
                         : d->nb_components < 3           ? cudaVideoChromaFormat_Monochrome
                         : d->log2_chroma_w == 0          ? cudaVideoChromaFormat_444
                         : d->log2_chroma_h == 0          ? cudaVideoChromaFormat_422
                                                          : cudaVideoChromaFormat_420;
    caps.nBitDepthMinus8 = d->comp[0].depth - 8;
    ret = -1;
    if (cf->cuCtxPushCurrent(cu->cuda_ctx) == CUDA_SUCCESS) {
        ret = cv->cuvidGetDecoderCaps(&caps) == CUDA_SUCCESS;
        cf->cuCtxPopCurrent(&dummy);
    }
    cuda_free_functions(&cf);
    cuvid_free_functions(&cv);
    if (ret <= 0) {
        snprintf(why, n, "cuvidGetDecoderCaps failed");
        return 0;
    }
    if (!caps.bIsSupported) {
        snprintf(why, n, "this GPU's NVDEC does not decode %s %s %d-bit",
                 avcodec_get_name(par->codec_id),
                 caps.eChromaFormat == cudaVideoChromaFormat_444   ? "4:4:4"
                 : caps.eChromaFormat == cudaVideoChromaFormat_422 ? "4:2:2"
                                                                   : "4:2:0",
                 d->comp[0].depth);
        return 0;
    }
    if ((unsigned)par->width > caps.nMaxWidth || (unsigned)par->height > caps.nMaxHeight ||
        par->width < caps.nMinWidth || par->height < caps.nMinHeight) {
        snprintf(why, n, "%dx%d is outside NVDEC's %ux%u..%ux%u for %s", par->width, par->height,
                 caps.nMinWidth, caps.nMinHeight, caps.nMaxWidth, caps.nMaxHeight,
                 avcodec_get_name(par->codec_id));
        return 0;
    }
    return 1;
}
#endif

#ifdef FP_HAVE_CUDA
/*
 * FFmpeg decodes on the device's primary context, the one the CUDA runtime uses: framepipe's kernels
 * (fp_devpath), the nn runtime and FFmpeg's decoder then share one context (device pointers valid
 * everywhere, no push/pop) whatever thread they run on. The context is handed to FFmpeg as a
 * user-provided one instead of AV_CUDA_USE_PRIMARY_CONTEXT, because FFmpeg refuses that flag ("Primary
 * context already active with incompatible flags") when the runtime activated the context first with
 * its default scheduling flags, e.g. when the model was loaded before the input was opened.
 * The device is the CUDA runtime's current one for this thread (0 unless the caller chose another).
 */
static pthread_once_t cu_once = PTHREAD_ONCE_INIT;
static CudaFunctions *cu_fn;
static void cu_load(void)
{
    if (cuda_load_functions(&cu_fn, NULL) < 0 || cu_fn->cuInit(0) != CUDA_SUCCESS)
        cuda_free_functions(&cu_fn);
}

static void primary_release(AVHWDeviceContext *hd)
{
    cu_fn->cuDevicePrimaryCtxRelease((CUdevice)(intptr_t)hd->user_opaque);
}

static int primary_device(AVBufferRef **out)
{
    AVBufferRef *ref;
    AVHWDeviceContext *hd;
    CUdevice dev;
    CUcontext ctx;
    int ordinal = 0, ret;

    *out = NULL;
    pthread_once(&cu_once, cu_load);
    if (!cu_fn)
        return AVERROR(ENOSYS);
    if (cudaGetDevice(&ordinal) != cudaSuccess)
        ordinal = 0;
    if (cu_fn->cuDeviceGet(&dev, ordinal) != CUDA_SUCCESS)
        return AVERROR(ENODEV);
    if (cu_fn->cuDevicePrimaryCtxRetain(&ctx, dev) != CUDA_SUCCESS)
        return AVERROR_EXTERNAL;
    if (!(ref = av_hwdevice_ctx_alloc(AV_HWDEVICE_TYPE_CUDA))) {
        cu_fn->cuDevicePrimaryCtxRelease(dev);
        return AVERROR(ENOMEM);
    }
    hd = (AVHWDeviceContext *)ref->data;
    ((AVCUDADeviceContext *)hd->hwctx)->cuda_ctx = ctx;
    hd->user_opaque = (void *)(intptr_t)dev;
    hd->free = primary_release; /* FFmpeg does not destroy a context it did not create */
    if ((ret = av_hwdevice_ctx_init(ref)) < 0) {
        av_buffer_unref(&ref); /* calls primary_release */
        return ret;
    }
    *out = ref;
    return 0;
}
#endif

int fp_decode_path_choose(const AVCodecParameters *par, fp_decode_mode mode, AVBufferRef **hw_device,
                          char *why, size_t n)
{
    fp_media_log_init();
    if (hw_device)
        *hw_device = NULL;
    if (mode == FP_DECODE_CPU) {
        snprintf(why, n, "CPU decode requested (--decode cpu)");
        return 0;
    }
#ifdef FP_HAVE_CUDA
    {
        const AVCodec *c = avcodec_find_decoder(par->codec_id);
        AVBufferRef *dev = NULL;
        int hw_ok = 0, ret;
        /* No driver: say so, whatever the codec. */
        {
            void *h = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_LOCAL);
            if (!h) {
                snprintf(why, n, "no GPU: the NVIDIA driver (libcuda.so.1) is not installed");
                return mode == FP_DECODE_GPU ? FP_EDEVICE : 0;
            }
            dlclose(h);
        }
        for (int i = 0; c; i++) {
            const AVCodecHWConfig *cfg = avcodec_get_hw_config(c, i);
            if (!cfg)
                break;
            if (cfg->device_type == AV_HWDEVICE_TYPE_CUDA && (cfg->methods & AV_CODEC_HW_CONFIG_METHOD_HW_DEVICE_CTX))
                hw_ok = 1;
        }
        if (!hw_ok) {
            snprintf(why, n, "FFmpeg has no NVDEC hwaccel for %s", avcodec_get_name(par->codec_id));
            return mode == FP_DECODE_GPU ? FP_EUNSUPPORTED : 0;
        }
        ret = primary_device(&dev);
        if (ret < 0) {
            char buf[128];
            av_strerror(ret, buf, sizeof(buf));
            snprintf(why, n, "no usable GPU (CUDA device: %s)", buf);
            return mode == FP_DECODE_GPU ? FP_EDEVICE : 0;
        }
        ret = nvdec_caps_ok(dev, par, why, n);
        if (ret <= 0) {
            av_buffer_unref(&dev);
            return mode == FP_DECODE_GPU ? FP_EUNSUPPORTED : 0;
        }
        snprintf(why, n, "NVDEC supports %s %dx%d on this GPU", avcodec_get_name(par->codec_id), par->width,
                 par->height);
        if (hw_device)
            *hw_device = dev;
        else
            av_buffer_unref(&dev);
        return 1;
    }
#else
    snprintf(why, n, "built without CUDA");
    return mode == FP_DECODE_GPU ? FP_EUNSUPPORTED : 0;
#endif
}

#ifdef FP_HAVE_CUDA
static enum AVPixelFormat get_cuda_format(AVCodecContext *ctx, const enum AVPixelFormat *fmts)
{
    const enum AVPixelFormat *p;
    for (p = fmts; *p != AV_PIX_FMT_NONE; p++)
        if (*p == AV_PIX_FMT_CUDA)
            return *p;
    /* The hwaccel declined this stream mid-way (e.g. a resolution change); software frames follow. */
    fp_log(FP_LOG_WARN, "decode", "NVDEC declined a format change; continuing on the CPU");
    for (p = fmts; *p != AV_PIX_FMT_NONE; p++)
        if (!(av_pix_fmt_desc_get(*p)->flags & AV_PIX_FMT_FLAG_HWACCEL))
            return *p;
    return AV_PIX_FMT_NONE;
}
#endif

/* ---- watchdog ------------------------------------------------------------------------------- */

static void *watchdog_main(void *arg)
{
    fp_input *in = arg;
    pthread_mutex_lock(&in->lk);
    while (!in->wd_stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100 * 1000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&in->cv, &in->lk, &ts);
        if (in->busy_since_us && now_us() - in->busy_since_us > (int64_t)(in->o.watchdog_s * 1e6)) {
            char msg[FP_ERR_MSG_MAX];
            if (in->vindex < 0)
                snprintf(msg, sizeof(msg), "%s: demux: stalled for more than %g s in %s (while opening)",
                         in->path, in->o.watchdog_s, in->busy_what);
            else if (in->last_pts == AV_NOPTS_VALUE)
                snprintf(msg, sizeof(msg), "%s: decode: stalled for more than %g s in %s (stream #%d, before the "
                         "first frame)", in->path, in->o.watchdog_s, in->busy_what, in->vindex);
            else
                snprintf(msg, sizeof(msg), "%s: decode: stalled for more than %g s in %s (stream #%d, after the "
                         "frame at %.3f s)", in->path, in->o.watchdog_s, in->busy_what, in->vindex,
                         in->last_pts * av_q2d(in->vst->time_base));
            pthread_mutex_unlock(&in->lk);
            if (in->o.on_stall)
                in->o.on_stall(in->o.stall_opaque, msg);
            fprintf(stderr, "framepipe: %s\n", msg);
            _exit(fp_exit_code(FP_ETIMEOUT));
        }
    }
    pthread_mutex_unlock(&in->lk);
    return NULL;
}

static void busy_begin(fp_input *in, const char *what)
{
    if (!in->wd_started)
        return;
    pthread_mutex_lock(&in->lk);
    in->busy_since_us = now_us();
    in->busy_what = what;
    pthread_mutex_unlock(&in->lk);
}

static void busy_end(fp_input *in)
{
    if (!in->wd_started)
        return;
    pthread_mutex_lock(&in->lk);
    in->busy_since_us = 0;
    pthread_mutex_unlock(&in->lk);
}

/* ---- open ----------------------------------------------------------------------------------- */

static int averr(fp_err *e, int ret, const char *path, const char *stage, const char *what)
{
    char buf[128];
    int code = fp_err_from_averror(ret);
    av_strerror(ret, buf, sizeof(buf));
    if (ret == AVERROR_INVALIDDATA)
        snprintf(buf, sizeof(buf), "not a readable media file (invalid data)");
    return fp_errorf(e, code == FP_EIO ? FP_EINPUT : code, "%s: %s: %s%s", path, stage, what, buf);
}

int fp_input_open(fp_input **pin, const char *path, const fp_input_opts *o, fp_err *e)
{
    fp_input *in;
    const AVCodec *codec = NULL;
    AVDictionaryEntry *alpha;
    int ret;

    *pin = NULL;
    fp_media_log_init();
    if (access(path, F_OK) != 0)
        return fp_errorf(e, FP_EINPUT, "%s: open: %s", path, strerror(errno));
    {
        struct stat sb;
        if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size == 0)
            return fp_errorf(e, FP_EINPUT, "%s: demux: empty file (0 bytes)", path);
    }
    in = av_mallocz(sizeof(*in));
    if (!in)
        return fp_errorf(e, FP_ENOMEM, "%s: open: out of memory", path);
    in->o = *o;
    in->vindex = -1;
    in->last_pts = AV_NOPTS_VALUE;
    pthread_mutex_init(&in->lk, NULL);
    pthread_cond_init(&in->cv, NULL);
    in->path = av_strdup(path);
    in->pkt = av_packet_alloc();
    if (!in->path || !in->pkt) {
        ret = fp_errorf(e, FP_ENOMEM, "%s: open: out of memory", path);
        goto fail;
    }
    if (o->watchdog_s > 0) {
        if (pthread_create(&in->wd, NULL, watchdog_main, in) != 0) {
            ret = fp_errorf(e, FP_EINTERNAL, "%s: open: cannot start the watchdog thread", path);
            goto fail;
        }
        in->wd_started = 1;
    }

    busy_begin(in, "open/probe");
    ret = avformat_open_input(&in->fmt, path, NULL, NULL);
    if (ret >= 0)
        ret = avformat_find_stream_info(in->fmt, NULL);
    busy_end(in);
    if (ret < 0) {
        ret = averr(e, ret, path, "demux", "");
        goto fail;
    }
    ret = av_find_best_stream(in->fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    if (ret < 0) {
        ret = fp_errorf(e, FP_EINPUT, "%s: demux: no video stream (not a video)", path);
        goto fail;
    }
    in->vindex = ret;
    in->vst = in->fmt->streams[ret];
    for (unsigned i = 0; i < in->fmt->nb_streams; i++)
        if (i != (unsigned)in->vindex)
            in->fmt->streams[i]->discard = o->on_packet ? AVDISCARD_DEFAULT : AVDISCARD_ALL;

    /* The native VP9 decoder drops the alpha plane that WebM carries beside the picture. */
    alpha = av_dict_get(in->vst->metadata, "alpha_mode", NULL, 0);
    if (in->vst->codecpar->codec_id == AV_CODEC_ID_VP9 && o->want_alpha_decoder && alpha && atoi(alpha->value))
        codec = avcodec_find_decoder_by_name("libvpx-vp9");
    if (!codec)
        codec = avcodec_find_decoder(in->vst->codecpar->codec_id);
    if (!codec) {
        ret = fp_errorf(e, FP_EUNSUPPORTED, "%s: decode: no decoder for codec '%s' in this FFmpeg", path,
                        avcodec_get_name(in->vst->codecpar->codec_id));
        goto fail;
    }
    if (in->vst->codecpar->width <= 0 || in->vst->codecpar->height <= 0) {
        ret = fp_errorf(e, FP_EINPUT, "%s: demux: video stream #%d has no frame size (truncated or corrupt header)",
                        path, in->vindex);
        goto fail;
    }

    if (codec->id == in->vst->codecpar->codec_id && strcmp(codec->name, "libvpx-vp9") != 0) {
        ret = fp_decode_path_choose(in->vst->codecpar, o->decode, &in->hw_device, in->why, sizeof(in->why));
        if (ret < 0) {
            ret = fp_errorf(e, ret, "%s: decode: --decode gpu: %s", path, in->why);
            goto fail;
        }
        in->use_gpu = ret;
    } else {
        in->alpha_vp9 = 1;
        snprintf(in->why, sizeof(in->why), "VP9 with alpha: libvpx-vp9 on the CPU keeps the alpha plane");
        if (o->decode == FP_DECODE_GPU) {
            ret = fp_errorf(e, FP_EUNSUPPORTED, "%s: decode: --decode gpu: NVDEC cannot decode VP9 alpha", path);
            goto fail;
        }
    }
    /* A GPU that cannot take this stream is worth a line; a machine without a GPU is not news. */
    if (!in->use_gpu && o->decode == FP_DECODE_AUTO)
        fp_log(strncmp(in->why, "no GPU", 6) && strncmp(in->why, "no usable GPU", 13) &&
                       strncmp(in->why, "built without", 13) ? FP_LOG_WARN : FP_LOG_INFO,
               "decode", "%s: stream #%d: CPU decode: %s", path, in->vindex, in->why);

    in->dec = avcodec_alloc_context3(codec);
    if (!in->dec) {
        ret = fp_errorf(e, FP_ENOMEM, "%s: decode: out of memory", path);
        goto fail;
    }
    ret = avcodec_parameters_to_context(in->dec, in->vst->codecpar);
    if (ret < 0) {
        ret = averr(e, ret, path, "decode", "");
        goto fail;
    }
    in->dec->pkt_timebase = in->vst->time_base;
    /* CPU decode: FFmpeg picks from the core count. NVDEC: one thread; frame threads only queue work for
     * one hardware engine and add hand-offs (H100, 2026-11-22: 305 vs 281 fps at 1080p H.264, 135 vs 131
     * at 4K, docs/benchmarks.md). FP_DECODE_THREADS overrides both (bench/media/bench_decode.sh). */
    in->dec->thread_count = in->use_gpu ? 1 : 0;
    if (getenv("FP_DECODE_THREADS"))
        in->dec->thread_count = atoi(getenv("FP_DECODE_THREADS"));
#ifdef FP_HAVE_CUDA
    if (in->use_gpu) {
        in->dec->hw_device_ctx = av_buffer_ref(in->hw_device);
        in->dec->get_format = get_cuda_format;
        if (o->frames_held > 0)
            in->dec->extra_hw_frames = o->frames_held;
    }
#endif
    ret = avcodec_open2(in->dec, codec, NULL);
    if (ret < 0) {
        ret = averr(e, ret, path, "decode", "cannot open the decoder: ");
        goto fail;
    }

    {
        AVRational tb = in->vst->time_base;
        if (in->o.start_pts == AV_NOPTS_VALUE && o->start_s >= 0)
            in->o.start_pts = av_rescale_q_rnd((int64_t)(o->start_s * 1e6 + 0.5), AV_TIME_BASE_Q, tb, AV_ROUND_UP);
        if (in->o.end_pts == AV_NOPTS_VALUE && o->end_s >= 0)
            in->o.end_pts = av_rescale_q_rnd((int64_t)(o->end_s * 1e6 + 0.5), AV_TIME_BASE_Q, tb, AV_ROUND_UP);
    }
    if (in->o.start_pts != AV_NOPTS_VALUE) {
        busy_begin(in, "seek");
        ret = avformat_seek_file(in->fmt, in->vindex, INT64_MIN, in->o.start_pts, in->o.start_pts, 0);
        busy_end(in);
        if (ret < 0)
            fp_log(FP_LOG_WARN, "demux", "%s: cannot seek to pts %lld; decoding from the start", path,
                   (long long)in->o.start_pts);
    }
    *pin = in;
    return 0;
fail:
    fp_input_freep(&in);
    return ret;
}

void fp_input_freep(fp_input **pin)
{
    fp_input *in = *pin;
    if (!in)
        return;
    if (in->wd_started) {
        pthread_mutex_lock(&in->lk);
        in->wd_stop = 1;
        pthread_cond_signal(&in->cv);
        pthread_mutex_unlock(&in->lk);
        pthread_join(in->wd, NULL);
    }
    pthread_mutex_destroy(&in->lk);
    pthread_cond_destroy(&in->cv);
    avcodec_free_context(&in->dec);
    avformat_close_input(&in->fmt);
    av_buffer_unref(&in->hw_device);
    av_packet_free(&in->pkt);
    av_freep(&in->path);
    av_freep(pin);
}

/* ---- reading -------------------------------------------------------------------------------- */

static int count_error(fp_input *in, fp_err *e, const char *what, int64_t pts)
{
    double t = pts == AV_NOPTS_VALUE ? -1 : pts * av_q2d(in->vst->time_base);
    in->errors++;
    if (in->o.max_errors >= 0 && in->errors > in->o.max_errors)
        return fp_errorf(e, FP_EINPUT,
                         "%s: decode: %s at %.3f s (stream #%d); %d corrupt so far, more than --max-errors %d",
                         in->path, what, t, in->vindex, in->errors, in->o.max_errors);
    fp_log(FP_LOG_WARN, "decode", "%s: %s at %.3f s (stream #%d), %d so far (--max-errors %d)", in->path, what,
           t, in->vindex, in->errors, in->o.max_errors);
    return 0;
}

int fp_input_read_frame(fp_input *in, AVFrame *frame, fp_err *e)
{
    int ret;
    for (;;) {
        if (in->done)
            return FP_EOF;
        busy_begin(in, "avcodec_receive_frame");
        ret = avcodec_receive_frame(in->dec, frame);
        busy_end(in);
        if (ret >= 0) {
            int64_t pts = frame->best_effort_timestamp;
            frame->pts = pts;
            if (frame->decode_error_flags || (frame->flags & AV_FRAME_FLAG_CORRUPT)) {
                ret = count_error(in, e, "corrupt frame", pts);
                if (ret < 0) {
                    av_frame_unref(frame);
                    return ret;
                }
            }
            if (pts != AV_NOPTS_VALUE && in->o.start_pts != AV_NOPTS_VALUE && pts < in->o.start_pts) {
                av_frame_unref(frame);
                continue;
            }
            if (pts != AV_NOPTS_VALUE && in->o.end_pts != AV_NOPTS_VALUE && pts >= in->o.end_pts) {
                av_frame_unref(frame);
                in->done = 1;
                return FP_EOF;
            }
            in->last_pts = pts;
            return 0;
        }
        if (ret == AVERROR_EOF) {
            in->done = 1;
            return FP_EOF;
        }
        if (ret != AVERROR(EAGAIN)) {
            ret = count_error(in, e, "decode error", in->last_pts);
            if (ret < 0)
                return ret;
            continue;
        }
        if (in->read_eof)
            return fp_errorf(e, FP_EINTERNAL, "%s: decode: decoder wants input after the flush", in->path);

        busy_begin(in, "av_read_frame");
        ret = av_read_frame(in->fmt, in->pkt);
        busy_end(in);
        if (ret == AVERROR_EOF || (ret < 0 && avio_feof(in->fmt->pb))) {
            in->read_eof = 1;
            busy_begin(in, "avcodec_send_packet (flush)");
            avcodec_send_packet(in->dec, NULL);
            busy_end(in);
            continue;
        }
        if (ret < 0) {
            if (ret == AVERROR(EAGAIN))
                continue;
            ret = count_error(in, e, "unreadable packet", in->last_pts);
            if (ret < 0)
                return ret;
            continue;
        }
        if (in->pkt->stream_index != in->vindex) {
            ret = in->o.on_packet ? in->o.on_packet(in->o.packet_opaque, in->pkt) : 0;
            av_packet_unref(in->pkt);
            if (ret < 0)
                return ret;
            continue;
        }
        if (in->pkt->flags & AV_PKT_FLAG_CORRUPT) {
            ret = count_error(in, e, "corrupt packet", in->pkt->pts);
            if (ret < 0) {
                av_packet_unref(in->pkt);
                return ret;
            }
        }
        busy_begin(in, "avcodec_send_packet");
        ret = avcodec_send_packet(in->dec, in->pkt);
        busy_end(in);
        if (ret < 0 && ret != AVERROR(EAGAIN)) {
            int64_t pts = in->pkt->pts;
            av_packet_unref(in->pkt);
            if (ret == AVERROR(ENOMEM))
                return fp_errorf(e, FP_ENOMEM, "%s: decode: out of memory", in->path);
            ret = count_error(in, e, "corrupt packet", pts);
            if (ret < 0)
                return ret;
            continue;
        }
        /* EAGAIN from send_packet cannot happen here: receive_frame was drained to EAGAIN first. */
        av_packet_unref(in->pkt);
    }
}

AVFormatContext *fp_input_format(const fp_input *in) { return in->fmt; }
AVStream *fp_input_video_stream(const fp_input *in) { return in->vst; }
AVCodecContext *fp_input_decoder(const fp_input *in) { return in->dec; }
const char *fp_input_path(const fp_input *in) { return in->path; }
int fp_input_uses_gpu(const fp_input *in) { return in->use_gpu; }
const char *fp_input_decode_why(const fp_input *in) { return in->why; }
int fp_input_errors(const fp_input *in) { return in->errors; }

void fp_input_range(const fp_input *in, int64_t *start_pts, int64_t *end_pts)
{
    *start_pts = in->o.start_pts;
    *end_pts = in->o.end_pts;
}

enum AVPixelFormat fp_input_sw_format(const fp_input *in)
{
    if (in->alpha_vp9)
        return AV_PIX_FMT_YUVA420P;
    if (in->dec->pix_fmt == AV_PIX_FMT_CUDA && in->dec->sw_pix_fmt != AV_PIX_FMT_NONE)
        return in->dec->sw_pix_fmt;
    if (in->dec->pix_fmt != AV_PIX_FMT_NONE)
        return in->dec->pix_fmt;
    return in->vst->codecpar->format;
}

void *fp_input_cuda_context(const fp_input *in)
{
#ifdef FP_HAVE_CUDA
    if (in->hw_device) {
        AVHWDeviceContext *hd = (AVHWDeviceContext *)in->hw_device->data;
        return ((AVCUDADeviceContext *)hd->hwctx)->cuda_ctx;
    }
#endif
    return NULL;
}
