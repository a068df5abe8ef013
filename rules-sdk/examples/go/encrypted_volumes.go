// ENCRYPTED_VOLUMES in Go, with rules-sdk/go/conform: the built-in's semantics. Manifest:
// encrypted_volumes.json, written in by `conform rules annotate`.
package main

import (
	"strings"

	"conform.example/rules-sdk/go/conform"
)

// keyMatches is whether key (an ARN) is the key wanted names: the same ARN, or `.../` and
// the bare id.
func keyMatches(key, wanted string) bool {
	return key == wanted || (len(key) > len(wanted) && strings.HasSuffix(key, "/"+wanted))
}

//go:wasmexport conform_evaluate
func evaluate() int32 {
	attachments, _ := conform.Item.Length("/configuration/attachments")
	state, _ := conform.Item.String("/configuration/state")
	if attachments <= 0 && state != "in-use" {
		conform.Report(conform.NotApplicable, "the volume is not attached to an instance")
		return 0
	}
	if encrypted, ok := conform.Item.Bool("/configuration/encrypted"); !ok || !encrypted {
		conform.Report(conform.NonCompliant, "the volume is not encrypted")
		return 0
	}
	if wanted, _ := conform.Params.String("/kmsId"); wanted != "" {
		key, _ := conform.Item.String("/configuration/kmsKeyId")
		if !keyMatches(key, wanted) {
			conform.Report(conform.NonCompliant, "the volume is encrypted with "+key+", not with "+wanted)
			return 0
		}
	}
	conform.Report(conform.Compliant, "")
	return 0
}

func main() {}
