//! Sentences, word tokens and the n-gram walk of one text, in code-point offsets (what Python's
//! `str` indexes). The rules are scoring/tokenize.py's; the character classes (Python's `\s`,
//! Unicode category P in the Basic Multilingual Plane, the spaceless scripts) are handed in by that
//! module, computed by Python itself, and the rare letter test asks Python's `str.isalpha`, so the
//! two can never disagree on a character.
use std::collections::HashSet;
use std::sync::Arc;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyString;

use crate::dict::AnchorIndex;

mod rank;
mod walk;

const SPACE: u8 = 1;
const PUNCT: u8 = 2;
const SPACELESS: u8 = 4;
const BMP: usize = 0x10000;

/// Per-character flags of the Basic Multilingual Plane; above it, only the spaceless ranges.
#[pyclass(frozen, module = "addlink_native.text")]
pub struct CharClasses {
    bmp: Arc<Vec<u8>>,
    astral_spaceless: Arc<Vec<(u32, u32)>>,
}

#[pymethods]
impl CharClasses {
    /// `bmp[c]` is the flag byte of code point `c` (1 space, 2 punctuation, 4 spaceless script);
    /// `astral_spaceless` lists inclusive ranges above U+FFFF.
    #[new]
    fn new(bmp: Vec<u8>, astral_spaceless: Vec<(u32, u32)>) -> PyResult<Self> {
        if bmp.len() != BMP {
            return Err(PyValueError::new_err(format!("need {BMP} flags, got {}", bmp.len())));
        }
        Ok(CharClasses { bmp: Arc::new(bmp), astral_spaceless: Arc::new(astral_spaceless) })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Token {
    pub start: usize,
    pub end: usize,
    pub is_word: bool,
}

pub struct Sentence {
    pub start: usize,
    pub end: usize,
    pub tokens: Vec<Token>,
}

/// One language's rules: sentence terminators, abbreviations, and whether its script is spaceless.
#[pyclass(frozen, module = "addlink_native.text")]
pub struct Tokenizer {
    classes: Arc<Vec<u8>>,
    astral_spaceless: Arc<Vec<(u32, u32)>>,
    terminators: Vec<char>,
    no_space: Vec<char>,
    closers: Vec<char>,
    abbreviations: HashSet<String>,
    charwise: bool,
}

fn sorted_chars(name: &str, chars: &str, classes: &[u8]) -> PyResult<Vec<char>> {
    let mut v: Vec<char> = chars.chars().collect();
    // The scans test these sets only on punctuation, so each member must be punctuation.
    if let Some(c) = v.iter().find(|&&c| (c as usize) >= BMP || classes[c as usize] & PUNCT == 0) {
        return Err(PyValueError::new_err(format!("{name}: {c:?} is not punctuation")));
    }
    v.sort_unstable();
    v.dedup();
    Ok(v)
}

impl Tokenizer {
    #[inline]
    fn flags(&self, c: char) -> u8 {
        let i = c as usize;
        if i < BMP {
            self.classes[i]
        } else if self.astral_spaceless.iter().any(|&(a, b)| (a..=b).contains(&(i as u32))) {
            SPACELESS
        } else {
            0
        }
    }

    #[inline]
    fn is_space(&self, c: char) -> bool {
        self.flags(c) & SPACE != 0
    }

    #[inline]
    fn is_punct(&self, c: char) -> bool {
        self.flags(c) & PUNCT != 0
    }

    #[inline]
    fn in_set(&self, c: char, set: &[char]) -> bool {
        self.is_punct(c) && set.binary_search(&c).is_ok()
    }

    /// Neither space nor punctuation (tokenize.is_word_char).
    #[inline]
    pub fn is_word_char(&self, c: char) -> bool {
        self.flags(c) & (SPACE | PUNCT) == 0
    }

    /// A character a word token continues with (charwise, spaceless-script characters stand alone).
    #[inline]
    fn continues_word(&self, c: char) -> bool {
        self.is_word_char(c) && !(self.charwise && self.flags(c) & SPACELESS != 0)
    }

    /// Python's `str.isalpha`, asked of Python: needed only for a one-letter word before "." (rare),
    /// and a table of it would cost every new process a scan of all of Unicode.
    fn is_alpha(&self, py: Python<'_>, c: char) -> bool {
        PyString::new(py, c.encode_utf8(&mut [0; 4]))
            .call_method0("isalpha")
            .and_then(|r| r.extract::<bool>())
            .unwrap_or(false)
    }

    fn is_abbreviation(&self, py: Python<'_>, word: &[char]) -> bool {
        let text: String = word.iter().collect();
        self.abbreviations.contains(&text) || (word.len() == 2 && word[1] == '.' && self.is_alpha(py, word[0]))
    }

    /// End of a sentence-end match starting at `p` within a line ending at `end`, if one starts there.
    fn sentence_end_at(&self, chars: &[char], p: usize, end: usize) -> Option<usize> {
        let c = chars[p];
        let needs_space = if self.in_set(c, &self.terminators) {
            true
        } else if self.in_set(c, &self.no_space) {
            false
        } else {
            return None;
        };
        let mut q = p + 1;
        while q < end && self.in_set(chars[q], &self.closers) {
            q += 1;
        }
        let w = q;
        while q < end && self.is_space(chars[q]) {
            q += 1;
        }
        (!needs_space || q > w).then_some(q)
    }

    /// The last whitespace-separated word of `chars[start..end]` (Python's `rsplit(maxsplit=1)[-1]`).
    fn last_word<'a>(&self, chars: &'a [char], start: usize, end: usize) -> &'a [char] {
        let mut j = end;
        while j > start && self.is_space(chars[j - 1]) {
            j -= 1;
        }
        let mut i = j;
        while i > start && !self.is_space(chars[i - 1]) {
            i -= 1;
        }
        &chars[i..j]
    }

    pub fn sentence_spans(&self, py: Python<'_>, chars: &[char]) -> Vec<(usize, usize)> {
        let mut spans = Vec::new();
        let mut line_start = 0;
        while line_start <= chars.len() {
            let line_end = chars[line_start..].iter().position(|&c| c == '\n').map_or(chars.len(), |i| line_start + i);
            if chars[line_start..line_end].iter().any(|&c| !self.is_space(c)) {
                let mut cut = line_start;
                let mut p = line_start;
                while p < line_end {
                    let Some(end) = self.sentence_end_at(chars, p, line_end) else {
                        p += 1;
                        continue;
                    };
                    p = end;
                    if end == line_end || end == cut {
                        continue;
                    }
                    let word = self.last_word(chars, cut, end);
                    if !word.is_empty() && self.is_abbreviation(py, word) {
                        continue;
                    }
                    spans.push((cut, end));
                    cut = end;
                }
                spans.push((cut, line_end));
            }
            line_start = line_end + 1;
        }
        spans
    }

    pub fn tokens(&self, py: Python<'_>, chars: &[char], start: usize, end: usize) -> Vec<Token> {
        let mut tokens: Vec<Token> = Vec::new();
        let mut p = start;
        while p < end {
            let c = chars[p];
            let f = self.flags(c);
            if f & SPACE != 0 {
                p += 1;
            } else if f & PUNCT != 0 {
                let mut q = p + 1;
                while q < end && self.is_punct(chars[q]) {
                    q += 1;
                }
                match tokens.last_mut() {
                    Some(prev) if prev.is_word && prev.end == p && self.is_abbreviation(py, &chars[prev.start..q]) => {
                        prev.end = q
                    }
                    _ => tokens.push(Token { start: p, end: q, is_word: false }),
                }
                p = q;
            } else if self.charwise && f & SPACELESS != 0 {
                tokens.push(Token { start: p, end: p + 1, is_word: true });
                p += 1;
            } else {
                let mut q = p + 1;
                while q < end && self.continues_word(chars[q]) {
                    q += 1;
                }
                loop {
                    let mut r = q;
                    while r < end && self.is_punct(chars[r]) {
                        r += 1;
                    }
                    if r == q || r == end || !self.continues_word(chars[r]) {
                        break;
                    }
                    q = r + 1;
                    while q < end && self.continues_word(chars[q]) {
                        q += 1;
                    }
                }
                tokens.push(Token { start: p, end: q, is_word: true });
                p = q;
            }
        }
        tokens
    }

    /// Sentences that have tokens, with them.
    pub fn sentences(&self, py: Python<'_>, chars: &[char]) -> Vec<Sentence> {
        self.sentence_spans(py, chars)
            .into_iter()
            .map(|(start, end)| Sentence { start, end, tokens: self.tokens(py, chars, start, end) })
            .filter(|s| !s.tokens.is_empty())
            .collect()
    }

    /// Sentences with tokens of a run cut by a word segmenter: `spans[i]`'s segments are `segments[i]`.
    fn aligned_sentences(&self, chars: &[char], spans: Vec<(usize, usize)>, segments: Vec<Vec<(usize, usize, String)>>) -> PyResult<Vec<Sentence>> {
        if spans.len() != segments.len() {
            return Err(PyValueError::new_err("one list of segments per sentence span"));
        }
        Ok(spans
            .into_iter()
            .zip(segments)
            .map(|((start, end), segments)| Sentence { start, end, tokens: self.align(chars, segments) })
            .filter(|s| !s.tokens.is_empty())
            .collect())
    }

    /// The tokens of one sentence cut by a word segmenter, placed back on `chars` (see `align_parsed`).
    fn align(&self, chars: &[char], segments: Vec<(usize, usize, String)>) -> Vec<Token> {
        let mut tokens = Vec::new();
        for (seg_start, seg_end, output) in segments {
            let mut pos = seg_start;
            for surface in output.split(' ') {
                let surface: Vec<char> = surface.chars().collect();
                if surface.iter().all(|&c| self.flags(c) & SPACE != 0) {
                    continue; // also the empty surface
                }
                if !chars.get(pos..).is_some_and(|rest| rest.starts_with(&surface)) {
                    let window = chars.get(pos..seg_end.min(chars.len())).unwrap_or(&[]);
                    match window.windows(surface.len()).position(|w| w == surface.as_slice()) {
                        Some(found) => pos += found,
                        None => continue,
                    }
                }
                let is_word = !surface.iter().all(|&c| self.flags(c) & PUNCT != 0);
                tokens.push(Token { start: pos, end: pos + surface.len(), is_word });
                pos += surface.len();
            }
        }
        tokens
    }
}

fn code_points(text: &Bound<'_, PyString>) -> Vec<char> {
    // Lone surrogates (possible in a Python str) become U+FFFD: one code point for one, so offsets
    // hold, and no anchor key can contain either.
    text.to_string_lossy().chars().collect()
}

type SentenceTuple = (usize, usize, Vec<(usize, usize, bool)>);
/// A run's sentence spans and, per sentence, its segments with the segmenter's output.
type ParsedRun = (Vec<(usize, usize)>, Vec<Vec<(usize, usize, String)>>);

#[pymethods]
impl Tokenizer {
    #[new]
    #[pyo3(signature = (classes, *, terminators, no_space, closers, abbreviations, charwise))]
    fn new(
        classes: &CharClasses,
        terminators: &str,
        no_space: &str,
        closers: &str,
        abbreviations: Vec<String>,
        charwise: bool,
    ) -> PyResult<Self> {
        let bmp = &classes.bmp;
        Ok(Tokenizer {
            classes: Arc::clone(bmp),
            astral_spaceless: Arc::clone(&classes.astral_spaceless),
            terminators: sorted_chars("terminators", terminators, bmp)?,
            no_space: sorted_chars("no_space", no_space, bmp)?,
            closers: sorted_chars("closers", closers, bmp)?,
            abbreviations: abbreviations.into_iter().collect(),
            charwise,
        })
    }

    /// Sentence spans of `text` (lines never share one; whitespace-only lines have none).
    #[pyo3(name = "sentence_spans")]
    fn py_sentence_spans(&self, py: Python<'_>, text: &Bound<'_, PyString>) -> Vec<(usize, usize)> {
        self.sentence_spans(py, &code_points(text))
    }

    /// `[(start, end, [(token start, token end, is_word), ...]), ...]` for sentences with tokens.
    #[pyo3(name = "sentences")]
    fn py_sentences(&self, py: Python<'_>, text: &Bound<'_, PyString>) -> Vec<SentenceTuple> {
        self.sentences(py, &code_points(text))
            .into_iter()
            .map(|s| (s.start, s.end, s.tokens.into_iter().map(|t| (t.start, t.end, t.is_word)).collect()))
            .collect()
    }

    /// Tokens of sentences cut by a word segmenter (MeCab's "wakati" output: surfaces joined by
    /// " "), placed back on `text`: `parsed[i]` holds `(start, end, output)` for the segments of
    /// sentence `spans[i]`. A surface is found at the current position, else further on within its
    /// segment (the segmenter drops white space), else skipped; blank surfaces are skipped; a token is
    /// a word unless all its characters are punctuation. Returns `(start, end, tokens)` per sentence.
    fn align_parsed(
        &self,
        py: Python<'_>,
        text: &Bound<'_, PyString>,
        spans: Vec<(usize, usize)>,
        parsed: Vec<Vec<(usize, usize, String)>>,
    ) -> PyResult<Vec<SentenceTuple>> {
        if spans.len() != parsed.len() {
            return Err(PyValueError::new_err("one list of segments per sentence span"));
        }
        let chars = code_points(text);
        Ok(py.detach(|| {
            spans
                .into_iter()
                .zip(parsed)
                .map(|((start, end), segments)| {
                    let tokens = self.align(&chars, segments).into_iter().map(|t| (t.start, t.end, t.is_word)).collect();
                    (start, end, tokens)
                })
                .collect()
        }))
    }

    /// ``sentence_spans`` of each run ``(start, end)`` of `text`, offsets relative to the run; one call
    /// for a whole page.
    fn run_sentence_spans(&self, py: Python<'_>, text: &Bound<'_, PyString>, runs: Vec<(usize, usize)>) -> PyResult<Vec<Vec<(usize, usize)>>> {
        let chars = code_points(text);
        runs.into_iter()
            .map(|(start, end)| match chars.get(start..end) {
                Some(run) => Ok(self.sentence_spans(py, run)),
                None => Err(PyValueError::new_err(format!("run {start}..{end} outside a text of {} code points", chars.len()))),
            })
            .collect()
    }

    /// The n-grams (n = max_n..1 per sentence, left to right) of each run of `text` whose lowercased
    /// surface is a key of `index`, as `(run number, start, end, sentence number, value)`, offsets
    /// relative to the run; one call for a whole page. `runs`: `(start, end, glued_before,
    /// glued_after)` in code points of `text`, walked in the order given. `parsed` gives each run's
    /// tokens instead of the scan (Japanese), as `align_parsed`'s input: `(spans, segments)` per run,
    /// offsets relative to the run. With `markup_filter`, n-grams containing `''` and run-edge n-grams
    /// glued to markup (edge character a word character) are left out.
    #[pyo3(signature = (text, runs, index, *, max_n = 5, parsed = None, markup_filter = false))]
    #[allow(clippy::too_many_arguments, clippy::type_complexity)]
    fn run_hits(
        &self,
        py: Python<'_>,
        text: &Bound<'_, PyString>,
        runs: Vec<(usize, usize, bool, bool)>,
        index: &AnchorIndex,
        max_n: usize,
        parsed: Option<Vec<ParsedRun>>,
        markup_filter: bool,
    ) -> PyResult<Vec<(usize, usize, usize, usize, u64)>> {
        let chars = code_points(text);
        if parsed.as_ref().is_some_and(|given| given.len() != runs.len()) {
            return Err(PyValueError::new_err("one list of sentences per run"));
        }
        let mut segmented = parsed.map(Vec::into_iter);
        let mut first_steps = walk::FirstSteps::default();
        let mut out = Vec::new();
        for (number, (start, end, glued_before, glued_after)) in runs.into_iter().enumerate() {
            let Some(run) = chars.get(start..end) else {
                return Err(PyValueError::new_err(format!("run {start}..{end} outside a text of {} code points", chars.len())));
            };
            let run_sentences = match segmented.as_mut().and_then(Iterator::next) {
                Some((spans, segments)) => self.aligned_sentences(run, spans, segments)?,
                None => self.sentences(py, run),
            };
            let filter = walk::Filter { markup: markup_filter, glued_before, glued_after };
            let hits = py.detach(|| walk::hits(self, run, &run_sentences, index, max_n, filter, &mut first_steps));
            out.extend(hits.into_iter().map(|(s, e, sentence, value)| (number, s, e, sentence, value)));
        }
        Ok(out)
    }
}

/// For each `(phrase, position)` in `queries`, the rank of the match of `phrase` at code point
/// `position` of `text` in a left-to-right, non-overlapping scan for it, or None when the scan never
/// matches there (scoring/mentions.py); one pass over `text` for all of them.
#[pyfunction]
fn editor_ranks(py: Python<'_>, text: &Bound<'_, PyString>, queries: Vec<(String, usize)>) -> PyResult<Vec<Option<usize>>> {
    if queries.iter().any(|(phrase, _)| phrase.is_empty()) {
        return Err(PyValueError::new_err("an empty phrase has no rank"));
    }
    let chars = code_points(text);
    let queries: Vec<(Vec<char>, usize)> = queries.into_iter().map(|(phrase, at)| (phrase.chars().collect(), at)).collect();
    Ok(py.detach(|| rank::ranks(&chars, queries)))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<CharClasses>()?;
    m.add_class::<Tokenizer>()?;
    m.add_function(wrap_pyfunction!(editor_ranks, m)?)
}
