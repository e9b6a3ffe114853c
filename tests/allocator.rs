//! The counting global allocator (src/allocator.rs). One test in its own binary, so no other
//! test allocates while it measures.

use luagate::allocator::used;

#[test]
fn counts_live_bytes_including_a_finished_threads_balance() {
    let before = used();
    let block = vec![7u8; 64 << 20];
    let during = used();
    assert!(
        during >= before + (64 << 20) - (1 << 20),
        "{before} -> {during}"
    );
    drop(block);
    let after = used();
    assert!(after + (63 << 20) <= during, "{during} -> {after}");

    // 40 KB is below the per-thread balance that is published at once: only the thread's end
    // hands it over.
    let before = used();
    let kept = std::thread::spawn(|| vec![1u8; 40 << 10]).join().unwrap();
    let after = used();
    // (The thread's own bookkeeping allocates and frees a little too.)
    assert!(
        after + (4 << 10) >= before + (40 << 10),
        "{before} -> {after}"
    );
    assert!(after < before + (200 << 10), "{before} -> {after}");
    drop(kept);

    // A block growing and shrinking across the small/large boundary moves between the two
    // allocators with its contents.
    let mut v: Vec<u32> = Vec::with_capacity(16);
    for i in 0..100_000u32 {
        v.push(i.wrapping_mul(2_654_435_761));
    }
    v.truncate(100);
    v.shrink_to_fit();
    assert!(v
        .iter()
        .enumerate()
        .all(|(i, &x)| x == (i as u32).wrapping_mul(2_654_435_761)));
}
