/*
 * jobs_task — the registry of chunkable tasks. Adding a task adds one descriptor (in its own file)
 * and one row here; nothing else changes.
 */
#include "jobs/jobs_task.h"

#include <string.h>

extern const fp_task_desc fp_task_remux, fp_task_packetmd5;
#ifdef FP_JOBS_HAVE_MEDIA
extern const fp_task_desc fp_task_transcode, fp_task_key;
#endif
#ifdef FP_JOBS_HAVE_TASKS
extern const fp_task_desc fp_task_matte;
#endif

static const fp_task_desc *const tasks[] = {
    &fp_task_remux,
    &fp_task_packetmd5,
#ifdef FP_JOBS_HAVE_MEDIA
    &fp_task_transcode,
    &fp_task_key,
#endif
#ifdef FP_JOBS_HAVE_TASKS
    &fp_task_matte,
#endif
};

const fp_task_desc *fp_task_find(const char *name)
{
    for (size_t i = 0; i < sizeof(tasks) / sizeof(tasks[0]); i++)
        if (!strcmp(tasks[i]->name, name))
            return tasks[i];
    return NULL;
}

const fp_task_desc *fp_task_at(int i)
{
    return i >= 0 && i < (int)(sizeof(tasks) / sizeof(tasks[0])) ? tasks[i] : NULL;
}
