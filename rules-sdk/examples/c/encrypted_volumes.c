/* ENCRYPTED_VOLUMES in C, against ABI v1 with no libc: the same semantics as the built-in Rust
 * rule (rules/encrypted-volumes) and the WAT port (examples/wat), so the three can be compared.
 * Manifest: encrypted_volumes.json, written into the module by `conform rules annotate`. */
#include "conform.h"

static char wanted[1024];
static char key[1024];
static char annotation[256];

/* Appends n bytes of s at annotation + at, within its 256 bytes; returns the new end. Written
 * through a volatile pointer so that clang does not turn the loop into a call to memcpy, which
 * a rule without libc does not have. */
static int32_t append(int32_t at, const char *s, int32_t n) {
    volatile char *out = annotation;
    for (int32_t i = 0; i < n && at < (int32_t)sizeof annotation; i++) out[at++] = s[i];
    return at;
}

static int ends_with_key(const char *s, int32_t n, const char *id, int32_t m) {
    if (m + 1 > n) return 0;
    if (s[n - m - 1] != '/') return 0;
    for (int32_t i = 0; i < m; i++)
        if (s[n - m + i] != id[i]) return 0;
    return 1;
}

static int same(const char *a, int32_t n, const char *b, int32_t m) {
    if (n != m) return 0;
    for (int32_t i = 0; i < n; i++)
        if (a[i] != b[i]) return 0;
    return 1;
}

int32_t conform_evaluate(void) {
    int attached = CONFORM_LENGTH(CONFORM_ITEM, "/configuration/attachments") > 0;
    char state[16];
    int32_t state_len = CONFORM_STRING(CONFORM_ITEM, "/configuration/state", state, sizeof state);
    if (state_len == 6 && same(state, 6, "in-use", 6)) attached = 1;
    if (!attached) {
        CONFORM_RESULT(CONFORM_NOT_APPLICABLE, "the volume is not attached to an instance");
        return 0;
    }
    if (CONFORM_BOOL(CONFORM_ITEM, "/configuration/encrypted") != 1) {
        CONFORM_RESULT(CONFORM_NON_COMPLIANT, "the volume is not encrypted");
        return 0;
    }
    int32_t m = CONFORM_STRING(CONFORM_PARAMS, "/kmsId", wanted, sizeof wanted);
    if (m > 0) {
        int32_t n = CONFORM_STRING(CONFORM_ITEM, "/configuration/kmsKeyId", key, sizeof key);
        if (n < 0) n = 0;
        if (m > (int32_t)sizeof wanted || n > (int32_t)sizeof key) return 1; /* rule error: too long */
        if (!same(key, n, wanted, m) && !ends_with_key(key, n, wanted, m)) {
            /* As the built-in says it: "the volume is encrypted with KEY, not with WANTED". */
            int32_t at = append(0, "the volume is encrypted with ", 29);
            at = append(at, key, n);
            at = append(at, ", not with ", 11);
            at = append(at, wanted, m);
            conform_result(CONFORM_NON_COMPLIANT, annotation, at);
            return 0;
        }
    }
    CONFORM_RESULT(CONFORM_COMPLIANT, "");
    return 0;
}
