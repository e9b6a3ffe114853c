//! The process's global allocator: the system allocator, counting the bytes of live
//! allocations, so `used_memory` (INFO, the `maxmemory` check) is known at any moment without
//! asking malloc. (glibc's `mallinfo2` walks every free chunk under the arena locks: with a
//! churning heap that took milliseconds per call and 3% of a pipelined script benchmark when a
//! timer asked ten times a second.)
//!
//! Invariant: [`used`] is the requested size of all live Rust allocations (Lua's included: mlua
//! allocates through this allocator) to within `FLUSH_AT` bytes per running thread. Each thread
//! keeps its changes in a thread-local balance and adds it to the shared total once it passes
//! ±`FLUSH_AT`, or when the thread exits, so the shared counter is written rarely, not per
//! allocation.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicIsize, Ordering::Relaxed};

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

pub struct Counting;

// SAFETY: every method forwards to `System` with the caller's arguments unchanged; counting
// only touches atomics and a const-initialized thread-local, which never allocate.
unsafe impl GlobalAlloc for Counting {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            note(layout.size() as isize);
        }
        p
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc_zeroed(layout);
        if !p.is_null() {
            note(layout.size() as isize);
        }
        p
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        note(-(layout.size() as isize));
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = System.realloc(ptr, layout, new_size);
        if !p.is_null() {
            note(new_size as isize - layout.size() as isize);
        }
        p
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;
