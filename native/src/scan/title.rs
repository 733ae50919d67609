//! MediaWiki's title normalisation as far as link targets need it (scoring/titles.py documents the
//! rule): URL-unquote, drop the fragment, drop direction marks, collapse spaces, strip, drop a
//! leading ":", uppercase the first character. The one implementation: the scanner normalises every
//! link's target with it and ``scoring.titles.normalise_title`` calls it.
use std::collections::HashMap;

use super::tree::py_space;

/// MediaWiki's title spaces (MediaWikiTitleCodec): runs of them become one " ".
fn title_space(c: char) -> bool {
    matches!(c, ' ' | '_' | '\u{a0}' | '\u{1680}' | '\u{180e}' | '\u{2000}'..='\u{200a}' | '\u{2028}' | '\u{2029}'
        | '\u{202f}' | '\u{205f}' | '\u{3000}')
}

fn direction_mark(c: char) -> bool {
    matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}')
}

fn hex(byte: u8) -> Option<u8> {
    (byte as char).to_digit(16).map(|d| d as u8)
}

/// Python's ``urllib.parse.unquote(text)``: "%XX" escapes decoded within each run of ASCII characters,
/// the run's bytes read as UTF-8 with U+FFFD for invalid sequences; other characters unchanged.
fn unquote(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        let ascii = rest.find(|c: char| !c.is_ascii()).unwrap_or(rest.len());
        let (run, tail) = rest.split_at(ascii);
        let bytes = run.as_bytes();
        let mut decoded = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            match (bytes[i], bytes.get(i + 1).and_then(|&b| hex(b)), bytes.get(i + 2).and_then(|&b| hex(b))) {
                (b'%', Some(high), Some(low)) => {
                    decoded.push(high * 16 + low);
                    i += 3;
                }
                (byte, _, _) => {
                    decoded.push(byte);
                    i += 1;
                }
            }
        }
        out.push_str(&String::from_utf8_lossy(&decoded));
        let other = tail.find(|c: char| c.is_ascii()).unwrap_or(tail.len());
        out.push_str(&tail[..other]);
        rest = &tail[other..];
    }
    out
}

pub struct TitleRules {
    /// Characters whose uppercase (Python's ``str.upper``, given by scoring/titles.py so both agree on
    /// the Unicode version) is one other character; the rest stay as they are.
    pub upper: HashMap<char, char>,
}

impl TitleRules {
    pub fn normalise(&self, raw: &str) -> String {
        let unquoted;
        let mut title = raw;
        if title.contains('%') {
            unquoted = unquote(title);
            title = &unquoted;
        }
        if let Some(hash) = title.find('#') {
            title = &title[..hash];
        }
        let mut spaced = String::with_capacity(title.len());
        let mut in_space = false;
        for c in title.chars().filter(|&c| !direction_mark(c)) {
            if title_space(c) {
                if !in_space {
                    spaced.push(' ');
                }
                in_space = true;
            } else {
                spaced.push(c);
                in_space = false;
            }
        }
        let mut stripped = spaced.trim_matches(py_space);
        if let Some(rest) = stripped.strip_prefix(':') {
            stripped = rest.trim_start_matches(py_space);
        }
        let mut chars = stripped.chars();
        match chars.next() {
            None => String::new(),
            Some(first) => {
                let mut out = String::with_capacity(stripped.len());
                out.push(*self.upper.get(&first).unwrap_or(&first));
                out.push_str(chars.as_str());
                out
            }
        }
    }
}
