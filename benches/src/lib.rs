//! Benchmarks of Weft and the helpers they share.
//!
//! `benches/vm.rs` holds the criterion micro-benchmarks of the VM; results and the commands that
//! produced them are in `benches/RESULTS.md`. [`devnet`] starts a committee for the end-to-end
//! tools (`weft-load`, `weft-did-bench`) and measures the ed25519 floor next to it.

pub mod devnet;

/// A synthetic contract of about `target_bytes` bytes of wasm: many small functions doing integer
/// arithmetic and calling each other, the shape of compiled Rust code. It is a valid Weft contract
/// (memory, ABI section, one `run` method).
pub fn synthetic_contract_wat(target_bytes: usize) -> String {
    // Each function body below encodes to about 300 bytes.
    let functions = target_bytes / 300;
    let mut wat = String::from("(module (memory (export \"memory\") 1)\n");
    for i in 0..functions {
        let callee = if i == 0 {
            String::new()
        } else {
            format!("(drop (call $f{} (local.get 0)))", i - 1)
        };
        wat += &format!("(func $f{i} (param i64) (result i64) (local i64 i64 i64)\n");
        for k in 0..6u64 {
            wat += &format!(
                "(local.set 1 (i64.add (i64.mul (local.get 0) (i64.const {a})) (i64.const {b})))
                 (local.set 2 (i64.xor (local.get 1) (i64.shr_u (local.get 1) (i64.const {s}))))
                 (if (i64.lt_u (local.get 2) (i64.const {c})) (then (local.set 3 (i64.sub (local.get 3) (local.get 2)))))\n",
                a = 0x9E37_79B9_u64 + k + i as u64,
                b = 0x7F4A_7C15_u64 ^ k,
                s = 7 + k,
                c = 1_000_000 + k,
            );
        }
        wat += &format!("{callee} (local.get 3))\n");
    }
    wat += &format!(
        "(func (export \"weft:run\") (drop (call $f{} (i64.const 1)))))",
        functions.max(1) - 1
    );
    wat
}

/// A crafted contract of about `target_bytes` bytes aimed at a compiler's weak spot: functions near
/// the body-size cap, each with `locals` locals (use the limit) all live across a long chain of
/// branches, which makes SSA construction do work proportional to locals times blocks.
pub fn crafted_contract_wat(target_bytes: usize, locals: usize) -> String {
    let m = locals - 1;
    let per_function = 120 * 1024;
    let functions = target_bytes.div_ceil(per_function);
    let mut wat = String::from("(module (memory (export \"memory\") 1)\n");
    for i in 0..functions {
        wat += &format!(
            "(func $f{i} (param i64) (result i64) {}\n",
            "(local i64)".repeat(locals)
        );
        let mut body = String::new();
        let mut k = 0usize;
        while body.len() < per_function * 4 {
            let (a, b, c) = (1 + k % m, 1 + (k * 7) % m, 1 + (k * 13) % m);
            body += &format!(
                "(if (i64.gt_u (local.get {a}) (local.get {b})) (then (local.set {c} (i64.add (local.get {a}) (local.get {b})))))\n"
            );
            k += 1;
        }
        wat += &body;
        wat += "(local.get 1))\n";
    }
    wat += "(func (export \"weft:run\") (drop (call $f0 (i64.const 1)))))";
    wat
}

/// Appends a `weft_abi` custom section listing `methods` (all `Call`, no arguments).
pub fn with_abi(mut wasm: Vec<u8>, methods: &[&str]) -> Vec<u8> {
    use weft_types::{MethodAbi, MethodKind};
    let mut data = Vec::new();
    for name in methods {
        data.extend(
            MethodAbi {
                name: (*name).into(),
                kind: MethodKind::Call,
                args: vec![],
                returns: None,
            }
            .to_record(),
        );
    }
    let mut body = vec![8u8];
    body.extend_from_slice(b"weft_abi");
    body.extend(data);
    wasm.push(0);
    let mut len = body.len();
    loop {
        let byte = (len & 0x7f) as u8;
        len >>= 7;
        wasm.push(if len == 0 { byte } else { byte | 0x80 });
        if len == 0 {
            break;
        }
    }
    wasm.extend(body);
    wasm
}
