//! ENCRYPTED_VOLUMES in Zig, with rules-sdk/zig/conform.zig (freestanding): the built-in's
//! semantics. The manifest is below, and the compiler writes it into the module.
const std = @import("std");
const conform = @import("conform.zig");

comptime {
    asm (conform.manifest(
        \\{
        \\    "abi": 1,
        \\    "id": "ZIG_ENCRYPTED_VOLUMES",
        \\    "version": "1.0.0",
        \\    "title": "Attached EBS volumes are encrypted (Zig)",
        \\    "description": "ENCRYPTED_VOLUMES written in Zig with rules-sdk/zig, freestanding.",
        \\    "severity": "medium",
        \\    "kind": "resource",
        \\    "scope": {
        \\        "resourceTypes": [
        \\            "AWS::EC2::Volume"
        \\        ]
        \\    },
        \\    "parameters": {
        \\        "type": "object",
        \\        "properties": {
        \\            "kmsId": {
        \\                "type": "string"
        \\            }
        \\        },
        \\        "additionalProperties": false
        \\    }
        \\}
    ));
    conform.resourceRule(evaluate);
}

var annotation_buf: [256]u8 = undefined;

/// Whether `key` (an ARN) is the key `wanted` names: the same ARN, or `.../` and the bare id.
fn keyMatches(key: []const u8, wanted: []const u8) bool {
    if (std.mem.eql(u8, key, wanted)) return true;
    return key.len > wanted.len and std.mem.endsWith(u8, key, wanted) and
        key[key.len - wanted.len - 1] == '/';
}

fn evaluate() i32 {
    const in_use = if (conform.item.string("/configuration/state")) |state|
        std.mem.eql(u8, state, "in-use")
    else
        false;
    const attached = (conform.item.len("/configuration/attachments") orelse 0) > 0 or in_use;
    if (!attached) {
        conform.report(.not_applicable, "the volume is not attached to an instance");
        return 0;
    }
    if (conform.item.boolean("/configuration/encrypted") != true) {
        conform.report(.non_compliant, "the volume is not encrypted");
        return 0;
    }
    if (conform.params.string("/kmsId")) |wanted| {
        if (wanted.len > 0) {
            const key = conform.item.string("/configuration/kmsKeyId") orelse "";
            if (!keyMatches(key, wanted)) {
                const text = std.fmt.bufPrint(&annotation_buf, "the volume is encrypted with {s}, not with {s}", .{ key, wanted }) catch annotation_buf[0..];
                conform.report(.non_compliant, text);
                return 0;
            }
        }
    }
    conform.report(.compliant, "");
    return 0;
}
