//! The pipeline's [`UserState`] at request time: what the model learned about the user
//! (trained vector, history up to the training cut) joined with what the speed layer knows
//! since (recent interactions and negatives from the feature store, the nearline folded-in
//! vector).

use recd_features::UserFeatures;
use recd_model::Model;
use recd_model::pipeline::{ItemSet, Moment, UserState};
use recd_types::{EventWeights, Segment, User};

use super::{Known, Params};

/// How the served model reads events: its training weights and history scale.
pub struct Meaning<'a> {
    /// What each event means (the manifest's `[train.weights]`).
    pub weights: &'a EventWeights,
    /// The scale of history weights (`Manifest::relevance_confidence`).
    pub relevance_confidence: f32,
}

/// The state of `user_id` for `model`. `now_ms` is the request's wall-clock time; the state's
/// clock is the user's newest known event when there is one (the ranker learned item-age and
/// hour features relative to the user's own timeline, which for a historical dataset is far
/// from today), else `fallback_now_ms` (the end of the model's data window).
pub fn user_state(
    model: &Model,
    meaning: &Meaning<'_>,
    user_id: &str,
    features: Option<&UserFeatures>,
    fallback_now_ms: i64,
) -> UserState {
    let row = model.users.get(user_id);
    let mut state = row.map_or_else(UserState::default, |r| UserState::from_model(model, r));
    let trained_until = if row.is_some() {
        state.now_ms
    } else {
        i64::MIN
    };
    if row.is_none() {
        state.now_ms = fallback_now_ms;
    }
    let Some(f) = features else {
        return state;
    };
    // Newest first in the store; the pipeline wants time order.
    for i in f.recent_interactions.iter().rev() {
        if i.timestamp_ms <= trained_until {
            continue;
        }
        let signal = meaning.weights.signal(i.kind, i.value, i.dwell_ms);
        let (Some(item), Some(w)) = (
            model.items.get(i.item_id.as_str()),
            signal.history_weight(meaning.relevance_confidence),
        ) else {
            continue;
        };
        state.history.push((item, w));
        state.exclude.insert(item);
    }
    let rows = |ids: &mut dyn Iterator<Item = &str>| -> ItemSet {
        ids.filter_map(|id| model.items.get(id)).collect()
    };
    state
        .exclude
        .extend(rows(&mut f.recent_views.iter().map(|v| v.value.as_str())));
    let negatives = f.negatives(meaning.weights);
    state
        .exclude
        .extend(rows(&mut negatives.iter().map(|n| n.item_id.as_str())));
    if let Some(v) = &f.vector
        && v.model_version == model.version
        && v.values.len() == model.item_factors.n_factors()
    {
        state.vector = Some(v.values.clone());
    }
    if f.last_event_ms > state.now_ms {
        state.now_ms = f.last_event_ms;
    }
    state
}

/// The request's moment for the ranker's context features: its time (`params.at_ms`, else
/// `clock`, the state's clock: the user's newest known event, the time a list made ahead for
/// their next visit is for) and page, the device it names (else the session's), the user's
/// segment (the model's record of a trained user, else their profile, read only then), and
/// the category of the session's newest item while the session is still going at that time.
pub fn moment(
    model: &Model,
    params: &Params,
    known: &Known,
    clock: i64,
    profile: impl FnOnce() -> Option<User>,
) -> Moment {
    let at = params.at_ms.unwrap_or(clock);
    let session = known
        .features
        .as_ref()
        .and_then(|f| f.session.as_ref())
        .filter(|s| {
            recd_types::continues_session(
                s.session_id.as_deref(),
                s.last_event_ms,
                None,
                at,
                known.session_gap_ms,
            )
        });
    let segment = match model.users.get(&params.user_id) {
        Some(row) => model.context.segment_of(row).map(str::to_string),
        None => profile().as_ref().and_then(Segment::of).map(|s| s.key()),
    };
    Moment {
        at_ms: Some(at),
        device: params
            .device
            .clone()
            .or_else(|| session.and_then(|s| s.device.clone())),
        page: Some(params.context.clone()),
        segment,
        session_category: session
            .and_then(|s| s.current_category.as_deref())
            .and_then(|c| crate::cold::category_index(model, c)),
        // The catalog view's matches of the searches, which `recommend` adds.
        searched: Vec::new(),
    }
}

/// True when the state carries anything personal (a positive item or a vector).
pub fn is_personal(state: &UserState) -> bool {
    state.vector.is_some() || state.history.iter().any(|(_, w)| *w > 0.0)
}

/// Categories of the user's positive history.
pub fn usual_categories(model: &Model, state: &UserState) -> ItemSet {
    state
        .history
        .iter()
        .filter(|(_, w)| *w > 0.0)
        .map(|(i, _)| model.meta.category[*i as usize])
        .filter(|&c| c != recd_model::NO_CATEGORY)
        .collect()
}

#[cfg(test)]
mod tests {
    use recd_features::Session;
    use recd_types::{Gender, UserId};

    use super::*;

    fn params(at_ms: Option<i64>, device: Option<&str>) -> Params {
        Params {
            user_id: "u".into(),
            n: 10,
            context: "homepage".into(),
            device: device.map(str::to_string),
            category: None,
            request_id: "r".into(),
            now_ms: 0,
            at_ms,
        }
    }

    #[test]
    fn the_moment_reads_the_request_then_the_session_while_it_lasts() {
        let model = crate::postprocess::tests::model();
        let mut features = UserFeatures::new(UserId::parse("u").unwrap());
        features.session = Some(Session {
            session_id: Some("s".into()),
            started_ms: 0,
            last_event_ms: 1_000,
            n_events: 2,
            current_category: Some("b".into()),
            pages: vec!["category".into()],
            device: Some("tablet".into()),
        });
        let known = Known {
            features: Some(features),
            profile: None,
            session_gap_ms: 500,
        };
        let none = || None;
        // In the session: its category and device; the request's page.
        let m = moment(&model, &params(Some(1_400), None), &known, 0, none);
        assert_eq!(m.at_ms, Some(1_400));
        assert_eq!(m.session_category, Some(1));
        assert_eq!(m.device.as_deref(), Some("tablet"));
        assert_eq!(m.page.as_deref(), Some("homepage"));
        // A device the request names wins over the session's.
        let m = moment(
            &model,
            &params(Some(1_400), Some("mobile")),
            &known,
            0,
            none,
        );
        assert_eq!(m.device.as_deref(), Some("mobile"));
        // Past the gap the session is over.
        let m = moment(&model, &params(Some(1_501), None), &known, 0, none);
        assert_eq!((m.session_category, m.device), (None, None));
        // Without a time, the state's clock.
        let m = moment(&model, &params(None, None), &known, 1_200, none);
        assert_eq!((m.at_ms, m.session_category), (Some(1_200), Some(1)));
        // A user the model does not know: the segment comes from their profile.
        let profile = || {
            let mut u = User::new(UserId::parse("u").unwrap());
            u.gender = Some(Gender::Female);
            u.age = Some(30);
            Some(u)
        };
        let m = moment(&model, &params(None, None), &known, 0, profile);
        assert_eq!(m.segment.as_deref(), Some("female/25-34"));
    }
}
