//! A numpy array held by a native object without copying.
use pyo3::buffer::{Element, PyBuffer};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// A C-contiguous numpy array (often memory-mapped) held for the object's lifetime.
pub struct Column<T: Element> {
    buffer: PyBuffer<T>,
}

impl<T: Element + Copy> Column<T> {
    pub fn new(name: &str, array: &Bound<'_, PyAny>) -> PyResult<Self> {
        let buffer = PyBuffer::<T>::get(array)?;
        if !buffer.is_c_contiguous() {
            return Err(PyValueError::new_err(format!("{name}: array is not C-contiguous")));
        }
        Ok(Column { buffer })
    }

    pub fn slice(&self) -> &[T] {
        if self.buffer.item_count() == 0 {
            return &[]; // an empty array's pointer may be null or unaligned
        }
        // The buffer stays exported (and its memory mapped) while `self.buffer` lives; the bundle's
        // arrays are read-only, so nothing writes them while the slice is borrowed.
        unsafe { std::slice::from_raw_parts(self.buffer.buf_ptr() as *const T, self.buffer.item_count()) }
    }
}
