//! addlink-stream's native per-article text path, one Python extension module with submodules:
//! `scan` (wikitext scanner), `text` (sentences, tokens, the n-gram walk), `dict` (the anchor
//! dictionary as an FST), `features` (a page's candidate feature rows) and `model` (the classifier's
//! trees).
use pyo3::prelude::*;

mod column;
mod dict;
mod fasthash;
mod feat;
mod hash;
mod model;
mod scan;
mod text;

fn add_submodule(
    parent: &Bound<'_, PyModule>,
    name: &str,
    register: fn(&Bound<'_, PyModule>) -> PyResult<()>,
) -> PyResult<()> {
    let module = PyModule::new(parent.py(), name)?;
    register(&module)?;
    parent.add_submodule(&module)
}

#[pymodule]
fn addlink_native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    add_submodule(m, "dict", dict::register)?;
    add_submodule(m, "text", text::register)?;
    add_submodule(m, "features", feat::register)?;
    add_submodule(m, "model", model::register)?;
    scan::register(m)?;
    Ok(())
}
