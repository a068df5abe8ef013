// The types of conform's host interface, conform:rule/host@1.0.0 (rules-sdk/wit/1.0.0), as
// componentize-js binds it for JavaScript and TypeScript rules: WIT enums are strings, an absent
// `option` is `undefined`, `u32` and `f64` are numbers. Reference it from a rule
// (`/// <reference path="conform.d.ts" />`, or list it in tsconfig.json) so that `tsc` checks
// every call against the contract; componentize-js supplies the module itself at build time.
declare module 'conform:rule/host@1.0.0' {
  /** Which document a JSON Pointer reads: the configuration item or the rule's parameters. */
  export type Document = 'item' | 'params';
  /** What a pointer points at; `absent` when nothing is there. */
  export type ValueKind =
    | 'absent'
    | 'null'
    | 'boolean'
    | 'number'
    | 'string'
    | 'array'
    | 'object';
  export type Compliance = 'compliant' | 'non-compliant' | 'not-applicable';

  /** The kind of the value at `pointer` (RFC 6901; a segment may descend into a string of JSON). */
  export function kind(doc: Document, pointer: string): ValueKind;
  export function getBool(doc: Document, pointer: string): boolean | undefined;
  export function getNumber(doc: Document, pointer: string): number | undefined;
  export function getString(doc: Document, pointer: string): string | undefined;
  /** The number of elements of an array, or of members of an object. */
  export function length(doc: Document, pointer: string): number | undefined;
  /** The key of an object's `index`-th member, in document order. */
  export function keyAt(doc: Document, pointer: string, index: number): string | undefined;
  /** The whole document as JSON text. */
  export function raw(doc: Document): string;

  /** A resource rule's verdict on the item: call it once per evaluation. */
  export function result(compliance: Compliance, annotation: string): void;
  /** An estate rule's verdict on the selected resource, or on the account. */
  export function emit(
    compliance: Compliance,
    resourceType: string,
    resourceId: string,
    annotation: string,
  ): void;
  /** A line in the rule's log: 0 error, 1 warn, 2 info, 3 debug, 4 trace. */
  export function log(level: number, message: string): void;

  /** The account an estate rule evaluates. */
  export function estateAccount(): string | undefined;
  /** How many of the account's resources are in the rule's scope. */
  export function estateCount(): number | undefined;
  /** Makes the `index`-th resource the `item` document; false past the end. */
  export function estateSelect(index: number): boolean;
}
