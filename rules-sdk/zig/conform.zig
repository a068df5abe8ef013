//! conform's rule SDK for Zig, over ABI v1 (rules-sdk/ABI.md), freestanding:
//! `zig build-exe RULE.zig -target wasm32-freestanding -fno-entry -rdynamic -O ReleaseSmall`.
//! It hides the ABI's pointers, lengths and output buffers: documents are read by JSON Pointer
//! into slices, strings of any length whole (grown and retried as the ABI needs) into an arena
//! that is rewound before each evaluation. A rule declares its manifest with `manifest` and its
//! entry point with `resourceRule`, and the compiler writes both into the module:
//!
//!     comptime {
//!         asm (conform.manifest(
//!             \\{"abi": 1, "id": "MY_RULE", ...}
//!         ));
//!         conform.resourceRule(evaluate);
//!     }
const std = @import("std");

pub const Compliance = enum(i32) { compliant = 1, non_compliant = 2, not_applicable = 3 };

extern "conform" fn length(doc: i32, ptr: [*]const u8, len: i32) i32;
extern "conform" fn get_bool(doc: i32, ptr: [*]const u8, len: i32) i32;
extern "conform" fn get_string(doc: i32, ptr: [*]const u8, len: i32, out: [*]u8, cap: i32) i32;
extern "conform" fn key_at(doc: i32, ptr: [*]const u8, len: i32, index: i32, out: [*]u8, cap: i32) i32;
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

    /// The string at `pointer`, whole: null if there is none. It stays valid until the
    /// evaluation returns.
    pub fn string(self: Document, pointer: []const u8) ?[]const u8 {
        const Read = struct {
            fn once(doc: i32, p: []const u8, _: i32, out: []u8) i32 {
                return get_string(doc, p.ptr, @intCast(p.len), out.ptr, @intCast(out.len));
            }
        };
        return readWhole(Read.once, self.doc, pointer, 0);
    }

    /// The `index`-th key (sorted by code point) of the object at `pointer`; null past the end.
    pub fn key(self: Document, pointer: []const u8, index: usize) ?[]const u8 {
        const Read = struct {
            fn once(doc: i32, p: []const u8, i: i32, out: []u8) i32 {
                return key_at(doc, p.ptr, @intCast(p.len), i, out.ptr, @intCast(out.len));
            }
        };
        return readWhole(Read.once, self.doc, pointer, @intCast(index));
    }
};

/// Where strings are read: an arena over the wasm page allocator, rewound (keeping its memory)
/// before each evaluation, so a rule's memory stays what its largest evaluation needed.
var arena = std.heap.ArenaAllocator.init(std.heap.wasm_allocator);

/// Releases every string read so far; `resourceRule`'s entry point calls it.
pub fn rewind() void {
    _ = arena.reset(.retain_capacity);
}

/// An ABI read that copies into `out` and returns the value's full size: tried with a small
/// buffer, and once more with one of that size when the value did not fit.
fn readWhole(
    comptime once: fn (i32, []const u8, i32, []u8) i32,
    doc: i32,
    pointer: []const u8,
    index: i32,
) ?[]const u8 {
    const a = arena.allocator();
    const guess = a.alloc(u8, 256) catch return null;
    const n = once(doc, pointer, index, guess);
    if (n < 0) return null;
    const len: usize = @intCast(n);
    if (len <= guess.len) return guess[0..len];
    a.free(guess);
    const whole = a.alloc(u8, len) catch return null;
    if (once(doc, pointer, index, whole) != n) return null;
    return whole;
}

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

/// The assembly that puts `json`, the rule's manifest (ABI §2), in the module's
/// `conform.manifest` custom section: `comptime { asm (conform.manifest(...)); }`. A top-level
/// `.section .custom_section.*` is how LLVM's WebAssembly assembler writes a custom section.
pub fn manifest(comptime json: []const u8) []const u8 {
    comptime var escaped: []const u8 = "";
    inline for (json) |c| {
        escaped = escaped ++ switch (c) {
            '"' => "\\\"",
            '\\' => "\\\\",
            '\n' => "\\n",
            else => &[_]u8{c},
        };
    }
    return ".section .custom_section.conform.manifest,\"\",@\n.ascii \"" ++ escaped ++ "\"\n.text\n";
}

/// Exports `conform_evaluate`, calling `f` (0, or the rule's error code) with the arena
/// rewound: `comptime { conform.resourceRule(evaluate); }`.
pub fn resourceRule(comptime f: fn () i32) void {
    const Entry = struct {
        fn evaluate() callconv(.c) i32 {
            rewind();
            return f();
        }
    };
    @export(&Entry.evaluate, .{ .name = "conform_evaluate" });
}
