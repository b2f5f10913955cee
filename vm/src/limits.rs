//! Limits on what a contract may be (checked at deploy) and do (enforced while it runs).

/// Structural caps checked at deploy, and runtime bounds. The defaults fit Rust contracts built
/// with `weft-sdk` with plenty of room, while bounding compile time, memory and stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmLimits {
    /// Largest accepted code, in bytes.
    pub max_code_size: usize,
    /// Most functions (imported and defined).
    pub max_functions: u32,
    /// Largest function body, in bytes. With the linear-time register allocator this bounds the
    /// per-function part of compile time, so total compile time grows linearly with code size.
    pub max_function_body_size: u32,
    /// Most parameters of a function type.
    pub max_params: u32,
    /// Most results of a function type.
    pub max_results: u32,
    /// Most locals declared in one function. Compile time grows with locals times blocks, so this
    /// bounds the worst case per byte; Rust contracts built with `opt-level=z` use about 15.
    pub max_locals: u32,
    /// Most globals.
    pub max_globals: u32,
    /// Most types in the type section.
    pub max_types: u32,
    /// Most table elements, initially and after growth.
    pub max_table_elements: u32,
    /// Most bytes in data segments.
    pub max_data_bytes: u64,
    /// Most 64 KiB pages of linear memory, initially and after growth.
    pub max_memory_pages: u32,
    /// Native stack available to wasm, in bytes.
    pub max_wasm_stack: usize,
    /// Deepest cross-contract call nesting (the top-level call is depth 1).
    pub max_call_depth: u32,
    /// Longest storage key.
    pub max_key_size: usize,
    /// Longest storage value.
    pub max_value_size: usize,
    /// Longest event topic.
    pub max_event_topic: usize,
    /// Longest event payload.
    pub max_event_data: usize,
    /// Most events in one top-level call.
    pub max_events: usize,
    /// Longest return value or call input.
    pub max_data_size: usize,
}

impl Default for VmLimits {
    fn default() -> Self {
        Self {
            max_code_size: 1024 * 1024,
            max_functions: 10_000,
            max_function_body_size: 128 * 1024,
            max_params: 32,
            max_results: 8,
            max_locals: 1_024,
            max_globals: 1_024,
            max_types: 2_048,
            max_table_elements: 10_000,
            max_data_bytes: 512 * 1024,
            max_memory_pages: 256,
            max_wasm_stack: 512 * 1024,
            max_call_depth: 8,
            max_key_size: 1_024,
            max_value_size: 256 * 1024,
            max_event_topic: 64,
            max_event_data: 16 * 1024,
            max_events: 1_024,
            max_data_size: 256 * 1024,
        }
    }
}

impl VmLimits {
    /// The memory limit in bytes.
    pub fn max_memory_bytes(&self) -> u64 {
        u64::from(self.max_memory_pages) * 65_536
    }
}
