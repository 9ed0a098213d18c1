/* engine/expr_lex.c -- turns expression text into tokens (SPEC §3).
 *
 * The whole text is lexed before parsing so that every lexical error is
 * reported, each with its byte offset; a bad token becomes TK_ERROR, at which
 * the parser stops without adding a second message.
 *
 * Tokens:
 *   - whitespace: space, tab, CR, LF (as in JSON);
 *   - numbers: digits ['.' digits] [('e'|'E') ['+'|'-'] digits], or '.' digits
 *     [exponent]. No leading zeros (`007` is an error: C would read octal). A
 *     literal without '.' and exponent in the int64 range is an int; a bigger
 *     one is a double (as in the JSON edge rule); out of the double range
 *     (`1e400`) is an error. `-9223372036854775808` is INT64_MIN (the parser
 *     folds a `-` into the literal that follows it);
 *   - strings: 'single quoted', where '' stands for one quote and backslash is
 *     an ordinary character (SQL style: easy to write inside YAML); or "double
 *     quoted" with JSON escapes (\" \\ \/ \b \f \n \r \t \uXXXX with surrogate
 *     pairs). A string literal must be valid UTF-8 (value.h invariant (1));
 *   - true, false, null (lowercase; `TRUE` is a field name);
 *   - paths (path.h): a name followed by '.'name / '['digits']' with no spaces;
 *     a name followed by '(' is a function name (the parser decides);
 *   - operators + - * / % == != < <= > >= && || ! ( ) , ; a lone '=', '&' or
 *     '|' is an error that says what to write instead.
 *
 * Invariants:
 *   (1) offsets are byte offsets into the text; the token array ends with TK_END;
 *   (2) a string token's bytes live in e->text (no escapes) or e->pool. */
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/expr_internal.h"

/* ------------------------------------------------------------ numbers */

static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;
static void c_locale_init(void) { c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0); }

double expr_strtod(const char *s, size_t len) {
    char small[256]; /* longer numbers (rare) take a malloc */
    char *buf = len < sizeof small ? small : malloc(len + 1);
    if (!buf)
        return NAN;
    memcpy(buf, s, len);
    buf[len] = '\0';
    pthread_once(&c_locale_once, c_locale_init);
    double d = c_locale ? strtod_l(buf, NULL, c_locale) : strtod(buf, NULL);
    if (buf != small)
        free(buf);
    return d;
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/* Scans the number grammar at s[0..len): returns its length (0: none) and
 * whether it is integral (no '.' or exponent). */
static size_t scan_number(const char *s, size_t len, bool *integral) {
    size_t i = 0;
    *integral = true;
    while (i < len && is_digit(s[i]))
        i++;
    size_t int_digits = i;
    if (i < len && s[i] == '.') {
        size_t j = i + 1;
        while (j < len && is_digit(s[j]))
            j++;
        if (j == i + 1) /* no fraction digits */
            return 0;
        *integral = false;
        i = j;
    } else if (int_digits == 0) {
        return 0;
    }
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        size_t j = i + 1;
        if (j < len && (s[j] == '+' || s[j] == '-'))
            j++;
        size_t d = j;
        while (j < len && is_digit(s[j]))
            j++;
        if (j == d)
            return 0;
        *integral = false;
        i = j;
    }
    return i;
}

/* int64 from a run of digits; false on overflow. */
static bool digits_to_int64(const char *s, size_t len, bool negative, int64_t *out) {
    uint64_t limit = negative ? (uint64_t)INT64_MAX + 1u : (uint64_t)INT64_MAX;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (limit - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = negative ? (int64_t)(0 - v) : (int64_t)v;
    return true;
}

bool expr_parse_number(const char *s, size_t len, weir_value *out) {
    while (len && (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')) {
        s++;
        len--;
    }
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\r' ||
                   s[len - 1] == '\n'))
        len--;
    bool negative = false;
    size_t i = 0;
    if (i < len && (s[i] == '+' || s[i] == '-')) {
        negative = s[i] == '-';
        i++;
    }
    bool integral;
    size_t n = scan_number(s + i, len - i, &integral);
    if (n == 0 || i + n != len)
        return false;
    if (integral) {
        int64_t v;
        if (digits_to_int64(s + i, n, negative, &v)) {
            *out = weir_value_int(v);
            return true;
        }
    }
    double d = expr_strtod(s, len);
    if (!isfinite(d))
        return false;
    *out = weir_value_double(d);
    return true;
}

/* ------------------------------------------------------------ strings */

/* UTF-8 validity (no overlongs, no surrogates, <= U+10FFFF). */
static bool utf8_valid(const unsigned char *s, size_t len) {
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        unsigned min_second = 0x80, max_second = 0xBF;
        if (c >= 0xC2 && c <= 0xDF)
            n = 1;
        else if (c >= 0xE0 && c <= 0xEF) {
            n = 2;
            if (c == 0xE0)
                min_second = 0xA0;
            if (c == 0xED)
                max_second = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 3;
            if (c == 0xF0)
                min_second = 0x90;
            if (c == 0xF4)
                max_second = 0x8F;
        } else
            return false;
        if (len - i <= n)
            return false;
        if (s[i + 1] < min_second || s[i + 1] > max_second)
            return false;
        for (size_t k = 2; k <= n; k++)
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
        i += n + 1;
    }
    return true;
}

static int hex4(const char *s) {
    int v = 0;
    for (int k = 0; k < 4; k++) {
        char c = s[k];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= c - '0';
        else if (c >= 'a' && c <= 'f')
            v |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            v |= c - 'A' + 10;
        else
            return -1;
    }
    return v;
}

static size_t put_utf8(char *o, unsigned cp) {
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* ------------------------------------------------------------ the lexer */

typedef struct lexer {
    weir_expr *e;
    const char *s;        /* e->text */
    size_t len;
    expr_token *toks;     /* owned until returned */
    size_t n, cap;
    size_t n_errors;
    weir_expr_diag_fn on_error;
    void *ctx;
} lexer;

static void lex_error(lexer *lx, size_t offset, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void lex_error(lexer *lx, size_t offset, const char *fmt, ...) {
    lx->n_errors++;
    if (!lx->on_error)
        return;
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    lx->on_error(lx->ctx, offset, msg);
}

static expr_token *push(lexer *lx, uint8_t kind, size_t offset, size_t len) {
    if (lx->n == lx->cap) {
        size_t cap = lx->cap ? lx->cap * 2 : 16;
        expr_token *t = realloc(lx->toks, cap * sizeof *t);
        if (!t) {
            fprintf(stderr, "weir: out of memory (expression tokens)\n");
            abort(); /* like the arena: compile-time allocation does not fail */
        }
        lx->toks = t;
        lx->cap = cap;
    }
    expr_token *t = &lx->toks[lx->n++];
    memset(t, 0, sizeof *t);
    t->kind = kind;
    t->offset = (uint32_t)offset;
    t->len = (uint32_t)len;
    return t;
}

static void add_path(weir_expr *e, weir_path *p) {
    if (e->n_paths == e->cap_paths) {
        uint32_t cap = e->cap_paths ? e->cap_paths * 2 : 4;
        weir_path **a = realloc(e->paths, cap * sizeof *a);
        if (!a) {
            fprintf(stderr, "weir: out of memory (expression paths)\n");
            abort();
        }
        e->paths = a;
        e->cap_paths = cap;
    }
    e->paths[e->n_paths++] = p;
}

static size_t lex_number(lexer *lx, size_t i) {
    const char *s = lx->s;
    bool integral;
    size_t n = scan_number(s + i, lx->len - i, &integral);
    size_t end = i + n;
    /* A number runs into letters, digits, '.', '_': `1abc`, `1.2.3`, `1e`. */
    size_t bad_end = n ? end : i;
    while (bad_end < lx->len && (is_digit(s[bad_end]) || s[bad_end] == '.' || s[bad_end] == '_' ||
                                 (s[bad_end] >= 'a' && s[bad_end] <= 'z') ||
                                 (s[bad_end] >= 'A' && s[bad_end] <= 'Z')))
        bad_end++;
    if (n == 0 || bad_end != end) {
        lex_error(lx, i, "invalid number '%.*s'", (int)(bad_end - i > 40 ? 40 : bad_end - i),
                  s + i);
        push(lx, TK_ERROR, i, bad_end - i);
        return bad_end;
    }
    if (s[i] == '0' && n > 1 && is_digit(s[i + 1])) {
        lex_error(lx, i, "invalid number '%.*s': leading zeros are not allowed",
                  (int)(n > 40 ? 40 : n), s + i);
        push(lx, TK_ERROR, i, n);
        return end;
    }
    if (integral) {
        int64_t v;
        if (digits_to_int64(s + i, n, false, &v)) {
            expr_token *t = push(lx, TK_INT, i, n);
            t->v = weir_value_int(v);
            return end;
        }
    }
    double d = expr_strtod(s + i, n);
    if (!isfinite(d)) {
        lex_error(lx, i, "number out of range '%.*s'", (int)(n > 40 ? 40 : n), s + i);
        push(lx, TK_ERROR, i, n);
        return end;
    }
    expr_token *t = push(lx, TK_DOUBLE, i, n);
    t->v = weir_value_double(d);
    t->int64_min_magnitude = integral && n == 19 && memcmp(s + i, "9223372036854775808", 19) == 0;
    return end;
}

static size_t lex_single_quoted(lexer *lx, size_t i) {
    const char *s = lx->s;
    size_t j = i + 1, quotes = 0;
    for (;;) {
        if (j >= lx->len) {
            lex_error(lx, i, "unterminated string");
            push(lx, TK_ERROR, i, lx->len - i);
            return lx->len;
        }
        if (s[j] == '\'') {
            if (j + 1 < lx->len && s[j + 1] == '\'') {
                quotes++;
                j += 2;
                continue;
            }
            break;
        }
        j++;
    }
    size_t raw = j - (i + 1);
    const char *bytes = s + i + 1;
    size_t out_len = raw;
    if (quotes) {
        char *o = weir_arena_alloc(&lx->e->pool, raw - quotes);
        size_t k = 0;
        for (size_t p = 0; p < raw; p++) {
            o[k++] = bytes[p];
            if (bytes[p] == '\'')
                p++; /* skip the second quote of '' */
        }
        bytes = o;
        out_len = k;
    }
    if (!utf8_valid((const unsigned char *)bytes, out_len)) {
        lex_error(lx, i, "invalid UTF-8 in string literal");
        push(lx, TK_ERROR, i, j + 1 - i);
        return j + 1;
    }
    expr_token *t = push(lx, TK_STRING, i, j + 1 - i);
    t->v = weir_value_string(bytes, (uint32_t)out_len);
    return j + 1;
}

static size_t lex_double_quoted(lexer *lx, size_t i) {
    const char *s = lx->s;
    size_t j = i + 1;
    bool escapes = false;
    while (j < lx->len && s[j] != '"') {
        if (s[j] == '\\') {
            escapes = true;
            j++;
        }
        j++;
    }
    if (j >= lx->len) {
        lex_error(lx, i, "unterminated string");
        push(lx, TK_ERROR, i, lx->len - i);
        return lx->len;
    }
    size_t end = j + 1;
    const char *bytes = s + i + 1;
    size_t out_len = j - (i + 1);
    if (escapes) {
        char *o = weir_arena_alloc(&lx->e->pool, out_len); /* unescaping never grows */
        size_t k = 0;
        for (size_t p = i + 1; p < j; p++) {
            if (s[p] != '\\') {
                o[k++] = s[p];
                continue;
            }
            size_t esc = p++;
            switch (s[p]) {
            case '"': o[k++] = '"'; break;
            case '\\': o[k++] = '\\'; break;
            case '/': o[k++] = '/'; break;
            case 'b': o[k++] = '\b'; break;
            case 'f': o[k++] = '\f'; break;
            case 'n': o[k++] = '\n'; break;
            case 'r': o[k++] = '\r'; break;
            case 't': o[k++] = '\t'; break;
            case 'u': {
                int hi = p + 4 < j ? hex4(s + p + 1) : -1;
                if (hi < 0) {
                    lex_error(lx, esc, "invalid \\u escape in string literal");
                    push(lx, TK_ERROR, i, end - i);
                    return end;
                }
                p += 4;
                unsigned cp = (unsigned)hi;
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    int lo = (p + 6 < j && s[p + 1] == '\\' && s[p + 2] == 'u') ? hex4(s + p + 3) : -1;
                    if (lo < 0xDC00 || lo > 0xDFFF) {
                        lex_error(lx, esc, "lone surrogate in string literal");
                        push(lx, TK_ERROR, i, end - i);
                        return end;
                    }
                    cp = 0x10000 + ((cp - 0xD800) << 10) + ((unsigned)lo - 0xDC00);
                    p += 6;
                } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                    lex_error(lx, esc, "lone surrogate in string literal");
                    push(lx, TK_ERROR, i, end - i);
                    return end;
                }
                k += put_utf8(o + k, cp);
                break;
            }
            default:
                lex_error(lx, esc, "invalid escape '\\%c' in string literal",
                          s[p] >= 0x20 && s[p] < 0x7f ? s[p] : '?');
                push(lx, TK_ERROR, i, end - i);
                return end;
            }
        }
        bytes = o;
        out_len = k;
    }
    if (!utf8_valid((const unsigned char *)bytes, out_len)) {
        lex_error(lx, i, "invalid UTF-8 in string literal");
        push(lx, TK_ERROR, i, end - i);
        return end;
    }
    expr_token *t = push(lx, TK_STRING, i, end - i);
    t->v = weir_value_string(bytes, (uint32_t)out_len);
    return end;
}

static size_t lex_word(lexer *lx, size_t i) {
    const char *s = lx->s;
    size_t consumed = 0, err_off = 0;
    weir_error err;
    weir_path *p = weir_path_compile_prefix(s + i, lx->len - i, &consumed, &err_off, &err);
    if (!p) {
        /* err.msg is "invalid field path: <why> at offset N" relative to i. */
        const char *why = strstr(err.msg, ": ");
        char reason[sizeof err.msg];
        snprintf(reason, sizeof reason, "%s", why ? why + 2 : err.msg);
        char *at = strstr(reason, " at offset ");
        if (at)
            *at = '\0';
        lex_error(lx, i + err_off, "invalid field path: %s", reason);
        /* Skip the rest of the path-like run so one mistake is one message. */
        size_t end = i + 1;
        while (end < lx->len && (is_digit(s[end]) || s[end] == '.' || s[end] == '[' ||
                                 s[end] == ']' || s[end] == '_' ||
                                 (s[end] >= 'a' && s[end] <= 'z') ||
                                 (s[end] >= 'A' && s[end] <= 'Z')))
            end++;
        push(lx, TK_ERROR, i, end - i);
        return end;
    }
    static const struct { const char *word; uint8_t kind; } keywords[] = {
        {"true", TK_TRUE}, {"false", TK_FALSE}, {"null", TK_NULL},
    };
    for (size_t k = 0; k < sizeof keywords / sizeof keywords[0]; k++) {
        size_t wl = strlen(keywords[k].word);
        if (consumed == wl && memcmp(s + i, keywords[k].word, wl) == 0) {
            weir_path_free(p);
            push(lx, keywords[k].kind, i, wl);
            return i + wl;
        }
    }
    add_path(lx->e, p);
    expr_token *t = push(lx, TK_PATH, i, consumed);
    t->path = p;
    return i + consumed;
}

size_t expr_lex(weir_expr *e, expr_token **toks, size_t *n_toks, weir_expr_diag_fn on_error,
                void *ctx) {
    lexer lx = {.e = e, .s = e->text, .len = e->text_len, .on_error = on_error, .ctx = ctx};
    const char *s = e->text;
    size_t i = 0;
    while (i < lx.len) {
        char c = s[i];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            i++;
            continue;
        }
        if (is_digit(c) || (c == '.' && i + 1 < lx.len && is_digit(s[i + 1]))) {
            i = lex_number(&lx, i);
            continue;
        }
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_') {
            i = lex_word(&lx, i);
            continue;
        }
        if (c == '\'') {
            i = lex_single_quoted(&lx, i);
            continue;
        }
        if (c == '"') {
            i = lex_double_quoted(&lx, i);
            continue;
        }
        char next = i + 1 < lx.len ? s[i + 1] : '\0';
        uint8_t kind = TK_ERROR;
        size_t n = 1;
        switch (c) {
        case '(': kind = TK_LPAREN; break;
        case ')': kind = TK_RPAREN; break;
        case ',': kind = TK_COMMA; break;
        case '+': kind = TK_PLUS; break;
        case '-': kind = TK_MINUS; break;
        case '*': kind = TK_STAR; break;
        case '/': kind = TK_SLASH; break;
        case '%': kind = TK_PERCENT; break;
        case '<': kind = next == '=' ? TK_LE : TK_LT; n = next == '=' ? 2 : 1; break;
        case '>': kind = next == '=' ? TK_GE : TK_GT; n = next == '=' ? 2 : 1; break;
        case '!': kind = next == '=' ? TK_NE : TK_NOT; n = next == '=' ? 2 : 1; break;
        case '=':
            if (next == '=') {
                kind = TK_EQ;
                n = 2;
            } else {
                lex_error(&lx, i, "unexpected '=': use '==' to compare");
            }
            break;
        case '&':
            if (next == '&') {
                kind = TK_AND;
                n = 2;
            } else {
                lex_error(&lx, i, "unexpected '&': use '&&' for logical and");
            }
            break;
        case '|':
            if (next == '|') {
                kind = TK_OR;
                n = 2;
            } else {
                lex_error(&lx, i, "unexpected '|': use '||' for logical or");
            }
            break;
        default:
            if (c >= 0x20 && c < 0x7f) {
                lex_error(&lx, i, "unexpected character '%c'", c);
            } else if ((unsigned char)c >= 0x80) {
                /* One message per character, not per byte. */
                while (n < 4 && i + n < lx.len && ((unsigned char)s[i + n] & 0xC0) == 0x80)
                    n++;
                lex_error(&lx, i, "unexpected non-ASCII character (only strings may hold them)");
            } else {
                lex_error(&lx, i, "unexpected control byte 0x%02x", (unsigned)(unsigned char)c);
            }
            break;
        }
        push(&lx, kind, i, n);
        i += n;
    }
    push(&lx, TK_END, lx.len, 0);
    *toks = lx.toks;
    *n_toks = lx.n;
    return lx.n_errors;
}
