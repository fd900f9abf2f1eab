/* Escaping for each output: untrusted bytes (server headers, certificate names, DNS names) must
 * not move a terminal's cursor, break a markdown table or make JSON invalid. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "probe/render/render.h"

void escape_markdown(const char *in, char *out, size_t size)
{
    static const char special[] = "\\`*_[]<>|#~";
    size_t o = 0;
    for (; *in; in++) {
        unsigned char ch = (unsigned char)*in;
        bool esc = strchr(special, ch) != NULL;
        if (o + (esc ? 2 : 1) >= size)
            break;
        if (esc)
            out[o++] = '\\';
        out[o++] = (ch < 0x20 || ch == 0x7f) ? ' ' : (char)ch;
    }
    out[o] = '\0';
}

/* Length of the valid UTF-8 sequence at s (1-4), or 0 when invalid. */
static size_t utf8_len(const unsigned char *s)
{
    if (s[0] < 0x80)
        return 1;
    size_t n = (s[0] & 0xe0) == 0xc0 ? 2 : (s[0] & 0xf0) == 0xe0 ? 3 : (s[0] & 0xf8) == 0xf0 ? 4 : 0;
    if (n == 0 || (n == 2 && s[0] < 0xc2) || (n == 4 && s[0] > 0xf4))
        return 0;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    uint32_t cp = s[0] & (0x7f >> n);
    for (size_t i = 1; i < n; i++)
        cp = (cp << 6) | (s[i] & 0x3f);
    if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return n;
}

void clean_utf8(const char *in, char *out, size_t size)
{
    const unsigned char *s = (const unsigned char *)in;
    size_t o = 0;
    while (*s) {
        size_t n = utf8_len(s);
        if (n == 0) {
            if (o + 1 >= size)
                break;
            out[o++] = '?';
            s++;
            continue;
        }
        if (o + n >= size)
            break;
        memcpy(out + o, s, n);
        o += n;
        s += n;
    }
    out[o] = '\0';
}

/* Terminal-safe: invalid UTF-8, C0 and C1 controls (ESC, CSI U+009B) and DEL become '?'. */
void escape_text(const char *in, char *out, size_t size)
{
    const unsigned char *s = (const unsigned char *)in;
    size_t o = 0;
    while (*s) {
        size_t n = utf8_len(s);
        bool control = n == 0 || *s < 0x20 || *s == 0x7f || (n == 2 && s[0] == 0xc2 && s[1] < 0xa0);
        size_t take = n ? n : 1;
        if (o + (control ? 1 : n) >= size)
            break;
        if (control) {
            out[o++] = '?';
        } else {
            memcpy(out + o, s, n);
            o += n;
        }
        s += take;
    }
    out[o] = '\0';
}

/* Shorten to width characters (code points), keeping both ends around "...". */
void ellipsize(const char *in, char *out, size_t size, int width)
{
    size_t len = strlen(in);
    char *clean = malloc(len + 1);
    if (!clean) {
        if (size)
            out[0] = '\0';
        return;
    }
    escape_text(in, clean, len + 1);
    size_t chars = 0, w = width > 0 ? (size_t)width : 0;
    for (const char *p = clean; *p; p++)
        chars += ((unsigned char)*p & 0xc0) != 0x80;
    if (chars <= w) {
        snprintf(out, size, "%s", clean);
        free(clean);
        return;
    }
    size_t head = w >= 4 ? (w - 3) / 2 : w, tail = w >= 4 ? w - 3 - head : 0;
    /* byte offsets of the first `head` and the last `tail` characters */
    size_t hb = 0, tb = strlen(clean);
    for (size_t k = 0; k < head; k++)
        do hb++; while (((unsigned char)clean[hb] & 0xc0) == 0x80);
    for (size_t k = 0; k < tail; k++)
        do tb--; while (((unsigned char)clean[tb] & 0xc0) == 0x80);
    snprintf(out, size, "%.*s%s%s", (int)hb, clean, w >= 4 ? "..." : "", w >= 4 ? clean + tb : "");
    free(clean);
}
