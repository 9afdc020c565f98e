/*
 * fp_gpuinfo — what NVIDIA hardware this machine has, found at run time.
 *
 * Owns: loading the driver libraries with dlopen (libcuda.so.1, libnvcuvid.so.1,
 * libnvidia-encode.so.1, through FFmpeg's nv-codec loader headers) so that framepipe has no link-time
 * dependency on the driver and runs on machines without one; and describing, per GPU: name, memory,
 * compute capability, SM count, NVDEC support per codec/bit depth/chroma (cuvidGetDecoderCaps) and
 * NVENC support per codec (an encode session queried for its codec GUIDs and caps). Does not own the
 * CUDA context framepipe computes in (src/gpu, FFmpeg's hwdevice) nor any policy (fp_autoconf.h).
 *
 * "No GPU" is a result, not an error: fp_gpuinfo_query() returns 0 with nb_devices == 0 and a
 * one-line status saying why (no driver library, stub library, cuInit failed, zero devices).
 */
#ifndef FP_GPUINFO_H
#define FP_GPUINFO_H

#include <stdint.h>

#define FP_GPU_DEC_MAX 16
#define FP_GPU_ENC_MAX 8

typedef struct fp_gpu_dec_caps {
    const char *codec;      /* "h264", "hevc", "vp9", "av1" (static) */
    int bit_depth;          /* 8, 10 */
    int chroma;             /* 420 or 444 */
    int supported;
    int engines;            /* NVDEC engines that can decode it */
    int max_width, max_height;
} fp_gpu_dec_caps;

typedef struct fp_gpu_enc_caps {
    const char *codec;      /* "h264", "hevc", or "other" (static) */
    int max_width, max_height;
    int ten_bit, yuv444, alpha;
    int engines;
} fp_gpu_enc_caps;

typedef struct fp_gpu_device {
    int index;
    char name[128];
    int cc_major, cc_minor;
    int sm_count;
    uint64_t mem_total, mem_free;       /* bytes; mem_free 0 if it could not be read */
    int nvdec_probed;                   /* 0: libnvcuvid missing or query failed (see nvdec_note) */
    char nvdec_note[192];
    fp_gpu_dec_caps dec[FP_GPU_DEC_MAX];
    int nb_dec;
    int nvenc_probed;                   /* 1: an encode session answered (nb_enc may still be 0) */
    char nvenc_note[192];               /* why there is no NVENC, when there is none */
    fp_gpu_enc_caps enc[FP_GPU_ENC_MAX];
    int nb_enc;
} fp_gpu_device;

typedef struct fp_gpuinfo {
    int driver_loaded;                  /* libcuda.so.1 loaded and cuInit succeeded */
    char status[256];                   /* one line for the user, in every case */
    int cuda_driver_version;            /* cuDriverGetVersion, e.g. 12040; 0 if unknown */
    char driver_version[64];            /* NVIDIA kernel driver ("550.54.15"); "" if unknown */
    const char *cuda_build_version;     /* CUDA toolkit framepipe was built with, or NULL (CPU build) */
    int nb_devices;
    fp_gpu_device *devices;
} fp_gpuinfo;

enum fp_gpuinfo_flags {
    FP_GPUINFO_CODECS = 1,              /* also probe NVDEC and NVENC (slower: opens sessions) */
};

/* Describe the GPUs. Returns 0 (also when there is no GPU or no driver: see status) or FP_ENOMEM.
 * *pinfo is owned by the caller: fp_gpuinfo_freep(). */
int fp_gpuinfo_query(fp_gpuinfo **pinfo, unsigned flags);
void fp_gpuinfo_freep(fp_gpuinfo **pinfo);

/* Best NVDEC answer for codec/bit depth/chroma on a device, or NULL if not probed / unknown codec. */
const fp_gpu_dec_caps *fp_gpu_dec_find(const fp_gpu_device *d, const char *codec, int bit_depth, int chroma);

#endif
