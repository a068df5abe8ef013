// An asc transform (`asc RULE.ts --transform ./manifest.mjs`) that writes the rule's manifest
// (ABI §2) into the module's `conform.manifest` custom section, so a rule declares it in its
// own source and the compiler attaches it:
//
//     const MANIFEST = `{"abi": 1, "id": "MY_RULE", ...}`;
//
// one top-level constant named MANIFEST, a string without substitutions, holding JSON. It is
// found in the parsed sources (not the library's), checked to be JSON, and given to binaryen
// after compilation; nothing else of the rule changes.
import { Transform } from "assemblyscript/transform";

/** The text of a string literal, or of a template literal without `${...}`; null otherwise. */
function literal(expression) {
  if (!expression) return null;
  if (typeof expression.value === "string") return expression.value;
  if (Array.isArray(expression.parts) && expression.expressions.length === 0) return expression.parts[0];
  return null;
}

export default class ConformManifest extends Transform {
  afterParse(parser) {
    const found = [];
    for (const source of parser.sources) {
      if (source.isLibrary || source.internalPath.startsWith("~lib/")) continue;
      for (const statement of source.statements) {
        for (const declaration of statement.declarations || []) {
          if (declaration.name.text === "MANIFEST") found.push({ source, declaration });
        }
      }
    }
    if (found.length !== 1) {
      const where = found.map((f) => f.source.normalizedPath).join(", ");
      throw new Error(`conform: expected one top-level MANIFEST constant, found ${found.length}${where ? ` (${where})` : ""}`);
    }
    const { source, declaration } = found[0];
    const text = literal(declaration.initializer);
    if (text === null) {
      throw new Error(`conform: ${source.normalizedPath}: MANIFEST must be a string literal without substitutions`);
    }
    try {
      JSON.parse(text);
    } catch (error) {
      throw new Error(`conform: ${source.normalizedPath}: MANIFEST is not JSON: ${error.message}`);
    }
    this.manifest = new TextEncoder().encode(text);
  }

  afterCompile(module) {
    module.addCustomSection("conform.manifest", this.manifest);
  }
}
