//! ``addlink_native.scan``: one pass over an article's wikitext giving what ``scoring.wikitext``
//! builds a ParsedArticle from. Namespace classification stays in Python (raw titles and names);
//! link targets come normalised (``title.rs``).
use std::collections::{HashMap, HashSet};

use pyo3::prelude::*;
use pyo3::types::PyTuple;

mod ctx;
mod guard;
mod parts;
mod title;
mod tokenizer;
mod tree;

/// A link-trail rule (scoring/linktrail.py): the accepted code points as sorted, disjoint, inclusive
/// ranges, and the casefolded title prefixes whose links take no trail (scoring/wikitext.py).
#[pyclass(frozen)]
struct Trail {
    rule: tree::Trail,
}

#[pymethods]
impl Trail {
    #[new]
    fn new(ranges: Vec<(char, char)>, untrailed: HashSet<String>) -> Self {
        Trail { rule: tree::Trail { ranges, untrailed } }
    }
}

/// Title normalisation (``title.rs``), with the uppercase of first characters given by Python.
#[pyclass(frozen)]
struct Titles {
    rules: title::TitleRules,
}

#[pymethods]
impl Titles {
    #[new]
    fn new(upper: HashMap<char, char>) -> Self {
        Titles { rules: title::TitleRules { upper } }
    }

    fn normalise(&self, raw: &str) -> String {
        self.rules.normalise(raw)
    }
}

/// Scanner configured with the tables scoring owns (entity names, tag classes).
#[pyclass(frozen)]
struct Scanner {
    tables: tree::Tables,
    titles: title::TitleRules,
}

#[pymethods]
impl Scanner {
    #[new]
    fn new(
        entities: HashMap<String, String>,
        separating: HashSet<String>,
        transparent: HashSet<String>,
        invisible: HashSet<String>,
        reparsed: HashSet<String>,
        retry_budget: u64,
        titles: &Titles,
    ) -> Self {
        let entity_names = entities.keys().cloned().collect();
        let tables = tree::Tables { entities, entity_names, separating, transparent, invisible, reparsed, retry_budget };
        Scanner { tables, titles: title::TitleRules { upper: titles.rules.upper.clone() } }
    }

    /// (runs, links, raw titles with a ":" in link order, raw template names, editor spans) of
    /// ``text``, links followed by ``trail``'s letters taking them; see scoring/wikitext.py. Runs,
    /// links and spans are tuples of ``TextRun``, ``Link`` and ``EditorSpan``.
    #[allow(clippy::type_complexity)]
    fn scan<'py>(
        &self,
        py: Python<'py>,
        text: &str,
        trail: &Trail,
    ) -> PyResult<(Bound<'py, PyTuple>, Bound<'py, PyTuple>, Vec<String>, Vec<String>, Bound<'py, PyTuple>)> {
        let (runs, links, colon_titles, templates, spans) = py.detach(|| {
            let chars: Vec<char> = text.chars().collect();
            let scanned = tree::Article::scan(&chars, &self.tables, &trail.rule);
            let slice = |start: u32, end: u32| chars[start as usize..end as usize].iter().collect::<String>();
            let runs: Vec<parts::TextRun> = scanned
                .runs
                .into_iter()
                .map(|r| parts::TextRun {
                    start: r.start,
                    text: slice(r.start, r.end),
                    section: r.section,
                    glued_before: r.glued_before,
                    glued_after: r.glued_after,
                    length: r.end - r.start,
                })
                .collect();
            let colon_titles = scanned.links.iter().filter(|l| l.title.contains(':')).map(|l| l.title.clone()).collect();
            let links: Vec<parts::Link> = scanned
                .links
                .into_iter()
                .map(|l| parts::Link {
                    target: self.titles.normalise(&l.title),
                    anchor: l.anchor,
                    start: l.start,
                    end: l.end,
                    top_level: l.top_level,
                    trail: slice(l.end, l.trail_end),
                })
                .collect();
            let spans: Vec<parts::EditorSpan> =
                scanned.spans.into_iter().map(|(start, end)| parts::EditorSpan { start, end }).collect();
            (runs, links, colon_titles, scanned.templates, spans)
        });
        Ok((PyTuple::new(py, runs)?, PyTuple::new(py, links)?, colon_titles, templates, PyTuple::new(py, spans)?))
    }
}

pub fn register(parent: &Bound<'_, PyModule>) -> PyResult<()> {
    let module = PyModule::new(parent.py(), "scan")?;
    module.add_class::<Scanner>()?;
    module.add_class::<Trail>()?;
    module.add_class::<Titles>()?;
    module.add_class::<parts::Link>()?;
    module.add_class::<parts::TextRun>()?;
    module.add_class::<parts::EditorSpan>()?;
    parent.add_submodule(&module)?;
    // Make ``import addlink_native.scan`` work, not only attribute access.
    parent.py().import("sys")?.getattr("modules")?.set_item("addlink_native.scan", &module)?;
    Ok(())
}
