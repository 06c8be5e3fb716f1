;; Returns its input document {payload, config, execution} unchanged: the smallest module that
;; follows the ABI (exports memory, alloc and handle; handle returns ptr << 32 | len).
(module
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 1024))

  ;; a bump allocator: an instance lives for one invocation, so nothing is ever freed
  (func $alloc (export "alloc") (param $len i32) (result i32)
    (local $ptr i32)
    (local $pages i32)
    (local.set $ptr (global.get $heap))
    (global.set $heap (i32.add (local.get $ptr) (local.get $len)))
    (local.set $pages
      (i32.sub
        (i32.shr_u (i32.add (global.get $heap) (i32.const 65535)) (i32.const 16))
        (memory.size)))
    (if (i32.gt_s (local.get $pages) (i32.const 0))
      (then
        (if (i32.eq (memory.grow (local.get $pages)) (i32.const -1))
          (then unreachable))))
    (local.get $ptr))

  (func (export "handle") (param $ptr i32) (param $len i32) (result i64)
    (i64.or
      (i64.shl (i64.extend_i32_u (local.get $ptr)) (i64.const 32))
      (i64.extend_i32_u (local.get $len))))
)
