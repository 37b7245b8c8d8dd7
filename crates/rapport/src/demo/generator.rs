//! The demo retailer's data, generated from a seed: customers with CRM and loyalty records, their
//! devices and web and app sessions, email campaigns and call-center contacts, and a cast of hard
//! cases placed on purpose.
//!
//! Pure and deterministic. Every customer is generated on its own from `(seed, index)` with a
//! small self-contained PRNG (splitmix64), so the same seed gives the same records, any range of
//! customers can be generated alone (streaming, in parallel, never all in memory), and nothing
//! depends on the clock: the simulated year of history ends at [`HISTORY_END_MS`].
//!
//! Distributions are skewed the way a retailer's are: order counts follow a Pareto law (most
//! customers buy rarely or not at all this year, a few buy often), browsing and email engagement
//! are log-normal, and so is spend.

use std::ops::Range;

use serde_json::{json, Map, Value};

/// The end of the simulated history: 2026-11-01T00:00:00Z.
pub const HISTORY_END_MS: i64 = 1_793_491_200_000;
pub const DAY_MS: i64 = 86_400_000;
const HOUR_MS: i64 = 3_600_000;
const MINUTE_MS: i64 = 60_000;
/// The start of the simulated year of events: 2025-11-01T00:00:00Z.
pub const HISTORY_START_MS: i64 = HISTORY_END_MS - 365 * DAY_MS;

/// Fewer customers than this leave no room for the cast of hard cases.
pub const MIN_CUSTOMERS: u64 = 20;
/// The fictional retailer.
pub const RETAILER: &str = "Cascade Outfitters";
const SITE: &str = "https://www.cascade-outfitters.example";
const LOYALTY_PROGRAM: &str = "Cascade Rewards";

/// The email the corrected-email customer first gave (a typo in the domain).
pub const MISTYPED_EMAIL: &str = "jon.smith@exmaple.com";
/// The same customer's email after the CRM corrected it.
pub const CORRECTED_EMAIL: &str = "jon.smith@example.com";
/// The placeholder email two customers gave at the register; it must never link them.
pub const PLACEHOLDER_EMAIL: &str = "test@test.com";
/// How many cookies (ECIDs) the over-limit customer collects: more than the graph limit (50).
pub const OVER_LIMIT_DEVICES: u64 = 60;
/// The email of the customer whose CRM and loyalty records disagree.
pub const DISAGREEING_EMAIL: &str = "maria.garcia@example.com";

/// The demo's datasets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DemoDataset {
    Crm,
    Loyalty,
    WebAndApp,
    Email,
    CallCenter,
}

impl DemoDataset {
    pub const ALL: [DemoDataset; 5] = [
        DemoDataset::Crm,
        DemoDataset::Loyalty,
        DemoDataset::WebAndApp,
        DemoDataset::Email,
        DemoDataset::CallCenter,
    ];

    /// The dataset's name in the catalog.
    pub fn name(self) -> &'static str {
        match self {
            DemoDataset::Crm => "CRM Customers",
            DemoDataset::Loyalty => "Loyalty Program",
            DemoDataset::WebAndApp => "Web and App Events",
            DemoDataset::Email => "Email Campaign Events",
            DemoDataset::CallCenter => "Call Center Interactions",
        }
    }

    /// The file name without extension, for `--out`.
    pub fn file_stem(self) -> &'static str {
        match self {
            DemoDataset::Crm => "crm-customers",
            DemoDataset::Loyalty => "loyalty-program",
            DemoDataset::WebAndApp => "web-and-app-events",
            DemoDataset::Email => "email-campaign-events",
            DemoDataset::CallCenter => "call-center-interactions",
        }
    }

    /// Its position in [`DemoDataset::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// Profile records (as opposed to experience events).
    pub fn is_profile(self) -> bool {
        matches!(self, DemoDataset::Crm | DemoDataset::Loyalty)
    }
}

/// One generated record: its dataset, the simulated time it happened (an event's timestamp, a
/// profile record's `extSourceSystemAudit.lastUpdatedDate`) and the XDM record itself.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub dataset: DemoDataset,
    pub at_ms: i64,
    pub value: Value,
}

// ---------------------------------------------------------------------------------------------
// Randomness

/// splitmix64's finalizer: a good 64-bit mixing function.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A splitmix64 generator with helpers for the distributions the demo needs.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(mix(seed ^ 0x5eed_5eed_5eed_5eed))
    }

    /// An independent generator for one stream (persona, activity, ...) of one customer.
    pub fn stream(seed: u64, stream: u64, index: u64) -> Rng {
        Rng(mix(mix(seed)
            ^ mix(
                stream.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ mix(index)
            )))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix(self.0)
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in `[0, n)` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `[low, high)` (`low` when the range is empty).
    pub fn between(&mut self, low: i64, high: i64) -> i64 {
        if high <= low {
            return low;
        }
        low + self.below((high - low) as u64) as i64
    }

    pub fn chance(&mut self, probability: f64) -> bool {
        self.unit() < probability
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// Picks by weight; items are `(item, weight)`.
    pub fn weighted<'a, T>(&mut self, items: &'a [(T, u32)]) -> &'a T {
        let total: u64 = items.iter().map(|(_, w)| u64::from(*w)).sum();
        let mut roll = self.below(total);
        for (item, weight) in items {
            if roll < u64::from(*weight) {
                return item;
            }
            roll -= u64::from(*weight);
        }
        &items[items.len() - 1].0
    }

    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.unit();
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// Log-normal with the given median and shape (sigma of the underlying normal).
    pub fn lognormal(&mut self, median: f64, sigma: f64) -> f64 {
        median * (sigma * self.normal()).exp()
    }

    /// Pareto by inverse transform: at least `scale`, `P(X > x) = (scale / x)^shape`.
    pub fn pareto(&mut self, scale: f64, shape: f64) -> f64 {
        scale / (1.0 - self.unit()).powf(1.0 / shape)
    }
}

// ---------------------------------------------------------------------------------------------
// Time

/// `YYYY-MM-DDTHH:MM:SSZ` of epoch milliseconds (to the second).
pub fn iso(epoch_ms: i64) -> String {
    let seconds = epoch_ms.div_euclid(1000);
    let (year, month, day) = civil_from_days(seconds.div_euclid(86_400));
    let of_day = seconds.rem_euclid(86_400);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60
    )
}

/// `YYYY-MM-DD` of epoch milliseconds.
fn date(epoch_ms: i64) -> String {
    let (year, month, day) = civil_from_days(epoch_ms.div_euclid(DAY_MS));
    format!("{year:04}-{month:02}-{day:02}")
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * shifted_month + 2) / 5 + 1) as u32;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Rounds to the second, so `at_ms` and the formatted timestamp agree.
fn whole_second(ms: i64) -> i64 {
    ms - ms.rem_euclid(1000)
}

fn cents(amount: f64) -> f64 {
    (amount * 100.0).round() / 100.0
}

// ---------------------------------------------------------------------------------------------
// Reference data

const FIRST_NAMES: &[(&str, &str)] = &[
    ("James", "male"),
    ("Mary", "female"),
    ("Robert", "male"),
    ("Patricia", "female"),
    ("John", "male"),
    ("Jennifer", "female"),
    ("Michael", "male"),
    ("Linda", "female"),
    ("David", "male"),
    ("Elizabeth", "female"),
    ("William", "male"),
    ("Barbara", "female"),
    ("Richard", "male"),
    ("Susan", "female"),
    ("Joseph", "male"),
    ("Jessica", "female"),
    ("Thomas", "male"),
    ("Sarah", "female"),
    ("Christopher", "male"),
    ("Karen", "female"),
    ("Daniel", "male"),
    ("Margaret", "female"),
    ("Matthew", "male"),
    ("Emily", "female"),
    ("Anthony", "male"),
    ("Katherine", "female"),
    ("Andrew", "male"),
    ("Olivia", "female"),
    ("Joshua", "male"),
    ("Sophia", "female"),
    ("Benjamin", "male"),
    ("Isabella", "female"),
    ("Samuel", "male"),
    ("Victoria", "female"),
    ("Nicholas", "male"),
    ("Aiko", "female"),
    ("Wei", "male"),
    ("Priya", "female"),
    ("Arjun", "male"),
    ("Fatima", "female"),
    ("Omar", "male"),
    ("Lucia", "female"),
    ("Mateo", "male"),
    ("Amara", "female"),
    ("Kwame", "male"),
    ("Ingrid", "female"),
    ("Lars", "male"),
    ("Yara", "female"),
    ("Diego", "male"),
    ("Hana", "female"),
    ("Alex", "not_specified"),
    ("Jordan", "not_specified"),
    ("Taylor", "not_specified"),
    ("Riley", "not_specified"),
];

const LAST_NAMES: &[&str] = &[
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Nguyen",
    "Tanaka",
    "Chen",
    "Patel",
    "Sharma",
    "Haddad",
    "Okafor",
    "Mensah",
    "Larsen",
    "Novak",
    "Rossi",
    "Silva",
    "Kowalski",
    "Murphy",
    "O'Brien",
];

/// Nicknames a loyalty sign-up form may hold instead of the CRM's first name.
const NICKNAMES: &[(&str, &str)] = &[
    ("Robert", "Bob"),
    ("William", "Will"),
    ("Elizabeth", "Liz"),
    ("Katherine", "Kate"),
    ("Michael", "Mike"),
    ("Jennifer", "Jen"),
    ("Daniel", "Dan"),
    ("Margaret", "Maggie"),
    ("Christopher", "Chris"),
    ("Samuel", "Sam"),
    ("Thomas", "Tom"),
    ("Jessica", "Jess"),
    ("Andrew", "Andy"),
    ("Nicholas", "Nick"),
    ("Patricia", "Pat"),
    ("Joseph", "Joe"),
    ("Benjamin", "Ben"),
    ("Victoria", "Vicky"),
    ("Matthew", "Matt"),
    ("Anthony", "Tony"),
];

/// City, state or province, postal code prefix, country code.
type City = (&'static str, &'static str, &'static str, &'static str);

/// Cities, weighted by size.
const CITIES: &[(City, u32)] = &[
    (("Seattle", "WA", "981", "US"), 12),
    (("Portland", "OR", "972", "US"), 9),
    (("San Francisco", "CA", "941", "US"), 9),
    (("Los Angeles", "CA", "900", "US"), 14),
    (("San Diego", "CA", "921", "US"), 7),
    (("Denver", "CO", "802", "US"), 10),
    (("Boulder", "CO", "803", "US"), 4),
    (("Salt Lake City", "UT", "841", "US"), 6),
    (("Boise", "ID", "837", "US"), 3),
    (("Phoenix", "AZ", "850", "US"), 8),
    (("Austin", "TX", "787", "US"), 9),
    (("Dallas", "TX", "752", "US"), 8),
    (("Chicago", "IL", "606", "US"), 12),
    (("Minneapolis", "MN", "554", "US"), 6),
    (("Madison", "WI", "537", "US"), 3),
    (("Atlanta", "GA", "303", "US"), 7),
    (("Asheville", "NC", "288", "US"), 3),
    (("Boston", "MA", "021", "US"), 9),
    (("Burlington", "VT", "054", "US"), 2),
    (("New York", "NY", "100", "US"), 15),
    (("Philadelphia", "PA", "191", "US"), 7),
    (("Washington", "DC", "200", "US"), 6),
    (("Anchorage", "AK", "995", "US"), 2),
    (("Vancouver", "BC", "V6B", "CA"), 6),
    (("Toronto", "ON", "M5V", "CA"), 7),
    (("Calgary", "AB", "T2P", "CA"), 4),
];

const STREETS: &[&str] = &[
    "Maple Ave",
    "Oak St",
    "Pine St",
    "Cedar Ln",
    "Elm St",
    "Willow Way",
    "Lakeview Dr",
    "Summit Rd",
    "Ridge Rd",
    "River Rd",
    "Park Ave",
    "Hillside Dr",
    "Aspen Ct",
    "Birch Pl",
    "Forest Ave",
    "Meadow Ln",
    "Canyon Rd",
    "Harbor Blvd",
    "Sunset Blvd",
    "Main St",
    "2nd Ave",
    "Juniper St",
    "Alder Way",
    "Granite Ct",
];

/// Phone area codes; a customer's number is unique by construction (see `phone_number`).
const AREA_CODES: &[u32] = &[
    206, 253, 360, 425, 503, 971, 415, 510, 213, 310, 619, 303, 720, 801, 208, 602, 512, 214, 312,
    773, 612, 608, 404, 828, 617, 802, 212, 646, 215, 202, 907, 604, 416, 403, 201, 718, 347, 929,
    917, 332,
];

const EMAIL_DOMAINS: &[(&str, u32)] = &[
    ("example.com", 45),
    ("example.net", 30),
    ("example.org", 20),
    ("mail.example", 5),
];

/// Placeholder values a few customers type at the register: refused by the default block list.
const PLACEHOLDER_EMAILS: &[&str] = &["test@test.com", "noemail@example.com", "none@none.com"];
const PLACEHOLDER_PHONES: &[&str] = &["0000000000", "1111111111"];

const TIERS: &[&str] = &["bronze", "silver", "gold", "platinum"];

/// SKU, name, category id, category name, price (USD).
struct Product {
    sku: &'static str,
    name: &'static str,
    category: usize,
    price: f64,
}

/// Category id, name, site section, URL path.
const CATEGORIES: &[(&str, &str, &str)] = &[
    ("cat-footwear", "Footwear", "footwear"),
    ("cat-jackets", "Jackets", "jackets"),
    ("cat-packs", "Packs", "packs"),
    ("cat-camping", "Camping", "camping"),
    ("cat-climbing", "Climbing", "climbing"),
    ("cat-accessories", "Accessories", "accessories"),
];

const PRODUCTS: &[(Product, u32)] = &[
    (p("FW-1001", "Trailblazer Running Shoes", 0, 129.00), 9),
    (p("FW-1002", "Summit Hiking Boots", 0, 189.00), 7),
    (p("FW-1003", "Riverbed Water Sandals", 0, 59.00), 5),
    (p("FW-1004", "Alpine Mountaineering Boots", 0, 349.00), 1),
    (p("FW-1005", "Merino Hiking Socks (3 pack)", 0, 34.00), 10),
    (p("JK-2001", "Storm Shell Rain Jacket", 1, 249.00), 6),
    (p("JK-2002", "Featherlite Down Jacket", 1, 279.00), 5),
    (p("JK-2003", "Ridgeline Fleece", 1, 89.00), 8),
    (p("JK-2004", "Expedition Parka", 1, 549.00), 1),
    (p("JK-2005", "Packable Wind Shell", 1, 119.00), 5),
    (p("PK-3001", "Daypack 24L", 2, 99.00), 8),
    (p("PK-3002", "Backcountry Pack 55L", 2, 279.00), 3),
    (p("PK-3003", "Hydration Vest 8L", 2, 129.00), 4),
    (p("PK-3004", "Commuter Sling", 2, 49.00), 6),
    (p("CP-4001", "Two-Person Backpacking Tent", 3, 399.00), 3),
    (p("CP-4002", "Family Cabin Tent", 3, 629.00), 1),
    (p("CP-4003", "20-Degree Down Sleeping Bag", 3, 329.00), 3),
    (p("CP-4004", "Insulated Sleeping Pad", 3, 149.00), 4),
    (p("CP-4005", "Camp Stove Kit", 3, 89.00), 5),
    (p("CP-4006", "Folding Camp Chair", 3, 59.00), 6),
    (p("CL-5001", "Harness", 4, 79.00), 2),
    (p("CL-5002", "Dynamic Rope 60m", 4, 219.00), 1),
    (p("CL-5003", "Chalk Bag", 4, 24.00), 3),
    (p("CL-5004", "Bouldering Shoes", 4, 149.00), 2),
    (p("AC-6001", "Insulated Bottle 750ml", 5, 29.00), 12),
    (p("AC-6002", "Headlamp 400", 5, 45.00), 9),
    (p("AC-6003", "Trekking Poles", 5, 119.00), 4),
    (p("AC-6004", "Sun Hoodie", 5, 65.00), 6),
    (p("AC-6005", "Trail Gaiters", 5, 39.00), 4),
    (p("AC-6006", "GPS Watch", 5, 399.00), 2),
];

const fn p(sku: &'static str, name: &'static str, category: usize, price: f64) -> Product {
    Product {
        sku,
        name,
        category,
        price,
    }
}

/// Who receives a campaign.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Audience {
    Subscribers,
    Members,
    Lapsed,
}

/// Campaign id, name, group, day of the simulated year it was sent, audience.
const CAMPAIGNS: &[(&str, &str, &str, i64, Audience)] = &[
    (
        "cmp-2025-black-friday",
        "Black Friday Early Access",
        "holiday",
        19,
        Audience::Subscribers,
    ),
    (
        "cmp-2025-cyber-monday",
        "Cyber Monday: 25% Off Packs",
        "holiday",
        30,
        Audience::Subscribers,
    ),
    (
        "cmp-2025-gift-guide",
        "Holiday Gift Guide",
        "holiday",
        37,
        Audience::Subscribers,
    ),
    (
        "cmp-2026-new-trails",
        "New Year, New Trails",
        "seasonal",
        65,
        Audience::Subscribers,
    ),
    (
        "cmp-2026-winter-clearance",
        "Winter Clearance",
        "promotion",
        86,
        Audience::Subscribers,
    ),
    (
        "cmp-2026-spring-hiking",
        "Spring Hiking Collection",
        "seasonal",
        135,
        Audience::Subscribers,
    ),
    (
        "cmp-2026-trail-running",
        "Trail Running Week",
        "seasonal",
        170,
        Audience::Subscribers,
    ),
    (
        "cmp-2026-summer-camping",
        "Summer Camping Essentials",
        "seasonal",
        212,
        Audience::Subscribers,
    ),
    (
        "cmp-2026-double-points",
        "Rewards Double Points Week",
        "loyalty",
        254,
        Audience::Members,
    ),
    (
        "cmp-2026-back-to-school",
        "Back to School Packs",
        "promotion",
        289,
        Audience::Subscribers,
    ),
    (
        "cmp-2026-fall-layers",
        "Fall Layers",
        "seasonal",
        324,
        Audience::Subscribers,
    ),
    (
        "cmp-2026-we-miss-you",
        "We Miss You: 15% Off",
        "win-back",
        345,
        Audience::Lapsed,
    ),
];

/// Reason, whether it follows an order, outcome weights
/// (resolved, escalated, unresolved, callback_scheduled, transferred).
const SUPPORT_REASONS: &[(&str, bool, [u32; 5])] = &[
    ("Where is my order?", true, [80, 4, 6, 5, 5]),
    ("Return or exchange", true, [75, 4, 4, 12, 5]),
    ("Damaged item", true, [55, 25, 5, 10, 5]),
    ("Wrong size", true, [82, 2, 2, 9, 5]),
    ("Refund status", true, [60, 15, 10, 10, 5]),
    ("Product question", false, [85, 2, 5, 3, 5]),
    ("Account or login help", false, [80, 5, 6, 4, 5]),
    ("Billing question", false, [65, 10, 10, 10, 5]),
    ("Loyalty points question", false, [70, 10, 10, 5, 5]),
];
const OUTCOMES: [&str; 5] = [
    "resolved",
    "escalated",
    "unresolved",
    "callback_scheduled",
    "transferred",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DeviceKind {
    Desktop,
    PhoneApp,
    PhoneWeb,
    Tablet,
}

/// What a device looks like in events.
struct DeviceModel {
    kind: DeviceKind,
    os: &'static str,
    browser: Option<&'static str>,
    manufacturer: &'static str,
    model: &'static str,
}

const DEVICE_MODELS: &[(DeviceModel, u32)] = &[
    (
        d(
            DeviceKind::Desktop,
            "Windows",
            Some("Chrome"),
            "Dell",
            "XPS 13",
        ),
        16,
    ),
    (
        d(
            DeviceKind::Desktop,
            "Windows",
            Some("Edge"),
            "Lenovo",
            "ThinkPad T14",
        ),
        6,
    ),
    (
        d(
            DeviceKind::Desktop,
            "macOS",
            Some("Safari"),
            "Apple",
            "MacBook Air",
        ),
        10,
    ),
    (
        d(
            DeviceKind::Desktop,
            "macOS",
            Some("Chrome"),
            "Apple",
            "iMac",
        ),
        6,
    ),
    (
        d(DeviceKind::PhoneApp, "iOS", None, "Apple", "iPhone 15"),
        14,
    ),
    (
        d(
            DeviceKind::PhoneApp,
            "Android",
            None,
            "Samsung",
            "Galaxy S24",
        ),
        9,
    ),
    (
        d(DeviceKind::PhoneApp, "Android", None, "Google", "Pixel 8"),
        4,
    ),
    (
        d(
            DeviceKind::PhoneWeb,
            "iOS",
            Some("Safari"),
            "Apple",
            "iPhone 14",
        ),
        12,
    ),
    (
        d(
            DeviceKind::PhoneWeb,
            "Android",
            Some("Chrome"),
            "Samsung",
            "Galaxy A54",
        ),
        9,
    ),
    (
        d(
            DeviceKind::Tablet,
            "iPadOS",
            Some("Safari"),
            "Apple",
            "iPad",
        ),
        6,
    ),
    (
        d(
            DeviceKind::Tablet,
            "Android",
            Some("Chrome"),
            "Samsung",
            "Galaxy Tab S9",
        ),
        2,
    ),
];

const fn d(
    kind: DeviceKind,
    os: &'static str,
    browser: Option<&'static str>,
    manufacturer: &'static str,
    model: &'static str,
) -> DeviceModel {
    DeviceModel {
        kind,
        os,
        browser,
        manufacturer,
        model,
    }
}

/// Index of the iPad in `DEVICE_MODELS`: the family tablet.
const FAMILY_TABLET_MODEL: usize = 9;

/// Relative weights of the hour of day (UTC) sessions start at.
const HOUR_WEIGHTS: &[(i64, u32)] = &[
    (0, 5),
    (1, 4),
    (2, 3),
    (3, 2),
    (4, 1),
    (5, 1),
    (6, 1),
    (7, 1),
    (8, 1),
    (9, 1),
    (10, 1),
    (11, 2),
    (12, 2),
    (13, 3),
    (14, 4),
    (15, 5),
    (16, 6),
    (17, 6),
    (18, 6),
    (19, 6),
    (20, 6),
    (21, 6),
    (22, 7),
    (23, 7),
];

// ---------------------------------------------------------------------------------------------
// The cast of hard cases

/// What part a customer plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Regular,
    /// Logs in on the family tablet first (and keeps their CRM data when it moves on).
    TabletEarlier,
    /// Logs in on the family tablet later: the tablet follows them.
    TabletLater,
    /// Gave a mistyped email, corrected in a newer CRM record.
    CorrectedEmail,
    /// Gave `test@test.com`.
    PlaceholderEmail,
    /// Also gave `test@test.com`: the two must stay two profiles.
    SecondPlaceholder,
    /// Whose email reached the CRM as the text `null`.
    NullEmail,
    /// Collects more cookies than the graph limit allows.
    OverLimit,
    /// Whose loyalty record disagrees with the CRM, and is newer.
    Disagreeing,
    /// Buys far more often than anyone.
    FrequentBuyer,
}

/// Which customer index plays each hard case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cast {
    pub tablet_earlier: u64,
    pub tablet_later: u64,
    pub corrected_email: u64,
    pub placeholder_email: u64,
    pub second_placeholder: u64,
    pub null_email: u64,
    pub over_limit: u64,
    pub disagreeing: u64,
    pub frequent_buyer: u64,
}

impl Cast {
    fn choose(seed: u64, customers: u64) -> Cast {
        let mut rng = Rng::stream(seed, 0xCA57, 0);
        let mut chosen: Vec<u64> = Vec::with_capacity(9);
        while chosen.len() < 9 {
            let index = rng.below(customers);
            if !chosen.contains(&index) {
                chosen.push(index);
            }
        }
        // The later tablet user comes later in the files too, so that loading the files in
        // order (where ingestion time decides) tells the same story.
        let (earlier, later) = (chosen[0].min(chosen[1]), chosen[0].max(chosen[1]));
        Cast {
            tablet_earlier: earlier,
            tablet_later: later,
            corrected_email: chosen[2],
            placeholder_email: chosen[3],
            second_placeholder: chosen[4],
            null_email: chosen[5],
            over_limit: chosen[6],
            disagreeing: chosen[7],
            frequent_buyer: chosen[8],
        }
    }

    pub fn role(&self, index: u64) -> Role {
        match index {
            i if i == self.tablet_earlier => Role::TabletEarlier,
            i if i == self.tablet_later => Role::TabletLater,
            i if i == self.corrected_email => Role::CorrectedEmail,
            i if i == self.placeholder_email => Role::PlaceholderEmail,
            i if i == self.second_placeholder => Role::SecondPlaceholder,
            i if i == self.null_email => Role::NullEmail,
            i if i == self.over_limit => Role::OverLimit,
            i if i == self.disagreeing => Role::Disagreeing,
            i if i == self.frequent_buyer => Role::FrequentBuyer,
            _ => Role::Regular,
        }
    }
}

/// A customer worth looking up after loading, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interesting {
    /// What is special, in a few words.
    pub label: String,
    /// What to look for in the answers.
    pub look_for: String,
    pub namespace: String,
    pub id: String,
}

// ---------------------------------------------------------------------------------------------
// Customers

/// A postal address.
#[derive(Debug, Clone, PartialEq)]
pub struct Address {
    pub street: String,
    pub city: &'static str,
    pub state: &'static str,
    pub postal_code: String,
    pub country_code: &'static str,
}

impl Address {
    fn random(rng: &mut Rng) -> Address {
        let (city, state, postal, country) = *rng.weighted(CITIES);
        let street = format!("{} {}", 1 + rng.below(9899), rng.pick(STREETS));
        let postal_code = if country == "CA" {
            let letter = |rng: &mut Rng| (b'A' + rng.below(26) as u8) as char;
            format!("{postal} {}{}{}", rng.below(10), letter(rng), rng.below(10))
        } else {
            format!("{postal}{:02}", rng.below(100))
        };
        Address {
            street,
            city,
            state,
            postal_code,
            country_code: country,
        }
    }

    fn to_json(&self) -> Value {
        json!({
            "street1": self.street,
            "city": self.city,
            "stateProvince": self.state,
            "postalCode": self.postal_code,
            "countryCode": self.country_code,
            "country": if self.country_code == "CA" { "Canada" } else { "United States" },
        })
    }
}

/// Who a customer is: what the CRM knows, derived from `(seed, index)` alone.
#[derive(Debug, Clone, PartialEq)]
pub struct Persona {
    pub index: u64,
    pub role: Role,
    pub crm_id: String,
    pub first_name: &'static str,
    pub last_name: &'static str,
    pub gender: &'static str,
    /// The email in the CRM today; may be a placeholder.
    pub email: String,
    /// The email is a placeholder: no campaigns reach it.
    pub placeholder_email: bool,
    pub phone: String,
    pub birth_date: String,
    pub address: Address,
    pub language: &'static str,
    /// When the customer was created in the CRM.
    pub since_ms: i64,
    pub loyalty_id: Option<String>,
    pub email_consent: bool,
    pub sms_consent: bool,
    pub call_consent: bool,
}

/// A customer's device: one ECID.
struct Device {
    ecid: String,
    model: &'static DeviceModel,
}

/// One order, kept to generate support contacts about it.
struct Order {
    purchase_id: String,
    at_ms: i64,
}

/// A planned web or app session.
struct Plan {
    device: usize,
    start_ms: i64,
    login: Login,
    order: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Login {
    Never,
    /// At some point before checkout (or anywhere in a browsing session).
    Sometime,
    FromStart,
}

/// One step of a session.
enum Step {
    Launch,
    Page(usize),
    Home,
    Product(usize),
    Add(usize, u32),
    Checkout,
    Purchase,
}

/// When the corrected-email customer joined (with the typo) and when the CRM corrected it.
const TYPO_JOINED_MS: i64 = HISTORY_START_MS + 45 * DAY_MS + 15 * HOUR_MS;
const TYPO_CORRECTED_MS: i64 = HISTORY_START_MS + 160 * DAY_MS + 10 * HOUR_MS;

/// The demo retailer's generator for one seed and size.
#[derive(Debug, Clone)]
pub struct Generator {
    seed: u64,
    customers: u64,
    cast: Cast,
}

const STREAM_PERSONA: u64 = 1;
const STREAM_ACTIVITY: u64 = 2;

impl Generator {
    pub fn new(seed: u64, customers: u64) -> anyhow::Result<Generator> {
        anyhow::ensure!(
            customers >= MIN_CUSTOMERS,
            "the demo needs at least {MIN_CUSTOMERS} customers (asked for {customers})"
        );
        anyhow::ensure!(
            customers <= 100_000_000,
            "the demo generates at most 100,000,000 customers (asked for {customers})"
        );
        Ok(Generator {
            seed,
            customers,
            cast: Cast::choose(seed, customers),
        })
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    pub fn customers(&self) -> u64 {
        self.customers
    }

    pub fn cast(&self) -> &Cast {
        &self.cast
    }

    /// Every record of the customers in `range`, customer by customer, each customer's records
    /// in the order they must be loaded (a corrected CRM record after the one it corrects).
    pub fn for_each_record(&self, range: Range<u64>, mut emit: impl FnMut(u64, Record)) {
        let mut buffer = Vec::new();
        for index in range.start..range.end.min(self.customers) {
            self.customer(index, &mut buffer);
            for record in buffer.drain(..) {
                emit(index, record);
            }
        }
    }

    /// An iterator over every record of the customers in `range` (see `for_each_record`).
    pub fn records(&self, range: Range<u64>) -> impl Iterator<Item = Record> + '_ {
        let end = range.end.min(self.customers);
        let mut next = range.start;
        let mut buffer: std::collections::VecDeque<Record> = Default::default();
        let mut scratch = Vec::new();
        std::iter::from_fn(move || loop {
            if let Some(record) = buffer.pop_front() {
                return Some(record);
            }
            if next >= end {
                return None;
            }
            self.customer(next, &mut scratch);
            buffer.extend(scratch.drain(..));
            next += 1;
        })
    }

    /// The ECID of a customer's device slot: 38 digits, unique per (customer, slot).
    pub fn ecid(&self, customer: u64, slot: u64) -> String {
        let key = customer.wrapping_mul(64).wrapping_add(slot);
        let high = mix(mix(self.seed ^ 0xEC1D) ^ key) % 10_000_000_000_000_000_000;
        // An odd multiplier not divisible by 5 is a bijection modulo 10^19: unique low halves.
        let low = (u128::from(key) * 6_364_136_223_846_793_007u128 + 1_234_567_890_123_456_789)
            % 10_000_000_000_000_000_000;
        format!("{high:019}{low:019}")
    }

    /// The family tablet's ECID.
    pub fn family_tablet_ecid(&self) -> String {
        self.ecid(self.cast.tablet_earlier, 1)
    }

    /// Who customer `index` is.
    pub fn persona(&self, index: u64) -> Persona {
        let mut rng = Rng::stream(self.seed, STREAM_PERSONA, index);
        let role = self.cast.role(index);
        let (first_name, gender) = *rng.pick(FIRST_NAMES);
        let last_name = *rng.pick(LAST_NAMES);
        let domain = *rng.weighted(EMAIL_DOMAINS);
        let local = email_local(first_name, last_name, index, rng.below(4));
        let address = Address::random(&mut rng);
        let age_years = (42.0 + 14.0 * rng.normal()).clamp(18.0, 90.0);
        let birth_ms = HISTORY_END_MS
            - (age_years * 365.25 * DAY_MS as f64) as i64
            - rng.between(0, 365) * DAY_MS;
        let tenure_days = rng.lognormal(700.0, 0.9).clamp(20.0, 4380.0) as i64;
        let since_ms = whole_second(
            HISTORY_END_MS - tenure_days * DAY_MS + rng.between(8 * HOUR_MS, 20 * HOUR_MS),
        );
        let member = rng.chance(0.55);
        let email_consent = rng.chance(0.78);
        let sms_consent = rng.chance(0.35);
        let call_consent = rng.chance(0.5);
        let language = *rng.weighted(&[("en-US", 88), ("es-US", 7), ("fr-CA", 5)]);
        let placeholder_email = rng.chance(0.002);
        let placeholder_phone = rng.chance(0.002);
        let placeholder_pick = rng.below(6);
        let mut persona = Persona {
            index,
            role,
            crm_id: crm_id(index),
            first_name,
            last_name,
            gender,
            email: format!("{local}@{domain}"),
            placeholder_email: false,
            phone: phone_number(index),
            birth_date: date(birth_ms),
            address,
            language,
            since_ms,
            loyalty_id: member.then(|| loyalty_id(index)),
            email_consent,
            sms_consent,
            call_consent,
        };
        if persona.address.country_code == "US" && persona.language == "fr-CA" {
            persona.language = "en-US";
        }
        let named = |persona: &mut Persona, first: &'static str, last: &'static str, g| {
            persona.first_name = first;
            persona.last_name = last;
            persona.gender = g;
        };
        match role {
            Role::Regular => {
                if placeholder_email {
                    persona.email = PLACEHOLDER_EMAILS
                        [placeholder_pick as usize % PLACEHOLDER_EMAILS.len()]
                    .to_owned();
                    persona.placeholder_email = true;
                }
                if placeholder_phone {
                    persona.phone = PLACEHOLDER_PHONES[placeholder_pick as usize % 2].to_owned();
                }
            }
            Role::TabletEarlier => {
                named(&mut persona, "Daniel", "Okafor", "male");
                persona.email = "daniel.okafor@example.com".to_owned();
                persona.loyalty_id = Some(loyalty_id(index));
            }
            Role::TabletLater => {
                named(&mut persona, "Grace", "Okafor", "female");
                persona.email = "grace.okafor@example.net".to_owned();
                // The same household as the earlier tablet user.
                persona.address = self.persona(self.cast.tablet_earlier).address;
            }
            Role::CorrectedEmail => {
                named(&mut persona, "Jon", "Smith", "male");
                persona.email = CORRECTED_EMAIL.to_owned();
                persona.since_ms = TYPO_JOINED_MS;
                persona.loyalty_id = None;
                persona.email_consent = true;
            }
            Role::PlaceholderEmail => {
                named(&mut persona, "Lauren", "Becker", "female");
                persona.email = PLACEHOLDER_EMAIL.to_owned();
                persona.placeholder_email = true;
            }
            Role::SecondPlaceholder => {
                named(&mut persona, "Hannah", "Wolfe", "female");
                persona.email = PLACEHOLDER_EMAIL.to_owned();
                persona.placeholder_email = true;
            }
            Role::NullEmail => {
                named(&mut persona, "Marco", "Bellini", "male");
                persona.email = "null".to_owned();
                persona.placeholder_email = true;
            }
            Role::OverLimit => {
                named(&mut persona, "Alex", "Kim", "not_specified");
                persona.email = "alex.kim@example.org".to_owned();
                persona.loyalty_id = Some(loyalty_id(index));
            }
            Role::Disagreeing => {
                named(&mut persona, "Maria", "Garcia", "female");
                persona.email = DISAGREEING_EMAIL.to_owned();
                persona.loyalty_id = Some(loyalty_id(index));
                persona.since_ms = persona.since_ms.min(HISTORY_END_MS - 400 * DAY_MS);
            }
            Role::FrequentBuyer => {
                named(&mut persona, "Sam", "Rivera", "male");
                persona.email = "sam.rivera@example.com".to_owned();
                persona.loyalty_id = Some(loyalty_id(index));
                persona.since_ms = persona.since_ms.min(HISTORY_START_MS - 30 * DAY_MS);
            }
        }
        persona
    }

    /// The customers worth looking up after loading: one per hard case.
    pub fn interesting(&self) -> Vec<Interesting> {
        let cast = &self.cast;
        let crm = |index: u64| crm_id(index);
        vec![
            Interesting {
                label: "Shared family tablet (Daniel and Grace Okafor)".into(),
                look_for: "the tablet follows the most recent login (Grace); the graph's removedLinks show Daniel's older link, refused because CRMID is unique".into(),
                namespace: "ECID".into(),
                id: self.family_tablet_ecid(),
            },
            Interesting {
                label: "The tablet's earlier user (Daniel Okafor)".into(),
                look_for: "keeps his CRM and loyalty data and his logged-in tablet events, but no longer the tablet's ECID".into(),
                namespace: "CRMID".into(),
                id: crm(cast.tablet_earlier),
            },
            Interesting {
                label: "Mistyped email, corrected later (Jon Smith)".into(),
                look_for: format!("personalEmail is {CORRECTED_EMAIL}; the graph holds both emails; early campaign emails to {MISTYPED_EMAIL} bounced"),
                namespace: "Email".into(),
                id: CORRECTED_EMAIL.into(),
            },
            Interesting {
                label: format!("Placeholder email {PLACEHOLDER_EMAIL} (Lauren Becker)"),
                look_for: format!("{PLACEHOLDER_EMAIL} is in refusedIdentities of the graph (on the block list) and links her to nobody, though another customer gave it too"),
                namespace: "CRMID".into(),
                id: crm(cast.placeholder_email),
            },
            Interesting {
                label: "Email \"null\" (Marco Bellini)".into(),
                look_for: "\"null\" is refused as a placeholder value (refusedIdentities)".into(),
                namespace: "CRMID".into(),
                id: crm(cast.null_email),
            },
            Interesting {
                label: format!("{OVER_LIMIT_DEVICES} cookies, more than the graph limit (Alex Kim)"),
                look_for: "exactly 50 identities; removedLinks with the graph-limit reason for the oldest cookies".into(),
                namespace: "CRMID".into(),
                id: crm(cast.over_limit),
            },
            Interesting {
                label: "CRM and loyalty program disagree (Maria Garcia)".into(),
                look_for: "tier, address and phone come from the loyalty record, whose lastUpdatedDate is newer (timestamp-ordered merge)".into(),
                namespace: "Email".into(),
                id: DISAGREEING_EMAIL.into(),
            },
            Interesting {
                label: "Frequent buyer (Sam Rivera)".into(),
                look_for: "dozens of orders: page through the events with _links.next".into(),
                namespace: "CRMID".into(),
                id: crm(cast.frequent_buyer),
            },
        ]
    }

    /// Appends every record of customer `index` to `out`.
    pub fn customer(&self, index: u64, out: &mut Vec<Record>) {
        let persona = self.persona(index);
        let mut rng = Rng::stream(self.seed, STREAM_ACTIVITY, index);
        let devices = self.devices(&persona, &mut rng);
        let mut web = Vec::new();
        let mut orders = Vec::new();
        let spend = self.sessions(&persona, &devices, &mut rng, &mut web, &mut orders);
        self.profile_records(&persona, spend, &mut rng, out);
        out.append(&mut web);
        self.emails(&persona, orders.is_empty(), &mut rng, out);
        self.support(&persona, &orders, &devices, &mut rng, out);
    }

    fn devices(&self, persona: &Persona, rng: &mut Rng) -> Vec<Device> {
        let index = persona.index;
        let model = |rng: &mut Rng| rng.weighted(DEVICE_MODELS);
        let of_kind = |rng: &mut Rng, kinds: &[DeviceKind]| loop {
            let candidate = rng.weighted(DEVICE_MODELS);
            if kinds.contains(&candidate.kind) {
                break candidate;
            }
        };
        match persona.role {
            Role::TabletEarlier => vec![
                Device {
                    ecid: self.ecid(index, 0),
                    model: of_kind(rng, &[DeviceKind::Desktop]),
                },
                Device {
                    ecid: self.family_tablet_ecid(),
                    model: &DEVICE_MODELS[FAMILY_TABLET_MODEL].0,
                },
            ],
            Role::TabletLater => vec![
                Device {
                    ecid: self.ecid(index, 0),
                    model: of_kind(rng, &[DeviceKind::PhoneApp]),
                },
                Device {
                    ecid: self.family_tablet_ecid(),
                    model: &DEVICE_MODELS[FAMILY_TABLET_MODEL].0,
                },
            ],
            Role::OverLimit => (0..OVER_LIMIT_DEVICES)
                .map(|slot| Device {
                    ecid: self.ecid(index, slot),
                    model: of_kind(rng, &[DeviceKind::Desktop, DeviceKind::PhoneWeb]),
                })
                .collect(),
            _ => {
                let count = *rng.weighted(&[(1u64, 45), (2, 35), (3, 15), (4, 5)]);
                (0..count)
                    .map(|slot| Device {
                        ecid: self.ecid(index, slot),
                        model: model(rng),
                    })
                    .collect()
            }
        }
    }

    /// Plans and generates the customer's sessions; returns the year's spend.
    fn sessions(
        &self,
        persona: &Persona,
        devices: &[Device],
        rng: &mut Rng,
        out: &mut Vec<Record>,
        orders: &mut Vec<Order>,
    ) -> f64 {
        let from_ms = persona.since_ms.max(HISTORY_START_MS);
        let dormant = rng.chance(0.12);
        // Pareto orders: P(at least k) = (k + 1)^-1.4, so about 62% buy nothing this year,
        // 12% buy three times or more and a few dozens of times.
        let mut order_count = ((rng.pareto(1.0, 1.4) - 1.0).floor() as u64).min(60);
        let mut browse_count = (rng.lognormal(2.0, 1.0).round() as u64).min(80);
        if dormant {
            order_count = 0;
            browse_count = 0;
        }
        let mut plans: Vec<Plan> = Vec::new();
        match persona.role {
            Role::FrequentBuyer => order_count = 48,
            Role::OverLimit => {
                // Clears cookies after every visit: a new ECID each time, logged in each time.
                for slot in 0..OVER_LIMIT_DEVICES as i64 {
                    let start_ms =
                        HISTORY_START_MS + slot * 6 * DAY_MS + rng.between(9 * HOUR_MS, 5 * DAY_MS);
                    plans.push(Plan {
                        device: slot as usize,
                        start_ms,
                        login: Login::FromStart,
                        order: rng.chance(0.2),
                    });
                }
                order_count = 0;
                browse_count = 0;
            }
            Role::TabletEarlier | Role::TabletLater => {
                let (logins, anonymous): (&[i64], &[i64]) = if persona.role == Role::TabletEarlier {
                    (&[20, 61, 108, 150], &[35, 122])
                } else {
                    (&[231, 289, 353], &[260, 330])
                };
                for day in logins {
                    plans.push(Plan {
                        device: 1,
                        start_ms: HISTORY_START_MS
                            + day * DAY_MS
                            + rng.between(HOUR_MS, 5 * HOUR_MS),
                        login: Login::FromStart,
                        order: rng.chance(0.3),
                    });
                }
                for day in anonymous {
                    plans.push(Plan {
                        device: 1,
                        start_ms: HISTORY_START_MS
                            + day * DAY_MS
                            + rng.between(HOUR_MS, 5 * HOUR_MS),
                        login: Login::Never,
                        order: false,
                    });
                }
                order_count = order_count.max(1);
                browse_count = browse_count.max(2);
            }
            _ => {}
        }
        // The family tablet is used only in the planned sessions above.
        let free_devices = if matches!(persona.role, Role::TabletEarlier | Role::TabletLater) {
            1
        } else {
            devices.len()
        };
        for n in 0..order_count + browse_count {
            let order = n < order_count;
            // The first device is the customer's main one.
            let device = if free_devices > 1 && rng.chance(0.4) {
                1 + rng.below(free_devices as u64 - 1) as usize
            } else {
                0
            };
            let app = devices[device].model.kind == DeviceKind::PhoneApp;
            let login = if order {
                if app {
                    Login::FromStart
                } else {
                    Login::Sometime
                }
            } else if app {
                if rng.chance(0.9) {
                    Login::FromStart
                } else {
                    Login::Never
                }
            } else if rng.chance(0.35) {
                Login::Sometime
            } else {
                Login::Never
            };
            plans.push(Plan {
                device,
                start_ms: session_start(rng, from_ms),
                login,
                order,
            });
        }
        plans.sort_by_key(|plan| plan.start_ms);
        let mut spend = 0.0;
        let mut event_number = 0u64;
        for (session, plan) in plans.iter().enumerate() {
            spend += self.session(
                persona,
                &devices[plan.device],
                plan,
                session,
                rng,
                &mut event_number,
                out,
                orders,
            );
        }
        spend
    }

    /// Generates one session's events; returns the order total (0 without an order).
    #[allow(clippy::too_many_arguments)]
    fn session(
        &self,
        persona: &Persona,
        device: &Device,
        plan: &Plan,
        session: usize,
        rng: &mut Rng,
        event_number: &mut u64,
        out: &mut Vec<Record>,
        orders: &mut Vec<Order>,
    ) -> f64 {
        let app = device.model.kind == DeviceKind::PhoneApp;
        let mut steps: Vec<Step> = Vec::new();
        if app {
            steps.push(Step::Launch);
        }
        let favourite = rng.below(CATEGORIES.len() as u64) as usize;
        let product_in = |rng: &mut Rng, category: usize| loop {
            let candidate = rng.below(PRODUCTS.len() as u64) as usize;
            if PRODUCTS[candidate].0.category == category || rng.chance(0.3) {
                break candidate;
            }
        };
        if rng.chance(0.5) {
            steps.push(Step::Home);
        }
        steps.push(Step::Page(favourite));
        let mut lines: Vec<(usize, u32)> = Vec::new();
        if plan.order {
            let count = *rng.weighted(&[(1usize, 60), (2, 25), (3, 10), (4, 5)]);
            while lines.len() < count {
                let product = *rng.weighted(&PRODUCT_WEIGHTS);
                if lines.iter().any(|(p, _)| *p == product) {
                    continue;
                }
                let quantity = *rng.weighted(&[(1u32, 85), (2, 12), (3, 3)]);
                if rng.chance(0.5) {
                    steps.push(Step::Page(PRODUCTS[product].0.category));
                }
                steps.push(Step::Product(product));
                steps.push(Step::Add(product, quantity));
                lines.push((product, quantity));
            }
            steps.push(Step::Checkout);
            steps.push(Step::Purchase);
        } else {
            let views = rng.below(5);
            for _ in 0..views {
                if rng.chance(0.3) {
                    steps.push(Step::Page(rng.below(CATEGORIES.len() as u64) as usize));
                }
                let product = product_in(rng, favourite);
                steps.push(Step::Product(product));
                if rng.chance(0.1) {
                    steps.push(Step::Add(product, 1));
                }
            }
        }
        let login_at = match plan.login {
            Login::Never => steps.len(),
            Login::FromStart => 0,
            Login::Sometime => {
                let last = steps
                    .iter()
                    .position(|s| matches!(s, Step::Checkout))
                    .unwrap_or(steps.len() - 1);
                rng.below(last as u64 + 1) as usize
            }
        };
        let currency = if persona.address.country_code == "CA" {
            "CAD"
        } else {
            "USD"
        };
        let mut at_ms = whole_second(plan.start_ms);
        let mut total = 0.0;
        let cart_id = format!("cart-{}-{session}", persona.index + 1);
        for (position, step) in steps.iter().enumerate() {
            let logged_in = position >= login_at;
            let id = format!("web-{}-{}", persona.index + 1, *event_number);
            *event_number += 1;
            let mut event = web_event(&id, at_ms, device, logged_in.then_some(persona));
            let page = |name: String, section: &str, path: String| {
                let mut details =
                    json!({"name": name, "siteSection": section, "pageViews": {"value": 1.0}});
                if !app {
                    details["URL"] = json!(format!("{SITE}{path}"));
                }
                json!({"webPageDetails": details})
            };
            match step {
                Step::Launch => {
                    event.insert("eventType".into(), json!("application.launch"));
                }
                Step::Home => {
                    event.insert("eventType".into(), json!("web.webpagedetails.pageViews"));
                    let mut web = page("Home".into(), "home", "/".into());
                    if position == 0 && !app {
                        web["webReferrer"] = referrer(rng);
                    }
                    event.insert("web".into(), web);
                }
                Step::Page(category) => {
                    let (_, name, section) = CATEGORIES[*category];
                    event.insert("eventType".into(), json!("web.webpagedetails.pageViews"));
                    let mut web = page(name.into(), section, format!("/{section}"));
                    if position == 0 && !app {
                        web["webReferrer"] = referrer(rng);
                    }
                    event.insert("web".into(), web);
                }
                Step::Product(product) => {
                    let item = &PRODUCTS[*product].0;
                    let section = CATEGORIES[item.category].2;
                    event.insert("eventType".into(), json!("commerce.productViews"));
                    event.insert(
                        "web".into(),
                        page(
                            item.name.into(),
                            section,
                            format!("/{section}/{}", item.sku.to_ascii_lowercase()),
                        ),
                    );
                    event.insert("commerce".into(), json!({"productViews": {"value": 1.0}}));
                    event.insert(
                        "productListItems".into(),
                        json!([product_line(*product, 1, currency)]),
                    );
                }
                Step::Add(product, quantity) => {
                    event.insert("eventType".into(), json!("commerce.productListAdds"));
                    event.insert(
                        "commerce".into(),
                        json!({"productListAdds": {"value": 1.0}, "cart": {"cartID": cart_id}}),
                    );
                    let mut line = product_line(*product, *quantity, currency);
                    line["productAddMethod"] = json!("product detail page");
                    event.insert("productListItems".into(), json!([line]));
                }
                Step::Checkout => {
                    event.insert("eventType".into(), json!("commerce.checkouts"));
                    event.insert(
                        "commerce".into(),
                        json!({"checkouts": {"value": 1.0}, "cart": {"cartID": cart_id}}),
                    );
                    event.insert(
                        "productListItems".into(),
                        lines
                            .iter()
                            .map(|(p, q)| product_line(*p, *q, currency))
                            .collect(),
                    );
                }
                Step::Purchase => {
                    total = cents(
                        lines
                            .iter()
                            .map(|(p, q)| PRODUCTS[*p].0.price * f64::from(*q))
                            .sum(),
                    );
                    let purchase_id = format!("SO-{}-{}", persona.index + 1, orders.len() + 1);
                    let payment = *rng.weighted(&[
                        ("credit_card", 70),
                        ("paypal", 14),
                        ("apple_pay", 11),
                        ("gift_card", 5),
                    ]);
                    event.insert("eventType".into(), json!("commerce.purchases"));
                    event.insert(
                        "commerce".into(),
                        json!({
                            "purchases": {"value": 1.0},
                            "cart": {"cartID": cart_id},
                            "order": {
                                "purchaseID": purchase_id,
                                "priceTotal": total,
                                "currencyCode": currency,
                                "payments": [{
                                    "paymentType": payment,
                                    "paymentAmount": total,
                                    "currencyCode": currency,
                                    "transactionID": format!("TX-{:016x}", rng.next_u64()),
                                }],
                            },
                        }),
                    );
                    event.insert(
                        "productListItems".into(),
                        lines
                            .iter()
                            .map(|(p, q)| product_line(*p, *q, currency))
                            .collect(),
                    );
                    orders.push(Order { purchase_id, at_ms });
                }
            }
            out.push(Record {
                dataset: DemoDataset::WebAndApp,
                at_ms,
                value: Value::Object(event),
            });
            let gap = rng.lognormal(40_000.0, 0.8).clamp(3_000.0, 900_000.0) as i64;
            at_ms = whole_second(at_ms + gap);
        }
        total
    }

    /// The CRM record (two for the corrected-email customer) and the loyalty record.
    fn profile_records(&self, persona: &Persona, spend: f64, rng: &mut Rng, out: &mut Vec<Record>) {
        let role = persona.role;
        let crm_updated_ms = match role {
            Role::CorrectedEmail => TYPO_CORRECTED_MS,
            Role::Disagreeing => HISTORY_END_MS - 200 * DAY_MS + 11 * HOUR_MS,
            _ => whole_second(rng.between(persona.since_ms, HISTORY_END_MS - HOUR_MS)),
        };
        // Loyalty: points and tier from this year's spend and a log-normal history.
        let loyalty = persona.loyalty_id.as_ref().map(|id| {
            let join_ms = whole_second(rng.between(
                persona.since_ms,
                persona.since_ms + (HISTORY_END_MS - persona.since_ms) / 2,
            ));
            let lifetime = (rng.lognormal(1500.0, 1.0) + spend * 1.5).round();
            let points = (lifetime * (0.1 + 0.4 * rng.unit())).round();
            let tier = match lifetime as u64 {
                0..=1_999 => 0,
                2_000..=4_999 => 1,
                5_000..=11_999 => 2,
                _ => 3,
            };
            let updated_ms = whole_second(rng.between(
                join_ms.max(HISTORY_END_MS - 300 * DAY_MS),
                HISTORY_END_MS - HOUR_MS,
            ));
            (id.clone(), join_ms, lifetime, points, tier, updated_ms)
        });
        // Which attributes the loyalty record disagrees on.
        let mut disagree = Disagreement::default();
        if loyalty.is_some() && role == Role::Regular && rng.chance(0.3) {
            disagree.tier = rng.chance(0.6);
            disagree.address = rng.chance(0.3);
            disagree.phone = rng.chance(0.25);
            disagree.nickname = rng.chance(0.15);
            disagree.consent = rng.chance(0.15);
            if !(disagree.tier
                || disagree.address
                || disagree.phone
                || disagree.nickname
                || disagree.consent)
            {
                disagree.tier = true;
            }
        }
        if role == Role::Disagreeing {
            disagree.tier = true;
            disagree.address = true;
            disagree.phone = true;
        }
        let crm_tier = loyalty.as_ref().map(|(_, _, _, _, tier, _)| {
            if disagree.tier {
                // The CRM still has the tier from before the last upgrade (or downgrade).
                TIERS[if *tier == 0 { 1 } else { tier - 1 }]
            } else {
                TIERS[*tier]
            }
        });
        let crm = |email: &str, updated_ms: i64| -> Record {
            let mut identity_map = json!({
                "CRMID": [{"id": persona.crm_id, "primary": true}],
                "Email": [{"id": email}],
                "Phone": [{"id": persona.phone}],
            });
            if let Some(id) = &persona.loyalty_id {
                identity_map["LoyaltyID"] = json!([{"id": id}]);
            }
            let consent = |given: bool| if given { "y" } else { "n" };
            let mut record = json!({
                "identityMap": identity_map,
                "person": {
                    "name": {
                        "firstName": persona.first_name,
                        "lastName": persona.last_name,
                        "fullName": format!("{} {}", persona.first_name, persona.last_name),
                    },
                    "birthDate": persona.birth_date,
                    "gender": persona.gender,
                },
                "mobilePhone": {"number": persona.phone, "primary": true},
                "homeAddress": persona.address.to_json(),
                "preferredLanguage": persona.language,
                "consents": {
                    "collect": {"val": "y"},
                    "marketing": {
                        "preferred": if persona.email_consent { "email" } else if persona.sms_consent { "sms" } else { "none" },
                        "email": {"val": consent(persona.email_consent), "time": iso(updated_ms)},
                        "sms": {"val": consent(persona.sms_consent), "time": iso(updated_ms)},
                        "call": {"val": consent(persona.call_consent), "time": iso(updated_ms)},
                    },
                },
                "extSourceSystemAudit": {
                    "createdDate": iso(persona.since_ms),
                    "lastUpdatedDate": iso(updated_ms),
                    "lastUpdatedBy": "crm-sync",
                    "externalKey": {"sourceKey": persona.crm_id},
                },
            });
            if email.contains('@') {
                record["personalEmail"] = json!({"address": email, "primary": true});
            }
            if let (Some(id), Some(tier)) = (&persona.loyalty_id, crm_tier) {
                record["loyalty"] = json!({"loyaltyID": [id], "tier": tier});
            }
            Record {
                dataset: DemoDataset::Crm,
                at_ms: updated_ms,
                value: record,
            }
        };
        if role == Role::CorrectedEmail {
            out.push(crm(MISTYPED_EMAIL, TYPO_JOINED_MS));
        }
        out.push(crm(&persona.email, crm_updated_ms));

        let Some((id, join_ms, lifetime, points, tier, mut updated_ms)) = loyalty else {
            return;
        };
        if role == Role::Disagreeing {
            updated_ms = HISTORY_END_MS - 9 * DAY_MS + 16 * HOUR_MS;
        }
        let first_name = if disagree.nickname {
            NICKNAMES
                .iter()
                .find(|(name, _)| *name == persona.first_name)
                .map_or(persona.first_name, |(_, nickname)| nickname)
        } else {
            persona.first_name
        };
        let address = if disagree.address {
            // Moved; the loyalty app has the new address.
            let mut moved = Address::random(rng);
            for _ in 0..8 {
                if moved.country_code == persona.address.country_code && moved != persona.address {
                    break;
                }
                moved = Address::random(rng);
            }
            moved
        } else {
            persona.address.clone()
        };
        let phone = if disagree.phone {
            format!(
                "+1{}{:07}",
                rng.pick(AREA_CODES),
                2_000_000 + rng.below(8_000_000)
            )
        } else {
            persona.phone.clone()
        };
        let email_consent = persona.email_consent != disagree.consent;
        let mut record = json!({
            "identityMap": {
                "LoyaltyID": [{"id": id, "primary": true}],
                "Email": [{"id": persona.email}],
            },
            "person": {"name": {"firstName": first_name, "lastName": persona.last_name}},
            "mobilePhone": {"number": phone},
            "homeAddress": address.to_json(),
            "loyalty": {
                "loyaltyID": [id],
                "program": LOYALTY_PROGRAM,
                "status": "active",
                "tier": TIERS[tier],
                "points": points,
                "lifetimePoints": lifetime,
                "joinDate": iso(join_ms),
            },
            "consents": {"marketing": {"email": {"val": if email_consent { "y" } else { "n" }, "time": iso(updated_ms)}}},
            "extSourceSystemAudit": {
                "createdDate": iso(join_ms),
                "lastUpdatedDate": iso(updated_ms),
                "lastUpdatedBy": "loyalty-app",
                "externalKey": {"sourceKey": id},
            },
        });
        if persona.email.contains('@') {
            record["personalEmail"] = json!({"address": persona.email});
        }
        out.push(Record {
            dataset: DemoDataset::Loyalty,
            at_ms: updated_ms,
            value: record,
        });
    }

    /// Campaign sends, opens, clicks, unsubscribes (and bounces to a mistyped address).
    fn emails(&self, persona: &Persona, lapsed: bool, rng: &mut Rng, out: &mut Vec<Record>) {
        if persona.placeholder_email || !persona.email_consent {
            return;
        }
        let typo = persona.role == Role::CorrectedEmail;
        // Engagement is skewed: most customers rarely open, a few open almost everything.
        let open_rate = 0.03 + 0.7 * rng.unit().powi(2);
        let click_rate = 0.05 + 0.35 * rng.unit();
        let reach = if typo { 1.0 } else { 0.45 };
        for (number, (campaign_id, name, group, day, audience)) in CAMPAIGNS.iter().enumerate() {
            let sent_ms =
                HISTORY_START_MS + day * DAY_MS + 14 * HOUR_MS + rng.between(0, 90) * MINUTE_MS;
            let eligible = match audience {
                Audience::Subscribers => true,
                Audience::Members => persona.loyalty_id.is_some(),
                Audience::Lapsed => lapsed,
            };
            if sent_ms < persona.since_ms || !eligible || !rng.chance(reach) {
                continue;
            }
            let mistyped = typo && sent_ms < TYPO_CORRECTED_MS;
            let address = if mistyped {
                MISTYPED_EMAIL
            } else {
                persona.email.as_str()
            };
            let message_id = format!("msg-{}-{}", campaign_id, persona.index + 1);
            let mut emit = |kind: &str, event_type: &str, measure: &str, at_ms: i64| {
                out.push(Record {
                    dataset: DemoDataset::Email,
                    at_ms,
                    value: json!({
                        "_id": format!("email-{}-{number}-{kind}", persona.index + 1),
                        "timestamp": iso(at_ms),
                        "eventType": event_type,
                        "identityMap": {"Email": [{"id": address, "primary": true}]},
                        "marketing": {
                            "campaignID": campaign_id,
                            "campaignName": name,
                            "campaignGroup": group,
                            "channel": "email",
                            "trackingCode": format!("em_{}", campaign_id.replace('-', "_")),
                        },
                        "directMarketing": {"messageID": message_id, measure: {"value": 1.0}},
                    }),
                });
            };
            emit("sent", "directMarketing.emailSent", "sends", sent_ms);
            if mistyped {
                emit(
                    "bounced",
                    "directMarketing.emailBounced",
                    "bounces",
                    sent_ms + 2 * MINUTE_MS,
                );
                continue;
            }
            if !rng.chance(open_rate) {
                continue;
            }
            let opened_ms = whole_second(
                sent_ms
                    + rng
                        .lognormal(2.0 * HOUR_MS as f64, 1.2)
                        .min(5.0 * DAY_MS as f64) as i64,
            );
            emit("opened", "directMarketing.emailOpened", "opens", opened_ms);
            if rng.chance(click_rate) {
                let clicked_ms = opened_ms + 1000 * rng.lognormal(60.0, 0.8).round() as i64;
                emit(
                    "clicked",
                    "directMarketing.emailClicked",
                    "clicks",
                    clicked_ms,
                );
            }
            if rng.chance(0.012) {
                let unsubscribed_ms = opened_ms + 1000 * rng.lognormal(90.0, 0.6).round() as i64;
                emit(
                    "unsubscribed",
                    "directMarketing.emailUnsubscribed",
                    "unsubscriptions",
                    unsubscribed_ms,
                );
                break;
            }
        }
    }

    /// Call-center and chat contacts: about some orders, and a few about anything.
    fn support(
        &self,
        persona: &Persona,
        orders: &[Order],
        devices: &[Device],
        rng: &mut Rng,
        out: &mut Vec<Record>,
    ) {
        let mut contacts: Vec<(i64, usize, Option<&str>)> = Vec::new();
        let order_reasons: Vec<usize> = (0..SUPPORT_REASONS.len())
            .filter(|&r| SUPPORT_REASONS[r].1)
            .collect();
        for order in orders {
            if rng.chance(0.1) {
                let at_ms = order.at_ms + rng.lognormal(3.0 * DAY_MS as f64, 0.7) as i64;
                if at_ms < HISTORY_END_MS {
                    let reason = *rng.pick(&order_reasons);
                    contacts.push((at_ms, reason, Some(order.purchase_id.as_str())));
                }
            }
        }
        if rng.chance(0.06) {
            let reason = *rng.pick(&[5, 6, 7]);
            let from_ms = persona.since_ms.max(HISTORY_START_MS);
            contacts.push((session_start(rng, from_ms), reason, None));
        }
        if persona.loyalty_id.is_some() && rng.chance(0.03) {
            let from_ms = persona.since_ms.max(HISTORY_START_MS);
            contacts.push((session_start(rng, from_ms), 8, None));
        }
        contacts.sort_by_key(|c| c.0);
        for (number, (at_ms, reason, purchase_id)) in contacts.into_iter().enumerate() {
            let at_ms = whole_second(at_ms);
            let (reason_text, _, outcome_weights) = SUPPORT_REASONS[reason];
            let outcome_items: Vec<(usize, u32)> =
                outcome_weights.iter().copied().enumerate().collect();
            let outcome = OUTCOMES[*rng.weighted(&outcome_items)];
            let satisfaction = *rng.weighted(match outcome {
                "resolved" => &[(1i64, 3), (2, 5), (3, 12), (4, 35), (5, 45)],
                "escalated" | "unresolved" => &[(1, 25), (2, 30), (3, 30), (4, 10), (5, 5)],
                _ => &[(1, 8), (2, 15), (3, 40), (4, 25), (5, 12)],
            });
            let chat = rng.chance(0.4);
            let duration = if chat {
                rng.lognormal(600.0, 0.5)
            } else {
                rng.lognormal(360.0, 0.6)
            }
            .round()
            .clamp(20.0, 7200.0) as i64;
            let case_id = format!("CS-{}-{}", persona.index + 1, number + 1);
            let mut identity_map =
                json!({"CRMID": [{"id": persona.crm_id, "authenticatedState": "authenticated"}]});
            if chat {
                identity_map["Email"] = json!([{"id": persona.email}]);
                // A logged-in chat on the website also carries the browser's ECID.
                if let Some(device) = devices.first().filter(|_| persona.role == Role::Regular) {
                    if device.model.kind != DeviceKind::PhoneApp {
                        identity_map["ECID"] = json!([{"id": device.ecid}]);
                    }
                }
            } else {
                identity_map["Phone"] = json!([{"id": persona.phone}]);
            }
            let notes = match purchase_id {
                Some(purchase) => format!("{reason_text} (order {purchase})"),
                None => reason_text.to_owned(),
            };
            out.push(Record {
                dataset: DemoDataset::CallCenter,
                at_ms,
                value: json!({
                    "_id": case_id,
                    "timestamp": iso(at_ms),
                    "eventType": if chat { "support.chat" } else { "support.call" },
                    "identityMap": identity_map,
                    "support": {
                        "caseID": case_id,
                        "channel": if chat { "chat" } else { "call" },
                        "reason": reason_text,
                        "outcome": outcome,
                        "satisfaction": satisfaction,
                        "agentID": format!("agent-{:03}", 1 + rng.below(120)),
                        "durationSeconds": duration,
                        "notes": notes,
                    },
                }),
            });
        }
    }
}

#[derive(Default)]
struct Disagreement {
    tier: bool,
    address: bool,
    phone: bool,
    nickname: bool,
    consent: bool,
}

/// Product weights for `Rng::weighted`.
const PRODUCT_WEIGHTS: [(usize, u32); PRODUCTS.len()] = {
    let mut weights = [(0usize, 0u32); PRODUCTS.len()];
    let mut i = 0;
    while i < PRODUCTS.len() {
        weights[i] = (i, PRODUCTS[i].1);
        i += 1;
    }
    weights
};

/// A CRM id: `CRM-0000001`.
pub fn crm_id(index: u64) -> String {
    format!("CRM-{:07}", index + 1)
}

/// A loyalty member id, unique per customer (an affine bijection modulo a prime).
pub fn loyalty_id(index: u64) -> String {
    format!("LY{:010}", (index * 48_271 + 12_345) % 1_000_000_007)
}

/// A mobile number unique per customer: area code by index, then a bijective scramble of the rest.
fn phone_number(index: u64) -> String {
    let areas = AREA_CODES.len() as u64;
    let space = areas * 8_000_000;
    // The multiplier is coprime to 320,000,000 (= 2^12 * 5^7): a bijection on [0, space), so
    // numbers are unique for the first 320 million customers and look unrelated.
    let scrambled = (index % space * 2_654_435_761 + 104_729) % space;
    let area = AREA_CODES[(scrambled % areas) as usize];
    let line = 2_000_000 + scrambled / areas;
    format!("+1{area}{line:07}")
}

/// The local part of a regular customer's email: always ends with the customer number, so
/// it is unique (names have no digits).
fn email_local(first: &str, last: &str, index: u64, pattern: u64) -> String {
    let first = first.to_ascii_lowercase();
    let last: String = last
        .chars()
        .filter(char::is_ascii_alphabetic)
        .collect::<String>()
        .to_ascii_lowercase();
    let number = index + 1;
    match pattern {
        0 => format!("{first}.{last}.{number}"),
        1 => format!("{}{last}{number}", &first[..1]),
        2 => format!("{first}_{last}{number}"),
        _ => format!("{last}.{first}{number}"),
    }
}

/// A session start at or after `from_ms`: a day of the year (busier in the holiday season),
/// an hour by the usual daily curve.
fn session_start(rng: &mut Rng, from_ms: i64) -> i64 {
    let holiday_start = HISTORY_START_MS + 14 * DAY_MS;
    let holiday_end = HISTORY_START_MS + 54 * DAY_MS;
    let day_ms = if rng.chance(0.18) && from_ms < holiday_end - DAY_MS {
        rng.between(from_ms.max(holiday_start), holiday_end)
    } else {
        rng.between(from_ms, HISTORY_END_MS - DAY_MS)
    };
    let day_start = day_ms - day_ms.rem_euclid(DAY_MS);
    let at = day_start + rng.weighted(HOUR_WEIGHTS) * HOUR_MS + rng.between(0, HOUR_MS);
    if at < from_ms {
        from_ms + rng.between(0, HOUR_MS)
    } else {
        at.min(HISTORY_END_MS - HOUR_MS)
    }
}

/// Where a web session came from.
fn referrer(rng: &mut Rng) -> Value {
    match rng.below(10) {
        0..=3 => json!({"type": "search_engine", "URL": "https://search.example/?q=outdoor+gear"}),
        4..=5 => json!({"type": "social", "URL": "https://social.example/cascade-outfitters"}),
        6 => json!({"type": "email", "URL": "https://mail.example/"}),
        _ => json!({"type": "typed_bookmarked"}),
    }
}

fn product_line(product: usize, quantity: u32, currency: &str) -> Value {
    let item = &PRODUCTS[product].0;
    let (category_id, category_name, _) = CATEGORIES[item.category];
    json!({
        "SKU": item.sku,
        "name": item.name,
        "quantity": quantity,
        "priceTotal": cents(item.price * f64::from(quantity)),
        "currencyCode": currency,
        "productCategories": [{"categoryID": category_id, "categoryName": category_name}],
    })
}

/// The common part of a web or app event: ids, time, device and environment.
fn web_event(
    id: &str,
    at_ms: i64,
    device: &Device,
    logged_in: Option<&Persona>,
) -> Map<String, Value> {
    let model = device.model;
    let mut identity_map = json!({
        "ECID": [{"id": device.ecid, "authenticatedState": if logged_in.is_some() { "authenticated" } else { "ambiguous" }}],
    });
    if let Some(persona) = logged_in {
        identity_map["CRMID"] =
            json!([{"id": persona.crm_id, "authenticatedState": "authenticated"}]);
    }
    let mut environment = json!({
        "type": if model.browser.is_some() { "browser" } else { "application" },
        "operatingSystem": model.os,
    });
    if let Some(browser) = model.browser {
        environment["browserDetails"] = json!({"name": browser});
    }
    let device_type = match model.kind {
        DeviceKind::Desktop => "desktop",
        DeviceKind::PhoneApp | DeviceKind::PhoneWeb => "mobile",
        DeviceKind::Tablet => "tablet",
    };
    let mut event = Map::new();
    event.insert("_id".into(), json!(id));
    event.insert("timestamp".into(), json!(iso(at_ms)));
    event.insert("identityMap".into(), identity_map);
    event.insert("environment".into(), environment);
    event.insert(
        "device".into(),
        json!({"type": device_type, "manufacturer": model.manufacturer, "model": model.model}),
    );
    event
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn digits_are_grouped() {
        for (number, text) in [
            (0, "0"),
            (999, "999"),
            (1000, "1,000"),
            (314_820, "314,820"),
            (1_234_567, "1,234,567"),
        ] {
            assert_eq!(crate::demo::group_digits(number), text);
        }
    }

    #[test]
    fn iso_matches_the_engine() {
        let mut rng = Rng::new(3);
        for _ in 0..2000 {
            let ms = whole_second(rng.between(-2_000_000_000_000, 4_000_000_000_000));
            assert_eq!(iso(ms), engine::time::format_rfc3339_ms(ms, false));
        }
        assert_eq!(iso(HISTORY_END_MS), "2026-11-01T00:00:00Z");
        assert_eq!(iso(HISTORY_START_MS), "2025-11-01T00:00:00Z");
    }

    #[test]
    fn identities_are_unique() {
        let generator = Generator::new(9, 10_000).expect("generator");
        let mut emails = HashSet::new();
        let mut phones = HashSet::new();
        let mut ecids = HashSet::new();
        let mut loyalty = HashSet::new();
        for index in 0..10_000 {
            let persona = generator.persona(index);
            if !persona.placeholder_email {
                assert!(emails.insert(persona.email.clone()), "{}", persona.email);
            }
            if persona.phone.starts_with('+') {
                assert!(phones.insert(persona.phone.clone()), "{}", persona.phone);
            }
            assert!(loyalty.insert(loyalty_id(index)));
            for slot in 0..4 {
                let ecid = generator.ecid(index, slot);
                assert_eq!(ecid.len(), 38);
                assert!(ecid.bytes().all(|b| b.is_ascii_digit()));
                assert!(ecids.insert(ecid));
            }
        }
    }

    #[test]
    fn orders_and_spend_are_skewed() {
        let generator = Generator::new(5, 4_000).expect("generator");
        let mut spend_by_customer: Vec<f64> = vec![0.0; 4_000];
        let mut orders_by_customer: Vec<u32> = vec![0; 4_000];
        generator.for_each_record(0..4_000, |index, record| {
            if record.value["eventType"] == "commerce.purchases" {
                orders_by_customer[index as usize] += 1;
                spend_by_customer[index as usize] += record.value["commerce"]["order"]
                    ["priceTotal"]
                    .as_f64()
                    .expect("total");
            }
        });
        let buyers = orders_by_customer.iter().filter(|&&n| n > 0).count();
        assert!(buyers > 800 && buyers < 2_400, "{buyers} buyers of 4000");
        let frequent = orders_by_customer.iter().filter(|&&n| n >= 10).count();
        assert!(
            frequent > 20 && frequent < 400,
            "{frequent} frequent buyers"
        );
        spend_by_customer.sort_by(|a, b| b.total_cmp(a));
        let total: f64 = spend_by_customer.iter().sum();
        let top_decile: f64 = spend_by_customer[..400].iter().sum();
        assert!(
            top_decile / total > 0.4,
            "top 10% spend {:.2}",
            top_decile / total
        );
    }
}
