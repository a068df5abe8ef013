// ENCRYPTED_VOLUMES in AssemblyScript, with rules-sdk/assemblyscript/conform.ts: the built-in's
// semantics.
import { Compliance, item, params, report } from "./conform";

// The manifest: the SDK's transform (`--transform ./manifest.mjs`) writes it into the module.
const MANIFEST = `{
  "abi": 1,
  "id": "AS_ENCRYPTED_VOLUMES",
  "version": "1.0.0",
  "title": "Attached EBS volumes are encrypted (AssemblyScript)",
  "description": "ENCRYPTED_VOLUMES written in AssemblyScript with rules-sdk/assemblyscript.",
  "severity": "medium",
  "kind": "resource",
  "scope": {"resourceTypes": ["AWS::EC2::Volume"]},
  "parameters": {
    "type": "object",
    "properties": {"kmsId": {"type": "string"}},
    "additionalProperties": false
  }
}`;

/** Whether `key` (an ARN) is the key `wanted` names: the same ARN, or `.../` and the bare id. */
function keyMatches(key: string, wanted: string): bool {
  if (key == wanted) return true;
  return key.length > wanted.length && key.endsWith("/" + wanted);
}

export function conform_evaluate(): i32 {
  const state = item.string("/configuration/state");
  const attached = item.length("/configuration/attachments") > 0 || (state != null && state == "in-use");
  if (!attached) {
    report(Compliance.NotApplicable, "the volume is not attached to an instance");
    return 0;
  }
  if (item.boolean("/configuration/encrypted") != 1) {
    report(Compliance.NonCompliant, "the volume is not encrypted");
    return 0;
  }
  const wanted = params.string("/kmsId");
  if (wanted != null && wanted.length > 0) {
    const found = item.string("/configuration/kmsKeyId");
    const key = found == null ? "" : found;
    if (!keyMatches(key, wanted)) {
      report(Compliance.NonCompliant, "the volume is encrypted with " + key + ", not with " + wanted);
      return 0;
    }
  }
  report(Compliance.Compliant);
  return 0;
}
