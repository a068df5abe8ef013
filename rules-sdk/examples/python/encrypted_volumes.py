"""ENCRYPTED_VOLUMES in Python, as a component of the WIT world conform:rule@1.0.0.

As the built-in: NOT_APPLICABLE unless the volume is attached (it has attachments or its state
is `in-use`); NON_COMPLIANT unless it is encrypted, and, when the `kmsId` parameter is set, with
that key (the same ARN, or its bare key id).

Build (componentize-py 0.25; its CPython is inside the component, nothing is fetched):
    componentize-py -d rules-sdk/wit/1.0.0 -w resource-rule componentize encrypted_volumes \
        -o encrypted_volumes.wasm
    conform rules annotate encrypted_volumes.wasm --manifest encrypted_volumes.json
"""

import wit_world
from wit_world.imports import host
from wit_world.imports.host import Compliance, Document

ITEM, PARAMS = Document.ITEM, Document.PARAMS


def kms_key_matches(key: str, wanted: str) -> bool:
    """Whether key (an ARN) is the one wanted names: the same ARN, or its bare key id."""
    return key == wanted or (key.endswith(wanted) and key[: -len(wanted)].endswith("/"))


class WitWorld(wit_world.WitWorld):
    def init(self) -> None:
        pass

    def evaluate(self) -> None:
        attached = (host.length(ITEM, "/configuration/attachments") or 0) > 0 or (
            host.get_string(ITEM, "/configuration/state") == "in-use"
        )
        if not attached:
            host.result(Compliance.NOT_APPLICABLE, "the volume is not attached to an instance")
            return
        if host.get_bool(ITEM, "/configuration/encrypted") is not True:
            host.result(Compliance.NON_COMPLIANT, "the volume is not encrypted")
            return
        wanted = host.get_string(PARAMS, "/kmsId")
        if wanted:
            key = host.get_string(ITEM, "/configuration/kmsKeyId") or ""
            if not kms_key_matches(key, wanted):
                host.result(
                    Compliance.NON_COMPLIANT,
                    f"the volume is encrypted with {key}, not with {wanted}",
                )
                return
        host.result(Compliance.COMPLIANT, "")
