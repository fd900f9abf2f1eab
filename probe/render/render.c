#include "probe/render/render.h"

#include <stdio.h>

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
