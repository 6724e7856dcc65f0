//! Item records: title, category, tags, price, creation time and flags, rendered from the
//! item's draw. Text comes from the category's own words, so it agrees with the latent category.

use recd_types::Item;

use crate::events::item_id;
use crate::words::{ADJECTIVES, BRANDS, COLOURS, category_name, category_nouns};
use crate::world::World;

/// The catalog record of item `idx`.
pub(crate) fn item_record(world: &World, idx: u32) -> Item {
    let draw = world.draw_item(idx);
    let c = draw.category as usize;
    let nouns = category_nouns(c);
    let noun = nouns[(draw.noun % nouns.len() as u64) as usize];
    let adjective = ADJECTIVES[(draw.adjective % ADJECTIVES.len() as u64) as usize];
    let brand = BRANDS[draw.brand];
    let colour = COLOURS[(draw.colour % COLOURS.len() as u64) as usize];
    let title = format!(
        "{brand} {} {} {}{}",
        capitalise(adjective),
        capitalise(&noun.replace('-', " ")),
        noun.as_bytes()[0].to_ascii_uppercase() as char,
        draw.model
    );
    let mut item = Item::new(item_id(idx), title);
    item.category = Some(category_name(c));
    item.tags = vec![
        noun.to_string(),
        adjective.to_string(),
        brand.to_ascii_lowercase(),
    ];
    item.price = Some(draw.price_cents as f64 / 100.0);
    // The world may have moved the creation time (the top item is always old): it is the truth.
    item.created_at_ms = Some(world.item_created_ms[idx as usize]);
    item.available = draw.available;
    item.sponsored = draw.sponsored;
    item.attributes.insert("brand".into(), brand.into());
    item.attributes.insert("colour".into(), colour.into());
    item
}

fn capitalise(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
