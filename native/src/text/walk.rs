//! The n-gram walk: for each token, the n-grams starting there are looked up by walking the anchor
//! FST one token at a time, so the walk stops at the first n-gram that no anchor key begins with.
use super::{Sentence, Tokenizer};
use crate::dict::{AnchorIndex, Walk};
use crate::fasthash::FastMap;

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

/// The walk from the root over each distinct first token of a page's n-grams (lowercased, without a
/// capital sigma): a page repeats its words, and most walks end inside the first token.
pub type FirstSteps<'a> = FastMap<&'a [char], Option<Walk>>;

/// Follow the lowercase of `chars` from `walk`, character by character; `key` is scratch.
fn step_chars(index: &AnchorIndex, mut walk: Walk, chars: &[char], key: &mut String) -> Option<Walk> {
    for &c in chars {
        let before = key.len();
        push_lower(key, c);
        walk = index.step(walk, &key.as_bytes()[before..])?;
    }
    Some(walk)
}

/// Values of the n-grams starting at token `i`, for n = 1..=`top` (`found[n - 1]`); `key` is scratch.
fn walk_from<'a>(
    index: &AnchorIndex,
    chars: &'a [char],
    sentence: &Sentence,
    i: usize,
    found: &mut [Option<u64>],
    key: &mut String,
    first_steps: &mut FirstSteps<'a>,
) {
    let tokens = &sentence.tokens;
    let start = tokens[i].start;
    key.clear();
    let mut walk: Option<Walk> = Some(index.start());
    let mut context = false; // a capital sigma is in the n-gram: lowercase it whole, from the root
    for (n, slot) in found.iter_mut().enumerate() {
        let from = if n == 0 { start } else { tokens[i + n - 1].end };
        let to = tokens[i + n].end;
        context |= chars[from..to].contains(&CAPITAL_SIGMA);
        if context {
            // Final sigma depends on what follows it, so a longer n-gram can change a shorter one's key
            // and the walk can never stop early here.
            *key = chars[start..to].iter().collect::<String>().to_lowercase();
            walk = index.step(index.start(), key.as_bytes());
        } else {
            // Character by character: without a sigma, a longer n-gram's key extends this one's, so
            // the first character no key continues with ends every n-gram from this token.
            walk = match (n, walk) {
                (0, _) => *first_steps
                    .entry(&chars[from..to])
                    .or_insert_with(|| step_chars(index, index.start(), &chars[from..to], key)),
                (_, Some(w)) => step_chars(index, w, &chars[from..to], key),
                (_, None) => None,
            };
            if walk.is_none() {
                return;
            }
        }
        if let Some(w) = walk {
            *slot = index.value(w);
        }
    }
}

/// `(start, end, sentence number, value)` in mwaddlink's order: per sentence, n = max_n..1, left to right.
pub fn hits<'a>(
    tok: &Tokenizer,
    chars: &'a [char],
    sentences: &[Sentence],
    index: &AnchorIndex,
    max_n: usize,
    filter: Filter,
    first_steps: &mut FirstSteps<'a>,
) -> Vec<(usize, usize, usize, u64)> {
    let mut out = Vec::new();
    let mut found: Vec<Option<u64>> = Vec::new();
    let mut key = String::new();
    for (number, sentence) in sentences.iter().enumerate() {
        let tokens = &sentence.tokens;
        let k = tokens.len();
        let top = max_n.min(k);
        found.clear();
        found.resize(k * top, None);
        for i in 0..k {
            let longest = top.min(k - i);
            walk_from(index, chars, sentence, i, &mut found[i * top..i * top + longest], &mut key, first_steps);
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
