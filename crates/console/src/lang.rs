//! The console's two languages, how one is chosen for a request, and every visible text in both.

use std::fmt::Display;

/// The language a page is rendered in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Lang {
    /// English (the default).
    #[default]
    En,
    /// Spanish; numbers and amounts follow US conventions, as for the agents of a US retailer.
    Es,
}

/// The cookie that keeps an agent's explicit choice (`en` or `es`).
pub const LANG_COOKIE: &str = "console_lang";

impl Lang {
    /// Both languages, in the order the switch shows them.
    pub const ALL: [Lang; 2] = [Lang::En, Lang::Es];

    /// The language code (`en`, `es`), as in `<html lang>` and the cookie.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Es => "es",
        }
    }

    /// The language's own name, for the switch.
    pub fn native_name(self) -> &'static str {
        match self {
            Lang::En => "English",
            Lang::Es => "Español",
        }
    }

    /// A language tag or cookie value (`es`, `ES-mx`, `en_US`) to a language, if supported.
    pub fn parse(tag: &str) -> Option<Lang> {
        let primary = tag.trim().split(['-', '_']).next().unwrap_or("");
        match primary.to_ascii_lowercase().as_str() {
            "en" => Some(Lang::En),
            "es" => Some(Lang::Es),
            _ => None,
        }
    }

    /// Chooses the language of a request: the [`LANG_COOKIE`] value when it names a supported
    /// language, else the supported language the `Accept-Language` header prefers most (q-values
    /// honoured, `q=0` refuses, earlier wins a tie, `*` means the default), else English.
    pub fn negotiate(accept_language: Option<&str>, cookie: Option<&str>) -> Lang {
        if let Some(lang) = cookie.and_then(Lang::parse) {
            return lang;
        }
        let mut best: Option<(f32, Lang)> = None;
        for entry in accept_language.unwrap_or("").split(',') {
            let mut parts = entry.split(';');
            let tag = parts.next().unwrap_or("").trim();
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            if q.is_nan() || q <= 0.0 {
                continue;
            }
            let lang = if tag == "*" {
                Some(Lang::default())
            } else {
                Lang::parse(tag)
            };
            if let Some(lang) = lang {
                if best.is_none_or(|(q_best, _)| q > q_best) {
                    best = Some((q, lang));
                }
            }
        }
        best.map_or(Lang::default(), |(_, lang)| lang)
    }

    pub(crate) fn t(self, msg: Msg) -> &'static str {
        msg.text(self)
    }

    /// A message with `{}` placeholders filled in order.
    pub(crate) fn f(self, msg: Msg, args: &[&dyn Display]) -> String {
        let mut out = String::new();
        let mut args = args.iter();
        let mut pieces = msg.text(self).split("{}");
        out.push_str(pieces.next().unwrap_or(""));
        for piece in pieces {
            if let Some(arg) = args.next() {
                out.push_str(&arg.to_string());
            }
            out.push_str(piece);
        }
        out
    }
}

macro_rules! messages {
    ($($key:ident => $en:literal, $es:literal;)*) => {
        /// Every visible text of the console, in English and Spanish.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub(crate) enum Msg { $($key),* }

        impl Msg {
            #[cfg(test)]
            const ALL: &'static [(Msg, &'static str)] = &[$((Msg::$key, stringify!($key))),*];

            fn text(self, lang: Lang) -> &'static str {
                match (self, lang) {
                    $((Msg::$key, Lang::En) => $en, (Msg::$key, Lang::Es) => $es,)*
                }
            }
        }
    };
}

messages! {
    // Shell
    AppName => "Rapport console", "Consola Rapport";
    SkipToContent => "Skip to content", "Ir al contenido";
    LanguageSwitch => "Language", "Idioma";
    LiveOn => "Live", "En vivo";
    LiveOff => "Reconnecting…", "Reconectando…";
    RequestFailed => "The server did not answer; what you see may be out of date. Retrying on the next change.", "El servidor no respondió; lo que ve puede estar desactualizado. Se reintentará con el próximo cambio.";
    Loading => "Loading…", "Cargando…";
    // Search
    SearchTitle => "Find a customer", "Buscar un cliente";
    SearchLabel => "Email, phone, CRM id, loyalty id or ECID", "Correo, teléfono, id CRM, id de fidelidad o ECID";
    SearchButton => "Search", "Buscar";
    NamespaceLabel => "Identity type", "Tipo de identidad";
    DetectAutomatically => "Detect automatically", "Detectar automáticamente";
    SearchHint => "Press / anywhere to come back here.", "Pulse / en cualquier lugar para volver aquí.";
    NotFound => "No customer matches “{}”.", "Ningún cliente coincide con «{}».";
    NotFoundTried => "Looked for it as: {}.", "Se buscó como: {}.";
    NotFoundHint => "Check the spelling, or choose the identity type explicitly.", "Revise la escritura o elija el tipo de identidad.";
    MatchesTitle => "{} customers match “{}”", "{} clientes coinciden con «{}»";
    MatchesHint => "Several customers share this identity: pick the one on the line.", "Varios clientes comparten esta identidad: elija el que está al teléfono.";
    ColName => "Name", "Nombre";
    ColEmail => "Email", "Correo";
    ColCity => "City", "Ciudad";
    ColTier => "Loyalty tier", "Nivel de fidelidad";
    ColLastActivity => "Last activity", "Última actividad";
    RecentTitle => "Recently viewed", "Vistos recientemente";
    RecentEmpty => "No customer viewed yet.", "Aún no ha visto ningún cliente.";
    // Profile overview
    ContactDetails => "Contact details", "Datos de contacto";
    Phone => "Phone", "Teléfono";
    Address => "Address", "Dirección";
    Born => "Born", "Nacimiento";
    PreferredLanguage => "Language", "Idioma";
    Points => "{} points", "{} puntos";
    TierBronze => "Bronze", "Bronce";
    TierSilver => "Silver", "Plata";
    TierGold => "Gold", "Oro";
    TierPlatinum => "Platinum", "Platino";
    NotAMember => "Not a loyalty member", "No es miembro del programa";
    CustomerSince => "Customer since", "Cliente desde";
    TenureNew => "less than a month", "menos de un mes";
    TenureMonth => "1 month", "1 mes";
    TenureMonths => "{} months", "{} meses";
    TenureYears => "{} years", "{} años";
    ConsentTitle => "Contact preferences", "Preferencias de contacto";
    DoNotContact => "No marketing at all", "Sin marketing de ningún tipo";
    DoNotCall => "Do not call", "No llamar";
    EmailOptOut => "Email opt-out", "Sin correos";
    SmsOptOut => "SMS opt-out", "Sin SMS";
    CallOk => "Calls OK", "Acepta llamadas";
    EmailOk => "Email OK", "Acepta correos";
    SmsOk => "SMS OK", "Acepta SMS";
    CallUnknown => "Calls: not asked", "Llamadas: sin respuesta";
    EmailUnknown => "Email: not asked", "Correo: sin respuesta";
    SmsUnknown => "SMS: not asked", "SMS: sin respuesta";
    Preferred => "Prefers {}", "Prefiere {}";
    ChannelCall => "calls", "llamadas";
    ChannelEmail => "email", "correo";
    ChannelSms => "SMS", "SMS";
    Since => "since", "desde";
    ProfileId => "Profile", "Perfil";
    // Scores
    ScoresTitle => "Value and risk", "Valor y riesgo";
    LifetimeValue => "Lifetime value", "Valor del cliente";
    SpentToDate => "Spent to date", "Gastado hasta hoy";
    PredictedValue => "Predicted, next {} weeks", "Previsto, próximas {} semanas";
    ExpectedPurchases => "{} purchases expected, {} likely still active", "{} compras previstas, {} de probabilidad de seguir activo";
    ChurnRisk => "Churn risk", "Riesgo de abandono";
    ChurnHorizon => "chance of no purchase in the next {} days", "probabilidad de no comprar en los próximos {} días";
    BandLow => "Low", "Bajo";
    BandMedium => "Medium", "Medio";
    BandHigh => "High", "Alto";
    RaisesRisk => "Raises risk", "Aumenta el riesgo";
    LowersRisk => "Lowers risk", "Reduce el riesgo";
    ScoredAt => "Scored", "Calculado";
    NoScores => "No scores yet: the models have not scored this customer.", "Aún sin puntuaciones: los modelos no han evaluado a este cliente.";
    // Segments
    SegmentsTitle => "Audiences", "Audiencias";
    SegmentsNone => "Not in any audience.", "No pertenece a ninguna audiencia.";
    SegmentsLeft => "Recently left:", "Salió hace poco de:";
    WhyButton => "Why {}?", "¿Por qué {}?";
    ExplainHint => "Choose an audience to see why the customer is in it.", "Elija una audiencia para ver por qué el cliente pertenece a ella.";
    // Explanation
    ExplainTitle => "Why: {}", "Por qué: {}";
    Qualifies => "The customer is in this audience.", "El cliente pertenece a esta audiencia.";
    DoesNotQualify => "The customer is not in this audience.", "El cliente no pertenece a esta audiencia.";
    ExcludedByConsent => "The conditions hold, but the customer opted out of marketing, so they are left out.", "Las condiciones se cumplen, pero el cliente rechazó el marketing, así que queda fuera.";
    MemberSince => "Member since", "Miembro desde";
    NextChange => "May change without new activity at", "Puede cambiar sin nueva actividad el";
    Holds => "holds", "se cumple";
    DoesNotHold => "does not hold", "no se cumple";
    ComparedValues => "{} compared with {}", "{} comparado con {}";
    MatchedEvents => "{} matching events", "{} eventos coinciden";
    EvaluatedAt => "Evaluated", "Evaluado";
    // Purchases
    PurchasesTitle => "Recent purchases", "Compras recientes";
    PurchasesSummary => "{} orders in the last 12 months, {} in total", "{} pedidos en los últimos 12 meses, {} en total";
    PurchasesNone => "No purchase in the last 12 months.", "Ninguna compra en los últimos 12 meses.";
    ColDate => "Date", "Fecha";
    ColProducts => "Products", "Productos";
    ColTotal => "Total", "Total";
    // Campaigns
    CampaignsTitle => "Email campaigns", "Campañas de correo";
    CampaignsSummary => "{} sent, {} opened, {} clicked", "{} enviados, {} abiertos, {} con clic";
    CampaignsNone => "No campaign email in the last 12 months.", "Ningún correo de campaña en los últimos 12 meses.";
    ColCampaign => "Campaign", "Campaña";
    ColSent => "Sent", "Enviado";
    ColResponse => "Response", "Respuesta";
    Opened => "Opened", "Abierto";
    Clicked => "Clicked", "Clic";
    Unsubscribed => "Unsubscribed", "Se dio de baja";
    Bounced => "Bounced", "Rebotado";
    NotOpened => "Not opened", "No abierto";
    // Support
    SupportTitle => "Support history", "Historial de soporte";
    SupportSummary => "{} contacts, average satisfaction {}", "{} contactos, satisfacción media {}";
    SupportNone => "No support contact in the last 12 months.", "Ningún contacto con soporte en los últimos 12 meses.";
    ColReason => "Reason", "Motivo";
    ColOutcome => "Outcome", "Resultado";
    ColSatisfaction => "Satisfaction", "Satisfacción";
    Call => "Call", "Llamada";
    Chat => "Chat", "Chat";
    OutcomeResolved => "resolved", "resuelto";
    OutcomeEscalated => "escalated", "escalado";
    OutcomeUnresolved => "unresolved", "sin resolver";
    OutcomeCallback => "callback scheduled", "devolución de llamada programada";
    OutcomeTransferred => "transferred", "transferido";
    OutOfFive => "{} of 5", "{} de 5";
    // Spend chart
    SpendTitle => "Spend per month", "Gasto por mes";
    SpendChartTitle => "Spend per month over the last 12 months", "Gasto por mes en los últimos 12 meses";
    SpendChartDesc => "{} in total; highest month {} ({})", "{} en total; mes más alto {} ({})";
    SpendData => "Data", "Datos";
    ColMonth => "Month", "Mes";
    ColSpend => "Spend", "Gasto";
    Month1 => "Jan", "ene";
    Month2 => "Feb", "feb";
    Month3 => "Mar", "mar";
    Month4 => "Apr", "abr";
    Month5 => "May", "may";
    Month6 => "Jun", "jun";
    Month7 => "Jul", "jul";
    Month8 => "Aug", "ago";
    Month9 => "Sep", "sept";
    Month10 => "Oct", "oct";
    Month11 => "Nov", "nov";
    Month12 => "Dec", "dic";
    // Computed attributes
    ComputedTitle => "Computed attributes", "Atributos calculados";
    ComputedNone => "No computed attribute has a value yet.", "Ningún atributo calculado tiene valor todavía.";
    EventsTruncated => "Summaries use the customer's {} most recent events only.", "Los resúmenes usan solo los {} eventos más recientes del cliente.";
    // Timeline
    TimelineTitle => "Timeline", "Cronología";
    KindLabel => "Kind", "Tipo";
    KindAll => "All", "Todos";
    KindPurchase => "Purchase", "Compra";
    KindWeb => "Web and shopping", "Web y compras";
    KindEmail => "Email", "Correo";
    KindSupport => "Support", "Soporte";
    KindApp => "App", "App";
    KindOther => "Other", "Otro";
    FromLabel => "From", "Desde";
    ToLabel => "To", "Hasta";
    ApplyFilter => "Apply", "Aplicar";
    MoreEvents => "Show older events", "Ver eventos anteriores";
    NoEvents => "No events for these filters.", "No hay eventos con estos filtros.";
    EvPurchase => "Purchase", "Compra";
    EvCheckout => "Checkout", "Pago iniciado";
    EvCartAdd => "Added to cart", "Añadido al carrito";
    EvProductView => "Viewed product", "Vio el producto";
    EvPageView => "Viewed page", "Vio la página";
    EvAppLaunch => "Opened the app", "Abrió la app";
    EvEmailSent => "Email sent", "Correo enviado";
    EvEmailOpened => "Email opened", "Correo abierto";
    EvEmailClicked => "Email clicked", "Clic en correo";
    EvEmailUnsubscribed => "Unsubscribed", "Baja de correos";
    EvEmailBounced => "Email bounced", "Correo rebotado";
    EvCall => "Support call", "Llamada a soporte";
    EvChat => "Support chat", "Chat con soporte";
    // Identity
    IdentityTitle => "Identity graph", "Grafo de identidades";
    IdentitySummary => "{} identities linked", "{} identidades vinculadas";
    ColNamespace => "Type", "Tipo";
    ColValue => "Value", "Valor";
    ColLinked => "Linked", "Vinculado";
    ColLastSeen => "Last seen", "Visto por última vez";
    ColSource => "Source", "Origen";
    RemovedTitle => "Links the rules removed", "Vínculos eliminados por las reglas";
    RefusedTitle => "Identities never linked", "Identidades nunca vinculadas";
    ColLink => "Link", "Vínculo";
    ColWhen => "When", "Cuándo";
    IdentityNotLoaded => "The identity graph could not be loaded.", "No se pudo cargar el grafo de identidades.";
    ReasonGraphLimit => "This customer's graph reached its limit of {} identities, so the oldest, least specific identities (cookies first, then devices) were unlinked to make room.", "El grafo de este cliente alcanzó su límite de {} identidades, así que se desvincularon las identidades más antiguas y menos específicas (primero cookies, luego dispositivos).";
    ReasonUnique => "A customer can have only one {}: the newer link to {} won, so this link to {} was dropped (a shared device follows whoever signed in last).", "Un cliente solo puede tener un {}: ganó el vínculo más reciente a {}, así que se descartó este vínculo a {} (un dispositivo compartido sigue a quien inició sesión por última vez).";
    ReasonBlocked => "This value is on the block list of placeholder values (such as test@test.com) that would join unrelated people, so it links nobody.", "Este valor está en la lista de valores de relleno bloqueados (como test@test.com) que unirían a personas distintas, así que no vincula a nadie.";
    ReasonPlaceholder => "This is a placeholder (null, anonymous, invalid…) rather than a real identity, so it was ignored.", "Es un valor de relleno (null, anonymous, invalid…) y no una identidad real, así que se ignoró.";
    ReasonEmpty => "The value was empty.", "El valor estaba vacío.";
    ReasonTooLong => "The value is longer than 1,024 characters.", "El valor tiene más de 1.024 caracteres.";
    ReasonMalformedEcid => "This is not a valid ECID (an ECID has exactly 38 digits).", "No es un ECID válido (un ECID tiene exactamente 38 dígitos).";
    // Errors
    ErrorUnknownTitle => "Customer not found", "Cliente no encontrado";
    ErrorUnknownBody => "No customer has the identity “{}”. It may be mistyped, or the customer may not be known yet.", "Ningún cliente tiene la identidad «{}». Puede estar mal escrita o el cliente aún no es conocido.";
    ErrorServerTitle => "Something went wrong", "Algo salió mal";
    ErrorServerBody => "The server could not answer this request. Try again in a moment; if it keeps happening, tell your administrator (reference {}).", "El servidor no pudo responder. Vuelva a intentarlo en un momento; si sigue ocurriendo, avise al administrador (referencia {}).";
    ErrorTooLargeTitle => "Profile too large to show in full", "Perfil demasiado grande para mostrarlo completo";
    ErrorTooLargeBody => "This customer's profile holds more data than the console can show at once. Search by a more specific identity (CRM id or email), or ask a data engineer to look at the identity graph.", "El perfil de este cliente tiene más datos de los que la consola puede mostrar a la vez. Busque por una identidad más específica (id CRM o correo) o pida a un ingeniero de datos que revise el grafo de identidades.";
    ErrorUnavailableTitle => "The customer data is not available right now", "Los datos del cliente no están disponibles ahora";
    ErrorUnavailableBody => "The profile store did not answer. Try again in a moment.", "El almacén de perfiles no respondió. Vuelva a intentarlo en un momento.";
    BackToSearch => "Back to search", "Volver a la búsqueda";
    ErrorNotPermittedTitle => "Not allowed", "No permitido";
    ErrorNotPermittedBody => "Your role does not allow this page. Ask an administrator if you need it.", "Su rol no permite esta página. Pida acceso a un administrador si lo necesita.";
    // Audit log
    SectionsNav => "Console sections", "Secciones de la consola";
    AuditTitle => "Audit log", "Registro de auditoría";
    AuditIntro => "Who looked at what, newest first. Times are in UTC.", "Quién consultó qué, de lo más reciente a lo más antiguo. Las horas están en UTC.";
    AuditFilterLabel => "Filter the audit log", "Filtrar el registro de auditoría";
    AuditFrom => "From (UTC)", "Desde (UTC)";
    AuditTo => "To (UTC)", "Hasta (UTC)";
    AuditActor => "Who", "Quién";
    AuditActorHint => "A user name, or key:<key id> for an API key.", "Un nombre de usuario, o key:<id de la clave> para una clave de API.";
    AuditAction => "Action", "Acción";
    AuditProfile => "Profile id", "Id de perfil";
    AuditClear => "Clear filters", "Quitar filtros";
    ColVia => "Via", "Vía";
    ColProfiles => "Profiles", "Perfiles";
    ColFields => "Fields returned", "Campos devueltos";
    ColClient => "Client address", "Dirección del cliente";
    AuditCount => "{} entries, newest first.", "{} entradas, de la más reciente a la más antigua.";
    AuditEmpty => "The audit log has no entries yet.", "El registro de auditoría aún no tiene entradas.";
    AuditNoMatch => "No entry matches these filters.", "Ninguna entrada coincide con estos filtros.";
    AuditProblem => "The filters could not be applied: {}", "No se pudieron aplicar los filtros: {}";
    AuditPages => "Pages of the audit log", "Páginas del registro de auditoría";
    AuditOlder => "Older entries", "Entradas anteriores";
    AuditNewest => "Newest entries", "Entradas más recientes";
    ActorUser => "User", "Usuario";
    ActorKey => "API key", "Clave de API";
    ActorMaster => "Master key", "Clave maestra";
    ActorDev => "Development mode", "Modo de desarrollo";
    ActorSystem => "System", "Sistema";
    ActorRole => "role {}", "rol {}";
    ViaApi => "API", "API";
    ViaConsole => "Console", "Consola";
    ViaCli => "Command line", "Línea de comandos";
    FieldsAll => "All fields", "Todos los campos";
    FieldsHidden => "{} hidden by labels", "{} ocultos por etiquetas";
    ProfilesMore => "and {} more", "y {} más";
    OutcomeAnswered => "answered", "respondido";
    OutcomeRefused => "refused", "rechazado";
    OutcomeFailed => "failed", "falló";
    // Sign-in
    SignInTitle => "Sign in", "Iniciar sesión";
    SignInName => "User name", "Nombre de usuario";
    SignInPassword => "Password", "Contraseña";
    SignInButton => "Sign in", "Iniciar sesión";
    SignInInvalid => "The user name or the password is wrong.", "El nombre de usuario o la contraseña no son correctos.";
    SignInThrottled => "Too many failed attempts. Try again in {} seconds.", "Demasiados intentos fallidos. Vuelva a intentarlo en {} segundos.";
    SignInFormExpired => "The form expired. Please sign in again.", "El formulario caducó. Vuelva a iniciar sesión.";
    SignInSessionEnded => "Your session ended. Please sign in again.", "Su sesión terminó. Vuelva a iniciar sesión.";
    SignInSignedOut => "You are signed out.", "Ha cerrado la sesión.";
    SignedInAs => "Signed in as {}", "Sesión de {}";
    SignOut => "Sign out", "Cerrar sesión";
    Unknown => "unknown", "desconocido";
    Yes => "yes", "sí";
    No => "no", "no";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_is_in_both_languages_with_the_same_placeholders() {
        let mut names = std::collections::HashSet::new();
        for (msg, name) in Msg::ALL {
            assert!(names.insert(*name), "{name} twice");
            let en = msg.text(Lang::En);
            let es = msg.text(Lang::Es);
            for (lang, text) in [("en", en), ("es", es)] {
                assert!(!text.trim().is_empty(), "{name} is empty in {lang}");
                assert_eq!(text, text.trim(), "{name} has outer spaces in {lang}");
            }
            assert_eq!(
                en.matches("{}").count(),
                es.matches("{}").count(),
                "{name}: placeholders differ between languages"
            );
        }
    }

    #[test]
    fn negotiation_prefers_the_cookie_then_q_values() {
        assert_eq!(Lang::negotiate(None, None), Lang::En);
        assert_eq!(
            Lang::negotiate(Some("es-MX,es;q=0.9,en;q=0.8"), None),
            Lang::Es
        );
        assert_eq!(Lang::negotiate(Some("en;q=0.5, es;q=0.8"), None), Lang::Es);
        assert_eq!(
            Lang::negotiate(Some("fr-FR, es;q=0.3, en;q=0.2"), None),
            Lang::Es
        );
        assert_eq!(Lang::negotiate(Some("es;q=0, fr"), None), Lang::En);
        assert_eq!(Lang::negotiate(Some("de, *;q=0.1"), None), Lang::En);
        assert_eq!(Lang::negotiate(Some("es;q=bad"), None), Lang::Es);
        assert_eq!(Lang::negotiate(Some("es-ES"), Some("en")), Lang::En);
        assert_eq!(Lang::negotiate(Some("en"), Some("es")), Lang::Es);
        assert_eq!(Lang::negotiate(Some("es"), Some("klingon")), Lang::Es);
        assert_eq!(
            Lang::negotiate(Some("en, es"), None),
            Lang::En,
            "a tie keeps the first"
        );
    }

    #[test]
    fn fill_replaces_placeholders_in_order() {
        assert_eq!(
            Lang::Es.f(Msg::ComparedValues, &[&48, &"0"]),
            "48 comparado con 0"
        );
    }
}
