//! `ThinBytes`: an immutable, reference-counted byte string behind one thin pointer.
//!
//! Invariant: `ptr` points to a live allocation made by `ThinBytes::new` with `layout(len)`:
//! a `Header` (reference count, length) followed by exactly `len` initialized bytes. The
//! allocation is freed once, by the drop that brings the count from 1 to 0. The bytes are never
//! written after `new`, so shared references to them may cross threads (replies hold them).
//!
//! Why not `Arc<[u8]>`: that is a fat pointer (16 bytes), and the keyspace's `Str` must fit in
//! 16 bytes including its tag; the length moves into the allocation instead.

use std::alloc::{alloc, dealloc, handle_alloc_error, Layout};
use std::ptr::NonNull;
use std::sync::atomic::{fence, AtomicUsize, Ordering};

#[repr(C)]
struct Header {
    refs: AtomicUsize,
    len: usize,
}

/// Where the bytes start inside the allocation (`Header` is 16 bytes, the bytes need no
/// alignment).
const DATA: usize = std::mem::size_of::<Header>();

pub struct ThinBytes {
    ptr: NonNull<Header>,
}

// SAFETY: the bytes are immutable after construction and the count is atomic, exactly as for
// `Arc<[u8]>`, which is `Send + Sync`.
unsafe impl Send for ThinBytes {}
// SAFETY: as above: `&ThinBytes` only gives shared reads and atomic count updates.
unsafe impl Sync for ThinBytes {}

fn layout(len: usize) -> Layout {
    // A length that exists as a slice is at most isize::MAX, but header + bytes might not be.
    match Layout::from_size_align(DATA.saturating_add(len), std::mem::align_of::<Header>()) {
        Ok(l) => l,
        Err(_) => handle_alloc_error(Layout::new::<Header>()),
    }
}

impl ThinBytes {
    pub fn new(b: &[u8]) -> ThinBytes {
        let layout = layout(b.len());
        // SAFETY: `layout` has a non-zero size (at least the header).
        let raw = unsafe { alloc(layout) } as *mut Header;
        let Some(ptr) = NonNull::new(raw) else {
            handle_alloc_error(layout)
        };
        // SAFETY: `ptr` is a fresh allocation of `DATA + b.len()` bytes aligned for `Header`:
        // the header fits at its start and `b.len()` bytes after it; `b` cannot overlap it.
        unsafe {
            ptr.as_ptr().write(Header {
                refs: AtomicUsize::new(1),
                len: b.len(),
            });
            std::ptr::copy_nonoverlapping(b.as_ptr(), raw.cast::<u8>().add(DATA), b.len());
        }
        ThinBytes { ptr }
    }

    fn header(&self) -> &Header {
        // SAFETY: the allocation is live while `self` holds a count (module invariant).
        unsafe { self.ptr.as_ref() }
    }

    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        let len = self.header().len;
        // SAFETY: `len` initialized bytes follow the header, are never written again, and
        // live at least as long as `self` (module invariant).
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr().cast::<u8>().add(DATA), len) }
    }
}

impl Clone for ThinBytes {
    fn clone(&self) -> ThinBytes {
        // Relaxed suffices for an increment (as in `Arc`): the clone comes from a live count.
        let old = self.header().refs.fetch_add(1, Ordering::Relaxed);
        if old > isize::MAX as usize {
            // Leaked clones could otherwise wrap the count and free live memory.
            std::process::abort();
        }
        ThinBytes { ptr: self.ptr }
    }
}

impl Drop for ThinBytes {
    fn drop(&mut self) {
        if self.header().refs.fetch_sub(1, Ordering::Release) != 1 {
            return;
        }
        // Every other owner's last use happens before this free (the `Arc` protocol).
        fence(Ordering::Acquire);
        let layout = layout(self.header().len);
        // SAFETY: the count reached 0, so this is the only owner; the allocation was made with
        // this layout (same length) and is freed exactly once.
        unsafe { dealloc(self.ptr.as_ptr().cast::<u8>(), layout) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_clone_drop() {
        for n in [0usize, 1, 15, 16, 17, 64, 65, 4096, 1 << 20] {
            let src: Vec<u8> = (0..n).map(|i| i as u8).collect();
            let a = ThinBytes::new(&src);
            assert_eq!(a.as_bytes(), &src[..]);
            let b = a.clone();
            drop(a);
            assert_eq!(b.as_bytes(), &src[..]);
            let c = b.clone();
            drop(b);
            assert_eq!(c.as_bytes().len(), n);
        }
    }

    #[test]
    fn shared_across_threads() {
        let a = ThinBytes::new(&[9u8; 1000]);
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let c = a.clone();
                std::thread::spawn(move || {
                    let mut v = Vec::new();
                    for _ in 0..100 {
                        v.push(c.clone());
                    }
                    v.iter().all(|x| x.as_bytes() == [9u8; 1000])
                })
            })
            .collect();
        drop(a);
        for h in handles {
            assert!(h.join().unwrap());
        }
    }
}
