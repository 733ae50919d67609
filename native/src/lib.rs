//! Native engine of addlink-stream: the per-article text path.
use pyo3::prelude::*;

mod scan;

#[pymodule]
fn addlink_native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    scan::register(m)?;
    Ok(())
}
