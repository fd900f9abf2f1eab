/* Renderers: the report (a run that has finished and been graded) as text, markdown or JSON.
 * All three walk the same field tables (fields.c), so a field cannot appear in one format and
 * vanish from another. Renderers only write: no lookups, no clocks. Untrusted strings (server
 * headers, certificate names, DNS names) are escaped where they are written. */
#ifndef AZB_RENDER_H
#define AZB_RENDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "probe/config.h"
#include "probe/run.h"

enum field_kind { FIELD_STRING, FIELD_INT, FIELD_BOOL };

/* One value of a report or a check. get() writes the value as text into buf and returns it, or
 * returns NULL when the field does not apply (JSON null, empty cell). */
struct field {
    const char *key;   /* JSON key */
    const char *title; /* column or line title */
    int text_width;    /* width in the text table; 0: not a column there */
    bool markdown;     /* a column of the markdown table */
    enum field_kind kind;
    const char *(*get)(const void *item, char *buf, size_t size);
    bool not_in_json;  /* a view of data JSON already carries in another shape (blame's verdict) */
};

extern const struct field check_fields[];
extern const size_t check_field_count;
extern const struct field report_fields[];
extern const size_t report_field_count;
extern const struct field consumer_fields[];
extern const size_t consumer_field_count;
extern const struct field blame_fields[];
extern const size_t blame_field_count;

/* The consumers table is worth showing in text and markdown when some proxy is in play. */
bool render_show_consumers(const struct run *r);

int render_report(const struct run *r, enum report_format fmt, FILE *out, bool color);
int render_text(const struct run *r, FILE *out, bool color);
int render_markdown(const struct run *r, FILE *out);
int render_json(const struct run *r, FILE *out);

/* Escaping (pure). Each writes a NUL-terminated result, truncating to fit. */
void escape_text(const char *in, char *out, size_t size);     /* control bytes -> '?' */
void escape_markdown(const char *in, char *out, size_t size); /* table-cell safe */
void clean_utf8(const char *in, char *out, size_t size);      /* invalid UTF-8 -> '?' */
/* Shorten to width columns keeping both ends ("abc...xyz"). */
void ellipsize(const char *in, char *out, size_t size, int width);



struct tally {
    size_t pass, warn, fail, skip;
};
void render_tally(const struct run *r, struct tally *t);
/* "Network OK: look here": the guest checks to read first when no network check failed. */
void render_look_here(const struct run *r, FILE *out, bool markdown);
/* Failures and warnings get a details section; passes and skips only a table row. */
bool render_detailed(const struct check *c);
/* "1 required check failed, 2 warnings, 10 passed, 1 skipped" */
void render_tally_line(const struct tally *t, char *out, size_t size);
#endif
