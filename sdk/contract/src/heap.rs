//! The contract's heap: a bump allocator that starts in the memory the module already has.
//!
//! A contract instance lives for one call, so nothing needs to be given back to a long-lived
//! heap. Allocations are carved one after another from `__heap_base` (the end of the stack and
//! static data, placed by the linker) to the end of the initial memory; only when that is used
//! up does the heap grow the memory, by as many pages as the allocation needs. The usual Rust
//! allocator grows the memory on its first allocation, which costs the VM a remapping on every
//! call that allocates at all.
//!
//! Freeing the newest allocation gives its space back, and growing the newest allocation extends
//! it in place, so the common patterns (a temporary buffer, a `Vec` pushed to) do not leak; other
//! frees keep their space until the call ends. Memory grown costs gas like any other growth.
//!
//! It is the global allocator of every contract built for `wasm32` with the SDK's default `heap`
//! feature (a contract that brings its own allocator turns the feature off); natively (doctests,
//! unit tests) the platform's allocator is used.

#[cfg(all(target_arch = "wasm32", feature = "heap"))]
mod wasm {
    use core::alloc::{GlobalAlloc, Layout};
    use core::arch::wasm32;
    use core::cell::Cell;

    const PAGE: usize = 65_536;

    unsafe extern "C" {
        /// The first byte after the stack and static data, defined by the linker.
        static __heap_base: u8;
    }

    /// The bump allocator's state: the next free byte, the end of the memory, and where the
    /// newest allocation starts (0 when it was freed).
    pub struct Heap {
        next: Cell<usize>,
        end: Cell<usize>,
        newest: Cell<usize>,
    }

    // SAFETY: a contract instance runs on one thread (wasm32-unknown-unknown has no threads).
    unsafe impl Sync for Heap {}

    impl Heap {
        pub const fn new() -> Self {
            Self {
                next: Cell::new(0),
                end: Cell::new(0),
                newest: Cell::new(0),
            }
        }

        /// Makes `[.., stop)` addressable, growing the memory if needed.
        fn reserve(&self, stop: usize) -> bool {
            if self.end.get() == 0 {
                self.next.set(&raw const __heap_base as usize);
                self.end.set(wasm32::memory_size(0) * PAGE);
            }
            if stop <= self.end.get() {
                return true;
            }
            let pages = (stop - self.end.get()).div_ceil(PAGE);
            if wasm32::memory_grow(0, pages) == usize::MAX {
                return false;
            }
            self.end.set(self.end.get() + pages * PAGE);
            true
        }
    }

    // SAFETY: every block handed out lies in addressable memory, is aligned as asked, and does
    // not overlap a live block (blocks only come from above `next`, and `next` only moves back
    // over the newest block when that block is freed or resized).
    unsafe impl GlobalAlloc for Heap {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            if !self.reserve(0) {
                return core::ptr::null_mut();
            }
            let align = layout.align() - 1;
            let Some(start) = self.next.get().checked_add(align).map(|n| n & !align) else {
                return core::ptr::null_mut();
            };
            let Some(stop) = start.checked_add(layout.size()) else {
                return core::ptr::null_mut();
            };
            if !self.reserve(stop) {
                return core::ptr::null_mut();
            }
            self.next.set(stop);
            self.newest.set(start);
            start as *mut u8
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            let start = ptr as usize;
            if start == self.newest.get() && start + layout.size() == self.next.get() {
                self.next.set(start);
                self.newest.set(0);
            }
        }

        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            let start = ptr as usize;
            if start == self.newest.get() && start + layout.size() == self.next.get() {
                let Some(stop) = start.checked_add(new_size) else {
                    return core::ptr::null_mut();
                };
                if !self.reserve(stop) {
                    return core::ptr::null_mut();
                }
                self.next.set(stop);
                return ptr;
            }
            if new_size <= layout.size() {
                return ptr;
            }
            // SAFETY: the caller guarantees a valid layout for `new_size`; the old block stays
            // valid until it is copied.
            unsafe {
                let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
                let new = self.alloc(new_layout);
                if !new.is_null() {
                    core::ptr::copy_nonoverlapping(ptr, new, layout.size());
                }
                new
            }
        }
    }

    #[global_allocator]
    static HEAP: Heap = Heap::new();
}
