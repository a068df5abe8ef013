/* KUBERNETES_NO_PRIVILEGED_CONTAINERS in C, against ABI v1 with no libc: a pod (from
 * `kubectl get pods -A -o json`, ingested as `kubernetes:v1/Pod`) must not run a privileged
 * container, in `containers`, `initContainers` or `ephemeralContainers`. The manifest
 * is below, written into the module by the compiler. */
#include "conform.h"

CONFORM_MANIFEST({
    "abi": 1,
    "id": "KUBERNETES_NO_PRIVILEGED_CONTAINERS",
    "version": "1.0.0",
    "title": "Pods run no privileged containers",
    "description": "Checks that no container, init container or ephemeral container of a pod sets securityContext.privileged.",
    "severity": "high",
    "kind": "resource",
    "scope": {
        "resourceTypes": [
            "kubernetes:v1/Pod"
        ]
    },
    "parameters": {
        "type": "object",
        "additionalProperties": false
    }
});

/* Writes `prefix` + the decimal `n` + `suffix` into `out`; its length. Not inlined: copies of
 * known lengths would become calls to memcpy, which there is no libc to provide. */
__attribute__((noinline)) static int32_t pointer(char *out, const char *prefix, int32_t n, const char *suffix) {
    int32_t len = 0;
    for (const char *p = prefix; *p; p++) out[len++] = *p;
    char digits[12];
    int32_t d = 0;
    do { digits[d++] = (char)('0' + n % 10); n /= 10; } while (n > 0);
    while (d > 0) out[len++] = digits[--d];
    for (const char *p = suffix; *p; p++) out[len++] = *p;
    out[len] = 0;
    return len;
}

static char annotation[200];

/* The annotation "container NAME in LIST runs privileged", NAME cut to fit. */
__attribute__((noinline)) static void say_privileged(const char *list, const char *name, int32_t name_len) {
    int32_t len = 0;
    for (const char *p = "container "; *p; p++) annotation[len++] = *p;
    for (int32_t i = 0; i < name_len && i < 100; i++) annotation[len++] = name[i];
    for (const char *p = " in "; *p; p++) annotation[len++] = *p;
    for (const char *p = list; *p; p++) annotation[len++] = *p;
    for (const char *p = " runs privileged"; *p; p++) annotation[len++] = *p;
    conform_result(CONFORM_NON_COMPLIANT, annotation, len);
}

static int32_t evaluate(void) {
    /* Each list's pointer, and the prefix of its elements' pointers. */
    static const char *lists[3] = {"containers", "initContainers", "ephemeralContainers"};
    static const char *arrays[3] = {"/configuration/spec/containers", "/configuration/spec/initContainers",
                                    "/configuration/spec/ephemeralContainers"};
    static const char *elements[3] = {"/configuration/spec/containers/", "/configuration/spec/initContainers/",
                                      "/configuration/spec/ephemeralContainers/"};
    char at[128];
    for (int l = 0; l < 3; l++) {
        const char *list = elements[l];
        int32_t count = CONFORM_LENGTH(CONFORM_ITEM, arrays[l]);
        for (int32_t i = 0; i < count; i++) {
            int32_t n = pointer(at, list, i, "/securityContext/privileged");
            if (conform_get_bool(CONFORM_ITEM, at, n) == 1) {
                n = pointer(at, list, i, "/name");
                conform_str name = conform_string_n(CONFORM_ITEM, at, n);
                say_privileged(lists[l], name.ptr, name.len < 0 ? 0 : name.len);
                return 0;
            }
        }
    }
    CONFORM_RESULT(CONFORM_COMPLIANT, "");
    return 0;
}

CONFORM_RESOURCE_RULE(evaluate)
