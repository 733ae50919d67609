//! The parts of a parsed article as Python classes (``scoring.wikitext`` re-exports them): the scan
//! builds them here, so a page's hundreds of links, runs and spans cost no Python-level constructor
//! calls, and their strings become Python objects only when read.
use pyo3::prelude::*;
use pyo3::types::PyString;

fn quoted(py: Python<'_>, text: &str) -> PyResult<String> {
    Ok(PyString::new(py, text).repr()?.to_string())
}

/// A wikilink. ``target`` is normalised (fragment dropped); ``anchor`` is the label with markup
/// stripped, or the title exactly as written; ``trail`` the link trail after "]]" (``wikitext[end:
/// trail_end]``). ``top_level`` is True for links that are direct children of the page (not inside
/// a template, tag or other link).
#[pyclass(frozen, eq, hash, get_all, module = "addlink_native.scan")]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Link {
    pub target: String,
    pub anchor: String,
    pub start: u32,
    pub end: u32,
    pub top_level: bool,
    pub trail: String,
}

#[pymethods]
impl Link {
    #[new]
    #[pyo3(signature = (target, anchor, start, end, top_level, trail = String::new()))]
    fn new(target: String, anchor: String, start: u32, end: u32, top_level: bool, trail: String) -> Self {
        Link { target, anchor, start, end, top_level, trail }
    }

    /// The rendered link text: the anchor and its trail ("[[bus]]es" -> "buses").
    #[getter]
    fn text(&self) -> String {
        [self.anchor.as_str(), self.trail.as_str()].concat()
    }

    #[getter]
    fn trail_end(&self) -> u32 {
        self.end + self.trail.chars().count() as u32
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let top = if self.top_level { "True" } else { "False" };
        Ok(format!(
            "Link(target={}, anchor={}, start={}, end={}, top_level={top}, trail={})",
            quoted(py, &self.target)?, quoted(py, &self.anchor)?, self.start, self.end, quoted(py, &self.trail)?
        ))
    }
}

/// A run of top-level text. ``glued_before``/``glued_after``: the neighbouring markup may render
/// text directly against this run's edge (a link with its trail, a template, bold, an inline tag), so
/// a word touching that edge may be part of a longer rendered word.
#[pyclass(frozen, eq, hash, module = "addlink_native.scan")]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct TextRun {
    #[pyo3(get)]
    pub start: u32,
    #[pyo3(get)]
    pub text: String,
    #[pyo3(get)]
    pub section: Option<String>,
    #[pyo3(get)]
    pub glued_before: bool,
    #[pyo3(get)]
    pub glued_after: bool,
    /// ``text``'s length in code points (Python's ``len``).
    pub length: u32,
}

#[pymethods]
impl TextRun {
    #[new]
    #[pyo3(signature = (start, text, section, glued_before = false, glued_after = false))]
    fn new(start: u32, text: String, section: Option<String>, glued_before: bool, glued_after: bool) -> Self {
        let length = text.chars().count() as u32;
        TextRun { start, text, section, glued_before, glued_after, length }
    }

    #[getter]
    fn end(&self) -> u32 {
        self.start + self.length
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let section = match &self.section {
            Some(section) => quoted(py, section)?,
            None => "None".to_owned(),
        };
        let flag = |value: bool| if value { "True" } else { "False" };
        Ok(format!(
            "TextRun(start={}, text={}, section={section}, glued_before={}, glued_after={})",
            self.start, quoted(py, &self.text)?, flag(self.glued_before), flag(self.glued_after)
        ))
    }
}

/// Text that GrowthExperiments' VisualEditor plugin searches when it locates a suggestion: a run
/// of Text nodes at top level or inside HTML tags it descends into (span, div, small, sup, ...; not
/// b/i, headings, tables, blockquote, refs or other extension tags), less link trails (Parsoid puts
/// them inside the link's ``<a>``).
#[pyclass(frozen, eq, hash, get_all, module = "addlink_native.scan")]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct EditorSpan {
    pub start: u32,
    pub end: u32,
}

#[pymethods]
impl EditorSpan {
    #[new]
    fn new(start: u32, end: u32) -> Self {
        EditorSpan { start, end }
    }

    fn __repr__(&self) -> String {
        format!("EditorSpan(start={}, end={})", self.start, self.end)
    }
}
