//! SEPA credit transfer files (ISO 20022 `pain.001.001.09`), the payment file a bank takes to pay
//! a payout run: one payment (`PmtInf`) from the workspace's debtor account with one transaction
//! (`CdtTrfTxInf`) per partner paid. The document is written as text here, element by element in
//! the order the schema's sequences require; a test in the server's suite validates what the
//! export produces against the ISO 20022 schema that the `sepaxml` package ships.
//!
//! SEPA narrows the ISO types: euros only, amounts of at most two decimals, names of at most 70
//! characters and references in the EPC's Latin character set (`a-z A-Z 0-9 / - ? : ( ) . , ' +`
//! and space), so names are transliterated ([`sepa_text`]) and ids lose their `_`.

use std::fmt::Write as _;

use trellis_core::{Bic, Iban, Timestamp};

/// The account a file pays from (the workspace's `sepa_debtor`).
#[derive(Debug, Clone)]
pub struct Debtor {
    pub name: String,
    pub iban: Iban,
    pub bic: Option<Bic>,
}

/// One payment to a partner.
#[derive(Debug, Clone)]
pub struct Transfer {
    /// The reference that travels with the money to the partner's bank statement.
    pub end_to_end_id: String,
    pub amount_minor: i64,
    pub creditor_name: String,
    pub iban: Iban,
    pub bic: Option<Bic>,
    /// Unstructured remittance information (at most 140 characters after [`sepa_text`]).
    pub remittance: String,
}

/// What a file holds, for the audit trail and the tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Totals {
    pub transactions: usize,
    pub control_sum_minor: i64,
}

/// Longest name SEPA carries (EPC rulebook), although the ISO type allows 140.
const NAME_MAX: usize = 70;
const REMITTANCE_MAX: usize = 140;
const ID_MAX: usize = 35;

/// The pain.001.001.09 document paying `transfers` from `debtor`, created at `created_at` (UTC)
/// and asked to be executed that day, with `message_id` as the message and payment information
/// id; amounts are euro cents.
pub fn credit_transfer(message_id: &str, created_at: Timestamp, debtor: &Debtor, transfers: &[Transfer]) -> (String, Totals) {
    let totals = Totals { transactions: transfers.len(), control_sum_minor: transfers.iter().map(|t| t.amount_minor).sum() };
    let at = created_at.to_datetime();
    let created =
        format!("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", at.year(), u8::from(at.month()), at.day(), at.hour(), at.minute(), at.second());
    let execution_date = &created[..10];
    let message_id = sepa_id(message_id);
    let debtor_name = sepa_text(&debtor.name, NAME_MAX);
    let mut xml = String::with_capacity(1_024 + transfers.len() * 640);
    xml.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    xml.push_str("<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:pain.001.001.09\">\n<CstmrCdtTrfInitn>\n");
    let _ = writeln!(
        xml,
        "<GrpHdr><MsgId>{id}</MsgId><CreDtTm>{created}</CreDtTm><NbOfTxs>{n}</NbOfTxs><CtrlSum>{sum}</CtrlSum><InitgPty><Nm>{name}</Nm></InitgPty></GrpHdr>",
        id = escape(&message_id),
        n = totals.transactions,
        sum = euros(totals.control_sum_minor),
        name = escape(&debtor_name),
    );
    let _ = writeln!(
        xml,
        "<PmtInf><PmtInfId>{id}</PmtInfId><PmtMtd>TRF</PmtMtd><BtchBookg>true</BtchBookg><NbOfTxs>{n}</NbOfTxs><CtrlSum>{sum}</CtrlSum>\
         <PmtTpInf><SvcLvl><Cd>SEPA</Cd></SvcLvl></PmtTpInf><ReqdExctnDt><Dt>{execution_date}</Dt></ReqdExctnDt>\
         <Dbtr><Nm>{name}</Nm></Dbtr><DbtrAcct><Id><IBAN>{iban}</IBAN></Id></DbtrAcct><DbtrAgt>{agent}</DbtrAgt><ChrgBr>SLEV</ChrgBr>",
        id = escape(&message_id),
        n = totals.transactions,
        sum = euros(totals.control_sum_minor),
        name = escape(&debtor_name),
        iban = debtor.iban.as_str(),
        agent = agent(debtor.bic.as_ref()),
    );
    for transfer in transfers {
        let _ = write!(xml, "<CdtTrfTxInf><PmtId><EndToEndId>{}</EndToEndId></PmtId>", escape(&sepa_id(&transfer.end_to_end_id)));
        let _ = write!(xml, "<Amt><InstdAmt Ccy=\"EUR\">{}</InstdAmt></Amt>", euros(transfer.amount_minor));
        if let Some(bic) = &transfer.bic {
            let _ = write!(xml, "<CdtrAgt><FinInstnId><BICFI>{}</BICFI></FinInstnId></CdtrAgt>", bic.as_str());
        }
        let _ = writeln!(
            xml,
            "<Cdtr><Nm>{}</Nm></Cdtr><CdtrAcct><Id><IBAN>{}</IBAN></Id></CdtrAcct><RmtInf><Ustrd>{}</Ustrd></RmtInf></CdtTrfTxInf>",
            escape(&sepa_text(&transfer.creditor_name, NAME_MAX)),
            transfer.iban.as_str(),
            escape(&sepa_text(&transfer.remittance, REMITTANCE_MAX)),
        );
    }
    xml.push_str("</PmtInf>\n</CstmrCdtTrfInitn>\n</Document>\n");
    (xml, totals)
}

/// The debtor's bank: its BIC, or `NOTPROVIDED` (IBAN-only SEPA).
fn agent(bic: Option<&Bic>) -> String {
    match bic {
        Some(bic) => format!("<FinInstnId><BICFI>{}</BICFI></FinInstnId>", bic.as_str()),
        None => "<FinInstnId><Othr><Id>NOTPROVIDED</Id></Othr></FinInstnId>".to_owned(),
    }
}

/// Cents as a decimal amount (`1234` → `12.34`); amounts in a run are positive.
fn euros(minor: i64) -> String {
    format!("{}.{:02}", minor / 100, (minor % 100).abs())
}

/// An id in the EPC character set: `_` becomes `-`, anything else outside it is dropped, and it
/// is cut to 35 characters.
fn sepa_id(id: &str) -> String {
    id.chars()
        .map(|c| if c == '_' { '-' } else { c })
        .filter(|c| c.is_ascii_alphanumeric() || "/-?:().,'+".contains(*c))
        .take(ID_MAX)
        .collect()
}

/// A text in the EPC's Latin character set: common accented letters lose their accents (`ä` →
/// `a`, `ß` → `ss`), `&` becomes `+`, anything else a space; runs of spaces collapse, and the
/// text is cut to `max` characters.
pub fn sepa_text(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let mapped: &str = match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '/' | '-' | '?' | ':' | '(' | ')' | '.' | ',' | '\'' | '+' => {
                out.push(c);
                continue;
            }
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ą' => "a",
            'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' | 'Ā' | 'Ą' => "A",
            'æ' => "ae",
            'Æ' => "AE",
            'ç' | 'ć' | 'č' => "c",
            'Ç' | 'Ć' | 'Č' => "C",
            'ď' | 'đ' => "d",
            'Ď' | 'Đ' => "D",
            'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ę' | 'ě' => "e",
            'È' | 'É' | 'Ê' | 'Ë' | 'Ē' | 'Ę' | 'Ě' => "E",
            'ì' | 'í' | 'î' | 'ï' | 'ī' => "i",
            'Ì' | 'Í' | 'Î' | 'Ï' | 'Ī' => "I",
            'ł' | 'ľ' | 'ĺ' => "l",
            'Ł' | 'Ľ' | 'Ĺ' => "L",
            'ñ' | 'ń' | 'ň' => "n",
            'Ñ' | 'Ń' | 'Ň' => "N",
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ő' => "o",
            'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' | 'Ø' | 'Ō' | 'Ő' => "O",
            'œ' => "oe",
            'Œ' => "OE",
            'ř' | 'ŕ' => "r",
            'Ř' | 'Ŕ' => "R",
            'ß' => "ss",
            'ś' | 'š' | 'ş' => "s",
            'Ś' | 'Š' | 'Ş' => "S",
            'ť' | 'ţ' => "t",
            'Ť' | 'Ţ' => "T",
            'ù' | 'ú' | 'û' | 'ü' | 'ū' | 'ů' | 'ű' => "u",
            'Ù' | 'Ú' | 'Û' | 'Ü' | 'Ū' | 'Ů' | 'Ű' => "U",
            'ý' | 'ÿ' => "y",
            'Ý' | 'Ÿ' => "Y",
            'ź' | 'ż' | 'ž' => "z",
            'Ź' | 'Ż' | 'Ž' => "Z",
            '&' => "+",
            _ => " ",
        };
        if mapped == " " && (out.is_empty() || out.ends_with(' ')) {
            continue;
        }
        out.push_str(mapped);
    }
    out.trim_end().chars().take(max).collect::<String>().trim_end().to_owned()
}

/// XML text escaping (after [`sepa_text`] only `'` can remain of the five, but ids and amounts
/// go through here too).
fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&apos;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_written_in_the_epc_character_set() {
        assert_eq!(sepa_text("Müller & Söhne GmbH", 70), "Muller + Sohne GmbH");
        assert_eq!(sepa_text("  Straße  <Nord>_Ost ", 70), "Strasse Nord Ost");
        assert_eq!(sepa_text("東京 Partners", 70), "Partners");
        assert_eq!(sepa_text(&"a".repeat(80), 70).len(), 70);
        assert_eq!(sepa_id("pay_01JABCDEFGHJKMNPQRSTVWXYZ0"), "pay-01JABCDEFGHJKMNPQRSTVWXYZ0");
        assert_eq!(euros(123_456), "1234.56");
        assert_eq!(euros(5), "0.05");
    }

    #[test]
    fn the_control_sums_are_the_transfers_sum() {
        let iban = |s: &str| Iban::parse(s).expect("iban");
        let debtor = Debtor { name: "Vendor AG".into(), iban: iban("DE89370400440532013000"), bic: None };
        let transfer = |amount_minor, name: &str| Transfer {
            end_to_end_id: "prt_1".into(),
            amount_minor,
            creditor_name: name.into(),
            iban: iban("FR1420041010050500013M02606"),
            bic: Some(Bic::parse("BNPAFRPP").expect("bic")),
            remittance: "Commissions".into(),
        };
        let (xml, totals) =
            credit_transfer("pay_1", Timestamp::from_micros(1_796_000_000_000_000), &debtor, &[transfer(1_050, "A"), transfer(99, "B")]);
        assert_eq!(totals, Totals { transactions: 2, control_sum_minor: 1_149 });
        assert_eq!(xml.matches("<CtrlSum>11.49</CtrlSum>").count(), 2, "{xml}");
        assert_eq!(xml.matches("<NbOfTxs>2</NbOfTxs>").count(), 2);
        assert!(xml.contains("<InstdAmt Ccy=\"EUR\">10.50</InstdAmt>") && xml.contains("<InstdAmt Ccy=\"EUR\">0.99</InstdAmt>"));
        assert!(xml.contains("<DbtrAgt><FinInstnId><Othr><Id>NOTPROVIDED</Id></Othr></FinInstnId></DbtrAgt>"));
        assert!(xml.contains("<MsgId>pay-1</MsgId>") && xml.contains("<CreDtTm>2026-11-30T"), "{xml}");
    }
}
