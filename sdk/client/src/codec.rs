//! JSON ⇄ borsh through a contract's ABI.
//!
//! The SDK records every argument and result type as written in the contract (`u64`, `String`,
//! `Vec<u8>`, `Option<Address>`, `[u8;32]`, `(String,u32)`). This module parses those type strings
//! and converts JSON values to their borsh encoding and back, so dApps and the CLI can call
//! contracts with JSON. Types the ABI cannot describe (structs and enums defined in the contract)
//! are reported by name; such methods take their arguments as borsh hex instead.
//!
//! JSON conventions: integers up to 64 bits as JSON numbers (or decimal strings), 128-bit integers
//! as decimal strings, byte strings (`Vec<u8>`, `[u8;N]`) and 32-byte ids as `0x` hex, `Option` as
//! the value or `null`, tuples and fixed arrays as JSON arrays.

use serde_json::{Map, Number, Value};
use weft_types::MethodAbi;

/// Why a value could not be converted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// The type string is not one the codec understands.
    #[error(
        "type `{ty}` is defined by the contract and not described by its ABI; pass the arguments as borsh hex instead"
    )]
    Opaque {
        /// The type.
        ty: String,
    },
    /// The type string does not parse.
    #[error("cannot parse type `{ty}`: {reason}")]
    BadType {
        /// The type.
        ty: String,
        /// Why.
        reason: String,
    },
    /// A JSON value does not fit its type.
    #[error("{path}: expected {expected}, got {got}")]
    Mismatch {
        /// Where in the arguments (`args.name[2]`).
        path: String,
        /// What was expected.
        expected: String,
        /// What was given.
        got: String,
    },
    /// Arguments missing, extra or misnamed.
    #[error("{0}")]
    Arity(String),
    /// Borsh bytes do not decode as the type.
    #[error("cannot decode the result as `{ty}`: {reason}")]
    Decode {
        /// The type.
        ty: String,
        /// Why.
        reason: String,
    },
}

type Result<T> = std::result::Result<T, CodecError>;

/// A type the codec understands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ty {
    /// `bool`.
    Bool,
    /// An unsigned integer of this many bytes.
    Uint(u8),
    /// A signed integer of this many bytes.
    Int(u8),
    /// `String`.
    String,
    /// A 32-byte id (`Address`, `ContractId`, `CodeHash`, `Hash32`, `PublicKey`).
    Id,
    /// `()`.
    Unit,
    /// `Vec<T>` (and `Box<[T]>`).
    Vec(Box<Ty>),
    /// `Option<T>`.
    Option(Box<Ty>),
    /// `[T;N]`.
    Array(Box<Ty>, usize),
    /// `(A,B,…)`.
    Tuple(Vec<Ty>),
    /// A type defined by the contract.
    Opaque(String),
}

impl Ty {
    /// Parses a type string as the SDK records it (spaces are ignored).
    pub fn parse(ty: &str) -> Result<Ty> {
        let compact: String = ty.chars().filter(|c| !c.is_whitespace()).collect();
        let mut parser = Parser {
            s: compact.as_bytes(),
            pos: 0,
            full: ty,
        };
        let out = parser.ty()?;
        if parser.pos != parser.s.len() {
            return Err(parser.error("unexpected characters after the type"));
        }
        Ok(out)
    }

    /// The first contract-defined type inside this one, if any.
    pub fn opaque(&self) -> Option<&str> {
        match self {
            Ty::Opaque(name) => Some(name),
            Ty::Vec(t) | Ty::Option(t) | Ty::Array(t, _) => t.opaque(),
            Ty::Tuple(ts) => ts.iter().find_map(Ty::opaque),
            _ => None,
        }
    }

    fn describe(&self) -> String {
        match self {
            Ty::Bool => "a boolean".into(),
            Ty::Uint(n) => format!("an unsigned {}-bit integer", n * 8),
            Ty::Int(n) => format!("a signed {}-bit integer", n * 8),
            Ty::String => "a string".into(),
            Ty::Id => "a 0x-prefixed 32-byte hex id".into(),
            Ty::Unit => "null".into(),
            Ty::Vec(t) if **t == Ty::Uint(1) => "0x-prefixed hex bytes".into(),
            Ty::Array(t, n) if **t == Ty::Uint(1) => format!("0x-prefixed hex of {n} bytes"),
            Ty::Vec(_) => "an array".into(),
            Ty::Array(_, n) => format!("an array of {n} items"),
            Ty::Option(t) => format!("{} or null", t.describe()),
            Ty::Tuple(ts) => format!("an array of {} items", ts.len()),
            Ty::Opaque(name) => format!("`{name}`"),
        }
    }
}

struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
    full: &'a str,
}

impl Parser<'_> {
    fn error(&self, reason: &str) -> CodecError {
        CodecError::BadType {
            ty: self.full.to_string(),
            reason: reason.to_string(),
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.s.get(self.pos) == Some(&c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: u8) -> Result<()> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(self.error(&format!("expected `{}` at offset {}", c as char, self.pos)))
        }
    }

    fn path(&mut self) -> Result<String> {
        let start = self.pos;
        while self
            .s
            .get(self.pos)
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b':')
        {
            self.pos += 1;
        }
        if start == self.pos {
            return Err(self.error(&format!("expected a type name at offset {start}")));
        }
        let path = std::str::from_utf8(&self.s[start..self.pos]).unwrap_or_default();
        // `weft_sdk::Address` and `Address` are the same type.
        Ok(path.rsplit("::").next().unwrap_or(path).to_string())
    }

    fn ty(&mut self) -> Result<Ty> {
        if self.eat(b'(') {
            let mut items = Vec::new();
            while !self.eat(b')') {
                items.push(self.ty()?);
                if !self.eat(b',') {
                    self.expect(b')')?;
                    break;
                }
            }
            return Ok(if items.is_empty() {
                Ty::Unit
            } else {
                Ty::Tuple(items)
            });
        }
        if self.eat(b'[') {
            let item = self.ty()?;
            self.expect(b';')?;
            let start = self.pos;
            while self.s.get(self.pos).is_some_and(u8::is_ascii_digit) {
                self.pos += 1;
            }
            let n = std::str::from_utf8(&self.s[start..self.pos])
                .ok()
                .and_then(|d| d.parse().ok())
                .ok_or_else(|| self.error("expected an array length"))?;
            self.expect(b']')?;
            return Ok(Ty::Array(Box::new(item), n));
        }
        let name = self.path()?;
        let generic = |p: &mut Self| -> Result<Box<Ty>> {
            p.expect(b'<')?;
            let inner = p.ty()?;
            p.expect(b'>')?;
            Ok(Box::new(inner))
        };
        Ok(match name.as_str() {
            "bool" => Ty::Bool,
            "u8" => Ty::Uint(1),
            "u16" => Ty::Uint(2),
            "u32" => Ty::Uint(4),
            "u64" => Ty::Uint(8),
            "u128" => Ty::Uint(16),
            "i8" => Ty::Int(1),
            "i16" => Ty::Int(2),
            "i32" => Ty::Int(4),
            "i64" => Ty::Int(8),
            "i128" => Ty::Int(16),
            "String" => Ty::String,
            "Address" | "ContractId" | "CodeHash" | "Hash32" | "PublicKey" | "TxHash" => Ty::Id,
            "Vec" => Ty::Vec(generic(self)?),
            "Option" => Ty::Option(generic(self)?),
            "Box" => *generic(self)?,
            _ => {
                // Skip any generic arguments of a contract-defined type.
                if self.s.get(self.pos) == Some(&b'<') {
                    let mut depth = 0;
                    while let Some(&c) = self.s.get(self.pos) {
                        self.pos += 1;
                        depth += match c {
                            b'<' => 1,
                            b'>' => -1,
                            _ => 0,
                        };
                        if depth == 0 {
                            break;
                        }
                    }
                }
                Ty::Opaque(name)
            }
        })
    }
}

fn kind(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("{b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) if s.len() > 40 => format!("a string of {} characters", s.len()),
        Value::String(s) => format!("the string {s:?}"),
        Value::Array(a) => format!("an array of {} items", a.len()),
        Value::Object(_) => "an object".into(),
    }
}

fn mismatch(path: &str, ty: &Ty, v: &Value) -> CodecError {
    CodecError::Mismatch {
        path: path.to_string(),
        expected: ty.describe(),
        got: kind(v),
    }
}

fn hex_of(path: &str, ty: &Ty, v: &Value, len: Option<usize>) -> Result<Vec<u8>> {
    let bytes = match v {
        Value::String(s) => {
            crate::json::hex_bytes::decode(s).map_err(|e| CodecError::Mismatch {
                path: path.into(),
                expected: ty.describe(),
                got: e,
            })?
        }
        Value::Array(items) => items
            .iter()
            .map(|i| i.as_u64().and_then(|n| u8::try_from(n).ok()))
            .collect::<Option<Vec<u8>>>()
            .ok_or_else(|| mismatch(path, ty, v))?,
        _ => return Err(mismatch(path, ty, v)),
    };
    if let Some(n) = len
        && bytes.len() != n
    {
        return Err(CodecError::Mismatch {
            path: path.into(),
            expected: ty.describe(),
            got: format!("{} bytes", bytes.len()),
        });
    }
    Ok(bytes)
}

fn integer(path: &str, ty: &Ty, v: &Value, signed: bool, bytes: u8) -> Result<Vec<u8>> {
    let parsed: Option<i128> = match v {
        Value::Number(n) => n.as_i64().map(i128::from).or(n.as_u64().map(i128::from)),
        Value::String(s) => s.parse::<i128>().ok(),
        _ => None,
    };
    // u128 above i128::MAX only arrives as a string.
    if !signed
        && bytes == 16
        && let Value::String(s) = v
        && let Ok(n) = s.parse::<u128>()
    {
        return Ok(n.to_le_bytes().to_vec());
    }
    let n = parsed.ok_or_else(|| mismatch(path, ty, v))?;
    let bits = u32::from(bytes) * 8;
    let in_range = if signed {
        bits == 128 || (n >= -(1i128 << (bits - 1)) && n < (1i128 << (bits - 1)))
    } else {
        n >= 0 && (bits == 128 || n < (1i128 << bits))
    };
    if !in_range {
        return Err(CodecError::Mismatch {
            path: path.into(),
            expected: ty.describe(),
            got: format!("{n}, which is out of range"),
        });
    }
    Ok(n.to_le_bytes()[..usize::from(bytes)].to_vec())
}

/// Appends the borsh encoding of JSON `v` as type `ty`; `path` names the value in errors.
pub fn encode(ty: &Ty, v: &Value, path: &str, out: &mut Vec<u8>) -> Result<()> {
    match ty {
        Ty::Bool => out.push(u8::from(v.as_bool().ok_or_else(|| mismatch(path, ty, v))?)),
        Ty::Uint(n) => out.extend(integer(path, ty, v, false, *n)?),
        Ty::Int(n) => out.extend(integer(path, ty, v, true, *n)?),
        Ty::String => {
            let s = v.as_str().ok_or_else(|| mismatch(path, ty, v))?;
            out.extend((s.len() as u32).to_le_bytes());
            out.extend(s.as_bytes());
        }
        Ty::Id => out.extend(hex_of(path, ty, v, Some(32))?),
        Ty::Unit => {
            if !v.is_null() {
                return Err(mismatch(path, ty, v));
            }
        }
        Ty::Vec(item) if **item == Ty::Uint(1) => {
            let bytes = hex_of(path, ty, v, None)?;
            out.extend((bytes.len() as u32).to_le_bytes());
            out.extend(bytes);
        }
        Ty::Array(item, n) if **item == Ty::Uint(1) => out.extend(hex_of(path, ty, v, Some(*n))?),
        Ty::Vec(item) => {
            let items = v.as_array().ok_or_else(|| mismatch(path, ty, v))?;
            out.extend((items.len() as u32).to_le_bytes());
            for (i, x) in items.iter().enumerate() {
                encode(item, x, &format!("{path}[{i}]"), out)?;
            }
        }
        Ty::Array(item, n) => {
            let items = v
                .as_array()
                .filter(|a| a.len() == *n)
                .ok_or_else(|| mismatch(path, ty, v))?;
            for (i, x) in items.iter().enumerate() {
                encode(item, x, &format!("{path}[{i}]"), out)?;
            }
        }
        Ty::Option(inner) => {
            if v.is_null() {
                out.push(0);
            } else {
                out.push(1);
                encode(inner, v, path, out)?;
            }
        }
        Ty::Tuple(items) => {
            let values = v
                .as_array()
                .filter(|a| a.len() == items.len())
                .ok_or_else(|| mismatch(path, ty, v))?;
            for (i, (t, x)) in items.iter().zip(values).enumerate() {
                encode(t, x, &format!("{path}[{i}]"), out)?;
            }
        }
        Ty::Opaque(name) => return Err(CodecError::Opaque { ty: name.clone() }),
    }
    Ok(())
}

struct Reader<'a> {
    bytes: &'a [u8],
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> std::result::Result<&[u8], String> {
        if self.bytes.len() < n {
            return Err(format!("needed {n} more bytes, {} left", self.bytes.len()));
        }
        let (head, tail) = self.bytes.split_at(n);
        self.bytes = tail;
        Ok(head)
    }

    fn len(&mut self) -> std::result::Result<usize, String> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
    }
}

fn read(ty: &Ty, r: &mut Reader<'_>) -> std::result::Result<Value, String> {
    Ok(match ty {
        Ty::Bool => match r.take(1)?[0] {
            0 => Value::Bool(false),
            1 => Value::Bool(true),
            b => return Err(format!("invalid bool byte {b}")),
        },
        Ty::Uint(n) => {
            let mut buf = [0u8; 16];
            buf[..usize::from(*n)].copy_from_slice(r.take(usize::from(*n))?);
            let v = u128::from_le_bytes(buf);
            if *n == 16 {
                Value::String(v.to_string())
            } else {
                Value::Number(Number::from(v as u64))
            }
        }
        Ty::Int(n) => {
            let bytes = r.take(usize::from(*n))?;
            let negative = bytes[usize::from(*n) - 1] & 0x80 != 0;
            let mut buf = if negative { [0xff; 16] } else { [0; 16] };
            buf[..usize::from(*n)].copy_from_slice(bytes);
            let v = i128::from_le_bytes(buf);
            if *n == 16 {
                Value::String(v.to_string())
            } else {
                Value::Number(Number::from(v as i64))
            }
        }
        Ty::String => {
            let n = r.len()?;
            let s = std::str::from_utf8(r.take(n)?).map_err(|e| format!("invalid UTF-8: {e}"))?;
            Value::String(s.to_string())
        }
        Ty::Id => Value::String(crate::json::hex_bytes::encode(r.take(32)?)),
        Ty::Unit => Value::Null,
        Ty::Vec(item) if **item == Ty::Uint(1) => {
            let n = r.len()?;
            Value::String(crate::json::hex_bytes::encode(r.take(n)?))
        }
        Ty::Array(item, n) if **item == Ty::Uint(1) => {
            Value::String(crate::json::hex_bytes::encode(r.take(*n)?))
        }
        Ty::Vec(item) => {
            let n = r.len()?;
            let mut items = Vec::with_capacity(n.min(1024));
            for _ in 0..n {
                items.push(read(item, r)?);
            }
            Value::Array(items)
        }
        Ty::Array(item, n) => Value::Array(
            (0..*n)
                .map(|_| read(item, r))
                .collect::<std::result::Result<_, _>>()?,
        ),
        Ty::Option(inner) => match r.take(1)?[0] {
            0 => Value::Null,
            1 => read(inner, r)?,
            b => return Err(format!("invalid option tag {b}")),
        },
        Ty::Tuple(items) => Value::Array(
            items
                .iter()
                .map(|t| read(t, r))
                .collect::<std::result::Result<_, _>>()?,
        ),
        Ty::Opaque(name) => return Err(format!("`{name}` is defined by the contract")),
    })
}

/// Decodes borsh `bytes` of type `ty` as JSON; every byte must be used.
pub fn decode(ty: &Ty, bytes: &[u8]) -> Result<Value> {
    let mut r = Reader { bytes };
    let error = |reason: String| CodecError::Decode {
        ty: format!("{ty:?}"),
        reason,
    };
    let v = read(ty, &mut r).map_err(error)?;
    if !r.bytes.is_empty() {
        return Err(error(format!("{} bytes left over", r.bytes.len())));
    }
    Ok(v)
}

/// Encodes a method's JSON arguments: an array in order, an object by name, or null/absent when
/// the method takes none. Errors name the argument and its expected type.
pub fn encode_args(method: &MethodAbi, args: Option<&Value>) -> Result<Vec<u8>> {
    let params = &method.args;
    let signature = || {
        let list: Vec<String> = params
            .iter()
            .map(|a| format!("{}: {}", a.name, a.ty))
            .collect();
        format!("{}({})", method.name, list.join(", "))
    };
    let values: Vec<&Value> = match args {
        None | Some(Value::Null) if params.is_empty() => Vec::new(),
        None | Some(Value::Null) => {
            return Err(CodecError::Arity(format!(
                "missing arguments: {} takes {} argument(s)",
                signature(),
                params.len()
            )));
        }
        Some(Value::Array(items)) => {
            if items.len() != params.len() {
                return Err(CodecError::Arity(format!(
                    "{} takes {} argument(s), got {}",
                    signature(),
                    params.len(),
                    items.len()
                )));
            }
            items.iter().collect()
        }
        Some(Value::Object(map)) => by_name(map, method, &signature)?,
        // One argument may be given bare.
        Some(v) if params.len() == 1 => vec![v],
        Some(v) => {
            return Err(CodecError::Arity(format!(
                "arguments must be an array or an object for {}, got {}",
                signature(),
                kind(v)
            )));
        }
    };
    let mut out = Vec::new();
    for (param, value) in params.iter().zip(values) {
        let ty = Ty::parse(&param.ty)?;
        encode(&ty, value, &format!("argument `{}`", param.name), &mut out)?;
    }
    Ok(out)
}

fn by_name<'v>(
    map: &'v Map<String, Value>,
    method: &MethodAbi,
    signature: &dyn Fn() -> String,
) -> Result<Vec<&'v Value>> {
    if let Some(extra) = map
        .keys()
        .find(|k| !method.args.iter().any(|a| &a.name == *k))
    {
        return Err(CodecError::Arity(format!(
            "unknown argument `{extra}` for {}",
            signature()
        )));
    }
    method
        .args
        .iter()
        .map(|a| {
            map.get(&a.name).ok_or_else(|| {
                CodecError::Arity(format!("missing argument `{}` of {}", a.name, signature()))
            })
        })
        .collect()
}

/// Decodes a method's borsh result as JSON, or `None` when it has a contract-defined type.
pub fn decode_result(method: &MethodAbi, bytes: &[u8]) -> Result<Option<Value>> {
    let ty = match &method.returns {
        None => Ty::Unit,
        Some(t) => Ty::parse(t)?,
    };
    if ty.opaque().is_some() {
        return Ok(None);
    }
    decode(&ty, bytes).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use weft_types::{ArgAbi, MethodKind};

    fn method(args: &[(&str, &str)], returns: Option<&str>) -> MethodAbi {
        MethodAbi {
            name: "m".into(),
            kind: MethodKind::Call,
            args: args
                .iter()
                .map(|(n, t)| ArgAbi {
                    name: n.to_string(),
                    ty: t.to_string(),
                })
                .collect(),
            returns: returns.map(str::to_string),
        }
    }

    #[test]
    fn matches_borsh_for_common_types() {
        let m = method(
            &[
                ("name", "String"),
                ("value", "Vec<u8>"),
                ("n", "u64"),
                ("big", "u128"),
                ("neg", "i32"),
                ("who", "Option<weft_sdk::Address>"),
                ("pair", "(String,u32)"),
                ("list", "Vec<u16>"),
                ("fixed", "[u8;4]"),
            ],
            None,
        );
        let who = format!("0x{}", "ab".repeat(32));
        let args = json!([
            "a",
            "0x0102",
            7,
            "340282366920938463463374607431768211455",
            -5,
            who,
            ["x", 9],
            [1, 2],
            "0xdeadbeef"
        ]);
        let expected = borsh::to_vec(&(
            "a".to_string(),
            vec![1u8, 2],
            7u64,
            u128::MAX,
            -5i32,
            Some([0xabu8; 32]),
            ("x".to_string(), 9u32),
            vec![1u16, 2],
            [0xdeu8, 0xad, 0xbe, 0xef],
        ))
        .unwrap();
        assert_eq!(encode_args(&m, Some(&args)).unwrap(), expected);
    }

    #[test]
    fn named_arguments_and_bare_single_argument() {
        let m = method(&[("by", "u64"), ("note", "Option<String>")], None);
        let named = encode_args(&m, Some(&json!({"note": null, "by": 3}))).unwrap();
        assert_eq!(named, borsh::to_vec(&(3u64, None::<String>)).unwrap());
        let one = method(&[("by", "u64")], None);
        assert_eq!(
            encode_args(&one, Some(&json!(3))).unwrap(),
            3u64.to_le_bytes()
        );
    }

    #[test]
    fn errors_say_which_argument_and_what_type() {
        let m = method(&[("by", "u64")], None);
        assert_eq!(
            encode_args(&m, Some(&json!(["x"])))
                .unwrap_err()
                .to_string(),
            "argument `by`: expected an unsigned 64-bit integer, got the string \"x\""
        );
        assert_eq!(
            encode_args(&m, Some(&json!([-1]))).unwrap_err().to_string(),
            "argument `by`: expected an unsigned 64-bit integer, got -1, which is out of range"
        );
        assert_eq!(
            encode_args(&m, Some(&json!([1, 2])))
                .unwrap_err()
                .to_string(),
            "m(by: u64) takes 1 argument(s), got 2"
        );
        assert_eq!(
            encode_args(&m, Some(&json!({"bye": 1})))
                .unwrap_err()
                .to_string(),
            "unknown argument `bye` for m(by: u64)"
        );
        let opaque = method(&[("e", "Entry")], None);
        assert!(
            encode_args(&opaque, Some(&json!([{}])))
                .unwrap_err()
                .to_string()
                .contains("type `Entry` is defined by the contract")
        );
    }

    #[test]
    fn results_decode_and_reject_leftovers() {
        let m = method(&[], Some("Vec<(String,u64)>"));
        let bytes = borsh::to_vec(&vec![("a".to_string(), 1u64)]).unwrap();
        assert_eq!(decode_result(&m, &bytes).unwrap(), Some(json!([["a", 1]])));
        let mut long = bytes.clone();
        long.push(0);
        assert!(decode_result(&m, &long).is_err());
        let opaque = method(&[], Some("Option<Entry>"));
        assert_eq!(decode_result(&opaque, &[0]).unwrap(), None);
    }

    proptest::proptest! {
        #[test]
        fn round_trips(a in proptest::prelude::any::<u64>(), b in proptest::prelude::any::<i64>(),
                       s in ".{0,12}", v in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40)) {
            let ty = Ty::parse("(u64,i64,String,Vec<u8>,Option<u128>)").unwrap();
            let bytes = borsh::to_vec(&(a, b, s.clone(), v.clone(), Some(u128::from(a) << 64))).unwrap();
            let value = decode(&ty, &bytes).unwrap();
            let mut again = Vec::new();
            encode(&ty, &value, "x", &mut again).unwrap();
            proptest::prop_assert_eq!(again, bytes);
        }
    }
}
