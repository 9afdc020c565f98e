/*
 * framepipe doctor — describe this machine as framepipe sees it: CPU and RAM, NVIDIA driver and
 * CUDA versions, each GPU (memory, compute capability, NVDEC and NVENC per codec) and the settings
 * framepipe would choose (fp_autoconf) for typical frame sizes. Text for people, --json for machines.
 *
 * Owns: option parsing and presentation only; discovery is fp_gpuinfo, policy is fp_autoconf.
 * A machine without GPU or driver is a normal answer: one line says so, the CPU settings follow,
 * exit 0. Exit 2 for a bad command line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fp_error.h"
#include "core/fp_json.h"
#include "pipeline/fp_autoconf.h"
#include "pipeline/fp_gpuinfo.h"
#include "pipeline/fp_mem.h"

enum doctor_opt_id { OPT_JSON, OPT_SIZE, OPT_NO_CODECS, OPT_HELP };

static const struct doctor_opt {
    enum doctor_opt_id id;
    const char *name, *arg, *help;
} doctor_opts[] = {
    { OPT_JSON, "--json", NULL, "print one JSON object on stdout instead of text" },
    { OPT_SIZE, "--size", "WxH", "frame size to choose settings for (repeatable; default 1920x1080 and 3840x2160)" },
    { OPT_NO_CODECS, "--no-codecs", NULL, "skip the NVDEC/NVENC probes" },
    { OPT_HELP, "--help", NULL, "show this help" },
};

#define MAX_SIZES 8

static void doctor_usage(FILE *f)
{
    fprintf(f, "usage: framepipe doctor [options]\n\n"
               "Describes GPUs, NVDEC/NVENC support and the settings framepipe would choose.\n"
               "Works without a GPU (says so and shows the CPU settings).\n\noptions:\n");
    for (size_t i = 0; i < sizeof(doctor_opts) / sizeof(doctor_opts[0]); i++) {
        char left[32];
        snprintf(left, sizeof(left), "%s%s%s", doctor_opts[i].name, doctor_opts[i].arg ? " " : "",
                 doctor_opts[i].arg ? doctor_opts[i].arg : "");
        fprintf(f, "  %-16s %s\n", left, doctor_opts[i].help);
    }
}

static double gib(uint64_t b) { return b / (1024.0 * 1024 * 1024); }

static void settings_for(const fp_gpu_device *gpu, int cores, int w, int h, fp_autoconf_out *out)
{
    fp_autoconf_in in = { .width = w, .height = h, .cpu_cores = cores, .gpu = gpu };
    fp_autoconf(&in, out);
}

static void print_text(const fp_gpuinfo *gi, int cores, const int (*sizes)[2], int nb_sizes, int codecs)
{
    printf("CPU: %d cores, RAM %.1f GiB (%.1f GiB available)\n", cores, gib(fp_mem_total_ram()),
           gib(fp_mem_available_ram()));
    if (!gi->nb_devices) {
        printf("GPU: none: %s; framepipe will run on the CPU\n", gi->status);
    } else {
        printf("GPU: %s", gi->status);
        if (gi->driver_version[0])
            printf(", NVIDIA driver %s", gi->driver_version);
        printf("\n");
    }
    printf("framepipe built with CUDA: %s\n", gi->cuda_build_version ? gi->cuda_build_version : "no (CPU-only build)");
    for (int i = 0; i < gi->nb_devices; i++) {
        const fp_gpu_device *d = &gi->devices[i];
        printf("\nGPU %d: %s, compute capability %d.%d, %d SMs, memory %.1f GiB total, %.1f GiB free\n",
               d->index, d->name, d->cc_major, d->cc_minor, d->sm_count, gib(d->mem_total), gib(d->mem_free));
        if (!codecs)
            continue;
        if (!d->nvdec_probed) {
            printf("  NVDEC: %s\n", d->nvdec_note);
        } else {
            printf("  NVDEC   codec  depth  chroma  supported  engines  max size\n");
            for (int k = 0; k < d->nb_dec; k++) {
                const fp_gpu_dec_caps *c = &d->dec[k];
                printf("          %-5s  %2d-bit  4:%s   %-9s  %7d  ", c->codec, c->bit_depth,
                       c->chroma == 444 ? "4:4" : "2:0", c->supported ? "yes" : "no", c->engines);
                if (c->supported)
                    printf("%dx%d\n", c->max_width, c->max_height);
                else
                    printf("-\n");
            }
        }
        if (!d->nb_enc) {
            printf("  NVENC: none (%s); CPU encoders will be used\n", d->nvenc_note[0] ? d->nvenc_note : "not probed");
        } else {
            printf("  NVENC   codec  engines  max size     10-bit  4:4:4  alpha\n");
            for (int k = 0; k < d->nb_enc; k++) {
                const fp_gpu_enc_caps *c = &d->enc[k];
                printf("          %-5s  %7d  %5dx%-5d  %-6s  %-5s  %s\n", c->codec, c->engines, c->max_width,
                       c->max_height, c->ten_bit ? "yes" : "no", c->yuv444 ? "yes" : "no", c->alpha ? "yes" : "no");
            }
        }
    }
    printf("\nsettings framepipe would choose%s:\n", gi->nb_devices ? " (from free GPU memory, GPU 0)" : " (CPU)");
    for (int s = 0; s < nb_sizes; s++) {
        fp_autoconf_out o;
        settings_for(gi->nb_devices ? &gi->devices[0] : NULL, cores, sizes[s][0], sizes[s][1], &o);
        printf("  %dx%d: batch %d, queue depth gpu %d / host %d, encoders %d\n    (%s)\n", sizes[s][0],
               sizes[s][1], o.batch, o.gpu_queue_depth, o.host_queue_depth, o.encoders, o.why);
    }
}

static void print_json(const fp_gpuinfo *gi, int cores, const int (*sizes)[2], int nb_sizes, int codecs)
{
    FILE *f = stdout;
    fprintf(f, "{\"cpu\":{\"cores\":%d,\"ram_bytes\":%llu,\"ram_available_bytes\":%llu},", cores,
            (unsigned long long)fp_mem_total_ram(), (unsigned long long)fp_mem_available_ram());
    fprintf(f, "\"driver\":{\"loaded\":%s,\"status\":", gi->driver_loaded ? "true" : "false");
    fp_json_str(f, gi->status);
    fprintf(f, ",\"nvidia_driver_version\":");
    if (gi->driver_version[0])
        fp_json_str(f, gi->driver_version);
    else
        fputs("null", f);
    fprintf(f, ",\"cuda_driver_version\":");
    if (gi->cuda_driver_version)
        fprintf(f, "\"%d.%d\"", gi->cuda_driver_version / 1000, gi->cuda_driver_version % 1000 / 10);
    else
        fputs("null", f);
    fprintf(f, ",\"cuda_build_version\":");
    if (gi->cuda_build_version)
        fp_json_str(f, gi->cuda_build_version);
    else
        fputs("null", f);
    fprintf(f, "},\"gpus\":[");
    for (int i = 0; i < gi->nb_devices; i++) {
        const fp_gpu_device *d = &gi->devices[i];
        fprintf(f, "%s{\"index\":%d,\"name\":", i ? "," : "", d->index);
        fp_json_str(f, d->name);
        fprintf(f, ",\"compute_capability\":\"%d.%d\",\"sm_count\":%d,\"memory_total_bytes\":%llu,"
                   "\"memory_free_bytes\":%llu", d->cc_major, d->cc_minor, d->sm_count,
                (unsigned long long)d->mem_total, (unsigned long long)d->mem_free);
        if (codecs) {
            fprintf(f, ",\"nvdec\":{\"probed\":%s,\"note\":", d->nvdec_probed ? "true" : "false");
            fp_json_str(f, d->nvdec_note);
            fprintf(f, ",\"codecs\":[");
            for (int k = 0; k < d->nb_dec; k++) {
                const fp_gpu_dec_caps *c = &d->dec[k];
                fprintf(f, "%s{\"codec\":\"%s\",\"bit_depth\":%d,\"chroma\":\"4:%s\",\"supported\":%s,"
                           "\"engines\":%d,\"max_width\":%d,\"max_height\":%d}", k ? "," : "", c->codec,
                        c->bit_depth, c->chroma == 444 ? "4:4" : "2:0", c->supported ? "true" : "false",
                        c->engines, c->max_width, c->max_height);
            }
            fprintf(f, "]},\"nvenc\":{\"available\":%s,\"note\":", d->nb_enc ? "true" : "false");
            fp_json_str(f, d->nvenc_note);
            fprintf(f, ",\"codecs\":[");
            for (int k = 0; k < d->nb_enc; k++) {
                const fp_gpu_enc_caps *c = &d->enc[k];
                fprintf(f, "%s{\"codec\":\"%s\",\"engines\":%d,\"max_width\":%d,\"max_height\":%d,"
                           "\"ten_bit\":%s,\"yuv444\":%s,\"alpha\":%s}", k ? "," : "", c->codec, c->engines,
                        c->max_width, c->max_height, c->ten_bit ? "true" : "false",
                        c->yuv444 ? "true" : "false", c->alpha ? "true" : "false");
            }
            fprintf(f, "]}");
        }
        fputc('}', f);
    }
    fprintf(f, "],\"settings\":[");
    for (int s = 0; s < nb_sizes; s++) {
        fp_autoconf_out o;
        settings_for(gi->nb_devices ? &gi->devices[0] : NULL, cores, sizes[s][0], sizes[s][1], &o);
        fprintf(f, "%s{\"width\":%d,\"height\":%d,\"device\":%s,\"batch\":%d,\"gpu_queue_depth\":%d,"
                   "\"host_queue_depth\":%d,\"encoders\":%d,\"gpu_budget_bytes\":%llu,"
                   "\"gpu_frame_bytes\":%llu,\"host_frame_bytes\":%llu,\"why\":",
                s ? "," : "", sizes[s][0], sizes[s][1], gi->nb_devices ? "\"gpu0\"" : "\"cpu\"", o.batch,
                o.gpu_queue_depth, o.host_queue_depth, o.encoders, (unsigned long long)o.gpu_budget,
                (unsigned long long)o.gpu_frame_bytes, (unsigned long long)o.host_frame_bytes);
        fp_json_str(f, o.why);
        fputc('}', f);
    }
    fprintf(f, "]}\n");
}

int fp_cmd_doctor(int argc, char **argv)
{
    int json = 0, codecs = 1, nb_sizes = 0, cores, ret;
    int sizes[MAX_SIZES][2];
    fp_gpuinfo *gi;

    for (int i = 1; i < argc; i++) {
        const struct doctor_opt *o = NULL;
        for (size_t k = 0; k < sizeof(doctor_opts) / sizeof(doctor_opts[0]); k++)
            if (!strcmp(argv[i], doctor_opts[k].name))
                o = &doctor_opts[k];
        if (!o && !strcmp(argv[i], "-h"))
            o = &doctor_opts[OPT_HELP];
        if (!o) {
            fprintf(stderr, "framepipe: doctor: unknown option '%s'\n", argv[i]);
            doctor_usage(stderr);
            return FP_EXIT_USAGE;
        }
        if (o->arg && i + 1 >= argc) {
            fprintf(stderr, "framepipe: doctor: %s needs a value (%s)\n", o->name, o->arg);
            return FP_EXIT_USAGE;
        }
        switch (o->id) {
        case OPT_JSON: json = 1; break;
        case OPT_NO_CODECS: codecs = 0; break;
        case OPT_HELP: doctor_usage(stdout); return FP_EXIT_OK;
        case OPT_SIZE: {
            int w, h;
            char tail;
            i++;
            if (sscanf(argv[i], "%dx%d%c", &w, &h, &tail) != 2 || w < 16 || h < 16 || w > 16384 || h > 16384) {
                fprintf(stderr, "framepipe: doctor: --size '%s': expected WxH between 16x16 and 16384x16384\n",
                        argv[i]);
                return FP_EXIT_USAGE;
            }
            if (nb_sizes == MAX_SIZES) {
                fprintf(stderr, "framepipe: doctor: at most %d --size options\n", MAX_SIZES);
                return FP_EXIT_USAGE;
            }
            sizes[nb_sizes][0] = w;
            sizes[nb_sizes++][1] = h;
            break;
        }
        }
    }
    if (!nb_sizes) {
        sizes[0][0] = 1920, sizes[0][1] = 1080;
        sizes[1][0] = 3840, sizes[1][1] = 2160;
        nb_sizes = 2;
    }
    cores = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if ((ret = fp_gpuinfo_query(&gi, codecs ? FP_GPUINFO_CODECS : 0)) < 0) {
        fprintf(stderr, "framepipe: doctor: %s\n", fp_strerror(ret));
        return fp_exit_code(ret);
    }
    if (json)
        print_json(gi, cores, (const int (*)[2])sizes, nb_sizes, codecs);
    else
        print_text(gi, cores, (const int (*)[2])sizes, nb_sizes, codecs);
    fp_gpuinfo_freep(&gi);
    return FP_EXIT_OK;
}
