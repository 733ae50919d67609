//! The node tree implied by the tokens (mwparserfromhell's builder, without text nodes: text is every
//! gap between nodes), and what scoring reads from it: top-level runs, links, template names,
//! editor spans. Offsets are code-point indices into the scanned text.
use std::collections::{HashMap, HashSet};

use super::guard;
use super::tokenizer::{Markup, Tok, Tokenizer};

const UNSET: u32 = u32::MAX;
const MAX_TITLE_BYTES: usize = 255;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Root,
    Template,
    Argument,
    Wikilink,
    ExtLink,
    Heading,
    Entity,
    Comment,
    Tag,
}

#[derive(Debug)]
pub struct Node {
    pub kind: Kind,
    pub start: u32,
    pub end: u32,
    /// Template: end of the name; Wikilink: end of the title; Argument/ExtLink: the separator.
    pub a: u32,
    /// Wikilink: start of the text; ExtLink: start of the title; Tag: start of the contents.
    pub b: u32,
    /// Tag: end of the contents.
    pub c: u32,
    pub level: u8,
    pub name: String,
    pub markup: Markup,
    pub self_closing: bool,
    pub brackets: bool,
    pub children: Vec<Node>,
}

impl Node {
    fn new(kind: Kind, start: u32) -> Node {
        Node {
            kind, start, end: start, a: UNSET, b: UNSET, c: UNSET, level: 0, name: String::new(),
            markup: Markup::None, self_closing: false, brackets: false, children: Vec::new(),
        }
    }
}

pub fn build(toks: Vec<Tok>, len: u32) -> Node {
    let mut stack = vec![Node::new(Kind::Root, 0)];
    let close = |stack: &mut Vec<Node>, end: u32| {
        if stack.len() > 1 {
            let mut node = stack.pop().unwrap();
            node.end = end;
            stack.last_mut().unwrap().children.push(node);
        }
    };
    for tok in toks {
        match tok {
            Tok::TplOpen(p) => stack.push(Node::new(Kind::Template, p)),
            Tok::ArgOpen(p) => stack.push(Node::new(Kind::Argument, p)),
            Tok::LinkOpen(p) => stack.push(Node::new(Kind::Wikilink, p)),
            Tok::ExtOpen(p, brackets) => {
                let mut node = Node::new(Kind::ExtLink, p);
                node.brackets = brackets;
                stack.push(node);
            }
            Tok::HeadOpen(p, level) => {
                let mut node = Node::new(Kind::Heading, p);
                node.level = level;
                stack.push(node);
            }
            Tok::EntOpen(p) => stack.push(Node::new(Kind::Entity, p)),
            Tok::ComOpen(p) => stack.push(Node::new(Kind::Comment, p)),
            Tok::TagOpen { pos, name, markup } => {
                let mut node = Node::new(Kind::Tag, pos);
                node.name = name.trim().to_lowercase();
                node.markup = markup;
                stack.push(node);
            }
            Tok::TplSep(p) | Tok::ArgSep(p) => {
                let top = stack.last_mut().unwrap();
                if top.a == UNSET {
                    top.a = p;
                }
            }
            Tok::LinkSep(p) => {
                let top = stack.last_mut().unwrap();
                top.a = p;
                top.b = p + 1;
            }
            Tok::ExtSep(p, suppress) => {
                let top = stack.last_mut().unwrap();
                top.a = p;
                top.b = if suppress { p } else { p + 1 };
            }
            Tok::TagCloseOpen(p) => stack.last_mut().unwrap().b = p,
            Tok::TagOpenClose(p) => stack.last_mut().unwrap().c = p,
            Tok::TagSelfClose(p) => {
                stack.last_mut().unwrap().self_closing = true;
                close(&mut stack, p);
            }
            Tok::TplClose(p) | Tok::ArgClose(p) | Tok::LinkClose(p) | Tok::ExtClose(p) | Tok::HeadClose(p)
            | Tok::EntClose(p) | Tok::ComClose(p) | Tok::TagCloseClose(p) => close(&mut stack, p),
        }
    }
    while stack.len() > 1 {
        close(&mut stack, len);
    }
    let mut root = stack.pop().unwrap();
    root.end = len;
    root
}

pub struct Tables {
    pub entities: HashMap<String, String>,
    pub entity_names: HashSet<String>,
    pub separating: HashSet<String>,
    pub transparent: HashSet<String>,
    pub invisible: HashSet<String>,
    pub reparsed: HashSet<String>,
    pub retry_budget: u64,
}

/// A link-trail rule: sorted, disjoint, inclusive code-point ranges (scoring/linktrail.py), and the
/// prefixes (casefolded) of links MediaWiki leaves the trail after as text: files, media,
/// categories, interlanguage links (unless the title starts with ":").
pub struct Trail {
    pub ranges: Vec<(char, char)>,
    pub untrailed: HashSet<String>,
}

impl Trail {
    /// ``titles.namespace_prefix`` of a raw title not starting with ":" is not in ``untrailed``.
    fn taken_by(&self, title: &[char]) -> bool {
        let first = title.iter().position(|&c| !py_space(c)).unwrap_or(title.len());
        let rest = &title[first..];
        if rest.first() == Some(&':') {
            return true;
        }
        let Some(colon) = rest.iter().position(|&c| c == ':') else { return true };
        let head: String = rest[..colon].iter().map(|&c| if c == '_' { ' ' } else { c }).collect();
        // Python's casefold as far as namespace names and language codes need it.
        let prefix = head.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase().replace('ς', "σ").replace('ß', "ss");
        !self.untrailed.contains(&prefix)
    }

    fn accepts(&self, c: char) -> bool {
        self.ranges
            .binary_search_by(|&(first, last)| {
                if last < c {
                    std::cmp::Ordering::Less
                } else if first > c {
                    std::cmp::Ordering::Greater
                } else {
                    std::cmp::Ordering::Equal
                }
            })
            .is_ok()
    }
}

pub struct Run {
    pub start: u32,
    pub end: u32,
    pub section: Option<String>,
    pub glued_before: bool,
    pub glued_after: bool,
}

pub struct Link {
    pub start: u32,
    pub end: u32,
    pub title: String,
    pub anchor: String,
    pub top_level: bool,
    /// End of the link trail after "]]" (``end`` when there is none).
    pub trail_end: u32,
}

pub struct Scanned {
    pub runs: Vec<Run>,
    pub links: Vec<Link>,
    pub templates: Vec<String>,
    pub spans: Vec<(u32, u32)>,
}

pub fn py_space(c: char) -> bool {
    c.is_whitespace() || ('\x1c'..='\x1f').contains(&c)
}
fn py_strip(s: &str) -> &str {
    s.trim_matches(py_space)
}
fn text(chars: &[char], s: u32, e: u32) -> String {
    if s >= e {
        return String::new();
    }
    chars[s as usize..e as usize].iter().collect()
}

pub struct Article<'a> {
    /// What the tokenizer read (the source, or its guarded copy), and the source strings come from.
    chars: &'a [char],
    source: &'a [char],
    tables: &'a Tables,
    trail: &'a Trail,
}

impl<'a> Article<'a> {
    pub fn parse(chars: &'a [char], tables: &'a Tables) -> Node {
        let toks = Tokenizer::new(chars, &tables.entity_names).tokenize();
        build(toks, chars.len() as u32)
    }

    fn entity_char(&self, node: &Node) -> String {
        let body = text(self.source, node.start + 1, node.end - 1);
        if let Some(num) = body.strip_prefix('#') {
            let (digits, radix) = match num.strip_prefix(['x', 'X']) {
                Some(hex) => (hex, 16),
                None => (num, 10),
            };
            return u32::from_str_radix(digits, radix).ok().and_then(char::from_u32).map(String::from).unwrap_or_default();
        }
        self.tables.entities.get(&body).cloned().unwrap_or_default()
    }

    /// ``Wikicode.strip_code()`` of ``s..e`` whose nodes are ``nodes`` (those inside the span are used).
    fn strip(&self, s: u32, e: u32, nodes: &[Node]) -> String {
        let mut out = String::new();
        let mut pos = s;
        for node in nodes.iter().filter(|n| n.start >= s && n.end <= e) {
            out.extend(&self.source[pos as usize..node.start as usize]);
            out.push_str(&self.strip_node(node));
            pos = node.end;
        }
        if pos < e {
            out.extend(&self.source[pos as usize..e as usize]);
        }
        let mut collapsed = out.trim_matches('\n').to_string();
        while collapsed.contains("\n\n\n") {
            collapsed = collapsed.replace("\n\n\n", "\n\n");
        }
        collapsed
    }

    fn strip_node(&self, node: &Node) -> String {
        match node.kind {
            Kind::Template | Kind::Comment | Kind::Root => String::new(),
            Kind::Argument => {
                if node.a == UNSET { String::new() } else { self.strip(node.a + 1, node.end - 3, &node.children) }
            }
            Kind::Wikilink => {
                if node.b == UNSET {
                    self.strip(node.start + 2, node.end - 2, &node.children)
                } else {
                    self.strip(node.b, node.end - 2, &node.children)
                }
            }
            Kind::ExtLink => {
                if !node.brackets {
                    self.strip(node.start, node.end, &node.children)
                } else if node.b != UNSET && node.b < node.end - 1 {
                    self.strip(node.b, node.end - 1, &node.children)
                } else {
                    String::new()
                }
            }
            Kind::Heading => {
                let level = node.level as u32;
                self.strip(node.start + level, node.end - level, &node.children)
            }
            Kind::Entity => self.entity_char(node),
            Kind::Tag => {
                if node.self_closing || node.b == UNSET || node.c == UNSET || node.b >= node.c
                    || self.tables.invisible.contains(&node.name)
                {
                    String::new()
                } else {
                    self.strip(node.b, node.c, &node.children)
                }
            }
        }
    }

    /// Where the text after ``node`` starts: past its link trail when it is a wikilink (the trail's
    /// letters render inside the link), never past ``limit`` (the next node, or the parent's end).
    fn after(&self, node: &Node, limit: u32) -> u32 {
        let mut pos = node.end;
        let title_end = if node.a == UNSET { node.end - 2 } else { node.a };
        if node.kind == Kind::Wikilink && self.trail.taken_by(&self.source[(node.start + 2) as usize..title_end as usize]) {
            while pos < limit && self.trail.accepts(self.source[pos as usize]) {
                pos += 1;
            }
        }
        pos
    }

    /// ``_is_glue`` for a neighbouring node.
    fn node_glue(&self, node: &Node, last: bool) -> bool {
        match node.kind {
            Kind::Heading => false,
            Kind::Entity => {
                let value = self.entity_char(node);
                let c = if last { value.chars().last() } else { value.chars().next() };
                c.is_some_and(|c| c.is_alphanumeric() || c == '_')
            }
            Kind::Tag if node.markup == Markup::None => !self.tables.separating.contains(&node.name),
            Kind::Tag if self.tables.separating.contains(&node.name) => false,
            _ => true,
        }
    }

    /// The neighbour of the text gap ``gap_start..gap_end`` among ``nodes`` (comments skipped): a
    /// node, or text (then its edge character decides), or nothing.
    fn glue(&self, nodes: &[Node], index: isize, step: isize, base: (u32, u32)) -> bool {
        // ``index`` is the node adjacent to the run on this side; walk over comments, and over the
        // text gaps between them (a non-empty gap is the neighbour).
        let mut i = index;
        loop {
            if i < 0 || i as usize >= nodes.len() {
                return false;
            }
            let node = &nodes[i as usize];
            if node.kind != Kind::Comment {
                return self.node_glue(node, step < 0);
            }
            let (gap_s, gap_e) = if step < 0 {
                (if i == 0 { base.0 } else { nodes[i as usize - 1].end }, node.start)
            } else {
                (node.end, if i as usize + 1 == nodes.len() { base.1 } else { nodes[i as usize + 1].start })
            };
            if gap_s < gap_e {
                let c = if step < 0 { self.source[gap_e as usize - 1] } else { self.source[gap_s as usize] };
                return !py_space(c);
            }
            i += step;
        }
    }

    fn runs(&self, root: &Node) -> Vec<Run> {
        let mut runs = Vec::new();
        let mut section: Option<String> = None;
        let mut pos = 0u32;
        let nodes = &root.children;
        for (i, node) in nodes.iter().enumerate() {
            if pos < node.start {
                runs.push(Run {
                    start: pos,
                    end: node.start,
                    section: section.clone(),
                    glued_before: self.glue(nodes, i as isize - 1, -1, (0, root.end)),
                    glued_after: self.glue(nodes, i as isize, 1, (0, root.end)),
                });
            }
            if node.kind == Kind::Heading {
                let level = node.level as u32;
                section = Some(py_strip(&text(self.source, node.start + level, node.end - level)).to_string());
            }
            pos = self.after(node, nodes.get(i + 1).map_or(root.end, |next| next.start));
        }
        if pos < root.end {
            runs.push(Run {
                start: pos,
                end: root.end,
                section,
                glued_before: self.glue(nodes, nodes.len() as isize - 1, -1, (0, root.end)),
                glued_after: false,
            });
        }
        runs
    }

    /// Links and template names of the whole tree, in the oracle's walk order (pre-order).
    fn walk(&self, root: &Node, links: &mut Vec<Link>, templates: &mut Vec<String>) {
        let mut todo: Vec<(&Node, i64, bool, u32)> = Vec::new();
        push_children(&mut todo, root, 0, true);
        while let Some((node, offset, top, limit)) = todo.pop() {
            let shift = |p: u32| (p as i64 + offset) as u32;
            match node.kind {
                Kind::Wikilink => {
                    let title_end = if node.a == UNSET { node.end - 2 } else { node.a };
                    let title = text(self.source, node.start + 2, title_end);
                    let anchor = if node.b == UNSET {
                        let t = py_strip(&title);
                        t.strip_prefix(':').unwrap_or(t).to_string()
                    } else {
                        py_strip(&self.strip(node.b, node.end - 2, &node.children)).to_string()
                    };
                    let trail_end = shift(self.after(node, limit));
                    links.push(Link { start: shift(node.start), end: shift(node.end), title, anchor, top_level: top, trail_end });
                }
                Kind::Template => {
                    let name_end = if node.a == UNSET { node.end - 2 } else { node.a };
                    // A name longer than a title can be (255 bytes) is no template (it holds nested
                    // markup); skipping it keeps a page of 10,000 nested "{{" from copying its text
                    // 10,000 times.
                    let name = &self.source[(node.start + 2) as usize..name_end as usize];
                    let first = name.iter().position(|&c| !py_space(c)).unwrap_or(name.len());
                    let last = name.iter().rposition(|&c| !py_space(c)).map_or(first, |i| i + 1);
                    if last - first <= MAX_TITLE_BYTES {
                        templates.push(name.iter().collect());
                    }
                }
                Kind::Tag if self.tables.reparsed.contains(&node.name) && node.b != UNSET && node.c != UNSET => {
                    // mwparserfromhell keeps these tags' contents verbatim; their captions hold links.
                    let (b, c) = (node.b as usize, node.c as usize);
                    let sub = Article { chars: &self.chars[b..c], source: &self.source[b..c], tables: self.tables, trail: self.trail };
                    let tree = Article::parse(sub.chars, self.tables);
                    let mut sub_links = Vec::new();
                    sub.walk(&tree, &mut sub_links, templates);
                    let base = offset + node.b as i64;
                    for mut link in sub_links {
                        link.start = (link.start as i64 + base) as u32;
                        link.end = (link.end as i64 + base) as u32;
                        link.trail_end = (link.trail_end as i64 + base) as u32;
                        link.top_level = false;
                        links.push(link);
                    }
                }
                _ => {}
            }
            push_children(&mut todo, node, offset, false);
        }
    }

    /// ``_text_spans``: text among ``nodes`` from ``base`` to ``limit``, descending into transparent
    /// tags; a link's trail is inside the link, so no span holds it.
    fn spans(&self, nodes: &[Node], base: u32, limit: u32, into: &mut Vec<(u32, u32)>) {
        let mut pos = base;
        let inside: Vec<&Node> = nodes.iter().filter(|n| n.start >= base && n.end <= limit).collect();
        for (i, node) in inside.iter().enumerate() {
            if pos < node.start {
                into.push((pos, node.start));
            }
            if node.kind == Kind::Tag && node.markup == Markup::None && !node.self_closing
                && self.tables.transparent.contains(&node.name) && node.b != UNSET && node.c != UNSET
            {
                self.spans(&node.children, node.b, node.c, into);
            }
            pos = self.after(node, inside.get(i + 1).map_or(limit, |next| next.start));
        }
        if pos < limit {
            into.push((pos, limit));
        }
    }

    pub fn scan(source: &'a [char], tables: &'a Tables, trail: &'a Trail) -> Scanned {
        let guarded = guard::neutralise(source, tables.retry_budget);
        let chars = guarded.as_deref().unwrap_or(source);
        let article = Article { chars, source, tables, trail };
        let root = Article::parse(chars, tables);
        let mut links = Vec::new();
        let mut templates = Vec::new();
        article.walk(&root, &mut links, &mut templates);
        let mut spans = Vec::new();
        article.spans(&root.children, 0, root.end, &mut spans);
        Scanned { runs: article.runs(&root), links, templates, spans }
    }
}

/// Push ``parent``'s children onto the walk's stack (so they pop in order), each with the limit of
/// its link trail: the next sibling's start, or the parent's end.
fn push_children<'n>(todo: &mut Vec<(&'n Node, i64, bool, u32)>, parent: &'n Node, offset: i64, top: bool) {
    let mut limit = parent.end;
    for child in parent.children.iter().rev() {
        todo.push((child, offset, top, limit));
        limit = child.start;
    }
}
