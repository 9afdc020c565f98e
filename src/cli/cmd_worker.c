/*
 * framepipe worker — claim and run chunks until stopped.
 *
 * Owns: the worker command line, one worker thread per (GPU x --concurrency), and signal handling:
 * the first SIGTERM/SIGINT lets every thread finish its current task if it is expected to end within
 * --grace seconds, else gives it back to the queue at once (not counted as a failure), and exits 0;
 * a second one exits at once (the leases then expire and the chunks are re-run elsewhere). Does not own the loop itself
 * (jobs_worker.c).
 */
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fp_error.h"
#include "core/fp_log.h"
#include "jobs/jobs_cli.h"
#include "jobs/jobs_worker.h"
#ifdef FP_CLI_HAVE_GPUINFO
#include "pipeline/fp_gpuinfo.h"
#endif

static atomic_int stop_flag;

static void on_signal(int sig)
{
    if (atomic_exchange(&stop_flag, 1)) {
        signal(sig, SIG_DFL);
        raise(sig);
    }
}

typedef struct wthread {
    pthread_t t;
    fp_worker_opts o;
    char name[256];
    fp_err e;
    int ret, started;
} wthread;

static void *wmain(void *arg)
{
    wthread *w = arg;
    w->ret = fp_worker_run(&w->o, NULL, &w->e);
    return NULL;
}

/* GPUs the driver exposes, and why there are none (why: a line for the user). Through fp_gpuinfo
 * (libcuda.so.1 loaded at run time: works in containers, where /proc/driver/nvidia may be absent)
 * when the pipeline module is built; else the NVIDIA driver's /proc entries. */
static int count_gpus(char *why, size_t n)
{
#ifdef FP_CLI_HAVE_GPUINFO
    fp_gpuinfo *gi = NULL;
    int count = 0;
    if (fp_gpuinfo_query(&gi, 0) < 0) {
        snprintf(why, n, "out of memory");
        return 0;
    }
    count = gi->nb_devices;
    snprintf(why, n, "%s", gi->status);
    fp_gpuinfo_freep(&gi);
    return count;
#else
    DIR *d = opendir("/proc/driver/nvidia/gpus");
    int count = 0;
    snprintf(why, n, "no NVIDIA driver (/proc/driver/nvidia/gpus)");
    if (!d)
        return 0;
    for (struct dirent *de; (de = readdir(d));)
        count += de->d_name[0] != '.';
    closedir(d);
    return count;
#endif
}

int fp_cmd_worker(int argc, char **argv)
{
    const char *queue = NULL, *gpus = NULL, *conc = NULL, *lease = NULL, *beat = NULL, *poll = NULL, *attempts = NULL,
               *workdir = NULL, *idle = NULL, *name = NULL, *grace = NULL;
    const fp_cli_opt opts[] = {
        { "queue", "URL", "sqlite:PATH or postgres://... (default $FP_QUEUE or sqlite:framepipe-queue.db)", &queue },
        { "gpus", "all|0,1", "one worker per listed GPU; tasks run on that GPU (matte: device id)", &gpus },
        { "concurrency", "N", "workers per GPU, or in total without --gpus (default 1)", &conc },
        { "lease", "S", "lease length in seconds (default 60)", &lease },
        { "beat", "S", "heartbeat interval in seconds (default 10)", &beat },
        { "poll", "S", "idle poll interval in seconds, jittered (default 1)", &poll },
        { "max-attempts", "N", "tries per chunk this worker applies when reaping (default 3)", &attempts },
        { "workdir", "DIR", "local scratch directory (default $TMPDIR or /tmp)", &workdir },
        { "exit-when-idle", NULL, "exit when no task is runnable", &idle },
        { "name", "NAME", "worker name prefix (default host:pid)", &name },
        { "grace", "S", "on SIGTERM finish a task expected to end within S s, else release it (default 30;"
                        " -1: always finish)", &grace },
        { NULL },
    };
    const char *pos[1];
    int npos, r = fp_jobs_cli_parse("worker", "[options]", opts, argc, argv, pos, 0, &npos);
    if (r)
        return r > 0 ? FP_EXIT_OK : FP_EXIT_USAGE;
    int per = conc ? atoi(conc) : 1;
    if (per < 1 || per > 256) {
        fprintf(stderr, "framepipe worker: --concurrency must be 1..256\n");
        return FP_EXIT_USAGE;
    }
    int gpu_ids[64], ngpu = 0, have = -1;
    char why[256] = "";
    if (gpus && !strcmp(gpus, "all")) {
        ngpu = count_gpus(why, sizeof(why));
        if (!ngpu) {
            /* documented: exit 7 (GPU error); without --gpus the workers run on the CPU */
            fprintf(stderr, "framepipe worker: --gpus all: no GPU on this machine (%s); leave out --gpus to run CPU "
                            "workers\n", why);
            return FP_EXIT_DEVICE;
        }
        for (int i = 0; i < ngpu && i < 64; i++)
            gpu_ids[i] = i;
    } else if (gpus) {
        for (const char *p = gpus; *p && ngpu < 64;) {
            char *end;
            long v = strtol(p, &end, 10);
            if (end == p || v < 0) {
                fprintf(stderr, "framepipe worker: --gpus wants all or a list like 0,1\n");
                return FP_EXIT_USAGE;
            }
            if (have < 0)
                have = count_gpus(why, sizeof(why));
            if (v >= have) {
                fprintf(stderr, "framepipe worker: --gpus %s: GPU %ld is not on this machine (%d found%s%s)\n", gpus, v,
                        have, have ? "" : ": ", have ? "" : why);
                return FP_EXIT_DEVICE;
            }
            gpu_ids[ngpu++] = (int)v;
            p = *end == ',' ? end + 1 : end;
        }
    }
    int n = (ngpu ? ngpu : 1) * per;
    wthread *w = calloc(n, sizeof(*w));
    if (!w)
        return FP_EXIT_FAILURE;
    struct sigaction sa = { 0 };
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    char host[128] = "localhost";
    gethostname(host, sizeof(host) - 1);
    fp_jobq_opts qo = { lease ? atof(lease) : 0, 0, 0, attempts ? atoi(attempts) : 0 };
    for (int i = 0; i < n; i++) {
        if (ngpu)
            snprintf(w[i].name, sizeof(w[i].name), "%s:%ld:gpu%d:%d", name ? name : host, (long)getpid(),
                     gpu_ids[i / per], i % per);
        else
            snprintf(w[i].name, sizeof(w[i].name), "%s:%ld:%d", name ? name : host, (long)getpid(), i);
        w[i].o = (fp_worker_opts){ .queue_url = queue ? queue : fp_cli_default_queue(), .name = w[i].name,
                                   .workdir = workdir, .poll_s = poll ? atof(poll) : 1, .beat_s = beat ? atof(beat) : 10,
                                   .qopts = qo, .exit_when_idle = idle != NULL, .stop = &stop_flag,
                                   .grace_s = grace ? atof(grace) : 30, .has_gpu = ngpu > 0,
                                   .gpu = ngpu ? gpu_ids[i / per] : -1 };
        w[i].started = pthread_create(&w[i].t, NULL, wmain, &w[i]) == 0;
    }
    int ret = 0;
    for (int i = 0; i < n; i++) {
        if (!w[i].started)
            continue;
        pthread_join(w[i].t, NULL);
        if (w[i].ret < 0 && !ret) {
            ret = w[i].ret;
            fprintf(stderr, "framepipe: %s\n", w[i].e.msg);
        }
    }
    free(w);
    if (!ret && atomic_load(&stop_flag))
        fp_log(FP_LOG_INFO, "worker", "stopped by signal after finishing current tasks");
    return fp_exit_code(ret);
}
