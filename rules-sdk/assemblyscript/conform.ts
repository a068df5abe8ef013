// conform's rule SDK for AssemblyScript, over ABI v1 (rules-sdk/ABI.md). It hides the ABI's
// pointers, lengths and buffers, and the encodings: AssemblyScript strings are UTF-16, the
// ABI's are UTF-8, converted here both ways. A string is read with the ABI's grow-and-retry.
// Build with `asc RULE.ts -O3 --use abort= --transform ./manifest.mjs -o RULE.wasm`
// (`--use abort=`: conform provides no `env.abort`); the transform writes the rule's
// `const MANIFEST = \`{...}\`` into the module.

@external("conform", "length")
declare function _length(doc: i32, ptr: usize, len: i32): i32;
@external("conform", "get_bool")
declare function _get_bool(doc: i32, ptr: usize, len: i32): i32;
@external("conform", "get_string")
declare function _get_string(doc: i32, ptr: usize, len: i32, out: usize, cap: i32): i32;
@external("conform", "result")
declare function _result(compliance: i32, ptr: usize, len: i32): void;
@external("conform", "log")
declare function _log(level: i32, ptr: usize, len: i32): void;

export enum Compliance {
  Compliant = 1,
  NonCompliant = 2,
  NotApplicable = 3,
}

/** One of the two documents a rule reads: the item, or its parameters. */
export class Document {
  constructor(private doc: i32) {}

  /** The length of the array or object at `pointer`; -1 if there is none. */
  length(pointer: string): i32 {
    const p = String.UTF8.encode(pointer);
    return _length(this.doc, changetype<usize>(p), p.byteLength);
  }

  /** 1 true, 0 false, -1 not a boolean. */
  boolean(pointer: string): i32 {
    const p = String.UTF8.encode(pointer);
    return _get_bool(this.doc, changetype<usize>(p), p.byteLength);
  }

  /** The string at `pointer`, or null: read into a buffer grown to its size. */
  string(pointer: string): string | null {
    const p = String.UTF8.encode(pointer);
    let buffer = new ArrayBuffer(256);
    let n = _get_string(this.doc, changetype<usize>(p), p.byteLength, changetype<usize>(buffer), buffer.byteLength);
    if (n < 0) return null;
    if (n > buffer.byteLength) {
      buffer = new ArrayBuffer(n);
      n = _get_string(this.doc, changetype<usize>(p), p.byteLength, changetype<usize>(buffer), buffer.byteLength);
    }
    return String.UTF8.decodeUnsafe(changetype<usize>(buffer), <usize>n);
  }
}

export const item = new Document(0);
export const params = new Document(1);

/** Reports the current item's evaluation: once per call of the rule. */
export function report(compliance: Compliance, annotation: string = ""): void {
  const a = String.UTF8.encode(annotation);
  _result(compliance, changetype<usize>(a), a.byteLength);
}

/** A line of the rule's log (0 error … 4 trace). */
export function log(level: i32, text: string): void {
  const t = String.UTF8.encode(text);
  _log(level, changetype<usize>(t), t.byteLength);
}
