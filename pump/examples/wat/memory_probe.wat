;; Writes {"probe":true} to project memory under the key "probe" and returns
;; {"status":N}, N being flowplane.memory_set's status (0 ok, 1 memory off, 2 quota exceeded).
(module
  (import "flowplane" "memory_set" (func $memory_set (param i32 i32 i32 i32) (result i32)))
  (import "flowplane" "log" (func $log (param i32 i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "probe")
  (data (i32.const 32) "{\"probe\":true}")
  (data (i32.const 64) "{\"status\":0}")
  (data (i32.const 96) "memory probe")

  (func (export "alloc") (param $len i32) (result i32)
    (i32.const 1024))

  (func (export "handle") (param $ptr i32) (param $len i32) (result i64)
    (local $status i32)
    (call $log (i32.const 1) (i32.const 96) (i32.const 12))
    (local.set $status
      (call $memory_set (i32.const 16) (i32.const 5) (i32.const 32) (i32.const 14)))
    ;; patch the digit of {"status":0}
    (i32.store8 (i32.const 74) (i32.add (i32.const 48) (local.get $status)))
    (i64.or (i64.shl (i64.const 64) (i64.const 32)) (i64.const 12)))
)
