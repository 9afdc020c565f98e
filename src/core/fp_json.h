/*
 * fp_json — the one JSON string writer for the hand-written JSON lines (probe --json, doctor --json,
 * --progress json). Owns escaping only; documents are written by their callers with fprintf.
 */
#ifndef FP_JSON_H
#define FP_JSON_H

#include <stdio.h>

/* Writes s as a quoted JSON string (", \ and control characters escaped; NULL writes ""). */
void fp_json_str(FILE *f, const char *s);

#endif
