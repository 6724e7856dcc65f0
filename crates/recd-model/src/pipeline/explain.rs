//! Reasons in words: why an item is on a user's list.

use super::{Scored, Source};

/// The reason of a recommended item, from the generator that proposed it. Item-kNN with a
/// "because" item is the most specific and wins; then ALS (collaborative), content, trending,
/// and plain popularity. `title_of` turns an item row into the name to show.
pub fn reason(scored: &Scored, title_of: impl Fn(u32) -> String) -> String {
    let has = |s: Source| scored.sources & s.bit() != 0;
    match scored.because {
        Some(j) if has(Source::ItemKnn) => format!("because you watched {}", title_of(j)),
        _ if has(Source::Als) => "popular with people like you".to_string(),
        _ if has(Source::Content) => "similar to your recent views".to_string(),
        _ if has(Source::Trending) => "trending".to_string(),
        _ => "popular".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_specific_reason_wins() {
        let s = |sources: u8, because| Scored {
            item: 1,
            score: 0.5,
            sources,
            because,
        };
        let title = |j: u32| format!("item {j}");
        assert_eq!(
            reason(
                &s(Source::ItemKnn.bit() | Source::Als.bit(), Some(7)),
                title
            ),
            "because you watched item 7"
        );
        assert_eq!(
            reason(&s(Source::ItemKnn.bit() | Source::Als.bit(), None), title),
            "popular with people like you"
        );
        assert_eq!(
            reason(&s(Source::Content.bit(), None), title),
            "similar to your recent views"
        );
        assert_eq!(reason(&s(Source::Popular.bit(), None), title), "popular");
    }
}
