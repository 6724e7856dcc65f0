//! Context in the ranking, end to end: on generated data where a session's device steers its
//! categories (`recd gen`'s device effect), the device a request names moves that device's
//! favoured categories up its list. The generator's own record of which categories each
//! device favours is the ground truth; the model learns the effect from the log alone.

use std::collections::{HashMap, HashSet};

use recd_gen::{GenConfig, Generator};

use crate::util::{arg, recd_ok};

const USERS: u32 = 1_000;
const ITEMS: u32 = 400;
const EVENTS: u64 = 100_000;
const SEED: u64 = 11;
const DEVICES: [&str; 3] = ["mobile", "desktop", "tablet"];

#[test]
fn the_device_of_a_request_moves_its_favoured_categories_up() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let n = |v: u64| v.to_string();
    recd_ok(&[
        "gen",
        "--data-dir",
        arg(&data),
        "--users",
        &n(USERS.into()),
        "--items",
        &n(ITEMS.into()),
        "--events",
        &n(EVENTS),
        "--seed",
        &n(SEED),
    ]);
    recd_ok(&["train", "--data-dir", arg(&data)]);
    let world = Generator::new(GenConfig::new(USERS, ITEMS, EVENTS, SEED)).unwrap();
    let category: HashMap<String, String> = (0..ITEMS)
        .map(|i| {
            let item = world.item(i);
            (item.id.to_string(), item.category.unwrap_or_default())
        })
        .collect();
    let favoured = |device: &str| -> HashSet<String> {
        world
            .device_favoured_categories(device)
            .unwrap()
            .iter()
            .map(|&c| world.category_name(c))
            .collect()
    };
    let users = tmp.path().join("users.csv");
    let ids: Vec<String> = (0..400)
        .map(|u| Generator::user_id(u).to_string())
        .collect();
    std::fs::write(&users, format!("user_id\n{}\n", ids.join("\n"))).unwrap();
    // Exploration off: its slots are random by design and would only add noise.
    let config = tmp.path().join("recd.toml");
    std::fs::write(&config, "[serve.recommend]\nexploration_share = 0.0\n").unwrap();
    let lists: HashMap<&str, Vec<String>> = DEVICES
        .iter()
        .map(|&device| {
            let out = tmp.path().join(format!("{device}.csv"));
            recd_ok(&[
                "recommend",
                "--config",
                arg(&config),
                "--data-dir",
                arg(&data),
                "--users",
                arg(&users),
                "--n",
                "10",
                "--device",
                device,
                "--out",
                arg(&out),
            ]);
            let mut reader = csv::Reader::from_path(&out).unwrap();
            let items = reader
                .records()
                .map(|r| r.unwrap()[1].to_string())
                .collect();
            (device, items)
        })
        .collect();
    // Share of a list's items in `fav`.
    let share = |items: &[String], fav: &HashSet<String>| {
        let hits = items
            .iter()
            .filter(|i| category.get(*i).is_some_and(|c| fav.contains(c)))
            .count();
        hits as f64 / items.len().max(1) as f64
    };
    let mut report = Vec::new();
    let mut gain = 0.0;
    for device in DEVICES {
        let fav = favoured(device);
        let own = share(&lists[device], &fav);
        let others = DEVICES
            .iter()
            .filter(|&&d| d != device)
            .map(|d| share(&lists[d], &fav))
            .sum::<f64>()
            / 2.0;
        report.push(format!(
            "{device}: {own:.3} on it, {others:.3} on the others"
        ));
        assert!(
            own > others,
            "{device}'s favoured categories are not more frequent in its lists: {report:?}"
        );
        gain += own - others;
    }
    // On average over the devices, clearly more than rounding: a few items per hundred.
    assert!(gain / 3.0 >= 0.02, "{report:?}");
    eprintln!("favoured-category shares by device: {report:?}");
}
