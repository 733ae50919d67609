//! ``addlink_native.scan``: one pass over an article's wikitext giving what ``scoring.wikitext``
//! builds a ParsedArticle from. Namespace classification stays in Python (raw titles and names);
//! link targets come normalised (``title.rs``).
use std::collections::{HashMap, HashSet};

use pyo3::prelude::*;

mod ctx;
mod guard;
mod title;
mod tokenizer;
mod tree;

type RunRow = (u32, u32, Option<String>, bool, bool);
type LinkRow = (u32, u32, String, String, String, bool, u32);

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

    /// (runs, links, raw template names, editor spans) of ``text``, links followed by ``trail``'s
    /// letters taking them; see scoring/wikitext.py. A link row: start, end, raw title, normalised
    /// target, anchor, top level, trail end.
    #[allow(clippy::type_complexity)]
    fn scan(
        &self,
        py: Python<'_>,
        text: &str,
        trail: &Trail,
    ) -> (Vec<RunRow>, Vec<LinkRow>, Vec<String>, Vec<(u32, u32)>) {
        let chars: Vec<char> = text.chars().collect();
        let (scanned, targets) = py.detach(|| {
            let scanned = tree::Article::scan(&chars, &self.tables, &trail.rule);
            let targets: Vec<String> = scanned.links.iter().map(|l| self.titles.normalise(&l.title)).collect();
            (scanned, targets)
        });
        (
            scanned.runs.into_iter().map(|r| (r.start, r.end, r.section, r.glued_before, r.glued_after)).collect(),
            scanned
                .links
                .into_iter()
                .zip(targets)
                .map(|(l, target)| (l.start, l.end, l.title, target, l.anchor, l.top_level, l.trail_end))
                .collect(),
            scanned.templates,
            scanned.spans,
        )
    }
}

pub fn register(parent: &Bound<'_, PyModule>) -> PyResult<()> {
    let module = PyModule::new(parent.py(), "scan")?;
    module.add_class::<Scanner>()?;
    module.add_class::<Trail>()?;
    module.add_class::<Titles>()?;
    parent.add_submodule(&module)?;
    // Make ``import addlink_native.scan`` work, not only attribute access.
    parent.py().import("sys")?.getattr("modules")?.set_item("addlink_native.scan", &module)?;
    Ok(())
}
