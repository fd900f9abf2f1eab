#include "probe/render/render.h"

#include <stdio.h>
#include <string.h>

#include "probe/grade.h"

int render_report(const struct run *r, enum report_format fmt, FILE *out, bool color)
{
    switch (fmt) {
    case FORMAT_TEXT: return render_text(r, out, color);
    case FORMAT_MARKDOWN: return render_markdown(r, out);
    case FORMAT_JSON: return render_json(r, out);
    }
    return -1;
}

void render_tally(const struct run *r, struct tally *t)
{
    *t = (struct tally){0, 0, 0, 0};
    for (size_t i = 0; i < r->checks.count; i++) {
        switch (r->checks.items[i].status) {
        case STATUS_PASS: t->pass++; break;
        case STATUS_WARN: t->warn++; break;
        case STATUS_FAIL: t->fail++; break;
        case STATUS_SKIP: t->skip++; break;
        }
    }
}

void render_tally_line(const struct tally *t, char *out, size_t size)
{
    snprintf(out, size, "%zu required check%s failed, %zu warning%s, %zu passed, %zu skipped", t->fail,
             t->fail == 1 ? "" : "s", t->warn, t->warn == 1 ? "" : "s", t->pass, t->skip);
}

bool render_detailed(const struct check *c)
{
    return c->status == STATUS_FAIL || c->status == STATUS_WARN;
}

bool render_show_consumers(const struct run *r)
{
    const struct check *pc = checks_find(&r->checks, "proxy.config", NULL, -1);
    return r->nconsumers > 0 && pc && pc->outcome != OUT_SKIPPED;
}

void render_look_here(const struct run *r, FILE *out, bool markdown)
{
    if (!grade_network_ok(&r->checks))
        return;
    bool any = false;
    for (size_t i = 0; i < r->checks.count; i++) {
        const struct check *c = &r->checks.items[i];
        if (grade_is_network(c) || !render_detailed(c))
            continue;
        if (!any)
            fputs(markdown ? "**Network OK: no network check failed. Look here first:**\n\n"
                           : "Network OK: no network check failed. Look here first:\n", out);
        any = true;
        char summary[300], clean[700];
        snprintf(summary, sizeof summary, "%s", c->summary);
        if (markdown)
            escape_markdown(summary, clean, sizeof clean);
        else
            escape_text(summary, clean, sizeof clean);
        fprintf(out, markdown ? "- **%s** `%s`: %s\n" : "  [%s] %s: %s\n", status_name(c->status), c->id, clean);
    }
    if (!any)
        fputs(markdown ? "**Network OK: no network check failed, and nothing in the guest stands in the way.**\n"
                       : "Network OK: no network check failed, and nothing in the guest stands in the way.\n", out);
    fputc('\n', out);
}
