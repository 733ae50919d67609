//! The anchor dictionary as an FST (`fst` crate): normalised anchor key (UTF-8) -> anchor index.
//! A bundle's `anchors.fst` is memory-mapped, so opening it costs a system call and pages are read
//! only when a walk touches them; training builds small in-memory ones from a set of keys.
//! Beside it, lookups in the bundle's string tables (``table.rs``).
use std::fs::File;
use std::io::BufWriter;

use fst::raw::{Fst, Output};
use fst::MapBuilder;
use memmap2::Mmap;
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;

mod table;

enum Bytes {
    Mapped(Mmap),
    Owned(Vec<u8>),
}

impl AsRef<[u8]> for Bytes {
    fn as_ref(&self) -> &[u8] {
        match self {
            Bytes::Mapped(m) => m,
            Bytes::Owned(v) => v,
        }
    }
}

/// A walk position: the node reached and the output gathered on the way.
#[derive(Clone, Copy)]
pub struct Walk {
    addr: usize,
    out: Output,
}

#[pyclass(frozen, module = "addlink_native.dict")]
pub struct AnchorIndex {
    fst: Fst<Bytes>,
}

impl AnchorIndex {
    pub fn start(&self) -> Walk {
        Walk { addr: self.fst.root().addr(), out: Output::zero() }
    }

    /// Follow `bytes` from `walk`; None as soon as no key has that prefix.
    pub fn step(&self, walk: Walk, bytes: &[u8]) -> Option<Walk> {
        let mut node = self.fst.node(walk.addr);
        let mut out = walk.out;
        for &b in bytes {
            let i = node.find_input(b)?;
            let t = node.transition(i);
            out = out.cat(t.out);
            node = self.fst.node(t.addr);
        }
        Some(Walk { addr: node.addr(), out })
    }

    /// The value of the key that ends at `walk`, if one does.
    pub fn value(&self, walk: Walk) -> Option<u64> {
        let node = self.fst.node(walk.addr);
        node.is_final().then(|| walk.out.cat(node.final_output()).value())
    }

    pub fn lookup(&self, key: &[u8]) -> Option<u64> {
        self.step(self.start(), key).and_then(|w| self.value(w))
    }
}

fn sorted_pairs(keys: Vec<String>, values: Vec<u64>) -> PyResult<Vec<(String, u64)>> {
    if keys.len() != values.len() {
        return Err(PyValueError::new_err(format!("{} keys but {} values", keys.len(), values.len())));
    }
    let mut pairs: Vec<(String, u64)> = keys.into_iter().zip(values).collect();
    pairs.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    if let Some(w) = pairs.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(PyValueError::new_err(format!("duplicate key {:?}", w[0].0)));
    }
    Ok(pairs)
}

fn build<W: std::io::Write>(writer: W, pairs: &[(String, u64)]) -> Result<W, fst::Error> {
    let mut builder = MapBuilder::new(writer)?;
    for (key, value) in pairs {
        builder.insert(key.as_bytes(), *value)?;
    }
    builder.into_inner()
}

fn value_error(e: fst::Error) -> PyErr {
    PyValueError::new_err(e.to_string())
}

#[pymethods]
impl AnchorIndex {
    /// Memory-map an FST written by `write`.
    #[staticmethod]
    fn open(path: std::path::PathBuf) -> PyResult<Self> {
        let file = File::open(&path).map_err(|e| PyOSError::new_err(format!("{}: {e}", path.display())))?;
        // Safety: bundle files are immutable once published (bundle.py writes a new directory).
        let map = unsafe { Mmap::map(&file) }.map_err(|e| PyOSError::new_err(format!("{}: {e}", path.display())))?;
        let fst = Fst::new(Bytes::Mapped(map)).map_err(value_error)?;
        Ok(AnchorIndex { fst })
    }

    /// An in-memory index of `keys` -> `values` (any order; keys must be distinct).
    #[staticmethod]
    fn build(keys: Vec<String>, values: Vec<u64>) -> PyResult<Self> {
        let pairs = sorted_pairs(keys, values)?;
        let bytes = build(Vec::new(), &pairs).map_err(value_error)?;
        Ok(AnchorIndex { fst: Fst::new(Bytes::Owned(bytes)).map_err(value_error)? })
    }

    /// Write the FST of `keys` -> `values` to `path`.
    #[staticmethod]
    fn write(path: std::path::PathBuf, keys: Vec<String>, values: Vec<u64>) -> PyResult<()> {
        let pairs = sorted_pairs(keys, values)?;
        let file = File::create(&path).map_err(|e| PyOSError::new_err(format!("{}: {e}", path.display())))?;
        let writer = build(BufWriter::new(file), &pairs).map_err(value_error)?;
        writer.into_inner().map_err(|e| PyOSError::new_err(e.to_string()))?.sync_all()?;
        Ok(())
    }

    /// The value of `key`, or -1.
    fn get(&self, key: &str) -> i64 {
        self.lookup(key.as_bytes()).map_or(-1, |v| v as i64)
    }

    fn __contains__(&self, key: &str) -> bool {
        self.lookup(key.as_bytes()).is_some()
    }

    fn __len__(&self) -> usize {
        self.fst.len()
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<AnchorIndex>()?;
    m.add_class::<table::StringTable>()
}
