/* Text: a verdict line, the run's facts, a table of checks (100 columns), then the details of
 * every failure and warning. Colour only when asked (a terminal without NO_COLOR). */
#include <string.h>

#include "probe/grade.h"
#include "probe/render/render.h"

#define WIDTH 100

static const char *color_of(enum status s, bool color)
{
    if (!color)
        return "";
    switch (s) {
    case STATUS_PASS: return "\033[32m";
    case STATUS_WARN: return "\033[33m";
    case STATUS_FAIL: return "\033[31;1m";
    case STATUS_SKIP: return "\033[2m";
    }
    return "";
}

static void upper(const char *in, char *out, size_t size)
{
    size_t i = 0;
    for (; in[i] && i + 1 < size; i++)
        out[i] = (char)(in[i] >= 'a' && in[i] <= 'z' ? in[i] - 32 : in[i]);
    out[i] = '\0';
}

/* Columns taken by the first n bytes of UTF-8 text. */
static int columns(const char *s, size_t n)
{
    int c = 0;
    for (size_t i = 0; i < n; i++)
        c += ((unsigned char)s[i] & 0xc0) != 0x80;
    return c;
}

/* Bytes of s that fit in cols columns (never splitting a character). */
static size_t fit_bytes(const char *s, size_t n, int cols)
{
    size_t i = 0;
    for (int c = 0; i < n; c++) {
        if (c == cols)
            break;
        do i++; while (i < n && ((unsigned char)s[i] & 0xc0) == 0x80);
    }
    return i;
}

/* Word-wrap text at WIDTH columns under a label, every line indented; words longer than a line
 * are cut across lines. */
static void wrap(FILE *out, const char *indent, const char *label, const char *text)
{
    char clean[2048];
    escape_text(text, clean, sizeof clean);
    int margin = columns(indent, strlen(indent)) + columns(label, strlen(label));
    int col = fprintf(out, "%s%s", indent, label) > 0 ? margin : 0;
    const char *p = clean;
    while (*p) {
        size_t word = strcspn(p, " ");
        int wc = columns(p, word);
        if (col > margin && col + 1 + wc > WIDTH) {
            fprintf(out, "\n%s%*s", indent, margin - columns(indent, strlen(indent)), "");
            col = margin;
        } else if (col > margin) {
            fputc(' ', out);
            col++;
        }
        while (col + wc > WIDTH) { /* a word longer than the line */
            size_t part = fit_bytes(p, word, WIDTH - col);
            fprintf(out, "%.*s\n%s%*s", (int)part, p, indent, margin - columns(indent, strlen(indent)), "");
            p += part;
            word -= part;
            wc = columns(p, word);
            col = margin;
        }
        fprintf(out, "%.*s", (int)word, p);
        col += wc;
        p += word;
        while (*p == ' ')
            p++;
    }
    fputc('\n', out);
}

static void facts(const struct run *r, FILE *out)
{
    for (size_t i = 0; i < report_field_count; i++) {
        const struct field *f = &report_fields[i];
        char buf[320], line[512];
        if (!f->markdown || strcmp(f->key, "verdict") == 0 || strcmp(f->key, "version") == 0)
            continue;
        const char *v = f->get(r, buf, sizeof buf);
        snprintf(line, sizeof line, "%-20s ", f->title);
        wrap(out, "  ", line, v ? v : "-");
    }
}

static enum status status_of(const char *name)
{
    for (int s = STATUS_PASS; s <= STATUS_SKIP; s++)
        if (strcmp(name, status_name((enum status)s)) == 0)
            return (enum status)s;
    return STATUS_SKIP;
}

/* Proxy paths are too long for a table cell: the checks table numbers them ("proxy 1") and
 * lists them under the table. */
struct legend {
    char path[16][300];
    size_t n;
};

static void legend_cell(struct legend *lg, const char *path, char *out, size_t size)
{
    if (strncmp(path, "proxy ", 6) != 0) {
        escape_text(path, out, size);
        return;
    }
    size_t i = 0;
    while (i < lg->n && strcmp(lg->path[i], path) != 0)
        i++;
    if (i == lg->n && lg->n < 16)
        snprintf(lg->path[lg->n++], sizeof lg->path[0], "%s", path);
    snprintf(out, size, "proxy %zu", i + 1);
}

static void legend_print(FILE *out, const struct legend *lg)
{
    for (size_t i = 0; i < lg->n; i++) {
        char label[32];
        snprintf(label, sizeof label, "proxy %zu: ", i + 1);
        wrap(out, "  ", label, lg->path[i] + 6);
    }
}

/* A table of items (checks or consumer paths) over a field table's text columns. */
static void table(FILE *out, const struct field *fields, size_t nf, const void *items, size_t n,
                  size_t stride, struct legend *lg, bool color)
{
    for (size_t i = 0; i < nf; i++)
        if (fields[i].text_width)
            fprintf(out, "%-*s ", fields[i].text_width, fields[i].title);
    fputc('\n', out);
    for (size_t k = 0; k < n; k++) {
        const void *item = (const char *)items + k * stride;
        for (size_t i = 0; i < nf; i++) {
            const struct field *f = &fields[i];
            char buf[320], cell[128];
            if (!f->text_width)
                continue;
            const char *v = f->get(item, buf, sizeof buf);
            if (lg && strcmp(f->key, "path") == 0 && v)
                legend_cell(lg, v, cell, sizeof cell);
            else
                ellipsize(v ? v : "-", cell, sizeof cell, f->text_width);
            if (strcmp(f->key, "status") == 0) {
                enum status st = status_of(cell);
                upper(cell, cell, sizeof cell);
                fprintf(out, "%s%-*s%s ", color_of(st, color), f->text_width, cell, color ? "\033[0m" : "");
            } else {
                fprintf(out, f->kind == FIELD_INT ? "%*s " : "%-*s ", f->text_width, cell);
            }
        }
        fputc('\n', out);
    }
}

static void details(const struct run *r, FILE *out, bool color)
{
    bool any = false;
    for (size_t c = 0; c < r->checks.count; c++) {
        const struct check *ck = &r->checks.items[c];
        if (!render_detailed(ck))
            continue;
        if (!any)
            fputs("\nDetails\n", out);
        any = true;
        char st[8], target[300] = "";
        upper(status_name(ck->status), st, sizeof st);
        if (ck->target[0] && ck->port)
            snprintf(target, sizeof target, " %s:%d", ck->target, ck->port);
        else if (ck->target[0])
            snprintf(target, sizeof target, " %s", ck->target);
        char head[400], clean[400];
        snprintf(head, sizeof head, "%s%s (%s, %s)", ck->id, target, ck->path[0] ? ck->path : "-",
                 ck->required ? "required" : "not required");
        ellipsize(head, clean, sizeof clean, WIDTH - (int)strlen(st) - 3);
        fprintf(out, "\n%s[%s]%s %s\n", color_of(ck->status, color), st, color ? "\033[0m" : "", clean);
        wrap(out, "  ", "", ck->summary);
        if (ck->why[0])
            wrap(out, "  ", "Why: ", ck->why);
        for (size_t b = 0; ck->blame && b < blame_field_count; b++) {
            char buf[320], label[48];
            const char *v = blame_fields[b].get(ck->blame, buf, sizeof buf);
            snprintf(label, sizeof label, "%s: ", blame_fields[b].title);
            if (v)
                wrap(out, "  ", label, v);
        }
        for (size_t e = 0; e < ck->nev; e++) {
            char label[40];
            snprintf(label, sizeof label, "%s: ", ck->ev[e].key);
            wrap(out, "    ", label, ck->ev[e].value);
        }
    }
}

/* Why each consumer takes its path, once per distinct reason. */
static void decisions(const struct run *r, FILE *out)
{
    for (size_t i = 0; i < r->nconsumers; i++) {
        const struct consumer_path *cp = &r->consumers[i];
        bool seen = false;
        for (size_t k = 0; k < i && !seen; k++)
            seen = r->consumers[k].consumer == cp->consumer && strcmp(r->consumers[k].decided_by, cp->decided_by) == 0;
        if (seen || !cp->decided_by[0])
            continue;
        char label[40];
        snprintf(label, sizeof label, "%s: ", consumer_name(cp->consumer));
        wrap(out, "  ", label, cp->decided_by);
    }
}

int render_text(const struct run *r, FILE *out, bool color)
{
    struct tally t;
    char line[160];
    enum status v = grade_verdict(&r->checks);
    render_tally(r, &t);
    render_tally_line(&t, line, sizeof line);
    char vs[8];
    upper(status_name(v), vs, sizeof vs);
    fprintf(out, "azbprobe %s: %s%s%s - %s\n\n", AZB_VERSION, color_of(v, color), vs, color ? "\033[0m" : "", line);
    render_look_here(r, out, false);
    facts(r, out);
    fputc('\n', out);
    struct legend lg = {.n = 0};
    table(out, check_fields, check_field_count, r->checks.items, r->checks.count, sizeof *r->checks.items, &lg,
          color);
    if (render_show_consumers(r)) {
        fputs("\nPaths per consumer (the backup verdict follows the backup extension's path)\n", out);
        table(out, consumer_fields, consumer_field_count, r->consumers, r->nconsumers, sizeof *r->consumers, &lg,
              color);
        decisions(r, out);
    }
    legend_print(out, &lg);
    details(r, out, color);
    return ferror(out) ? -1 : 0;
}
