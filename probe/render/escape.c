/* Escaping for each output: untrusted bytes (server headers, certificate names, DNS names) must
 * not move a terminal's cursor, break a markdown table or make JSON invalid. */
#include <stdint.h>
#include <string.h>

#include "probe/render/render.h"

void escape_text(const char *in, char *out, size_t size)
{
    size_t o = 0;
    for (; *in && o + 1 < size; in++) {
        unsigned char ch = (unsigned char)*in;
        out[o++] = (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
    }
    out[o] = '\0';
}

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

void ellipsize(const char *in, char *out, size_t size, int width)
{
    size_t len = strlen(in);
    if (width < 8 || len <= (size_t)width) {
        escape_text(in, out, size);
        return;
    }
    size_t head = (size_t)(width - 3) / 2, tail = (size_t)width - 3 - head;
    char buf[512];
    if ((size_t)width >= sizeof buf) {
        escape_text(in, out, size);
        return;
    }
    memcpy(buf, in, head);
    memcpy(buf + head, "...", 3);
    memcpy(buf + head + 3, in + len - tail, tail);
    buf[width] = '\0';
    escape_text(buf, out, size);
}
