// Package conform is conform's rule SDK for Go, over ABI v1 (rules-sdk/ABI.md), built with
// `GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared`: a reactor, whose `_initialize`
// conform calls once per instance. It hides the ABI's pointers, lengths and buffers: strings
// are read with the ABI's grow-and-retry. Go writes no custom section, so the manifest is
// added by `conform rules annotate`.
package conform

import "unsafe"

//go:wasmimport conform length
func length(doc int32, ptr unsafe.Pointer, n int32) int32

//go:wasmimport conform get_bool
func getBool(doc int32, ptr unsafe.Pointer, n int32) int32

//go:wasmimport conform get_string
func getString(doc int32, ptr unsafe.Pointer, n int32, out unsafe.Pointer, cap int32) int32

//go:wasmimport conform result
func result(compliance int32, ptr unsafe.Pointer, n int32)

//go:wasmimport conform log
func log(level int32, ptr unsafe.Pointer, n int32)

// Compliance is an evaluation's outcome.
type Compliance int32

const (
	Compliant     Compliance = 1
	NonCompliant  Compliance = 2
	NotApplicable Compliance = 3
)

// Document is one of the two documents a rule reads: the item, or its parameters.
type Document int32

const (
	Item   Document = 0
	Params Document = 1
)

func bytes(s string) (unsafe.Pointer, int32) {
	if len(s) == 0 {
		return nil, 0
	}
	return unsafe.Pointer(unsafe.StringData(s)), int32(len(s))
}

// Length is the length of the array or object at pointer; ok is false if there is none.
func (d Document) Length(pointer string) (n int, ok bool) {
	p, l := bytes(pointer)
	got := length(int32(d), p, l)
	return int(got), got >= 0
}

// Bool is the boolean at pointer; ok is false if it is not one.
func (d Document) Bool(pointer string) (value bool, ok bool) {
	p, l := bytes(pointer)
	switch getBool(int32(d), p, l) {
	case 0:
		return false, true
	case 1:
		return true, true
	}
	return false, false
}

// String is the string at pointer; ok is false if it is not one.
func (d Document) String(pointer string) (value string, ok bool) {
	p, l := bytes(pointer)
	buf := make([]byte, 256)
	n := getString(int32(d), p, l, unsafe.Pointer(&buf[0]), int32(len(buf)))
	if n < 0 {
		return "", false
	}
	if int(n) > len(buf) {
		buf = make([]byte, n)
		n = getString(int32(d), p, l, unsafe.Pointer(&buf[0]), int32(len(buf)))
	}
	return string(buf[:n]), true
}

// Report reports the current item's evaluation: once per call of the rule.
func Report(c Compliance, annotation string) {
	p, l := bytes(annotation)
	result(int32(c), p, l)
}

// Log writes a line to the rule's log (0 error … 4 trace).
func Log(level int32, text string) {
	p, l := bytes(text)
	log(level, p, l)
}
