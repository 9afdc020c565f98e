/*
 * fp_pipeline — stage threads, failure propagation, watchdog. See fp_pipeline.h for the contract.
 *
 * Memory: the pipeline is reference-counted (one reference for the owner, one per started thread) so
 * that a thread detached after the watchdog gave up on it can still finish touching its queues; the
 * last reference frees everything. Counters that other threads read while a stage runs are C11
 * atomics; the first-error record and the running count are under the pipeline lock.
 */
#include "pipeline/fp_pipeline.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/fp_log.h"
#include "pipeline/fp_clock.h"
#include "pipeline/fp_progress.h"
#include "pipeline/fp_signals.h"

enum stage_state { STAGE_IDLE, STAGE_BUSY, STAGE_WAIT_IN, STAGE_WAIT_OUT, STAGE_DONE };

struct fp_stage {
    fp_pipeline *p;
    char name[32];
    fp_stage_fn fn;
    void *opaque;
    pthread_t thread;
    int started, joined, detached;
    fp_queue *in[FP_STAGE_MAX_IO], *out[FP_STAGE_MAX_IO];
    int nin, nout;
    char hint[160];
    fp_err err;                       /* written by the stage thread only */
    _Atomic int ret;
    _Atomic int state;
    _Atomic int64_t frames;
    _Atomic int64_t start_ns, end_ns, last_progress_ns, wait_since_ns;
    _Atomic int64_t wait_in_ns, wait_out_ns;
    pthread_mutex_t pos_lock;
    char position[160];
};

struct fp_pipeline {
    char name[128];
    pthread_mutex_t lock;
    pthread_cond_t done_cond;
    fp_stage **stages;
    int nb_stages;
    fp_queue **owned, **watched;
    int nb_owned, nb_watched;
    int started, running;             /* running: threads not finished (under lock) */
    _Atomic int failing;
    _Atomic int refs;
    fp_err err;                       /* first error, under lock */
};

static void pipeline_free_now(fp_pipeline *p)
{
    for (int i = 0; i < p->nb_stages; i++) {
        pthread_mutex_destroy(&p->stages[i]->pos_lock);
        free(p->stages[i]);
    }
    for (int i = 0; i < p->nb_owned; i++)
        fp_queue_freep(&p->owned[i]);
    free(p->stages);
    free(p->owned);
    free(p->watched);
    pthread_cond_destroy(&p->done_cond);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

static void pipeline_unref(fp_pipeline *p)
{
    if (atomic_fetch_sub(&p->refs, 1) == 1)
        pipeline_free_now(p);
}

int fp_pipeline_alloc(fp_pipeline **pp, const char *name)
{
    fp_pipeline *p = calloc(1, sizeof(*p));
    pthread_condattr_t a;
    *pp = NULL;
    if (!p)
        return FP_ENOMEM;
    snprintf(p->name, sizeof(p->name), "%s", name ? name : "pipeline");
    pthread_mutex_init(&p->lock, NULL);
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(&p->done_cond, &a);
    pthread_condattr_destroy(&a);
    atomic_init(&p->refs, 1);
    atomic_init(&p->failing, 0);
    *pp = p;
    return 0;
}

static int grow(void *parray, int n)
{
    void ***a = parray;
    void **na = realloc(*a, (size_t)(n + 1) * sizeof(void *));
    if (!na)
        return FP_ENOMEM;
    *a = na;
    return 0;
}

int fp_pipeline_queue(fp_pipeline *p, const char *name, size_t depth, void (*item_free)(void *),
                      fp_queue **pq)
{
    int ret;
    *pq = NULL;
    if (p->started)
        return FP_EINVAL;
    if ((ret = grow(&p->owned, p->nb_owned)) < 0)
        return ret;
    if ((ret = fp_queue_alloc(pq, depth, name, item_free)) < 0)
        return ret;
    p->owned[p->nb_owned++] = *pq;
    return 0;
}

int fp_pipeline_watch_queue(fp_pipeline *p, fp_queue *q)
{
    int ret;
    if (p->started || !q)
        return FP_EINVAL;
    if ((ret = grow(&p->watched, p->nb_watched)) < 0)
        return ret;
    p->watched[p->nb_watched++] = q;
    return 0;
}

int fp_pipeline_add_stage(fp_pipeline *p, const char *name, fp_stage_fn fn, void *opaque, fp_stage **pst)
{
    fp_stage *st;
    int ret;
    if (pst)
        *pst = NULL;
    if (p->started || !fn)
        return FP_EINVAL;
    if ((ret = grow(&p->stages, p->nb_stages)) < 0)
        return ret;
    st = calloc(1, sizeof(*st));
    if (!st)
        return FP_ENOMEM;
    st->p = p;
    snprintf(st->name, sizeof(st->name), "%s", name ? name : "stage");
    st->fn = fn;
    st->opaque = opaque;
    pthread_mutex_init(&st->pos_lock, NULL);
    p->stages[p->nb_stages++] = st;
    if (pst)
        *pst = st;
    return 0;
}

int fp_stage_add_output(fp_stage *st, fp_queue *q)
{
    if (!q || st->nout >= FP_STAGE_MAX_IO || st->p->started)
        return FP_EINVAL;
    st->out[st->nout++] = q;
    fp_queue_add_producer(q);
    return 0;
}

int fp_stage_add_input(fp_stage *st, fp_queue *q)
{
    if (!q || st->nin >= FP_STAGE_MAX_IO || st->p->started)
        return FP_EINVAL;
    st->in[st->nin++] = q;
    return 0;
}

void fp_stage_set_hint(fp_stage *st, const char *hint)
{
    snprintf(st->hint, sizeof(st->hint), "%s", hint ? hint : "");
}

static void abort_all_queues(fp_pipeline *p, int code)
{
    for (int i = 0; i < p->nb_owned; i++)
        fp_queue_abort(p->owned[i], code);
    for (int i = 0; i < p->nb_watched; i++)
        fp_queue_abort(p->watched[i], code);
}

/* Record err as the run's error if it is the first, then abort everything. */
static void pipeline_fail_err(fp_pipeline *p, const fp_err *err)
{
    pthread_mutex_lock(&p->lock);
    if (p->err.code == 0)
        p->err = *err;
    pthread_mutex_unlock(&p->lock);
    atomic_store(&p->failing, 1);
    abort_all_queues(p, err->code);
}

int fp_pipeline_fail(fp_pipeline *p, int code, const char *fmt, ...)
{
    fp_err e;
    va_list ap;
    fp_err_clear(&e);
    va_start(ap, fmt);
    fp_verrorf(&e, code, fmt, ap);
    va_end(ap);
    pipeline_fail_err(p, &e);
    return code;
}

static void *stage_main(void *arg)
{
    fp_stage *st = arg;
    fp_pipeline *p = st->p;
    int ret;

    atomic_store(&st->start_ns, fp_clock_ns());
    atomic_store(&st->last_progress_ns, atomic_load(&st->start_ns));
    atomic_store(&st->state, STAGE_BUSY);
    ret = st->fn(st, st->opaque);
    if (ret == FP_EOF || ret > 0)  /* end of stream is success; positive values are not errors */
        ret = 0;
    atomic_store(&st->end_ns, fp_clock_ns());
    if (ret == 0) {
        for (int i = 0; i < st->nout; i++)
            fp_queue_close(st->out[i]);
    } else {
        if (st->err.code == 0)
            fp_errorf(&st->err, ret, "%s: %s: %s", p->name, st->name, fp_strerror(ret));
        pipeline_fail_err(p, &st->err);
    }
    atomic_store(&st->ret, ret);
    atomic_store(&st->state, STAGE_DONE);
    pthread_mutex_lock(&p->lock);
    p->running--;
    pthread_cond_broadcast(&p->done_cond);
    pthread_mutex_unlock(&p->lock);
    pipeline_unref(p);
    return NULL;
}

int fp_pipeline_start(fp_pipeline *p)
{
    if (p->started)
        return FP_EINVAL;
    p->started = 1;
    for (int i = 0; i < p->nb_stages; i++) {
        fp_stage *st = p->stages[i];
        atomic_fetch_add(&p->refs, 1);
        pthread_mutex_lock(&p->lock);
        p->running++;
        pthread_mutex_unlock(&p->lock);
        if (pthread_create(&st->thread, NULL, stage_main, st)) {
            pthread_mutex_lock(&p->lock);
            p->running--;
            pthread_mutex_unlock(&p->lock);
            atomic_fetch_sub(&p->refs, 1);
            return fp_pipeline_fail(p, FP_EINTERNAL, "%s: %s: cannot create thread", p->name, st->name);
        }
        st->started = 1;
    }
    return 0;
}

static void check_watchdog(fp_pipeline *p, double limit_s)
{
    int64_t now = fp_clock_ns();
    for (int i = 0; i < p->nb_stages; i++) {
        fp_stage *st = p->stages[i];
        double idle;
        char pos[sizeof(st->position)];
        if (!st->started || atomic_load(&st->state) != STAGE_BUSY)
            continue;
        idle = (now - atomic_load(&st->last_progress_ns)) * 1e-9;
        if (idle < limit_s)
            continue;
        pthread_mutex_lock(&st->pos_lock);
        memcpy(pos, st->position, sizeof(pos));
        pthread_mutex_unlock(&st->pos_lock);
        fp_pipeline_fail(p, FP_ETIMEOUT, "%s: %s: stalled, no progress for %.1f s%s%s%s", p->name,
                         st->name, idle, pos[0] ? " (at " : "", pos, pos[0] ? ")" : "");
        return;
    }
}

static int64_t progress_frames(fp_pipeline *p, const fp_pipeline_opts *o)
{
    const fp_stage *st = o->progress_stage ? o->progress_stage
                       : p->nb_stages ? p->stages[p->nb_stages - 1] : NULL;
    return st ? atomic_load(&((fp_stage *)st)->frames) : 0;
}

int fp_pipeline_wait(fp_pipeline *p, const fp_pipeline_opts *opts)
{
    fp_pipeline_opts o = { 0 };
    int64_t fail_since = 0;
    double grace;
    int ret;
    if (opts)
        o = *opts;
    grace = o.stuck_grace_s > 0 ? o.stuck_grace_s : 2.0;

    pthread_mutex_lock(&p->lock);
    while (p->running > 0) {
        struct timespec dl = fp_clock_deadline(0.1);
        pthread_cond_timedwait(&p->done_cond, &p->lock, &dl);
        if (p->running == 0)
            break;
        pthread_mutex_unlock(&p->lock);
        if (!o.ignore_signals && fp_interrupted() && !atomic_load(&p->failing))
            fp_pipeline_fail(p, FP_EINTR, "%s: interrupted by %s", p->name,
                             fp_signal_name(fp_interrupted()));
        if (o.watchdog_s > 0 && !atomic_load(&p->failing))
            check_watchdog(p, o.watchdog_s);
        if (o.progress)
            fp_progress_update(o.progress, progress_frames(p, &o), p);
        pthread_mutex_lock(&p->lock);
        if (atomic_load(&p->failing)) {
            if (!fail_since)
                fail_since = fp_clock_ns();
            else if ((fp_clock_ns() - fail_since) * 1e-9 > grace)
                break;
        }
    }
    pthread_mutex_unlock(&p->lock);

    for (int i = 0; i < p->nb_stages; i++) {
        fp_stage *st = p->stages[i];
        if (!st->started || st->joined || st->detached)
            continue;
        if (atomic_load(&st->state) == STAGE_DONE) {
            pthread_join(st->thread, NULL);
            st->joined = 1;
        } else {
            fp_log(FP_LOG_WARN, p->name, "stage %s did not stop within %.1f s; leaving it behind",
                   st->name, grace);
            pthread_detach(st->thread);
            st->detached = 1;
        }
    }
    if (o.progress)
        fp_progress_finish(o.progress, progress_frames(p, &o), p);
    pthread_mutex_lock(&p->lock);
    ret = p->err.code;
    pthread_mutex_unlock(&p->lock);
    return ret;
}

void fp_pipeline_freep(fp_pipeline **pp)
{
    fp_pipeline *p = pp ? *pp : NULL;
    int need_wait = 0;
    if (!p)
        return;
    for (int i = 0; i < p->nb_stages; i++)
        if (p->stages[i]->started && !p->stages[i]->joined && !p->stages[i]->detached)
            need_wait = 1;
    if (need_wait) {
        fp_pipeline_opts o = { .ignore_signals = 1 };
        fp_pipeline_fail(p, FP_EINTR, "%s: stopped before the end", p->name);
        fp_pipeline_wait(p, &o);
    }
    *pp = NULL;
    pipeline_unref(p);
}

const fp_err *fp_pipeline_err(const fp_pipeline *p) { return &p->err; }
const char *fp_pipeline_name(const fp_pipeline *p) { return p->name; }
int fp_pipeline_nb_stages(const fp_pipeline *p) { return p->nb_stages; }

void fp_pipeline_stage_stats(const fp_pipeline *p, int i, fp_stage_stats *s)
{
    fp_stage *st = p->stages[i];
    int64_t now = fp_clock_ns(), start = atomic_load(&st->start_ns), end = atomic_load(&st->end_ns);
    int64_t win = atomic_load(&st->wait_in_ns), wout = atomic_load(&st->wait_out_ns);
    int state = atomic_load(&st->state);
    memset(s, 0, sizeof(*s));
    s->name = st->name;
    s->frames = atomic_load(&st->frames);
    s->running = st->started && state != STAGE_DONE;
    s->ret = atomic_load(&st->ret);
    if (!start)
        return;
    if (!end || s->running)
        end = now;
    /* a wait in progress counts too, so a live progress line shows who is blocked right now */
    if (state == STAGE_WAIT_IN || state == STAGE_WAIT_OUT) {
        int64_t since = atomic_load(&st->wait_since_ns);
        if (since && now > since)
            *(state == STAGE_WAIT_IN ? &win : &wout) += now - since;
    }
    s->wall_s = (end - start) * 1e-9;
    s->wait_in_s = win * 1e-9;
    s->wait_out_s = wout * 1e-9;
    s->busy_s = s->wall_s - s->wait_in_s - s->wait_out_s;
    if (s->busy_s < 0)
        s->busy_s = 0;
    s->fps = s->wall_s > 0 ? s->frames / s->wall_s : 0;
}

/* ---- inside a stage ---- */

static void progress(fp_stage *st) { atomic_store(&st->last_progress_ns, fp_clock_ns()); }

int fp_stage_pop(fp_stage *st, fp_queue *q, void **item)
{
    int ret;
    fp_stage_wait_begin(st, 0);
    ret = fp_queue_pop(q, item);
    fp_stage_wait_end(st);
    return ret;
}

int fp_stage_push(fp_stage *st, fp_queue *q, void *item)
{
    int ret, registered = 0;
    /* Pushing to a queue the stage is not a registered producer of would let the queue close under
     * it (its real producers finished) and lose frames: refuse loudly instead. */
    for (int i = 0; i < st->nout; i++)
        registered |= st->out[i] == q;
    if (!registered)
        return fp_stage_fail(st, FP_EINTERNAL, "%s: %s: pushes to queue '%s' without fp_stage_add_output()",
                             st->p->name, st->name, fp_queue_name(q));
    fp_stage_wait_begin(st, 1);
    ret = fp_queue_push(q, item);
    fp_stage_wait_end(st);
    if (ret == FP_EOF) /* closed while we still produce: a wiring bug, never an end of stream */
        return fp_stage_fail(st, FP_EINTERNAL, "%s: %s: queue '%s' was closed while this stage still "
                             "produces into it", st->p->name, st->name, fp_queue_name(q));
    return ret;
}

void fp_stage_wait_begin(fp_stage *st, int output)
{
    atomic_store(&st->wait_since_ns, fp_clock_ns());
    atomic_store(&st->state, output ? STAGE_WAIT_OUT : STAGE_WAIT_IN);
}

void fp_stage_wait_end(fp_stage *st)
{
    int state = atomic_load(&st->state);
    int64_t since = atomic_load(&st->wait_since_ns);
    if (state != STAGE_WAIT_IN && state != STAGE_WAIT_OUT)
        return;
    atomic_fetch_add(state == STAGE_WAIT_IN ? &st->wait_in_ns : &st->wait_out_ns, fp_clock_ns() - since);
    atomic_store(&st->state, STAGE_BUSY);
    progress(st);
}

void fp_stage_add_frames(fp_stage *st, int64_t n)
{
    atomic_fetch_add(&st->frames, n);
    progress(st);
}

void fp_stage_set_position(fp_stage *st, const char *fmt, ...)
{
    va_list ap;
    pthread_mutex_lock(&st->pos_lock);
    va_start(ap, fmt);
    vsnprintf(st->position, sizeof(st->position), fmt, ap);
    va_end(ap);
    pthread_mutex_unlock(&st->pos_lock);
    progress(st);
}

void fp_stage_heartbeat(fp_stage *st) { progress(st); }

int fp_stage_should_stop(const fp_stage *st)
{
    fp_pipeline *p = st->p;
    int code;
    if (!atomic_load(&p->failing))
        return 0;
    pthread_mutex_lock(&p->lock);
    code = p->err.code ? p->err.code : FP_EINTR;
    pthread_mutex_unlock(&p->lock);
    return code;
}

fp_err *fp_stage_err(fp_stage *st) { return &st->err; }

int fp_stage_fail(fp_stage *st, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fp_verrorf(&st->err, code, fmt, ap);
    va_end(ap);
    return code;
}

const char *fp_stage_name(const fp_stage *st) { return st->name; }
void *fp_stage_opaque(const fp_stage *st) { return st->opaque; }

/* Used by fp_metrics.c to name what a stage waited on. */
const char *fp_stage_hint_internal(const fp_pipeline *p, int i) { return p->stages[i]->hint; }
const char *fp_stage_io_name_internal(const fp_pipeline *p, int i, int output)
{
    const fp_stage *st = p->stages[i];
    if (output)
        return st->nout ? fp_queue_name(st->out[0]) : NULL;
    return st->nin ? fp_queue_name(st->in[0]) : NULL;
}
int fp_pipeline_nb_queues_internal(const fp_pipeline *p) { return p->nb_owned + p->nb_watched; }
const fp_queue *fp_pipeline_queue_internal(const fp_pipeline *p, int i)
{
    return i < p->nb_owned ? p->owned[i] : p->watched[i - p->nb_owned];
}
