//! conform's rule SDK for Zig, over ABI v1 (rules-sdk/ABI.md), freestanding:
//! `zig build-exe RULE.zig -target wasm32-freestanding -fno-entry -rdynamic -O ReleaseSmall`.
//! It hides the ABI's pointers, lengths and output buffers: documents are read by JSON Pointer
//! into slices, strings into a buffer the rule gives (a value longer than it reads as absent,
//! never cut). Zig writes no custom section, so the manifest is added by
//! `conform rules annotate`.

pub const Compliance = enum(i32) { compliant = 1, non_compliant = 2, not_applicable = 3 };

extern "conform" fn length(doc: i32, ptr: [*]const u8, len: i32) i32;
extern "conform" fn get_bool(doc: i32, ptr: [*]const u8, len: i32) i32;
extern "conform" fn get_string(doc: i32, ptr: [*]const u8, len: i32, out: [*]u8, cap: i32) i32;
extern "conform" fn result(compliance: i32, ptr: [*]const u8, len: i32) void;
extern "conform" fn log(level: i32, ptr: [*]const u8, len: i32) void;

/// One of the two documents a rule reads: the item, or its parameters.
pub const Document = struct {
    doc: i32,

    /// The length of the array or object at `pointer`, if there is one.
    pub fn len(self: Document, pointer: []const u8) ?usize {
        const n = length(self.doc, pointer.ptr, @intCast(pointer.len));
        return if (n < 0) null else @intCast(n);
    }

    /// The boolean at `pointer`, if it is one.
    pub fn boolean(self: Document, pointer: []const u8) ?bool {
        return switch (get_bool(self.doc, pointer.ptr, @intCast(pointer.len))) {
            0 => false,
            1 => true,
            else => null,
        };
    }

    /// The string at `pointer`, read into `buf`: null if there is none or it is longer.
    pub fn string(self: Document, pointer: []const u8, buf: []u8) ?[]const u8 {
        const n = get_string(self.doc, pointer.ptr, @intCast(pointer.len), buf.ptr, @intCast(buf.len));
        if (n < 0 or @as(usize, @intCast(n)) > buf.len) return null;
        return buf[0..@intCast(n)];
    }
};

pub const item = Document{ .doc = 0 };
pub const params = Document{ .doc = 1 };

/// Reports the current item's evaluation: once per call of the rule.
pub fn report(compliance: Compliance, annotation: []const u8) void {
    result(@intFromEnum(compliance), annotation.ptr, @intCast(annotation.len));
}

/// A line of the rule's log (0 error … 4 trace).
pub fn logLine(level: i32, text: []const u8) void {
    log(level, text.ptr, @intCast(text.len));
}
