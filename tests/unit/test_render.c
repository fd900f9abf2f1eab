/* Unit tests: probe/render (escaping, and the text, markdown and JSON reports of a graded run). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probe/cli.h"
#include "probe/grade.h"
#include "probe/render/render.h"

/* ---- escaping ---- */

static void test_escape_text(void **state)
{
    (void)state;
    char out[64];
    escape_text("a\033[31mred\033[0m\r\n\tb\x7f" "c", out, sizeof out);
    assert_string_equal(out, "a?[31mred?[0m???b?c");
    assert_null(strchr(out, '\033'));
    escape_text("caf\xc3\xa9 ok", out, sizeof out);
    assert_string_equal(out, "caf\xc3\xa9 ok");
    escape_text("abcdef", out, 4);
    assert_string_equal(out, "abc");
    escape_text("", out, sizeof out);
    assert_string_equal(out, "");
    escape_text("a\xc2\x9b" "2J", out, sizeof out); /* C1 CSI, as UTF-8 */
    assert_string_equal(out, "a?2J");
    escape_text("a\x9b" "2J\xff", out, sizeof out); /* raw CSI byte, invalid UTF-8 */
    assert_string_equal(out, "a?2J?");
    escape_text("\xc2\xa0nbsp", out, sizeof out); /* U+00A0 is printable */
    assert_string_equal(out, "\xc2\xa0nbsp");
}

static void test_escape_markdown(void **state)
{
    (void)state;
    char out[128];
    escape_markdown("a|b`c*d_e[f]g<h>i#j", out, sizeof out);
    assert_string_equal(out, "a\\|b\\`c\\*d\\_e\\[f\\]g\\<h\\>i\\#j");
    escape_markdown("line1\nline2\r\nx\ty\033", out, sizeof out);
    assert_string_equal(out, "line1 line2  x y ");
    assert_null(strchr(out, '\n'));
    escape_markdown("back\\slash", out, sizeof out);
    assert_string_equal(out, "back\\\\slash");
    /* Truncation never leaves a lone backslash that would escape what follows. */
    escape_markdown("a|", out, 3);
    assert_string_equal(out, "a");
    escape_markdown("a|", out, 4);
    assert_string_equal(out, "a\\|");
    escape_markdown("plain", out, sizeof out);
    assert_string_equal(out, "plain");
}

static void test_clean_utf8(void **state)
{
    (void)state;
    char out[64];
    clean_utf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf", out, sizeof out);
    assert_string_equal(out, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf");
    clean_utf8("a\xc0\xaf" "b", out, sizeof out);              /* overlong '/' */
    assert_string_equal(out, "a??b");
    clean_utf8("a\xe0\x80\xaf" "b", out, sizeof out);          /* overlong, 3 bytes */
    assert_string_equal(out, "a???b");
    clean_utf8("a\xf0\x80\x80\xaf" "b", out, sizeof out);      /* overlong, 4 bytes */
    assert_string_equal(out, "a????b");
    clean_utf8("a\xed\xa0\x80" "b", out, sizeof out);          /* surrogate U+D800 */
    assert_string_equal(out, "a???b");
    clean_utf8("a\xed\xbf\xbf" "b", out, sizeof out);          /* surrogate U+DFFF */
    assert_string_equal(out, "a???b");
    clean_utf8("a\xf4\x90\x80\x80" "b", out, sizeof out);      /* above U+10FFFF */
    assert_string_equal(out, "a????b");
    clean_utf8("ab\xe2\x82", out, sizeof out);                  /* truncated at the end */
    assert_string_equal(out, "ab??");
    clean_utf8("a\xe2\x82" "b", out, sizeof out);               /* truncated in the middle */
    assert_string_equal(out, "a??b");
    clean_utf8("\x80\xbf\xff\xfe", out, sizeof out);            /* stray continuation, never-valid bytes */
    assert_string_equal(out, "????");
    /* Output truncation does not split a character. */
    clean_utf8("ab\xc3\xa9", out, 4);
    assert_string_equal(out, "ab");
    clean_utf8("ab\xc3\xa9", out, 5);
    assert_string_equal(out, "ab\xc3\xa9");
}

static void test_ellipsize(void **state)
{
    (void)state;
    char out[128];
    ellipsize("abcdefghijklmnopqrstuvwxyz", out, sizeof out, 10);
    assert_int_equal(strlen(out), 10);
    assert_string_equal(out, "abc...wxyz");
    ellipsize("abcdefghijklmnopqrstuvwxyz", out, sizeof out, 11);
    assert_int_equal(strlen(out), 11);
    assert_string_equal(out, "abcd...wxyz");
    ellipsize("abcdefghij", out, sizeof out, 10);
    assert_string_equal(out, "abcdefghij");
    ellipsize("short", out, sizeof out, 32);
    assert_string_equal(out, "short");
    ellipsize("acct1.blob.core.windows.net.and.a.long.tail.example", out, sizeof out, 32);
    assert_int_equal(strlen(out), 32);
    assert_memory_equal(out, "acct1.blob.core", 14);
    assert_string_equal(out + 32 - 14, "g.tail.example");
    assert_non_null(strstr(out, "..."));
    ellipsize("\033[31mabcdefghijklmnopqrstuvwxyz", out, sizeof out, 12);
    assert_int_equal(strlen(out), 12);
    assert_null(strchr(out, '\033'));
    ellipsize("abcdefghijkl", out, sizeof out, 5);
    assert_string_equal(out, "a...l");
    ellipsize("abcdefghijkl", out, sizeof out, 3);
    assert_string_equal(out, "abc");
    char big[1000], wide[700];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    ellipsize(big, wide, sizeof wide, 600);
    assert_int_equal(strlen(wide), 600);
    char e11[23];
    for (int i = 0; i < 11; i++)
        memcpy(e11 + 2 * i, "\xc3\xa9", 2);
    e11[22] = '\0';
    ellipsize(e11, out, sizeof out, 10); /* counts characters, never splits one */
    assert_string_equal(out, "\xc3\xa9\xc3\xa9\xc3\xa9...\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9");
    char clean[64];
    clean_utf8(out, clean, sizeof clean);
    assert_string_equal(clean, out);
}

/* ---- a graded run ---- */

struct fixture {
    struct config cfg;
    struct run run;
};

static struct fixture *new_fixture(void)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    char *argv[] = {(char *)"azbprobe", NULL};
    char err[256];
    assert_int_equal(cli_parse(1, argv, &f->cfg, err, sizeof err), 0);
    f->run.cfg = &f->cfg;
    f->run.imds_job = (size_t)-1;
    struct facts *fa = &f->run.facts;
    snprintf(fa->region, sizeof fa->region, "northeurope");
    snprintf(fa->region_source, sizeof fa->region_source, "IMDS");
    snprintf(fa->cloud, sizeof fa->cloud, "AzureCloud");
    snprintf(fa->cloud_source, sizeof fa->cloud_source, "region");
    snprintf(fa->wireserver, sizeof fa->wireserver, "168.63.129.16");
    snprintf(fa->wireserver_source, sizeof fa->wireserver_source, "default");
    snprintf(fa->resolvers, sizeof fa->resolvers, "10.50.0.4:53,10.50.0.5:53");
    snprintf(fa->resolvers_source, sizeof fa->resolvers_source, "/etc/resolv.conf");
    snprintf(fa->imds.private_ip, sizeof fa->imds.private_ip, "10.0.1.4");
    snprintf(f->run.hostname, sizeof f->run.hostname, "vm-backup-01");
    snprintf(f->run.started_utc, sizeof f->run.started_utc, "2025-01-02T03:04:05Z");
    f->run.duration_ms = 1234;
    return f;
}

static void free_fixture(struct fixture *f)
{
    checks_free(&f->run.checks);
    config_free(&f->cfg);
    free(f);
}

static struct check *add(struct run *r, const char *id, const char *target, int port, enum outcome o,
                         const char *summary)
{
    size_t i = checks_add(&r->checks, id, target, port);
    assert_true(i != (size_t)-1);
    struct check *c = &r->checks.items[i];
    c->outcome = o;
    c->duration_ms = 17;
    snprintf(c->path, sizeof c->path, "direct");
    check_summary(c, "%s", summary);
    return c;
}

static void small_run(struct run *r)
{
    add(r, "wireserver.http", "168.63.129.16", 80, OUT_OK, "WireServer answered HTTP 200");
    add(r, "wireserver.hostgaplugin", "168.63.129.16", 32526, OUT_OK, "HostGAPlugin answered HTTP 200");
    struct check *d = add(r, "dns.system", "acct1.blob.core.windows.net", 0, OUT_OK, "resolved");
    check_ev(d, "addresses", "20.60.1.2");
    add(r, "net.tcp", "acct1.blob.core.windows.net", 443, OUT_TIMEOUT, "TCP timed out");
    add(r, "net.tls", "acct1.blob.core.windows.net", 443, OUT_SKIPPED, "not tried: TCP failed");
}

static char *render(const struct run *r, int which, bool color)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    int rc = which == 0 ? render_text(r, f, color) : which == 1 ? render_markdown(r, f) : render_json(r, f);
    assert_int_equal(rc, 0);
    assert_int_equal(fclose(f), 0);
    assert_non_null(buf);
    assert_int_equal(strlen(buf), len);
    return buf;
}

static struct json_object *parse_json(const char *text)
{
    struct json_tokener *tok = json_tokener_new();
    assert_non_null(tok);
    struct json_object *o = json_tokener_parse_ex(tok, text, (int)strlen(text));
    enum json_tokener_error e = json_tokener_get_error(tok);
    if (e != json_tokener_success)
        print_error("JSON error: %s\n", json_tokener_error_desc(e));
    assert_int_equal(e, json_tokener_success);
    json_tokener_free(tok);
    assert_non_null(o);
    return o;
}

static struct json_object *key(struct json_object *o, const char *k)
{
    struct json_object *v = NULL;
    if (!json_object_object_get_ex(o, k, &v))
        print_error("missing key %s\n", k);
    assert_true(json_object_object_get_ex(o, k, &v));
    return v;
}

static struct json_object *json_check(struct json_object *root, const char *id, int port)
{
    struct json_object *checks = key(root, "checks");
    for (size_t i = 0; i < json_object_array_length(checks); i++) {
        struct json_object *c = json_object_array_get_idx(checks, i);
        struct json_object *p = key(c, "port");
        int cport = p ? json_object_get_int(p) : 0;
        if (strcmp(json_object_get_string(key(c, "id")), id) == 0 && cport == port)
            return c;
    }
    fail_msg("no check %s port %d in JSON", id, port);
    return NULL;
}

static void test_json_report(void **state)
{
    (void)state;
    struct fixture *f = new_fixture();
    small_run(&f->run);
    grade_run(&f->run);
    char *text = render(&f->run, 2, false);
    struct json_object *root = parse_json(text);
    assert_string_equal(json_object_get_string(key(root, "schema")), "azbprobe.report/1");
    assert_string_equal(json_object_get_string(key(root, "verdict")), "warn");
    assert_int_equal(json_object_get_int(key(root, "exit_code")), 0);
    assert_string_equal(json_object_get_string(key(root, "region")), "northeurope");
    assert_string_equal(json_object_get_string(key(root, "private_ip")), "10.0.1.4");
    assert_int_equal(json_object_get_int(key(root, "timeout_ms")), 5000);
    assert_int_equal(json_object_get_int(key(root, "duration_ms")), 1234);
    struct json_object *checks = key(root, "checks");
    assert_true(json_object_is_type(checks, json_type_array));
    assert_int_equal(json_object_array_length(checks), f->run.checks.count);

    static const char *const keys[] = {"id", "status", "required", "target", "port", "path",
                                       "outcome", "duration_ms", "summary", "why", "evidence"};
    for (size_t i = 0; i < json_object_array_length(checks); i++) {
        struct json_object *c = json_object_array_get_idx(checks, i);
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
            key(c, keys[k]);
        assert_string_equal(json_object_get_string(key(c, "id")), f->run.checks.items[i].id);
        assert_string_equal(json_object_get_string(key(c, "status")), status_name(f->run.checks.items[i].status));
        assert_true(json_object_is_type(key(c, "required"), json_type_boolean));
        assert_true(json_object_is_type(key(c, "duration_ms"), json_type_int));
        assert_true(json_object_is_type(key(c, "evidence"), json_type_object));
    }

    struct json_object *tcp = json_check(root, "net.tcp", 443);
    assert_true(json_object_is_type(key(tcp, "port"), json_type_int));
    assert_int_equal(json_object_get_int(key(tcp, "port")), 443);
    assert_string_equal(json_object_get_string(key(tcp, "status")), "warn");
    assert_string_equal(json_object_get_string(key(tcp, "outcome")), "timeout");
    assert_false(json_object_get_boolean(key(tcp, "required")));
    assert_string_equal(json_object_get_string(key(tcp, "target")), "acct1.blob.core.windows.net");
    assert_string_equal(json_object_get_string(key(tcp, "path")), "direct");
    assert_int_equal(json_object_get_int(key(tcp, "duration_ms")), 17);

    struct json_object *ws = json_check(root, "wireserver.http", 80);
    assert_true(json_object_get_boolean(key(ws, "required")));
    assert_string_equal(json_object_get_string(key(ws, "status")), "pass");

    struct json_object *dns = json_check(root, "dns.system", 0);
    assert_null(key(dns, "port"));
    assert_string_equal(json_object_get_string(key(key(dns, "evidence"), "addresses")), "20.60.1.2");

    struct json_object *clock = json_check(root, "clock.skew", 0);
    assert_null(key(clock, "port"));
    assert_null(key(clock, "target"));
    assert_string_equal(json_object_get_string(key(clock, "status")), "skip");

    json_object_put(root);
    free(text);
    free_fixture(f);
}

static void test_json_hostile_strings(void **state)
{
    (void)state;
    static const char hostile[] = "nginx \"quoted\" back\\slash\nnew line\r\t\033[2J\x01 bad \xc3\x28 \xed\xa0\x80 end \xc3\xa9";
    static const char cleaned[] = "nginx \"quoted\" back\\slash\nnew line\r\t\033[2J\x01 bad ?( ??? end \xc3\xa9";
    struct fixture *f = new_fixture();
    small_run(&f->run);
    struct check *h = add(&f->run, "net.https", "acct1.blob.core.windows.net", 443, OUT_NOT_AZURE, hostile);
    check_ev(h, "server", "%s", hostile);
    snprintf(f->run.hostname, sizeof f->run.hostname, "%s", hostile);
    grade_run(&f->run);
    char *text = render(&f->run, 2, false);
    assert_null(strchr(text, '\033'));
    struct json_object *root = parse_json(text);
    struct json_object *c = json_check(root, "net.https", 443);
    assert_string_equal(json_object_get_string(key(c, "summary")), cleaned);
    assert_string_equal(json_object_get_string(key(key(c, "evidence"), "server")), cleaned);
    assert_string_equal(json_object_get_string(key(root, "host")), cleaned);
    json_object_put(root);
    free(text);
    free_fixture(f);
}

static void test_json_has_every_check_field(void **state)
{
    (void)state;
    struct fixture *f = new_fixture();
    small_run(&f->run);
    grade_run(&f->run);
    char *text = render(&f->run, 2, false);
    struct json_object *root = parse_json(text);
    struct json_object *c = json_check(root, "net.tcp", 443);
    for (size_t i = 0; i < check_field_count; i++) {
        struct json_object *v = NULL;
        if (check_fields[i].not_in_json) /* a view of the blame object, not a key of its own */
            assert_false(json_object_object_get_ex(c, check_fields[i].key, &v));
        else
            key(c, check_fields[i].key);
    }
    for (size_t i = 0; i < report_field_count; i++)
        key(root, report_fields[i].key);
    json_object_put(root);
    free(text);
    free_fixture(f);
}

/* ---- text ---- */

static size_t columns(const char *s, size_t n)
{
    size_t cols = 0;
    for (size_t i = 0; i < n; i++)
        cols += ((unsigned char)s[i] & 0xc0) != 0x80;
    return cols;
}

/* Lines wider than 100 columns; each is reported. */
static size_t wide_lines(const char *text)
{
    size_t bad = 0;
    for (const char *p = text; *p;) {
        size_t n = strcspn(p, "\n");
        if (columns(p, n) > 100) {
            print_error("%zu columns: %.*s\n", columns(p, n), (int)n, p);
            bad++;
        }
        p += n;
        if (*p)
            p++;
    }
    return bad;
}

static const char long_words[] =
    "the connection to the storage endpoint was closed by a device in the path right after the "
    "client sent its hello message which usually means a firewall that filters on the server name "
    "indication denies this host name while other names are allowed through the same appliance";

static void long_run(struct run *r, const char *target)
{
    struct check *c = add(r, "net.tls", target, 443, OUT_RESET_AFTER_HELLO, long_words);
    check_ev(c, "curl_error", "35 %s", long_words);
    check_ev(c, "tls_issuer", "CN=Contoso TLS Inspection CA, OU=Network Security, O=Contoso Ltd, L=Dublin, C=IE");
    add(r, "net.tcp", target, 8443, OUT_TIMEOUT, long_words);
    add(r, "dns.system", target, 0, OUT_NXDOMAIN, long_words);
}

static void test_text_width(void **state)
{
    (void)state;
    struct fixture *f = new_fixture();
    small_run(&f->run);
    long_run(&f->run, "backup-storage-account-0123456.blob.core.windows.net");
    grade_run(&f->run);
    char *text = render(&f->run, 0, false);
    assert_null(strchr(text, '\033'));
    assert_int_equal(wide_lines(text), 0);
    assert_non_null(strstr(text, "WARN"));
    assert_non_null(strstr(text, "northeurope"));
    assert_non_null(strstr(text, "indication"));
    assert_non_null(strstr(text, "Contoso Ltd"));
    free(text);
    free_fixture(f);
}

static void test_text_long_target_table(void **state)
{
    (void)state;
    char target[201];
    memset(target, 'a', sizeof target - 1);
    memcpy(target + sizeof target - 1 - 26, ".blob.core.windows.net.end", 26);
    target[50] = '.';
    target[100] = '.';
    target[150] = '.';
    target[sizeof target - 1] = '\0';
    struct fixture *f = new_fixture();
    long_run(&f->run, target);
    snprintf(f->run.facts.resolvers, sizeof f->run.facts.resolvers, "%s",
             "[2001:db8:1234:5678:9abc:def0:1234:5678]:53,[2001:db8:1234:5678:9abc:def0:1234:5679]:53,"
             "[2001:db8:1234:5678:9abc:def0:1234:567a]:53");
    grade_run(&f->run);
    char *text = render(&f->run, 0, false);
    assert_null(strchr(text, '\033'));
    const char *table = strstr(text, "\nStatus");
    assert_non_null(table);
    const char *end = strstr(table, "\n\n");
    assert_non_null(end);
    size_t rows = 0, shortened = 0;
    for (const char *p = table + 1; p < end;) {
        size_t n = strcspn(p, "\n");
        assert_true(columns(p, n) <= 100);
        shortened += memmem(p, n, "aaa...", 6) != NULL;
        rows++;
        p += n + 1;
    }
    assert_int_equal(rows, 1 + f->run.checks.count);
    assert_int_equal(shortened, 3);
    assert_int_equal(wide_lines(text), 0); /* the details' headings and long words too */
    free(text);
    free_fixture(f);
}

static void test_text_color(void **state)
{
    (void)state;
    struct fixture *f = new_fixture();
    small_run(&f->run);
    add(&f->run, "net.https", "acct1.blob.core.windows.net", 443, OUT_NOT_AZURE, "evil \033[2J server");
    grade_run(&f->run);
    char *plain = render(&f->run, 0, false);
    assert_null(strchr(plain, '\033'));
    char *color = render(&f->run, 0, true);
    assert_non_null(strstr(color, "\033[33m"));
    assert_null(strstr(color, "\033[2J"));
    free(plain);
    free(color);
    free_fixture(f);
}

/* ---- markdown ---- */

static size_t unescaped_pipes(const char *s, size_t n)
{
    size_t pipes = 0, slashes = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '|' && slashes % 2 == 0)
            pipes++;
        slashes = s[i] == '\\' ? slashes + 1 : 0;
    }
    return pipes;
}

/* Every row of the table starting at `header` has as many cell separators as the header. */
static size_t table_rows(const char *header)
{
    size_t n = strcspn(header, "\n");
    size_t want = unescaped_pipes(header, n), rows = 0;
    assert_true(want >= 3);
    for (const char *p = header; *p == '|';) {
        n = strcspn(p, "\n");
        if (unescaped_pipes(p, n) != want)
            print_error("row with %zu separators, header has %zu: %.*s\n", unescaped_pipes(p, n), want, (int)n, p);
        assert_int_equal(unescaped_pipes(p, n), want);
        rows++;
        p += n;
        if (*p)
            p++;
    }
    return rows;
}

static void test_markdown_tables(void **state)
{
    (void)state;
    struct fixture *f = new_fixture();
    small_run(&f->run);
    add(&f->run, "net.tcp", "evil|host\\|x", 443, OUT_TIMEOUT, "pipe | in summary\nand a newline `code` *bold*");
    add(&f->run, "net.https", "acct1.blob.core.windows.net", 443, OUT_NOT_AZURE, "\\|\\\\|");
    snprintf(f->run.hostname, sizeof f->run.hostname, "host|name\nsecond");
    snprintf(f->run.facts.resolvers, sizeof f->run.facts.resolvers, "10.0.0.1|x");
    grade_run(&f->run);
    char *md = render(&f->run, 1, false);

    const char *facts = strstr(md, "\n| | |\n");
    assert_non_null(facts);
    size_t nfacts = 0;
    for (size_t i = 0; i < report_field_count; i++)
        nfacts += report_fields[i].markdown && strcmp(report_fields[i].key, "verdict") != 0;
    assert_int_equal(table_rows(facts + 1), 2 + nfacts);

    const char *checks = strstr(md, "### Checks\n\n");
    assert_non_null(checks);
    checks += strlen("### Checks\n\n");
    assert_int_equal(table_rows(checks), 2 + f->run.checks.count);
    assert_non_null(strstr(checks, "evil\\|host\\\\\\|x"));
    free(md);
    free_fixture(f);
}

static void test_markdown_details(void **state)
{
    (void)state;
    struct fixture *f = new_fixture();
    small_run(&f->run);
    grade_run(&f->run);
    char *md = render(&f->run, 1, false);
    assert_non_null(strstr(md, "**warn**"));
    assert_non_null(strstr(md, "### Failures and warnings"));
    assert_non_null(strstr(md, "`net.tcp` acct1.blob.core.windows.net:443"));
    assert_null(strstr(md, "`wireserver.http`"));
    free(md);
    free_fixture(f);
}

static void test_tally_line(void **state)
{
    (void)state;
    char line[160];
    struct tally t = {10, 2, 1, 1};
    render_tally_line(&t, line, sizeof line);
    assert_string_equal(line, "1 required check failed, 2 warnings, 10 passed, 1 skipped");
    t = (struct tally){0, 1, 2, 0};
    render_tally_line(&t, line, sizeof line);
    assert_string_equal(line, "2 required checks failed, 1 warning, 0 passed, 0 skipped");

    struct fixture *f = new_fixture();
    small_run(&f->run);
    grade_run(&f->run);
    render_tally(&f->run, &t);
    assert_int_equal(t.pass, 3);
    assert_int_equal(t.warn, 1);
    assert_int_equal(t.fail, 0);
    assert_int_equal(t.skip, 2);
    free_fixture(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escape_text),
        cmocka_unit_test(test_escape_markdown),
        cmocka_unit_test(test_clean_utf8),
        cmocka_unit_test(test_ellipsize),
        cmocka_unit_test(test_json_report),
        cmocka_unit_test(test_json_hostile_strings),
        cmocka_unit_test(test_json_has_every_check_field),
        cmocka_unit_test(test_text_width),
        cmocka_unit_test(test_text_long_target_table),
        cmocka_unit_test(test_text_color),
        cmocka_unit_test(test_markdown_tables),
        cmocka_unit_test(test_markdown_details),
        cmocka_unit_test(test_tally_line),
    };
    return cmocka_run_group_tests_name("render", tests, NULL, NULL);
}
