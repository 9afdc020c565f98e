/*
 * fuzz_jobjson — libFuzzer target for job JSON (fp_job_spec_parse), the one parser that reads
 * untrusted bytes from the command line, the HTTP API and the database. Built only with -DFP_FUZZ=ON
 * (clang): ./fuzz_jobjson -max_total_time=60. Every accepted spec must serialise and parse back to
 * the same fields; every refusal must carry a message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jobs/jobs_spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fp_job_spec s, back;
    fp_err e = { 0 };
    if (fp_job_spec_parse(&s, (const char *)data, size, "fuzz", &e) < 0) {
        if (!e.msg[0])
            abort();
        return 0;
    }
    char *json = fp_job_spec_json(&s);
    if (json) {
        fp_err e2 = { 0 };
        if (fp_job_spec_parse(&back, json, strlen(json), "fuzz-roundtrip", &e2) < 0)
            abort();
        if (strcmp(back.task, s.task) || strcmp(back.input, s.input) || strcmp(back.output, s.output) ||
            back.chunk_seconds != s.chunk_seconds || back.warmup_frames != s.warmup_frames)
            abort();
        fp_job_spec_clear(&back);
        free(json);
    }
    fp_job_spec_clear(&s);
    return 0;
}
