/* Markdown: renders when pasted into a ticket (GitHub, Azure DevOps, ServiceNow markdown). */
#include <string.h>

#include "probe/grade.h"
#include "probe/render/render.h"

static void cell(FILE *out, const char *v)
{
    char esc[1024];
    escape_markdown(v ? v : "-", esc, sizeof esc);
    fprintf(out, " %s |", esc);
}

/* A markdown table of items (checks or consumer paths) over a field table's markdown columns. */
static void table(FILE *out, const struct field *fields, size_t nf, const void *items, size_t n, size_t stride)
{
    char buf[320];
    fputc('|', out);
    for (size_t i = 0; i < nf; i++)
        if (fields[i].markdown)
            fprintf(out, " %s |", fields[i].title);
    fputs("\n|", out);
    for (size_t i = 0; i < nf; i++)
        if (fields[i].markdown)
            fputs("---|", out);
    fputc('\n', out);
    for (size_t k = 0; k < n; k++) {
        fputc('|', out);
        for (size_t i = 0; i < nf; i++)
            if (fields[i].markdown)
                cell(out, fields[i].get((const char *)items + k * stride, buf, sizeof buf));
        fputc('\n', out);
    }
}

int render_markdown(const struct run *r, FILE *out)
{
    struct tally t;
    char line[160], buf[320];
    render_tally(r, &t);
    render_tally_line(&t, line, sizeof line);
    fprintf(out, "## azbprobe report: **%s**\n\n%s\n\n",
            status_name(grade_verdict(&r->checks)), line);
    render_look_here(r, out, true);
    fputs("| | |\n|---|---|\n", out);
    for (size_t i = 0; i < report_field_count; i++) {
        if (!report_fields[i].markdown || strcmp(report_fields[i].key, "verdict") == 0)
            continue;
        fprintf(out, "| %s |", report_fields[i].title);
        cell(out, report_fields[i].get(r, buf, sizeof buf));
        fputc('\n', out);
    }
    fputs("\n### Checks\n\n", out);
    table(out, check_fields, check_field_count, r->checks.items, r->checks.count, sizeof *r->checks.items);
    if (render_show_consumers(r)) {
        fputs("\n### Paths per consumer\n\nThe backup verdict follows the backup extension's path.\n\n", out);
        table(out, consumer_fields, consumer_field_count, r->consumers, r->nconsumers, sizeof *r->consumers);
    }
    bool any = false;
    for (size_t c = 0; c < r->checks.count; c++) {
        const struct check *ck = &r->checks.items[c];
        if (!render_detailed(ck))
            continue;
        if (!any)
            fputs("\n### Failures and warnings\n", out);
        any = true;
        char target[600] = "", port[16] = "";
        escape_markdown(ck->target, target, sizeof target);
        if (ck->port)
            snprintf(port, sizeof port, ":%d", ck->port);
        fprintf(out, "\n#### %s `%s` %s%s\n\n", status_name(ck->status), ck->id, target, port);
        char esc[1024];
        escape_markdown(ck->summary, esc, sizeof esc);
        fprintf(out, "- **Summary:** %s\n", esc);
        escape_markdown(ck->why, esc, sizeof esc);
        fprintf(out, "- **Why:** %s\n- **Required:** %s\n", esc, ck->required ? "yes" : "no");
        for (size_t b = 0; ck->blame && b < blame_field_count; b++) {
            char num[320];
            const char *v = blame_fields[b].get(ck->blame, num, sizeof num);
            if (!v)
                continue;
            escape_markdown(v, esc, sizeof esc);
            fprintf(out, "- **%s:** %s\n", blame_fields[b].title, esc);
        }
        for (size_t e = 0; e < ck->nev; e++) {
            escape_markdown(ck->ev[e].value, esc, sizeof esc);
            fprintf(out, "- %s: %s\n", ck->ev[e].key, esc);
        }
    }
    return ferror(out) ? -1 : 0;
}
