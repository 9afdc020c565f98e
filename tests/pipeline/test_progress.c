/*
 * Unit tests for fp_progress: mode parsing, the terminal line (\r rewrites, padding over a longer
 * previous line, ETA only with a total, newline at finish), throttling, and JSON Lines whose fields
 * are checked here and, with --emit-json, parsed by python3 (check_progress.py) in pipeline.progress_json.
 */
#include <stdlib.h>
#include <unistd.h>

#include "core/fp_error.h"
#include "fp_test.h"
#include "pipeline/fp_pipeline.h"
#include "pipeline/fp_progress.h"

static char *slurp(FILE *f)
{
    long n;
    char *s;
    fflush(f);
    n = ftell(f);
    rewind(f);
    s = calloc(1, (size_t)n + 1);
    if (fread(s, 1, (size_t)n, f) != (size_t)n)
        s[0] = '\0';
    return s;
}

static int count_fn(fp_stage *st, void *o)
{
    for (int i = 0; i < 50; i++) { /* 250 ms: long enough for wait()'s 100 ms ticks to report */
        usleep(5000);
        fp_stage_add_frames(st, 1);
    }
    return 0;
}

static void run_json(FILE *f, int64_t total)
{
    fp_pipeline *p;
    fp_progress *pr;
    fp_stage *s;
    fp_progress_alloc(&pr, FP_PROGRESS_JSON, f, total);
    fp_progress_set_interval(pr, 0.01);
    fp_pipeline_alloc(&p, "json\"test");
    fp_pipeline_add_stage(p, "count", count_fn, NULL, &s);
    fp_pipeline_start(p);
    fp_pipeline_wait(p, &(fp_pipeline_opts){ .progress = pr, .ignore_signals = 1 });
    fp_progress_finish(pr, 50, p); /* idempotent: wait() already finished it */
    fp_pipeline_freep(&p);
    fp_progress_freep(&pr);
}

int main(int argc, char **argv)
{
    fp_progress_mode m;
    fp_progress *pr;
    FILE *f;
    char *s;

    if (argc > 1 && !strcmp(argv[1], "--emit-json")) {
        run_json(stdout, 50);
        run_json(stdout, 0);
        return 0;
    }
    CHECK_EQ_INT(fp_progress_mode_parse("json", &m), 0);
    CHECK_EQ_INT(m, FP_PROGRESS_JSON);
    CHECK_EQ_INT(fp_progress_mode_parse("none", &m), 0);
    CHECK_EQ_INT(m, FP_PROGRESS_NONE);
    CHECK_EQ_INT(fp_progress_mode_parse("JSON!", &m), FP_EINVAL);
    CHECK_EQ_INT(fp_progress_mode_parse(NULL, &m), FP_EINVAL);

    /* auto on a regular file: nothing at all */
    f = tmpfile();
    fp_progress_alloc(&pr, FP_PROGRESS_AUTO, f, 100);
    fp_progress_update(pr, 10, NULL);
    fp_progress_finish(pr, 100, NULL);
    fp_progress_freep(&pr);
    s = slurp(f);
    CHECK_EQ_INT(strlen(s), 0);
    free(s);
    fclose(f);

    /* the line: first update prints, the next within the interval does not, finish ends the line */
    f = tmpfile();
    fp_progress_alloc(&pr, FP_PROGRESS_LINE, f, 200);
    fp_progress_set_interval(pr, 10);
    fp_progress_update(pr, 100000, NULL);  /* a long line first... */
    fp_progress_update(pr, 5, NULL);       /* throttled */
    fp_progress_finish(pr, 200, NULL);
    fp_progress_finish(pr, 200, NULL);
    fp_progress_freep(&pr);
    s = slurp(f);
    CHECK_MSG(!strncmp(s, "\rframe 100000/200 (", 19), "'%s'", s);
    CHECK(strstr(s, "\rframe 200/200 (100.0%)") != NULL);
    CHECK(strstr(s, "frame 5/") == NULL);
    CHECK(s[strlen(s) - 1] == '\n' && strchr(s, '\n') == s + strlen(s) - 1);
    CHECK(strstr(s, " ETA ") != NULL);
    free(s);
    fclose(f);

    /* unknown total: no ETA, no percentage */
    f = tmpfile();
    fp_progress_alloc(&pr, FP_PROGRESS_LINE, f, 0);
    fp_progress_update(pr, 7, NULL);
    fp_progress_freep(&pr);
    s = slurp(f);
    CHECK(!strncmp(s, "\rframe 7  ", 10) && !strstr(s, "ETA") && !strchr(s, '%'));
    free(s);
    fclose(f);

    /* JSON: one object per line, the last one "done" with the final count */
    f = tmpfile();
    run_json(f, 50);
    s = slurp(f);
    CHECK(!strncmp(s, "{\"event\":\"progress\",\"frames\":", 29));
    CHECK(strstr(s, "{\"event\":\"done\",\"frames\":50,\"total\":50,") != NULL);
    CHECK(strstr(s, "\"stages\":[{\"name\":\"count\",\"frames\":50,") != NULL);
    CHECK(strstr(s, "\"eta_s\":0.000") != NULL);
    free(s);
    fclose(f);
    return fp_test_finish("test_progress");
}
