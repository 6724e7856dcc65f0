//! Content vectors from item metadata, so an item with no interactions still has neighbours.
//!
//! An item becomes a bag of tokens (`cat:<category>`, `tag:<tag>`, `price:<log2 bucket>`,
//! `w:<title word>`), hashed into a fixed number of dimensions with a sign bit (the "hashing
//! trick": no vocabulary to store or keep in sync), weighted by kind, and L2-normalised. The
//! hash is FNV-1a, written out here because the vectors must be identical across builds and
//! platforms: a model trained by one binary is served by another.

use recd_types::Item;
use serde::{Deserialize, Serialize};

/// How items are turned into vectors. Stored in the model so serving encodes new items the
/// same way training encoded the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ContentEncoder {
    /// Number of dimensions.
    pub dim: usize,
}

impl Default for ContentEncoder {
    fn default() -> Self {
        Self { dim: 128 }
    }
}

const W_CATEGORY: f32 = 1.0;
const W_TAGS: f32 = 1.0;
const W_PRICE: f32 = 0.5;
const W_TITLE: f32 = 0.5;

impl ContentEncoder {
    /// The unit-length content vector of `item` (all zeros if it has no usable metadata).
    pub fn encode(&self, item: &Item) -> Vec<f32> {
        let mut v = vec![0f32; self.dim];
        if let Some(c) = &item.category {
            self.add(&mut v, &format!("cat:{}", c.to_lowercase()), W_CATEGORY);
        }
        let n_tags = item.tags.len().max(1) as f32;
        for tag in &item.tags {
            self.add(
                &mut v,
                &format!("tag:{}", tag.to_lowercase()),
                W_TAGS / n_tags.sqrt(),
            );
        }
        if let Some(price) = item.price {
            let bucket = (price.max(0.0) + 1.0).log2().floor() as i64;
            self.add(&mut v, &format!("price:{bucket}"), W_PRICE);
        }
        let words = title_words(&item.title);
        let n_words = words.len().max(1) as f32;
        for w in &words {
            self.add(&mut v, &format!("w:{w}"), W_TITLE / n_words.sqrt());
        }
        normalize(&mut v);
        v
    }

    fn add(&self, v: &mut [f32], token: &str, weight: f32) {
        let h = fnv1a(token.as_bytes());
        let dim = (h % self.dim as u64) as usize;
        let sign = if (h >> 63) & 1 == 1 { -1.0 } else { 1.0 };
        v[dim] += sign * weight;
    }
}

/// Lower-case alphanumeric words of at least three letters; bare years are dropped (they say
/// when, not what, and item age is a feature of its own).
fn title_words(title: &str) -> Vec<String> {
    title
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 3 && !w.chars().all(|c| c.is_ascii_digit()))
        .map(str::to_lowercase)
        .collect()
}

fn fnv1a(bytes: &[u8]) -> u64 {
    recd_types::fnv1a(bytes.iter().copied())
}

/// Scales `v` to unit length (leaves a zero vector alone).
pub fn normalize(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}

/// Dot product.
///
/// AVX2/FMA when the CPU has them (`als::kernels::dot`): used for every candidate's features
/// and every vector an index scans, where LLVM's auto-vectorised loop left most of the vector
/// width unused.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    crate::als::kernels::dot(a, b)
}

#[cfg(test)]
mod tests {
    use recd_types::ItemId;

    use super::*;

    fn item(id: &str, title: &str, cat: &str, tags: &[&str]) -> Item {
        let mut i = Item::new(ItemId::parse(id).unwrap(), title);
        i.category = Some(cat.into());
        i.tags = tags.iter().map(|t| t.to_string()).collect();
        i
    }

    #[test]
    fn similar_metadata_gives_similar_vectors() {
        let enc = ContentEncoder::default();
        let a = enc.encode(&item(
            "1",
            "Star Wars (1977)",
            "Sci-Fi",
            &["Action", "Sci-Fi"],
        ));
        let b = enc.encode(&item(
            "2",
            "Return of the Jedi (1983)",
            "Sci-Fi",
            &["Action", "Sci-Fi"],
        ));
        let c = enc.encode(&item(
            "3",
            "Sense and Sensibility (1995)",
            "Drama",
            &["Drama", "Romance"],
        ));
        assert!((dot(&a, &a) - 1.0).abs() < 1e-5);
        assert!(dot(&a, &b) > 0.6, "same genres: {}", dot(&a, &b));
        assert!(dot(&a, &b) > dot(&a, &c) + 0.4);
    }

    #[test]
    fn encoding_is_stable() {
        // A fixed expectation: a change of hash or weights must be a deliberate format change.
        let v = ContentEncoder { dim: 8 }.encode(&item("1", "", "Books", &[]));
        let nonzero: Vec<usize> = (0..8).filter(|&d| v[d] != 0.0).collect();
        assert_eq!(nonzero.len(), 1);
        assert_eq!(fnv1a(b"cat:books") % 8, nonzero[0] as u64);
    }
}
