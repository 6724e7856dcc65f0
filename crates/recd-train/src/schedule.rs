//! `[train.schedule]` and `[train.job]`: when `recd serve` runs the batch layer by itself, and
//! the limits of each run. The server reads them (through the binary, which hands it plain
//! values); `recd train` itself ignores them.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// `[train.schedule]`. Both may be set: a training then starts at whichever comes first, and
/// never two at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScheduleConfig {
    /// Run every this long after the server starts (`"30m"`, `"6h"`, `"24h"`, `"7d"`; `"off"`).
    pub every: Every,
    /// Run every day at this UTC time (`"03:00"`; `"off"`).
    pub daily_at: DailyAt,
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        Self {
            every: Every(Some(Duration::from_secs(24 * 3600))),
            daily_at: DailyAt(None),
        }
    }
}

/// `[train.job]`: limits of a training run started by the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JobConfig {
    /// A run still going after this many seconds is stopped and reported as timed out.
    pub timeout_secs: u64,
    /// A run whose resident memory passes this many MiB is stopped and reported (0: half of
    /// the machine's memory, so a training never starves the server it runs beside).
    pub memory_mb: u64,
    /// CPU priority of the run (`nice`, 0–19): serving keeps its latency while it trains.
    pub nice: i32,
    /// How many finished runs the server remembers (`GET /v1/admin/jobs`).
    pub history: usize,
}

impl Default for JobConfig {
    fn default() -> Self {
        Self {
            timeout_secs: 6 * 3600,
            memory_mb: 0,
            nice: 10,
            history: 100,
        }
    }
}

/// An interval, or none (`"off"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Every(pub Option<Duration>);

/// A time of day in UTC (hour, minute), or none (`"off"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DailyAt(pub Option<(u8, u8)>);

/// Parses `"90s"`, `"30m"`, `"6h"`, `"7d"` (a whole number and a unit), or `"off"`.
pub fn parse_every(s: &str) -> Result<Every, String> {
    let s = s.trim();
    if s == "off" {
        return Ok(Every(None));
    }
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{s:?} is not an interval like \"30m\", \"24h\" or \"off\""))?;
    let secs = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => return Err(format!("{s:?}: the unit must be s, m, h or d")),
    };
    if secs == 0 {
        return Err(format!("{s:?}: use \"off\" rather than a zero interval"));
    }
    Ok(Every(Some(Duration::from_secs(secs))))
}

/// Parses `"HH:MM"` (UTC) or `"off"`.
pub fn parse_daily_at(s: &str) -> Result<DailyAt, String> {
    let s = s.trim();
    if s == "off" {
        return Ok(DailyAt(None));
    }
    let bad = || format!("{s:?} is not a time like \"03:00\" (UTC) or \"off\"");
    let (h, m) = s.split_once(':').ok_or_else(bad)?;
    let (h, m): (u8, u8) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if h > 23 || m > 59 || s.len() != 5 {
        return Err(bad());
    }
    Ok(DailyAt(Some((h, m))))
}

impl std::fmt::Display for Every {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Some(d) = self.0 else {
            return f.write_str("off");
        };
        let secs = d.as_secs();
        match secs {
            s if s % 86_400 == 0 => write!(f, "{}d", s / 86_400),
            s if s % 3600 == 0 => write!(f, "{}h", s / 3600),
            s if s % 60 == 0 => write!(f, "{}m", s / 60),
            s => write!(f, "{s}s"),
        }
    }
}

impl std::fmt::Display for DailyAt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some((h, m)) => write!(f, "{h:02}:{m:02}"),
            None => f.write_str("off"),
        }
    }
}

impl Serialize for Every {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Every {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        parse_every(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

impl Serialize for DailyAt {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for DailyAt {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        parse_daily_at(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_and_times_parse_and_print_back() {
        for s in ["90s", "30m", "6h", "1d", "off"] {
            assert_eq!(parse_every(s).unwrap().to_string(), s);
        }
        assert_eq!(
            parse_every("24h").unwrap().0,
            Some(Duration::from_secs(86_400))
        );
        for bad in ["", "0h", "5", "h", "5w", "-1h", "1.5h"] {
            assert!(parse_every(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_daily_at("03:05").unwrap().0, Some((3, 5)));
        assert_eq!(parse_daily_at("23:59").unwrap().to_string(), "23:59");
        for bad in ["24:00", "3:00", "03:60", "0300", "", "noon"] {
            assert!(parse_daily_at(bad).is_err(), "{bad}");
        }
    }
}
