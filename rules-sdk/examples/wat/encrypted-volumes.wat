;; ENCRYPTED_VOLUMES written by hand in WebAssembly text: no JSON parser, only document imports.
;; As the built-in: a volume is attached when it lists attachments or its state is `in-use`;
;; unattached volumes are NOT_APPLICABLE. An attached volume must be encrypted, and, when the
;; parameter kmsId is set (and not empty), with that key: /configuration/kmsKeyId is the same
;; ARN, or ends in `/` and the bare key id. `conform test` runs the built-in's cases on it:
;;   conform test encrypted-volumes.wat --cases rules/encrypted-volumes/cases.yaml
(module
  (@custom "conform.manifest" "{\"abi\":1,\"id\":\"WAT_ENCRYPTED_VOLUMES\",\"version\":\"1.1.0\",\"title\":\"Attached EBS volumes are encrypted\",\"description\":\"Hand-written WAT port of ENCRYPTED_VOLUMES.\",\"severity\":\"medium\",\"kind\":\"resource\",\"scope\":{\"resourceTypes\":[\"AWS::EC2::Volume\"]},\"parameters\":{\"type\":\"object\",\"properties\":{\"kmsId\":{\"type\":\"string\"}},\"additionalProperties\":false}}")
  (import "conform" "get_bool" (func $get_bool (param i32 i32 i32) (result i32)))
  (import "conform" "get_string" (func $get_string (param i32 i32 i32 i32 i32) (result i32)))
  (import "conform" "length" (func $length (param i32 i32 i32) (result i32)))
  (import "conform" "result" (func $result (param i32 i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "/configuration/encrypted")          ;; 24 bytes
  (data (i32.const 32) "/configuration/attachments")       ;; 26 bytes
  (data (i32.const 64) "/kmsId")                           ;; 6 bytes
  (data (i32.const 80) "/configuration/kmsKeyId")          ;; 23 bytes
  (data (i32.const 112) "the volume is not encrypted")     ;; 27 bytes
  (data (i32.const 144) "the volume is not attached to an instance") ;; 41 bytes
  (data (i32.const 192) "the volume is encrypted with ")   ;; 29 bytes
  (data (i32.const 224) ", not with ")                     ;; 11 bytes
  (data (i32.const 240) "/configuration/state")            ;; 20 bytes
  (data (i32.const 264) "in-use")                          ;; 6 bytes
  ;; 1024..2047: the kmsId parameter; 2048..3071: the volume's key; 3072..3087: its state;
  ;; 4096..: the annotation being written.
  (func $strings_equal (param $a i32) (param $b i32) (param $n i32) (result i32)
    (local $i i32)
    (loop $next
      (if (i32.ge_u (local.get $i) (local.get $n)) (then (return (i32.const 1))))
      (if (i32.ne (i32.load8_u (i32.add (local.get $a) (local.get $i)))
                  (i32.load8_u (i32.add (local.get $b) (local.get $i))))
        (then (return (i32.const 0))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next))
    (i32.const 0))
  ;; Copies n bytes from src to dst; returns dst + n.
  (func $copy (param $dst i32) (param $src i32) (param $n i32) (result i32)
    (memory.copy (local.get $dst) (local.get $src) (local.get $n))
    (i32.add (local.get $dst) (local.get $n)))
  ;; Whether the key (an ARN) is the one wanted: the same, or ending in "/" and the key id.
  (func $key_matches (param $key i32) (param $klen i32) (param $want i32) (param $wlen i32) (result i32)
    (if (i32.eq (local.get $klen) (local.get $wlen))
      (then (return (call $strings_equal (local.get $key) (local.get $want) (local.get $wlen)))))
    (if (i32.le_u (local.get $klen) (local.get $wlen)) (then (return (i32.const 0))))
    (if (i32.ne (i32.load8_u (i32.sub (i32.add (local.get $key) (i32.sub (local.get $klen) (local.get $wlen))) (i32.const 1)))
                (i32.const 47))
      (then (return (i32.const 0))))
    (call $strings_equal
      (i32.add (local.get $key) (i32.sub (local.get $klen) (local.get $wlen)))
      (local.get $want) (local.get $wlen)))
  (func $min (param $a i32) (param $b i32) (result i32)
    (select (local.get $a) (local.get $b) (i32.lt_s (local.get $a) (local.get $b))))
  (func (export "conform_evaluate") (result i32)
    (local $want i32) (local $have i32) (local $state i32) (local $end i32)
    (local.set $state (call $get_string (i32.const 0) (i32.const 240) (i32.const 20) (i32.const 3072) (i32.const 16)))
    (if (i32.and
          (i32.lt_s (call $length (i32.const 0) (i32.const 32) (i32.const 26)) (i32.const 1))
          (i32.eqz (i32.and (i32.eq (local.get $state) (i32.const 6))
                            (call $strings_equal (i32.const 3072) (i32.const 264) (i32.const 6)))))
      (then (call $result (i32.const 3) (i32.const 144) (i32.const 41)) (return (i32.const 0))))
    (if (i32.ne (call $get_bool (i32.const 0) (i32.const 0) (i32.const 24)) (i32.const 1))
      (then (call $result (i32.const 2) (i32.const 112) (i32.const 27)) (return (i32.const 0))))
    (local.set $want (call $min (call $get_string (i32.const 1) (i32.const 64) (i32.const 6) (i32.const 1024) (i32.const 1024)) (i32.const 1024)))
    (if (i32.gt_s (local.get $want) (i32.const 0))
      (then
        ;; An absent key is the empty string: it matches no kmsId.
        (local.set $have (call $min (call $get_string (i32.const 0) (i32.const 80) (i32.const 23) (i32.const 2048) (i32.const 1024)) (i32.const 1024)))
        (if (i32.lt_s (local.get $have) (i32.const 0)) (then (local.set $have (i32.const 0))))
        (if (i32.eqz (call $key_matches (i32.const 2048) (local.get $have) (i32.const 1024) (local.get $want)))
          (then
            ;; "the volume is encrypted with KEY, not with WANTED", at most 256 bytes.
            (local.set $end (call $copy (i32.const 4096) (i32.const 192) (i32.const 29)))
            (local.set $end (call $copy (local.get $end) (i32.const 2048) (local.get $have)))
            (local.set $end (call $copy (local.get $end) (i32.const 224) (i32.const 11)))
            (local.set $end (call $copy (local.get $end) (i32.const 1024) (local.get $want)))
            (call $result (i32.const 2) (i32.const 4096)
              (call $min (i32.sub (local.get $end) (i32.const 4096)) (i32.const 256)))
            (return (i32.const 0))))))
    (call $result (i32.const 1) (i32.const 0) (i32.const 0))
    (i32.const 0)))
