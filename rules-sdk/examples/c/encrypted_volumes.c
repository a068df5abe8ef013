/* ENCRYPTED_VOLUMES in C, with rules-sdk/include/conform.h and no libc: the same semantics as
 * the built-in Rust rule (rules/encrypted-volumes) and the WAT port (examples/wat), so the three
 * can be compared. The manifest is below, and the compiler writes it into the module. */
#include "conform.h"

CONFORM_MANIFEST({
    "abi": 1,
    "id": "C_ENCRYPTED_VOLUMES",
    "version": "1.0.0",
    "title": "Attached EBS volumes are encrypted (C)",
    "description": "ENCRYPTED_VOLUMES written in C against ABI v1, without libc.",
    "severity": "medium",
    "kind": "resource",
    "scope": {"resourceTypes": ["AWS::EC2::Volume"]},
    "parameters": {
        "type": "object",
        "properties": {"kmsId": {"type": "string"}},
        "additionalProperties": false
    }
});

static char annotation[256];

/* Appends `s` at annotation + at, within its 256 bytes; returns the new end. Written through a
 * volatile pointer so that clang does not turn the loop into a call to memcpy, which a rule
 * without libc does not have. */
static int32_t append(int32_t at, conform_str s) {
    volatile char *out = annotation;
    for (int32_t i = 0; i < s.len && at < (int32_t)sizeof annotation; i++) out[at++] = s.ptr[i];
    return at;
}

static conform_str text(const char *s) {
    conform_str t = {s, conform_strlen(s)};
    return t;
}

static int same(conform_str a, conform_str b) {
    if (a.len != b.len) return 0;
    for (int32_t i = 0; i < a.len; i++)
        if (a.ptr[i] != b.ptr[i]) return 0;
    return 1;
}

/* Whether `key` (an ARN) is the key `wanted` names: the same ARN, or `.../` and the bare id. */
static int key_matches(conform_str key, conform_str wanted) {
    if (same(key, wanted)) return 1;
    if (wanted.len + 1 > key.len || key.ptr[key.len - wanted.len - 1] != '/') return 0;
    conform_str tail = {key.ptr + key.len - wanted.len, wanted.len};
    return same(tail, wanted);
}

static int32_t evaluate(void) {
    int attached = CONFORM_LENGTH(CONFORM_ITEM, "/configuration/attachments") > 0 ||
                   conform_equals(conform_string(CONFORM_ITEM, "/configuration/state"), "in-use");
    if (!attached) {
        CONFORM_RESULT(CONFORM_NOT_APPLICABLE, "the volume is not attached to an instance");
        return 0;
    }
    if (CONFORM_BOOL(CONFORM_ITEM, "/configuration/encrypted") != 1) {
        CONFORM_RESULT(CONFORM_NON_COMPLIANT, "the volume is not encrypted");
        return 0;
    }
    conform_str wanted = conform_string(CONFORM_PARAMS, "/kmsId");
    if (wanted.len > 0) {
        conform_str key = conform_string(CONFORM_ITEM, "/configuration/kmsKeyId");
        if (!conform_present(key)) key = text("");
        if (!key_matches(key, wanted)) {
            /* As the built-in says it: "the volume is encrypted with KEY, not with WANTED". */
            int32_t at = append(0, text("the volume is encrypted with "));
            at = append(at, key);
            at = append(at, text(", not with "));
            at = append(at, wanted);
            conform_result(CONFORM_NON_COMPLIANT, annotation, at);
            return 0;
        }
    }
    CONFORM_RESULT(CONFORM_COMPLIANT, "");
    return 0;
}

CONFORM_RESOURCE_RULE(evaluate)
