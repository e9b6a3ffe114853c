//! Micro-benchmarks of the hot, pure parts of the request path: RESP request decoding, hash
//! slot computation and reply encoding. They run without a server or sockets, so they measure
//! our code alone: `cargo bench --bench micro` (`-- decode` to pick a group).
//!
//! Each decoder benchmark feeds the whole input as one buffer, the way a pipelined client's
//! bytes arrive in one read, and counts throughput in bytes so runs with different inputs
//! compare directly.

use bytes::{Bytes, BytesMut};
use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use luagate::protocol::{Reply, RequestDecoder};
use luagate::slot::key_slot;

fn multibulk(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// A pipeline of `n` SET/GET pairs on distinct keys, as redis-benchmark -P sends them.
fn set_get_pipeline(n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..n {
        let key = format!("key:{i:012}");
        out.extend(multibulk(&[b"SET", key.as_bytes(), b"xxxxxxxxxx"]));
        out.extend(multibulk(&[b"GET", key.as_bytes()]));
    }
    out
}

/// Decodes every command in `buf`; returns how many there were.
fn decode_all(mut buf: BytesMut) -> usize {
    let mut d = RequestDecoder::default();
    let mut n = 0;
    while let Ok(Some(args)) = d.decode(&mut buf) {
        black_box(&args);
        n += 1;
    }
    n
}

fn bench_decode(c: &mut Criterion) {
    let mut g = c.benchmark_group("decode");
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("pipeline_set_get_1000", set_get_pipeline(500)),
        (
            "large_bulk_1MiB",
            multibulk(&[b"SET", b"big", &vec![b'x'; 1 << 20]]),
        ),
        (
            "inline_1000",
            b"SET key:000000000001 \"hello world\"\r\nGET key:000000000001\r\n".repeat(500),
        ),
    ];
    for (name, input) in &cases {
        g.throughput(Throughput::Bytes(input.len() as u64));
        g.bench_function(*name, |b| {
            // The copy into a fresh buffer is setup, outside the timing.
            b.iter_batched(
                || BytesMut::from(&input[..]),
                decode_all,
                BatchSize::SmallInput,
            )
        });
    }
    // The same pipeline arriving in 1460-byte segments (one TCP MSS at a time): the decoder
    // must resume mid-element without rescanning what it has already seen.
    let input = set_get_pipeline(500);
    g.throughput(Throughput::Bytes(input.len() as u64));
    g.bench_function("pipeline_set_get_1000_segmented", |b| {
        b.iter(|| {
            let mut d = RequestDecoder::default();
            let mut buf = BytesMut::with_capacity(64 * 1024);
            let mut n = 0;
            for chunk in input.chunks(1460) {
                buf.extend_from_slice(chunk);
                while let Ok(Some(args)) = d.decode(&mut buf) {
                    black_box(&args);
                    n += 1;
                }
            }
            n
        })
    });
    g.finish();
}

fn bench_slot(c: &mut Criterion) {
    let mut g = c.benchmark_group("slot");
    let keys: Vec<Vec<u8>> = (0..1000)
        .map(|i| format!("key:{i:012}").into_bytes())
        .collect();
    let tagged: Vec<Vec<u8>> = (0..1000)
        .map(|i| format!("{{user{}}}:profile:{i}", i % 37).into_bytes())
        .collect();
    g.throughput(Throughput::Elements(keys.len() as u64));
    g.bench_function("key_slot_1000_plain", |b| {
        b.iter(|| {
            keys.iter()
                .map(|k| key_slot(black_box(k)).get() as u64)
                .sum::<u64>()
        })
    });
    g.bench_function("key_slot_1000_hashtag", |b| {
        b.iter(|| {
            tagged
                .iter()
                .map(|k| key_slot(black_box(k)).get() as u64)
                .sum::<u64>()
        })
    });
    g.finish();
}

fn bench_encode(c: &mut Criterion) {
    let mut g = c.benchmark_group("encode");
    let value = Bytes::from_static(b"xxxxxxxxxx");
    let cases: Vec<(&str, Vec<Reply>)> = vec![
        ("ok_1000", vec![Reply::ok(); 1000]),
        ("bulk10_1000", vec![Reply::Bulk(value.clone()); 1000]),
        ("int_1000", (0..1000).map(Reply::Int).collect()),
        (
            "array_of_100_bulks_x10",
            vec![Reply::Array(vec![Reply::Bulk(value.clone()); 100]); 10],
        ),
        (
            "map_of_50_pairs_x10",
            vec![
                Reply::Map(
                    (0..50)
                        .map(|i| (
                            Reply::bulk_str(&format!("f{i}")),
                            Reply::Double(i as f64 + 0.5)
                        ))
                        .collect()
                );
                10
            ],
        ),
    ];
    for (name, replies) in &cases {
        for resp in [2u8, 3] {
            g.bench_function(format!("{name}_resp{resp}"), |b| {
                let mut out = BytesMut::with_capacity(64 * 1024);
                b.iter(|| {
                    out.clear();
                    for r in replies {
                        r.encode(resp, &mut out);
                    }
                    out.len()
                })
            });
        }
    }
    g.finish();
}

criterion_group!(benches, bench_decode, bench_slot, bench_encode);
criterion_main!(benches);
