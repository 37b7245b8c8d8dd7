//! The table: PQL expressions over the fixtures with their expected result, covering every
//! construct and its edge cases.

use serde_json::Value;

use super::fixtures::{compile, fixture, ms, now};

/// An expected result: true, false, or the JSON value of a non-condition expression.
#[derive(Debug, Clone, Copy)]
pub enum Expect {
    T,
    F,
    V(&'static str),
}
use Expect::*;

/// (fixture, expression, expected) at [`super::fixtures::NOW`].
pub const TABLE: &[(&str, &str, Expect)] = &[
    // profile fields, references and literals
    ("vip", r#"homeAddress.countryCode = "US""#, T),
    ("lapsed", r#"homeAddress.countryCode = "US""#, F),
    ("empty", r#"homeAddress.countryCode = "US""#, F),
    ("vip", r#"homeAddress.countryCode != "US""#, F),
    ("empty", r#"homeAddress.countryCode != "US""#, F),
    ("lapsed", r#"homeAddress.countryCode != "US""#, T),
    ("vip", r#"$1.homeAddress.city = "San Francisco""#, T),
    ("vip", r#"(Profile) => Profile.person.name.firstName = "Alice""#, T),
    ("lapsed", r#"(P) => P.person.name.firstName = "Alice""#, F),
    ("vip", "person.birthYear = 1990", T),
    ("vip", "person.birthYear > 1989.5", T),
    ("vip", "loyalty.points = 1200.5", T),
    ("vip", "loyalty.points >= 1200", T),
    ("vip", "loyalty.points < 1200.4", F),
    ("vip", "_rapport.score = 87.0", T),
    ("vip", "_rapport.score <= -1", F),
    ("vip", r#"person.gender = "female""#, T),
    ("vip", "testProfile = false", T),
    ("vip", "testProfile = true", F),
    ("empty", "testProfile = false", F),
    ("empty", "person.name.middleName = null", T),
    ("vip", "person.name.lastName != null", T),
    ("optout", "person.name.lastName = null", T),
    ("optout", "null = person.name.lastName", T),
    ("vip", "person.birthDate = date(1990, 3, 15)", T),
    ("vip", r#"person.birthDate = "1990-03-15""#, T),
    ("vip", r#"person.birthDate < "1991-01-01""#, T),
    ("vip", r#""1991-01-01" > person.birthDate"#, T),
    ("vip", "loyalty.joinDate < date(2020, 1, 1)", T),
    ("vip", r#"loyalty.joinDate = "2019-06-01T02:00:00+02:00""#, T),
    ("vip", "loyalty.joinDate > date(2019, 6, 1, 0, 0, 0)", F),
    ("vip", "loyalty.joinDate >= date(2019, 6, 1, 0, 0, 0)", T),
    ("vip", r#"_id = "alice""#, T),
    // boolean logic, null as false
    ("vip", r#"homeAddress.countryCode = "US" and person.gender = "female""#, T),
    ("vip", r#"homeAddress.countryCode = "US" and person.gender = "male""#, F),
    ("lapsed", r#"homeAddress.countryCode = "US" or person.gender = "male""#, T),
    ("empty", r#"not (homeAddress.countryCode = "US")"#, T),
    ("vip", r#"!(homeAddress.countryCode = "US")"#, F),
    ("empty", r#"person.gender = "x" or not (person.gender = "x")"#, T),
    ("vip", "true and not (false)", T),
    ("vip", r#"if(person.birthYear > 1980, "young", "old") = "young""#, T),
    ("lapsed", r#"if(person.birthYear > 1980, "young", "old") = "old""#, T),
    ("vip", r#"if(loyalty.tier = "gold", loyalty.points, 0) > 1000"#, T),
    ("lapsed", r#"if(loyalty.tier = "gold", loyalty.points, 0) > 1000"#, F),
    // in / notIn
    ("vip", r#"homeAddress.countryCode in ["US", "CA"]"#, T),
    ("lapsed", r#"homeAddress.countryCode in ["US", "CA"]"#, T),
    ("abandon", r#"homeAddress.countryCode in ["US", "CA"]"#, F),
    ("empty", r#"homeAddress.countryCode in ["US", "CA"]"#, F),
    ("abandon", r#"homeAddress.countryCode notIn ["US", "CA"]"#, T),
    ("vip", r#"homeAddress.countryCode notIn ["US", "CA"]"#, F),
    ("empty", r#"homeAddress.countryCode notIn ["US", "CA"]"#, F),
    ("vip", "person.birthYear in [1985, 1990]", T),
    ("vip", "person.birthYear in [1985.0, 1990.0]", T),
    ("vip", r#"_rapport.tags in ["vip", "x"]"#, T),
    ("vip", r#"person.birthDate in ["1990-03-15", "2000-01-01"]"#, T),
    ("vip", r#""gold" in _rapport.tags"#, F),
    ("vip", r#""vip" in _rapport.tags"#, T),
    // like
    ("vip", r#"person.name.firstName like "Al%""#, T),
    ("vip", r#"person.name.firstName like "%ic%""#, T),
    ("vip", r#"person.name.firstName like "A_ice""#, T),
    ("vip", r#"person.name.firstName like "A_ce""#, F),
    ("vip", r#"person.name.firstName like "al%""#, F),
    ("vip", r#"person.name.firstName like "Alice""#, T),
    ("vip", r#"person.name.firstName like "%e""#, T),
    ("abandon", r#"person.name.firstName like "Chlo_""#, T),
    ("empty", r#"homeAddress.city like "%""#, F),
    // string methods
    ("vip", r#"person.name.firstName.equals("alice", false)"#, T),
    ("vip", r#"person.name.firstName.equals("alice")"#, F),
    ("vip", r#"person.name.firstName.equals("Alice", true)"#, T),
    ("vip", r#"person.name.lastName.notEqualTo("Jones")"#, T),
    ("lapsed", r#"person.name.lastName.notEqualTo("jones", false)"#, F),
    ("optout", r#"person.name.lastName.notEqualTo("Jones")"#, F),
    ("vip", r#"personalEmail.address.contains("@example")"#, T),
    ("abandon", r#"personalEmail.address.contains("@example", false)"#, T),
    ("abandon", r#"personalEmail.address.contains("@example")"#, F),
    ("vip", r#"personalEmail.address.doesNotContain("gmail")"#, T),
    ("empty", r#"personalEmail.address.doesNotContain("gmail")"#, F),
    ("vip", r#"person.name.lastName.startsWith("Sm")"#, T),
    ("vip", r#"person.name.lastName.startsWith("sm", false)"#, T),
    ("vip", r#"person.name.lastName.startsWith("sm")"#, F),
    ("vip", r#"person.name.lastName.doesNotStartWith("Sm")"#, F),
    ("vip", r#"person.name.lastName.endsWith("ith")"#, T),
    ("vip", r#"person.name.lastName.doesNotEndWith("son")"#, T),
    ("abandon", r#"person.name.firstName.equals("CHLOÉ", false)"#, T),
    ("vip", r#"homeAddress.city.endsWith("CISCO", false)"#, T),
    ("vip", r#"_rapport.tags.contains("news")"#, T),
    // regular expressions
    ("vip", r#"person.name.firstName.matches("(?i)^ali")"#, T),
    ("vip", r#"person.name.firstName.matches("^ali")"#, F),
    ("vip", r#"person.name.firstName.matches("lic")"#, T),
    ("vip", r#"personalEmail.address.matches("^[a-z]+@example\\.com$")"#, T),
    ("vip", r#"personalEmail.address.regexGroup("@(\\w+)", 1) = "example""#, T),
    ("vip", r#"personalEmail.address.regexGroup("(\\d+)", 1) = null"#, T),
    ("vip", r#"personalEmail.address.regexGroup("^(\\w+)@", 1)"#, V(r#""alice""#)),
    ("vip", r#"personalEmail.address.regexGroup("^(\\w+)@(\\w+)", 2)"#, V(r#""example""#)),
    // null tests
    ("vip", "person.name.isNotNull()", T),
    ("empty", "homeAddress.isNull()", T),
    ("optout", "person.name.lastName.isNull()", T),
    ("vip", "exists(loyalty.tier)", T),
    ("empty", "exists(loyalty.tier)", F),
    // arrays
    ("vip", r#"_rapport.tags.intersects(["vip", "gold"])"#, T),
    ("lapsed", r#"_rapport.tags.intersects(["vip"])"#, F),
    ("vip", r#"_rapport.tags.intersection(["vip", "gold", "newsletter"])"#, V(r#"["vip", "newsletter"]"#)),
    ("vip", r#"_rapport.tags.subsetOf(["vip", "newsletter", "x"])"#, T),
    ("vip", r#"_rapport.tags.subsetOf(["vip"])"#, F),
    ("vip", r#"_rapport.tags.supersetOf(["vip"])"#, T),
    ("vip", r#"_rapport.tags.supersetOf(["vip", "gold"])"#, F),
    ("vip", r#"_rapport.tags.includes("newsletter")"#, T),
    ("vip", r#"_rapport.tags.includes("gold")"#, F),
    ("vip", "_rapport.favoriteColors.distinct().count()", V("2")),
    ("vip", "_rapport.favoriteColors.distinct()", V(r#"["red", "green"]"#)),
    ("vip", "_rapport.favoriteColors.head()", V(r#""red""#)),
    ("vip", "_rapport.tags.count()", V("2")),
    ("empty", "_rapport.tags.count()", V("0")),
    ("empty", "_rapport.tags.head()", V("null")),
    ("vip", r#"loyalty.loyaltyID = "L2""#, T),
    ("vip", r#"_rapport.tags = ["vip", "newsletter"]"#, T),
    ("vip", r#"_rapport.tags != ["vip"]"#, T),
    ("vip", "xEvent.productListItems.SKU.distinct().count()", V("5")),
    ("vip", r#"_rapport.tags.filter((t) => t like "v%").count()"#, V("1")),
    ("vip", r#"_rapport.favoriteColors.map((c) => c + "!")"#, V(r#"["red!", "green!", "red!"]"#)),
    // maps and identities
    ("vip", r#"identityMap.get("Email").count() > 0"#, T),
    ("lapsed", r#"identityMap.get("Email").count() > 0"#, F),
    ("vip", r#"identityMap.get("ECID").id"#, V(r#"["123", "456"]"#)),
    ("vip", r#"identityMap.Email.id = "alice@example.com""#, T),
    ("vip", r#"identityMap.get("Email").primary = true"#, T),
    ("vip", r#"identityMap.keys().includes("ECID")"#, T),
    ("vip", "identityMap.values().count()", V("2")),
    ("vip", "identityMap.count()", V("2")),
    ("vip", r#"segmentMembership.get("ups").get("seg-gold").status = "realized""#, T),
    ("vip", r#"segmentMembership.get("ups").get("seg-old").status = "realized""#, F),
    ("vip", "segmentMembership.ups.keys().count() = 2", T),
    ("vip", r#"segmentMembership.get("ups").get("seg-gold").lastQualificationTime occurs this year"#, T),
    // arithmetic
    ("vip", "currentYear() - person.birthYear >= 34", T),
    ("vip", "currentYear() - person.birthYear", V("34")),
    ("vip", "loyalty.points * 2", V("2401.0")),
    ("vip", "person.birthYear / 10", V("199")),
    ("vip", "person.birthYear / 4", V("497.5")),
    ("vip", "person.birthYear % 7", V("2")),
    ("vip", "-(person.birthYear) + 2000", V("10")),
    ("vip", "(1 + 2) * 3 - 4 / 2", V("7")),
    ("vip", "person.birthYear / 0", V("null")),
    ("vip", "loyalty.points % 0", V("null")),
    ("vip", r#"person.name.firstName + " " + person.name.lastName"#, V(r#""Alice Smith""#)),
    ("empty", "person.birthYear + 1", V("null")),
    ("vip", "9223372036854775807 + 1 > 0", T),
    // dates and birthdays
    ("vip", "person.birthDate.getMonth() = currentMonth() and person.birthDate.getDayOfMonth() = currentDayOfMonth()", T),
    ("lapsed", "person.birthDate.getMonth() = currentMonth() and person.birthDate.getDayOfMonth() = currentDayOfMonth()", F),
    ("vip", "person.birthDate.getYear()", V("1990")),
    ("vip", "loyalty.joinDate.getMonth()", V("6")),
    ("vip", "currentDayOfMonth()", V("15")),
    ("vip", "now.getMonth()", V("3")),
    ("vip", "today.getDayOfMonth()", V("15")),
    ("abandon", "person.birthDate.getDayOfMonth()", V("29")),
    ("vip", "date(2024, 2, 29)", V(r#""2024-02-29T00:00:00Z""#)),
    ("vip", "date(2024, 2, 29, 13, 5, 9)", V(r#""2024-02-29T13:05:09Z""#)),
    ("vip", "date(currentYear(), 1, 1) < now", T),
    ("abandon", "person.birthDate occurs <= 25 years before now", T),
    ("abandon", "person.birthDate occurs > 18 years before now", T),
    ("vip", "person.birthDate occurs >= 34 years before now", T),
    ("vip", "person.birthDate occurs >= 35 years before now", F),
    ("vip", "person.birthDate < today", T),
    ("vip", "person.birthDate < now and loyalty.joinDate < now", T),
    ("vip", "now > today and today < tomorrow and yesterday < today", T),
    // occurs over events
    ("vip", "xEvent[timestamp occurs <= 7 days before now].count()", V("7")),
    ("vip", "xEvent[timestamp occurs < 7 days before now].count()", V("6")),
    ("vip", r#"xEvent[eventType = "commerce.purchases"].count()"#, V("5")),
    ("vip", r#"xEvent[eventType = "commerce.purchases" and timestamp occurs <= 7 days before now].count()"#, V("3")),
    ("vip", "xEvent[timestamp occurs >= 7 days before now].count()", V("3")),
    ("vip", "xEvent[timestamp occurs > 7 days before now].count()", V("2")),
    ("vip", "xEvent[timestamp occurs = 1 day before now].count()", V("1")),
    ("vip", "xEvent[timestamp occurs 5 days before now].count()", V("1")),
    ("vip", "xEvent[timestamp occurs != 5 days before now].count()", V("8")),
    ("vip", "xEvent[timestamp occurs today].count()", V("1")),
    ("vip", "xEvent[timestamp occurs on today].count()", V("1")),
    ("vip", "xEvent[timestamp occurs yesterday].count()", V("1")),
    ("vip", "xEvent[timestamp occurs tomorrow].count()", V("0")),
    ("vip", "xEvent[timestamp occurs before today].count()", V("8")),
    ("vip", "xEvent[timestamp occurs after yesterday].count()", V("1")),
    ("vip", "xEvent[timestamp occurs this week].count()", V("5")),
    ("vip", "xEvent[timestamp occurs last week].count()", V("2")),
    ("vip", "xEvent[timestamp occurs this month].count()", V("7")),
    ("vip", "xEvent[timestamp occurs last month].count()", V("1")),
    ("vip", "xEvent[timestamp occurs this year].count()", V("8")),
    ("vip", "xEvent[timestamp occurs last year].count()", V("1")),
    ("vip", "xEvent[timestamp occurs next month].count()", V("0")),
    ("vip", "xEvent[timestamp occurs this decade].count()", V("9")),
    ("vip", "xEvent[timestamp occurs on date(2024, 3, 12)].count()", V("2")),
    ("vip", "xEvent[timestamp occurs between date(2024, 3, 10) and date(2024, 3, 12)].count()", V("3")),
    ("vip", "xEvent[timestamp occurs between yesterday and now].count()", V("2")),
    ("vip", "xEvent[timestamp occurs after date(2024, 3, 13)].count()", V("2")),
    ("vip", "xEvent[timestamp occurs before date(2024, 1, 1)].count()", V("1")),
    ("vip", r#"xEvent[timestamp occurs on "2024-03-12"].count()"#, V("2")),
    ("vip", "xEvent[timestamp occurs < 2 hours after date(2024, 3, 12, 7, 0, 0)].count()", V("2")),
    ("vip", "xEvent[timestamp occurs <= 1 month before now].count()", V("8")),
    ("vip", "xEvent[timestamp occurs < 1 week before now].count()", V("6")),
    ("vip", "xEvent[timestamp occurs <= 24 hours before now].count()", V("1")),
    ("vip", "xEvent[timestamp occurs <= 1440 minutes before now].count()", V("1")),
    ("vip", "xEvent[timestamp occurs > 1 week after today].count()", V("0")),
    ("vip", "xEvent[timestamp occurs <= 2 days from yesterday].count()", V("2")),
    ("vip", "xEvent[timestamp occurs >= 3 days after date(2024, 3, 10)].count()", V("3")),
    ("vip", "xEvent[timestamp occurs = 1 day after date(2024, 3, 11)].count()", V("2")),
    ("vip", "xEvent[timestamp occurs <= 14400 seconds before now].count()", V("1")),
    ("vip", "xEvent[timestamp occurs < 14400000 milliseconds before now].count()", V("0")),
    ("vip", "xEvent[timestamp occurs <= 1 century before now].count()", V("9")),
    ("vip", "xEvent[timestamp > now].count() = 0", T),
    ("vip", "xEvent[timestamp >= today].count()", V("1")),
    ("vip", "xEvent[today <= timestamp].count()", V("1")),
    ("vip", "xEvent[timestamp < date(2024, 3, 1)].count()", V("2")),
    ("vip", "xEvent[timestamp < \"2024-03-01\"].count()", V("2")),
    ("vip", "xEvent[timestamp occurs after ^.loyalty.joinDate].count()", V("9")),
    // aggregations
    ("vip", r#"xEvent[eventType = "commerce.purchases"].sum(commerce.order.priceTotal)"#, V("820.0")),
    ("vip", "xEvent.sum(commerce.order.priceTotal)", V("820.0")),
    ("vip", r#"xEvent[eventType = "commerce.purchases"].average(commerce.order.priceTotal)"#, V("164.0")),
    ("vip", "xEvent.min(commerce.order.priceTotal)", V("50")),
    ("vip", "xEvent.max(commerce.order.priceTotal)", V("300")),
    ("empty", "xEvent.sum(commerce.order.priceTotal)", V("0")),
    ("empty", "xEvent.average(commerce.order.priceTotal)", V("null")),
    ("empty", "xEvent.max(commerce.order.priceTotal)", V("null")),
    ("empty", "xEvent.count()", V("0")),
    ("vip", "xEvent.count()", V("9")),
    ("vip", "xEvent.max(timestamp)", V(r#""2024-03-15T08:00:00Z""#)),
    ("vip", "xEvent.min(timestamp)", V(r#""2023-12-31T23:00:00Z""#)),
    ("vip", "xEvent.sum(productListItems.quantity)", V("10")),
    ("vip", "xEvent[timestamp occurs < 30 days before now].sum(commerce.order.priceTotal) > 400", T),
    ("vip", "xEvent.sum((e) => e.commerce.order.priceTotal)", V("820.0")),
    ("vip", "xEvent.productListItems.priceTotal.sum()", V("850.0")),
    ("vip", "[1, 2, 3.5].sum()", V("6.5")),
    ("vip", "[4, 1, 3].min() + [4, 1, 3].max()", V("5")),
    ("vip", r#"xEvent[eventType = "commerce.purchases"].topN(commerce.order.priceTotal, 1).head().commerce.order.priceTotal"#, V("300")),
    ("vip", r#"xEvent[eventType = "commerce.purchases"].bottomN(commerce.order.priceTotal, 2).count()"#, V("2")),
    ("vip", r#"xEvent[eventType = "commerce.purchases"].bottomN(commerce.order.priceTotal, 1).head()._id"#, V(r#""p5""#)),
    ("vip", r#"xEvent[eventType = "commerce.purchases"].head()._id"#, V(r#""p5""#)),
    ("vip", "xEvent.head().eventType", V(r#""commerce.purchases""#)),
    // nested filters and ^
    ("vip", r#"xEvent[productListItems[SKU = "SKU-3"]]"#, T),
    ("lapsed", r#"xEvent[productListItems[SKU = "SKU-3"]]"#, F),
    ("vip", r#"xEvent[productListItems[SKU = "SKU-1"]].count()"#, V("2")),
    ("vip", r#"xEvent[productListItems[SKU = "SKU-1" and priceTotal > 90]].count()"#, V("1")),
    ("vip", r#"xEvent[productListItems[SKU = "SKU-2" and ^.commerce.order.priceTotal > 100]].count()"#, V("1")),
    ("vip", r#"xEvent[productListItems[SKU = "SKU-9" or ^^.person.gender = "female"]].count()"#, V("8")),
    ("lapsed", r#"xEvent[productListItems[SKU = "SKU-9" or ^^.person.gender = "female"]].count()"#, V("0")),
    ("vip", r#"xEvent[^.person.gender = "female"].count()"#, V("9")),
    ("vip", r#"xEvent[productListItems.SKU = "SKU-9"].count()"#, V("3")),
    ("vip", r#"xEvent[productListItems[SKU = "SKU-9"]].count() = xEvent[productListItems.SKU = "SKU-9"].count()"#, T),
    ("vip", r#"xEvent[eventType = "commerce.purchases"][commerce.order.priceTotal > 100].count()"#, V("3")),
    ("empty", r#"xEvent[eventType = "commerce.purchases"]"#, F),
    ("vip", r#"xEvent[eventType = "web.webpagedetails.pageViews"].head().web.webPageDetails.name"#, V(r#""Home""#)),
    ("vip", r#"xEvent[environment.browserDetails.name.equals("chrome", false)].count() = 1"#, T),
    ("vip", r#"xEvent[productListItems.SKU.includes("SKU-2")]._id"#, V(r#"["p1", "p5"]"#)),
    // quantifiers and select
    ("vip", r#"exists E from xEvent where (E.eventType = "commerce.checkouts")"#, T),
    ("lapsed", r#"exists E from xEvent where (E.eventType = "commerce.checkouts")"#, F),
    ("vip", "forall E from xEvent where (E.timestamp occurs this year or E.timestamp occurs last year)", T),
    ("vip", r#"forall E from xEvent where (E.eventType = "commerce.purchases")"#, F),
    ("empty", r#"forall E from xEvent where (E.eventType = "x")"#, T),
    ("empty", r#"exists E from xEvent where (E.eventType = "x")"#, F),
    ("vip", "exists E from xEvent: (E.commerce.order.priceTotal > 250)", T),
    ("vip", r#"exists A from xEvent where (A.eventType = "commerce.productListAdds"), B from xEvent where (B.eventType = "commerce.purchases" and B.timestamp > A.timestamp)"#, T),
    ("vip", r#"exists A from xEvent where (A.eventType = "web.webpagedetails.pageViews"), B from xEvent where (B.eventType = "commerce.purchases" and B.timestamp > A.timestamp)"#, F),
    ("vip", r#"forall A from xEvent where (A.eventType != "x"), B from A.productListItems where (B.quantity >= 1)"#, T),
    ("vip", r#"select X from xEvent where X.eventType = "commerce.checkouts""#, T),
    ("abandon", r#"select X from xEvent where X.eventType = "commerce.checkouts""#, F),
    ("vip", "(select X from xEvent where X.commerce.order.priceTotal >= 100).count()", V("3")),
    ("vip", r#"exists E from xEvent where (E.productListItems[SKU = "SKU-4"])"#, T),
    ("vip", r#"exists T from _rapport.tags where (T = "vip")"#, T),
    // let
    ("vip", "let S = (xEvent.sum(commerce.order.priceTotal)) in (S > 100 and S < 1000)", T),
    ("lapsed", "let S = (xEvent.sum(commerce.order.priceTotal)) in (S > 100 and S < 1000)", F),
    ("vip", r#"let P = (xEvent[eventType = "commerce.purchases"]) in (P.count() = 5)"#, T),
    ("vip", r#"let N = (person.name) in (N.firstName = "Alice" and N.lastName = "Smith")"#, T),
    // chain
    ("vip", r#"chain(xEvent, timestamp, [A: WHAT(eventType = "commerce.productListAdds"), B: WHAT(eventType = "commerce.checkouts")])"#, T),
    ("vip", r#"chain(xEvent, timestamp, [A: WHAT(eventType = "commerce.checkouts"), B: WHAT(eventType = "commerce.productListAdds")])"#, F),
    ("vip", r#"chain(xEvent, timestamp, [A: WHAT(eventType = "commerce.productListAdds"), B: WHAT(eventType = "commerce.checkouts"), C: WHAT(eventType = "commerce.purchases")])"#, T),
    ("vip", r#"chain(xEvent, timestamp, [A: WHAT(eventType = "commerce.productViews"), B: WHAT(eventType = "commerce.productListAdds")])"#, F),
    ("vip", r#"CHAIN(xEvent, timestamp, [C0: WHAT(eventType.equals("COMMERCE.CHECKOUTS", false)) WHEN(<= 7 days before now)])"#, T),
    ("vip", r#"chain(xEvent, timestamp, [C0: WHAT(eventType = "commerce.checkouts") WHEN(today)])"#, F),
    ("abandon", r#"chain(xEvent, timestamp, [A: WHAT(eventType = "commerce.productViews") WHEN(today), B: WHAT(eventType = "commerce.productListAdds") WHEN(today)]) and not (xEvent[eventType = "commerce.purchases" and timestamp occurs today])"#, T),
    ("vip", r#"chain(xEvent, timestamp, [A: WHAT(eventType = "commerce.productViews") WHEN(today), B: WHAT(eventType = "commerce.productListAdds") WHEN(today)]) and not (xEvent[eventType = "commerce.purchases" and timestamp occurs today])"#, F),
    ("vip", r#"chain(xEvent, timestamp, [A: WHAT(eventType = "commerce.purchases"), B: WHAT(eventType = "commerce.purchases")])"#, T),
    ("lapsed", r#"chain(xEvent, timestamp, [A: WHAT(eventType = "commerce.purchases"), B: WHAT(eventType = "commerce.purchases")])"#, F),
    ("vip", r#"chain(xEvent[productListItems.SKU = "SKU-9"], timestamp, [A: WHAT(true), B: WHAT(true), C: WHAT(true)])"#, T),
    // segments of segments
    ("vip", r#"inSegment("seg-gold")"#, T),
    ("lapsed", r#"inSegment("seg-gold")"#, F),
    ("vip", r#"inSegment("seg-gold") and not (inSegment("seg-silver"))"#, T),
    // consents and support
    ("optout", r#"consents.marketing.email.val = "n""#, T),
    ("vip", r#"consents.marketing.email.val = "n""#, F),
    ("optout", "xEvent[support.satisfaction <= 2].count() = 1", T),
    ("optout", r#"xEvent[support.channel = "call" and timestamp occurs this month]"#, T),
    ("vip", r#"consents.marketing.email.val = "y" and xEvent[eventType = "commerce.purchases"].count() >= 5"#, T),
    // empty profile
    ("empty", "xEvent.count() = 0", T),
    ("empty", r#"person.name.firstName = "Eve""#, T),
    ("empty", "_rapport.tags.count() = 0", T),
    ("empty", r#"not (xEvent[eventType = "commerce.purchases"])"#, T),
    ("empty", "homeAddress.countryCode.isNull() and loyalty.points.isNull()", T),
    // layout
    ("vip", "homeAddress.countryCode = \"US\"\n  and person.gender = \"female\"", T),
];

/// (evaluation time, fixture, expression, expected): calendar edges.
pub const AT: &[(&str, &str, &str, Expect)] = &[
    // this / last month and year across a year boundary
    ("2024-01-10T12:00:00Z", "vip", "xEvent[timestamp occurs last month].count()", V("1")),
    ("2024-01-10T12:00:00Z", "vip", "xEvent[timestamp occurs this month].count()", V("0")),
    ("2024-01-10T12:00:00Z", "vip", "xEvent[timestamp occurs last year].count()", V("1")),
    ("2024-01-01T00:00:00Z", "vip", "xEvent[timestamp occurs yesterday].count()", V("1")),
    ("2024-01-01T00:00:00Z", "vip", "xEvent[timestamp occurs <= 1 day before now].count()", V("1")),
    ("2024-01-01T00:00:00Z", "vip", "xEvent[timestamp occurs last week].count()", V("1")),
    // leap-day birthdays
    ("2024-02-29T10:00:00Z", "abandon", "person.birthDate.getMonth() = currentMonth() and person.birthDate.getDayOfMonth() = currentDayOfMonth()", T),
    ("2023-02-28T10:00:00Z", "abandon", "person.birthDate.getMonth() = currentMonth() and person.birthDate.getDayOfMonth() = currentDayOfMonth()", F),
    ("2018-02-28T10:00:00Z", "abandon", "person.birthDate occurs >= 18 years before now", F),
    ("2018-03-01T00:00:00Z", "abandon", "person.birthDate occurs >= 18 years before now", T),
    // occurs exactly at the edge
    ("2024-03-15T08:00:00Z", "vip", "xEvent[timestamp occurs <= 0 days before now].count()", V("1")),
    ("2024-03-15T08:00:00Z", "vip", "xEvent[timestamp > now].count()", V("0")),
    ("2024-03-15T07:59:59.999Z", "vip", "xEvent[timestamp > now].count()", V("1")),
    ("2024-03-22T08:00:00Z", "vip", "xEvent[timestamp occurs <= 7 days before now].count()", V("1")),
    ("2024-03-22T08:00:00.001Z", "vip", "xEvent[timestamp occurs <= 7 days before now].count()", V("0")),
    ("2024-03-22T08:00:00Z", "vip", "xEvent[timestamp occurs < 7 days before now].count()", V("0")),
    ("2024-03-16T00:00:00Z", "vip", "xEvent[timestamp occurs today].count()", V("0")),
    ("2024-03-15T23:59:59.999Z", "vip", "xEvent[timestamp occurs today].count()", V("1")),
];

fn check(fixture_name: &str, pql: &str, expect: Expect, at: i64) -> Result<(), String> {
    let f = fixture(fixture_name);
    match expect {
        T | F => {
            let def = compile(pql).map_err(|e| format!("{pql}: {e}"))?;
            let outcome = f.eval(&def, at);
            let shared = f.with(|s| segments::evaluate_all([&def], s, at));
            if shared != [outcome] {
                return Err(format!(
                    "{fixture_name}: {pql}: evaluate_all gave {shared:?}, evaluate {outcome:?}"
                ));
            }
            let projected = f.projected_for(&def).eval(&def, at);
            if projected != outcome {
                return Err(format!(
                    "{fixture_name}: {pql}: on what its projections decode {projected:?}, on everything {outcome:?}"
                ));
            }
            let got = outcome.qualified;
            let want = matches!(expect, T);
            if got != want {
                return Err(format!("{fixture_name}: {pql}: expected {want}, got {got}"));
            }
        }
        V(json) => {
            let want: Value = serde_json::from_str(json).unwrap();
            let def = segments::compile_value(pql, &super::fixtures::ctx())
                .map_err(|e| format!("{pql}: {e}"))?;
            let got = f.with(|s| def.evaluate_value(s, at));
            let projected = f.projected_for(&def).with(|s| def.evaluate_value(s, at));
            if projected != got {
                return Err(format!(
                    "{fixture_name}: {pql}: on what its projections decode {projected}, on everything {got}"
                ));
            }
            if got != want {
                return Err(format!("{fixture_name}: {pql}: expected {want}, got {got}"));
            }
        }
    }
    Ok(())
}

#[test]
fn table_is_large_enough() {
    assert!(TABLE.len() + AT.len() >= 170, "{}", TABLE.len() + AT.len());
}

#[test]
fn every_expression_gives_its_expected_result() {
    let mut failures = Vec::new();
    for (name, pql, expect) in TABLE {
        if let Err(e) = check(name, pql, *expect, now()) {
            failures.push(e);
        }
    }
    for (at, name, pql, expect) in AT {
        if let Err(e) = check(name, pql, *expect, ms(at)) {
            failures.push(format!("at {at}: {e}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn conditions_compile_from_pql_json_too() {
    for (_, pql, expect) in TABLE {
        if matches!(expect, V(_)) {
            continue;
        }
        let parsed = pql::parse(pql).unwrap();
        let json = pql::to_pql_json(&parsed);
        let back = pql::from_pql_json(&json).unwrap();
        let a = compile(pql).unwrap();
        let b = segments::compile_expr(&back, &super::fixtures::ctx()).unwrap();
        let f = super::fixtures::vip();
        assert_eq!(f.eval(&a, now()), f.eval(&b, now()), "{pql}");
    }
}
