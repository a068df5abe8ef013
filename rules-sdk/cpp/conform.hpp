// conform's rule SDK for C++, over ABI v1 (rules-sdk/ABI.md) with no libc and no C++ library:
// `clang++ --target=wasm32 -O2 -nostdlib -fno-exceptions -fno-rtti`. It hides the ABI's
// pointers, lengths and output buffers behind `conform::item` and `conform::params`; strings
// are read into fixed buffers, with the ABI's size check (a value longer than the buffer is
// reported as too long, never cut silently).
#pragma once

#include "conform.h"

namespace conform {

enum class Compliance : int32_t { Compliant = 1, NonCompliant = 2, NotApplicable = 3 };

/// A view of bytes: a string read from a document, or a literal.
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
    /// Reads the string at `pointer` into `buffer`: false if there is none, or if it is longer
    /// than the buffer.
    template <int32_t N> bool string(Str pointer, Text<N> &buffer, Str &out) const {
        int32_t n = conform_get_string(doc_, pointer.data, pointer.len, buffer.data, N);
        if (n < 0 || n > N) return false;
        buffer.len = n;
        out = buffer.str();
        return true;
    }
};

inline constexpr Document item{CONFORM_ITEM};
inline constexpr Document params{CONFORM_PARAMS};

/// Reports the current item's evaluation (once per call of the rule).
inline void result(Compliance c, Str annotation = Str()) {
    conform_result(static_cast<int32_t>(c), annotation.data, annotation.len);
}

}  // namespace conform

/// Exports `conform_evaluate`, calling `fn()`: the rule's entry point.
#define CONFORM_RESOURCE_RULE(fn)                                                        \
    extern "C" __attribute__((export_name("conform_evaluate"))) int32_t conform_evaluate() { \
        fn();                                                                            \
        return 0;                                                                        \
    }
