/*
 * jobs_spec — job JSON <-> fp_job_spec with cJSON. See jobs_spec.h.
 *
 * Owns: the field table (name, type, required, range) and every validation message. Input comes from
 * users and the network, so every field is checked for type and range and unknown fields are
 * refused (a typo such as "chunk_second" must not silently fall back to a default).
 */
#include "jobs/jobs_spec.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#define SPEC_MAX_STRING 4096

enum { F_STR, F_NUM, F_INT, F_OBJ };

static const struct field {
    const char *name;
    int type, required;
    double min, max;
    const char *help;
} fields[] = {
    { "task",          F_STR, 1, 1, 31,      "task name (framepipe submit --help lists them)" },
    { "input",         F_STR, 1, 1, SPEC_MAX_STRING, "input video path or file:// URL" },
    { "output",        F_STR, 1, 1, SPEC_MAX_STRING, "final output path, file:// or s3:// URL" },
    { "storage",       F_STR, 0, 1, SPEC_MAX_STRING, "chunk storage URL (file:///dir or s3://bucket/prefix)" },
    { "chunk_seconds", F_NUM, 0, 0.001, 86400, "target chunk length in seconds" },
    { "warmup_frames", F_INT, 0, -1, 100000, "warm-up frames before each chunk (-1: task default)" },
    { "params",        F_OBJ, 0, 0, 0, "task parameters (object)" },
};

void fp_job_spec_clear(fp_job_spec *s)
{
    free(s->task);
    free(s->input);
    free(s->output);
    free(s->storage);
    free(s->params);
    memset(s, 0, sizeof(*s));
}

static int valid_task_name(const char *s)
{
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' || *s == '-'))
            return 0;
    return 1;
}

int fp_job_spec_parse(fp_job_spec *s, const char *json, size_t len, const char *what, fp_err *e)
{
    memset(s, 0, sizeof(*s));
    s->chunk_seconds = 30;
    s->warmup_frames = -1;
    cJSON *root = cJSON_ParseWithLength(json, len);
    int ret = 0;
    if (!root)
        return fp_errorf(e, FP_EINVAL, "%s: job: malformed JSON near byte %ld", what,
                         cJSON_GetErrorPtr() ? (long)(cJSON_GetErrorPtr() - json) : 0L);
    if (!cJSON_IsObject(root)) {
        ret = fp_errorf(e, FP_EINVAL, "%s: job: top level must be an object", what);
        goto done;
    }
    for (cJSON *it = root->child; it; it = it->next) {
        size_t i;
        for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
            if (it->string && !strcmp(it->string, fields[i].name))
                break;
        if (i == sizeof(fields) / sizeof(fields[0])) {
            ret = fp_errorf(e, FP_EINVAL, "%s: job: unknown field \"%.64s\"", what, it->string ? it->string : "");
            goto done;
        }
    }
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        const struct field *f = &fields[i];
        cJSON *v = cJSON_GetObjectItemCaseSensitive(root, f->name);
        if (!v) {
            if (f->required) {
                ret = fp_errorf(e, FP_EINVAL, "%s: job: missing \"%s\" (%s)", what, f->name, f->help);
                goto done;
            }
            continue;
        }
        switch (f->type) {
        case F_STR: {
            size_t n = cJSON_IsString(v) ? strlen(v->valuestring) : 0;
            if (!cJSON_IsString(v) || n < f->min || n > f->max) {
                ret = fp_errorf(e, FP_EINVAL, "%s: job: \"%s\" must be a string of %g to %g bytes (%s)", what,
                                f->name, f->min, f->max, f->help);
                goto done;
            }
            char *dup = strdup(v->valuestring);
            if (!dup) {
                ret = fp_errorf(e, FP_ENOMEM, "%s: job: out of memory", what);
                goto done;
            }
            if (!strcmp(f->name, "task"))
                s->task = dup;
            else if (!strcmp(f->name, "input"))
                s->input = dup;
            else if (!strcmp(f->name, "output"))
                s->output = dup;
            else
                s->storage = dup;
            break;
        }
        case F_NUM:
        case F_INT:
            if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < f->min ||
                v->valuedouble > f->max || (f->type == F_INT && v->valuedouble != floor(v->valuedouble))) {
                ret = fp_errorf(e, FP_EINVAL, "%s: job: \"%s\" must be a%s number in [%g, %g] (%s)", what, f->name,
                                f->type == F_INT ? "n integer" : "", f->min, f->max, f->help);
                goto done;
            }
            if (f->type == F_INT)
                s->warmup_frames = (int)v->valuedouble;
            else
                s->chunk_seconds = v->valuedouble;
            break;
        case F_OBJ:
            if (!cJSON_IsObject(v)) {
                ret = fp_errorf(e, FP_EINVAL, "%s: job: \"%s\" must be an object (%s)", what, f->name, f->help);
                goto done;
            }
            if (!(s->params = cJSON_PrintUnformatted(v))) {
                ret = fp_errorf(e, FP_ENOMEM, "%s: job: out of memory", what);
                goto done;
            }
            break;
        }
    }
    if (!valid_task_name(s->task)) {
        ret = fp_errorf(e, FP_EINVAL, "%s: job: task name \"%.31s\" may use only a-z, 0-9, '_' and '-'", what, s->task);
        goto done;
    }
    if (!s->params && !(s->params = strdup("{}")))
        ret = fp_errorf(e, FP_ENOMEM, "%s: job: out of memory", what);
done:
    cJSON_Delete(root);
    if (ret < 0)
        fp_job_spec_clear(s);
    return ret;
}

char *fp_job_spec_json(const fp_job_spec *s)
{
    cJSON *root = cJSON_CreateObject();
    char *out = NULL;
    if (!root)
        return NULL;
    cJSON *params = cJSON_Parse(s->params ? s->params : "{}");
    if (!cJSON_AddStringToObject(root, "task", s->task ? s->task : "") ||
        !cJSON_AddStringToObject(root, "input", s->input ? s->input : "") ||
        !cJSON_AddStringToObject(root, "output", s->output ? s->output : "") ||
        (s->storage && !cJSON_AddStringToObject(root, "storage", s->storage)) ||
        !cJSON_AddNumberToObject(root, "chunk_seconds", s->chunk_seconds) ||
        !cJSON_AddNumberToObject(root, "warmup_frames", s->warmup_frames) || !params)
        goto done;
    cJSON_AddItemToObject(root, "params", params);
    params = NULL;
    out = cJSON_PrintUnformatted(root);
done:
    cJSON_Delete(params);
    cJSON_Delete(root);
    return out;
}
