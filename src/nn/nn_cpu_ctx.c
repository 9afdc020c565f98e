/*
 * nn_cpu_ctx — the CPU execution context: a fixed pool of worker threads that nn_cpu_parallel_for()
 * wakes for each parallel loop, and a scratch arena that grows to the largest request seen and is
 * reused across kernels.
 *
 * Owns: threads, their synchronisation, scratch memory. Does not own kernels or tensors.
 * Work is split into `threads` contiguous ranges of equal size (the last one shorter), so which
 * indices a range holds depends on the thread count but each index is computed by the same code:
 * kernels whose iterations are independent give identical results at any thread count.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nn/nn_cpu.h"

#ifdef FP_HAVE_OPENBLAS
/* OpenBLAS's own prototype (cblas.h also declares it, but pulling cblas.h in here is not needed). */
void openblas_set_num_threads(int num_threads);
#endif

#define NN_CPU_MAX_THREADS 64
#define NN_SCRATCH_SLOTS 16

struct nn_cpu_ctx {
    int nthreads;
    pthread_t *threads;
    int nworkers;                 /* created pool threads (nthreads - 1; the caller is the last) */
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    uint64_t generation;          /* bumped per job; workers run each generation once */
    int pending;                  /* workers that have not finished the current job */
    int quit;
    /* current job */
    void (*fn)(void *arg, int64_t begin, int64_t end);
    void *arg;
    int64_t n, chunk;
    /* scratch: several live blocks per kernel (a kernel may ask more than once) */
    void *slot[NN_SCRATCH_SLOTS];
    size_t slot_size[NN_SCRATCH_SLOTS];
    int slot_used;
    int poison;                   /* tests: fill scratch with 0xff (nn_cpu_ctx_set_poison) */
};

/* Set while this thread runs a range: a nested parallel_for (a kernel calling a helper that is itself
 * parallel) then runs inline instead of waiting on workers that are busy with the outer loop. */
static _Thread_local int in_parallel;

static void run_range(nn_cpu_ctx *c, int idx)
{
    int64_t b = (int64_t)idx * c->chunk;
    int64_t e = b + c->chunk;
    if (e > c->n)
        e = c->n;
    if (b < e)
        c->fn(c->arg, b, e);
}

static void *worker_main(void *p)
{
    nn_cpu_ctx *c = p;
    uint64_t seen = 0;
    int idx;
    pthread_mutex_lock(&c->mu);
    /* worker index = position in threads[] + 1 (the caller runs range 0) */
    for (idx = 0; idx < c->nworkers; idx++)
        if (pthread_equal(c->threads[idx], pthread_self()))
            break;
    idx += 1;
    for (;;) {
        while (!c->quit && c->generation == seen)
            pthread_cond_wait(&c->go, &c->mu);
        if (c->quit)
            break;
        seen = c->generation;
        pthread_mutex_unlock(&c->mu);
        in_parallel = 1;
        run_range(c, idx);
        in_parallel = 0;
        pthread_mutex_lock(&c->mu);
        if (--c->pending == 0)
            pthread_cond_signal(&c->done);
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

int nn_cpu_ctx_create(nn_cpu_ctx **out, int threads, fp_err *e)
{
    *out = NULL;
    if (threads <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n > 0 ? (int)n : 1;
    }
    if (threads > NN_CPU_MAX_THREADS)
        threads = NN_CPU_MAX_THREADS;
    nn_cpu_ctx *c = calloc(1, sizeof(*c));
    if (!c)
        return fp_errorf(e, FP_ENOMEM, "nn: cpu: out of memory creating the execution context");
    c->nthreads = threads;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->go, NULL);
    pthread_cond_init(&c->done, NULL);
    if (threads > 1) {
        c->threads = calloc((size_t)threads - 1, sizeof(pthread_t));
        if (!c->threads) {
            nn_cpu_ctx_freep(&c);
            return fp_errorf(e, FP_ENOMEM, "nn: cpu: out of memory creating the thread pool");
        }
        /* Hold the lock while creating so workers see the full threads[] before looking themselves up. */
        pthread_mutex_lock(&c->mu);
        for (int i = 0; i < threads - 1; i++) {
            if (pthread_create(&c->threads[i], NULL, worker_main, c)) {
                pthread_mutex_unlock(&c->mu);
                nn_cpu_ctx_freep(&c);
                return fp_errorf(e, FP_EINTERNAL, "nn: cpu: cannot start worker thread %d", i);
            }
            c->nworkers++;
        }
        pthread_mutex_unlock(&c->mu);
    }
    *out = c;
    nn_cpu_ctx_bind_blas(c); /* kernels called without the backend (tests, folding) too */
    return 0;
}

void nn_cpu_ctx_freep(nn_cpu_ctx **pc)
{
    nn_cpu_ctx *c = pc ? *pc : NULL;
    if (!c)
        return;
    pthread_mutex_lock(&c->mu);
    c->quit = 1;
    pthread_cond_broadcast(&c->go);
    pthread_mutex_unlock(&c->mu);
    for (int i = 0; i < c->nworkers; i++)
        pthread_join(c->threads[i], NULL);
    free(c->threads);
    for (int i = 0; i < NN_SCRATCH_SLOTS; i++)
        free(c->slot[i]);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->go);
    pthread_cond_destroy(&c->done);
    free(c);
    *pc = NULL;
}

int nn_cpu_ctx_threads(const nn_cpu_ctx *ctx)
{
    return ctx ? ctx->nthreads : 1;
}

void *nn_cpu_ctx_scratch(nn_cpu_ctx *c, size_t bytes)
{
    if (!c || c->slot_used >= NN_SCRATCH_SLOTS)
        return NULL;
    int i = c->slot_used;
    if (bytes > SIZE_MAX - 64)
        return NULL;
    size_t need = (bytes + 63) & ~(size_t)63;
    if (!need)
        need = 64;
    if (c->slot_size[i] < need) {
        void *p = aligned_alloc(64, need);
        if (!p)
            return NULL;
        free(c->slot[i]);
        c->slot[i] = p;
        c->slot_size[i] = need;
    }
    c->slot_used++;
    if (c->poison)
        memset(c->slot[i], 0xff, need);
    return c->slot[i];
}

void nn_cpu_ctx_set_poison(nn_cpu_ctx *c, int on)
{
    if (c)
        c->poison = on;
}

void nn_cpu_ctx_bind_blas(const nn_cpu_ctx *c)
{
#ifdef FP_HAVE_OPENBLAS
    /* OpenBLAS's setting is global and its own threading splits by its thread count, which changes
     * the last bits of results (BasicVSR++ in nn.threads): one thread, and our pool splits by shape.
     * Remembered so the common case costs one atomic load per kernel; something else in the process
     * changing it behind our back is not detected. */
    static _Atomic int blas_single;
    (void)c;
    if (!blas_single) {
        openblas_set_num_threads(1);
        blas_single = 1;
    }
#else
    (void)c;
#endif
}

void nn_cpu_ctx_scratch_reset(nn_cpu_ctx *c)
{
    if (c)
        c->slot_used = 0;
}

void nn_cpu_parallel_for(nn_cpu_ctx *c, int64_t n, void (*fn)(void *arg, int64_t begin, int64_t end),
                         void *arg)
{
    if (n <= 0)
        return;
    if (!c || c->nworkers == 0 || n == 1 || in_parallel) {
        fn(arg, 0, n);
        return;
    }
    int parts = c->nthreads;
    pthread_mutex_lock(&c->mu);
    c->fn = fn;
    c->arg = arg;
    c->n = n;
    c->chunk = (n + parts - 1) / parts;
    c->pending = c->nworkers;
    c->generation++;
    pthread_cond_broadcast(&c->go);
    pthread_mutex_unlock(&c->mu);
    in_parallel = 1;
    run_range(c, 0);
    in_parallel = 0;
    pthread_mutex_lock(&c->mu);
    while (c->pending)
        pthread_cond_wait(&c->done, &c->mu);
    pthread_mutex_unlock(&c->mu);
}
