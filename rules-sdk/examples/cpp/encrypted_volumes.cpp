// ENCRYPTED_VOLUMES in C++, with rules-sdk/cpp/conform.hpp (no libc, no C++ library): the
// built-in's semantics. The manifest is below, and the compiler writes it into the module.
#include "conform.hpp"

using namespace conform;

CONFORM_MANIFEST({
    "abi": 1,
    "id": "CPP_ENCRYPTED_VOLUMES",
    "version": "1.0.0",
    "title": "Attached EBS volumes are encrypted (C++)",
    "description": "ENCRYPTED_VOLUMES written in C++ with conform.hpp, without libc.",
    "severity": "medium",
    "kind": "resource",
    "scope": {"resourceTypes": ["AWS::EC2::Volume"]},
    "parameters": {
        "type": "object",
        "properties": {"kmsId": {"type": "string"}},
        "additionalProperties": false
    }
});

// Whether `key` (an ARN) is the key `wanted` names: the same ARN, or `.../` and the bare id.
static bool key_matches(Str key, Str wanted) {
    if (key == wanted) return true;
    return key.len > wanted.len && key.ends_with(wanted) && key.data[key.len - wanted.len - 1] == '/';
}

static Text<256> annotation;

static void evaluate() {
    bool attached = item.length("/configuration/attachments") > 0 ||
                    item.string("/configuration/state") == "in-use";
    if (!attached) return result(Compliance::NotApplicable, "the volume is not attached to an instance");
    if (item.boolean("/configuration/encrypted") != 1)
        return result(Compliance::NonCompliant, "the volume is not encrypted");
    Str wanted = params.string("/kmsId");
    if (!wanted.empty()) {
        Str key = item.string("/configuration/kmsKeyId");
        if (!key_matches(key, wanted)) {
            annotation.len = 0;
            annotation << "the volume is encrypted with " << key << ", not with " << wanted;
            return result(Compliance::NonCompliant, annotation.str());
        }
    }
    result(Compliance::Compliant);
}

CONFORM_RESOURCE_RULE(evaluate)
