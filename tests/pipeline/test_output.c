/*
 * Unit tests for fp_output: the temporary lives next to the final file and keeps its extension; the
 * final file appears only on commit (with the temporary's content); abort removes the temporary and
 * never touches an existing final file; a missing or read-only directory fails at begin with
 * "OUT: output: cause"; the live-temporary registry follows begin/commit/abort.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/fp_error.h"
#include "fp_test.h"
#include "pipeline/fp_output.h"

static char dir[256];

static int exists(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0;
}

static void write_file(const char *p, const char *s)
{
    FILE *f = fopen(p, "w");
    fputs(s, f);
    fclose(f);
}

static int file_is(const char *p, const char *s)
{
    char buf[256] = "";
    FILE *f = fopen(p, "r");
    size_t n;
    if (!f)
        return 0;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return !strcmp(buf, s);
}

static void test_commit(void)
{
    fp_output *o;
    fp_err e;
    char final[512];
    const char *tmp;
    fp_err_clear(&e);
    snprintf(final, sizeof(final), "%s/clip.webm", dir);
    CHECK_EQ_INT(fp_output_begin(&o, final, &e), 0);
    tmp = fp_output_tmp_path(o);
    CHECK(!strncmp(tmp, dir, strlen(dir)) && tmp[strlen(dir)] == '/'); /* same directory */
    CHECK(strstr(tmp, "/.clip.webm.tmp-") != NULL);
    CHECK(!strcmp(tmp + strlen(tmp) - 5, ".webm"));                      /* muxer guess still works */
    CHECK(exists(tmp));                                                  /* reserved at begin */
    CHECK(!exists(final));
    CHECK_EQ_INT(fp_output_live_count(), 1);
    write_file(tmp, "frames");
    CHECK(!exists(final));
    CHECK_EQ_INT(fp_output_commit(&o, &e), 0);
    CHECK(o == NULL);
    CHECK(file_is(final, "frames"));
    CHECK_EQ_INT(fp_output_live_count(), 0);
    unlink(final);
}

static void test_abort_keeps_existing(void)
{
    fp_output *o;
    char final[512], tmp[600];
    snprintf(final, sizeof(final), "%s/old.mkv", dir);
    write_file(final, "previous");
    CHECK_EQ_INT(fp_output_begin(&o, final, NULL), 0);
    snprintf(tmp, sizeof(tmp), "%s", fp_output_tmp_path(o));
    write_file(tmp, "half");
    fp_output_abort(&o);
    CHECK(o == NULL);
    CHECK(!exists(tmp));
    CHECK(file_is(final, "previous"));
    CHECK_EQ_INT(fp_output_live_count(), 0);
    fp_output_abort(&o);   /* NULL-safe */
    fp_output_abort(NULL);
    unlink(final);
}

static void test_no_extension_and_relative(void)
{
    fp_output *o;
    char cwd[512];
    if (!getcwd(cwd, sizeof(cwd)))
        return;
    if (chdir(dir) != 0)
        return;
    CHECK_EQ_INT(fp_output_begin(&o, "plain", NULL), 0);
    CHECK(!strncmp(fp_output_tmp_path(o), "./.plain.tmp-", 13));
    CHECK(exists(fp_output_tmp_path(o)));
    CHECK_EQ_INT(fp_output_commit(&o, NULL), 0);
    CHECK(exists("plain"));
    unlink("plain");
    CHECK_EQ_INT(chdir(cwd), 0);
}

static void test_bad_destinations(void)
{
    fp_output *o = (fp_output *)1;
    fp_err e;
    char final[512], ro[400];

    fp_err_clear(&e);
    snprintf(final, sizeof(final), "%s/missing/out.mp4", dir);
    CHECK_EQ_INT(fp_output_begin(&o, final, &e), FP_EOUTPUT);
    CHECK(o == NULL);
    CHECK_MSG(!strcmp(e.msg + strlen(dir), "/missing/out.mp4: output: directory does not exist"), "'%s'", e.msg);
    CHECK_EQ_INT(fp_exit_code(e.code), FP_EXIT_OUTPUT);

    fp_err_clear(&e);
    CHECK_EQ_INT(fp_output_begin(&o, dir, &e), FP_EINVAL);
    CHECK(strstr(e.msg, ": output: is a directory") != NULL);

    fp_err_clear(&e);
    CHECK_EQ_INT(fp_output_begin(&o, "", &e), FP_EINVAL);

    fp_err_clear(&e);
    snprintf(final, sizeof(final), "%s/sub/", dir);
    CHECK(fp_output_begin(&o, final, &e) < 0);
    CHECK(o == NULL);

    snprintf(ro, sizeof(ro), "%s/ro", dir);
    mkdir(ro, 0555);
    snprintf(final, sizeof(final), "%s/out.mov", ro);
    fp_err_clear(&e);
    if (geteuid() == 0) {
        /* root writes anywhere: check as an unprivileged user in a child instead of skipping */
        int status = -1;
        pid_t pid;
        chmod(dir, 0755);
        pid = fork();
        if (pid == 0) {
            int ok = setgid(65534) == 0 && setuid(65534) == 0 &&
                     fp_output_begin(&o, final, &e) == FP_EOUTPUT &&
                     strstr(e.msg, "/ro/out.mov: output: permission denied") != NULL;
            if (!ok)
                fprintf(stderr, "unprivileged begin: '%s'\n", e.msg);
            _exit(ok ? 0 : 1);
        }
        waitpid(pid, &status, 0);
        chmod(dir, 0700);
        CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
    } else {
        CHECK_EQ_INT(fp_output_begin(&o, final, &e), FP_EOUTPUT);
        CHECK_MSG(strstr(e.msg, "/ro/out.mov: output: permission denied") != NULL, "'%s'", e.msg);
    }
    fp_output_abort(&o);
    rmdir(ro);

    /* a parent component that is a regular file */
    snprintf(ro, sizeof(ro), "%s/afile", dir);
    write_file(ro, "x");
    snprintf(final, sizeof(final), "%s/out.mkv", ro);
    fp_err_clear(&e);
    CHECK_EQ_INT(fp_output_begin(&o, final, &e), FP_EOUTPUT);
    CHECK_MSG(strstr(e.msg, "output: a parent of the path is not a directory") != NULL, "'%s'", e.msg);
    unlink(ro);
    CHECK_EQ_INT(fp_output_live_count(), 0);

    CHECK(!strcmp(fp_output_strerror(ENOSPC), "no space left on device"));
}

static void test_commit_after_vanish(void)
{
    fp_output *o;
    fp_err e;
    char final[512];
    fp_err_clear(&e);
    snprintf(final, sizeof(final), "%s/gone.mp4", dir);
    CHECK_EQ_INT(fp_output_begin(&o, final, &e), 0);
    unlink(fp_output_tmp_path(o));
    CHECK_EQ_INT(fp_output_commit(&o, &e), FP_EOUTPUT);
    CHECK(o == NULL);
    CHECK(strstr(e.msg, "gone.mp4: output: temporary file") != NULL);
    CHECK(!exists(final));
    CHECK_EQ_INT(fp_output_live_count(), 0);
}

/* a forked child that exit()s (running atexit handlers) must not remove the parent's temporaries */
static void test_fork_exit_keeps_parent_temps(void)
{
    fp_output *o;
    char final[512];
    int status = -1;
    pid_t pid;
    snprintf(final, sizeof(final), "%s/forked.mkv", dir);
    CHECK_EQ_INT(fp_output_begin(&o, final, NULL), 0);
    fflush(NULL);
    pid = fork();
    if (pid == 0)
        exit(0);
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status));
    CHECK(exists(fp_output_tmp_path(o)));
    fp_output_abort(&o);
}

static void test_many_and_signal_safe_cleanup(void)
{
    fp_output *o[10];
    char final[512];
    for (int i = 0; i < 10; i++) {
        snprintf(final, sizeof(final), "%s/seg%d.ivf", dir, i);
        CHECK_EQ_INT(fp_output_begin(&o[i], final, NULL), 0);
    }
    CHECK_EQ_INT(fp_output_live_count(), 10);
    fp_output_unlink_all_signal_safe();
    for (int i = 0; i < 10; i++) {
        CHECK(!exists(fp_output_tmp_path(o[i])));
        fp_output_abort(&o[i]);
    }
    CHECK_EQ_INT(fp_output_live_count(), 0);
}

int main(void)
{
    const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(dir, sizeof(dir), "%s/fp_test_output.XXXXXX", base);
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_commit();
    test_abort_keeps_existing();
    test_no_extension_and_relative();
    test_bad_destinations();
    test_commit_after_vanish();
    test_fork_exit_keeps_parent_temps();
    test_many_and_signal_safe_cleanup();
    CHECK_EQ_INT(rmdir(dir), 0); /* nothing left behind */
    return fp_test_finish("test_output");
}
