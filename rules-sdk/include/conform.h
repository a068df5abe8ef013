/* conform rule ABI v1 for C (see rules-sdk/ABI.md, the single source of truth).
 *
 * No libc is needed: a rule reads the configuration item through these imports rather than
 * parsing JSON. Build a rule with Debian's clang and lld:
 *
 *   clang --target=wasm32 -O2 -nostdlib -I rules-sdk/include \
 *         -Wl,--no-entry -Wl,--export=conform_evaluate \
 *         -o my_rule.wasm my_rule.c
 *   conform rules annotate my_rule.wasm --manifest my_rule.json
 *
 * The second step writes the manifest section: clang 14 cannot emit a custom section itself.
 */
#ifndef CONFORM_H
#define CONFORM_H

#include <stdint.h>

#define CONFORM_ABI_VERSION 1

/* Documents (the `doc` argument). */
#define CONFORM_ITEM 0
#define CONFORM_PARAMS 1

/* Kinds returned by conform_kind. */
#define CONFORM_KIND_ABSENT 0
#define CONFORM_KIND_NULL 1
#define CONFORM_KIND_BOOL 2
#define CONFORM_KIND_NUMBER 3
#define CONFORM_KIND_STRING 4
#define CONFORM_KIND_ARRAY 5
#define CONFORM_KIND_OBJECT 6

/* Compliance codes for conform_result and conform_emit. */
#define CONFORM_COMPLIANT 1
#define CONFORM_NON_COMPLIANT 2
#define CONFORM_NOT_APPLICABLE 3

#ifdef __cplusplus
extern "C" {
#endif

#define CONFORM_IMPORT(name) __attribute__((import_module("conform"), import_name(name)))

CONFORM_IMPORT("kind") int32_t conform_kind(int32_t doc, const char *ptr, int32_t len);
CONFORM_IMPORT("get_bool") int32_t conform_get_bool(int32_t doc, const char *ptr, int32_t len);
CONFORM_IMPORT("get_number") double conform_get_number(int32_t doc, const char *ptr, int32_t len);
CONFORM_IMPORT("get_string")
int32_t conform_get_string(int32_t doc, const char *ptr, int32_t len, char *out, int32_t cap);
CONFORM_IMPORT("length") int32_t conform_length(int32_t doc, const char *ptr, int32_t len);
CONFORM_IMPORT("key_at")
int32_t conform_key_at(int32_t doc, const char *ptr, int32_t len, int32_t index, char *out, int32_t cap);
CONFORM_IMPORT("raw") int32_t conform_raw(int32_t doc, char *out, int32_t cap);
CONFORM_IMPORT("result") void conform_result(int32_t compliance, const char *ptr, int32_t len);
CONFORM_IMPORT("emit")
void conform_emit(int32_t compliance, const char *type, int32_t type_len, const char *id, int32_t id_len,
                  const char *annotation, int32_t annotation_len);
CONFORM_IMPORT("log") void conform_log(int32_t level, const char *ptr, int32_t len);
CONFORM_IMPORT("estate_account") int32_t conform_estate_account(char *out, int32_t cap);
CONFORM_IMPORT("estate_count") int32_t conform_estate_count(void);
CONFORM_IMPORT("estate_select") int32_t conform_estate_select(int32_t index);

#ifdef __cplusplus
}
#endif

/* Length of a NUL-terminated string, since there is no libc. */
static inline int32_t conform_strlen(const char *s) {
    int32_t n = 0;
    while (s[n]) n++;
    return n;
}

/* Convenience forms taking NUL-terminated pointers and annotations. */
#define CONFORM_KIND(doc, pointer) conform_kind((doc), (pointer), conform_strlen(pointer))
#define CONFORM_BOOL(doc, pointer) conform_get_bool((doc), (pointer), conform_strlen(pointer))
#define CONFORM_LENGTH(doc, pointer) conform_length((doc), (pointer), conform_strlen(pointer))
#define CONFORM_STRING(doc, pointer, out, cap) conform_get_string((doc), (pointer), conform_strlen(pointer), (out), (cap))
#define CONFORM_RESULT(compliance, annotation) conform_result((compliance), (annotation), conform_strlen(annotation))

#endif
