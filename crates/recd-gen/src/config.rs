//! The generator's settings and the date parsing the CLI needs for `--end`.

use recd_types::TimestampMs;

use crate::GenError;

/// One day in milliseconds.
pub const DAY_MS: TimestampMs = 86_400_000;

/// Default end of the generated window: 2024-03-01T00:00:00Z. Fixed, never the wall clock,
/// so the same command gives the same bytes on any day.
pub const DEFAULT_END_MS: TimestampMs = 1_709_251_200_000;

/// Default strength of the device effect: in a session, each of the device's favoured
/// categories weighs this much more than under the user's taste alone (see `devices.rs`).
pub const DEFAULT_DEVICE_EFFECT: f64 = 3.0;

/// Default share of a session's later draws in its category that take an item the session's
/// search names (see `events.rs`).
pub const DEFAULT_SEARCH_INTENT: f64 = 0.5;

/// Upper bound of the device effect: far past the point where sessions stay in the device's
/// favoured categories, and low enough that reweighting never overflows.
const MAX_DEVICE_EFFECT: f64 = 1000.0;

/// Settings of a generated world. Every field takes part in the output definition except
/// `threads`, which only changes how fast it is produced.
#[derive(Debug, Clone, PartialEq)]
pub struct GenConfig {
    /// Number of users (ids `u0`..).
    pub n_users: u32,
    /// Number of items (ids `i0`..).
    pub n_items: u32,
    /// Total number of events, exactly.
    pub n_events: u64,
    /// The seed every random stream is keyed on.
    pub seed: u64,
    /// End of the event window (exclusive), ms since the epoch.
    pub end_ms: TimestampMs,
    /// Length of the event window in days.
    pub n_days: u32,
    /// Number of item categories.
    pub n_categories: u32,
    /// Dimension of the latent taste space.
    pub dim: usize,
    /// How much more a session's device favours its own categories: each device class favours
    /// a quarter of the categories, which weigh `1 + device_effect` in its sessions; 0 makes
    /// the device independent of what is browsed.
    pub device_effect: f64,
    /// What a search says: after a search, this share of the session's later draws in its
    /// category take an item whose noun the query names (an item its title and tags match);
    /// 0 makes a search say only the session's category.
    pub search_intent: f64,
    /// Worker threads for event generation; 0 means one per core.
    pub threads: usize,
}

impl GenConfig {
    /// Settings with the given sizes and seed and defaults for the rest
    /// (window of 60 days ending 2024-03-01, 30 categories or one per item if fewer items,
    /// 16 latent dimensions, [`DEFAULT_DEVICE_EFFECT`], [`DEFAULT_SEARCH_INTENT`]).
    pub fn new(n_users: u32, n_items: u32, n_events: u64, seed: u64) -> Self {
        Self {
            n_users,
            n_items,
            n_events,
            seed,
            end_ms: DEFAULT_END_MS,
            n_days: 60,
            n_categories: n_items.clamp(1, 30),
            dim: 16,
            device_effect: DEFAULT_DEVICE_EFFECT,
            search_intent: DEFAULT_SEARCH_INTENT,
            threads: 0,
        }
    }

    /// Start of the event window, ms since the epoch.
    pub fn start_ms(&self) -> TimestampMs {
        self.end_ms - self.n_days as TimestampMs * DAY_MS
    }

    /// Checks every setting; the error names the first bad one.
    pub fn validate(&self) -> Result<(), GenError> {
        if self.n_users == 0 {
            return Err(GenError::config("users", "must be at least 1"));
        }
        if self.n_items == 0 {
            return Err(GenError::config("items", "must be at least 1"));
        }
        if self.n_categories == 0 || self.n_categories > self.n_items {
            return Err(GenError::config(
                "categories",
                format!(
                    "must be between 1 and the number of items ({})",
                    self.n_items
                ),
            ));
        }
        // Each user's activity share is computed in f64; past 2^53 counts lose exactness.
        if self.n_events > 1 << 50 {
            return Err(GenError::config("events", "is too large"));
        }
        if !(8..=3650).contains(&self.n_days) {
            return Err(GenError::config(
                "days",
                "must be between 8 and 3650 (the last 7 days hold the new items)",
            ));
        }
        if !(1..=256).contains(&self.dim) {
            return Err(GenError::config("dim", "must be between 1 and 256"));
        }
        // `contains` is false for NaN, so this also refuses it (and the infinities).
        if !(0.0..=MAX_DEVICE_EFFECT).contains(&self.device_effect) {
            return Err(GenError::config(
                "device-effect",
                format!("must be a number between 0 and {MAX_DEVICE_EFFECT}"),
            ));
        }
        if !(0.0..=1.0).contains(&self.search_intent) {
            return Err(GenError::config(
                "search-intent",
                "must be a number between 0 and 1",
            ));
        }
        // Signups and item creation reach up to three years before the window.
        if self.start_ms() - 3 * 366 * DAY_MS < 0 {
            return Err(GenError::config("end", "window must start after 1973"));
        }
        if self.end_ms > parse_date("2999-01-01")? {
            return Err(GenError::config("end", "must be before 2999"));
        }
        Ok(())
    }
}

/// Parses `YYYY-MM-DD` as midnight UTC, in ms since the epoch.
pub fn parse_date(input: &str) -> Result<TimestampMs, GenError> {
    let bad = |reason: &str| GenError::InvalidDate {
        input: input.to_string(),
        reason: reason.to_string(),
    };
    let parts: Vec<&str> = input.trim().split('-').collect();
    let [y, m, d] = parts.as_slice() else {
        return Err(bad("not three dash-separated numbers"));
    };
    let number = |s: &str, what: &str| -> Result<i64, GenError> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || s.len() > 4 {
            return Err(bad(&format!("{what} is not a number")));
        }
        s.parse()
            .map_err(|_| bad(&format!("{what} is not a number")))
    };
    let (year, month, day) = (number(y, "year")?, number(m, "month")?, number(d, "day")?);
    if !(1970..=9999).contains(&year) {
        return Err(bad("year must be 1970 or later"));
    }
    if !(1..=12).contains(&month) {
        return Err(bad("month must be 1..12"));
    }
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if day < 1 || day > month_days[month as usize - 1] {
        return Err(bad("no such day in that month"));
    }
    Ok(days_from_civil(year, month, day) * DAY_MS)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_parse_to_utc_midnight() {
        assert_eq!(parse_date("1970-01-01").unwrap(), 0);
        assert_eq!(parse_date("2024-03-01").unwrap(), DEFAULT_END_MS);
        assert_eq!(parse_date("2024-01-01").unwrap(), 1_704_067_200_000);
        assert_eq!(parse_date("2000-02-29").unwrap(), 951_782_400_000);
    }

    #[test]
    fn bad_dates_are_refused() {
        for bad in [
            "2023-02-29",
            "2024-13-01",
            "2024-1",
            "yesterday",
            "2024-01-0x",
            "1969-12-31",
            "",
        ] {
            assert!(parse_date(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn configs_are_checked() {
        GenConfig::new(10, 100, 1000, 1).validate().unwrap();
        let field = |c: GenConfig| match c.validate() {
            Err(GenError::InvalidConfig { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(field(GenConfig::new(0, 100, 1000, 1)), "users");
        assert_eq!(field(GenConfig::new(10, 0, 1000, 1)), "items");
        let mut c = GenConfig::new(10, 5, 1000, 1);
        c.n_categories = 6;
        assert_eq!(field(c), "categories");
        let mut c = GenConfig::new(10, 100, 1000, 1);
        c.n_days = 3;
        assert_eq!(field(c), "days");
        let mut c = GenConfig::new(10, 100, 1000, 1);
        c.end_ms = 0;
        assert_eq!(field(c), "end");
        for bad in [-0.5, f64::NAN, f64::INFINITY, 1e9] {
            let mut c = GenConfig::new(10, 100, 1000, 1);
            c.device_effect = bad;
            assert_eq!(field(c), "device-effect", "{bad}");
        }
        let mut c = GenConfig::new(10, 100, 1000, 1);
        c.device_effect = 0.0;
        c.validate().unwrap();
    }
}
