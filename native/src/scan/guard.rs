//! scoring/markup_guard.py's ``neutralise``, ported so the scanner reads the same text as the oracle:
//! when openers that never close would make the tokenizer re-scan more than a budget of characters
//! (unclosed openers x text length), each such opener's first character becomes a same-length
//! sentinel read as plain text. Offsets are unchanged; strings are taken from the original text.
//! Every matcher below mirrors one regular expression of markup_guard.py (named in its comment).

use super::tokenizer::URI_SCHEMES;
use std::collections::HashMap;

const SENTINELS: [(char, char); 3] = [('{', '\u{fdd0}'), ('[', '\u{fdd1}'), ('<', '\u{fdd2}')];
const VOID_TAGS: &[&str] = &["br", "wbr", "hr", "meta", "link", "img", "li", "dt", "dd", "th", "td", "tr"];

fn at(chars: &[char], i: usize, pattern: &str) -> bool {
    let mut k = i;
    for p in pattern.chars() {
        if chars.get(k) != Some(&p) {
            return false;
        }
        k += 1;
    }
    true
}

/// ``_Pairs.match`` over ``_BRACES``/``_BRACKETS``: innermost-first pairing of two-character tokens.
fn unclosed_pairs(chars: &[char], opener: [char; 2], closer: [char; 2], into: &mut Vec<usize>) {
    let mut stack = Vec::new();
    let mut i = 0;
    while i + 1 < chars.len() {
        let pair = [chars[i], chars[i + 1]];
        if pair == opener {
            stack.push(i);
            i += 2;
        } else if pair == closer {
            stack.pop();
            i += 2;
        } else {
            i += 1;
        }
    }
    into.extend(stack);
}

/// ``_TABLES``: ``{|`` / ``|}`` after optional spaces or tabs at the start of a line.
fn unclosed_tables(chars: &[char], into: &mut Vec<usize>) {
    let mut stack = Vec::new();
    let mut line = 0;
    while line <= chars.len() {
        let mut i = line;
        while i < chars.len() && (chars[i] == ' ' || chars[i] == '\t') {
            i += 1;
        }
        if at(chars, i, "{|") {
            stack.push(i);
        } else if at(chars, i, "|}") {
            stack.pop();
        }
        match chars[i.min(chars.len())..].iter().position(|&c| c == '\n') {
            Some(offset) => line = i + offset + 1,
            None => break,
        }
    }
    into.extend(stack);
}

/// ``_TAGS`` + ``match_tags``: ``<name ...>`` / ``</name>`` paired per (lowercased) name; void and
/// self-closing tags ignored.
fn unclosed_tags(chars: &[char], into: &mut Vec<usize>) {
    let mut stacks: HashMap<String, Vec<usize>> = HashMap::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '<' {
            i += 1;
            continue;
        }
        let closing = chars.get(i + 1) == Some(&'/');
        let name_start = i + 1 + closing as usize;
        let mut k = name_start;
        if !chars.get(k).is_some_and(|c| c.is_ascii_alphabetic()) {
            i += 1;
            continue;
        }
        while chars.get(k).is_some_and(|c| c.is_ascii_alphanumeric()) {
            k += 1;
        }
        if !chars.get(k).is_some_and(|&c| c.is_whitespace() || c == '/' || c == '>') {
            i += 1;
            continue;
        }
        let Some(offset) = chars[k..].iter().position(|&c| c == '<' || c == '>') else {
            i += 1;
            continue;
        };
        let close = k + offset;
        if chars[close] != '>' {
            i += 1;
            continue;
        }
        let self_closing = close > k && chars[close - 1] == '/';
        let name: String = chars[name_start..k].iter().collect::<String>().to_lowercase();
        if !(self_closing || VOID_TAGS.contains(&name.as_str())) {
            let stack = stacks.entry(name).or_default();
            if !closing {
                stack.push(i);
            } else {
                stack.pop();
            }
        }
        i = close + 1;
    }
    for stack in stacks.into_values() {
        into.extend(stack);
    }
}

fn find(chars: &[char], from: usize, pattern: &str) -> Option<usize> {
    (from..chars.len()).find(|&i| at(chars, i, pattern))
}

/// ``match_comments``. (A comment opener after the last ``-->`` is unclosed without searching.)
fn unclosed_comments(chars: &[char], into: &mut Vec<usize>) {
    let last_close = (0..chars.len()).rev().find(|&i| at(chars, i, "-->"));
    let mut start = find(chars, 0, "<!--");
    while let Some(s) = start {
        let close = if last_close.is_some_and(|c| c >= s + 4) { find(chars, s + 4, "-->") } else { None };
        match close {
            None => {
                into.push(s);
                start = find(chars, s + 1, "<!--");
            }
            Some(e) => start = find(chars, e + 3, "<!--"),
        }
    }
}

/// ``_EXTERNAL``: ``[scheme:`` or ``[//`` whose line ends before any ``]``.
fn unclosed_external(chars: &[char], into: &mut Vec<usize>) {
    let mut i = 0;
    let mut stop = 0; // the first ']' or newline at or after i + 1, once computed
    while i < chars.len() {
        if chars[i] != '[' || !external_start(chars, i + 1) {
            i += 1;
            continue;
        }
        if stop <= i {
            stop = i + 1;
            while stop < chars.len() && chars[stop] != ']' && chars[stop] != '\n' {
                stop += 1;
            }
        }
        let j = stop;
        if j == chars.len() || chars[j] == '\n' {
            into.push(i);
            i = j.max(i + 1);
        } else {
            i += 1;
        }
    }
}

fn external_start(chars: &[char], i: usize) -> bool {
    at(chars, i, "//")
        || URI_SCHEMES.iter().any(|(scheme, _)| {
            scheme.chars().enumerate().all(|(k, s)| chars.get(i + k).is_some_and(|c| c.to_ascii_lowercase() == s))
                && chars.get(i + scheme.len()) == Some(&':')
        })
}

/// The text the tokenizer should read: None when it is ``chars`` unchanged.
pub fn neutralise(chars: &[char], budget: u64) -> Option<Vec<char>> {
    if chars.len() < 2 || chars.iter().any(|c| SENTINELS.iter().any(|(_, s)| s == c)) {
        return None;
    }
    let mut positions = Vec::new();
    unclosed_pairs(chars, ['{', '{'], ['}', '}'], &mut positions);
    unclosed_pairs(chars, ['[', '['], [']', ']'], &mut positions);
    unclosed_tables(chars, &mut positions);
    unclosed_tags(chars, &mut positions);
    unclosed_comments(chars, &mut positions);
    unclosed_external(chars, &mut positions);
    if (positions.len() as u64) * (chars.len() as u64) <= budget {
        return None;
    }
    let mut out = chars.to_vec();
    for pos in positions {
        if let Some((_, sentinel)) = SENTINELS.iter().find(|(c, _)| *c == out[pos]) {
            out[pos] = *sentinel;
        }
    }
    Some(out)
}
