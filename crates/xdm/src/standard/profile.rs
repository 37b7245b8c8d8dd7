//! Standard field groups of the XDM Individual Profile class.

use crate::class::Class;
use crate::field::{Field, ObjectField};
use crate::standard::group;
use crate::FieldGroup;

/// Values every consent `val` field accepts.
const CONSENT_VALUES: &[&str] = &["y", "n", "p", "u", "dy", "dn", "LI", "CT", "CP", "VI", "PI"];

/// Channels `consents.marketing.preferred` accepts.
const PREFERRED_CHANNELS: &[&str] = &[
    "email",
    "push",
    "inApp",
    "sms",
    "phone",
    "phyMail",
    "inVehicle",
    "inHome",
    "iot",
    "social",
    "other",
    "none",
    "unknown",
];

/// Marketing channels that carry a consent and subscriptions.
const MARKETING_CHANNELS: &[&str] = &[
    "email",
    "push",
    "sms",
    "call",
    "postalMail",
    "commercialEmail",
];

pub(super) fn groups() -> Vec<FieldGroup> {
    let profile = &[Class::Profile];
    vec![
        group(
            "profile-person-details",
            "Demographic Details",
            "The person's name, birth date, gender and tax identifier.",
            profile,
            ObjectField::new().with("person", person()),
        ),
        group(
            "profile-personal-details",
            "Personal Contact Details",
            "Personal email, phones, home address and preferred language.",
            profile,
            ObjectField::new()
                .with("personalEmail", email_address("Personal email"))
                .with("mobilePhone", phone("Mobile phone"))
                .with("homePhone", phone("Home phone"))
                .with("homeAddress", postal_address("Home address"))
                .with(
                    "preferredLanguage",
                    Field::string().titled("Preferred language"),
                ),
        ),
        group(
            "profile-work-details",
            "Work Contact Details",
            "Work email, phone and address.",
            profile,
            ObjectField::new()
                .with("workEmail", email_address("Work email"))
                .with("workPhone", phone("Work phone"))
                .with("workAddress", postal_address("Work address")),
        ),
        group(
            "profile-consents",
            "Consents and Preferences",
            "Consent to collect, share, personalize and market, per channel and per identity.",
            profile,
            ObjectField::new().with("consents", consents()),
        ),
        group(
            "profile-loyalty-details",
            "Loyalty Details",
            "Membership of a loyalty program.",
            profile,
            ObjectField::new().with("loyalty", loyalty()),
        ),
        group(
            "profile-segmentation",
            "Segment Membership Details",
            "Segment memberships keyed by segment namespace, then segment id.",
            profile,
            ObjectField::new().with("segmentMembership", segment_membership()),
        ),
        group(
            "profile-test-details",
            "Profile Test Details",
            "Marks test profiles.",
            profile,
            ObjectField::new().with("testProfile", Field::boolean().titled("Test profile")),
        ),
    ]
}

fn person() -> Field {
    let name = ObjectField::new()
        .with("firstName", Field::string().titled("First name"))
        .with("middleName", Field::string().titled("Middle name"))
        .with("lastName", Field::string().titled("Last name"))
        .with("fullName", Field::string().titled("Full name"))
        .with("courtesyTitle", Field::string().titled("Courtesy title"))
        .with("suffix", Field::string().titled("Suffix"));
    let person = ObjectField::new()
        .with("name", Field::object(name).titled("Full name"))
        .with("birthDate", Field::date().titled("Birth date"))
        .with(
            "birthYear",
            Field::integer_range(Some(1900), Some(2100)).titled("Birth year"),
        )
        .with(
            "gender",
            Field::enumeration(&["male", "female", "not_specified", "non_specific"])
                .titled("Gender"),
        )
        .with("taxId", Field::string().titled("Tax identifier"));
    Field::object(person).titled("Person")
}

fn email_address(title: &str) -> Field {
    let email = ObjectField::new()
        .with("address", Field::email().titled("Address"))
        .with("primary", Field::boolean().titled("Primary"))
        .with("label", Field::string().titled("Label"))
        .with("type", Field::string().titled("Type"))
        .with(
            "status",
            Field::enumeration(&["active", "incomplete", "blacklisted", "blocked"])
                .titled("Status"),
        );
    Field::object(email).titled(title)
}

fn phone(title: &str) -> Field {
    let phone = ObjectField::new()
        .with("number", Field::string().titled("Number"))
        .with("primary", Field::boolean().titled("Primary"))
        .with("status", Field::string().titled("Status"))
        .with("type", Field::string().titled("Type"));
    Field::object(phone).titled(title)
}

fn postal_address(title: &str) -> Field {
    let address = ObjectField::new()
        .with("street1", Field::string().titled("Street 1"))
        .with("street2", Field::string().titled("Street 2"))
        .with("city", Field::string().titled("City"))
        .with("stateProvince", Field::string().titled("State or province"))
        .with("postalCode", Field::string().titled("Postal code"))
        .with("country", Field::string().titled("Country"))
        .with(
            "countryCode",
            Field::string_length(Some(2), Some(2))
                .titled("Country code")
                .described("ISO 3166-1 alpha-2 country code."),
        )
        .with("region", Field::string().titled("Region"))
        .with("primary", Field::boolean().titled("Primary"));
    Field::object(address).titled(title)
}

fn consent_value() -> Field {
    Field::enumeration(CONSENT_VALUES).titled("Consent value")
}

/// `{val, reason, time}`: one consent decision.
fn consent() -> ObjectField {
    ObjectField::new()
        .with("val", consent_value())
        .with("reason", Field::string().titled("Reason"))
        .with("time", Field::date_time().titled("Time"))
}

fn marketing_channel(title: &str) -> Field {
    let subscriber = ObjectField::new()
        .with("time", Field::date_time().titled("Time"))
        .with(
            "source",
            Field::string_length(None, Some(15)).titled("Source"),
        );
    let subscription = ObjectField::new()
        .with("val", consent_value())
        .with("type", Field::string_length(None, Some(15)).titled("Type"))
        .with(
            "subscribers",
            Field::map(Field::object(subscriber)).titled("Subscribers"),
        );
    let channel = consent().with(
        "subscriptions",
        Field::map(Field::object(subscription)).titled("Subscriptions"),
    );
    Field::object(channel).titled(title)
}

fn consents() -> Field {
    let mut marketing = ObjectField::new()
        .with(
            "preferred",
            Field::enumeration(PREFERRED_CHANNELS).titled("Preferred marketing channel"),
        )
        .with("any", Field::object(consent()).titled("Any marketing"));
    for channel in MARKETING_CHANNELS {
        marketing = marketing.with(channel, marketing_channel(channel));
    }

    let mut id_marketing = ObjectField::new();
    for channel in ["email", "push", "sms", "call"] {
        id_marketing = id_marketing.with(channel, Field::object(consent()).titled(channel));
    }
    let id_consent = ObjectField::new()
        .with(
            "adID",
            Field::object(ObjectField::new().with("val", consent_value()))
                .titled("Advertising identifier"),
        )
        .with("marketing", Field::object(id_marketing).titled("Marketing"));

    let single =
        |title: &str| Field::object(ObjectField::new().with("val", consent_value())).titled(title);
    let consents = ObjectField::new()
        .with("collect", single("Collect"))
        .with("share", single("Share"))
        .with(
            "personalize",
            Field::object(ObjectField::new().with("content", single("Content")))
                .titled("Personalize"),
        )
        .with("marketing", Field::object(marketing).titled("Marketing"))
        .with(
            "idSpecific",
            Field::map(Field::map(Field::object(id_consent)))
                .titled("Identity-specific consents")
                .described("Consents keyed by identity namespace, then identity value."),
        )
        .with(
            "metadata",
            Field::object(ObjectField::new().with("time", Field::date_time().titled("Time")))
                .titled("Metadata"),
        );
    Field::object(consents).titled("Consents and preferences")
}

fn loyalty() -> Field {
    let loyalty = ObjectField::new()
        .with(
            "loyaltyID",
            Field::array(Field::string()).titled("Loyalty identifiers"),
        )
        .with("tier", Field::string().titled("Tier"))
        .with("points", Field::number().titled("Points"))
        .with("lifetimePoints", Field::number().titled("Lifetime points"))
        .with("joinDate", Field::date_time().titled("Join date"))
        .with("status", Field::string().titled("Status"))
        .with("program", Field::string().titled("Program"))
        .with("expiryDate", Field::date_time().titled("Expiry date"));
    Field::object(loyalty).titled("Loyalty")
}

fn segment_membership() -> Field {
    let membership = ObjectField::new()
        .with(
            "status",
            Field::enumeration(&["realized", "existing", "exited"]).titled("Status"),
        )
        .with(
            "lastQualificationTime",
            Field::date_time().titled("Last qualification time"),
        )
        .with("validUntil", Field::date_time().titled("Valid until"));
    Field::map(Field::map(Field::object(membership)))
        .titled("Segment membership")
        .described("Memberships keyed by segment namespace, then segment id.")
}
