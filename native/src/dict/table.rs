//! Lookups in a string table (scoring/stringtable.py writes it and documents the layout): open
//! addressing over memory-mapped arrays, the slot of a key chosen by CRC-32 spread by Knuth's
//! multiplier, a hash match confirmed by comparing the key's bytes.
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::column::Column;
use crate::hash::stable_hash;

const EMPTY: i32 = -1;

/// The key arrays of one table, held without copying.
#[pyclass(frozen, module = "addlink_native.dict")]
pub struct StringTable {
    blob: Column<u8>,
    offsets: Column<i64>,
    slots: Column<i32>,
    hashes: Column<u32>,
}

#[pymethods]
impl StringTable {
    #[new]
    fn new(
        blob: &Bound<'_, PyAny>,
        offsets: &Bound<'_, PyAny>,
        slots: &Bound<'_, PyAny>,
        hashes: &Bound<'_, PyAny>,
    ) -> PyResult<Self> {
        let table = StringTable {
            blob: Column::new("blob", blob)?,
            offsets: Column::new("offsets", offsets)?,
            slots: Column::new("slots", slots)?,
            hashes: Column::new("hashes", hashes)?,
        };
        let size = table.slots.slice().len();
        if !size.is_power_of_two() || table.hashes.slice().len() != size {
            return Err(PyValueError::new_err("slots and hashes: one power-of-two length"));
        }
        Ok(table)
    }

    /// Position of ``key`` in the table's key order, or -1 when absent.
    fn index(&self, key: &str) -> i64 {
        self.position(key.as_bytes())
    }

    /// ``index`` of each of ``keys``, in one call.
    fn indices(&self, keys: Vec<String>) -> Vec<i64> {
        keys.iter().map(|key| self.position(key.as_bytes())).collect()
    }

    /// ``stable_hash`` of ``data``, for the writer's tests.
    #[staticmethod]
    fn hash(data: &[u8]) -> u32 {
        stable_hash(data)
    }
}

impl StringTable {
    fn position(&self, data: &[u8]) -> i64 {
        let h = stable_hash(data);
        let (slots, hashes, offsets, blob) = (self.slots.slice(), self.hashes.slice(), self.offsets.slice(), self.blob.slice());
        let mask = slots.len() - 1;
        let mut slot = h as usize & mask;
        loop {
            let index = slots[slot];
            if index == EMPTY {
                return -1;
            }
            let i = index as usize;
            if hashes[slot] == h && blob.get(offsets[i] as usize..offsets[i + 1] as usize) == Some(data) {
                return index as i64;
            }
            slot = (slot + 1) & mask;
        }
    }
}
