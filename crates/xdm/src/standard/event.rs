//! Standard field groups of the XDM ExperienceEvent class.

use crate::class::Class;
use crate::field::{Field, ObjectField};
use crate::standard::{group, measure};
use crate::FieldGroup;

pub(super) fn groups() -> Vec<FieldGroup> {
    let event = &[Class::ExperienceEvent];
    vec![
        group(
            "experienceevent-commerce",
            "Commerce Details",
            "Orders, payments, carts and commerce measures such as purchases and product views.",
            event,
            ObjectField::new().with("commerce", commerce()),
        ),
        group(
            "experienceevent-product-list-items",
            "Product List Items",
            "The products an event is about.",
            event,
            ObjectField::new().with("productListItems", product_list_items()),
        ),
        group(
            "experienceevent-web",
            "Web Details",
            "The web page, referrer and interaction of a web event.",
            event,
            ObjectField::new().with("web", web()),
        ),
        group(
            "experienceevent-environment-details",
            "Environment Details",
            "The browser, operating system, network and device the event came from.",
            event,
            ObjectField::new()
                .with("environment", environment())
                .with("device", device()),
        ),
        group(
            "experienceevent-marketing",
            "Campaign Marketing Details",
            "The campaign an event belongs to and direct-marketing measures.",
            event,
            ObjectField::new()
                .with("marketing", marketing())
                .with("directMarketing", direct_marketing()),
        ),
        group(
            "experienceevent-support-interactions",
            "Support Interactions",
            "Call-center and support cases: channel, reason, outcome and satisfaction.",
            event,
            ObjectField::new().with("support", support()),
        ),
        group(
            "experienceevent-place-context",
            "Place Context",
            "Where the event happened: local time and geography.",
            event,
            ObjectField::new().with("placeContext", place_context()),
        ),
    ]
}

fn commerce() -> Field {
    let payment = ObjectField::new()
        .with("paymentType", Field::string().titled("Payment type"))
        .with("paymentAmount", Field::number().titled("Payment amount"))
        .with("currencyCode", Field::string().titled("Currency code"))
        .with(
            "transactionID",
            Field::string().titled("Transaction identifier"),
        );
    let order = ObjectField::new()
        .with("purchaseID", Field::string().titled("Purchase identifier"))
        .with(
            "purchaseOrderNumber",
            Field::string().titled("Purchase order number"),
        )
        .with(
            "priceTotal",
            Field::number_range(Some(0.0), None).titled("Price total"),
        )
        .with(
            "currencyCode",
            Field::string_length(Some(3), Some(3))
                .titled("Currency code")
                .described("ISO 4217 currency code."),
        )
        .with(
            "payments",
            Field::array(Field::object(payment)).titled("Payments"),
        )
        .with("orderType", Field::string().titled("Order type"));
    let cart = ObjectField::new()
        .with("cartID", Field::string().titled("Cart identifier"))
        .with("cartSource", Field::string().titled("Cart source"));
    let commerce = ObjectField::new()
        .with("order", Field::object(order).titled("Order"))
        .with("purchases", measure("Purchases"))
        .with("productViews", measure("Product views"))
        .with("productListAdds", measure("Product list adds"))
        .with("productListRemovals", measure("Product list removals"))
        .with("productListOpens", measure("Product list opens"))
        .with("checkouts", measure("Checkouts"))
        .with("productListViews", measure("Product list views"))
        .with("cart", Field::object(cart).titled("Cart"));
    Field::object(commerce).titled("Commerce")
}

fn product_list_items() -> Field {
    let category = ObjectField::new()
        .with("categoryID", Field::string().titled("Category identifier"))
        .with("categoryName", Field::string().titled("Category name"));
    let item = ObjectField::new()
        .with("SKU", Field::string().titled("SKU"))
        .with("name", Field::string().titled("Name"))
        .with(
            "quantity",
            Field::integer_range(Some(0), None).titled("Quantity"),
        )
        .with("priceTotal", Field::number().titled("Price total"))
        .with("currencyCode", Field::string().titled("Currency code"))
        .with(
            "productAddMethod",
            Field::string().titled("Product add method"),
        )
        .with(
            "productCategories",
            Field::array(Field::object(category)).titled("Product categories"),
        );
    Field::array(Field::object(item)).titled("Product list items")
}

fn web() -> Field {
    let page = ObjectField::new()
        .with("name", Field::string().titled("Name"))
        .with("URL", Field::uri().titled("URL"))
        .with("siteSection", Field::string().titled("Site section"))
        .with("server", Field::string().titled("Server"))
        .with("isHomePage", Field::boolean().titled("Is home page"))
        .with("isErrorPage", Field::boolean().titled("Is error page"))
        .with("pageViews", measure("Page views"));
    let referrer = ObjectField::new()
        .with("URL", Field::uri().titled("URL"))
        .with("type", Field::string().titled("Type"));
    let interaction = ObjectField::new()
        .with("name", Field::string().titled("Name"))
        .with("URL", Field::string().titled("URL"))
        .with("type", Field::string().titled("Type"))
        .with("linkClicks", measure("Link clicks"));
    let web = ObjectField::new()
        .with(
            "webPageDetails",
            Field::object(page).titled("Web page details"),
        )
        .with(
            "webReferrer",
            Field::object(referrer).titled("Web referrer"),
        )
        .with(
            "webInteraction",
            Field::object(interaction).titled("Web interaction"),
        );
    Field::object(web).titled("Web")
}

fn environment() -> Field {
    let browser = ObjectField::new()
        .with("name", Field::string().titled("Name"))
        .with("version", Field::string().titled("Version"))
        .with("userAgent", Field::string().titled("User agent"));
    let environment = ObjectField::new()
        .with("type", Field::string().titled("Type"))
        .with(
            "browserDetails",
            Field::object(browser).titled("Browser details"),
        )
        .with(
            "operatingSystem",
            Field::string().titled("Operating system"),
        )
        .with("ipV4", Field::string().titled("IPv4 address"));
    Field::object(environment).titled("Environment")
}

fn device() -> Field {
    let device = ObjectField::new()
        .with("type", Field::string().titled("Type"))
        .with("manufacturer", Field::string().titled("Manufacturer"))
        .with("model", Field::string().titled("Model"));
    Field::object(device).titled("Device")
}

fn marketing() -> Field {
    let channels = &[
        "email",
        "sms",
        "push",
        "web",
        "social",
        "display",
        "direct_mail",
        "call",
    ];
    let marketing = ObjectField::new()
        .with("trackingCode", Field::string().titled("Tracking code"))
        .with("campaignID", Field::string().titled("Campaign identifier"))
        .with("campaignName", Field::string().titled("Campaign name"))
        .with("campaignGroup", Field::string().titled("Campaign group"))
        .with("channel", Field::enumeration(channels).titled("Channel"));
    Field::object(marketing).titled("Marketing")
}

fn direct_marketing() -> Field {
    let direct = ObjectField::new()
        .with("messageID", Field::string().titled("Message identifier"))
        .with("sends", measure("Sends"))
        .with("opens", measure("Opens"))
        .with("clicks", measure("Clicks"))
        .with("unsubscriptions", measure("Unsubscriptions"))
        .with("bounces", measure("Bounces"));
    Field::object(direct)
        .titled("Direct marketing")
        .described("Measures of email, SMS and push messages; the event type says which.")
}

fn support() -> Field {
    let channels = &["call", "chat", "email", "messaging", "in_person"];
    let outcomes = &[
        "resolved",
        "escalated",
        "unresolved",
        "callback_scheduled",
        "transferred",
    ];
    let support = ObjectField::new()
        .with("caseID", Field::string().titled("Case identifier"))
        .with("channel", Field::enumeration(channels).titled("Channel"))
        .with("reason", Field::string().titled("Reason"))
        .with("outcome", Field::enumeration(outcomes).titled("Outcome"))
        .with(
            "satisfaction",
            Field::integer_range(Some(1), Some(5)).titled("Satisfaction score"),
        )
        .with("agentID", Field::string().titled("Agent identifier"))
        .with(
            "durationSeconds",
            Field::integer_range(Some(0), None).titled("Duration in seconds"),
        )
        .with(
            "notes",
            Field::string_length(None, Some(4000)).titled("Notes"),
        );
    Field::object(support).titled("Support interaction")
}

fn place_context() -> Field {
    let coordinates = ObjectField::new()
        .with(
            "latitude",
            Field::number_range(Some(-90.0), Some(90.0)).titled("Latitude"),
        )
        .with(
            "longitude",
            Field::number_range(Some(-180.0), Some(180.0)).titled("Longitude"),
        );
    let geo = ObjectField::new()
        .with("countryCode", Field::string().titled("Country code"))
        .with("city", Field::string().titled("City"))
        .with("stateProvince", Field::string().titled("State or province"))
        .with("postalCode", Field::string().titled("Postal code"))
        .with("_schema", Field::object(coordinates).titled("Coordinates"));
    let place = ObjectField::new()
        .with("localTime", Field::date_time().titled("Local time"))
        .with("geo", Field::object(geo).titled("Geography"));
    Field::object(place).titled("Place context")
}
