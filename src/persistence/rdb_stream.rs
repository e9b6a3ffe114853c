//! The stream part of the DUMP payload (`RDB_TYPE_STREAM_LISTPACKS_2`, Redis 7.0): listpack
//! nodes keyed by their master id, then length, last, first and highest deleted ids, entries
//! added, and the consumer groups with their pending entries and consumers.
//!
//! Invariant: reading checks what it relies on (ids rise strictly, every id a consumer holds
//! is pending in its group and every pending id has a consumer) and never panics; writing puts
//! live entries only, 100 to a node, so a stream's tombstones do not travel.

use super::rdb_value::{count, listpack, listpack_entries, put_string};
use crate::commands::args::parse_i64;
use crate::functions::dump::{put_len, Reader};
use crate::keyspace::stream::{Consumer, ConsumerGroup, Pending, StreamId};
use crate::keyspace::{Str, Stream};

/// Entries per listpack node DUMP writes (`stream-node-max-entries`).
const STREAM_NODE_ENTRIES: usize = 100;
const FLAG_DELETED: i64 = 1;
const FLAG_SAMEFIELDS: i64 = 2;

fn put_raw_id(out: &mut Vec<u8>, id: StreamId) {
    out.extend_from_slice(&id.ms.to_be_bytes());
    out.extend_from_slice(&id.seq.to_be_bytes());
}

fn put_id_lens(out: &mut Vec<u8>, id: StreamId) {
    put_len(out, id.ms as usize);
    put_len(out, id.seq as usize);
}

/// A stream as Redis 7.0 writes it (`RDB_TYPE_STREAM_LISTPACKS_2`): listpack nodes of up to
/// 100 live entries each (deleted entries are not written), then the metadata and the groups.
pub(super) fn put_stream(out: &mut Vec<u8>, st: &Stream) {
    let entries: Vec<_> = st.iter().collect();
    let chunks: Vec<_> = entries.chunks(STREAM_NODE_ENTRIES).collect();
    put_len(out, chunks.len());
    for chunk in &chunks {
        let master = chunk[0].id;
        let master_fields: Vec<&[u8]> = chunk[0]
            .fields
            .iter()
            .step_by(2)
            .map(|f| f.as_bytes())
            .collect();
        let mut items: Vec<Vec<u8>> = vec![
            chunk.len().to_string().into_bytes(),
            b"0".to_vec(),
            master_fields.len().to_string().into_bytes(),
        ];
        items.extend(master_fields.iter().map(|f| f.to_vec()));
        items.push(b"0".to_vec());
        for e in chunk.iter() {
            let names: Vec<&[u8]> = e.fields.iter().step_by(2).map(|f| f.as_bytes()).collect();
            let same = names == master_fields;
            let n = names.len();
            items.push(
                if same { FLAG_SAMEFIELDS } else { 0 }
                    .to_string()
                    .into_bytes(),
            );
            items.push(
                (e.id.ms.wrapping_sub(master.ms) as i64)
                    .to_string()
                    .into_bytes(),
            );
            items.push(
                (e.id.seq.wrapping_sub(master.seq) as i64)
                    .to_string()
                    .into_bytes(),
            );
            if same {
                items.extend(
                    e.fields
                        .iter()
                        .skip(1)
                        .step_by(2)
                        .map(|v| v.as_bytes().to_vec()),
                );
                items.push((n + 3).to_string().into_bytes());
            } else {
                items.push(n.to_string().into_bytes());
                items.extend(e.fields.iter().map(|f| f.as_bytes().to_vec()));
                items.push((2 * n + 4).to_string().into_bytes());
            }
        }
        let mut key = Vec::with_capacity(16);
        put_raw_id(&mut key, master);
        put_string(out, &key);
        put_string(out, &listpack(items.iter().map(|v| v.as_slice())));
    }
    put_len(out, st.len() as usize);
    put_id_lens(out, st.last_id);
    put_id_lens(out, st.first_id());
    put_id_lens(out, st.max_deleted_id);
    put_len(out, st.entries_added as usize);
    put_len(out, st.groups.len());
    for (name, g) in &st.groups {
        put_string(out, name);
        put_id_lens(out, g.last_id);
        put_len(out, g.entries_read.map_or(usize::MAX, |n| n as usize));
        put_len(out, g.pel.len());
        for (id, p) in &g.pel {
            put_raw_id(out, *id);
            out.extend_from_slice(&p.delivery_time.to_le_bytes());
            put_len(out, p.delivery_count as usize);
        }
        put_len(out, g.consumers.len());
        for (cname, c) in &g.consumers {
            put_string(out, cname);
            out.extend_from_slice(&c.seen_time.to_le_bytes());
            put_len(out, c.pel.len());
            for id in &c.pel {
                put_raw_id(out, *id);
            }
        }
    }
}

fn read_raw_id(r: &mut Reader<'_>) -> Option<StreamId> {
    let b = r.take(16)?;
    Some(StreamId::new(
        u64::from_be_bytes(b[..8].try_into().ok()?),
        u64::from_be_bytes(b[8..].try_into().ok()?),
    ))
}

fn read_id_lens(r: &mut Reader<'_>) -> Option<StreamId> {
    Some(StreamId::new(r.plain_len()?, r.plain_len()?))
}

/// A stream from `RDB_TYPE_STREAM_LISTPACKS_2`. Entries are appended in order (deleted ones
/// too, then deleted again, so the nodes keep their tombstones as Redis's did).
pub(super) fn read_stream(r: &mut Reader<'_>) -> Option<Stream> {
    let mut st = Stream::default();
    let mut deleted = Vec::new();
    let nodes = count(r)?;
    for _ in 0..nodes {
        let key = r.string()?;
        if key.len() != 16 {
            return None;
        }
        let master = StreamId::new(
            u64::from_be_bytes(key[..8].try_into().ok()?),
            u64::from_be_bytes(key[8..].try_into().ok()?),
        );
        let items = listpack_entries(&r.string()?)?;
        let mut it = items.iter();
        let live = parse_i64(it.next()?)?;
        let dead = parse_i64(it.next()?)?;
        let nf = usize::try_from(parse_i64(it.next()?)?).ok()?;
        let mut master_fields = Vec::new();
        for _ in 0..nf {
            master_fields.push(it.next()?.clone());
        }
        if parse_i64(it.next()?)? != 0 {
            return None;
        }
        let total = live.checked_add(dead)?;
        for _ in 0..total {
            let flags = parse_i64(it.next()?)?;
            let ms = master.ms.wrapping_add(parse_i64(it.next()?)? as u64);
            let seq = master.seq.wrapping_add(parse_i64(it.next()?)? as u64);
            let id = StreamId::new(ms, seq);
            let mut fields: Vec<Str> = Vec::new();
            if flags & FLAG_SAMEFIELDS != 0 {
                for f in &master_fields {
                    fields.push(Str::new(f));
                    fields.push(Str::new(it.next()?));
                }
            } else {
                let n = usize::try_from(parse_i64(it.next()?)?).ok()?;
                if n > items.len() {
                    return None;
                }
                for _ in 0..2 * n {
                    fields.push(Str::new(it.next()?));
                }
            }
            it.next()?; // lp-count
                        // Ids rise strictly from above 0-0 (which XADD never makes).
            if id <= st.last_id {
                return None;
            }
            st.append(id, fields.into_boxed_slice());
            st.last_id = id;
            if flags & FLAG_DELETED != 0 {
                deleted.push(id);
            }
        }
        if it.next().is_some() {
            return None;
        }
    }
    for id in deleted {
        st.delete(id);
    }
    let _length = r.plain_len()?;
    let last = read_id_lens(r)?;
    if last < st.last_id {
        return None;
    }
    st.last_id = last;
    let _first = read_id_lens(r)?;
    st.max_deleted_id = read_id_lens(r)?;
    st.entries_added = r.plain_len()?;
    let groups = count(r)?;
    for _ in 0..groups {
        let name = r.string()?;
        let mut g = ConsumerGroup {
            last_id: read_id_lens(r)?,
            entries_read: match r.plain_len()? {
                u64::MAX => None,
                n => Some(n),
            },
            ..Default::default()
        };
        let pel = count(r)?;
        for _ in 0..pel {
            let id = read_raw_id(r)?;
            let delivery_time = u64::from_le_bytes(r.take(8)?.try_into().ok()?);
            let delivery_count = r.plain_len()?;
            g.pel.insert(
                id,
                Pending {
                    consumer: bytes::Bytes::new(),
                    delivery_time,
                    delivery_count,
                },
            );
        }
        let consumers = count(r)?;
        for _ in 0..consumers {
            let cname = bytes::Bytes::from(r.string()?);
            let seen_time = u64::from_le_bytes(r.take(8)?.try_into().ok()?);
            let mut c = Consumer {
                seen_time,
                pel: Default::default(),
            };
            let n = count(r)?;
            for _ in 0..n {
                let id = read_raw_id(r)?;
                // Every id a consumer holds must be pending in its group.
                g.pel.get_mut(&id)?.consumer = cname.clone();
                c.pel.insert(id);
            }
            g.consumers.insert(cname, c);
        }
        // And every pending id must belong to a consumer.
        if g.pel
            .values()
            .any(|p| !g.consumers.contains_key(&p.consumer))
        {
            return None;
        }
        if st.groups.insert(bytes::Bytes::from(name), g).is_some() {
            return None;
        }
    }
    Some(st)
}
