/*
 * Output safety under signals, end to end through a real child process (sigint_child): Ctrl-C in
 * the middle of a run exits 130 with neither the final file nor the temporary left; SIGTERM the same;
 * a second Ctrl-C ends a stage that ignores the first at once, still removing the temporary; exit()
 * without abort removes it (atexit); and the control run commits the final file.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/fp_error.h"
#include "fp_test.h"
#include "pipeline/fp_clock.h"

static const char *child_bin;
static char dir[256];

static int exists(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0;
}

typedef struct child {
    pid_t pid;
    FILE *out;
    char tmp[1200];
} child;

static int spawn(child *c, const char *mode, const char *final)
{
    int fds[2];
    char line[1200];
    if (pipe(fds))
        return -1;
    c->pid = fork();
    if (c->pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execl(child_bin, child_bin, mode, final, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    c->out = fdopen(fds[0], "r");
    if (!fgets(line, sizeof(line), c->out) || strncmp(line, "tmp ", 4))
        return -1;
    line[strcspn(line, "\n")] = '\0';
    snprintf(c->tmp, sizeof(c->tmp), "%s", line + 4);
    return 0;
}

/* Wait for the child's "tmp ready" line (frames are being written). */
static int wait_ready(child *c)
{
    char line[256];
    return fgets(line, sizeof(line), c->out) && !strncmp(line, "tmp ready", 9) ? 0 : -1;
}

static int reap(child *c, double *took)
{
    int status = -1;
    int64_t t0 = fp_clock_ns();
    waitpid(c->pid, &status, 0);
    if (took)
        *took = (fp_clock_ns() - t0) * 1e-9;
    fclose(c->out);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void test_one_signal(int sig, const char *name)
{
    child c;
    char final[512];
    double took;
    snprintf(final, sizeof(final), "%s/%s.webm", dir, name);
    CHECK_EQ_INT(spawn(&c, "slow", final), 0);
    CHECK_EQ_INT(wait_ready(&c), 0);
    CHECK(exists(c.tmp));
    kill(c.pid, sig);
    CHECK_EQ_INT(reap(&c, &took), FP_EXIT_INTERRUPTED);
    CHECK_MSG(took < 5, "%s took %.2f s to stop", name, took);
    CHECK(!exists(c.tmp));
    CHECK(!exists(final));
}

static void test_second_sigint(void)
{
    child c;
    char final[512];
    double took;
    snprintf(final, sizeof(final), "%s/stubborn.mkv", dir);
    CHECK_EQ_INT(spawn(&c, "stubborn", final), 0);
    CHECK_EQ_INT(wait_ready(&c), 0);
    usleep(100000); /* inside the deaf stretch now */
    kill(c.pid, SIGINT);
    usleep(300000);
    CHECK_MSG(waitpid(c.pid, NULL, WNOHANG) == 0, "first SIGINT should not end the stubborn child");
    CHECK(exists(c.tmp));
    kill(c.pid, SIGINT);
    CHECK_EQ_INT(reap(&c, &took), FP_EXIT_INTERRUPTED);
    CHECK_MSG(took < 2, "second SIGINT took %.2f s", took);
    CHECK(!exists(c.tmp));
    CHECK(!exists(final));
}

static void test_exit_cleanup(void)
{
    child c;
    char final[512];
    snprintf(final, sizeof(final), "%s/exit.mp4", dir);
    CHECK_EQ_INT(spawn(&c, "exit", final), 0);
    CHECK_EQ_INT(reap(&c, NULL), 3);
    CHECK(c.tmp[0] && !exists(c.tmp));
    CHECK(!exists(final));
}

static void test_commit_control(void)
{
    child c;
    char final[512];
    snprintf(final, sizeof(final), "%s/quick.webm", dir);
    CHECK_EQ_INT(spawn(&c, "quick", final), 0);
    CHECK_EQ_INT(reap(&c, NULL), 0);
    CHECK(!exists(c.tmp));
    CHECK(exists(final));
    unlink(final);
}

int main(int argc, char **argv)
{
    const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    if (argc != 2) {
        fprintf(stderr, "usage: test_signals PATH/TO/sigint_child\n");
        return 2;
    }
    child_bin = argv[1];
    signal(SIGPIPE, SIG_IGN);
    snprintf(dir, sizeof(dir), "%s/fp_test_signals.XXXXXX", base);
    if (!mkdtemp(dir))
        return 1;
    test_commit_control();
    test_one_signal(SIGINT, "sigint");
    test_one_signal(SIGTERM, "sigterm");
    test_second_sigint();
    test_exit_cleanup();
    CHECK_EQ_INT(rmdir(dir), 0); /* nothing at all left in the directory */
    return fp_test_finish("test_signals");
}
