//! Query → catalog items: an inverted index over the words of each item's title, tags and
//! category ([`item_texts`]). The online engine builds it with its catalog view (so items
//! written since training are in it at the next rebuild) and turns the user's recent searches
//! into candidates and the `search_match` feature with it; training builds the same index
//! over the catalog it reads, so the ranker learns that feature from the log's searches.
//!
//! Scoring is the sum over the query's distinct words of their inverse document frequency,
//! ln(1 + N / df): an item matching every word of "toy story" comes before one matching only
//! "story", and a rare word counts more than a common one.

use std::collections::HashMap;

/// Words too common to say anything about an item.
const STOP: [&str; 12] = [
    "the", "and", "of", "in", "on", "for", "to", "with", "an", "at", "by", "from",
];

/// How many of a user's newest searches propose candidates, and how many items each proposes:
/// the online engine's defaults (`[serve.recommend]`), which training follows when it learns
/// the `search_match` feature from the log.
pub const DEFAULT_QUERIES: usize = 2;
/// See [`DEFAULT_QUERIES`].
pub const DEFAULT_MATCHES: usize = 50;

/// The index, by model row.
#[derive(Debug, Clone, Default)]
pub struct SearchIndex {
    postings: HashMap<String, Vec<u32>>,
    n_docs: usize,
}

/// The words of `text`: lowercase runs of letters and digits, two or more long, no stop word.
pub fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 2)
        .map(str::to_lowercase)
        .filter(|w| !STOP.contains(&w.as_str()))
}

/// The texts an item is found by: its title, tags and category. One rule for the online
/// catalog view and for training.
pub fn item_texts(item: &recd_types::Item) -> impl Iterator<Item = &str> {
    [item.title.as_str()]
        .into_iter()
        .chain(item.tags.iter().map(String::as_str))
        .chain(item.category.as_deref())
}

/// How strongly each item matches a user's searches, from each search's
/// [`SearchIndex::matches`]: within one search, an item's score over that search's best (1 for
/// the best match), and an item's strength is its best over the searches. Sorted by row, for
/// [`strength`].
pub fn strengths<'a>(searches: impl IntoIterator<Item = &'a [(u32, f32)]>) -> Vec<(u32, f32)> {
    let mut out: Vec<(u32, f32)> = Vec::new();
    for matches in searches {
        let best = matches.iter().map(|m| m.1).fold(0.0f32, f32::max);
        if best > 0.0 {
            out.extend(matches.iter().map(|&(row, s)| (row, s / best)));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.total_cmp(&a.1)));
    out.dedup_by_key(|m| m.0);
    out
}

/// `row`'s strength in `strengths` (sorted by row), 0 when it matches no search.
pub fn strength(strengths: &[(u32, f32)], row: u32) -> f32 {
    strengths
        .binary_search_by_key(&row, |m| m.0)
        .map_or(0.0, |k| strengths[k].1)
}

impl SearchIndex {
    /// Indexes `row` under the words of `texts` (each word once per row).
    pub fn add<'a>(&mut self, row: u32, texts: impl IntoIterator<Item = &'a str>) {
        let mut seen: Vec<String> = texts.into_iter().flat_map(words).collect();
        seen.sort();
        seen.dedup();
        for w in seen {
            self.postings.entry(w).or_default().push(row);
        }
        self.n_docs += 1;
    }

    /// The `limit` best items for `query`, best first (ties by row); empty when no word of
    /// the query is indexed.
    pub fn matches(&self, query: &str, limit: usize) -> Vec<(u32, f32)> {
        let mut terms: Vec<String> = words(query).collect();
        terms.sort();
        terms.dedup();
        let mut score: HashMap<u32, f32> = HashMap::new();
        for t in &terms {
            let Some(rows) = self.postings.get(t) else {
                continue;
            };
            let idf = (1.0 + self.n_docs as f32 / rows.len() as f32).ln();
            for &r in rows {
                *score.entry(r).or_default() += idf;
            }
        }
        let mut out: Vec<(u32, f32)> = score.into_iter().collect();
        out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        out.truncate(limit);
        out
    }

    /// Number of items indexed.
    pub fn len(&self) -> usize {
        self.n_docs
    }

    /// True when nothing is indexed.
    pub fn is_empty(&self) -> bool {
        self.n_docs == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_word_of_the_query_ranks_first_and_rare_words_weigh_more() {
        let mut index = SearchIndex::default();
        index.add(0, ["Toy Story (1995)", "Animation"]);
        index.add(1, ["Toy Story 2 (1999)", "Animation"]);
        index.add(2, ["The Story of Us (1999)", "Comedy"]);
        index.add(3, ["Toys (1992)", "Comedy"]);
        index.add(4, ["A Bug's Life", "Animation"]);
        let rows: Vec<u32> = index
            .matches("toy story", 10)
            .into_iter()
            .map(|m| m.0)
            .collect();
        assert_eq!(rows, [0, 1, 2], "both words first, then 'story' alone");
        assert!(
            index.matches("the of", 10).is_empty(),
            "stop words match nothing"
        );
        assert_eq!(
            index.matches("ANIMATION", 2).len(),
            2,
            "case-insensitive, limited"
        );
        assert_eq!(index.len(), 5);
    }

    #[test]
    fn an_items_strength_is_its_best_share_of_a_searchs_best_match() {
        let toy = [(0, 4.0), (1, 4.0), (2, 2.0)];
        let bug = [(4, 3.0), (2, 1.5)];
        let s = strengths([&toy[..], &bug[..], &[][..]]);
        assert_eq!(s, [(0, 1.0), (1, 1.0), (2, 0.5), (4, 1.0)]);
        assert_eq!(strength(&s, 2), 0.5);
        assert_eq!(strength(&s, 3), 0.0, "no search matches row 3");
        assert!(strengths([&[][..]]).is_empty());
    }
}
