//! The n-gram walk: for each token, the n-grams starting there are looked up by walking the anchor
//! FST one token at a time, so the walk stops at the first n-gram that no anchor key begins with.
use super::{Sentence, Tokenizer};
use crate::dict::{AnchorIndex, Walk};

const CAPITAL_SIGMA: char = '\u{3a3}';

#[derive(Clone, Copy)]
pub struct Filter {
    pub markup: bool,
    pub glued_before: bool,
    pub glued_after: bool,
}

/// Python's `str.lower` of one character, except capital sigma (whose lowercase depends on context).
#[inline]
fn push_lower(key: &mut String, c: char) {
    if c.is_ascii() {
        key.push(c.to_ascii_lowercase());
    } else {
        key.extend(c.to_lowercase());
    }
}

impl Filter {
    /// scoring/mentions.py's rules: no `''` (quote markup left as text) and no word character at a
    /// run edge that renders glued to markup.
    fn keeps(&self, tok: &Tokenizer, chars: &[char], start: usize, end: usize) -> bool {
        if !self.markup {
            return true;
        }
        if chars[start..end].windows(2).any(|w| w == ['\'', '\'']) {
            return false;
        }
        let glued_start = start == 0 && self.glued_before && tok.is_word_char(chars[0]);
        let glued_end = end == chars.len() && self.glued_after && tok.is_word_char(chars[end - 1]);
        !(glued_start || glued_end)
    }
}

/// Values of the n-grams starting at token `i`, for n = 1..=`top` (`found[n - 1]`).
fn walk_from(index: &AnchorIndex, chars: &[char], sentence: &Sentence, i: usize, found: &mut [Option<u64>]) {
    let tokens = &sentence.tokens;
    let start = tokens[i].start;
    let mut key = String::new();
    let mut walk: Option<Walk> = Some(index.start());
    let mut context = false; // a capital sigma is in the n-gram: lowercase it whole, from the root
    for (n, slot) in found.iter_mut().enumerate() {
        let from = if n == 0 { start } else { tokens[i + n - 1].end };
        let to = tokens[i + n].end;
        context |= chars[from..to].contains(&CAPITAL_SIGMA);
        if context {
            // Final sigma depends on what follows it, so a longer n-gram can change a shorter one's key
            // and the walk can never stop early here.
            key = chars[start..to].iter().collect::<String>().to_lowercase();
            walk = index.step(index.start(), key.as_bytes());
        } else {
            let before = key.len();
            chars[from..to].iter().for_each(|&c| push_lower(&mut key, c));
            walk = walk.and_then(|w| index.step(w, &key.as_bytes()[before..]));
        }
        match walk {
            Some(w) => *slot = index.value(w),
            None if !context => return,
            None => {}
        }
    }
}

/// `(start, end, sentence number, value)` in mwaddlink's order: per sentence, n = max_n..1, left to right.
pub fn hits(
    tok: &Tokenizer,
    chars: &[char],
    sentences: &[Sentence],
    index: &AnchorIndex,
    max_n: usize,
    filter: Filter,
) -> Vec<(usize, usize, usize, u64)> {
    let mut out = Vec::new();
    let mut found: Vec<Option<u64>> = Vec::new();
    for (number, sentence) in sentences.iter().enumerate() {
        let tokens = &sentence.tokens;
        let k = tokens.len();
        let top = max_n.min(k);
        found.clear();
        found.resize(k * top, None);
        for i in 0..k {
            let longest = top.min(k - i);
            walk_from(index, chars, sentence, i, &mut found[i * top..i * top + longest]);
        }
        for n in (1..=top).rev() {
            for i in 0..=k - n {
                if let Some(value) = found[i * top + n - 1] {
                    let (start, end) = (tokens[i].start, tokens[i + n - 1].end);
                    if filter.keeps(tok, chars, start, end) {
                        out.push((start, end, number, value));
                    }
                }
            }
        }
    }
    out
}
