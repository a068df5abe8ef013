/* TERRAFORM_EBS_ENCRYPTED in C, against ABI v1 with no libc: an EBS volume that Terraform
 * manages (an `aws_ebs_volume` in a state file, ingested as `terraform:aws_ebs_volume`) must be
 * encrypted. Manifest: terraform_ebs_encrypted.json, written in by `conform rules annotate`. */
#include "conform.h"

int32_t conform_evaluate(void) {
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
