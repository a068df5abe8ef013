// conform's rule SDK for C++, over ABI v1 (rules-sdk/ABI.md) with no libc and no C++ library:
// `clang++ --target=wasm32 -O2 -std=c++17 -nostdlib -fno-exceptions -fno-rtti -Wl,--no-entry`.
// It hides the ABI's pointers, lengths and output buffers behind `conform::item` and
// `conform::params`: strings of any length read whole into conform.h's arena (grown and retried
// as the ABI needs, rewound before each evaluation). Declare the manifest with
// `CONFORM_MANIFEST({...})` and the entry point with `CONFORM_RESOURCE_RULE(fn)`, both from
// conform.h; the compiler writes the manifest into the module.
#pragma once

#include "conform.h"

namespace conform {

enum class Compliance : int32_t { Compliant = 1, NonCompliant = 2, NotApplicable = 3 };

/// A view of bytes: a string read from a document, or a literal. A value a document does not
/// have is the default `Str()`, which is not `present()`; an empty string is.
struct Str {
    const char *data = nullptr;
    int32_t len = 0;

    constexpr Str() = default;
    constexpr Str(const char *d, int32_t n) : data(d), len(n) {}
    Str(const char *literal) : data(literal), len(conform_strlen(literal)) {}

    bool operator==(Str other) const {
        if (len != other.len) return false;
        for (int32_t i = 0; i < len; i++)
            if (data[i] != other.data[i]) return false;
        return true;
    }
    bool empty() const { return len == 0; }
    bool present() const { return data != nullptr; }
    bool ends_with(Str tail) const {
        return tail.len <= len && Str(data + len - tail.len, tail.len) == tail;
    }
};

/// A string buffer of `N` bytes that an annotation is built in.
template <int32_t N> struct Text {
    char data[N];
    int32_t len = 0;
    Text &operator<<(Str s) {
        // Written through a volatile pointer so that clang does not call memcpy (no libc).
        volatile char *out = data;
        for (int32_t i = 0; i < s.len && len < N; i++) out[len++] = s.data[i];
        return *this;
    }
    Str str() const { return Str(data, len); }
};

/// One of the two documents a rule reads (ABI §4): the item, or the parameters.
class Document {
    int32_t doc_;

  public:
    constexpr explicit Document(int32_t doc) : doc_(doc) {}

    /// The length of the array or object at `pointer`; -1 if there is none.
    int32_t length(Str pointer) const { return conform_length(doc_, pointer.data, pointer.len); }
    /// 1 true, 0 false, -1 not a boolean.
    int32_t boolean(Str pointer) const { return conform_get_bool(doc_, pointer.data, pointer.len); }
    /// The string at `pointer`, whole; `Str()` (not `present()`) if there is none. It stays
    /// valid until the evaluation returns.
    Str string(Str pointer) const { return from(conform_string_n(doc_, pointer.data, pointer.len)); }
    /// The `index`-th key (sorted by code point) of the object at `pointer`; `Str()` past the end.
    Str key(Str pointer, int32_t index) const {
        return from(conform_key_n(doc_, pointer.data, pointer.len, index));
    }
    /// The whole document as compact JSON.
    Str raw() const { return from(conform_document(doc_)); }

  private:
    static Str from(conform_str s) { return s.len < 0 ? Str() : Str(s.ptr, s.len); }
};

inline constexpr Document item{CONFORM_ITEM};
inline constexpr Document params{CONFORM_PARAMS};

/// Reports the current item's evaluation (once per call of the rule).
inline void result(Compliance c, Str annotation = Str()) {
    conform_result(static_cast<int32_t>(c), annotation.data, annotation.len);
}

}  // namespace conform
