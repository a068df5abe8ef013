;; ENCRYPTED_VOLUMES written by hand in WebAssembly text: no JSON parser, only document imports.
;; Attached volumes are COMPLIANT when /configuration/encrypted is true; if the parameter kmsId is
;; set, the volume's /configuration/kmsKeyId must equal it. Unattached volumes are NOT_APPLICABLE.
(module
  (@custom "conform.manifest" "{\"abi\":1,\"id\":\"WAT_ENCRYPTED_VOLUMES\",\"version\":\"1.0.0\",\"title\":\"Attached EBS volumes are encrypted\",\"description\":\"Hand-written WAT port of ENCRYPTED_VOLUMES.\",\"severity\":\"medium\",\"kind\":\"resource\",\"scope\":{\"resourceTypes\":[\"AWS::EC2::Volume\"]},\"parameters\":{\"type\":\"object\",\"properties\":{\"kmsId\":{\"type\":\"string\"}},\"additionalProperties\":false}}")
  (import "conform" "kind" (func $kind (param i32 i32 i32) (result i32)))
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
  (data (i32.const 144) "the volume is not attached")      ;; 26 bytes
  (data (i32.const 176) "the volume is not encrypted with the required KMS key") ;; 53 bytes
  ;; 1024..2047: the kmsId parameter; 2048..3071: the volume's key.
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
  (func (export "conform_evaluate") (result i32)
    (local $want i32) (local $have i32)
    (if (i32.lt_s (call $length (i32.const 0) (i32.const 32) (i32.const 26)) (i32.const 1))
      (then (call $result (i32.const 3) (i32.const 144) (i32.const 26)) (return (i32.const 0))))
    (if (i32.ne (call $get_bool (i32.const 0) (i32.const 0) (i32.const 24)) (i32.const 1))
      (then (call $result (i32.const 2) (i32.const 112) (i32.const 27)) (return (i32.const 0))))
    (local.set $want (call $get_string (i32.const 1) (i32.const 64) (i32.const 6) (i32.const 1024) (i32.const 1024)))
    (if (i32.ge_s (local.get $want) (i32.const 0))
      (then
        (local.set $have (call $get_string (i32.const 0) (i32.const 80) (i32.const 23) (i32.const 2048) (i32.const 1024)))
        (if (i32.or (i32.ne (local.get $want) (local.get $have))
                    (i32.eqz (call $strings_equal (i32.const 1024) (i32.const 2048) (local.get $want))))
          (then (call $result (i32.const 2) (i32.const 176) (i32.const 53)) (return (i32.const 0))))))
    (call $result (i32.const 1) (i32.const 0) (i32.const 0))
    (i32.const 0)))
