//! Ranks of phrase occurrences as GrowthExperiments' editor counts them (scoring/mentions.py): the
//! 0-based number of the match at a position in a left-to-right, non-overlapping scan for the phrase
//! (Python's `str.find` from the end of the previous match), or none when the scan never matches
//! there. All phrases of a page are scanned together in one pass over the text, which ends at the
//! last position asked about.

/// Bits of a 65,536-bit filter: is some phrase's (first, second) character pair, or some one-character
/// phrase's character, at this hash?
struct Filter {
    pairs: Vec<u64>,
    singles: Vec<u64>,
}

const FILTER_WORDS: usize = 1 << 10;

fn slot(a: char, b: Option<char>) -> usize {
    let h = (a as u32).wrapping_mul(0x9E37_79B1) ^ b.map_or(0, |b| (b as u32).wrapping_mul(0x85EB_CA6B));
    (h >> 16) as usize
}

impl Filter {
    fn new() -> Filter {
        Filter { pairs: vec![0; FILTER_WORDS], singles: vec![0; FILTER_WORDS] }
    }

    fn set(bits: &mut [u64], at: usize) {
        bits[at >> 6] |= 1 << (at & 63);
    }

    fn get(bits: &[u64], at: usize) -> bool {
        bits[at >> 6] & (1 << (at & 63)) != 0
    }

    fn add(&mut self, phrase: &[char]) {
        match phrase {
            [a] => Filter::set(&mut self.singles, slot(*a, None)),
            [a, b, ..] => Filter::set(&mut self.pairs, slot(*a, Some(*b))),
            [] => {}
        }
    }

    fn may_start(&self, text: &[char], i: usize) -> bool {
        Filter::get(&self.singles, slot(text[i], None))
            || text.get(i + 1).is_some_and(|&b| Filter::get(&self.pairs, slot(text[i], Some(b))))
    }
}

/// One distinct phrase's scan: where its next match may start, matches so far, and the positions
/// asked about (ascending, with the query numbers), of which the first `next` are answered.
struct Scan {
    phrase: Vec<char>,
    free_from: usize,
    count: usize,
    asked: Vec<(usize, usize)>,
    next: usize,
}

/// `ranks[q]` for each query `(phrase, position)`: the rank of the match of `phrase` at `position`
/// of `text`, or None. Phrases must not be empty.
pub fn ranks(text: &[char], queries: Vec<(Vec<char>, usize)>) -> Vec<Option<usize>> {
    let mut out = vec![None; queries.len()];
    let mut scans: Vec<Scan> = Vec::new();
    let mut by_phrase: std::collections::HashMap<Vec<char>, usize> = std::collections::HashMap::new();
    for (number, (phrase, position)) in queries.into_iter().enumerate() {
        if !text.get(position..).is_some_and(|rest| rest.starts_with(&phrase)) {
            continue; // the phrase is not there: no scan can match there
        }
        let index = *by_phrase.entry(phrase).or_insert_with_key(|phrase| {
            scans.push(Scan { phrase: phrase.clone(), free_from: 0, count: 0, asked: Vec::new(), next: 0 });
            scans.len() - 1
        });
        scans[index].asked.push((position, number));
    }
    let mut filter = Filter::new();
    let mut by_first: Vec<(char, usize)> = Vec::with_capacity(scans.len());
    let mut end = 0;
    for (index, scan) in scans.iter_mut().enumerate() {
        scan.asked.sort_unstable();
        end = end.max(scan.asked.last().map_or(0, |&(position, _)| position + 1));
        filter.add(&scan.phrase);
        by_first.push((scan.phrase[0], index));
    }
    by_first.sort_unstable();
    let mut open = scans.len();
    let mut i = 0;
    while i < end && open > 0 {
        if filter.may_start(text, i) {
            let c = text[i];
            let first = by_first.partition_point(|&(f, _)| f < c);
            for &(_, index) in by_first[first..].iter().take_while(|&&(f, _)| f == c) {
                let scan = &mut scans[index];
                if scan.next == scan.asked.len() || i < scan.free_from || !text[i..].starts_with(&scan.phrase) {
                    continue;
                }
                // Positions passed over without a match are never matched there.
                while scan.next < scan.asked.len() && scan.asked[scan.next].0 <= i {
                    let (position, number) = scan.asked[scan.next];
                    if position == i {
                        out[number] = Some(scan.count);
                    }
                    scan.next += 1;
                }
                if scan.next == scan.asked.len() {
                    open -= 1;
                }
                scan.count += 1;
                scan.free_from = i + scan.phrase.len();
            }
        }
        i += 1;
    }
    out
}
