//! Fixed vocabularies: category names and their product words, brands, countries, devices.
//!
//! Titles, tags and search queries are built from a category's own words, so text carries the
//! same signal as the latent category (a content model can learn it, a search is on-topic).

/// A category's name and the nouns its items and searches use.
pub(crate) struct CategoryWords {
    /// Category name as written into `Item::category` and user interests.
    pub(crate) name: &'static str,
    /// Product nouns: titles, tags and search queries draw from these.
    pub(crate) nouns: &'static [&'static str],
}

macro_rules! categories {
    ($($name:literal => [$($noun:literal),* $(,)?]),* $(,)?) => {
        &[$(CategoryWords { name: $name, nouns: &[$($noun),*] }),*]
    };
}

/// The base categories. More categories than this reuse the list with a numeric suffix.
pub(crate) const CATEGORIES: &[CategoryWords] = categories![
    "electronics" => ["headphones", "speaker", "charger", "cable", "earbuds", "adapter", "powerbank", "soundbar"],
    "computers" => ["laptop", "keyboard", "mouse", "monitor", "webcam", "router", "ssd", "dock"],
    "phones" => ["smartphone", "case", "screen-protector", "stand", "holder", "stylus", "gimbal", "sim-tray"],
    "books" => ["novel", "cookbook", "biography", "atlas", "anthology", "thriller", "memoir", "textbook"],
    "music" => ["vinyl", "album", "guitar", "ukulele", "drumsticks", "tuner", "capo", "metronome"],
    "movies" => ["bluray", "dvd", "boxset", "documentary", "comedy", "drama", "western", "animation"],
    "games" => ["console", "controller", "puzzle", "boardgame", "cards", "headset", "joystick", "expansion"],
    "toys" => ["doll", "blocks", "plush", "kite", "robot", "train-set", "yo-yo", "marbles"],
    "baby" => ["stroller", "bottle", "diaper", "pacifier", "crib", "onesie", "rattle", "bib"],
    "kitchen" => ["blender", "kettle", "skillet", "knife", "toaster", "whisk", "cutting-board", "grinder"],
    "home" => ["lamp", "rug", "curtain", "cushion", "vase", "mirror", "clock", "shelf"],
    "furniture" => ["sofa", "chair", "desk", "bookcase", "stool", "wardrobe", "bench", "nightstand"],
    "garden" => ["hose", "planter", "shears", "seeds", "trowel", "sprinkler", "wheelbarrow", "birdhouse"],
    "tools" => ["drill", "hammer", "wrench", "screwdriver", "saw", "toolbox", "level", "clamp"],
    "auto" => ["tire", "wiper", "dashcam", "seat-cover", "jumper", "polish", "floor-mat", "air-freshener"],
    "sports" => ["racket", "ball", "helmet", "gloves", "jersey", "net", "skates", "goggles"],
    "outdoors" => ["tent", "backpack", "sleeping-bag", "lantern", "compass", "hammock", "canteen", "stove"],
    "fitness" => ["dumbbell", "yoga-mat", "kettlebell", "treadmill", "jump-rope", "resistance-band", "bike", "rower"],
    "fashion" => ["jacket", "dress", "jeans", "sweater", "scarf", "coat", "skirt", "shirt"],
    "shoes" => ["sneakers", "boots", "sandals", "loafers", "heels", "slippers", "trainers", "clogs"],
    "jewelry" => ["ring", "necklace", "bracelet", "earrings", "pendant", "brooch", "anklet", "watch"],
    "beauty" => ["lipstick", "mascara", "serum", "perfume", "moisturizer", "palette", "cleanser", "sunscreen"],
    "health" => ["vitamins", "thermometer", "bandage", "massager", "scale", "toothbrush", "humidifier", "mask"],
    "grocery" => ["coffee", "tea", "chocolate", "pasta", "olive-oil", "honey", "granola", "spices"],
    "pets" => ["leash", "collar", "kibble", "litter", "aquarium", "cat-tree", "chew-toy", "pet-bed"],
    "office" => ["notebook", "pen", "stapler", "planner", "binder", "label-maker", "whiteboard", "calculator"],
    "crafts" => ["yarn", "paint", "canvas", "beads", "glue-gun", "sketchbook", "fabric", "brushes"],
    "travel" => ["suitcase", "duffel", "passport-holder", "neck-pillow", "packing-cubes", "luggage-tag", "travel-adapter", "toiletry-bag"],
    "photo" => ["camera", "lens", "tripod", "flash", "memory-card", "filter", "drone", "camera-bag"],
    "smart-home" => ["thermostat", "doorbell", "smart-plug", "bulb", "sensor", "hub", "camera-kit", "lock"],
];

/// Adjectives for titles and tags (category-neutral on purpose: noise for content models).
pub(crate) const ADJECTIVES: &[&str] = &[
    "classic",
    "compact",
    "deluxe",
    "essential",
    "premium",
    "portable",
    "vintage",
    "modern",
    "ultra",
    "eco",
    "pro",
    "mini",
    "smart",
    "rugged",
    "soft",
    "bold",
];

/// Brand names; each category favours a few of them (house brands).
pub(crate) const BRANDS: &[&str] = &[
    "Acme",
    "Nordwind",
    "Lumen",
    "Kestrel",
    "Orbit",
    "Pinecrest",
    "Vantage",
    "Halcyon",
    "Zephyr",
    "Marlow",
    "Quokka",
    "Tidewell",
    "Ember",
    "Solace",
    "Brightly",
    "Cobalt",
    "Juniper",
    "Fathom",
    "Larkspur",
    "Meridian",
    "Northstar",
    "Ostrava",
    "Peregrine",
    "Riverbend",
];

/// Colours, stored as an item attribute.
pub(crate) const COLOURS: &[&str] = &[
    "black", "white", "grey", "red", "blue", "green", "yellow", "brown", "pink", "silver",
];

/// Countries (ISO codes), in descending order of user share (Zipf-like weights).
pub(crate) const COUNTRIES: &[&str] = &[
    "US", "IN", "BR", "GB", "DE", "FR", "JP", "MX", "CA", "ES", "IT", "ID", "TR", "PL", "NL", "AU",
    "KR", "SE", "AR", "ZA",
];

/// Device classes and their share of users' primary devices.
pub(crate) const DEVICES: &[(&str, f64)] = &[("mobile", 0.62), ("desktop", 0.31), ("tablet", 0.07)];

/// The name of category `c`: the base list, then the base list again with a numeric suffix.
pub(crate) fn category_name(c: usize) -> String {
    let base = CATEGORIES[c % CATEGORIES.len()].name;
    match c / CATEGORIES.len() {
        0 => base.to_string(),
        round => format!("{base}-{}", round + 1),
    }
}

/// The nouns of category `c`.
pub(crate) fn category_nouns(c: usize) -> &'static [&'static str] {
    CATEGORIES[c % CATEGORIES.len()].nouns
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn category_names_are_unique_beyond_the_base_list() {
        let names: std::collections::BTreeSet<String> =
            (0..3 * CATEGORIES.len()).map(category_name).collect();
        assert_eq!(names.len(), 3 * CATEGORIES.len());
        assert_eq!(category_name(0), "electronics");
        assert_eq!(category_name(CATEGORIES.len()), "electronics-2");
    }
}
