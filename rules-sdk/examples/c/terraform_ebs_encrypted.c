/* TERRAFORM_EBS_ENCRYPTED in C, against ABI v1 with no libc: an EBS volume that Terraform
 * manages (an `aws_ebs_volume` in a state file, ingested as `terraform:aws_ebs_volume`) must be
 * encrypted. The manifest is below, written into the module by the compiler. */
#include "conform.h"

CONFORM_MANIFEST({
    "abi": 1,
    "id": "TERRAFORM_EBS_ENCRYPTED",
    "version": "1.0.0",
    "title": "EBS volumes managed by Terraform are encrypted",
    "description": "Checks that every aws_ebs_volume in a Terraform state sets encrypted = true.",
    "severity": "high",
    "kind": "resource",
    "scope": {
        "resourceTypes": [
            "terraform:aws_ebs_volume"
        ]
    },
    "parameters": {
        "type": "object",
        "additionalProperties": false
    }
});

static int32_t evaluate(void) {
    int32_t encrypted = CONFORM_BOOL(CONFORM_ITEM, "/configuration/encrypted");
    if (encrypted == 1) {
        CONFORM_RESULT(CONFORM_COMPLIANT, "");
    } else if (CONFORM_KIND(CONFORM_ITEM, "/configuration/encrypted") == CONFORM_KIND_ABSENT) {
        CONFORM_RESULT(CONFORM_NON_COMPLIANT, "the volume does not set encrypted (it defaults to false)");
    } else {
        CONFORM_RESULT(CONFORM_NON_COMPLIANT, "the volume is not encrypted");
    }
    return 0;
}

CONFORM_RESOURCE_RULE(evaluate)
