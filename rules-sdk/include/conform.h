/* conform rule ABI v1 for C (see rules-sdk/ABI.md, the single source of truth), and a small SDK
 * over it.
 *
 * No libc is needed: a rule reads the configuration item through these imports rather than
 * parsing JSON, declares its manifest with CONFORM_MANIFEST and its entry point with
 * CONFORM_RESOURCE_RULE (or CONFORM_ESTATE_RULE). Build a rule with Debian's clang and lld:
 *
 *   clang --target=wasm32 -O2 -nostdlib -Wl,--no-entry -I rules-sdk/include \
 *         -o my_rule.wasm my_rule.c
 *
 * The module comes out with its manifest inside; nothing else runs after the compiler.
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

/* ------------------------------------------------------------------------------------------
 * The SDK over the ABI: strings of any length, the manifest and the entry points.
 * ------------------------------------------------------------------------------------------ */

/* A string read from a document: `ptr` and `len` bytes (not NUL-terminated). An absent value is
 * `{0, -1}`; test with `conform_present`. It stays valid until the evaluation returns. */
typedef struct {
    const char *ptr;
    int32_t len;
} conform_str;

static inline int conform_present(conform_str s) { return s.len >= 0; }

/* Strings are read into an arena, which the entry-point macros rewind before each evaluation:
 * a value of any length reads whole (the ABI reports its full size, and a read that did not fit
 * is retried once where it does), and a rule's memory stays what its largest evaluation needed.
 *
 * Without libc the arena is one region at the end of memory, grown with `memory.grow` (nothing
 * else grows memory there), so a rewind reuses all of it. With wasi-libc (`__wasi__`), whose
 * malloc owns the heap, it is a list of malloc'ed blocks, merged into one at the next rewind.
 * Define CONFORM_NO_LIBC to build for wasm32-wasi with `-nostdlib`. */
#if defined(__wasi__) && !defined(CONFORM_NO_LIBC)
#include <stdlib.h>

typedef struct conform_block_ {
    struct conform_block_ *next;
    uint32_t cap;
} conform_block_;

static conform_block_ *conform_blocks_; /* newest first */
static char *conform_top_, *conform_end_;

/* Makes room for `n` more bytes at conform_top_: a new block (earlier strings stay put). */
static inline int conform_grow_(uint32_t n) {
    uint32_t cap = n < 65536u ? 65536u : n;
    conform_block_ *b = (conform_block_ *)malloc(sizeof(conform_block_) + cap);
    if (!b) return 0;
    b->next = conform_blocks_;
    b->cap = cap;
    conform_blocks_ = b;
    conform_top_ = (char *)(b + 1);
    conform_end_ = conform_top_ + cap;
    return 1;
}

/* Rewinds the arena: every string read so far is released. The entry-point macros call it. */
static inline void conform_rewind(void) {
    conform_block_ *b = conform_blocks_;
    if (!b) return;
    if (!b->next) {
        conform_top_ = (char *)(b + 1);
        return;
    }
    uint32_t total = 0;
    while (b) {
        conform_block_ *next = b->next;
        total += b->cap;
        free(b);
        b = next;
    }
    conform_blocks_ = 0;
    conform_top_ = conform_end_ = 0;
    conform_grow_(total);
}
#else
static char *conform_base_, *conform_top_, *conform_end_;

/* Makes room for `n` more bytes at conform_top_ by growing memory under the region's end; if
 * something else grew memory since (or on first use), a new region starts at the new pages. */
static inline int conform_grow_(uint32_t n) {
    uintptr_t end = (uintptr_t)__builtin_wasm_memory_size(0) * 65536u;
    int fresh = (uintptr_t)conform_end_ != end;
    uint32_t missing = fresh ? n : n - (uint32_t)(conform_end_ - conform_top_);
    uint32_t pages = missing / 65536u + 1;
    if ((int32_t)__builtin_wasm_memory_grow(0, pages) < 0) return 0;
    if (fresh) conform_base_ = conform_top_ = (char *)end;
    conform_end_ = (char *)(end + (uintptr_t)pages * 65536u);
    return 1;
}

/* Rewinds the arena: every string read so far is released. The entry-point macros call it. */
static inline void conform_rewind(void) { conform_top_ = conform_base_; }
#endif

/* `n` bytes from the arena; 0 if memory ran out. */
static inline char *conform_alloc(uint32_t n) {
    if ((uint32_t)(conform_end_ - conform_top_) < n && !conform_grow_(n)) return 0;
    char *at = conform_top_;
    conform_top_ += n;
    return at;
}

/* One read of the ABI that copies into a buffer and returns the full size (`get_string`,
 * `key_at`, `raw`, `estate_account`): what conform_read_ grows and retries. */
typedef struct {
    int32_t what, doc, index;
    const char *pointer;
    int32_t pointer_len;
} conform_read_op_;

static inline int32_t conform_read_once_(const conform_read_op_ *op, char *out, int32_t cap) {
    switch (op->what) {
    case 0: return conform_get_string(op->doc, op->pointer, op->pointer_len, out, cap);
    case 1: return conform_key_at(op->doc, op->pointer, op->pointer_len, op->index, out, cap);
    case 2: return conform_raw(op->doc, out, cap);
    default: return conform_estate_account(out, cap);
    }
}

static inline conform_str conform_read_(conform_read_op_ op) {
    conform_str none = {0, -1};
    uint32_t spare = (uint32_t)(conform_end_ - conform_top_);
    int32_t n = conform_read_once_(&op, conform_top_, (int32_t)spare);
    if (n < 0) return none;
    if ((uint32_t)n <= spare) {
        conform_str s = {conform_alloc((uint32_t)n), n};
        return s;
    }
    char *at = conform_alloc((uint32_t)n);
    if (!at || conform_read_once_(&op, at, n) != n) return none;
    conform_str s = {at, n};
    return s;
}

/* The string at the `len` bytes of `pointer` in `doc`, whole; absent if it is not a string. */
static inline conform_str conform_string_n(int32_t doc, const char *pointer, int32_t len) {
    conform_read_op_ op = {0, doc, 0, pointer, len};
    return conform_read_(op);
}

/* The string at `pointer` (NUL-terminated) in `doc`, whole; absent if it is not a string. */
static inline conform_str conform_string(int32_t doc, const char *pointer) {
    return conform_string_n(doc, pointer, conform_strlen(pointer));
}

/* The `index`-th key (sorted by code point) of the object at the `len` bytes of `pointer`;
 * absent past the end. */
static inline conform_str conform_key_n(int32_t doc, const char *pointer, int32_t len, int32_t index) {
    conform_read_op_ op = {1, doc, index, pointer, len};
    return conform_read_(op);
}

/* The `index`-th key of the object at `pointer` (NUL-terminated). */
static inline conform_str conform_key(int32_t doc, const char *pointer, int32_t index) {
    return conform_key_n(doc, pointer, conform_strlen(pointer), index);
}

/* The whole document as compact JSON, for a rule with a parser of its own. */
static inline conform_str conform_document(int32_t doc) {
    conform_read_op_ op = {2, doc, 0, 0, 0};
    return conform_read_(op);
}

/* The account an estate rule is evaluating. */
static inline conform_str conform_account(void) {
    conform_read_op_ op = {3, 0, 0, 0, 0};
    return conform_read_(op);
}

/* Whether `s` holds exactly the NUL-terminated `text`. */
static inline int conform_equals(conform_str s, const char *text) {
    int32_t i = 0;
    if (s.len < 0) return 0;
    for (; i < s.len; i++)
        if (text[i] != s.ptr[i] || !text[i]) return 0;
    return text[i] == 0;
}

/* The manifest (§2), written as JSON in the source and placed in the `conform.manifest` custom
 * section by the compiler, so the module carries it with no second build step:
 *
 *   CONFORM_MANIFEST({"abi": 1, "id": "MY_RULE", "version": "1.0.0", ...});
 *
 * The preprocessor turns the JSON into a string twice over (a C string holding an assembler
 * string), and a top-level `.section .custom_section.*` directive is how LLVM's WebAssembly
 * assembler writes a custom section: clang 14's `section` attribute makes a data segment
 * instead. JSON's own escapes (`\"`, `\n`) pass through unchanged. */
#define CONFORM_STR_(...) #__VA_ARGS__
#define CONFORM_XSTR_(...) CONFORM_STR_(__VA_ARGS__)
#define CONFORM_MANIFEST(...)                                                                      \
    __asm__(".section .custom_section.conform.manifest,\"\",@\n.ascii "                            \
            CONFORM_XSTR_(CONFORM_STR_(__VA_ARGS__)) "\n.text\n")

/* Exports `conform_evaluate` (a resource rule) calling `int32_t fn(void)`, the rule's entry
 * point, with the arena rewound: no `-Wl,--export` needed. `fn` returns 0, or an error code. */
#define CONFORM_RESOURCE_RULE(fn)                                                                  \
    CONFORM_EXTERN_C_ __attribute__((export_name("conform_evaluate"))) int32_t conform_evaluate(void) { \
        conform_rewind();                                                                          \
        return CONFORM_CALL_(fn);                                                                  \
    }

/* Exports `conform_evaluate_estate` (an estate rule, §6) calling `int32_t fn(void)`. */
#define CONFORM_ESTATE_RULE(fn)                                                                    \
    CONFORM_EXTERN_C_ __attribute__((export_name("conform_evaluate_estate"))) int32_t              \
    conform_evaluate_estate(void) {                                                                \
        conform_rewind();                                                                          \
        return CONFORM_CALL_(fn);                                                                  \
    }

#ifdef __cplusplus
#define CONFORM_EXTERN_C_ extern "C"
/* In C++ the entry point may also return void (always 0). */
namespace conform_detail_ {
inline int32_t call(void (*fn)()) { return fn(), 0; }
inline int32_t call(int32_t (*fn)()) { return fn(); }
}  // namespace conform_detail_
#define CONFORM_CALL_(fn) conform_detail_::call(fn)
#else
#define CONFORM_EXTERN_C_
#define CONFORM_CALL_(fn) fn()
#endif

#endif
