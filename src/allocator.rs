//! The process's global allocator. Small blocks come from jemalloc, large ones from the
//! system allocator (glibc), and live bytes are counted so `used_memory` (INFO, the
//! `maxmemory` check) is known at any moment without asking malloc.
//!
//! Why two: small blocks churn (Lua strings and tables, argument buffers, hash entries), and
//! jemalloc's thread caches and size-class slabs serve them with far fewer cache misses than
//! glibc's bins, which also consolidate fragments on the next large request (callgrind, pinned
//! 5-call script: 173 -> 134 first-level read misses per call). Large blocks are the keyspace's
//! tables, which glibc fits exactly where jemalloc rounds up to a size class (up to 25%: the
//! memory per key went from 90 to 101-127 bytes with jemalloc alone). `mallinfo2` is not used
//! for the count: it walks every free chunk under the arena locks, milliseconds per call on a
//! churning heap.
//!
//! Invariants:
//! - A block's allocator is decided by its size alone (`LARGE`), which `dealloc` and
//!   `realloc` are given back unchanged, so every block returns to the allocator it came from;
//!   a `realloc` across the boundary moves the block.
//! - [`used`] is the requested size of all live Rust allocations (Lua's included: mlua
//!   allocates through this allocator) to within `FLUSH_AT` bytes per running thread. Each
//!   thread keeps its changes in a thread-local balance and adds it to the shared total once it
//!   passes ±`FLUSH_AT`, or when the thread exits, so the shared counter is written rarely.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicIsize, AtomicU64, Ordering::Relaxed};
use tikv_jemallocator::Jemalloc;

/// Blocks of at least this many bytes come from the system allocator.
const LARGE: usize = 4096;

/// Largest balance a thread keeps to itself.
const FLUSH_AT: isize = 64 * 1024;

static USED: AtomicIsize = AtomicIsize::new(0);

/// A thread's balance, handed to the shared total when the thread ends.
struct Balance(Cell<isize>);

impl Drop for Balance {
    fn drop(&mut self) {
        USED.fetch_add(self.0.replace(0), Relaxed);
    }
}

thread_local! {
    static BALANCE: Balance = const { Balance(Cell::new(0)) };
}

#[inline]
fn note(delta: isize) {
    let kept = BALANCE.try_with(|b| {
        let v = b.0.get() + delta;
        if v.abs() > FLUSH_AT {
            USED.fetch_add(v, Relaxed);
            b.0.set(0);
        } else {
            b.0.set(v);
        }
    });
    // The thread is past its thread-locals' destruction: count directly.
    if kept.is_err() {
        USED.fetch_add(delta, Relaxed);
    }
}

/// Bytes in live allocations (see the module invariant for its precision).
pub fn used() -> u64 {
    USED.load(Relaxed).max(0) as u64
}

static STARTUP: AtomicU64 = AtomicU64::new(0);

/// Records what the server uses before it holds any data (`used_memory_startup`).
pub fn mark_startup() {
    STARTUP.store(used(), Relaxed);
}

pub fn startup() -> u64 {
    STARTUP.load(Relaxed)
}

/// jemalloc's statistics report as text (MEMORY MALLOC-STATS).
pub fn malloc_stats() -> String {
    unsafe extern "C" fn write(out: *mut std::ffi::c_void, text: *const std::ffi::c_char) {
        // SAFETY: `out` is the String passed below, alive for the whole call; jemalloc hands
        // over NUL-terminated text.
        let (out, text) = unsafe { (&mut *(out as *mut String), std::ffi::CStr::from_ptr(text)) };
        out.push_str(&text.to_string_lossy());
    }
    let mut out = String::new();
    // SAFETY: the callback only appends to `out`, which outlives the call; no options.
    unsafe {
        tikv_jemalloc_sys::malloc_stats_print(
            Some(write),
            &mut out as *mut String as *mut std::ffi::c_void,
            std::ptr::null(),
        )
    };
    out
}

/// Returns free pages to the system: jemalloc's dirty pages of every arena, and glibc's free
/// memory at the top of its heaps (MEMORY PURGE).
pub fn purge() {
    // MALLCTL_ARENAS_ALL: the pseudo-arena index that means every arena.
    let name = c"arena.4096.purge";
    // SAFETY: a void mallctl that reads and writes nothing; glibc's trim has no preconditions.
    unsafe {
        tikv_jemalloc_sys::mallctl(
            name.as_ptr(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            0,
        );
        libc::malloc_trim(0);
    }
}

pub struct Counting;

/// Counts a new block of `size` bytes at `p` (none if the allocation failed).
#[inline]
fn counted(p: *mut u8, size: usize) -> *mut u8 {
    if !p.is_null() {
        note(size as isize);
    }
    p
}

/// A fresh block from the allocator its size selects.
#[inline]
unsafe fn fresh(layout: Layout, zeroed: bool) -> *mut u8 {
    let p = match (layout.size() < LARGE, zeroed) {
        (true, false) => Jemalloc.alloc(layout),
        (true, true) => Jemalloc.alloc_zeroed(layout),
        (false, false) => System.alloc(layout),
        (false, true) => System.alloc_zeroed(layout),
    };
    counted(p, layout.size())
}

/// Returns a block to the allocator its size selected.
#[inline]
unsafe fn release(ptr: *mut u8, layout: Layout) {
    if layout.size() < LARGE {
        Jemalloc.dealloc(ptr, layout)
    } else {
        System.dealloc(ptr, layout)
    }
    note(-(layout.size() as isize));
}

// SAFETY: each block is served and freed by the one allocator its size selects (see the module
// invariant), with the caller's arguments; a realloc across `LARGE` allocates in the other one,
// copies the smaller of the two sizes and frees the old block. Counting only touches atomics
// and a const-initialized thread-local, which never allocate.
unsafe impl GlobalAlloc for Counting {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        fresh(layout, false)
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        fresh(layout, true)
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        release(ptr, layout)
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let delta = new_size as isize - layout.size() as isize;
        match (layout.size() < LARGE, new_size < LARGE) {
            (true, true) => {
                let p = Jemalloc.realloc(ptr, layout, new_size);
                if !p.is_null() {
                    note(delta);
                }
                p
            }
            (false, false) => {
                let p = System.realloc(ptr, layout, new_size);
                if !p.is_null() {
                    note(delta);
                }
                p
            }
            _ => {
                let p = fresh(
                    Layout::from_size_align_unchecked(new_size, layout.align()),
                    false,
                );
                if !p.is_null() {
                    std::ptr::copy_nonoverlapping(ptr, p, layout.size().min(new_size));
                    release(ptr, layout);
                }
                p
            }
        }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;
