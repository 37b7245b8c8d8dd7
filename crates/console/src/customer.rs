//! Reading a customer out of an entity lookup response: the entity itself, the name, contact
//! details, loyalty tier and the identity a link to the profile should use.

use serde_json::Value;

use crate::format::{array_at, str_at};
use crate::lang::{Lang, Msg};

/// The entity of a lookup response (`{"<profileId>": {"entity": …}}`), of one item
/// (`{"entity": …}`), or the entity itself.
pub(crate) fn entity(profile: &Value) -> &Value {
    if let Some(entity) = profile.get("entity").filter(|e| e.is_object()) {
        return entity;
    }
    if let Some(item) = profile.as_object().and_then(|map| {
        map.values()
            .find(|v| v.get("entity").is_some_and(Value::is_object))
    }) {
        return &item["entity"];
    }
    profile
}

/// The profile id of a lookup response or item, if it says.
pub(crate) fn profile_id(profile: &Value) -> Option<&str> {
    if let Some(id) = profile.get("entityId").and_then(Value::as_str) {
        return Some(id);
    }
    profile.as_object().and_then(|map| {
        map.iter()
            .find(|(_, v)| v.get("entity").is_some())
            .map(|(k, _)| k.as_str())
    })
}

pub(crate) fn name(entity: &Value) -> Option<String> {
    if let Some(full) = str_at(entity, "/person/name/fullName") {
        return Some(full.to_owned());
    }
    let parts: Vec<&str> = ["/person/name/firstName", "/person/name/lastName"]
        .iter()
        .filter_map(|p| str_at(entity, p))
        .collect();
    (!parts.is_empty()).then(|| parts.join(" "))
}

pub(crate) fn email(entity: &Value) -> Option<&str> {
    str_at(entity, "/personalEmail/address").or_else(|| first_identity(entity, "Email"))
}

pub(crate) fn phone(entity: &Value) -> Option<&str> {
    str_at(entity, "/mobilePhone/number").or_else(|| first_identity(entity, "Phone"))
}

pub(crate) fn city(entity: &Value) -> Option<String> {
    let city = str_at(entity, "/homeAddress/city")?;
    Some(match str_at(entity, "/homeAddress/stateProvince") {
        Some(state) => format!("{city}, {state}"),
        None => city.to_owned(),
    })
}

/// The loyalty tier, in the page's language when it is one of the usual four.
pub(crate) fn tier(entity: &Value, lang: Lang) -> Option<String> {
    let tier = str_at(entity, "/loyalty/tier")?;
    let known = match tier.to_ascii_lowercase().as_str() {
        "bronze" => Some(Msg::TierBronze),
        "silver" => Some(Msg::TierSilver),
        "gold" => Some(Msg::TierGold),
        "platinum" => Some(Msg::TierPlatinum),
        _ => None,
    };
    Some(known.map_or_else(|| tier.to_owned(), |m| lang.t(m).to_owned()))
}

fn first_identity<'a>(entity: &'a Value, namespace: &str) -> Option<&'a str> {
    let identity = array_at(entity, &format!("/identityMap/{namespace}")).first()?;
    identity.get("id")?.as_str()
}

/// The identity to link a profile by: the primary one of its identity map, else the first of
/// CRMID, Email, LoyaltyID, Phone, else any.
pub(crate) fn link_identity(entity: &Value) -> Option<(String, String)> {
    let map = entity.get("identityMap")?.as_object()?;
    let all = || {
        map.iter().flat_map(|(ns, ids)| {
            ids.as_array()
                .into_iter()
                .flatten()
                .filter_map(move |i| Some((ns, i, i.get("id")?.as_str()?)))
        })
    };
    let chosen = all()
        .find(|(_, i, _)| i.get("primary").and_then(Value::as_bool) == Some(true))
        .map(|(ns, _, id)| (ns.as_str(), id))
        .or_else(|| {
            ["CRMID", "Email", "LoyaltyID", "Phone"]
                .iter()
                .find_map(|ns| first_identity(entity, ns).map(|id| (*ns, id)))
        })
        .or_else(|| all().next().map(|(ns, _, id)| (ns.as_str(), id)))?;
    Some((chosen.0.to_owned(), chosen.1.to_owned()))
}
