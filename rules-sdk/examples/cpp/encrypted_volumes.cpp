// ENCRYPTED_VOLUMES in C++, with rules-sdk/cpp/conform.hpp (no libc, no C++ library): the
// built-in's semantics. Manifest: encrypted_volumes.json, written in by `conform rules annotate`.
#include "conform.hpp"

using namespace conform;

// Whether `key` (an ARN) is the key `wanted` names: the same ARN, or `.../` and the bare id.
static bool key_matches(Str key, Str wanted) {
    if (key == wanted) return true;
    return key.len > wanted.len && key.ends_with(wanted) && key.data[key.len - wanted.len - 1] == '/';
}

static Text<1024> wanted_buf, key_buf, state_buf;
static Text<256> annotation;

static void evaluate() {
    Str state;
    bool attached = item.length("/configuration/attachments") > 0 ||
                    (item.string("/configuration/state", state_buf, state) && state == "in-use");
    if (!attached) return result(Compliance::NotApplicable, "the volume is not attached to an instance");
    if (item.boolean("/configuration/encrypted") != 1)
        return result(Compliance::NonCompliant, "the volume is not encrypted");
    Str wanted, key;
    if (params.string("/kmsId", wanted_buf, wanted) && !wanted.empty()) {
        if (!item.string("/configuration/kmsKeyId", key_buf, key)) key = Str();
        if (!key_matches(key, wanted)) {
            annotation.len = 0;
            annotation << "the volume is encrypted with " << key << ", not with " << wanted;
            return result(Compliance::NonCompliant, annotation.str());
        }
    }
    result(Compliance::Compliant);
}

CONFORM_RESOURCE_RULE(evaluate)
