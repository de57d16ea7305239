//! Lexical search: an analyzer for identifiers and prose, and a BM25F index over documents with
//! weighted fields.
//!
//! Identifiers are split into words (`depDelay_minutes` → `dep`, `delay`, `minutes`), lowercased
//! and stemmed with the Snowball English stemmer; common warehouse abbreviations (`qty`, `amt`,
//! `cust`…) are indexed with their expansion too, and a query word also matches indexed words
//! that are a prefix of it (`cust` for `customer`) at a reduced weight. Scores follow BM25F
//! (Robertson & Zaragoza, "The Probabilistic Relevance Framework: BM25 and Beyond", 2009):
//! per-field length normalisation, field weights, one saturation.

use std::collections::HashMap;
use std::sync::OnceLock;

use rust_stemmers::{Algorithm, Stemmer};

use crate::text::words;

/// Abbreviations common in warehouse column and table names, with the word they stand for.
const ABBREVIATIONS: &[(&str, &str)] = &[
    ("acct", "account"),
    ("addr", "address"),
    ("amt", "amount"),
    ("avg", "average"),
    ("bal", "balance"),
    ("cat", "category"),
    ("cnt", "count"),
    ("ctry", "country"),
    ("cust", "customer"),
    ("dept", "department"),
    ("desc", "description"),
    ("dt", "date"),
    ("emp", "employee"),
    ("inv", "invoice"),
    ("loc", "location"),
    ("mgr", "manager"),
    ("msg", "message"),
    ("nbr", "number"),
    ("num", "number"),
    ("org", "organization"),
    ("pct", "percent"),
    ("prod", "product"),
    ("qty", "quantity"),
    ("rev", "revenue"),
    ("trx", "transaction"),
    ("ts", "timestamp"),
    ("txn", "transaction"),
    ("usr", "user"),
    ("yr", "year"),
];

/// Words too common in questions to carry meaning.
const STOP_WORDS: &[&str] = &[
    "a", "about", "all", "an", "and", "any", "are", "as", "at", "be", "by", "can", "did", "do",
    "does", "each", "for", "from", "give", "had", "has", "have", "how", "i", "in", "into", "is",
    "it", "its", "list", "me", "most", "my", "of", "on", "or", "our", "over", "per", "please",
    "show", "tell", "than", "that", "the", "their", "them", "then", "there", "these", "this",
    "those", "to", "us", "was", "we", "were", "what", "when", "where", "which", "who", "whose",
    "why", "with", "you", "your",
];

fn stemmer() -> &'static Stemmer {
    static STEMMER: OnceLock<Stemmer> = OnceLock::new();
    STEMMER.get_or_init(|| Stemmer::create(Algorithm::English))
}

/// Stems one lowercase word (Snowball English).
pub fn stem_word(word: &str) -> String {
    stemmer().stem(word).into_owned()
}

fn is_stop_word(w: &str) -> bool {
    STOP_WORDS.binary_search(&w).is_ok()
}

/// The index terms of `text`: words split from identifiers and prose, lowercased, stemmed,
/// with abbreviation expansions added. Stop words are dropped.
pub fn analyze(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for w in words(text) {
        if is_stop_word(&w) {
            continue;
        }
        out.push(stem_word(&w));
        if let Ok(i) = ABBREVIATIONS.binary_search_by(|(a, _)| a.cmp(&w.as_str())) {
            out.push(stem_word(ABBREVIATIONS[i].1));
        }
    }
    out
}

/// How one field of a document counts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FieldSpec {
    /// Weight of a term occurrence in this field.
    pub weight: f32,
    /// Length normalisation (0 = none, 1 = full).
    pub b: f32,
}

impl FieldSpec {
    /// A field with `weight` and BM25's usual `b = 0.75`.
    pub fn new(weight: f32) -> Self {
        Self { weight, b: 0.75 }
    }

    /// Sets the length normalisation.
    pub fn with_b(mut self, b: f32) -> Self {
        self.b = b;
        self
    }
}

#[derive(Debug, Clone, Copy)]
struct Posting {
    doc: u32,
    field: u16,
    tf: u16,
}

/// A BM25F index over documents with a fixed set of weighted fields.
#[derive(Debug, Clone)]
pub struct TextIndex {
    fields: Vec<FieldSpec>,
    vocab: HashMap<String, u32>,
    postings: Vec<Vec<Posting>>,
    /// Field lengths per document, `docs * fields`.
    lengths: Vec<u32>,
    total_len: Vec<u64>,
    docs: u32,
    k1: f32,
}

impl TextIndex {
    /// An empty index whose documents have `fields`, in order.
    pub fn new(fields: Vec<FieldSpec>) -> Self {
        let n = fields.len();
        Self {
            fields,
            vocab: HashMap::new(),
            postings: Vec::new(),
            lengths: Vec::new(),
            total_len: vec![0; n],
            docs: 0,
            k1: 1.2,
        }
    }

    /// Documents indexed.
    pub fn len(&self) -> usize {
        self.docs as usize
    }

    /// Whether no document is indexed.
    pub fn is_empty(&self) -> bool {
        self.docs == 0
    }

    /// Adds a document whose fields hold `texts` (in the order given to [`TextIndex::new`];
    /// missing trailing fields are empty) and returns its id, counting from 0.
    pub fn add<S: AsRef<str>>(&mut self, texts: &[S]) -> usize {
        let terms: Vec<Vec<String>> = texts.iter().map(|t| analyze(t.as_ref())).collect();
        self.add_terms(&terms)
    }

    /// Adds a document from already analysed terms per field (see [`analyze`]).
    pub fn add_terms(&mut self, fields: &[Vec<String>]) -> usize {
        let doc = self.docs;
        self.docs += 1;
        let nf = self.fields.len();
        for f in 0..nf {
            let terms = fields.get(f).map(Vec::as_slice).unwrap_or_default();
            let len = u32::try_from(terms.len()).unwrap_or(u32::MAX);
            self.lengths.push(len);
            self.total_len[f] += u64::from(len);
            let mut counts: HashMap<&str, u16> = HashMap::new();
            for t in terms {
                let c = counts.entry(t.as_str()).or_insert(0);
                *c = c.saturating_add(1);
            }
            for (term, tf) in counts {
                let id = match self.vocab.get(term) {
                    Some(&id) => id,
                    None => {
                        let id = u32::try_from(self.postings.len()).unwrap_or(u32::MAX);
                        self.vocab.insert(term.to_string(), id);
                        self.postings.push(Vec::new());
                        id
                    }
                };
                self.postings[id as usize].push(Posting {
                    doc,
                    field: u16::try_from(f).unwrap_or(u16::MAX),
                    tf,
                });
            }
        }
        doc as usize
    }

    /// The query's terms with their weights: each analysed word (1.0), and indexed words that
    /// are a prefix of it (0.6; at least 3 characters and half the word).
    fn query_terms(&self, query: &str) -> Vec<(u32, f32)> {
        let mut out: HashMap<u32, f32> = HashMap::new();
        for q in analyze(query) {
            if let Some(&id) = self.vocab.get(&q) {
                let w = out.entry(id).or_insert(0.0);
                *w = w.max(1.0);
            }
            // Numbers match exactly only: `201` is not a prefix match for `2013`.
            if q.chars().all(|c| c.is_ascii_digit()) {
                continue;
            }
            let chars: Vec<(usize, char)> = q.char_indices().collect();
            let min = 3.max(chars.len().div_ceil(2));
            for (n, _) in chars.iter().enumerate().skip(min).rev() {
                let prefix = &q[..chars[n].0];
                if let Some(&id) = self.vocab.get(prefix) {
                    let w = out.entry(id).or_insert(0.0);
                    *w = w.max(0.6);
                }
            }
        }
        out.into_iter().collect()
    }

    /// Scores every document that shares a term with `query`; returns `(doc, score)` best
    /// first, at most `k`.
    pub fn search(&self, query: &str, k: usize) -> Vec<(usize, f32)> {
        let mut scores = self.score_all(query);
        let keep = k.min(scores.len());
        if keep < scores.len() {
            scores.select_nth_unstable_by(keep, |a, b| b.1.total_cmp(&a.1));
            scores.truncate(keep);
        }
        scores.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        scores
    }

    /// Scores of every matching document, unordered.
    pub fn score_all(&self, query: &str) -> Vec<(usize, f32)> {
        let nf = self.fields.len();
        let avg: Vec<f32> = self
            .total_len
            .iter()
            .map(|&t| (t as f32 / self.docs.max(1) as f32).max(1.0))
            .collect();
        let n = self.docs as f32;
        let mut acc: HashMap<u32, f32> = HashMap::new();
        for (term, qw) in self.query_terms(query) {
            let postings = &self.postings[term as usize];
            // Document frequency: distinct documents (postings of one doc are adjacent).
            let mut df = 0u32;
            let mut last = u32::MAX;
            for p in postings {
                if p.doc != last {
                    df += 1;
                    last = p.doc;
                }
            }
            let idf = ((n - df as f32 + 0.5) / (df as f32 + 0.5) + 1.0).ln();
            // Pseudo term frequency per document (BM25F), then saturation.
            let mut i = 0;
            while i < postings.len() {
                let doc = postings[i].doc;
                let mut tf = 0.0f32;
                while i < postings.len() && postings[i].doc == doc {
                    let p = postings[i];
                    let f = p.field as usize;
                    let spec = self.fields[f];
                    let len = self.lengths[doc as usize * nf + f] as f32;
                    let norm = 1.0 - spec.b + spec.b * len / avg[f];
                    tf += spec.weight * f32::from(p.tf) / norm;
                    i += 1;
                }
                let s = idf * tf / (self.k1 + tf) * qw;
                *acc.entry(doc).or_insert(0.0) += s;
            }
        }
        acc.into_iter().map(|(d, s)| (d as usize, s)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_sorted_for_binary_search() {
        assert!(ABBREVIATIONS.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(STOP_WORDS.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn analyzer_splits_stems_and_expands() {
        assert_eq!(analyze("depDelay"), vec!["dep", "delay"]);
        assert_eq!(analyze("Which carriers flew?"), vec!["carrier", "flew"]);
        let t = analyze("order_qty");
        assert!(t.contains(&stem_word("qty")) && t.contains(&stem_word("quantity")));
    }

    #[test]
    fn bm25f_prefers_name_matches_and_rare_words() {
        let mut idx = TextIndex::new(vec![FieldSpec::new(3.0), FieldSpec::new(1.0)]);
        let flights = idx.add(&["flights", "carrier dep_delay arr_delay origin dest"]);
        let airlines = idx.add(&["airlines", "carrier name"]);
        let weather = idx.add(&["weather", "origin temp wind_speed"]);
        let hits = idx.search("average departure delay by carrier", 10);
        assert_eq!(hits[0].0, flights);
        assert!(hits.iter().any(|h| h.0 == airlines));
        assert!(!hits.iter().any(|h| h.0 == weather));
        assert_eq!(idx.search("airline names", 1)[0].0, airlines);
        // Prefix: "cust" indexed, "customers" asked.
        let cust = idx.add(&["cust_orders", "cust_id amt"]);
        assert_eq!(idx.search("customers", 1)[0].0, cust);
        assert_eq!(idx.search("amount", 1)[0].0, cust);
    }
}
