;; Always answers {"_to":"approve","routed":true}: the module chooses its next peer.
(module
  (memory (export "memory") 1)
  (data (i32.const 16) "{\"_to\":\"approve\",\"routed\":true}")
  (func (export "alloc") (param $len i32) (result i32)
    (i32.const 1024))
  (func (export "handle") (param $ptr i32) (param $len i32) (result i64)
    (i64.or (i64.shl (i64.const 16) (i64.const 32)) (i64.const 31)))
)
