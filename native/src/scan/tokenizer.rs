//! A port of mwparserfromhell 0.7's tokenizer (parser/tokenizer.py), function for function, so that
//! the tree it implies is mwparserfromhell's. Differences by design: text is not materialised (a text
//! run is the gap between structural tokens, whose source positions every token carries), attribute
//! tokens are not kept, and the input is split into the same segments as mwparserfromhell's regex.
//! Recursion is bounded exactly as upstream (MAX_DEPTH nested routes) and failed routes are memoised
//! by (head, context) as upstream does.
use std::collections::HashSet;

use super::ctx::*;

const MAX_DEPTH: usize = 100;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Markup {
    None,
    Style,
    List,
    Hr,
    Table,
}

#[derive(Clone, Debug)]
pub enum Tok {
    TplOpen(u32),
    TplSep(u32),
    TplClose(u32),
    ArgOpen(u32),
    ArgSep(u32),
    ArgClose(u32),
    LinkOpen(u32),
    LinkSep(u32),
    LinkClose(u32),
    ExtOpen(u32, bool),
    ExtSep(u32, bool),
    ExtClose(u32),
    HeadOpen(u32, u8),
    HeadClose(u32),
    EntOpen(u32),
    EntClose(u32),
    ComOpen(u32),
    ComClose(u32),
    TagOpen { pos: u32, name: String, markup: Markup },
    TagCloseOpen(u32),
    TagSelfClose(u32),
    TagOpenClose(u32),
    TagCloseClose(u32),
}

pub struct Bad {
    ctx: u64,
}
type R<T> = Result<T, Bad>;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Rd {
    Start,
    End,
    S(usize),
}

struct Stack {
    toks: Vec<Tok>,
    ctx: u64,
    ident: (usize, u64),
}

const CX_NAME: u32 = 1 << 0;
const CX_ATTR_READY: u32 = 1 << 1;
const CX_ATTR_NAME: u32 = 1 << 2;
const CX_ATTR_VALUE: u32 = 1 << 3;
const CX_QUOTED: u32 = 1 << 4;
const CX_NOTE_SPACE: u32 = 1 << 5;
const CX_NOTE_EQUALS: u32 = 1 << 6;
const CX_NOTE_QUOTE: u32 = 1 << 7;

struct TagData {
    context: u32,
    quoter: char,
    reset: usize,
}

const URISCHEME: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+.-";
pub const URI_SCHEMES: &[(&str, bool)] = &[
    ("bitcoin", false), ("ftp", true), ("ftps", true), ("geo", false), ("git", true), ("gopher", true),
    ("http", true), ("https", true), ("irc", true), ("ircs", true), ("magnet", false), ("mailto", false),
    ("mms", true), ("news", false), ("nntp", true), ("redis", true), ("sftp", true), ("sip", false),
    ("sips", false), ("sms", false), ("ssh", true), ("svn", true), ("tel", false), ("telnet", true),
    ("urn", false), ("worldwind", true), ("xmpp", false),
];
const PARSER_BLACKLIST: &[&str] = &[
    "categorytree", "ce", "chem", "gallery", "graph", "hiero", "imagemap", "inputbox", "math", "nowiki",
    "pre", "score", "section", "source", "syntaxhighlight", "templatedata", "timeline",
];
const SINGLE_ONLY: &[&str] = &["br", "wbr", "hr", "meta", "link", "img"];
const SINGLE: &[&str] = &["br", "wbr", "hr", "meta", "link", "img", "li", "dt", "dd", "th", "td", "tr"];

fn is_marker(c: char) -> bool {
    matches!(c, '{' | '}' | '[' | ']' | '<' | '>' | '|' | '=' | '&' | '\'' | '"' | '#' | '*' | ';' | ':' | '/' | '-' | '!' | '\n')
}
fn splits(c: char) -> bool {
    is_marker(c) || c == '\\'
}
fn is_scheme(scheme: &str, slashes: bool) -> bool {
    let lower = scheme.to_lowercase();
    URI_SCHEMES.iter().any(|(s, needs)| *s == lower && (slashes || !needs))
}
fn in_list(list: &[&str], name: &str) -> bool {
    let lower = name.to_lowercase();
    list.iter().any(|t| *t == lower)
}

pub struct Tokenizer<'a> {
    chars: &'a [char],
    segs: Vec<(u32, u32)>,
    head: isize,
    stacks: Vec<Stack>,
    global: u64,
    depth: usize,
    bad_routes: HashSet<(usize, u64)>,
    entities: &'a HashSet<String>,
    tag_names: Vec<String>,
    /// Last position of each closer a route needs: a route starting after it cannot succeed, so it
    /// fails at once instead of scanning to the end (upstream's result, without its re-scans).
    last: Closers,
}

#[derive(Default)]
struct Closers {
    braces: Option<u32>,
    triple_braces: Option<u32>,
    brackets: Option<u32>,
    bracket: Option<u32>,
    comment: Option<u32>,
    table: Option<u32>,
    close_tag: Option<u32>,
}

impl Closers {
    fn new(chars: &[char]) -> Closers {
        let mut last = Closers::default();
        let at = |i: usize, c: char| chars.get(i) == Some(&c);
        for (i, &c) in chars.iter().enumerate() {
            let pos = Some(i as u32);
            match c {
                '}' if at(i + 1, '}') => {
                    last.braces = pos;
                    if at(i + 2, '}') {
                        last.triple_braces = pos;
                    }
                }
                ']' => {
                    last.bracket = pos;
                    if at(i + 1, ']') {
                        last.brackets = pos;
                    }
                }
                '-' if at(i + 1, '-') && at(i + 2, '>') => last.comment = pos,
                '|' if at(i + 1, '}') => last.table = pos,
                '<' if at(i + 1, '/') => last.close_tag = pos,
                _ => {}
            }
        }
        last
    }
}

fn after(last: Option<u32>, pos: u32) -> bool {
    last.is_some_and(|l| l >= pos)
}

impl<'a> Tokenizer<'a> {
    pub fn new(chars: &'a [char], entities: &'a HashSet<String>) -> Self {
        let mut segs = Vec::new();
        let mut start = 0usize;
        for (i, &c) in chars.iter().enumerate() {
            if splits(c) {
                if start < i {
                    segs.push((start as u32, i as u32));
                }
                segs.push((i as u32, i as u32 + 1));
                start = i + 1;
            }
        }
        if start < chars.len() {
            segs.push((start as u32, chars.len() as u32));
        }
        Tokenizer { chars, segs, head: 0, stacks: Vec::new(), global: 0, depth: 0, bad_routes: HashSet::new(), entities, tag_names: Vec::new(), last: Closers::new(chars) }
    }

    pub fn tokenize(mut self) -> Vec<Tok> {
        match self.parse(0, true) {
            Ok((toks, _)) => toks,
            Err(_) => Vec::new(), // upstream raises ParserError; cannot happen at the top context
        }
    }

    // ---- reading -------------------------------------------------------------------------
    fn read(&self, delta: isize) -> Rd {
        let index = self.head + delta;
        if index < 0 {
            Rd::Start
        } else if (index as usize) < self.segs.len() {
            Rd::S(index as usize)
        } else {
            Rd::End
        }
    }
    fn seg(&self, i: usize) -> &'a [char] {
        let (s, e) = self.segs[i];
        &self.chars[s as usize..e as usize]
    }
    /// Whether the segment at head+delta is exactly the one character `c`.
    fn is(&self, delta: isize, c: char) -> bool {
        match self.read(delta) {
            Rd::S(i) => {
                let (s, e) = self.segs[i];
                e == s + 1 && self.chars[s as usize] == c
            }
            _ => false,
        }
    }
    fn is_marker_at(&self, delta: isize) -> bool {
        match self.read(delta) {
            Rd::S(i) => {
                let (s, e) = self.segs[i];
                e == s + 1 && is_marker(self.chars[s as usize])
            }
            _ => true, // START and END are markers
        }
    }
    fn at_line_start(&self, delta: isize) -> bool {
        matches!(self.read(delta), Rd::Start) || self.is(delta, '\n')
    }
    fn is_space_seg(&self, delta: isize) -> bool {
        match self.read(delta) {
            Rd::S(i) => self.seg(i).iter().all(|c| c.is_whitespace()) && !self.seg(i).is_empty(),
            _ => false,
        }
    }
    /// Source position of the segment at head+delta (END: the text length).
    fn pos(&self, delta: isize) -> u32 {
        match self.read(delta) {
            Rd::S(i) => self.segs[i].0,
            Rd::End => self.chars.len() as u32,
            Rd::Start => 0,
        }
    }
    fn end_pos(&self, delta: isize) -> u32 {
        match self.read(delta) {
            Rd::S(i) => self.segs[i].1,
            Rd::End => self.chars.len() as u32,
            Rd::Start => 0,
        }
    }
    fn is_end(&self) -> bool {
        matches!(self.read(0), Rd::End)
    }

    // ---- stacks ------------------------------------------------------------------------
    fn ctx(&self) -> u64 {
        self.stacks.last().map_or(0, |s| s.ctx)
    }
    fn set_ctx(&mut self, value: u64) {
        if let Some(s) = self.stacks.last_mut() {
            s.ctx = value;
        }
    }
    fn or_ctx(&mut self, bits: u64) {
        let c = self.ctx();
        self.set_ctx(c | bits);
    }
    fn xor_ctx(&mut self, bits: u64) {
        let c = self.ctx();
        self.set_ctx(c ^ bits);
    }
    fn push(&mut self, ctx: u64) -> R<()> {
        let ident = (self.head as usize, ctx);
        if self.bad_routes.contains(&ident) {
            return Err(Bad { ctx });
        }
        self.stacks.push(Stack { toks: Vec::new(), ctx, ident });
        self.depth += 1;
        Ok(())
    }
    fn pop(&mut self) -> Vec<Tok> {
        self.depth -= 1;
        self.stacks.pop().map(|s| s.toks).unwrap_or_default()
    }
    fn pop_keep_context(&mut self) -> Vec<Tok> {
        let ctx = self.ctx();
        let toks = self.pop();
        self.set_ctx(ctx);
        toks
    }
    fn can_recurse(&self) -> bool {
        self.depth < MAX_DEPTH
    }
    fn memoize_bad_route(&mut self) {
        if let Some(s) = self.stacks.last() {
            self.bad_routes.insert(s.ident);
        }
    }
    fn fail<T>(&mut self) -> R<T> {
        let ctx = self.ctx();
        self.memoize_bad_route();
        self.pop();
        Err(Bad { ctx })
    }
    fn emit(&mut self, tok: Tok) {
        if let Some(s) = self.stacks.last_mut() {
            s.toks.push(tok);
        }
    }
    fn emit_first(&mut self, tok: Tok) {
        if let Some(s) = self.stacks.last_mut() {
            s.toks.insert(0, tok);
        }
    }
    fn emit_all(&mut self, toks: Vec<Tok>) {
        if let Some(s) = self.stacks.last_mut() {
            s.toks.extend(toks);
        }
    }
    fn emit_text_then_stack(&mut self) {
        let stack = self.pop();
        self.emit_all(stack);
        self.head -= 1;
    }

    // ---- templates and arguments ---------------------------------------------------------
    fn parse_template(&mut self, has_content: bool, start: u32) -> R<()> {
        let context = if has_content { TEMPLATE_NAME | HAS_TEMPLATE } else { TEMPLATE_NAME };
        let closer = self.last.braces;
        self.parse_braced(context, closer, Tok::TplOpen(start), Tok::TplClose)
    }
    fn parse_argument(&mut self, start: u32) -> R<()> {
        let closer = self.last.triple_braces;
        self.parse_braced(ARGUMENT_NAME, closer, Tok::ArgOpen(start), Tok::ArgClose)
    }
    /// ``_parse_template`` / ``_parse_argument``: the construct's tokens wrap what the brace run
    /// already holds (an inner construct of the same run is part of this one's name).
    fn parse_braced(&mut self, context: u64, closer: Option<u32>, open: Tok, close: fn(u32) -> Tok) -> R<()> {
        if !after(closer, self.pos(0)) {
            return Err(Bad { ctx: context });
        }
        let reset = self.head;
        match self.parse(context, true) {
            Err(e) => {
                self.head = reset;
                Err(e)
            }
            Ok((toks, _)) => {
                self.emit_first(open);
                self.emit_all(toks);
                let end = self.end_pos(0);
                self.emit(close(end));
                Ok(())
            }
        }
    }
    fn parse_template_or_argument(&mut self) -> R<()> {
        let first = self.pos(0);
        self.head += 2;
        let mut braces: u32 = 2;
        while self.is(0, '{') {
            self.head += 1;
            braces += 1;
        }
        let mut has_content = false;
        self.push(0)?;
        while braces > 0 {
            if braces == 1 {
                self.emit_text_then_stack();
                return Ok(());
            }
            if braces == 2 {
                if self.parse_template(has_content, first + braces - 2).is_err() {
                    self.emit_text_then_stack();
                    return Ok(());
                }
                break;
            }
            if self.parse_argument(first + braces - 3).is_ok() {
                braces -= 3;
            } else if self.parse_template(has_content, first + braces - 2).is_ok() {
                braces -= 2;
            } else {
                self.emit_text_then_stack();
                return Ok(());
            }
            if braces > 0 {
                has_content = true;
                self.head += 1;
            }
        }
        let toks = self.pop();
        self.emit_all(toks);
        if self.ctx() & FAIL_NEXT != 0 {
            self.xor_ctx(FAIL_NEXT);
        }
        Ok(())
    }
    fn handle_template_param(&mut self) -> R<()> {
        let c = self.ctx();
        if c & TEMPLATE_NAME != 0 {
            if c & (HAS_TEXT | HAS_TEMPLATE) == 0 {
                return self.fail();
            }
            self.xor_ctx(TEMPLATE_NAME);
        } else if c & TEMPLATE_PARAM_VALUE != 0 {
            self.xor_ctx(TEMPLATE_PARAM_VALUE);
        } else {
            let toks = self.pop();
            self.emit_all(toks);
        }
        self.or_ctx(TEMPLATE_PARAM_KEY);
        let p = self.pos(0);
        self.emit(Tok::TplSep(p));
        let c = self.ctx();
        self.push(c)
    }
    fn handle_template_param_value(&mut self) {
        let toks = self.pop();
        self.emit_all(toks);
        self.xor_ctx(TEMPLATE_PARAM_KEY);
        self.or_ctx(TEMPLATE_PARAM_VALUE);
    }
    fn handle_template_end(&mut self) -> R<(Vec<Tok>, u8)> {
        let c = self.ctx();
        if c & TEMPLATE_NAME != 0 {
            if c & (HAS_TEXT | HAS_TEMPLATE) == 0 {
                return self.fail();
            }
        } else if c & TEMPLATE_PARAM_KEY != 0 {
            let toks = self.pop();
            self.emit_all(toks);
        }
        self.head += 1;
        Ok((self.pop(), 0))
    }
    /// ``_handle_argument_separator`` / ``_handle_wikilink_separator``: the ``|`` between a name or
    /// title and what follows.
    fn handle_separator(&mut self, from: u64, to: u64, separator: fn(u32) -> Tok) {
        self.xor_ctx(from);
        self.or_ctx(to);
        let p = self.pos(0);
        self.emit(separator(p));
    }
    fn handle_argument_end(&mut self) -> (Vec<Tok>, u8) {
        self.head += 2;
        (self.pop(), 0)
    }

    // ---- wikilinks -------------------------------------------------------------------------
    fn parse_wikilink(&mut self) -> R<()> {
        let start = self.pos(0);
        let reset = self.head + 1;
        self.head += 2;
        match self.really_parse_external_link(true, 0) {
            Err(_) => {
                self.head = reset + 1;
                let possible = after(self.last.brackets, self.pos(0));
                match if possible { self.parse(WIKILINK_TITLE, true) } else { Err(Bad { ctx: WIKILINK_TITLE }) } {
                    Err(_) => {
                        self.head = reset;
                    }
                    Ok((toks, _)) => {
                        self.emit(Tok::LinkOpen(start));
                        self.emit_all(toks);
                        let end = self.end_pos(0);
                        self.emit(Tok::LinkClose(end));
                    }
                }
            }
            Ok((toks, _, end)) => {
                if self.ctx() & EXT_LINK_TITLE != 0 {
                    self.head = reset;
                    return Ok(());
                }
                self.emit(Tok::ExtOpen(start + 1, true));
                self.emit_all(toks);
                self.emit(Tok::ExtClose(end));
            }
        }
        Ok(())
    }
    fn handle_wikilink_end(&mut self) -> (Vec<Tok>, u8) {
        self.head += 1;
        (self.pop(), 0)
    }

    // ---- external links ---------------------------------------------------------------------
    fn parse_bracketed_uri_scheme(&mut self) -> R<()> {
        self.push(EXT_LINK_URI)?;
        if self.is(0, '/') && self.is(1, '/') {
            self.head += 2;
        } else {
            let mut scheme = String::new();
            while let Rd::S(i) = self.read(0) {
                let seg = self.seg(i);
                if !seg.iter().all(|c| URISCHEME.contains(*c)) {
                    break;
                }
                scheme.extend(seg.iter());
                self.head += 1;
            }
            if !self.is(0, ':') {
                return self.fail();
            }
            self.head += 1;
            let slashes = self.is(0, '/') && self.is(1, '/');
            if slashes {
                self.head += 2;
            }
            if !is_scheme(&scheme, slashes) {
                return self.fail();
            }
        }
        Ok(())
    }
    /// ``_parse_free_uri_scheme``, called with head just after the ':'. The scheme is the text just
    /// before the ':' in the current text buffer (from ``buffer_from``). Returns the link's start.
    fn parse_free_uri_scheme(&mut self, buffer_from: u32) -> R<u32> {
        let colon = self.pos(-1) as usize;
        let mut start = colon;
        while start > buffer_from as usize {
            let c = self.chars[start - 1];
            if !(c.is_alphanumeric() || c == '_') {
                break;
            }
            if !URISCHEME.contains(c) {
                return Err(Bad { ctx: 0 });
            }
            start -= 1;
        }
        let scheme: String = self.chars[start..colon].iter().collect();
        let slashes = self.is(0, '/') && self.is(1, '/');
        if !is_scheme(&scheme, slashes) {
            return Err(Bad { ctx: 0 });
        }
        let c = self.ctx();
        self.push(c | EXT_LINK_URI)?;
        if slashes {
            self.head += 2;
        }
        Ok(start as u32)
    }
    fn is_uri_end(&self) -> bool {
        let ctx = self.ctx();
        match self.read(0) {
            Rd::End => true,
            Rd::S(i) => {
                let seg = self.seg(i);
                let one = |c: char| seg.len() == 1 && seg[0] == c;
                one('\n') || one('[') || one(']') || one('<') || one('>') || one('"')
                    || seg.contains(&' ')
                    || (one('\'') && self.is(1, '\''))
                    || (one('|') && ctx & TEMPLATE != 0)
                    || (one('=') && ctx & (TEMPLATE_PARAM_KEY | HEADING) != 0)
                    || (one('}') && self.is(1, '}') && ctx & TEMPLATE != 0)
                    || (one('}') && self.is(1, '}') && self.is(2, '}') && ctx & ARGUMENT != 0)
            }
            Rd::Start => false,
        }
    }
    /// ``_really_parse_external_link``: the link's tokens and where the link ends (a free link's
    /// trailing punctuation stays outside it).
    fn really_parse_external_link(&mut self, brackets: bool, buffer_from: u32) -> R<(Vec<Tok>, u32, u32)> {
        if brackets && !after(self.last.bracket, self.pos(0)) {
            return Err(Bad { ctx: EXT_LINK_URI });
        }
        let start = if brackets {
            self.parse_bracketed_uri_scheme()?;
            0
        } else {
            self.parse_free_uri_scheme(buffer_from)?
        };
        let invalid_first = |c: char| c == '\n' || c == ' ' || c == ']' || (!brackets && c == '[');
        match self.read(0) {
            Rd::S(i) if !invalid_first(self.seg(i)[0]) => {}
            _ => return self.fail(),
        }
        let mut punct: &str = ",;\\.:!?)";
        let mut tail: u32 = 0; // pending trailing punctuation, outside the link unless URL text follows
        loop {
            if self.is(0, '&') {
                tail = 0;
                self.parse_entity()?;
            } else if self.is(0, '<') && self.is(1, '!') && self.is(2, '-') && self.is(3, '-') {
                tail = 0;
                self.parse_comment();
            } else if self.is(0, '{') && self.is(1, '{') && self.can_recurse() {
                tail = 0;
                self.parse_template_or_argument()?;
            } else if brackets {
                if self.is_end() || self.is(0, '\n') {
                    return self.fail();
                }
                if self.is(0, ']') {
                    let end = self.end_pos(0);
                    return Ok((self.pop(), start, end));
                }
                if self.is_uri_end() {
                    let Rd::S(i) = self.read(0) else { unreachable!() };
                    if let Some(space) = self.seg(i).iter().position(|&c| c == ' ') {
                        let p = self.segs[i].0 + space as u32;
                        self.emit(Tok::ExtSep(p, false));
                        self.head += 1;
                    } else {
                        let p = self.pos(0);
                        self.emit(Tok::ExtSep(p, true));
                    }
                    self.xor_ctx(EXT_LINK_URI);
                    self.or_ctx(EXT_LINK_TITLE);
                    let (toks, _) = self.parse(0, false)?;
                    let end = self.end_pos(0);
                    return Ok((toks, start, end));
                }
            } else {
                if self.is_uri_end() {
                    if let Rd::S(i) = self.read(0) {
                        let seg = self.seg(i);
                        if let Some(space) = seg.iter().position(|&c| c == ' ') {
                            let (_, t) = free_link_text(punct, tail, &seg[..space]);
                            let end = self.segs[i].0 + space as u32 - t;
                            return Ok((self.pop(), start, end));
                        }
                    }
                    self.head -= 1;
                    let end = self.end_pos(0) - tail;
                    return Ok((self.pop(), start, end));
                }
                let Rd::S(i) = self.read(0) else { unreachable!() };
                let (p, t) = free_link_text(punct, tail, self.seg(i));
                punct = p;
                tail = t;
            }
            self.head += 1;
        }
    }
    fn parse_external_link(&mut self, brackets: bool, buffer_from: u32) -> R<()> {
        if self.ctx() & NO_EXT_LINKS != 0 || !self.can_recurse() {
            if !brackets && self.ctx() & DL_TERM != 0 {
                self.handle_dl_term();
            }
            return Ok(());
        }
        let reset = self.head;
        let open = self.pos(0);
        self.head += 1;
        match self.really_parse_external_link(brackets, buffer_from) {
            Err(_) => {
                self.head = reset;
                if !brackets && self.ctx() & DL_TERM != 0 {
                    self.handle_dl_term();
                }
            }
            Ok((toks, start, end)) => {
                self.emit(Tok::ExtOpen(if brackets { open } else { start }, brackets));
                self.emit_all(toks);
                self.emit(Tok::ExtClose(end));
            }
        }
        Ok(())
    }
    /// Where the current text buffer starts: after the last token of the current stack, or where
    /// the stack started.
    fn buffer_start(&self) -> u32 {
        let Some(stack) = self.stacks.last() else { return 0 };
        match stack.toks.last() {
            None => self.segs.get(stack.ident.0).map_or(self.chars.len() as u32, |s| s.0),
            Some(tok) => match *tok {
                Tok::TplClose(p) | Tok::ArgClose(p) | Tok::LinkClose(p) | Tok::ExtClose(p) | Tok::HeadClose(p)
                | Tok::EntClose(p) | Tok::ComClose(p) | Tok::TagCloseOpen(p) | Tok::TagSelfClose(p)
                | Tok::TagCloseClose(p) | Tok::ExtSep(p, true) => p,
                Tok::TplSep(p) | Tok::ArgSep(p) | Tok::LinkSep(p) | Tok::ExtSep(p, false) => p + 1,
                Tok::TplOpen(p) | Tok::ArgOpen(p) | Tok::LinkOpen(p) | Tok::ExtOpen(p, _) | Tok::HeadOpen(p, _)
                | Tok::EntOpen(p) | Tok::ComOpen(p) | Tok::TagOpen { pos: p, .. } | Tok::TagOpenClose(p) => p,
            },
        }
    }
    fn closing_tag_name(&self) -> String {
        self.tag_names.last().cloned().unwrap_or_default()
    }

    // ---- headings ---------------------------------------------------------------------------
    fn parse_heading(&mut self) -> R<()> {
        self.global |= GL_HEADING;
        let start = self.pos(0);
        let reset = self.head;
        self.head += 1;
        let mut best: isize = 1;
        while self.is(0, '=') {
            best += 1;
            self.head += 1;
        }
        let context = HEADING_LEVEL_1 << (best - 1).min(5);
        match self.parse(context, true) {
            Err(_) => {
                self.head = reset + best - 1;
            }
            Ok((toks, level)) => {
                self.emit(Tok::HeadOpen(start, level));
                self.emit_all(toks);
                let end = self.end_pos(0);
                self.emit(Tok::HeadClose(end));
            }
        }
        self.global ^= GL_HEADING;
        Ok(())
    }
    fn handle_heading_end(&mut self) -> R<(Vec<Tok>, u8)> {
        let reset = self.head;
        self.head += 1;
        let mut best: isize = 1;
        while self.is(0, '=') {
            best += 1;
            self.head += 1;
        }
        let current = (self.ctx() / HEADING_LEVEL_1).trailing_zeros() as isize + 1;
        let level = current.min(best.min(6));
        let c = self.ctx();
        match self.parse(c, true) {
            Err(_) => {
                self.head = reset + best - 1;
                Ok((self.pop(), level as u8))
            }
            Ok((after, after_level)) => {
                self.emit_all(after);
                Ok((self.pop(), after_level))
            }
        }
    }

    // ---- entities and comments ----------------------------------------------------------------
    fn really_parse_entity(&mut self) -> R<()> {
        let start = self.pos(0);
        self.emit(Tok::EntOpen(start));
        self.head += 1;
        let Rd::S(mut i) = self.read(0) else { return self.fail() };
        let mut this: &[char] = self.seg(i);
        let mut numeric = false;
        let mut hexadecimal = false;
        if self.is(0, '#') {
            numeric = true;
            self.head += 1;
            let Rd::S(j) = self.read(0) else { return self.fail() };
            i = j;
            this = self.seg(i);
            if this[0] == 'x' || this[0] == 'X' {
                hexadecimal = true;
                this = &this[1..];
                if this.is_empty() {
                    return self.fail();
                }
            }
        }
        let valid = |c: char| {
            if hexadecimal {
                c.is_ascii_hexdigit()
            } else if numeric {
                c.is_ascii_digit()
            } else {
                c.is_ascii_alphanumeric()
            }
        };
        if !this.iter().all(|&c| valid(c)) {
            return self.fail();
        }
        self.head += 1;
        if !self.is(0, ';') {
            return self.fail();
        }
        let value: String = this.iter().collect();
        if numeric {
            let parsed = u64::from_str_radix(&value, if hexadecimal { 16 } else { 10 });
            match parsed {
                Ok(n) if (1..=0x10FFFF).contains(&n) => {}
                // Python's int() takes any length; a too-long number is out of range either way.
                _ => return self.fail(),
            }
        } else if !self.entities.contains(&value) {
            return self.fail();
        }
        let end = self.end_pos(0);
        self.emit(Tok::EntClose(end));
        Ok(())
    }
    fn parse_entity(&mut self) -> R<()> {
        let reset = self.head;
        if self.push(HTML_ENTITY).is_err() {
            self.head = reset;
            return Ok(());
        }
        match self.really_parse_entity() {
            Err(_) => {
                self.head = reset;
            }
            Ok(()) => {
                let toks = self.pop();
                self.emit_all(toks);
            }
        }
        Ok(())
    }
    fn parse_comment(&mut self) {
        let start = self.pos(0);
        if !after(self.last.comment, start + 4) {
            return;
        }
        self.head += 4;
        let reset = self.head - 1;
        loop {
            if self.is_end() {
                self.head = reset;
                return;
            }
            if self.is(0, '-') && self.is(1, '-') && self.is(2, '>') {
                self.emit(Tok::ComOpen(start));
                let end = self.end_pos(2);
                self.emit(Tok::ComClose(end));
                self.head += 2;
                if self.ctx() & FAIL_NEXT != 0 {
                    self.xor_ctx(FAIL_NEXT);
                }
                return;
            }
            self.head += 1;
        }
    }

    // ---- tags ------------------------------------------------------------------------------
    fn push_tag_buffer(&mut self, data: &mut TagData) {
        if data.context & CX_QUOTED != 0 {
            let toks = self.pop();
            self.emit_all(toks);
        }
        let toks = self.pop();
        self.emit_all(toks);
    }
    fn handle_tag_space(&mut self, data: &mut TagData) {
        let ctx = data.context;
        let end_of_value = ctx & CX_ATTR_VALUE != 0 && ctx & (CX_QUOTED | CX_NOTE_QUOTE) == 0;
        if end_of_value || (ctx & CX_QUOTED != 0 && ctx & CX_NOTE_SPACE != 0) {
            self.push_tag_buffer(data);
            data.context = CX_ATTR_READY;
        } else if ctx & CX_NOTE_SPACE != 0 {
            data.context = CX_ATTR_READY;
        } else if ctx & CX_ATTR_NAME != 0 {
            data.context |= CX_NOTE_EQUALS;
        }
    }
    fn handle_tag_text(&mut self, chunk: &[char]) -> R<()> {
        let single = chunk.len() == 1 && is_marker(chunk[0]);
        if !self.can_recurse() || !single {
            return Ok(());
        }
        let c = chunk[0];
        if c == '{' && self.is(1, '{') {
            self.parse_template_or_argument()
        } else if c == '[' && self.is(1, '[') {
            self.parse_wikilink()
        } else if c == '<' {
            self.parse_tag()
        } else {
            Ok(())
        }
    }
    /// Returns the tag name when this chunk was the name.
    fn handle_tag_data(&mut self, data: &mut TagData, name: &mut Option<String>) -> R<()> {
        let Rd::S(i) = self.read(0) else { return Ok(()) };
        let seg = self.seg(i);
        // tag_splitter: split into runs of whitespace/quotes/backslash and the rest.
        let sep = |c: char| c.is_whitespace() || c == '"' || c == '\'' || c == '\\';
        let mut k = 0;
        while k < seg.len() {
            let kind = sep(seg[k]);
            let mut e = k;
            while e < seg.len() && sep(seg[e]) == kind {
                e += 1;
            }
            // The separator group is kept whole by the regex; quote characters are their own
            // segments already, so a group here is whitespace (or backslash) only.
            let chunk = &seg[k..e];
            k = e;
            let is_space = chunk.iter().all(|c| c.is_whitespace());
            if data.context & CX_NAME != 0 {
                if (chunk.len() == 1 && is_marker(chunk[0])) || is_space {
                    return self.fail();
                }
                data.context = CX_NOTE_SPACE;
                *name = Some(chunk.iter().collect());
            } else if is_space {
                self.handle_tag_space(data);
                continue;
            } else if data.context & CX_NOTE_SPACE != 0 {
                if data.context & CX_QUOTED != 0 {
                    data.context = CX_ATTR_VALUE;
                    self.memoize_bad_route();
                    self.pop();
                    self.head = data.reset as isize - 1;
                    return Ok(());
                }
                return self.fail();
            } else if data.context & CX_ATTR_READY != 0 {
                data.context = CX_ATTR_NAME;
                self.push(TAG_ATTR)?;
            } else if data.context & CX_ATTR_NAME != 0 {
                if chunk.len() == 1 && chunk[0] == '=' {
                    data.context = CX_ATTR_VALUE | CX_NOTE_QUOTE;
                    continue;
                }
                if data.context & CX_NOTE_EQUALS != 0 {
                    self.push_tag_buffer(data);
                    data.context = CX_ATTR_NAME;
                    self.push(TAG_ATTR)?;
                }
            } else {
                let escaped = self.is(-1, '\\') && !self.is(-2, '\\');
                if data.context & CX_NOTE_QUOTE != 0 {
                    data.context ^= CX_NOTE_QUOTE;
                    if chunk.len() == 1 && (chunk[0] == '"' || chunk[0] == '\'') && !escaped {
                        data.context |= CX_QUOTED;
                        data.quoter = chunk[0];
                        data.reset = self.head as usize;
                        let c = self.ctx();
                        if self.push(c).is_err() {
                            data.context = CX_ATTR_VALUE;
                            self.head -= 1;
                            return Ok(());
                        }
                        continue;
                    }
                } else if data.context & CX_QUOTED != 0 && chunk.len() == 1 && chunk[0] == data.quoter && !escaped {
                    data.context |= CX_NOTE_SPACE;
                    continue;
                }
            }
            self.handle_tag_text(chunk)?;
        }
        Ok(())
    }
    fn handle_tag_close_open(&mut self, data: &mut TagData) {
        if data.context & (CX_ATTR_NAME | CX_ATTR_VALUE) != 0 {
            self.push_tag_buffer(data);
        }
        self.head += 1;
    }
    fn handle_tag_open_close(&mut self) -> R<()> {
        let p = self.pos(0);
        self.emit(Tok::TagOpenClose(p));
        self.push(TAG_CLOSE)?;
        self.head += 1;
        Ok(())
    }
    fn handle_tag_close_close(&mut self, name: &str) -> R<(Vec<Tok>, u8)> {
        let ident_head = self.stacks.last().map_or(0, |s| s.ident.0);
        let closing = self.pop();
        // The closing stack was pushed on "<"; its text starts after "</".
        let text_start = self.segs.get(ident_head + 2).map_or(self.chars.len() as u32, |s| s.0) as usize;
        let text_end = (self.pos(0) as usize).max(text_start);
        let text: String = self.chars[text_start..text_end].iter().collect();
        if !closing.is_empty() || text.is_empty() || text.trim_end().to_lowercase() != name.trim_end().to_lowercase() {
            return self.fail();
        }
        let end = self.end_pos(0);
        self.emit(Tok::TagCloseClose(end));
        Ok((self.pop(), 0))
    }
    fn handle_blacklisted_tag(&mut self, name: &str) -> R<(Vec<Tok>, u8)> {
        loop {
            if self.is_end() {
                return self.fail();
            } else if self.is(0, '<') && self.is(1, '/') {
                let open_close = self.pos(0);
                self.head += 3;
                let matches = self.is(0, '>')
                    && match self.read(-1) {
                        Rd::S(i) => {
                            let t: String = self.seg(i).iter().collect();
                            t.trim_end().to_lowercase() == name.trim_end().to_lowercase()
                        }
                        _ => false,
                    };
                if !matches {
                    self.head -= 1;
                    continue;
                }
                self.emit(Tok::TagOpenClose(open_close));
                let end = self.end_pos(0);
                self.emit(Tok::TagCloseClose(end));
                return Ok((self.pop(), 0));
            } else if self.is(0, '&') {
                self.parse_entity()?;
            }
            self.head += 1;
        }
    }
    fn handle_single_only_tag_end(&mut self) -> (Vec<Tok>, u8) {
        // The TagCloseOpen just emitted becomes an implicit self-close.
        if let Some(s) = self.stacks.last_mut() {
            if let Some(Tok::TagCloseOpen(p)) = s.toks.pop() {
                s.toks.push(Tok::TagSelfClose(p));
            }
        }
        self.head -= 1;
        (self.pop(), 0)
    }
    fn handle_single_tag_end(&mut self) -> (Vec<Tok>, u8) {
        if let Some(s) = self.stacks.last_mut() {
            let mut depth = 1;
            for index in 1..s.toks.len() {
                match s.toks[index] {
                    Tok::TagOpen { .. } => depth += 1,
                    Tok::TagCloseOpen(p) => {
                        depth -= 1;
                        if depth == 0 {
                            s.toks[index] = Tok::TagSelfClose(p);
                            break;
                        }
                    }
                    Tok::TagSelfClose(_) => depth -= 1,
                    _ => {}
                }
            }
        }
        (self.pop(), 0)
    }
    fn really_parse_tag(&mut self, start: u32) -> R<(Vec<Tok>, u8)> {
        let mut data = TagData { context: CX_NAME, quoter: '"', reset: 0 };
        self.push(TAG_OPEN)?;
        let mut name: Option<String> = None;
        self.emit(Tok::TagOpen { pos: start, name: String::new(), markup: Markup::None });
        loop {
            let can_exit = data.context & (CX_QUOTED | CX_NAME) == 0 || data.context & CX_NOTE_SPACE != 0;
            if self.is_end() {
                if self.retry_unquoted(&mut data) {
                    continue;
                }
                return self.fail();
            } else if self.is(0, '>') && can_exit {
                let close = self.end_pos(0);
                self.handle_tag_close_open(&mut data);
                self.set_name(&name);
                self.emit(Tok::TagCloseOpen(close));
                self.set_ctx(TAG_BODY);
                let tag = name.clone().unwrap_or_default();
                if in_list(SINGLE_ONLY, &tag) {
                    return Ok(self.handle_single_only_tag_end());
                }
                if !in_list(PARSER_BLACKLIST, &tag) {
                    return self.parse_tag_body(&tag);
                }
                return self.handle_blacklisted_tag(&tag);
            } else if self.is(0, '/') && self.is(1, '>') && can_exit {
                self.handle_tag_close_open(&mut data);
                self.set_name(&name);
                let end = self.end_pos(0);
                self.emit(Tok::TagSelfClose(end));
                return Ok((self.pop(), 0));
            } else {
                self.handle_tag_data(&mut data, &mut name)?;
            }
            self.head += 1;
        }
    }
    /// An open tag or table style ran out inside an attribute: an unclosed quote is read again as
    /// an unquoted value from the quote (true: continue there); otherwise the route fails.
    fn retry_unquoted(&mut self, data: &mut TagData) -> bool {
        if self.ctx() & TAG_ATTR == 0 {
            return false;
        }
        if data.context & CX_QUOTED != 0 {
            data.context = CX_ATTR_VALUE;
            self.memoize_bad_route();
            self.pop();
            self.head = data.reset as isize;
            return true;
        }
        self.pop();
        false
    }
    fn set_name(&mut self, name: &Option<String>) {
        if let Some(s) = self.stacks.last_mut() {
            if let Some(Tok::TagOpen { name: n, .. }) = s.toks.first_mut() {
                *n = name.clone().unwrap_or_default();
            }
        }
    }
    fn parse_tag_body(&mut self, tag: &str) -> R<(Vec<Tok>, u8)> {
        if !in_list(SINGLE, tag) && !after(self.last.close_tag, self.pos(0)) {
            return self.fail();
        }
        self.tag_names.push(tag.to_string());
        let result = self.parse(0, false);
        self.tag_names.pop();
        result
    }
    fn handle_invalid_tag_start(&mut self) -> R<()> {
        let start = self.pos(0);
        let reset = self.head + 1;
        self.head += 2;
        let ok = match self.read(0) {
            Rd::S(i) => {
                let seg = self.seg(i);
                let first: String = seg.iter().take_while(|c| !(c.is_whitespace() || **c == '"' || **c == '\'' || **c == '\\')).collect();
                in_list(SINGLE_ONLY, &first)
            }
            _ => false,
        };
        if !ok {
            self.head = reset;
            return Ok(());
        }
        match self.really_parse_tag(start) {
            Err(_) => {
                self.head = reset;
            }
            Ok((toks, _)) => self.emit_all(toks),
        }
        Ok(())
    }
    fn parse_tag(&mut self) -> R<()> {
        let start = self.pos(0);
        let reset = self.head;
        self.head += 1;
        match self.really_parse_tag(start) {
            Err(_) => {
                self.head = reset;
            }
            Ok((toks, _)) => self.emit_all(toks),
        }
        Ok(())
    }

    // ---- bold and italics -----------------------------------------------------------------
    fn emit_style_tag(&mut self, start: u32, tag: &str, body: Vec<Tok>, end: u32) {
        self.emit(Tok::TagOpen { pos: start, name: tag.to_string(), markup: Markup::Style });
        self.emit(Tok::TagCloseOpen(start + if tag == "i" { 2 } else { 3 }));
        self.emit_all(body);
        self.emit(Tok::TagOpenClose(end - if tag == "i" { 2 } else { 3 }));
        self.emit(Tok::TagCloseClose(end));
    }
    /// Where the closing ticks of the style just parsed end (head is on the last of them, or for
    /// five ticks closing a shorter style, upstream moved head back onto that style's last tick).
    fn style_end(&self) -> u32 {
        self.pos(0)
    }
    fn parse_italics(&mut self, start: u32) -> R<()> {
        let reset = self.head;
        let stack = match self.parse(STYLE_ITALICS, true) {
            Ok((s, _)) => s,
            Err(route) => {
                self.head = reset;
                if route.ctx & STYLE_PASS_AGAIN != 0 {
                    match self.parse(STYLE_ITALICS | STYLE_SECOND_PASS, true) {
                        Ok((s, _)) => s,
                        Err(_) => {
                            self.head = reset;
                            return Ok(());
                        }
                    }
                } else {
                    return Ok(());
                }
            }
        };
        let end = self.style_end();
        self.emit_style_tag(start, "i", stack, end);
        Ok(())
    }
    fn parse_bold(&mut self, start: u32) -> R<bool> {
        let reset = self.head;
        match self.parse(STYLE_BOLD, true) {
            Err(_) => {
                self.head = reset;
                if self.ctx() & STYLE_SECOND_PASS != 0 {
                    return Ok(true);
                }
                if self.ctx() & STYLE_ITALICS != 0 {
                    self.or_ctx(STYLE_PASS_AGAIN);
                } else {
                    self.parse_italics(start + 1)?;
                }
            }
            Ok((stack, _)) => {
                let end = self.style_end();
                self.emit_style_tag(start, "b", stack, end);
            }
        }
        Ok(false)
    }
    fn parse_italics_and_bold(&mut self, start: u32) -> R<()> {
        let reset = self.head;
        match self.parse(STYLE_BOLD, true) {
            Ok((body, _)) => self.finish_five_ticks(start, "b", body, "i", STYLE_ITALICS),
            Err(_) => {
                self.head = reset;
                match self.parse(STYLE_ITALICS, true) {
                    Ok((body, _)) => self.finish_five_ticks(start, "i", body, "b", STYLE_BOLD),
                    Err(_) => {
                        self.head = reset;
                        Ok(())
                    }
                }
            }
        }
    }
    /// After five ticks closed by the style ``first`` (its ``body`` just parsed): the other style
    /// either closes too (then it wraps ``first``, both starting at the ticks) or stays text.
    fn finish_five_ticks(&mut self, start: u32, first: &str, body: Vec<Tok>, other: &str, other_ctx: u64) -> R<()> {
        let first_end = self.style_end();
        let first_start = start + if first == "i" { 3 } else { 2 };
        let reset = self.head;
        match self.parse(other_ctx, true) {
            Err(_) => {
                self.head = reset;
                self.emit_style_tag(first_start, first, body, first_end);
            }
            Ok((rest, _)) => {
                let other_end = self.style_end();
                self.push(0)?;
                self.emit_style_tag(first_start, first, body, first_end);
                self.emit_all(rest);
                let inner = self.pop();
                self.emit_style_tag(start, other, inner, other_end);
            }
        }
        Ok(())
    }
    fn parse_style(&mut self) -> R<Option<(Vec<Tok>, u8)>> {
        let first = self.pos(0);
        self.head += 2;
        let mut ticks: u32 = 2;
        while self.is(0, '\'') {
            self.head += 1;
            ticks += 1;
        }
        let italics = self.ctx() & STYLE_ITALICS != 0;
        let bold = self.ctx() & STYLE_BOLD != 0;
        let mut start = first;
        if ticks > 5 {
            start += ticks - 5;
            ticks = 5;
        } else if ticks == 4 {
            start += 1;
            ticks = 3;
        }
        if (italics && (ticks == 2 || ticks == 5)) || (bold && (ticks == 3 || ticks == 5)) {
            if ticks == 5 {
                self.head -= if italics { 3 } else { 2 };
            }
            let toks = self.pop();
            return Ok(Some((toks, 0)));
        }
        if !self.can_recurse() {
            if ticks == 3 {
                if self.ctx() & STYLE_SECOND_PASS != 0 {
                    return Ok(Some((self.pop(), 0)));
                }
                if self.ctx() & STYLE_ITALICS != 0 {
                    self.or_ctx(STYLE_PASS_AGAIN);
                }
            }
        } else if ticks == 2 {
            self.parse_italics(start)?;
        } else if ticks == 3 {
            if self.parse_bold(start)? {
                return Ok(Some((self.pop(), 0)));
            }
        } else {
            self.parse_italics_and_bold(start)?;
        }
        self.head -= 1;
        Ok(None)
    }

    // ---- lists, rules, description terms ------------------------------------------------------
    fn handle_list_marker(&mut self) {
        let p = self.pos(0);
        let name = if self.is(0, '#') || self.is(0, '*') { "li" } else if self.is(0, ';') { "dt" } else { "dd" };
        if self.is(0, ';') {
            self.or_ctx(DL_TERM);
        }
        self.emit(Tok::TagOpen { pos: p, name: name.to_string(), markup: Markup::List });
        self.emit(Tok::TagSelfClose(p + 1));
    }
    fn handle_list(&mut self) {
        self.handle_list_marker();
        while self.is(1, '#') || self.is(1, '*') || self.is(1, ';') || self.is(1, ':') {
            self.head += 1;
            self.handle_list_marker();
        }
    }
    fn handle_hr(&mut self) {
        let p = self.pos(0);
        self.head += 3;
        while self.is(1, '-') {
            self.head += 1;
        }
        let end = self.end_pos(0);
        self.emit(Tok::TagOpen { pos: p, name: "hr".to_string(), markup: Markup::Hr });
        self.emit(Tok::TagSelfClose(end));
    }
    fn handle_dl_term(&mut self) {
        self.xor_ctx(DL_TERM);
        if self.is(0, ':') {
            self.handle_list_marker();
        }
    }

    // ---- tables ----------------------------------------------------------------------------
    /// ``contents`` spans ``body.0..body.1`` (a table's ends before its "|}").
    fn emit_table_tag(&mut self, start: u32, tag: &str, style: Vec<Tok>, contents: Vec<Tok>, body: (u32, u32), end: u32) {
        self.emit(Tok::TagOpen { pos: start, name: tag.to_string(), markup: Markup::Table });
        self.emit_all(style);
        self.emit(Tok::TagCloseOpen(body.0));
        self.emit_all(contents);
        self.emit(Tok::TagOpenClose(body.1));
        self.emit(Tok::TagCloseClose(end));
    }
    fn handle_table_style(&mut self, end_token: char) -> R<()> {
        let mut data = TagData { context: CX_ATTR_READY, quoter: '"', reset: 0 };
        loop {
            let can_exit = data.context & CX_QUOTED == 0 || data.context & CX_NOTE_SPACE != 0;
            if self.is(0, end_token) && can_exit {
                if data.context & (CX_ATTR_NAME | CX_ATTR_VALUE) != 0 {
                    self.push_tag_buffer(&mut data);
                }
                return Ok(());
            }
            if self.is_end() || self.is(0, end_token) {
                if self.retry_unquoted(&mut data) {
                    continue;
                }
                return self.fail();
            }
            let mut name = None;
            self.handle_tag_data(&mut data, &mut name)?;
            self.head += 1;
        }
    }
    fn parse_table(&mut self) -> R<()> {
        let start = self.pos(0);
        let reset = self.head;
        self.head += 2;
        let styled = match self.push(TABLE_OPEN) {
            Ok(()) => self.handle_table_style('\n'),
            Err(e) => Err(e),
        };
        if styled.is_err() {
            self.head = reset;
            return Ok(());
        }
        let style = self.pop();
        self.head += 1;
        if !after(self.last.table, self.pos(0)) {
            self.head = reset;
            return Ok(());
        }
        let restore_point = self.stacks.len();
        let body = self.pos(0);
        match self.parse(TABLE_OPEN, true) {
            Err(_) => {
                while self.stacks.len() > restore_point {
                    self.memoize_bad_route();
                    self.pop();
                }
                self.head = reset;
                Ok(())
            }
            Ok((table, _)) => {
                let end = self.pos(0);
                self.emit_table_tag(start, "table", style, table, (body, end - 2), end);
                self.head -= 1;
                Ok(())
            }
        }
    }
    fn handle_table_row(&mut self) -> R<()> {
        let start = self.pos(0);
        self.head += 2;
        if !self.can_recurse() {
            self.head -= 1;
            return Ok(());
        }
        self.push(TABLE_OPEN | TABLE_ROW_OPEN)?;
        self.handle_table_style('\n')?;
        let style = self.pop();
        self.head += 1;
        let body = self.pos(0);
        let (row, _) = self.parse(TABLE_OPEN | TABLE_ROW_OPEN, true)?;
        let end = self.pos(0);
        self.emit_table_tag(start, "tr", style, row, (body, end), end);
        self.head -= 1;
        Ok(())
    }
    fn handle_table_cell(&mut self, markup_len: isize, tag: &str, line_context: u64) -> R<()> {
        let start = self.pos(0);
        let old_context = self.ctx();
        self.head += markup_len;
        let reset = self.head;
        if !self.can_recurse() {
            self.head -= 1;
            return Ok(());
        }
        let mut body = self.pos(0);
        let (mut cell, _) = self.parse(TABLE_OPEN | TABLE_CELL_OPEN | line_context | TABLE_CELL_STYLE, true)?;
        let mut cell_context = self.ctx();
        self.set_ctx(old_context);
        let reset_for_style = cell_context & TABLE_CELL_STYLE != 0;
        let mut style = Vec::new();
        if reset_for_style {
            self.head = reset;
            self.push(TABLE_OPEN | TABLE_CELL_OPEN | line_context)?;
            self.handle_table_style('|')?;
            style = self.pop();
            self.head += 1;
            body = self.pos(0);
            cell = self.parse(TABLE_OPEN | TABLE_CELL_OPEN | line_context, true)?.0;
            cell_context = self.ctx();
            self.set_ctx(old_context);
        }
        let end = self.pos(0);
        self.emit_table_tag(start, tag, style, cell, (body, end), end);
        self.or_ctx(cell_context & (TABLE_TH_LINE | TABLE_TD_LINE));
        self.head -= 1;
        Ok(())
    }
    fn handle_table_cell_end(&mut self, reset_for_style: bool) -> (Vec<Tok>, u8) {
        if reset_for_style {
            self.or_ctx(TABLE_CELL_STYLE);
        } else {
            let c = self.ctx();
            self.set_ctx(c & !TABLE_CELL_STYLE);
        }
        (self.pop_keep_context(), 0)
    }
    fn handle_table_end(&mut self) -> (Vec<Tok>, u8) {
        self.head += 2;
        (self.pop(), 0)
    }
    fn handle_end(&mut self) -> R<(Vec<Tok>, u8)> {
        let c = self.ctx();
        if c & FAIL != 0 {
            if c & TAG_BODY != 0 {
                if let Some(name) = self.tag_names.last() {
                    if in_list(SINGLE, name) {
                        return Ok(self.handle_single_tag_end());
                    }
                }
            }
            if c & TABLE_CELL_OPEN != 0 {
                self.pop();
            }
            if c & DOUBLE != 0 {
                self.pop();
            }
            return self.fail();
        }
        Ok((self.pop(), 0))
    }
    fn verify_safe(&mut self) -> bool {
        let context = self.ctx();
        let this_is = |t: &Self, c: char| t.is(0, c);
        if context & FAIL_NEXT != 0 {
            return false;
        }
        if context & WIKILINK_TITLE != 0 {
            if this_is(self, ']') || this_is(self, '{') {
                self.or_ctx(FAIL_NEXT);
            } else if this_is(self, '\n') || this_is(self, '[') || this_is(self, '}') || this_is(self, '>') {
                return false;
            } else if this_is(self, '<') {
                if self.is(1, '!') {
                    self.or_ctx(FAIL_NEXT);
                } else {
                    return false;
                }
            }
            return true;
        }
        if context & EXT_LINK_TITLE != 0 {
            return !this_is(self, '\n');
        }
        if context & TEMPLATE_NAME != 0 {
            if this_is(self, '{') {
                self.or_ctx(HAS_TEMPLATE | FAIL_NEXT);
                return true;
            }
            if this_is(self, '}') || (this_is(self, '<') && self.is(1, '!')) {
                self.or_ctx(FAIL_NEXT);
                return true;
            }
            if this_is(self, '[') || this_is(self, ']') || this_is(self, '<') || this_is(self, '>') {
                return false;
            }
            if this_is(self, '|') {
                return true;
            }
            let is_end = self.is_end();
            let space = self.is_space_seg(0);
            if context & HAS_TEXT != 0 {
                if context & FAIL_ON_TEXT != 0 {
                    if is_end || !space {
                        return false;
                    }
                } else if this_is(self, '\n') {
                    self.or_ctx(FAIL_ON_TEXT);
                }
            } else if is_end || !space {
                self.or_ctx(HAS_TEXT);
            }
            return true;
        }
        if context & TAG_CLOSE != 0 {
            return !this_is(self, '<');
        }
        if context & FAIL_ON_EQUALS != 0 {
            if this_is(self, '=') {
                return false;
            }
        } else if context & FAIL_ON_LBRACE != 0 {
            if this_is(self, '{') || (self.is(-1, '{') && self.is(-2, '{')) {
                if context & TEMPLATE != 0 {
                    self.or_ctx(FAIL_ON_EQUALS);
                } else {
                    self.or_ctx(FAIL_NEXT);
                }
                return true;
            }
            self.xor_ctx(FAIL_ON_LBRACE);
        } else if context & FAIL_ON_RBRACE != 0 {
            if this_is(self, '}') {
                self.or_ctx(FAIL_NEXT);
                return true;
            }
            self.xor_ctx(FAIL_ON_RBRACE);
        } else if this_is(self, '{') {
            self.or_ctx(FAIL_ON_LBRACE);
        } else if this_is(self, '}') {
            self.or_ctx(FAIL_ON_RBRACE);
        }
        true
    }

    // ---- the main loop ---------------------------------------------------------------------
    fn parse(&mut self, context: u64, push: bool) -> R<(Vec<Tok>, u8)> {
        if push {
            self.push(context)?;
        }
        loop {
            if self.ctx() & UNSAFE != 0 && !self.verify_safe() {
                if self.ctx() & DOUBLE != 0 {
                    self.pop();
                }
                return self.fail();
            }
            let this = match self.read(0) {
                Rd::End => return self.handle_end(),
                Rd::S(i) => {
                    let seg = self.seg(i);
                    if seg.len() != 1 || !is_marker(seg[0]) {
                        self.head += 1;
                        continue;
                    }
                    seg[0]
                }
                Rd::Start => unreachable!(),
            };
            let ctx = self.ctx();
            let nxt = |t: &Self, c: char| t.is(1, c);
            if this == '{' && nxt(self, '{') {
                if self.can_recurse() {
                    self.parse_template_or_argument()?;
                }
            } else if this == '|' && ctx & TEMPLATE != 0 {
                self.handle_template_param()?;
            } else if this == '=' && ctx & TEMPLATE_PARAM_KEY != 0 {
                if self.global & GL_HEADING == 0 && self.at_line_start(-1) && nxt(self, '=') {
                    self.parse_heading()?;
                } else {
                    self.handle_template_param_value();
                }
            } else if this == '}' && nxt(self, '}') && ctx & TEMPLATE != 0 {
                return self.handle_template_end();
            } else if this == '|' && ctx & ARGUMENT_NAME != 0 {
                self.handle_separator(ARGUMENT_NAME, ARGUMENT_DEFAULT, Tok::ArgSep);
            } else if this == '}' && nxt(self, '}') && ctx & ARGUMENT != 0 {
                if self.is(2, '}') {
                    return Ok(self.handle_argument_end());
                }
            } else if this == '[' && nxt(self, '[') && self.can_recurse() {
                if ctx & NO_WIKILINKS == 0 {
                    self.parse_wikilink()?;
                }
            } else if this == '|' && ctx & WIKILINK_TITLE != 0 {
                self.handle_separator(WIKILINK_TITLE, WIKILINK_TEXT, Tok::LinkSep);
            } else if this == ']' && nxt(self, ']') && ctx & WIKILINK != 0 {
                return Ok(self.handle_wikilink_end());
            } else if this == '[' {
                self.parse_external_link(true, 0)?;
            } else if this == ':' && !self.is_marker_at(-1) {
                let from = self.buffer_start();
                self.parse_external_link(false, from)?;
            } else if this == ']' && ctx & EXT_LINK_TITLE != 0 {
                return Ok((self.pop(), 0));
            } else if this == '=' && self.global & GL_HEADING == 0 && ctx & TEMPLATE == 0 {
                if self.at_line_start(-1) {
                    self.parse_heading()?;
                }
            } else if this == '=' && ctx & HEADING != 0 {
                return self.handle_heading_end();
            } else if this == '\n' && ctx & HEADING != 0 {
                return self.fail();
            } else if this == '&' {
                self.parse_entity()?;
            } else if this == '<' && nxt(self, '!') {
                if self.is(2, '-') && self.is(3, '-') {
                    self.parse_comment();
                }
            } else if this == '<' && nxt(self, '/') && !matches!(self.read(2), Rd::End) {
                if ctx & TAG_BODY != 0 {
                    self.handle_tag_open_close()?;
                } else {
                    self.handle_invalid_tag_start()?;
                }
            } else if this == '<' && ctx & TAG_CLOSE == 0 {
                if self.can_recurse() {
                    self.parse_tag()?;
                }
            } else if this == '>' && ctx & TAG_CLOSE != 0 {
                let name = self.closing_tag_name();
                return self.handle_tag_close_close(&name);
            } else if this == '\'' && nxt(self, '\'') {
                if let Some(result) = self.parse_style()? {
                    return Ok(result);
                }
            } else if self.at_line_start(-1) && matches!(this, '#' | '*' | ';' | ':') {
                self.handle_list();
            } else if self.at_line_start(-1) && this == '-' && nxt(self, '-') && self.is(2, '-') && self.is(3, '-') {
                self.handle_hr();
            } else if (this == '\n' || this == ':') && ctx & DL_TERM != 0 {
                self.handle_dl_term();
                if this == '\n' {
                    let c = self.ctx();
                    self.set_ctx(c & !TABLE_CELL_LINE_CONTEXTS);
                }
            } else if this == '{' && nxt(self, '|') && (self.at_line_start(-1) || (self.at_line_start(-2) && self.is_space_seg(-1))) {
                if self.can_recurse() {
                    self.parse_table()?;
                }
            } else if ctx & TABLE_OPEN != 0 {
                if this == '|' && nxt(self, '|') && ctx & TABLE_TD_LINE != 0 {
                    if ctx & TABLE_CELL_OPEN != 0 {
                        return Ok(self.handle_table_cell_end(false));
                    }
                    self.handle_table_cell(2, "td", TABLE_TD_LINE)?;
                } else if this == '|' && nxt(self, '|') && ctx & TABLE_TH_LINE != 0 {
                    if ctx & TABLE_CELL_OPEN != 0 {
                        return Ok(self.handle_table_cell_end(false));
                    }
                    self.handle_table_cell(2, "th", TABLE_TH_LINE)?;
                } else if this == '!' && nxt(self, '!') && ctx & TABLE_TH_LINE != 0 {
                    if ctx & TABLE_CELL_OPEN != 0 {
                        return Ok(self.handle_table_cell_end(false));
                    }
                    self.handle_table_cell(2, "th", TABLE_TH_LINE)?;
                } else if this == '|' && ctx & TABLE_CELL_STYLE != 0 {
                    return Ok(self.handle_table_cell_end(true));
                } else if this == '\n' && ctx & TABLE_CELL_LINE_CONTEXTS != 0 {
                    self.set_ctx(ctx & !TABLE_CELL_LINE_CONTEXTS);
                } else if self.at_line_start(-1) || (self.at_line_start(-2) && self.is_space_seg(-1)) {
                    if this == '|' && nxt(self, '}') {
                        if ctx & TABLE_CELL_OPEN != 0 {
                            return Ok(self.handle_table_cell_end(false));
                        }
                        if ctx & TABLE_ROW_OPEN != 0 {
                            return Ok((self.pop(), 0));
                        }
                        return Ok(self.handle_table_end());
                    }
                    if this == '|' && nxt(self, '-') {
                        if ctx & TABLE_CELL_OPEN != 0 {
                            return Ok(self.handle_table_cell_end(false));
                        }
                        if ctx & TABLE_ROW_OPEN != 0 {
                            return Ok((self.pop(), 0));
                        }
                        self.handle_table_row()?;
                    } else if this == '|' {
                        if ctx & TABLE_CELL_OPEN != 0 {
                            return Ok(self.handle_table_cell_end(false));
                        }
                        self.handle_table_cell(1, "td", TABLE_TD_LINE)?;
                    } else if this == '!' {
                        if ctx & TABLE_CELL_OPEN != 0 {
                            return Ok(self.handle_table_cell_end(false));
                        }
                        self.handle_table_cell(1, "th", TABLE_TH_LINE)?;
                    }
                }
            }
            self.head += 1;
        }
    }
}

/// ``_handle_free_link_text``: returns the punctuation still allowed and the new length of the
/// pending tail (trailing punctuation that ends the link unless more URL text follows).
fn free_link_text<'p>(punct: &'p str, tail: u32, this: &[char]) -> (&'p str, u32) {
    let mut punct = punct;
    if this.contains(&'(') && punct.ends_with(')') {
        punct = &punct[..punct.len() - 1];
    }
    let in_punct = |c: char| punct.contains(c);
    if !this.is_empty() && in_punct(this[this.len() - 1]) {
        let mut i = 0;
        for k in (1..this.len()).rev() {
            if !in_punct(this[k - 1]) {
                i = k;
                break;
            }
        }
        let stripped = i;
        let mut tail = tail;
        if stripped > 0 && tail > 0 {
            tail = 0;
        }
        tail += (this.len() - i) as u32;
        (punct, tail)
    } else {
        (punct, 0)
    }
}
