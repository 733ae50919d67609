//! The hashed words of a page for its relatedness vector (scoring/relatedness.py `word_hashes`):
//! lowercased letter runs of 2+ characters and the character bigrams of spaceless-script runs, each
//! distinct one with its count, hashed exactly as the Python definition does. Which code point is a
//! letter or spaceless is given by a table that Python fills from its own regular expression, so
//! the Unicode rules stay Python's.
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

use crate::fasthash::FastMap;
use crate::hash::stable_hash;

const CODE_POINTS: usize = 0x11_0000;
const LETTER: u8 = 1;
const SPACELESS: u8 = 2;

/// The class of every code point: 0 other, 1 letter (a word character that is no digit, no "_"
/// and not spaceless), 2 spaceless script.
#[pyclass(frozen, module = "addlink_native.features")]
pub struct WordClasses {
    table: Vec<u8>,
}

impl WordClasses {
    fn class(&self, c: char) -> u8 {
        self.table[c as usize]
    }

    /// (hashes, counts): distinct words in order of first occurrence, then distinct bigrams in
    /// order of their key.
    pub fn hashes(&self, text: &str) -> (Vec<u32>, Vec<f32>) {
        let chars: Vec<char> = text.chars().collect();
        let mut words: FastMap<&[char], usize> = FastMap::default();
        let mut word_hashes: Vec<u32> = Vec::new();
        let mut word_counts: Vec<f32> = Vec::new();
        let mut pairs: Vec<u64> = Vec::new();
        let mut buffer = String::new();
        let mut i = 0;
        while i < chars.len() {
            let class = self.class(chars[i]);
            let mut end = i + 1;
            while end < chars.len() && self.class(chars[end]) == class {
                end += 1;
            }
            let run = &chars[i..end];
            if class == SPACELESS {
                pairs.extend(run.windows(2).map(|w| ((w[0] as u64) << 21) | w[1] as u64));
            } else if class == LETTER && run.len() >= 2 {
                let slot = *words.entry(run).or_insert_with(|| {
                    buffer.clear();
                    buffer.extend(run.iter());
                    word_hashes.push(stable_hash(buffer.as_bytes()));
                    word_counts.push(0.0);
                    word_counts.len() - 1
                });
                word_counts[slot] += 1.0;
            }
            i = end;
        }
        pairs.sort_unstable();
        let mut start = 0;
        while start < pairs.len() {
            let key = pairs[start];
            let mut end = start + 1;
            while end < pairs.len() && pairs[end] == key {
                end += 1;
            }
            word_hashes.push((key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as u32);
            word_counts.push((end - start) as f32);
            start = end;
        }
        (word_hashes, word_counts)
    }
}

#[pymethods]
impl WordClasses {
    /// `ranges`: (first, last + 1, class) for the code points of class 1 or 2; all others are 0.
    #[new]
    fn new(ranges: Vec<(u32, u32, u8)>) -> PyResult<Self> {
        let mut table = vec![0u8; CODE_POINTS];
        for (start, end, class) in ranges {
            if start > end || end as usize > CODE_POINTS || !(class == LETTER || class == SPACELESS) {
                return Err(PyValueError::new_err(format!("bad range ({start}, {end}, {class})")));
            }
            table[start as usize..end as usize].fill(class);
        }
        Ok(WordClasses { table })
    }

    /// `(hashes, counts)` of the already lowercased `text` as bytes (uint32, float32).
    fn word_hashes<'py>(&self, py: Python<'py>, text: &Bound<'py, PyString>) -> (Bound<'py, PyBytes>, Bound<'py, PyBytes>) {
        // A lone surrogate becomes U+FFFD, class 0 like the surrogate itself.
        let text = text.to_string_lossy();
        let (hashes, counts) = py.detach(|| self.hashes(&text));
        (super::bytes_of(py, &hashes), super::bytes_of(py, &counts))
    }
}
