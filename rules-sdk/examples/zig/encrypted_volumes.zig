//! ENCRYPTED_VOLUMES in Zig, with rules-sdk/zig/conform.zig (freestanding): the built-in's
//! semantics. Manifest: encrypted_volumes.json, written in by `conform rules annotate`.
const std = @import("std");
const conform = @import("conform.zig");

var state_buf: [16]u8 = undefined;
var wanted_buf: [1024]u8 = undefined;
var key_buf: [1024]u8 = undefined;
var annotation_buf: [256]u8 = undefined;

/// Whether `key` (an ARN) is the key `wanted` names: the same ARN, or `.../` and the bare id.
fn keyMatches(key: []const u8, wanted: []const u8) bool {
    if (std.mem.eql(u8, key, wanted)) return true;
    return key.len > wanted.len and std.mem.endsWith(u8, key, wanted) and
        key[key.len - wanted.len - 1] == '/';
}

export fn conform_evaluate() i32 {
    const in_use = if (conform.item.string("/configuration/state", &state_buf)) |state|
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
    if (conform.params.string("/kmsId", &wanted_buf)) |wanted| {
        if (wanted.len > 0) {
            const key = conform.item.string("/configuration/kmsKeyId", &key_buf) orelse "";
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
