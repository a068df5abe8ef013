// ENCRYPTED_VOLUMES in TypeScript, as a component of the WIT world conform:rule@1.0.0: the
// built-in's semantics. `tsc` checks it against the host interface's types (conform.d.ts) and
// writes JavaScript, which componentize-js makes a component; an exception is an ERROR
// evaluation.
//
// Build (TypeScript 5.9, componentize-js 0.23 with @bytecodealliance/preview2-shim 0.17):
//   npx tsc && npx componentize-js build/encrypted_volumes.js --wit wit -n resource-rule \
//     -d http fetch-event -o encrypted_volumes.wasm
//   conform rules annotate encrypted_volumes.wasm --manifest encrypted_volumes.json
import { getBool, getString, length, result } from 'conform:rule/host@1.0.0';

/** Whether `key` (an ARN) is the key `wanted` names: the same ARN, or `.../` and the bare id. */
function keyMatches(key: string, wanted: string): boolean {
  return key === wanted || (key.length > wanted.length && key.endsWith('/' + wanted));
}

export function init(): void {}

export function evaluate(): void {
  const attached =
    (length('item', '/configuration/attachments') ?? 0) > 0 ||
    getString('item', '/configuration/state') === 'in-use';
  if (!attached) {
    return result('not-applicable', 'the volume is not attached to an instance');
  }
  if (getBool('item', '/configuration/encrypted') !== true) {
    return result('non-compliant', 'the volume is not encrypted');
  }
  const wanted = getString('params', '/kmsId');
  if (wanted) {
    const key = getString('item', '/configuration/kmsKeyId') ?? '';
    if (!keyMatches(key, wanted)) {
      return result('non-compliant', `the volume is encrypted with ${key}, not with ${wanted}`);
    }
  }
  result('compliant', '');
}
