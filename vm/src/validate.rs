//! Deploy-time validation: the module must be valid WebAssembly using only the enabled proposals,
//! import only from the `weft` host module with the right signatures, define exactly one memory,
//! stay within the structural caps of [`VmLimits`], and carry an ABI consistent with its exports.
//! Each rejection says which rule was broken and by how much.

use crate::abi::{HOST_FUNCTIONS, HOST_MODULE};
use crate::{ValidationError, VmLimits};
use wasmparser::{
    ExternalKind, FuncValidatorAllocations, Parser, Payload, TypeRef, ValType, ValidPayload,
    Validator, WasmFeatures,
};
use weft_types::ContractAbi;
use weft_types::abi::{ABI_SECTION, EXPORT_PREFIX};

/// The WebAssembly proposals contracts may use: WebAssembly 2.0 without SIMD and without
/// `externref` (no garbage-collected types; `funcref` tables stay). Threads, relaxed SIMD,
/// memory64, multi-memory, GC, exceptions and tail calls are off. The engine is configured with the
/// same set.
pub fn features() -> WasmFeatures {
    WasmFeatures::WASM2 - WasmFeatures::SIMD - WasmFeatures::RELAXED_SIMD - WasmFeatures::GC_TYPES
}

/// What deploy learns from a valid module.
#[derive(Debug, Clone)]
pub struct ValidatedModule {
    /// The contract's ABI, from its `weft_abi` custom section.
    pub abi: ContractAbi,
    /// What compiling the module costs, in weighted bytes: each function body counts its size
    /// times `1 + locals / 32`, because translation work grows with locals live across blocks
    /// (measured in benches/RESULTS.md). Deploy gas charges for this before compiling.
    pub compile_weight: u64,
}

fn invalid(e: wasmparser::BinaryReaderError) -> ValidationError {
    ValidationError::Invalid(e.to_string())
}

fn limit(what: impl Into<String>, actual: u64, limit: u64) -> Result<(), ValidationError> {
    if actual > limit {
        return Err(ValidationError::Limit {
            what: what.into(),
            actual,
            limit,
        });
    }
    Ok(())
}

fn signature(params: &[ValType], results: &[ValType]) -> String {
    let list = |tys: &[ValType]| {
        tys.iter()
            .map(|t| t.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!("({}) -> ({})", list(params), list(results))
}

/// Validates `code` against `limits`.
pub fn validate(code: &[u8], limits: &VmLimits) -> Result<ValidatedModule, ValidationError> {
    limit_code_size(code, limits)?;
    let mut validator = Validator::new_with_features(features());
    let mut allocs = FuncValidatorAllocations::default();
    let mut func_imports: Vec<(String, u32)> = Vec::new();
    let mut exports: Vec<(String, ExternalKind, u32)> = Vec::new();
    let mut abi_bytes = Vec::new();
    let mut memories = 0u32;
    let mut tables = 0u32;
    let mut data_bytes = 0u64;
    let mut types = None;
    let mut body_index = 0u32;
    let mut compile_weight = 0u64;

    for payload in Parser::new(0).parse_all(code) {
        let payload = payload.map_err(invalid)?;
        // Structural caps come before the validator sees the payload, so an oversized module is
        // rejected before its bodies are validated.
        match &payload {
            Payload::TypeSection(r) => limit(
                "the number of types",
                r.count().into(),
                limits.max_types.into(),
            )?,
            Payload::ImportSection(r) => {
                for import in r.clone().into_imports() {
                    let import = import.map_err(invalid)?;
                    let forbidden = |reason: String| ValidationError::ForbiddenImport {
                        module: import.module.to_string(),
                        name: import.name.to_string(),
                        reason,
                    };
                    if import.module != HOST_MODULE {
                        return Err(forbidden(format!(
                            "contracts may import only from the `{HOST_MODULE}` host module"
                        )));
                    }
                    let TypeRef::Func(type_index) = import.ty else {
                        return Err(forbidden(
                            "contracts may import only functions; memories, tables and globals must be defined by the contract".into(),
                        ));
                    };
                    func_imports.push((import.name.to_string(), type_index));
                }
            }
            Payload::FunctionSection(r) => {
                let total = u64::from(r.count()) + func_imports.len() as u64;
                limit(
                    "the number of functions",
                    total,
                    limits.max_functions.into(),
                )?;
            }
            Payload::TableSection(r) => {
                tables += r.count();
                limit("the number of tables", tables.into(), 1)?;
                for table in r.clone() {
                    let table = table.map_err(invalid)?;
                    limit(
                        "the initial table size",
                        table.ty.initial,
                        limits.max_table_elements.into(),
                    )?;
                }
            }
            Payload::MemorySection(r) => {
                memories += r.count();
                if memories > 1 {
                    return Err(ValidationError::Memory(format!("defines {memories}")));
                }
                for memory in r.clone() {
                    let memory = memory.map_err(invalid)?;
                    limit(
                        "the initial memory size in 64 KiB pages",
                        memory.initial,
                        limits.max_memory_pages.into(),
                    )?;
                }
            }
            Payload::GlobalSection(r) => limit(
                "the number of globals",
                r.count().into(),
                limits.max_globals.into(),
            )?,
            Payload::ExportSection(r) => {
                for export in r.clone() {
                    let export = export.map_err(invalid)?;
                    exports.push((export.name.to_string(), export.kind, export.index));
                }
            }
            Payload::StartSection { .. } => return Err(ValidationError::StartFunction),
            Payload::DataSection(r) => {
                for data in r.clone() {
                    data_bytes += data.map_err(invalid)?.data.len() as u64;
                }
                limit(
                    "the size of data segments in bytes",
                    data_bytes,
                    limits.max_data_bytes,
                )?;
            }
            Payload::CodeSectionEntry(body) => {
                let index = func_imports.len() as u32 + body_index;
                body_index += 1;
                limit(
                    format!("the body of function {index} in bytes"),
                    body.range().len() as u64,
                    limits.max_function_body_size.into(),
                )?;
                let mut locals = 0u64;
                for entry in body.get_locals_reader().map_err(invalid)? {
                    locals += u64::from(entry.map_err(invalid)?.0);
                }
                limit(
                    format!("the number of locals of function {index}"),
                    locals,
                    limits.max_locals.into(),
                )?;
                compile_weight += body.range().len() as u64 * (1 + locals / 32);
            }
            Payload::CustomSection(r) if r.name() == ABI_SECTION => {
                abi_bytes.extend_from_slice(r.data())
            }
            _ => {}
        }
        match validator.payload(&payload).map_err(invalid)? {
            ValidPayload::Func(to_validate, body) => {
                let mut func = to_validate.into_validator(std::mem::take(&mut allocs));
                func.validate(&body).map_err(invalid)?;
                allocs = func.into_allocations();
            }
            ValidPayload::End(t) => types = Some(t),
            _ => {}
        }
    }
    let types = types.ok_or_else(|| ValidationError::Invalid("unexpected end of module".into()))?;
    let types = types.as_ref();

    match memories {
        1 => {}
        0 => return Err(ValidationError::Memory("defines none".into())),
        n => return Err(ValidationError::Memory(format!("defines {n}"))),
    }
    if !exports
        .iter()
        .any(|(name, kind, _)| name == "memory" && *kind == ExternalKind::Memory)
    {
        return Err(ValidationError::Memory(
            "does not export it as `memory`".into(),
        ));
    }

    let func_type = |index: u32| types[types.core_function_at(index)].unwrap_func().clone();
    for index in 0..types.function_count() {
        let ty = func_type(index);
        limit(
            format!("the number of parameters of function {index}"),
            ty.params().len() as u64,
            limits.max_params.into(),
        )?;
        limit(
            format!("the number of results of function {index}"),
            ty.results().len() as u64,
            limits.max_results.into(),
        )?;
    }
    for (index, (name, _)) in func_imports.iter().enumerate() {
        let forbidden = |reason: String| ValidationError::ForbiddenImport {
            module: HOST_MODULE.into(),
            name: name.clone(),
            reason,
        };
        let Some(host) = HOST_FUNCTIONS.iter().find(|f| f.name == name) else {
            let known: Vec<&str> = HOST_FUNCTIONS.iter().map(|f| f.name).collect();
            return Err(forbidden(format!(
                "no such host function; host ABI v1 provides: {}",
                known.join(", ")
            )));
        };
        let ty = func_type(index as u32);
        if ty.params() != host.params || ty.results() != host.results {
            return Err(forbidden(format!(
                "the host function has type {} but the contract imports it as {}",
                signature(host.params, host.results),
                signature(ty.params(), ty.results())
            )));
        }
    }

    if abi_bytes.is_empty() {
        return Err(ValidationError::Abi(format!(
            "the module has no `{ABI_SECTION}` custom section; build the contract with weft-sdk's method macros"
        )));
    }
    let abi = ContractAbi::from_section(&abi_bytes)?;
    for method in &abi.methods {
        let export = format!("{EXPORT_PREFIX}{}", method.name);
        let Some((_, kind, index)) = exports.iter().find(|(name, _, _)| *name == export) else {
            return Err(ValidationError::Abi(format!(
                "method `{}` is in the ABI but the module does not export `{export}`",
                method.name
            )));
        };
        let ty = (*kind == ExternalKind::Func).then(|| func_type(*index));
        if !ty.is_some_and(|ty| ty.params().is_empty() && ty.results().is_empty()) {
            return Err(ValidationError::Abi(format!(
                "export `{export}` must be a function of type () -> ()"
            )));
        }
    }
    for (name, _, _) in &exports {
        if let Some(method) = name.strip_prefix(EXPORT_PREFIX)
            && abi.method(method).is_none()
        {
            return Err(ValidationError::Abi(format!(
                "export `{name}` has no entry in the ABI"
            )));
        }
    }
    Ok(ValidatedModule {
        abi,
        compile_weight,
    })
}

fn limit_code_size(code: &[u8], limits: &VmLimits) -> Result<(), ValidationError> {
    if code.len() > limits.max_code_size {
        return Err(ValidationError::CodeTooLarge {
            size: code.len(),
            limit: limits.max_code_size,
        });
    }
    Ok(())
}

/// Reads the ABI of code that was validated at deploy (cheap: it scans sections without
/// validating bodies).
pub fn read_abi(code: &[u8]) -> Result<ContractAbi, ValidationError> {
    let mut abi_bytes = Vec::new();
    for payload in Parser::new(0).parse_all(code) {
        if let Payload::CustomSection(r) = payload.map_err(invalid)?
            && r.name() == ABI_SECTION
        {
            abi_bytes.extend_from_slice(r.data());
        }
    }
    Ok(ContractAbi::from_section(&abi_bytes)?)
}
