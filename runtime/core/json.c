/* json.c: the JSON reader of the safetensors header (see cnn_json.h). */
#include "cnn_json.h"
#include "cnn_util.h"

#include <stdlib.h>
#include <string.h>

void cnn_json_ws(cnn_json *p)
{
    while (p->s < p->end && (*p->s == ' ' || *p->s == '\t' || *p->s == '\n' || *p->s == '\r'))
        p->s++;
}

int cnn_json_expect(cnn_json *p, char c)
{
    cnn_json_ws(p);
    if (p->s < p->end && *p->s == c) {
        p->s++;
        return 1;
    }
    if (!p->why)
        p->why = "malformed JSON header";
    return 0;
}

int cnn_json_peek(cnn_json *p, char c)
{
    cnn_json_ws(p);
    return p->s < p->end && *p->s == c;
}

static void put_utf8(cnn_strbuf *b, unsigned long cp)
{
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xc0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xe0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        u[2] = (char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        u[0] = (char)(0xf0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        u[3] = (char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    cnn_sb_put(b, u, n);
}

static int hex4(const char *s, unsigned long *v)
{
    *v = 0;
    for (int k = 0; k < 4; k++) {
        char c = s[k];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0)
            return 0;
        *v = *v * 16 + (unsigned long)d;
    }
    return 1;
}

char *cnn_json_string(cnn_json *p, const char **raw_start)
{
    if (!cnn_json_expect(p, '"'))
        return NULL;
    if (raw_start)
        *raw_start = p->s;
    cnn_strbuf b = {0};
    cnn_sb_put(&b, "", 0);
    while (p->s < p->end && *p->s != '"') {
        char c = *p->s++;
        if (c != '\\') {
            cnn_sb_put(&b, &c, 1);
            continue;
        }
        if (p->s >= p->end)
            break;
        c = *p->s++;
        switch (c) {
        case '"': case '\\': case '/': cnn_sb_put(&b, &c, 1); break;
        case 'b': cnn_sb_put(&b, "\b", 1); break;
        case 'f': cnn_sb_put(&b, "\f", 1); break;
        case 'n': cnn_sb_put(&b, "\n", 1); break;
        case 'r': cnn_sb_put(&b, "\r", 1); break;
        case 't': cnn_sb_put(&b, "\t", 1); break;
        case 'u': {
            unsigned long cp, lo;
            if (p->end - p->s < 4 || !hex4(p->s, &cp))
                goto bad;
            p->s += 4;
            if (cp >= 0xd800 && cp < 0xdc00 && p->end - p->s >= 6 && p->s[0] == '\\' &&
                p->s[1] == 'u' && hex4(p->s + 2, &lo) && lo >= 0xdc00 && lo < 0xe000) {
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                p->s += 6;
            }
            put_utf8(&b, cp);
            break;
        }
        default:
            goto bad;
        }
    }
    if (p->s >= p->end || b.oom)
        goto bad;
    p->s++;
    return b.s;
bad:
    free(b.s);
    if (!p->why)
        p->why = "malformed string in the JSON header";
    return NULL;
}

int cnn_json_int(cnn_json *p, int64_t *v)
{
    cnn_json_ws(p);
    int64_t x = 0;
    int digits = 0;
    while (p->s < p->end && *p->s >= '0' && *p->s <= '9') {
        if (x > (INT64_MAX - 9) / 10) {
            p->why = "number too large in the JSON header";
            return 0;
        }
        x = x * 10 + (*p->s++ - '0');
        digits++;
    }
    if (!digits) {
        if (!p->why)
            p->why = "expected a non-negative integer in the JSON header";
        return 0;
    }
    *v = x;
    return 1;
}

int cnn_json_skip(cnn_json *p, int depth)
{
    cnn_json_ws(p);
    if (depth > 32 || p->s >= p->end)
        return 0;
    char c = *p->s;
    if (c == '"') {
        char *s = cnn_json_string(p, NULL);
        free(s);
        return s != NULL;
    }
    if (c == '{' || c == '[') {
        char close = c == '{' ? '}' : ']';
        p->s++;
        if (cnn_json_peek(p, close)) {
            p->s++;
            return 1;
        }
        for (;;) {
            if (c == '{') {
                char *k = cnn_json_string(p, NULL);
                free(k);
                if (!k || !cnn_json_expect(p, ':'))
                    return 0;
            }
            if (!cnn_json_skip(p, depth + 1))
                return 0;
            if (cnn_json_peek(p, ',')) {
                p->s++;
                continue;
            }
            return cnn_json_expect(p, close);
        }
    }
    /* numbers, true, false, null */
    const char *start = p->s;
    while (p->s < p->end && strchr("+-.0123456789eEtruefalsn", *p->s))
        p->s++;
    return p->s > start;
}
