/*
 * test_transcode — the fp_transcode API: refusals happen at open (before decoding) and leave no file,
 * a frame range [start_pts, end_pts) in the stream's time base is frame-exact, and a run publishes the
 * output under its final name only at the end. Clips are made with the ffmpeg CLI.
 */
#include "media/fp_transcode.h"

#include <sys/stat.h>
#include <unistd.h>

#include "fp_test.h"

static char dir[512];

static const char *path(const char *name)
{
    static char buf[4][1024];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof(buf[k]), "%s/%s", dir, name);
    return buf[k];
}

static int exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

static int count_frames(const char *file, int64_t *first)
{
    AVFormatContext *f = NULL;
    AVPacket *pkt = av_packet_alloc();
    int n = 0;
    *first = INT64_MAX;
    if (avformat_open_input(&f, file, NULL, NULL) < 0)
        return -1;
    while (av_read_frame(f, pkt) >= 0) {
        if (f->streams[pkt->stream_index]->codecpar->codec_type == AVMEDIA_TYPE_VIDEO) {
            n++;
            if (pkt->pts < *first)
                *first = av_rescale_q(pkt->pts, f->streams[pkt->stream_index]->time_base, (AVRational){ 1, 1000 });
        }
        av_packet_unref(pkt);
    }
    av_packet_free(&pkt);
    avformat_close_input(&f);
    return n;
}

int main(void)
{
    const char *tmp = getenv("FP_TEST_TMP");
    char cmd[2048];
    fp_transcode_opts o;
    fp_transcode *t = NULL;
    fp_err e;
    int64_t first;

    snprintf(dir, sizeof(dir), "%s", tmp ? tmp : "/tmp/fp-test-transcode");
    snprintf(cmd, sizeof(cmd), "rm -rf %s && mkdir -p %s && ffmpeg -nostdin -y -v error -f lavfi -i testsrc2=size=64x48:rate=25:duration=2 "
             "-f lavfi -i sine=duration=2 -c:v libx264 -g 10 -c:a aac -shortest %s/in.mp4", dir, dir, dir);
    if (system(cmd) != 0) {
        SKIP("ffmpeg CLI could not make the clip");
        return fp_test_finish("media.transcode");
    }

    /* refusal at open: alpha-less encoder is fine, but a 4:4:4 ProRes into MP4 container... use an
     * encoder the container refuses: ProRes in WebM */
    fp_transcode_opts_default(&o);
    o.input = path("in.mp4");
    o.output = path("o.webm");
    o.vcodec = "prores_ks";
    o.in.decode = FP_DECODE_CPU;
    fp_err_clear(&e);
    CHECK(fp_transcode_open(&t, &o, &e) == FP_EUNSUPPORTED && t == NULL);
    CHECK_MSG(strstr(e.msg, "o.webm: configure:"), "%s", e.msg);
    CHECK(!exists(path("o.webm")));
    {
        /* no temporary file left either */
        snprintf(cmd, sizeof(cmd), "ls -a %s | grep -q -E \"tmp-|part-\"", dir);
        CHECK(system(cmd) != 0);
    }

    /* missing input */
    o.input = path("nosuch.mp4");
    o.output = path("o.mkv");
    o.vcodec = NULL;
    fp_err_clear(&e);
    CHECK(fp_transcode_open(&t, &o, &e) == FP_EINPUT && t == NULL);
    CHECK_MSG(strstr(e.msg, "nosuch.mp4: open:"), "%s", e.msg);

    /* frame range in stream time base: mp4 time base is 1/12800 at 25 fps -> 512 per frame.
     * [frame 7, frame 23) = 16 frames, first at 280 ms; 7 is not a keyframe (GOP 10). */
    fp_transcode_opts_default(&o);
    o.input = path("in.mp4");
    o.output = path("range.mkv");
    o.vcodec = "ffv1";
    o.in.decode = FP_DECODE_CPU;
    o.in.start_pts = 7 * 512;
    o.in.end_pts = 23 * 512;
    o.copy_audio = 0;
    fp_err_clear(&e);
    CHECK_MSG(fp_transcode_open(&t, &o, &e) == 0, "%s", e.msg);
    if (t) {
        CHECK(!exists(path("range.mkv"))); /* not published before the run */
        CHECK_MSG(fp_transcode_run(t, &e) == 0, "%s", e.msg);
        CHECK(fp_transcode_get_stats(t)->frames_out == 16);
        fp_transcode_freep(&t);
        CHECK(count_frames(path("range.mkv"), &first) == 16);
        CHECK_EQ_INT(first, 280);
    }
    CHECK(t == NULL);
    fp_transcode_freep(&t); /* NULL-safe */
    return fp_test_finish("media.transcode");
}
