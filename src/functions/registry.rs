//! The library registry: one immutable snapshot shared by every shard and connection.
//!
//! Invariants:
//! - Readers (FCALL, FUNCTION LIST, the shard VMs) load the current snapshot and never lock.
//!   Writers serialize on one mutex, build the next snapshot, persist it (when a file is set)
//!   and only then publish it: a change that could not be saved is refused and changes nothing.
//! - In a snapshot, library names are unique (case-sensitive) and function names are unique
//!   across all libraries (case-insensitive, as Redis's function dictionary is).

use super::dump;
use super::library::{flags_from_names, parse_header, FunctionMeta, Library};
use super::persist;
use crate::scripting::registry::Footprint;
use arc_swap::ArcSwap;
use bytes::Bytes;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

#[derive(Default, Clone)]
pub struct LibSet {
    pub libs: BTreeMap<String, Arc<Library>>,
    /// Lowercase function name → (library, index in its `functions`).
    pub functions: HashMap<String, (Arc<Library>, usize), foldhash::fast::RandomState>,
}

impl LibSet {
    pub fn function(&self, name: &[u8]) -> Option<(Arc<Library>, usize)> {
        // Names are ASCII: lowercase a short one on the stack (FCALL asks on every call).
        let mut buf = [0u8; 64];
        if name.len() <= buf.len() && name.is_ascii() {
            for (d, s) in buf.iter_mut().zip(name) {
                *d = s.to_ascii_lowercase();
            }
            let key = std::str::from_utf8(&buf[..name.len()]).ok()?;
            return self.functions.get(key).cloned();
        }
        let key = String::from_utf8_lossy(name).to_ascii_lowercase();
        self.functions.get(&key).cloned()
    }

    pub fn function_count(&self) -> usize {
        self.functions.len()
    }

    /// Adds `lib`, refusing a function name another library already has.
    fn add(&mut self, lib: Arc<Library>) -> Result<(), String> {
        for f in &lib.functions {
            if self.functions.contains_key(&f.name.to_ascii_lowercase()) {
                return Err(format!("ERR Function {} already exists", f.name));
            }
        }
        for (i, f) in lib.functions.iter().enumerate() {
            self.functions
                .insert(f.name.to_ascii_lowercase(), (lib.clone(), i));
        }
        self.libs.insert(lib.name.clone(), lib);
        Ok(())
    }

    fn remove(&mut self, name: &str) -> Option<Arc<Library>> {
        let lib = self.libs.remove(name)?;
        for f in &lib.functions {
            self.functions.remove(&f.name.to_ascii_lowercase());
        }
        Some(lib)
    }

    /// The FUNCTION DUMP payload of this set.
    pub fn dump(&self) -> Vec<u8> {
        dump::encode(self.libs.values().map(|l| &l.code[..]))
    }
}

/// How FUNCTION RESTORE treats libraries already loaded.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Policy {
    Flush,
    Append,
    Replace,
}

pub struct Functions {
    snap: ArcSwap<LibSet>,
    write: Mutex<()>,
    next_id: AtomicU64,
    shards: usize,
    /// The file every change is saved to (none until `open` is called).
    file: Mutex<Option<PathBuf>>,
}

impl Functions {
    pub fn new(shards: usize) -> Functions {
        Functions {
            snap: ArcSwap::from_pointee(LibSet::default()),
            write: Mutex::new(()),
            next_id: AtomicU64::new(1),
            shards,
            file: Mutex::new(None),
        }
    }

    pub fn snapshot(&self) -> Arc<LibSet> {
        self.snap.load_full()
    }

    /// `LibSet::function` on the current snapshot (without taking a reference to it).
    pub fn function(&self, name: &[u8]) -> Option<(Arc<Library>, usize)> {
        self.snap.load().function(name)
    }

    /// Parses and runs `code` (on this thread's checker VM) into a library.
    pub fn compile(&self, code: Bytes, memory_limit: u64) -> Result<Library, String> {
        let name = parse_header(&code)?;
        self.build(name, code, memory_limit)
    }

    fn build(&self, name: String, code: Bytes, memory_limit: u64) -> Result<Library, String> {
        let regs = super::loader::check_library(&code, memory_limit)?;
        let functions = regs
            .into_iter()
            .map(|(fname, description, flags)| FunctionMeta {
                name: fname,
                description,
                flags: flags_from_names(flags.iter().map(String::as_str)),
                footprint: Footprint::new(self.shards),
            })
            .collect();
        Ok(Library {
            id: self.next_id.fetch_add(1, Relaxed),
            name,
            code,
            functions,
        })
    }

    /// Saves `next` and publishes it.
    fn commit(&self, next: LibSet) -> Result<(), String> {
        let file = self.file.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some(path) = file {
            persist::write_atomic(&path, &next.dump()).map_err(|e| {
                format!(
                    "ERR could not save function libraries to {}: {e}",
                    path.display()
                )
            })?;
        }
        self.snap.store(Arc::new(next));
        Ok(())
    }

    /// FUNCTION LOAD [REPLACE]: returns the library name.
    pub fn load(&self, code: Bytes, replace: bool, memory_limit: u64) -> Result<String, String> {
        let name = parse_header(&code)?;
        let exists = |name: &str| self.snap.load().libs.contains_key(name);
        if !replace && exists(&name) {
            return Err(format!("ERR Library '{name}' already exists"));
        }
        let lib = Arc::new(self.build(name.clone(), code, memory_limit)?);
        let _w = self.write.lock().unwrap_or_else(|e| e.into_inner());
        let mut next = LibSet::clone(&self.snap.load());
        if next.remove(&name).is_some() && !replace {
            return Err(format!("ERR Library '{name}' already exists"));
        }
        next.add(lib)?;
        self.commit(next)?;
        Ok(name)
    }

    /// FUNCTION DELETE.
    pub fn delete(&self, name: &[u8]) -> Result<(), String> {
        let _w = self.write.lock().unwrap_or_else(|e| e.into_inner());
        let mut next = LibSet::clone(&self.snap.load());
        let name = String::from_utf8_lossy(name);
        if next.remove(&name).is_none() {
            return Err("ERR Library not found".into());
        }
        self.commit(next)
    }

    /// FUNCTION FLUSH.
    pub fn flush(&self) -> Result<(), String> {
        let _w = self.write.lock().unwrap_or_else(|e| e.into_inner());
        self.commit(LibSet::default())
    }

    /// The libraries of a payload, checked as one set (names and functions unique).
    fn decode_set(&self, payload: &[u8], memory_limit: u64) -> Result<Vec<Arc<Library>>, String> {
        let mut set = LibSet::default();
        let mut order = Vec::new();
        for code in dump::decode(payload)? {
            let lib = self.compile(Bytes::from(code), memory_limit)?;
            if set.libs.contains_key(&lib.name) {
                return Err(format!("ERR Library '{}' already exists", lib.name));
            }
            let lib = Arc::new(lib);
            set.add(lib.clone())?;
            order.push(lib);
        }
        Ok(order)
    }

    /// FUNCTION RESTORE: all or nothing.
    pub fn restore(&self, payload: &[u8], policy: Policy, memory_limit: u64) -> Result<(), String> {
        let libs = self.decode_set(payload, memory_limit)?;
        let _w = self.write.lock().unwrap_or_else(|e| e.into_inner());
        let mut next = match policy {
            Policy::Flush => LibSet::default(),
            _ => LibSet::clone(&self.snap.load()),
        };
        for lib in libs {
            if next.libs.contains_key(&lib.name) {
                if policy == Policy::Append {
                    return Err(format!("ERR Library {} already exists", lib.name));
                }
                next.remove(&lib.name);
            }
            next.add(lib)?;
        }
        self.commit(next)
    }

    /// Start-up: loads the library file at `path` (if it exists) and saves every later change
    /// there. A file that cannot be read back is an error, never silently dropped.
    pub fn open(&self, path: PathBuf, memory_limit: u64) -> Result<usize, String> {
        let loaded = match persist::read(&path) {
            Ok(Some(bytes)) => self
                .decode_set(&bytes, memory_limit)
                .map_err(|e| format!("function library file {} is damaged: {e}", path.display()))?,
            Ok(None) => Vec::new(),
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        };
        let n = loaded.len();
        let _w = self.write.lock().unwrap_or_else(|e| e.into_inner());
        let mut next = LibSet::default();
        for lib in loaded {
            next.add(lib)?;
        }
        self.snap.store(Arc::new(next));
        *self.file.lock().unwrap_or_else(|e| e.into_inner()) = Some(path);
        Ok(n)
    }
}
