//! User profiles (demographics and declared interests, used for cold start).

use std::collections::BTreeMap;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::event::check_text;
use crate::{TimestampMs, UserId, ValidationError};

/// Most declared interests per user (an onboarding quiz picks a handful).
const MAX_INTERESTS: usize = 64;

/// Gender as declared by the user, if at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Gender {
    /// Female.
    Female,
    /// Male.
    Male,
    /// Any other answer.
    Other,
}

impl FromStr for Gender {
    type Err = ValidationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "f" | "female" => Ok(Gender::Female),
            "m" | "male" => Ok(Gender::Male),
            "o" | "other" | "x" => Ok(Gender::Other),
            _ => Err(ValidationError::new(
                "gender",
                format!("unknown gender {s:?}; expected female, male or other"),
            )),
        }
    }
}

/// A demographic segment: declared gender (or none) × age band. The cold-start lists and the
/// ranker's segment feature group users by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Segment {
    gender: Option<Gender>,
    age_band: u8,
}

impl Segment {
    /// The segment of a profile, or `None` when it declares neither gender nor age.
    pub fn of(user: &User) -> Option<Self> {
        if user.gender.is_none() && user.age.is_none() {
            return None;
        }
        // Bands as in the usual market-research cut (MovieLens 1M uses the same edges).
        let age_band = match user.age {
            None => 0,
            Some(a) if a < 18 => 1,
            Some(a) if a < 25 => 2,
            Some(a) if a < 35 => 3,
            Some(a) if a < 45 => 4,
            Some(a) if a < 55 => 5,
            Some(_) => 6,
        };
        Some(Self {
            gender: user.gender,
            age_band,
        })
    }

    /// A stable name, such as `female/25-34` or `any/unknown-age`.
    pub fn key(&self) -> String {
        let gender = match self.gender {
            None => "any",
            Some(Gender::Female) => "female",
            Some(Gender::Male) => "male",
            Some(Gender::Other) => "other",
        };
        let band = match self.age_band {
            1 => "under-18",
            2 => "18-24",
            3 => "25-34",
            4 => "35-44",
            5 => "45-54",
            6 => "55+",
            _ => "unknown-age",
        };
        format!("{gender}/{band}")
    }
}

/// One user profile. Upserts replace the whole profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    /// External id.
    pub id: UserId,
    /// When the user signed up.
    pub signup_ms: Option<TimestampMs>,
    /// Country code or name as the client gives it.
    pub country: Option<String>,
    /// Age in years.
    pub age: Option<u8>,
    /// Declared gender.
    pub gender: Option<Gender>,
    /// Declared interests (categories or tags) from onboarding.
    pub interests: Vec<String>,
    /// Free string attributes (occupation, zip code, ...).
    pub attributes: BTreeMap<String, String>,
}

impl User {
    /// A profile with only an id.
    pub fn new(id: UserId) -> Self {
        Self {
            id,
            signup_ms: None,
            country: None,
            age: None,
            gender: None,
            interests: Vec::new(),
            attributes: BTreeMap::new(),
        }
    }

    /// Checks every rule of a profile; the error names the first field that breaks one.
    pub fn validate(&self) -> Result<(), ValidationError> {
        self.id.validate()?;
        if self.signup_ms.is_some_and(|t| t < 0) {
            return Err(ValidationError::new("signup", "is before 1970"));
        }
        check_text("country", self.country.as_deref())?;
        if self.age.is_some_and(|a| a > 130) {
            return Err(ValidationError::new("age", "is over 130"));
        }
        if self.interests.len() > MAX_INTERESTS {
            return Err(ValidationError::new(
                "interests",
                format!("more than {MAX_INTERESTS} interests"),
            ));
        }
        for interest in &self.interests {
            check_text("interests", Some(interest))?;
        }
        for (k, v) in &self.attributes {
            check_text("attributes", Some(k))?;
            check_text("attributes", Some(v))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_are_checked() {
        let mut user = User::new(UserId::parse("42").unwrap());
        user.age = Some(24);
        user.gender = Some("M".parse().unwrap());
        user.validate().unwrap();
        user.age = Some(200);
        assert_eq!(user.validate().unwrap_err().field, "age");
        assert_eq!("q".parse::<Gender>().unwrap_err().field, "gender");
    }

    #[test]
    fn segments_band_ages_and_need_a_declared_field() {
        let mut u = User::new(UserId::parse("u").unwrap());
        assert_eq!(Segment::of(&u), None);
        u.age = Some(24);
        let a = Segment::of(&u).unwrap();
        assert_eq!(a.key(), "any/18-24");
        u.age = Some(19);
        assert_eq!(Segment::of(&u), Some(a));
        u.age = Some(25);
        assert_ne!(Segment::of(&u), Some(a));
        u.gender = Some(Gender::Female);
        assert_eq!(Segment::of(&u).unwrap().key(), "female/25-34");
    }
}
