/* JSON: one object, schema azbprobe.report/1 (packaging/report.schema.json). */
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "probe/render/render.h"

static struct json_object *value(const struct field *f, const void *item)
{
    char buf[320];
    const char *v = f->get(item, buf, sizeof buf);
    if (!v)
        return NULL; /* json null */
    switch (f->kind) {
    case FIELD_INT: return json_object_new_int64(strtoll(v, NULL, 10));
    case FIELD_BOOL: return json_object_new_boolean(strcmp(v, "true") == 0);
    case FIELD_STRING: break;
    }
    size_t n = strlen(v) + 1;
    char *clean = malloc(n);
    if (!clean)
        return NULL;
    clean_utf8(v, clean, n);
    struct json_object *s = json_object_new_string(clean);
    free(clean);
    return s;
}

static void add_fields(struct json_object *obj, const struct field *fields, size_t n, const void *item)
{
    for (size_t i = 0; i < n; i++)
        if (!fields[i].not_in_json)
            json_object_object_add(obj, fields[i].key, value(&fields[i], item));
}

static struct json_object *evidence(const struct check *c)
{
    struct json_object *ev = json_object_new_object();
    for (size_t i = 0; i < c->nev; i++) {
        size_t n = strlen(c->ev[i].value) + 1;
        char *clean = malloc(n);
        if (!clean)
            continue;
        clean_utf8(c->ev[i].value, clean, n);
        json_object_object_add(ev, c->ev[i].key, json_object_new_string(clean));
        free(clean);
    }
    return ev;
}

int render_json(const struct run *r, FILE *out)
{
    struct json_object *root = json_object_new_object();
    add_fields(root, report_fields, report_field_count, r);
    struct json_object *checks = json_object_new_array();
    for (size_t i = 0; i < r->checks.count; i++) {
        const struct check *c = &r->checks.items[i];
        struct json_object *o = json_object_new_object();
        add_fields(o, check_fields, check_field_count, c);
        json_object_object_add(o, "evidence", evidence(c));
        struct json_object *blame = NULL;
        if (c->blame) {
            blame = json_object_new_object();
            add_fields(blame, blame_fields, blame_field_count, c->blame);
        }
        json_object_object_add(o, "blame", blame);
        json_object_array_add(checks, o);
    }
    json_object_object_add(root, "checks", checks);
    struct json_object *consumers = json_object_new_array();
    for (size_t i = 0; i < r->nconsumers; i++) {
        struct json_object *o = json_object_new_object();
        add_fields(o, consumer_fields, consumer_field_count, &r->consumers[i]);
        json_object_array_add(consumers, o);
    }
    json_object_object_add(root, "consumers", consumers);
    const char *s = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE);
    int rc = fprintf(out, "%s\n", s) < 0 ? -1 : 0;
    json_object_put(root);
    return rc;
}
