//! Normalised keys of a customer as typed in a registration: the name without case, diacritics,
//! punctuation or legal form; the registrable domain of a website or of a business email; the
//! ISO country code. Two registrations of one customer typed by different people should reach the
//! same keys; everything fuzzy beyond that is the index's job.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// The keys of one customer as typed in a registration, computed once and handed to the index
/// (to insert an entry or to look for entries naming the same customer).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CustomerKeys {
    /// The normalised name ([`normalise_name`]); its space-separated words are the index's tokens.
    pub name_key: String,
    /// The registrable domain of the website, or else of a business email address.
    pub domain: Option<String>,
    /// The ISO 3166-1 alpha-2 code, upper case.
    pub country: Option<String>,
}

impl CustomerKeys {
    /// The keys of a registration: the website wins over the email's domain (a partner's contact
    /// may be an agency's address), and generic mail providers never serve as a domain.
    pub fn new(name: &str, domain_or_website: Option<&str>, email: Option<&str>, country: Option<&str>) -> Self {
        let domain =
            domain_or_website.and_then(domain_key).filter(|d| !is_generic_mail_domain(d)).or_else(|| email.and_then(email_domain_key));
        CustomerKeys { name_key: normalise_name(name), domain, country: country.and_then(country_key) }
    }
}

/// Legal forms that say nothing about which company it is, as token sequences of a normalised
/// name (dots and apostrophes already dropped, "&" already "and"). Stripped from the end, and a
/// few from the front, while a word of the name remains.
const LEGAL_FORMS: &[&[&str]] = &[
    // English-speaking countries
    &["inc"],
    &["incorporated"],
    &["llc"],
    &["llp"],
    &["lp"],
    &["ltd"],
    &["limited"],
    &["plc"],
    &["corp"],
    &["corporation"],
    &["co"],
    &["company"],
    &["pty"],
    &["pvt"],
    &["private", "limited"],
    // German-speaking countries
    &["gmbh"],
    &["mbh"],
    &["ag"],
    &["kg"],
    &["kgaa"],
    &["ohg"],
    &["ug"],
    &["haftungsbeschrankt"],
    &["aktiengesellschaft"],
    &["gesellschaft", "mit", "beschrankter", "haftung"],
    // Romance languages
    &["sa"],
    &["s", "a"],
    &["sas"],
    &["sasu"],
    &["sarl"],
    &["eurl"],
    &["srl"],
    &["spa"],
    &["sl"],
    &["slu"],
    &["sa", "de", "cv"],
    &["de", "cv"],
    &["s", "de", "rl"],
    &["ltda"],
    &["societe", "anonyme"],
    &["societa", "per", "azioni"],
    &["sociedad", "anonima"],
    &["sociedad", "limitada"],
    &["lda"],
    // Benelux
    &["bv"],
    &["nv"],
    &["bvba"],
    &["sprl"],
    &["vof"],
    &["naamloze", "vennootschap"],
    &["besloten", "vennootschap"],
    // Nordics
    &["oy"],
    &["oyj"],
    &["ab"],
    &["as"],
    &["asa"],
    &["aps"],
    &["a", "s"],
    &["ehf"],
    &["aktiebolag"],
    &["aktieselskab"],
    &["aksjeselskap"],
    &["osakeyhtio"],
    // Central and Eastern Europe
    &["sp", "z", "oo"],
    &["sp", "zoo"],
    &["spolka", "z", "oo"],
    &["spolka", "z", "ograniczona", "odpowiedzialnoscia"],
    &["spolka", "akcyjna"],
    &["sro"],
    &["doo"],
    &["d", "o", "o"],
    &["kft"],
    &["zrt"],
    &["ooo"],
    &["zao"],
    &["oao"],
    &["pjsc"],
    &["jsc"],
    &["se"],
    // Asia-Pacific
    &["kk"],
    &["kabushiki", "kaisha"],
    &["kabushikigaisha"],
    &["yugen", "kaisha"],
    &["godo", "kaisha"],
    &["gk"],
    &["pte"],
    &["sdn", "bhd"],
    &["bhd"],
    &["berhad"],
    &["tbk"],
    &["pt"],
];

/// Legal forms (and an article) that also come first in some names ("Kabushiki Kaisha Toshiba",
/// "PT Astra", "The Acme Company").
const LEADING_FORMS: &[&[&str]] = &[&["the"], &["kabushiki", "kaisha"], &["pt"], &["ooo"], &["zao"], &["oao"]];

/// The normalised name: lower case ASCII where a letter has an ASCII base (diacritics dropped,
/// "ß" → "ss", "ø" → "o"…), "&" → "and", punctuation dropped (dots and apostrophes inside
/// abbreviations vanish so "L.L.C." is "llc"), legal forms stripped while a word remains, single
/// spaces. Idempotent, so a stored key and a key recomputed from it agree.
pub fn normalise_name(name: &str) -> String {
    let mut folded = String::with_capacity(name.len());
    for c in name.nfkd() {
        for lower in c.to_lowercase() {
            push_folded(&mut folded, lower);
        }
    }
    let mut tokens: Vec<&str> = folded.split_whitespace().collect();
    while strip_one_form(&mut tokens) {}
    tokens.join(" ")
}

/// Appends one lower-case, decomposed character as the normalised name spells it.
fn push_folded(out: &mut String, c: char) {
    match c {
        _ if is_combining_mark(c) => {}
        '&' | '+' => out.push_str(" and "),
        '.' | '\'' | '’' | '`' | '´' => {}
        'ß' => out.push_str("ss"),
        'ø' => out.push('o'),
        'æ' => out.push_str("ae"),
        'œ' => out.push_str("oe"),
        'đ' | 'ð' => out.push('d'),
        'ł' => out.push('l'),
        'þ' => out.push_str("th"),
        'ı' => out.push('i'),
        _ if c.is_alphanumeric() => out.push(c),
        _ => out.push(' '),
    }
}

/// Strips a dangling "and" (left by "& Co."), or one leading form from the front, or else one
/// legal form from the end, keeping at least one word; says whether it did.
fn strip_one_form(tokens: &mut Vec<&str>) -> bool {
    if tokens.len() > 1 && tokens.last() == Some(&"and") {
        tokens.pop();
        return true;
    }
    for form in LEADING_FORMS {
        if tokens.len() > form.len() && tokens.starts_with(form) {
            tokens.drain(..form.len());
            return true;
        }
    }
    for form in LEGAL_FORMS {
        if tokens.len() > form.len() && tokens.ends_with(form) {
            tokens.truncate(tokens.len() - form.len());
            return true;
        }
    }
    false
}

/// Second-level labels under which registries hand out names ("acme.co.uk" is one registrant's,
/// "co.uk" is not), and hosting platforms that give every customer a subdomain.
const SHARED_SUFFIXES: &[&str] = &[
    "co.uk",
    "org.uk",
    "ac.uk",
    "gov.uk",
    "ltd.uk",
    "plc.uk",
    "me.uk",
    "com.au",
    "net.au",
    "org.au",
    "co.nz",
    "org.nz",
    "co.jp",
    "ne.jp",
    "or.jp",
    "co.kr",
    "com.cn",
    "com.hk",
    "com.tw",
    "com.sg",
    "com.my",
    "co.id",
    "co.in",
    "com.br",
    "com.mx",
    "com.ar",
    "com.tr",
    "co.za",
    "co.il",
    "com.pl",
    "com.ua",
    "com.co",
    "com.pe",
    "com.ph",
    "com.vn",
    "co.th",
    "github.io",
    "herokuapp.com",
    "myshopify.com",
    "wixsite.com",
    "blogspot.com",
    "azurewebsites.net",
    "netlify.app",
    "vercel.app",
    "pages.dev",
];

/// The registrable domain of a website or bare domain, lower case: scheme, user info, port,
/// path, query and a leading "www." dropped, subdomains reduced to the name a registrant holds
/// ("eu.shop.acme.co.uk" → "acme.co.uk"). `None` when it is not a domain name.
pub fn domain_key(website_or_domain: &str) -> Option<String> {
    let text = website_or_domain.trim();
    let rest = text.split_once("://").map_or(text, |(_, rest)| rest);
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = host.rsplit_once('@').map_or(host, |(_, host)| host);
    let host = host.split(':').next().unwrap_or_default().trim_end_matches('.').to_lowercase();
    let labels: Vec<&str> = host.split('.').collect();
    let valid = labels.len() >= 2
        && labels.iter().all(|l| !l.is_empty() && !l.starts_with('-') && l.chars().all(|c| c.is_alphanumeric() || c == '-'))
        && labels.last().is_some_and(|tld| tld.chars().any(char::is_alphabetic));
    if !valid {
        return None;
    }
    let shared = SHARED_SUFFIXES.iter().any(|s| host.strip_suffix(s).is_some_and(|head| head.ends_with('.')));
    let keep = if shared { 3 } else { 2 };
    Some(labels[labels.len().saturating_sub(keep)..].join("."))
}

/// Mail providers whose domain says nothing about the customer (anyone can have an address there).
const GENERIC_MAIL_DOMAINS: &[&str] = &[
    "gmail.com",
    "googlemail.com",
    "icloud.com",
    "me.com",
    "mac.com",
    "aol.com",
    "mail.com",
    "email.com",
    "web.de",
    "t-online.de",
    "freenet.de",
    "posteo.de",
    "mailbox.org",
    "proton.me",
    "pm.me",
    "protonmail.com",
    "protonmail.ch",
    "tutanota.com",
    "tuta.io",
    "fastmail.com",
    "hey.com",
    "zoho.com",
    "zohomail.com",
    "mail.ru",
    "bk.ru",
    "inbox.ru",
    "list.ru",
    "rambler.ru",
    "qq.com",
    "163.com",
    "126.com",
    "sina.com",
    "naver.com",
    "daum.net",
    "hanmail.net",
    "rediffmail.com",
    "orange.fr",
    "free.fr",
    "laposte.net",
    "wanadoo.fr",
    "sfr.fr",
    "libero.it",
    "virgilio.it",
    "btinternet.com",
    "comcast.net",
    "verizon.net",
    "att.net",
    "sbcglobal.net",
    "seznam.cz",
    "wp.pl",
    "o2.pl",
    "interia.pl",
    "onet.pl",
    "bluewin.ch",
    "telenet.be",
    "skynet.be",
    "ziggo.nl",
    "kpnmail.nl",
];

/// Provider brands registered under many country domains (hotmail.co.uk, yahoo.fr, gmx.at…).
const GENERIC_MAIL_BRANDS: &[&str] = &["hotmail", "outlook", "live", "msn", "yahoo", "ymail", "gmx", "yandex", "aol"];

/// Whether a registrable domain belongs to a generic mail provider.
fn is_generic_mail_domain(domain: &str) -> bool {
    GENERIC_MAIL_DOMAINS.contains(&domain) || domain.split('.').next().is_some_and(|brand| GENERIC_MAIL_BRANDS.contains(&brand))
}

/// The registrable domain of a business email address; `None` for generic mail providers and
/// for text that is not an address.
pub fn email_domain_key(email: &str) -> Option<String> {
    let (local, domain) = email.trim().rsplit_once('@')?;
    if local.is_empty() || domain.contains(['/', ':']) {
        return None;
    }
    domain_key(domain).filter(|d| !is_generic_mail_domain(d))
}

/// ISO 3166-1 alpha-2 codes, two letters each.
const ISO_COUNTRIES: &str = "ADAEAFAGAIALAMAOAQARASATAUAWAXAZBABBBDBEBFBGBHBIBJBLBMBNBOBQBRBSBTBVBWBYBZCACCCDCFCGCHCICKCLCMCNCOCRCUCVCWCXCYCZ\
DEDJDKDMDODZECEEEGEHERESETFIFJFKFMFOFRGAGBGDGEGFGGGHGIGLGMGNGPGQGRGSGTGUGWGYHKHMHNHRHTHUIDIEILIMINIOIQIRISITJEJMJOJPKEKGKHKIKMKNKPKRKW\
KYKZLALBLCLILKLRLSLTLULVLYMAMCMDMEMFMGMHMKMLMMMNMOMPMQMRMSMTMUMVMWMXMYMZNANCNENFNGNINLNONPNRNUNZOMPAPEPFPGPHPKPLPMPNPRPSPTPWPYQARERORS\
RURWSASBSCSDSESGSHSISJSKSLSMSNSOSRSSSTSVSXSYSZTCTDTFTGTHTJTKTLTMTNTOTRTTTVTWTZUAUGUMUSUYUZVAVCVEVGVIVNVUWFWSYEYTZAZMZW";

/// Country names and other codes people type instead of the ISO code, normalised as names are.
const COUNTRY_NAMES: &[(&str, &str)] = &[
    ("germany", "DE"),
    ("deutschland", "DE"),
    ("deu", "DE"),
    ("united states", "US"),
    ("united states of america", "US"),
    ("usa", "US"),
    ("america", "US"),
    ("uk", "GB"),
    ("united kingdom", "GB"),
    ("great britain", "GB"),
    ("britain", "GB"),
    ("england", "GB"),
    ("scotland", "GB"),
    ("wales", "GB"),
    ("gbr", "GB"),
    ("france", "FR"),
    ("frankreich", "FR"),
    ("spain", "ES"),
    ("espana", "ES"),
    ("italy", "IT"),
    ("italia", "IT"),
    ("netherlands", "NL"),
    ("the netherlands", "NL"),
    ("holland", "NL"),
    ("nederland", "NL"),
    ("austria", "AT"),
    ("osterreich", "AT"),
    ("switzerland", "CH"),
    ("schweiz", "CH"),
    ("suisse", "CH"),
    ("belgium", "BE"),
    ("belgie", "BE"),
    ("belgique", "BE"),
    ("sweden", "SE"),
    ("sverige", "SE"),
    ("norway", "NO"),
    ("norge", "NO"),
    ("denmark", "DK"),
    ("danmark", "DK"),
    ("finland", "FI"),
    ("suomi", "FI"),
    ("poland", "PL"),
    ("polska", "PL"),
    ("portugal", "PT"),
    ("ireland", "IE"),
    ("canada", "CA"),
    ("mexico", "MX"),
    ("brazil", "BR"),
    ("brasil", "BR"),
    ("japan", "JP"),
    ("china", "CN"),
    ("india", "IN"),
    ("singapore", "SG"),
    ("australia", "AU"),
    ("new zealand", "NZ"),
    ("south africa", "ZA"),
];

/// The ISO 3166-1 alpha-2 code of a country as typed: a code in any case and spacing, or one of
/// the common names in [`COUNTRY_NAMES`]; `None` otherwise (an unknown country is no evidence).
pub fn country_key(country: &str) -> Option<String> {
    let trimmed = country.trim();
    if trimmed.len() == 2 && trimmed.chars().all(|c| c.is_ascii_alphabetic()) {
        let code = trimmed.to_ascii_uppercase();
        if code == "UK" {
            return Some("GB".to_owned());
        }
        let known = ISO_COUNTRIES.as_bytes().chunks(2).any(|c| c == code.as_bytes());
        return known.then_some(code);
    }
    let mut folded = String::with_capacity(trimmed.len());
    for c in trimmed.nfkd() {
        for lower in c.to_lowercase() {
            push_folded(&mut folded, lower);
        }
    }
    let name = folded.split_whitespace().collect::<Vec<_>>().join(" ");
    COUNTRY_NAMES.iter().find(|(n, _)| *n == name).map(|(_, code)| (*code).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn names_lose_case_diacritics_and_punctuation() {
        assert_eq!(normalise_name("  Müller   Straßenbau "), "muller strassenbau");
        assert_eq!(normalise_name("Søren Ærø Œuvre"), "soren aero oeuvre");
        assert_eq!(normalise_name("Café-Crème, S.A."), "cafe creme");
        assert_eq!(normalise_name("Łódź Ðata"), "lodz data");
        assert_eq!(normalise_name("O'Brien & Sons"), "obrien and sons");
        assert_eq!(normalise_name("Johnson & Johnson"), "johnson and johnson");
        assert_eq!(normalise_name("ＡＣＭＥ"), "acme");
    }

    #[test]
    fn legal_forms_are_stripped_in_many_languages() {
        for (typed, key) in [
            ("Acme Inc.", "acme"),
            ("Acme Incorporated", "acme"),
            ("Acme, L.L.C.", "acme"),
            ("Acme Ltd", "acme"),
            ("Acme Limited", "acme"),
            ("Acme GmbH", "acme"),
            ("Acme GmbH & Co. KG", "acme"),
            ("Acme AG", "acme"),
            ("Acme S.A.", "acme"),
            ("Acme S. A.", "acme"),
            ("Acme SAS", "acme"),
            ("Acme SARL", "acme"),
            ("Acme S.r.l.", "acme"),
            ("Acme S.p.A.", "acme"),
            ("Acme B.V.", "acme"),
            ("Acme NV", "acme"),
            ("Acme Oy", "acme"),
            ("Acme AB", "acme"),
            ("Acme AS", "acme"),
            ("Acme A/S", "acme"),
            ("Acme ApS", "acme"),
            ("Acme plc", "acme"),
            ("Acme Corp.", "acme"),
            ("Acme Corporation", "acme"),
            ("Acme & Co.", "acme"),
            ("Acme Company", "acme"),
            ("Acme Pty Ltd", "acme"),
            ("Acme Pty. Ltd.", "acme"),
            ("Acme K.K.", "acme"),
            ("Acme Kabushiki Kaisha", "acme"),
            ("Kabushiki Kaisha Acme", "acme"),
            ("Acme Co., Ltd.", "acme"),
            ("Acme Sdn. Bhd.", "acme"),
            ("Acme Pte. Ltd.", "acme"),
            ("Acme S.L.", "acme"),
            ("Acme Sp. z o.o.", "acme"),
            ("Acme s.r.o.", "acme"),
            ("Acme SA de CV", "acme"),
            ("The Acme Company", "acme"),
        ] {
            assert_eq!(normalise_name(typed), key, "{typed}");
        }
    }

    #[test]
    fn a_name_that_is_only_a_legal_form_keeps_a_word() {
        assert_eq!(normalise_name("Company"), "company");
        assert_eq!(normalise_name("Limited Ltd"), "limited");
        assert_eq!(normalise_name("The Co"), "co");
    }

    proptest! {
        #[test]
        fn normalising_is_idempotent(name in "\\PC{0,40}") {
            let once = normalise_name(&name);
            prop_assert_eq!(normalise_name(&once), once);
        }

        #[test]
        fn normalising_company_like_names_is_idempotent(
            name in "(The |Kabushiki Kaisha )?[A-Za-zÀ-ÿßØøÆæŒœ&.,' -]{1,30}( (GmbH|Inc\\.|S\\.A\\.|Ltd|Co\\.|& Co\\. KG|sp\\. z o\\.o\\.))*"
        ) {
            let once = normalise_name(&name);
            prop_assert_eq!(normalise_name(&once), once.clone());
            prop_assert!(!once.contains("  ") && once.trim() == once);
        }
    }

    #[test]
    fn domains_are_reduced_to_the_registrable_name() {
        assert_eq!(domain_key("https://www.Acme.com/contact?x=1").as_deref(), Some("acme.com"));
        assert_eq!(domain_key("acme.de").as_deref(), Some("acme.de"));
        assert_eq!(domain_key("http://user:pw@shop.acme.de:8080/").as_deref(), Some("acme.de"));
        assert_eq!(domain_key("eu.shop.acme.co.uk").as_deref(), Some("acme.co.uk"));
        assert_eq!(domain_key("www.acme.co.uk.").as_deref(), Some("acme.co.uk"));
        assert_eq!(domain_key("acme.github.io").as_deref(), Some("acme.github.io"));
        assert_eq!(domain_key("localhost"), None);
        assert_eq!(domain_key("10.0.0.1"), None);
        assert_eq!(domain_key("not a domain"), None);
        assert_eq!(domain_key(""), None);
    }

    #[test]
    fn email_domains_of_generic_providers_say_nothing() {
        assert_eq!(email_domain_key("Jane.Doe@Sales.Acme.com").as_deref(), Some("acme.com"));
        for generic in [
            "a@gmail.com",
            "a@googlemail.com",
            "a@outlook.com",
            "a@hotmail.co.uk",
            "a@hotmail.fr",
            "a@live.com",
            "a@yahoo.de",
            "a@icloud.com",
        ] {
            assert_eq!(email_domain_key(generic), None, "{generic}");
        }
        for generic in ["a@me.com", "a@aol.com", "a@gmx.net", "a@gmx.at", "a@web.de", "a@proton.me", "a@protonmail.com", "a@mail.ru"] {
            assert_eq!(email_domain_key(generic), None, "{generic}");
        }
        for generic in ["a@yandex.ru", "a@qq.com", "a@163.com", "a@zoho.com"] {
            assert_eq!(email_domain_key(generic), None, "{generic}");
        }
        assert_eq!(email_domain_key("not an email"), None);
        assert_eq!(email_domain_key("@acme.com"), None);
    }

    #[test]
    fn countries_become_iso_codes() {
        assert_eq!(country_key("de").as_deref(), Some("DE"));
        assert_eq!(country_key(" De ").as_deref(), Some("DE"));
        assert_eq!(country_key("Germany").as_deref(), Some("DE"));
        assert_eq!(country_key("Deutschland").as_deref(), Some("DE"));
        assert_eq!(country_key("United States").as_deref(), Some("US"));
        assert_eq!(country_key("USA").as_deref(), Some("US"));
        assert_eq!(country_key("UK").as_deref(), Some("GB"));
        assert_eq!(country_key("United  Kingdom").as_deref(), Some("GB"));
        assert_eq!(country_key("Österreich").as_deref(), Some("AT"));
        assert_eq!(country_key("XX"), None);
        assert_eq!(country_key("Atlantis"), None);
    }

    #[test]
    fn keys_prefer_the_website_and_ignore_generic_mail() {
        let keys = CustomerKeys::new("Acme GmbH", Some("https://www.acme.de"), Some("x@acme-group.com"), Some("Germany"));
        assert_eq!(keys, CustomerKeys { name_key: "acme".into(), domain: Some("acme.de".into()), country: Some("DE".into()) });
        assert_eq!(CustomerKeys::new("Acme", None, Some("x@acme-group.com"), None).domain.as_deref(), Some("acme-group.com"));
        assert_eq!(CustomerKeys::new("Acme", Some("gmail.com"), Some("x@gmail.com"), None).domain, None);
    }
}
