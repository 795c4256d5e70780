//! Structured identifiers found by one multi-pattern, linear-time automaton
//! (regex-automata's meta engine: lazy DFA, no backtracking) followed by a
//! validator per pattern: check digits, calendar ranges, unit suffixes.
//!
//! Patterns are deliberately generous and validators strict, because a
//! validator sees the surrounding text and can refuse ("5/5 power") where a
//! regular expression cannot.

use crate::{AgePolicy, DetectorConfig, Span};
use insitu_types::Category;
use regex_automata::meta::Regex;
use regex_automata::util::captures::Captures;
use regex_automata::{Anchored, Input, MatchKind, PatternID};
use regex_syntax::hir::{Class, Hir, HirKind};

/// What a pattern claims before validation; the validator may refine it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Email,
    Url,
    Ipv4,
    Ipv6,
    TenDigit,
    Ssn,
    NiNumber,
    NmcPin,
    LabelledId,
    LettersDigitsId,
    LongNumber,
    UkPhone,
    UsPhone,
    IntlPhone,
    Extension,
    AccessCode,
    Postcode,
    OtherPostcode,
    ZipAfterState,
    ZipLabelled,
    CityState,
    StreetAddress,
    Flat,
    PoBox,
    Institution,
    Ward,
    Company,
    DateNumeric,
    DateIso,
    DateDayMonth,
    DateMonthDay,
    DateMonthYear,
    DateShort,
    MonthYearNumeric,
    WeekdayDay,
    Weekday,
    WeekdayAbbrev,
    OrdinalDay,
    Plate,
    Handle,
    CardEnding,
    TimeRange,
    DateSpaced,
    MonthName,
    Holiday,
    Year,
    Time,
    TimeAmPm,
    TimeCued,
    TimeHrs,
    Age,
    AgeWords,
    /// "(14 yr)" after a date of birth or a name.
    AgeInBrackets,
    /// "summer 2023", "winter of '19", "in May" (the month that is also a verb).
    SeasonOrMay,
    DrivingLicence,
    ExtraId,
}

const B: &str = r"(?-u:\b)";
const MONTH: &str = r"(?:[Jj]an(?:uary)?|[Ff]eb(?:ruary)?|[Mm]ar(?:ch)?|[Aa]pr(?:il)?|[Mm]ay|[Jj]une?|[Jj]uly?|[Aa]ug(?:ust)?|[Ss]ep(?:t(?:ember)?)?|[Oo]ct(?:ober)?|[Nn]ov(?:ember)?|[Dd]ec(?:ember)?|JAN(?:UARY)?|FEB(?:RUARY)?|MAR(?:CH)?|APR(?:IL)?|MAY|JUNE?|JULY?|AUG(?:UST)?|SEP(?:T(?:EMBER)?)?|OCT(?:OBER)?|NOV(?:EMBER)?|DEC(?:EMBER)?)";
const ORD: &str = r"(?:st|nd|rd|th|ST|ND|RD|TH)";
/// Weekday names and their short forms ("Wed", "Weds", "Thur", "Thurs"),
/// capitalised or in capitals; "Wednesday" and "Saturday" in full too.
const WEEKDAY: &str = r"(?:[Mm]on(?:day)?|MON(?:DAY)?|[Tt]ue(?:s(?:day)?)?|TUE(?:S(?:DAY)?)?|[Ww]ed(?:s|nesday)?|WED(?:S|NESDAY)?|[Tt]hu(?:rs?(?:day)?)?|THU(?:RS?(?:DAY)?)?|[Ff]ri(?:day)?|FRI(?:DAY)?|[Ss]at(?:urday)?|SAT(?:URDAY)?|[Ss]un(?:day)?|SUN(?:DAY)?)";
const STATES: &str = "AL|AK|AZ|AR|CA|CO|CT|DE|DC|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE|NV|NH|NJ|NM|NY|NC|ND|OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY";

fn pattern_list() -> Vec<(Kind, String)> {
    let cap = r"[A-Z][A-Za-z'\-]+";
    vec![
        (
            Kind::Email,
            r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}".to_string(),
        ),
        // A scheme or "www." begins a word: inside one, every "h", "f" and
        // "w" of every word was followed as a possible start.
        (
            Kind::Url,
            format!(
                r"{B}(?i:https?://|ftp://|www\.)[^\s<>\x22']+|{B}[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.(?i:nhs\.uk|co\.uk|org\.uk|ac\.uk|gov\.uk|com|org|net|edu|gov|io|info)(?:/[^\s<>\x22']*)?{B}"
            ),
        ),
        (
            Kind::Ipv4,
            format!(r"{B}[0-9]{{1,3}}\.[0-9]{{1,3}}\.[0-9]{{1,3}}\.[0-9]{{1,3}}{B}"),
        ),
        // The hex group before the first colon begins a word: anywhere in
        // one, the automaton followed every word's trailing run of the
        // letters a-f as a possible start, in each of its other states.
        (
            Kind::Ipv6,
            r"(?:(?-u:\b)[0-9A-Fa-f]{1,4})?(?::[0-9A-Fa-f]{0,4}){2,7}(?-u:\b)".to_string(),
        ),
        // GMC, NMC and other labelled identifiers: group 1 is the value.
        (
            Kind::LabelledId,
            format!(
                r"{B}(?i:MRN|M\.R\.N\.?|UBRN|e-?RS\s*(?:ref|no|number)\.?|hosp(?:ital)?\.?\s*(?:no|num|number|#)\.?|unit\s*(?:no|number)\.?|RXX?\s*no\.?|patient\s*(?:id|no|number)\.?|PID|record\s*(?:no|number|#)\.?|case\s*(?:no|number|#)\.?|acc(?:ession)?\s*(?:no|number|#)\.?|ref(?:erence)?\s*(?:no|number|#)\.?|ref(?:erence)?\s*:|our\s+ref|your\s+ref|NHS\s*(?:no|number|#)?\.?|CHI\s*(?:no|number)?\.?|GMC\s*(?:no|number|ref)?\.?|NMC\s*(?:pin|no|number)?\.?|HCPC\s*(?:no|number)?\.?|DEA\s*(?:no|number|#)?\.?|NPI|licen[cs]e\s*(?:no|number|#)\.?|passport\s*(?:no|number)?\.?|ID\s*(?:no|number|#)|ID:?\s|medicare\s*(?:no|number|id|#)?\.?|IHI\s*(?:no|number)?\.?|OHIP\s*(?:no|number|#)?\.?|PHN|health\s*card\s*(?:no|number|#)?\.?|personal\s*health\s*number|MCP\s*(?:no|number)?\.?|PPSN|PPS\s*(?:no|number)\.?|DL\s*#|driver'?s?\s*licen[cs]e(?:\s*(?:no|number|#))?\.?|tag(?:\s*(?:no|number|#))?|investigation|case|AME\s*(?:no|number)\.?|A-?Number|UHID|IP\s*No\.?|aadhaar|NHI|HRN|RAMQ|GMS\s*(?:no|number)\.?|reg\.?\s*no\.?|kit\s*#?|accession|s/n|SN|serial\s*(?:no|number|#)?\.?|voucher|booking\s*ref\.?|invoice\s*(?:no|number|#)?\.?|svc\s*#|service\s*#|service\s*(?:no|number)\.?|medicaid\s*(?:no|number|id|#)?\.?|visit\s*(?:no|number|id|#)?\.?|insurance\s*(?:no|number|#|id)\.?|member\s*(?:id|no)\.?|policy\s*(?:no|number|#)\.?|account\s*(?:no|number|#)\.?|lab\s*(?:no|number)\.?|specimen\s*(?:no|number)\.?|sample\s*(?:no|number)\.?|ticket\s*(?:no|number|#)?\.?|study\s*(?:no|number|#|id)\.?|clinic\s*(?:no|number)\.?|prison(?:er)?\s*(?:no|number)\.?|collar\s*(?:no|number)\.?|badge\s*(?:no|number|#)?\.?|employee\s*(?:no|number|id)\.?|staff\s*(?:no|number|id)\.?|claim\s*(?:no|number|#)\.?|incident\s*(?:no|number|#)\.?|episode\s*(?:no|number)\.?|encounter\s*(?:no|number|#|id)\.?|auth(?:ori[sz]ation)?\s*(?:no|number|#)\.?|crime\s*(?:no|number|ref)\.?|log\s*(?:no|number)\.?|ref\.?)[\s:#=\-|]*(?:is\s+)?([A-Za-z]{{0,4}}[/\-]?[0-9](?:[A-Za-z0-9\-/]*[A-Za-z0-9])?(?:[ ][0-9]{{3,8}}){{0,2}}(?:[ ][0-9]{B})?){B}"
            ),
        ),
        (
            Kind::Ssn,
            format!(
                r"{B}[0-9]{{3}}-[0-9]{{2}}-[0-9]{{4}}{B}|{B}[0-9]{{3}} [0-9]{{2}} [0-9]{{4}}{B}"
            ),
        ),
        (
            Kind::TenDigit,
            format!(r"{B}[0-9]{{3}}[ \-]?[0-9]{{3}}[ \-]?[0-9]{{4}}{B}"),
        ),
        (
            Kind::NiNumber,
            format!(r"{B}[A-Za-z]{{2}} ?[0-9]{{2}} ?[0-9]{{2}} ?[0-9]{{2}} ?[A-Da-d]{B}"),
        ),
        (
            Kind::NmcPin,
            format!(r"{B}[0-9]{{2}}[A-Z][0-9]{{4}}[A-Z]{B}"),
        ),
        (
            Kind::UkPhone,
            format!(
                r"(?:\+44\s?(?:\(0\)\s?)?|\(0[0-9]{{1,4}}\)\s?|{B}0)[0-9](?:[0-9]|[ \-][0-9]){{5,11}}{B}"
            ),
        ),
        // The country code "1" follows a "+" or begins a word: after any
        // other digit it was followed as a possible start in every state.
        (
            Kind::UsPhone,
            format!(
                r"(?:(?:\+|{B})1[\s.\-]?)?(?:\([0-9]{{3}}\)\s?|{B}[0-9]{{3}}[\s.\-])[0-9]{{3}}[\s.\-][0-9]{{4}}{B}|{B}[0-9]{{3}}-[0-9]{{4}}{B}"
            ),
        ),
        (
            Kind::IntlPhone,
            format!(r"\+[0-9]{{1,3}}(?:[\s.\-]?[0-9]{{1,4}}){{2,5}}{B}"),
        ),
        (
            Kind::Extension,
            format!(
                r"{B}(?i:ext\.?|extension|bleep|bleep\s*no\.?|pager|page|tel\.?\s*ext\.?|vocera|ascom)\s*:?\s*([0-9](?:-?[0-9]){{2,6}}){B}|\(([xX][0-9]{{4,5}})\)"
            ),
        ),
        (
            Kind::AccessCode,
            format!(
                r"{B}(?i:key\s*safe|keysafe|door\s*code|gate\s*code|alarm\s*code|entry\s*code|access\s*code)(?i:\s*(?:code|no\.?|number|is))?[\s:#=\-]*([0-9]{{3,8}}){B}|{B}(?i:key\s*safe|keysafe|key\s*box|lock\s*box|lockbox|door|gate|keypad|entry\s*system)[^\n0-9]{{0,30}}(?i:code)\s*(?:is\s*)?[:#=\-]?\s*([0-9]{{3,8}}){B}"
            ),
        ),
        (
            Kind::Postcode,
            format!(r"{B}[A-Za-z]{{1,2}}[0-9][A-Za-z0-9]?[ ]{{0,2}}[0-9][A-Za-z]{{2}}{B}"),
        ),
        // Irish Eircodes ("D02 X285"), Canadian postal codes ("K1A 0B1") and
        // Australian state + postcode ("NSW 2000").
        (
            Kind::OtherPostcode,
            format!(
                r"{B}(?:[AC-FHKNPRTV-Y][0-9]{{2}}|D6W)[ ]?[AC-FHKNPRTV-Y0-9]{{4}}{B}|{B}[ABCEGHJ-NPRSTVXY][0-9][A-Z][ ][0-9][A-Z][0-9]{B}|{B}(?:NSW|VIC|QLD|TAS|Vic|Qld|Tas)[ ]+[0-9]{{4}}{B}"
            ),
        ),
        (
            Kind::ZipAfterState,
            format!(r"{B}(?:{STATES}),?[ ]+[0-9]{{5}}(?:-[0-9]{{4}})?{B}"),
        ),
        (
            Kind::ZipLabelled,
            format!(r"{B}(?i:zip|zip\s*code|postal\s*code)[\s:#]*([0-9]{{5}}(?:-[0-9]{{4}})?){B}"),
        ),
        (
            Kind::CityState,
            format!(
                r"{B}{cap}(?:[ ]{cap})?,[ ]?(?:{STATES})(?:[ ]+[0-9]{{5}}(?:-[0-9]{{4}})?)?{B}|{B}{cap}(?:[ ]{cap})?,[ ]?(?:AB|BC|MB|NB|NL|NS|NT|NU|ON|PE|QC|SK|YT|NSW|QLD|VIC|TAS|ACT|WA|SA){B}"
            ),
        ),
        (
            Kind::StreetAddress,
            format!(
                r"{B}[0-9]{{1,5}}[A-Za-z]?,?[ \t]+(?:(?:[NSEW]|NE|NW|SE|SW|North|South|East|West)\.?[ \t]+)?(?:(?:[A-Z][A-Za-z'\-]+|[0-9]{{1,3}}(?:st|nd|rd|th))[ \t]+){{1,3}}(?i:road|rd|street|st|lane|ln|avenue|ave|close|drive|dr|way|crescent|cres|gardens|gdns|terrace|place|pl|court|ct|grove|hill|rise|view|walk|row|square|sq|mews|park|parade|boulevard|blvd|highway|hwy|circle|cir|trail|parkway|pkwy|green|wharf|quay|vale|meadows?|fields?|chase|trace|bend|cove|loop|pike|ridge|heights|crossing|landing|hollow|glen|knoll|terr|turnpike|expressway|brae|wynd|gate)\.?{B}|{B}[0-9]{{1,3}}(?:st|nd|rd|th)[ \t]+(?:St|Street|Ave|Avenue)\.?{B}|{B}(?:[0-9]{{1,5}}[A-Za-z]?,?[ \t]+)?(?:Heol|Ffordd|Stryd|Rhodfa|Cilgant)[ \t]+(?:(?:y|yr|[A-Z][a-z]+)[ \t]+)?[A-Z][a-z]+{B}|{B}[0-9]{{1,5}}[A-Za-z]?,?[ \t]+(?:Maes|Parc|Gwel|Bro|Lon|Tre)[ \t]+(?:(?:y|yr|an|[A-Z][a-z]+)[ \t]+)?[A-Z][a-z]+{B}|{B}(?:[A-Z][a-z'\-]+[ \t]+){{1,2}}(?:Road|Street|Lane|Avenue|Close|Crescent|Gardens|Terrace|Grove|Mews|Boulevard|Parkway)\b"
            ),
        ),
        (
            Kind::Flat,
            format!(r"{B}(?i:flat|apt|apartment|suite)\.?\s+[0-9]+[A-Za-z]?{B}"),
        ),
        (
            // "Flat B, 18 Kendrick Road", "Apt 4C," and the Edinburgh "2F1, 17 Easter Road":
            // a lettered flat or a floor-and-door number before the street.
            Kind::Flat,
            format!(
                r"{B}((?:Flat|FLAT|Apt|APT|Apartment)\.?[ \t]+[A-Z]),|(?:(?m:^)|[ \t|,(])([0-9]{{1,2}}F[0-9]{{1,2}}),"
            ),
        ),
        (
            // "SSN xxx-xx-6620", "SSN ***-**-1234": the digits left of a masked number.
            Kind::CardEnding,
            format!(
                r"{B}(?i:ssn|social\s+security(?:\s+(?:no|number))?)[\s:#.]*(?:xxx|XXX|\*\*\*)-?(?:xx|XX|\*\*)-?([0-9]{{4}}){B}"
            ),
        ),
        (
            // "Route 9", "Highway 101", "I-95" (not the form "I-693").
            Kind::Flat,
            format!(
                r"{B}(?:Route|Rte\.?|Highway|Hwy\.?|Interstate)[ \t]?[0-9]{{1,3}}{B}|{B}I-[0-9]{{1,2}}{B}"
            ),
        ),
        (
            Kind::PoBox,
            format!(r"{B}(?i:p\.?\s?o\.?\s?box)\s+[0-9]+{B}"),
        ),
        (
            Kind::Institution,
            format!(
                r"{B}(?:Drs?\.?[ \t]+)?[A-Z][A-Za-z'\-]+(?:[ \t]*(?:,|&|and)[ \t]*[A-Z][A-Za-z'\-]+)*[ \t]+(?:and|&)[ \t]+(?i:partners){B}|{B}(?:Royal[ \t]+)?(?:Infirmary|Hospital|Hospice)[ \t]+(?:of|for)[ \t]+(?:the[ \t]+)?[A-Z][A-Za-z'\-]+(?:[ \t]+[A-Z][A-Za-z'\-]+)?{B}|{B}(?:(?:St\.?|Saint|ST\.?)[ \t]+)?(?:[A-Z][A-Za-z'&\-]+[ \t]+(?:(?:&|and)[ \t]+)?){{1,4}}(?i:hospitals?|medicine\s+group|medical\s+associates|health\s+group|infirmary|medical\s+cent(?:re|er)|family\s+medicine|family\s+practice|family\s+physicians|physicians\s+group|medical\s+practice|group\s+practice|primary\s+care|associates|health\s+cent(?:re|er)|clinic|surgery|practice|hospice|foundation\s+trust|nhs\s+trust|trust|healthcare|medical\s+group|care\s+home|nursing\s+home|health\s+board|university|college|school|academy|prison|HMP|pharmacy|chemists?|homecare|home\s+care|residential\s+home|care\s+services|colliery|council|logistics|systems|solutions|services|associates|partnership|rovers|united|athletic|football\s+club|rugby\s+club|cricket\s+club|golf\s+club|church|mosque|synagogue|temple|gurdwara|nursery|pre-?school|sixth\s+form|lodge|manor|court\s+care|retirement\s+village|home\s+health|senior\s+living|assisted\s+living|diagnostics|genomics|laborator(?:y|ies)|labs|endodontics|orthodontics|dental\s+(?:practice|care|centre|center|clinic|surgery)|dentistry|optical|opticians|optometry|insurance|mutual|studios?|engineering|health\s+plan|nursing\s+team|recovery\s+service|institute|unit|cent(?:re|er)|pavilion|funeral\s+(?:home|directors)|pediatrics|paediatrics|rehabilitation|elementary|primary|middle\s+school|high|drug|drugs|trattoria|restaurant|bistro|pizzeria|cafe|hotel|project|fire\s+(?:&|and)\s+rescue(?:\s+service)?|hscp|ccg|icb|county|parish|borough|jail|irc|detention\s+cent(?:re|er)|ambulance\s+service|direct|support|resource|transport|supply|supplies|builders|pantry|credit\s+union|internal\s+medicine|adolescent\s+medicine|airlines|airways|head\s+start|ymca|ywca|rescue\s+mission|health\s+station|exchange\s+program(?:me)?|cottage|farm(?:house)?|barn|bungalow|grange|villa|house|hall|court){B}|{B}(?:HMP|HMYOI|HMP/YOI)[ \t]+[A-Z][A-Za-z'\-]+{B}|{B}(?:Ysbyty|Meddygfa|Canolfan|Ysgol|Cartref)(?:'r)?(?:[ \t]+(?:y|yr|[A-Z][A-Za-z'\-]+)){{1,3}}{B}"
            ),
        ),
        (
            Kind::Ward,
            format!(
                r"{B}(?:[Ww]ard|WARD|Unit|UNIT|Bay|BAY)[ \t]+[A-Z]?[0-9]{{1,3}}[A-Za-z]?(?:[ \t]+(?:North|South|East|West))?{B}|{B}[A-Z][a-z]+[ \t]+(?:Tower|Wing|Block|Building|Pavilion)[ \t]+[0-9]{{1,3}}{B}|{B}[0-9]{{1,2}}[ \t]+(?:East|West|North|South){B}|{B}[A-Z][a-z]+ (?:[Ww]ard|WARD){B}|{B}WARD:?[ \t]+[A-Z]{{3,}}{B}|{B}Ward:?[ \t]+((?:Ward|Unit|Bay)[ \t]+[A-Z]?[0-9]{{1,3}}[A-Za-z]?|[A-Z][a-z]{{2,}}(?:[ \t]+(?:Ward|Unit))?){B}"
            ),
        ),
        (
            Kind::Company,
            format!(
                r"{B}(?:[A-Z][A-Za-z&'\-]*\s+){{1,4}}(?:Ltd|Limited|plc|PLC|Inc|LLC|Corp|Corporation|Company|LLP)\.?{B}"
            ),
        ),
        (
            Kind::DateIso,
            format!(
                r"{B}[0-9]{{4}}[\-/.][0-9]{{1,2}}[\-/.][0-9]{{1,2}}(?:[T ][0-9]{{1,2}}:[0-9]{{2}}(?::[0-9]{{2}})?)?{B}"
            ),
        ),
        (
            Kind::DateNumeric,
            format!(
                r"{B}[0-9]{{1,2}}/[0-9]{{1,2}}/(?:[0-9]{{4}}|[0-9]{{2}}){B}|{B}[0-9]{{1,2}}-[0-9]{{1,2}}-(?:[0-9]{{4}}|[0-9]{{2}}){B}|{B}[0-9]{{1,2}}\.[0-9]{{1,2}}\.(?:[0-9]{{4}}|[0-9]{{2}}){B}"
            ),
        ),
        (
            Kind::DateDayMonth,
            format!(
                r"(?:{B}{WEEKDAY}\.?,?\s+)?{B}[0-9]{{1,2}}{ORD}?(?:[ \t]+of)?[ \t\-/.]*{MONTH}\.?(?:,?[ \t\-/.]*(?:[0-9]{{4}}|'[0-9]{{2}}|[0-9]{{2}}))?{B}"
            ),
        ),
        (
            Kind::DateMonthDay,
            format!(
                r"(?:{B}{WEEKDAY}\.?,?\s+)?{B}{MONTH}\.?(?:[ \t]+|-)[0-9]{{1,2}}{ORD}?(?:,?[ \t]*(?:[0-9]{{4}}|'[0-9]{{2}}))?{B}"
            ),
        ),
        (
            Kind::DateMonthYear,
            format!(r"{B}{MONTH}\.?,?[ \t\-]+(?:[0-9]{{4}}|'[0-9]{{2}}){B}"),
        ),
        (
            Kind::MonthYearNumeric,
            format!(r"{B}[0-9]{{1,2}}/[0-9]{{4}}{B}|{B}(?:19|20)[0-9]{{2}}-(?:0[1-9]|1[0-2]){B}"),
        ),
        (Kind::DateShort, format!(r"{B}[0-9]{{1,2}}/[0-9]{{1,2}}{B}")),
        (
            Kind::WeekdayDay,
            format!(
                r"{B}{WEEKDAY}\.?,?\s+[0-9]{{1,2}}(?:{ORD}|[/.\-][0-9]{{1,2}}(?:[/.\-](?:[0-9]{{4}}|[0-9]{{2}}))?|:[0-5][0-9]|\s?(?i:am|pm))?{B}"
            ),
        ),
        (
            Kind::Weekday,
            format!(
                r"{B}(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|MONDAY|TUESDAY|WEDNESDAY|THURSDAY|FRIDAY|SATURDAY|SUNDAY|monday|tuesday|wednesday|thursday|friday|saturday|sunday)(?:s|S)?{B}"
            ),
        ),
        (
            Kind::WeekdayAbbrev,
            format!(
                r"{B}(?:[Tt]ues|TUES|[Ww]eds|WEDS|[Tt]hurs?|THURS?)\.?{B}|{B}(?i:next|last|on|this|by|until|till|from|every|since|r/v|review|clinic|seen|due|visit)\s+((?:[Mm]on|MON|[Ww]ed|WED|[Ff]ri|FRI|[Ss]at|SAT|[Ss]un|SUN|[Tt]ue|TUE|[Tt]hu|THU)\.?(?:,?\s+[0-9]{{1,2}}(?:{ORD}|[/.\-][0-9]{{1,2}}(?:[/.\-](?:[0-9]{{4}}|[0-9]{{2}}))?)?)?){B}|{B}(?:Mon|Tue|Tues|Wed|Weds|Thu|Thur|Thurs|Fri|Sat|Sun)(?:/(?:Mon|Tue|Tues|Wed|Weds|Thu|Thur|Thurs|Fri|Sat|Sun))+{B}|{B}((?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)\.?)\s+(?i:morning|afternoon|evening|night|eve|am|pm){B}"
            ),
        ),
        (
            Kind::OrdinalDay,
            format!(
                r"{B}(?i:on|from|since|until|till|by|before|after)\s+the\s+([0-9]{{1,2}}(?:st|nd|rd|th)){B}"
            ),
        ),
        (
            Kind::MonthName,
            format!(
                r"{B}(?:(?i:(?:twenty|thirty)[\- ]?)?(?i:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth|thirteenth|fourteenth|fifteenth|sixteenth|seventeenth|eighteenth|nineteenth|twentieth|thirtieth)\s+(?:of\s+)?)?(?:January|February|March|April|June|July|August|September|October|November|December|JANUARY|FEBRUARY|APRIL|JUNE|JULY|AUGUST|SEPTEMBER|OCTOBER|NOVEMBER|DECEMBER|january|february|april|june|july|september|october|november|december){B}"
            ),
        ),
        (
            Kind::Holiday,
            format!(
                r"{B}(?:(?:Christmas|Xmas|XMAS)(?:\s+(?:Day|Eve|day|eve))?|Boxing\s+Day|New\s+Year'?s?(?:\s+Day|\s+Eve)?|Easter(?:\s+Sunday|\s+Monday)?|Good\s+Friday|Thanksgiving|Halloween|Bonfire\s+Night|Independence\s+Day|Memorial\s+Day|Labor\s+Day|Labour\s+Day|Bank\s+Holiday|Diwali|Eid|Ramadan|Hanukkah|Passover|CHRISTMAS|EASTER|(?:St\.?|Saint)[ \t]+(?:Stephen|Patrick|Andrew|David|George|Valentine|Swithin)(?:'|’)s[ \t]+Day|Hogmanay|Burns[ \t]+Night|Mother(?:'|’)?s[ \t]+Day|Father(?:'|’)?s[ \t]+Day)(?:,?\s+(?:19|20)[0-9]{{2}})?{B}"
            ),
        ),
        (
            Kind::Year,
            format!(r"'[0-9]{{2}}{B}|{B}(?:19|20)[0-9]{{2}}'?s?{B}"),
        ),
        (
            Kind::Time,
            format!(
                r"{B}(?:[01]?[0-9]|2[0-3])[:.][0-5][0-9](?::[0-5][0-9])?(?:\s*(?i:am|pm|a\.m\.|p\.m\.|hrs?|h))?{B}"
            ),
        ),
        (
            Kind::TimeCued,
            format!(
                r"(?:{B}(?i:at|from|until|till|by|note|since|approx|around|time|time\s+(?:in|out|of\s+death|seen|called)|handover|notified|paged|phoned|called|informed|bleeped|down|eta|arrival|arrived|obs|news|news2|triaged|seen|reviewed|arrive|arriving|due)|@|~)\s*:?\s*((?:[01][0-9]|2[0-3])[0-5][0-9]){B}|{B}((?:[01][0-9]|2[0-3])[0-5][0-9]):\s"
            ),
        ),
        (
            Kind::TimeAmPm,
            format!(r"{B}(?:1[0-2]|0?[1-9])\s*(?i:am|pm|a\.m\.|p\.m\.){B}"),
        ),
        (
            Kind::TimeHrs,
            format!(r"{B}(?:[01][0-9]|2[0-3])[0-5][0-9]\s*(?i:hrs|hours|h){B}"),
        ),
        (
            Kind::Age,
            format!(
                r"{B}(?i:aged|age[:=]?|age\s+of|ages?|age\s+(?:is|was|now|of\s+about))\s*([0-9]{{1,3}}){B}|{B}(?i:age)[ \t][^\n:0-9]{{1,25}}:[ \t]*([0-9]{{1,3}}){B}|{B}(?i:aged)\s+([0-9]{{1,3}}\s+and\s+[0-9]{{1,3}}){B}|{B}(?i:age\s*/\s*sex)\s*:?\s*([0-9]{{1,3}}){B}|{B}([0-9]{{1,3}})\s?(?i:yrs?|years?)\s*/?\s*(?:[MF]{B}|(?i:male|female){B})|{B}(?i:age\s+at\s+[a-z]+)\s*:?\s*([0-9]{{1,3}}){B}|{B}(?i:estimated\s+age|age\s+approx\.?|approx\.?\s+age)\s*:?\s*([0-9]{{1,3}}(?:\s*-\s*[0-9]{{1,3}})?){B}|{B}(?:[Ff]emale|[Mm]ale|F|M),\s*([0-9]{{1,3}}),|{B}([0-9]{{1,3}})(?:\s*|-)(?i:years?|yrs?|yr|y)(?:\s*|-)(?i:old|of\s+age){B}|{B}([0-9]{{1,3}})\s*(?i:y/o|y\.o\.|yo|yrs?\s+old)|{B}([0-9]{{2,3}})\s?(?:yo[MF]|M|F){B}|{B}([0-9]{{1,3}})y{B}|{B}(?i:in\s+(?:his|her|their)\s+(?:early\s+|mid\s+|late\s+)?)([0-9]{{2}}'?s){B}|{B}([0-9]{{1,2}})(?:[ \t]*|-)(?i:months?|mos?|weeks?|wks?|days?)(?:[ \t]*|-)(?i:old){B}"
            ),
        ),
        (
            Kind::AgeWords,
            format!(
                r"{B}(?i:ninety(?:[\- ](?:one|two|three|four|five|six|seven|eight|nine))?|one\s+hundred(?:\s+and\s+[a-z]+)?|a\s+hundred|centenarian)(?i:[\- ]years?)?(?i:[\- ]old|[\- ]yo){B}|{B}((?i:(?:twenty|thirty|forty|fifty|sixty|seventy|eighty)(?:[\- ](?:one|two|three|four|five|six|seven|eight|nine))?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen))(?i:[\- ]years?[\- ](?:old|of\s+age)|[\- ]y/?o){B}|{B}(?i:aged)[ \t]+((?i:(?:twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)(?:[\- ](?:one|two|three|four|five|six|seven|eight|nine))?)){B}"
            ),
        ),
        (
            // "AGE: 73Y", "Age: 73 yrs", "DOL 9" (day of life), "Pt 79, lives with …".
            Kind::Age,
            format!(
                r"{B}(?i:age)\s*[:=]\s*([0-9]{{1,3}})\s?(?:[Yy]|[Yy]rs?|yo){B}|{B}(?:DOL|(?i:day\s+of\s+life))\s*#?\s*([0-9]{{1,2}}){B}|{B}(?:Pt|PT|pt|Patient|patient)\s+([0-9]{{2,3}}),"
            ),
        ),
        (
            // Employers and services by a trade suffix: "Rusty Anchor Grill",
            // "Summit Radiology", "Willow Ridge Health & Rehab", "Acme Roofing Ltd"
            // (capitalised: "chase imaging" is a job on a list).
            Kind::Institution,
            format!(
                r"{B}(?:[A-Z][A-Za-z'\-]+[ \t]+(?:(?:&|and)[ \t]+)?){{1,3}}(?:Skilled[ \t]+Nursing|Police|POLICE|Lifeline|Grill|Diner|Tavern|Bakery|Brewery|Radiology|Imaging|Rehab|Transit|Rescue|Motors|Construction|Landscaping|Roofing|Plumbing|Trucking|Realty|Supermarket|Limited|Corporation|Company|GRILL|DINER|TAVERN|BAKERY|BREWERY|RADIOLOGY|IMAGING|REHAB|TRANSIT|RESCUE|MOTORS|CONSTRUCTION|LANDSCAPING|ROOFING|PLUMBING|TRUCKING|REALTY|SUPERMARKET|LIMITED|CORPORATION|COMPANY|Inc\\.?|INC\\.?|LLC|Ltd\\.?|LTD\\.?|Corp\\.?|CORP\\.?){B}"
            ),
        ),
        (
            // "University Hospital of Sheffield", "General Infirmary of Leeds".
            Kind::Institution,
            format!(
                r"{B}(?:University|General|District|Community|Memorial|Teaching|Children's|Women's|County|City)[ \t]+(?:Hospitals?|Infirmary|Hospice)[ \t]+(?:of|for)[ \t]+(?:the[ \t]+)?[A-Z][A-Za-z'\-]+(?:[ \t]+[A-Z][A-Za-z'\-]+)?{B}"
            ),
        ),
        (
            Kind::SeasonOrMay,
            format!(
                r"{B}(?i:spring|summer|autumn|fall|winter)\s+(?:of\s+)?(?:'[0-9]{{2}}|(?:19|20)[0-9]{{2}}){B}|{B}(?i:in|since|until|till|during|early|late|mid|last|next|end\s+of|of)\s+(May){B}"
            ),
        ),
        (
            Kind::AgeInBrackets,
            r"\(([0-9]{1,3})\s?(?i:yrs?|y|yo|y/o|years?)\)".to_string(),
        ),
        (
            Kind::LettersDigitsId,
            format!(
                r"{B}[A-Z]{{1,4}}[0-9]{{5,12}}[A-Z]?(?:-[0-9]{{2,6}})?{B}|{B}[0-9]{{2,6}}[A-Z]{{1,3}}[0-9]{{3,8}}{B}|{B}[A-Z]{{1,4}}-[0-9]{{2,4}}-[0-9]{{4,10}}{B}|{B}[A-Z]{{2,4}}-[0-9]{{4,10}}{B}|{B}[0-9]{{2}}-[0-9]{{5,8}}{B}|{B}[A-Z][0-9]{{4}}[A-Z]{{2}}{B}"
            ),
        ),
        (Kind::LongNumber, format!(r"{B}[0-9]{{6,}}{B}")),
        // Vehicle registrations after a word for a vehicle ("reg YX19 KHP").
        // The cue is a whole word: as a bare prefix it also began "care",
        // "cardiac", "regular" and "platelets", and each of those opened a
        // window the automaton had to count through, in every state it was
        // in, for the next 25 bytes; those copies were a large share of its
        // states, which crowd the processor caches.
        (
            Kind::Plate,
            format!(
                r"{B}(?i:reg(?:istration|istered|d|n|no)?|plates?|vehicles?|vrn|cars?|vans?|lorry|lorries|trucks?){B}[^\n]{{0,25}}?{B}([A-Z]{{2}}[0-9]{{2}}[ ]?[A-Z]{{3}}){B}|{B}(?i:plates?){B}[^\n0-9]{{0,25}}?{B}([A-Z0-9]{{2,4}}[ \-]?[A-Z0-9]{{2,4}}){B}"
            ),
        ),
        // UK driving licence numbers: surname (padded with 9), the
        // birth date coded (month + 50 for women), initials, a check digit
        // and two letters ("MORGA657054SM9IJ"), with or without the issue
        // number.
        (
            Kind::DrivingLicence,
            format!(
                r"{B}[A-Z9]{{5}}[0-9][0156][0-9][0-3][0-9][0-9][A-Z9]{{2}}[0-9][A-Z]{{2}}(?:[ ]?[0-9]{{2}})?{B}"
            ),
        ),
        // Social media handles ("@kaydee.m0rrow").
        (
            Kind::Handle,
            r"@[A-Za-z0-9_][A-Za-z0-9_.]{2,29}".to_string(),
        ),
        // "card ending 0092", "SSN (last 4) 4417".
        (
            Kind::CardEnding,
            format!(
                r"{B}(?i:ending(?:\s+in)?|last\s*(?:4|four)(?:\s*digits)?\)?)[\s:#]*([0-9]{{4}}){B}"
            ),
        ),
        // "sleep 2200-0630": a span of clock time.
        (
            Kind::TimeRange,
            format!(r"{B}(?:[01][0-9]|2[0-3])[0-5][0-9]-(?:[01][0-9]|2[0-3])[0-5][0-9]{B}"),
        ),
        // Claim forms: "DOB 07 22 1959", "DOS 03 11 24".
        (
            Kind::DateSpaced,
            format!(
                r"{B}(?i:dob|dos|d\.o\.b\.?|date)[:\s]+([0-9]{{2}} [0-9]{{2}} (?:[0-9]{{4}}|[0-9]{{2}})){B}"
            ),
        ),
    ]
}

/// A compiled set of structured patterns.
pub(crate) struct PatternSet {
    re: Regex,
    /// The same patterns under "all matches" semantics: one anchored pass
    /// says which patterns match where the winner was refused, so the
    /// fallback runs captures only for those instead of trying each in turn.
    which: Regex,
    /// For each pattern with a value group, that pattern alone: captures
    /// are resolved on it, because the bounded backtracker clears a bitset
    /// of (NFA states × match length) per search, and the NFA of all the
    /// patterns together is hundreds of times bigger than one pattern's.
    alone: Vec<Option<ValueRegexes>>,
    /// For each pattern, a reverse lazy DFA of that pattern alone, to find
    /// where a match starts once the forward search has found its end and
    /// pattern. The combined regex runs one reverse automaton of every
    /// pattern for that: its rows are as wide as all the patterns' byte
    /// classes together and its states of all patterns interleaved, so
    /// each match's walk back missed the cache; one pattern's automaton is
    /// small and stays warm. The start is the same: no match of any
    /// pattern ends there and starts earlier (that is what leftmost means).
    /// `None` where one does not build (a pattern from the configuration
    /// too big for the default cache): the combined regex answers there.
    starts: Vec<Option<regex_automata::hybrid::dfa::DFA>>,
    scratch: ScratchPool,
    kinds: Vec<Kind>,
}

/// What one thread's scan writes into, kept between notes so that no
/// search allocates: a cache per reverse automaton that built, and for
/// each pattern with a value group its capture regex's cache and captures
/// (a fresh `Captures` per match was an allocation and a free each time).
struct Scratch {
    starts: Vec<Option<regex_automata::hybrid::dfa::Cache>>,
    /// Made for a capture regex the first time this thread uses it.
    alone: Vec<Option<Vec<Option<CaptureScratch>>>>,
}

/// A capture regex's cache and the captures it fills.
type CaptureScratch = (regex_automata::meta::Cache, Captures);

/// One pattern's capture regexes, each the pattern without the opening
/// alternatives that cannot begin with a given byte. The label list of
/// [`Kind::LabelledId`] has over a hundred alternatives, and the bounded
/// backtracker tried each at the match start and cleared a visited bitset
/// as wide as all of them; a match starting with "M" needs only the labels
/// that start with "M". The captures are the same: an alternative that
/// cannot take the match's first byte never matches there, and the rest
/// keep their order, so leftmost-first picks the same one.
///
/// Each regex is built the first time a match needs it: most bytes begin
/// no match of most patterns, and building them all up front cost more than
/// the first pass over a corpus saved.
struct ValueRegexes {
    /// The pattern as parsed, pruned when a regex is first needed.
    hir: Hir,
    builder: regex_automata::meta::Builder,
    /// For each first byte, its slot in `regexes`: slot 0 is the whole
    /// pattern (for a byte no match can begin with, or an empty match).
    by_first: [u16; 256],
    /// For each slot, a byte that selects it (what to prune for).
    bytes: Vec<Option<u8>>,
    /// `None` inside if the regex failed to build (it cannot: it is a part
    /// of a pattern that built); the match is then its own value.
    regexes: Vec<std::sync::OnceLock<Option<Regex>>>,
}

impl ValueRegexes {
    fn new(
        hir: &Hir,
        builder: &regex_automata::meta::Builder,
    ) -> Result<ValueRegexes, crate::Error> {
        let mut points = Vec::new();
        decision_points(hir, &mut points);
        let mut opening = [false; 256];
        first_bytes(hir, &mut opening);
        // Bytes whose every keep-or-drop decision agrees share a regex.
        let mut signatures: Vec<Vec<bool>> = Vec::new();
        let mut bytes = vec![None];
        let mut by_first = [0u16; 256];
        for byte in 0..=255u8 {
            if !opening[usize::from(byte)] {
                continue;
            }
            let signature: Vec<bool> = points
                .iter()
                .map(|(set, empty)| *empty || set[usize::from(byte)])
                .collect();
            let slot = match signatures.iter().position(|s| *s == signature) {
                Some(i) => i + 1,
                None => {
                    signatures.push(signature);
                    bytes.push(Some(byte));
                    bytes.len() - 1
                }
            };
            by_first[usize::from(byte)] =
                u16::try_from(slot).map_err(|e| crate::Error::Pattern(e.to_string()))?;
        }
        Ok(ValueRegexes {
            hir: hir.clone(),
            builder: builder.clone(),
            by_first,
            regexes: bytes.iter().map(|_| std::sync::OnceLock::new()).collect(),
            bytes,
        })
    }

    /// The regex in `slot`, built now if this is its first use.
    fn get(&self, slot: usize) -> Option<&Regex> {
        let lock = self.regexes.get(slot)?;
        let byte = *self.bytes.get(slot)?;
        lock.get_or_init(|| {
            let hir = match byte {
                Some(b) => prune(&self.hir, b),
                None => self.hir.clone(),
            };
            self.builder.build_from_hir(&hir).ok()
        })
        .as_ref()
    }
}

/// The bytes a match of `hir` can begin with (into `set`), and whether it
/// can match the empty string. More bytes than can really begin a match
/// are harmless (fewer alternatives are dropped); fewer would not be.
fn first_bytes(hir: &Hir, set: &mut [bool; 256]) -> bool {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => true,
        HirKind::Literal(lit) => match lit.0.first() {
            Some(&b) => {
                set[usize::from(b)] = true;
                false
            }
            None => true,
        },
        HirKind::Class(Class::Bytes(class)) => {
            for r in class.ranges() {
                for b in r.start()..=r.end() {
                    set[usize::from(b)] = true;
                }
            }
            false
        }
        HirKind::Class(Class::Unicode(class)) => {
            for r in class.ranges() {
                for c in u32::from(r.start())..=u32::from(r.end()).min(0x7F) {
                    set[c as usize] = true;
                }
                if u32::from(r.end()) >= 0x80 {
                    // Any lead byte of a longer UTF-8 sequence.
                    set[0xC0..].fill(true);
                }
            }
            false
        }
        HirKind::Repetition(rep) => first_bytes(&rep.sub, set) || rep.min == 0,
        HirKind::Capture(cap) => first_bytes(&cap.sub, set),
        HirKind::Concat(subs) => subs.iter().all(|s| first_bytes(s, set)),
        HirKind::Alternation(subs) => {
            let mut empty = false;
            for s in subs {
                empty |= first_bytes(s, set);
            }
            empty
        }
    }
}

/// `hir` with the alternatives of every alternation that begin with the
/// same class, byte or assertion brought together and that first element
/// written once: `[Mm]RN|[Mm]\.R…|[Hh]osp…|[Mm]edicare…` becomes
/// `[Mm](?:RN|\.R…|edicare…)|[Hh]osp…`. The lazy DFA of an unanchored
/// search carries every alternative's first state in each of its states,
/// and building a state walks them all; factored, there are far fewer.
///
/// Leftmost-first is kept exactly: an alternative only moves past others
/// whose first bytes it cannot share (so at any position at most one of
/// the two can match, and which is tried first is moot), and `cX|cY` tries
/// the same paths in the same order as `c(?:X|Y)` when `c` matches one way
/// only, which a class, a byte or an assertion does.
fn factor(hir: &Hir) -> Hir {
    match hir.kind() {
        HirKind::Alternation(subs) => factor_alternatives(subs.iter().map(factor).collect()),
        HirKind::Concat(subs) => Hir::concat(subs.iter().map(factor).collect()),
        HirKind::Capture(cap) => Hir::capture(regex_syntax::hir::Capture {
            index: cap.index,
            name: cap.name.clone(),
            sub: Box::new(factor(&cap.sub)),
        }),
        HirKind::Repetition(rep) => Hir::repetition(regex_syntax::hir::Repetition {
            min: rep.min,
            max: rep.max,
            greedy: rep.greedy,
            sub: Box::new(factor(&rep.sub)),
        }),
        _ => hir.clone(),
    }
}

/// `hir` split into a first element that matches in one way only (a
/// class, one byte of a literal, an assertion) and the rest.
fn head(hir: &Hir) -> Option<(Hir, Hir)> {
    match hir.kind() {
        HirKind::Class(_) | HirKind::Look(_) => Some((hir.clone(), Hir::empty())),
        HirKind::Literal(lit) => {
            let (first, rest) = lit.0.split_first()?;
            Some((Hir::literal([*first]), Hir::literal(rest)))
        }
        HirKind::Concat(subs) => {
            let (first, rest) = subs.split_first()?;
            let (h, r) = head(first)?;
            let mut tail = Vec::with_capacity(subs.len());
            tail.push(r);
            tail.extend(rest.iter().cloned());
            Some((h, Hir::concat(tail)))
        }
        _ => None,
    }
}

/// The alternation of `subs` (already factored inside), grouped and
/// factored by first element as [`factor`] describes.
fn factor_alternatives(subs: Vec<Hir>) -> Hir {
    let firsts: Vec<([bool; 256], bool)> = subs
        .iter()
        .map(|s| {
            let mut set = [false; 256];
            let empty = first_bytes(s, &mut set);
            (set, empty)
        })
        .collect();
    // Two alternatives may trade places if no position can start both.
    let apart = |a: usize, b: usize| {
        let ((sa, ea), (sb, eb)) = (&firsts[a], &firsts[b]);
        !ea && !eb && !sa.iter().zip(sb.iter()).any(|(x, y)| *x && *y)
    };
    let heads: Vec<Option<(Hir, Hir)>> = subs.iter().map(head).collect();
    // Groups in order, each its members' indices in order.
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for i in 0..subs.len() {
        let mut joined = false;
        if let Some((h, _)) = &heads[i] {
            for g in (0..groups.len()).rev() {
                let same = heads[groups[g][0]]
                    .as_ref()
                    .is_some_and(|(other, _)| other == h);
                if same {
                    groups[g].push(i);
                    joined = true;
                    break;
                }
                if !groups[g].iter().all(|&m| apart(m, i)) {
                    break;
                }
            }
        }
        if !joined {
            groups.push(vec![i]);
        }
    }
    if groups.len() == subs.len() {
        return Hir::alternation(subs);
    }
    let mut out = Vec::with_capacity(groups.len());
    for group in groups {
        // A group of two or more shares a head (only a head joins one).
        let rests: Option<Vec<Hir>> = if group.len() > 1 {
            group
                .iter()
                .map(|&m| heads[m].as_ref().map(|(_, r)| r.clone()))
                .collect()
        } else {
            None
        };
        match (rests, &heads[group[0]]) {
            (Some(rests), Some((h, _))) => {
                out.push(Hir::concat(vec![h.clone(), factor_alternatives(rests)]))
            }
            _ => out.extend(group.iter().map(|&m| subs[m].clone())),
        }
    }
    Hir::alternation(out)
}

/// Whether `hir` only ever matches the empty string (an assertion), so
/// that what follows it in a concatenation still begins the match.
fn zero_width(hir: &Hir) -> bool {
    matches!(hir.kind(), HirKind::Empty | HirKind::Look(_))
}

/// Every alternative [`prune`] may drop, in a fixed order, with the bytes
/// it can begin with and whether it can be empty (then it is kept).
fn decision_points(hir: &Hir, out: &mut Vec<([bool; 256], bool)>) {
    match hir.kind() {
        HirKind::Alternation(subs) => {
            for s in subs {
                let mut set = [false; 256];
                let empty = first_bytes(s, &mut set);
                out.push((set, empty));
                decision_points(s, out);
            }
        }
        HirKind::Concat(subs) => {
            for s in subs {
                decision_points(s, out);
                if !zero_width(s) {
                    break;
                }
            }
        }
        HirKind::Capture(cap) => decision_points(&cap.sub, out),
        _ => {}
    }
}

/// `hir` without the alternatives at the start of a match that cannot
/// begin with `byte`. Only alternatives that start where the match starts
/// are looked at (inside groups and after assertions, not inside
/// repetitions or after anything that consumes input); the rest keep their
/// order, and every capture group that can still take part keeps its index.
fn prune(hir: &Hir, byte: u8) -> Hir {
    match hir.kind() {
        HirKind::Alternation(subs) => {
            let kept: Vec<Hir> = subs
                .iter()
                .filter(|s| {
                    let mut set = [false; 256];
                    first_bytes(s, &mut set) || set[usize::from(byte)]
                })
                .map(|s| prune(s, byte))
                .collect();
            if kept.is_empty() {
                // No match can begin with this byte: nothing to choose.
                hir.clone()
            } else {
                Hir::alternation(kept)
            }
        }
        HirKind::Concat(subs) => {
            let mut out = Vec::with_capacity(subs.len());
            let mut at_start = true;
            for s in subs {
                if at_start {
                    out.push(prune(s, byte));
                    at_start = zero_width(s);
                } else {
                    out.push(s.clone());
                }
            }
            Hir::concat(out)
        }
        HirKind::Capture(cap) => Hir::capture(regex_syntax::hir::Capture {
            index: cap.index,
            name: cap.name.clone(),
            sub: Box::new(prune(&cap.sub, byte)),
        }),
        _ => hir.clone(),
    }
}

/// Makes a thread's [`Scratch`].
type ScratchFn =
    Box<dyn Fn() -> Scratch + Send + Sync + std::panic::UnwindSafe + std::panic::RefUnwindSafe>;

/// One [`Scratch`] for each thread that scans.
type ScratchPool = regex_automata::util::pool::Pool<Scratch, ScratchFn>;

impl PatternSet {
    pub(crate) fn new(config: &DetectorConfig) -> Result<PatternSet, crate::Error> {
        let mut list = pattern_list();
        // Patterns a setting switches off are not compiled: a refused match
        // costs a fallback search, so they would only slow the scan down.
        list.retain(|(k, _)| match k {
            Kind::Year => config.years_alone,
            Kind::Time | Kind::TimeAmPm | Kind::TimeHrs | Kind::TimeCued => config.times,
            _ => true,
        });
        for extra in &config.extra_id_patterns {
            list.push((Kind::ExtraId, extra.clone()));
        }
        let kinds: Vec<Kind> = list.iter().map(|(k, _)| *k).collect();
        let pats: Vec<&str> = list.iter().map(|(_, p)| p.as_str()).collect();
        // ASCII-only classes and case folding keep the lazy DFA small
        // enough to stay in its cache; every negated class still
        // swallows whole UTF-8 sequences, so matches end on char boundaries.
        let syntax = regex_automata::util::syntax::Config::new()
            .unicode(false)
            .utf8(false);
        // No prefilter: the capture regexes only run anchored, where none
        // is used, and the combined patterns begin with digits and classes
        // of letters, too many prefixes for one; extracting literals to
        // find that out was a fifth of building the set.
        let builder = |kind: MatchKind, lazy_dfa: bool| {
            let mut builder = Regex::builder();
            builder.syntax(syntax).configure(
                Regex::config()
                    .match_kind(kind)
                    .nfa_size_limit(Some(64 << 20))
                    .hybrid(lazy_dfa)
                    .auto_prefilter(false)
                    .hybrid_cache_capacity(32 << 20),
            );
            builder
        };
        // Each pattern is parsed once, for all the automata built from it.
        let parsed = pats
            .iter()
            .map(|p| {
                regex_automata::util::syntax::parse_with(p, &syntax)
                    .map_err(|e| crate::Error::Pattern(e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let factored: Vec<Hir> = parsed.iter().map(factor).collect();
        let build = |kind: MatchKind| {
            builder(kind, true)
                .build_many_from_hir(&factored)
                .map_err(|e| crate::Error::Pattern(e.to_string()))
        };
        let re = build(MatchKind::LeftmostFirst)?;
        let which = build(MatchKind::All)?;
        // No lazy DFA: the match bounds are already known, so a DFA pass
        // to find them again before the capture engine runs would only
        // repeat work.
        let capture_builder = builder(MatchKind::LeftmostFirst, false);
        let alone = (0..pats.len())
            .map(|p| {
                if re.group_info().group_len(PatternID::new_unchecked(p)) > 1 {
                    ValueRegexes::new(&parsed[p], &capture_builder).map(Some)
                } else {
                    Ok(None)
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        let starts = parsed
            .iter()
            .map(|h| {
                let nfa = regex_automata::nfa::thompson::Compiler::new()
                    .configure(
                        regex_automata::nfa::thompson::Config::new()
                            .reverse(true)
                            .nfa_size_limit(Some(64 << 20))
                            .which_captures(regex_automata::nfa::thompson::WhichCaptures::None),
                    )
                    .build_from_hir(h)
                    .ok()?;
                regex_automata::hybrid::dfa::Builder::new()
                    .configure(
                        regex_automata::hybrid::dfa::DFA::config()
                            .match_kind(MatchKind::All)
                            .minimum_cache_clear_count(Some(3)),
                    )
                    .build_from_nfa(nfa)
                    .ok()
            })
            .collect::<Vec<_>>();
        let for_starts = starts.clone();
        let slots: Vec<Option<usize>> = alone
            .iter()
            .map(|v| v.as_ref().map(|v| v.regexes.len()))
            .collect();
        let scratch = ScratchPool::new(Box::new(move || Scratch {
            starts: for_starts
                .iter()
                .map(|d| d.as_ref().map(|d| d.create_cache()))
                .collect(),
            alone: slots
                .iter()
                .map(|n| n.map(|n| (0..n).map(|_| None).collect()))
                .collect(),
        }));
        Ok(PatternSet {
            re,
            which,
            alone,
            starts,
            scratch,
            kinds,
        })
    }

    /// The leftmost-first match in `text[at..]`: the combined regex finds
    /// its end and pattern, the pattern's own reverse automaton its start
    /// (as [`Regex::search`] would, with the combined reverse automaton).
    fn search(
        &self,
        scratch: &mut Scratch,
        text: &str,
        at: usize,
    ) -> Option<regex_automata::Match> {
        let input = Input::new(text).span(at..text.len());
        let end = self.re.search_half(&input)?;
        let (pid, e) = (end.pattern(), end.offset());
        if e == at {
            return Some(regex_automata::Match::new(pid, e..e));
        }
        let (Some(dfa), Some(cache)) = (
            &self.starts[pid.as_usize()],
            scratch.starts[pid.as_usize()].as_mut(),
        ) else {
            return self.re.search(&input);
        };
        let rev = Input::new(text)
            .span(at..e)
            .anchored(Anchored::Yes)
            .earliest(false);
        match dfa.try_search_rev(cache, &rev) {
            Ok(Some(start)) => Some(regex_automata::Match::new(pid, start.offset()..e)),
            // The automaton gave up (or, impossibly, found nothing): the
            // combined regex answers instead.
            _ => self.re.search(&input),
        }
    }

    /// Appends validated spans found in `text` to `out`.
    pub(crate) fn scan(&self, text: &str, config: &DetectorConfig, out: &mut Vec<Span>) {
        let mut scratch = self.scratch.get();
        let scratch = &mut *scratch;
        let mut at = 0;
        while at < text.len() {
            // Most patterns have no groups: the match alone says where the
            // value is, and the capture engine runs only for the rest.
            let Some(m) = self.search(scratch, text, at) else {
                break;
            };
            let kind = self.kinds[m.pattern().as_usize()];
            let (start, end) =
                self.value_of(scratch, text, m.pattern().as_usize(), m.start(), m.end());
            match validate(kind, text, start, end, config) {
                Some((category, detector, confidence)) => {
                    // "Windsor Lane Medical Practice": a street name that
                    // begins an institution's name gives way to the institution.
                    if kind == Kind::StreetAddress {
                        if let Some(span) = self.institution_at(text, config, m.start(), end) {
                            at = span.end.max(at + 1);
                            out.push(span);
                            continue;
                        }
                    }
                    out.push(Span {
                        start,
                        end,
                        category,
                        detector,
                        confidence,
                    });
                    at = m.end().max(at + 1);
                }
                None => {
                    // The winner was refused; a lower-priority pattern may
                    // still match here ("Ref NW/22" is an ID if not a postcode).
                    if let Some(span) =
                        self.fallback(scratch, text, config, m.start(), m.pattern().as_usize())
                    {
                        at = span.end.max(at + 1);
                        out.push(span);
                    } else {
                        at = next_char(text, m.start());
                    }
                }
            }
        }
    }
}

impl PatternSet {
    /// An institution name starting at `start` and running past `end`.
    fn institution_at(
        &self,
        text: &str,
        config: &DetectorConfig,
        start: usize,
        end: usize,
    ) -> Option<Span> {
        let pid = self.kinds.iter().position(|k| *k == Kind::Institution)?;
        let input = Input::new(text)
            .span(start..text.len())
            .anchored(Anchored::Pattern(PatternID::new_unchecked(pid)));
        let m = self.re.search(&input)?;
        if m.end() <= end {
            return None;
        }
        let (category, detector, confidence) =
            validate(Kind::Institution, text, m.start(), m.end(), config)?;
        Some(Span {
            start: m.start(),
            end: m.end(),
            category,
            detector,
            confidence,
        })
    }

    /// Tries every other pattern anchored at `start`, in priority order.
    fn fallback(
        &self,
        scratch: &mut Scratch,
        text: &str,
        config: &DetectorConfig,
        start: usize,
        refused: usize,
    ) -> Option<Span> {
        let mut matching = regex_automata::PatternSet::new(self.which.pattern_len());
        self.which.which_overlapping_matches(
            &Input::new(text)
                .span(start..text.len())
                .anchored(Anchored::Yes),
            &mut matching,
        );
        if matching.is_empty() {
            return None;
        }
        for pid in matching
            .iter()
            .map(|p| p.as_usize())
            .filter(|&p| p != refused)
        {
            let input = Input::new(text)
                .span(start..text.len())
                .anchored(Anchored::Pattern(PatternID::new_unchecked(pid)));
            let Some(m) = self.re.search(&input) else {
                continue;
            };
            let (s, e) = self.value_of(scratch, text, pid, m.start(), m.end());
            if let Some((category, detector, confidence)) =
                validate(self.kinds[pid], text, s, e, config)
            {
                return Some(Span {
                    start: s,
                    end: e,
                    category,
                    detector,
                    confidence,
                });
            }
        }
        None
    }
}

impl PatternSet {
    /// The value part of pattern `pid`'s match at `start..end`: the whole
    /// match, or its value group, resolved by that pattern alone on the
    /// match bounds only.
    fn value_of(
        &self,
        scratch: &mut Scratch,
        text: &str,
        pid: usize,
        start: usize,
        end: usize,
    ) -> (usize, usize) {
        let (Some(alone), Some(scratch)) = (&self.alone[pid], scratch.alone[pid].as_mut()) else {
            return (start, end);
        };
        // The regex for the match's first byte (the whole pattern for an
        // empty match, which has none).
        let i = match text.as_bytes().get(start) {
            Some(&b) if start < end => usize::from(alone.by_first[usize::from(b)]),
            _ => 0,
        };
        let (Some(regex), Some(slot)) = (alone.get(i), scratch.get_mut(i)) else {
            return (start, end);
        };
        let (cache, caps) =
            slot.get_or_insert_with(|| (regex.create_cache(), regex.create_captures()));
        regex.search_captures_with(
            cache,
            &Input::new(text).span(start..end).anchored(Anchored::Yes),
            caps,
        );
        match caps.get_match() {
            Some(c) => value_range(caps, c.start(), c.end()),
            None => (start, end),
        }
    }
}

fn next_char(text: &str, i: usize) -> usize {
    let mut j = i + 1;
    while j < text.len() && !text.is_char_boundary(j) {
        j += 1;
    }
    j
}

/// The PHI part of a match: the first participating capture group when the
/// pattern has one (the value after a label), else the whole match.
fn value_range(caps: &Captures, start: usize, end: usize) -> (usize, usize) {
    let pid = caps.pattern().expect("a match has a pattern");
    for g in 1..caps.group_info().group_len(pid) {
        if let Some(s) = caps.get_group(g) {
            return (s.start, s.end);
        }
    }
    (start, end)
}

fn digits(s: &str) -> Vec<u8> {
    s.bytes()
        .filter(u8::is_ascii_digit)
        .map(|b| b - b'0')
        .collect()
}

/// NHS and CHI numbers share the modulus-11 check over the first nine digits.
pub(crate) fn mod11_valid(d: &[u8]) -> bool {
    if d.len() != 10 {
        return false;
    }
    let sum: u32 = d[..9]
        .iter()
        .enumerate()
        .map(|(i, &x)| u32::from(x) * (10 - i as u32))
        .sum();
    let check = 11 - sum % 11;
    let check = if check == 11 { 0 } else { check };
    check != 10 && check == u32::from(d[9])
}

/// UK postcode areas (the letters before the first digit), as published by
/// Royal Mail; used to keep lower-case look-alikes ("co2 5ml") out.
const POSTCODE_AREAS: &[&str] = &[
    "AB", "AL", "B", "BA", "BB", "BD", "BF", "BH", "BL", "BN", "BR", "BS", "BT", "BX", "CA", "CB",
    "CF", "CH", "CM", "CO", "CR", "CT", "CV", "CW", "DA", "DD", "DE", "DG", "DH", "DL", "DN", "DT",
    "DY", "E", "EC", "EH", "EN", "EX", "FK", "FY", "G", "GL", "GU", "GY", "HA", "HD", "HG", "HP",
    "HR", "HS", "HU", "HX", "IG", "IM", "IP", "IV", "JE", "KA", "KT", "KW", "KY", "L", "LA", "LD",
    "LE", "LL", "LN", "LS", "LU", "M", "ME", "MK", "ML", "N", "NE", "NG", "NN", "NP", "NR", "NW",
    "OL", "OX", "PA", "PE", "PH", "PL", "PO", "PR", "RG", "RH", "RM", "S", "SA", "SE", "SG", "SK",
    "SL", "SM", "SN", "SO", "SP", "SR", "SS", "ST", "SW", "SY", "TA", "TD", "TF", "TN", "TQ", "TR",
    "TS", "TW", "UB", "W", "WA", "WC", "WD", "WF", "WN", "WR", "WS", "WV", "YO", "ZE",
];

pub(crate) fn postcode_area_known(area: &str) -> bool {
    POSTCODE_AREAS.contains(&area)
}

fn valid_postcode(s: &str) -> bool {
    let compact: String = s
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_uppercase();
    let n = compact.len();
    if !(5..=7).contains(&n) {
        return false;
    }
    let (outward, inward) = compact.split_at(n - 3);
    let inward = inward.as_bytes();
    if !inward[0].is_ascii_digit() || inward[1..].iter().any(|c| b"CIKMOV".contains(c)) {
        return false;
    }
    let area: String = outward
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect();
    if postcode_area_known(&area) {
        return true;
    }
    // Unknown areas (e.g. the NHS pseudo-postcode ZZ99) only in canonical form.
    s.bytes().all(|b| !b.is_ascii_lowercase()) && s.contains(' ') && area == "ZZ"
}

fn valid_ni(s: &str) -> bool {
    let up = s.to_ascii_uppercase();
    // QQ is the prefix HMRC reserves for examples; documents use it as a real one.
    if up.starts_with("QQ") {
        return s.starts_with("QQ");
    }
    let p = &up.as_bytes()[..2];
    let bad_first = b"DFIQUV";
    let bad_second = b"DFIOQUV";
    if bad_first.contains(&p[0]) || bad_second.contains(&p[1]) {
        return false;
    }
    if ["BG", "GB", "NK", "KN", "TN", "NT", "ZZ"].contains(&&up[..2]) {
        return false;
    }
    // Lower-case look-alikes ("on 12 34 56 a") need the canonical upper case.
    s.bytes().take(2).all(|b| b.is_ascii_uppercase())
}

/// "20240312": eight digits that read as a date of 1900–2099 in ISO order
/// (year, month, day) with no separators, as systems stamp them.
fn compact_date(s: &str) -> bool {
    if s.len() != 8 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let n = |r: std::ops::Range<usize>| s[r].parse::<u32>().unwrap_or(0);
    (1900..=2099).contains(&n(0..4)) && valid_day_month(n(6..8), n(4..6))
}

fn valid_day_month(day: u32, month: u32) -> bool {
    (1..=12).contains(&month) && (1..=31).contains(&day)
}

fn parse_nums(s: &str) -> Vec<u32> {
    s.split(|c: char| !c.is_ascii_digit())
        .filter(|p| !p.is_empty())
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// Word immediately before `start`, lower-cased (skipping spaces and punctuation).
fn word_before(text: &str, start: usize) -> String {
    let head = text[..start].trim_end_matches(|c: char| c.is_whitespace() || c == ':');
    let w: String = head
        .chars()
        .rev()
        .take_while(|c| c.is_alphanumeric())
        .collect();
    w.chars().rev().collect::<String>().to_lowercase()
}

/// The text right after `end` up to the next space-separated word on the
/// same line, lower-cased: "6/8\nMs Poole" is not "6/8 ms".
fn word_after(text: &str, end: usize) -> String {
    let tail = text[end..].trim_start_matches([' ', '\t']);
    tail.chars()
        .take_while(|c| c.is_alphanumeric() || *c == '/' || *c == '%')
        .collect::<String>()
        .to_lowercase()
}

const UNITS: &[&str] = &[
    "mg", "g", "kg", "mcg", "ug", "ng", "ml", "l", "mls", "units", "unit", "iu", "u", "mmol",
    "mol", "mmhg", "cm", "mm", "m", "km", "kcal", "cal", "%", "x", "tabs", "tablets", "caps",
    "steps", "metres", "meters", "ft", "feet", "miles", "lb", "lbs", "hours", "hrs", "mins",
    "minutes", "secs", "ms", "bpm", "/min", "cells", "copies", "pounds", "dollars",
];

fn followed_by_unit(text: &str, end: usize) -> bool {
    // "2000mg" has no space; "2000 mg" has one.
    let tail = &text[end..];
    let glued: String = tail
        .chars()
        .take_while(|c| c.is_alphabetic() || *c == '%')
        .collect::<String>()
        .to_lowercase();
    let w = if glued.is_empty() {
        word_after(text, end)
    } else {
        glued
    };
    UNITS.contains(&w.as_str()) || w.starts_with("mg") || w.starts_with("ml")
}

fn preceded_by_number_glue(text: &str, start: usize) -> bool {
    // Part of a bigger number such as "1,2000" or "3.2000".
    let b = text.as_bytes();
    start >= 2 && matches!(b[start - 1], b',' | b'.') && b[start - 2].is_ascii_digit()
}

/// Words after which "n/n" is a score, a fraction or a duration, not a date.
const SCORE_WORDS: &[&str] = &[
    "power",
    "grade",
    "gcs",
    "mrc",
    "score",
    "pain",
    "strength",
    "reflexes",
    "murmur",
    "scale",
    "motor",
    "sensation",
    "tone",
    "of",
    "x",
    "take",
    "takes",
    "taking",
    "tab",
    "tabs",
    "tablet",
    "and",
    "eye",
    "eyes",
    "va",
    "visual",
    "acuity",
    "apgar",
    "ratio",
    "bp",
    "dose",
    "doses",
    "mobility",
    "fev1",
    "phq",
    "gad",
    "audit",
    "ciwa",
    "cows",
    "news",
    "ews",
    "mews",
    "rass",
    "braden",
    "waterlow",
    "must",
    "abbreviated",
    "amts",
    "mmse",
    "moca",
    "sats",
    "o2",
];

/// Whether `text[..start]` ends with a tag-mode placeholder such as `[NAME]`.
fn after_tag_placeholder(text: &str, start: usize) -> bool {
    let head = text[..start].trim_end().as_bytes();
    let Some(inner) = head.strip_suffix(b"]") else {
        return false;
    };
    let letters = inner
        .iter()
        .rev()
        .take_while(|c| c.is_ascii_uppercase() || **c == b'_')
        .count();
    letters >= 2 && inner[..inner.len() - letters].ends_with(b"[")
}

fn short_date_ok(text: &str, start: usize, end: usize) -> bool {
    let n = parse_nums(&text[start..end]);
    let (a, b) = (n[0], n[1]);
    // UK clinical shorthand: n/7 days, n/52 weeks, n/12 months.
    let before = word_before(text, start);
    // Right after a tag placeholder ("[NAME] 5/5"), the word the first pass
    // judged by is gone; a short date there was already kept or refused then,
    // so refuse it now (tag-mode output scans to itself).
    if after_tag_placeholder(text, start) {
        return false;
    }
    let date_cue = [
        "dated", "on", "from", "since", "until", "date", "seen", "last", "next",
    ]
    .contains(&before.as_str());
    let labelled = date_label_before(text, start);
    let date_cue = date_cue || labelled;
    // "27/07", "23/02": shorthand for days or weeks ("3/7", "6/52") and
    // scores ("4/5") are never written with a zero; a month is.
    let zero_month = text[start..end]
        .rsplit(['/', '.'])
        .next()
        .is_some_and(|m| m.len() == 2 && m.starts_with('0'));
    if (b == 7 && !date_cue && !zero_month) || b == 52 || b == 0 || a == 0 {
        return false;
    }
    // "10/9-10/10", "(2/4-2/11)": a range of two short dates is dates,
    // whatever each would read as alone.
    if let Some((c, d)) = short_date_range_partner(text, start, end) {
        // "4/5-5/5", "3/10-6/10": a range of scores shares its denominator.
        let scores = b == d && a <= b && c <= d;
        return !scores && (valid_day_month(a, b) || valid_day_month(b, a));
    }
    if !(valid_day_month(a, b) || valid_day_month(b, a)) {
        return false;
    }
    // "last dose 1/13": no dose is a thirteenth; a day over 12 makes it a date.
    let dose_date = before.starts_with("dose") && (a > 12 || b > 12);
    // "(02/02 and 23/02)": no score follows "and" with a zero-padded month,
    // nor with more points than the scale has ("… and 15/3 at 0800").
    let date_after_and = before == "and" && (zero_month || (a > 12 && a > b));
    if SCORE_WORDS.contains(&before.as_str()) && !dose_date && !date_after_and {
        return false;
    }
    let after = word_after(text, end);
    if zero_month && !UNITS.contains(&after.as_str()) {
        return !text[end..].starts_with('/') && !text[..start].ends_with('/');
    }
    if b == 12 && ["ago", "hx", "history", "old", "post", "duration"].contains(&after.as_str()) {
        return false;
    }
    // "16/4 mg": a combination dose, not a date.
    if UNITS.contains(&after.as_str()) && !after.is_empty() {
        return false;
    }
    // "Recall 6/12", "review 3/12": months to wait, not a date.
    if b == 12
        && a < 12
        && [
            "recall", "review", "rv", "r/v", "fu", "f/u", "in", "for", "x",
        ]
        .contains(&before.as_str())
    {
        return false;
    }
    if b <= 10 && a <= b && (after.is_empty() || UNITS.contains(&after.as_str())) {
        // "4/5" with nothing after it reads as a score, unless a word
        // before it says when ("due 3/8", "last dose 1/3").
        return [
            "on",
            "seen",
            "dated",
            "date",
            "due",
            "until",
            "till",
            "since",
            "from",
            "last",
            "next",
            "clinic",
            "appt",
            "appointment",
            "booked",
            "scheduled",
            "admitted",
            "discharged",
            "started",
            "stopped",
            "commenced",
            "lmp",
            "edd",
        ]
        .contains(&before.as_str())
            || labelled;
    }
    // Followed by "/n" means a longer fraction or a blood pressure.
    !text[end..].starts_with('/') && !text[..start].ends_with('/')
}

/// "Date of discharge: 8/7", "Discharge date - 8/7": the value of a field
/// whose label on the same line names a date; "Signed A Monroe 6/8": the
/// date on a signing-off line.
fn date_label_before(text: &str, start: usize) -> bool {
    let line = &text[text[..start].rfind('\n').map_or(0, |i| i + 1)..start];
    let first = line.trim_start().split([' ', ':']).next().unwrap_or("");
    if [
        "signed",
        "dictated",
        "typed",
        "reviewed",
        "verified",
        "authorised",
        "authorized",
    ]
    .iter()
    .any(|w| first.eq_ignore_ascii_case(w))
    {
        return true;
    }
    let Some(label) = line
        .trim_end_matches([' ', '\t'])
        .strip_suffix([':', '-', '–'])
    else {
        return false;
    };
    // The label is what follows the previous field on the line; a tag
    // placeholder ("[DATE] NOK: 3/4") is a value, never a label.
    let label = label.rsplit(['|', ']', '\t']).next().unwrap_or(label);
    label.len() <= 30
        && label
            .split(|c: char| !c.is_ascii_alphabetic())
            .any(|w| w.eq_ignore_ascii_case("date"))
}

/// When the short date at `start..end` is one end of "d/m-d/m" (a hyphen or
/// en dash between two short dates, no spaces), the other end's numbers.
fn short_date_range_partner(text: &str, start: usize, end: usize) -> Option<(u32, u32)> {
    let short = |t: &str| -> Option<(u32, u32)> {
        let (x, y) = t.split_once('/')?;
        let ok = |p: &str| (1..=2).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit());
        if ok(x) && ok(y) {
            Some((x.parse().ok()?, y.parse().ok()?))
        } else {
            None
        }
    };
    let after = text[end..]
        .strip_prefix('-')
        .or_else(|| text[end..].strip_prefix('–'));
    if let Some(rest) = after {
        let next: &str = rest
            .split(|c: char| !(c.is_ascii_digit() || c == '/'))
            .next()
            .unwrap_or("");
        if let Some(other) = short(next) {
            return Some(other);
        }
    }
    let before = text[..start]
        .strip_suffix('-')
        .or_else(|| text[..start].strip_suffix('–'));
    if let Some(head) = before {
        let prev = head
            .rsplit(|c: char| !(c.is_ascii_digit() || c == '/'))
            .next()
            .unwrap_or("");
        return short(prev);
    }
    None
}

fn numeric_date_ok(s: &str) -> bool {
    let n = parse_nums(s);
    if n.len() < 3 {
        return false;
    }
    valid_day_month(n[0], n[1]) || valid_day_month(n[1], n[0])
}

fn iso_date_ok(s: &str) -> bool {
    let n = parse_nums(s);
    n.len() >= 3 && (1800..=2200).contains(&n[0]) && valid_day_month(n[2], n[1])
}

/// Lab names after which "12.31" is a result, not a clock time.
const LAB_WORDS: &[&str] = &[
    "hb", "k", "na", "cr", "wcc", "wbc", "inr", "crp", "plt", "ph", "temp", "t", "glucose", "bm",
    "lactate", "hba1c", "egfr", "urea", "ca", "mg", "po4", "alb", "bili", "alt", "ast", "alp",
    "ggt", "tsh", "t4", "ck", "trop", "ddimer", "ferritin", "b12", "folate", "pco2", "po2", "hco3",
    "be", "fev1", "fvc", "pefr", "weight", "wt", "bmi", "height", "£", "$", "cost", "price",
    "version",
];

/// "12.31" as a time: a two-digit hour, not after a lab name, not before a unit.
fn dotted_time_ok(text: &str, start: usize, end: usize) -> bool {
    let s = &text[start..end];
    let hour_digits = s.bytes().take_while(u8::is_ascii_digit).count();
    hour_digits == 2
        && !LAB_WORDS.contains(&word_before(text, start).as_str())
        && !followed_by_unit(text, end)
        && !text[end..].starts_with(|c: char| c.is_ascii_digit() || c == '%')
}

fn ten_digit(text: &str, start: usize, end: usize) -> (Category, &'static str) {
    let d = digits(&text[start..end]);
    let before = word_before(text, start);
    let phone_context = [
        "tel",
        "telephone",
        "phone",
        "mobile",
        "mob",
        "fax",
        "call",
        "contact",
        "number",
        "ph",
        "cell",
        "home",
        "work",
    ]
    .contains(&before.as_str());
    if mod11_valid(&d) && !phone_context {
        return (Category::Id, "nhs_or_chi_number");
    }
    if d[0] == 0 || phone_context || (d[0] >= 2 && d[3] >= 2) {
        return (Category::Phone, "phone_number");
    }
    (Category::Id, "ten_digit_id")
}

type Verdict = Option<(Category, &'static str, f32)>;

fn validate(kind: Kind, text: &str, start: usize, end: usize, config: &DetectorConfig) -> Verdict {
    let s = &text[start..end];
    let v = |c: Category, d: &'static str, conf: f32| Some((c, d, conf));
    match kind {
        Kind::Email => v(Category::Email, "email", 0.99),
        Kind::Url => {
            if s.contains("//") || s.to_ascii_lowercase().starts_with("www.") || s.contains('/') {
                v(Category::Url, "url", 0.95)
            } else if s.split('.').count() >= 2 && !s.starts_with(|c: char| c.is_ascii_digit()) {
                v(Category::Url, "domain", 0.8)
            } else {
                None
            }
        }
        Kind::Ipv4 => {
            let ok = s
                .split('.')
                .all(|p| p.parse::<u32>().is_ok_and(|x| x <= 255));
            if ok {
                v(Category::Ip, "ipv4", 0.95)
            } else {
                None
            }
        }
        Kind::Ipv6 => {
            if s.matches(':').count() >= 2
                && s.parse::<std::net::Ipv6Addr>().is_ok()
                && s.chars().any(|c| c.is_ascii_hexdigit())
                && !(s.len() <= 8 && s.chars().all(|c| c.is_ascii_digit() || c == ':'))
            {
                v(Category::Ip, "ipv6", 0.95)
            } else {
                None
            }
        }
        Kind::LabelledId => {
            if s.len() == 1 {
                return None;
            }
            v(Category::Id, "labelled_id", 0.95)
        }
        Kind::Ssn => v(Category::Id, "ssn", 0.9),
        Kind::TenDigit => {
            let (c, d) = ten_digit(text, start, end);
            v(c, d, 0.9)
        }
        Kind::NiNumber => {
            if valid_ni(s) {
                v(Category::Id, "ni_number", 0.9)
            } else {
                None
            }
        }
        Kind::NmcPin => v(Category::Id, "nmc_pin", 0.85),
        Kind::UkPhone => {
            // "05-30-2020 11:27": a dashed date and its hour, not a number.
            let b = s.as_bytes();
            let dashed_date = b.len() >= 10
                && b[2] == b'-'
                && b[5] == b'-'
                && numeric_date_ok(&s[..10])
                && matches!(&s[6..8], "19" | "20");
            if dashed_date {
                return None;
            }
            let n = digits(s).len();
            let intl = s.starts_with('+');
            // "(01) 234 5678": a bracketed area code makes nine digits a number.
            let bracketed = s.starts_with("(0");
            if (intl && (11..=13).contains(&n))
                || (!intl && (10..=11).contains(&n))
                || (bracketed && n == 9)
            {
                v(Category::Phone, "uk_phone", 0.9)
            } else {
                None
            }
        }
        Kind::UsPhone => {
            if s.len() == 8 && followed_by_unit(text, end) {
                return None;
            }
            v(Category::Phone, "us_phone", 0.85)
        }
        Kind::IntlPhone => {
            let n = digits(s).len();
            if (8..=15).contains(&n) {
                v(Category::Phone, "intl_phone", 0.85)
            } else {
                None
            }
        }
        Kind::Extension => v(Category::Phone, "extension", 0.8),
        Kind::AccessCode => v(Category::Other, "access_code", 0.9),
        Kind::Postcode => {
            if valid_postcode(s) {
                v(Category::Location, "uk_postcode", 0.9)
            } else {
                None
            }
        }
        Kind::CityState => {
            // "GORD, MI" is a problem list: the town must be written in mixed case.
            let town = s.split(',').next().unwrap_or("");
            // "Ramona Aguilar, MD", "Cross, PA": a credential after a name
            // reads like a state; without a ZIP, the town must be a known place.
            let state = s[town.len() + 1..].trim_start();
            let credential = matches!(state, "MD" | "PA");
            // "Edgar Chapman, MD": a capitalised word right before the
            // "town" makes it a person's name, whatever the gazetteer says.
            let after_capitalised = text[..start]
                .strip_suffix(' ')
                .and_then(|h| h.rsplit([' ', '\n', '\t', ',', ':']).next())
                .is_some_and(|w| w.starts_with(|c: char| c.is_ascii_uppercase()));
            let known_town = || {
                !after_capitalised
                    && crate::lexicon::Lexicon::get()
                        .places
                        .contains(town.to_lowercase().as_str())
            };
            if town.chars().any(|c| c.is_lowercase()) && (!credential || known_town()) {
                v(Category::Location, "us_address", 0.85)
            } else {
                None
            }
        }
        Kind::ZipAfterState | Kind::ZipLabelled => v(Category::Location, "us_address", 0.85),
        Kind::OtherPostcode => {
            // An Eircode's last four mix letters and digits ("X285"); a
            // code of digits only after three characters is something else.
            let compact: String = s.chars().filter(|c| !c.is_whitespace()).collect();
            let tail = &compact[compact.len().saturating_sub(4)..];
            let mixed = tail.chars().any(|c| c.is_ascii_digit())
                && tail.chars().any(|c| c.is_ascii_alphabetic());
            let eircode_shape = compact.len() == 7
                && compact.as_bytes()[1].is_ascii_digit()
                && compact.as_bytes()[2].is_ascii_digit();
            if (eircode_shape && !mixed)
                || (s.contains(char::is_lowercase)
                    && !s.starts_with("Vic")
                    && !s.starts_with("Qld")
                    && !s.starts_with("Tas"))
            {
                None
            } else {
                v(Category::Location, "postcode", 0.8)
            }
        }
        Kind::StreetAddress | Kind::Flat | Kind::PoBox => {
            v(Category::Location, "street_address", 0.85)
        }
        Kind::Institution => crate::names::institution(text, start, end),
        Kind::Ward => {
            let words: Vec<String> = s
                .split_whitespace()
                .map(|w| w.trim_end_matches(':').to_lowercase())
                .collect();
            const NOT_A_WARD: &[&str] = &[
                "round",
                "rounds",
                "staff",
                "sister",
                "manager",
                "clerk",
                "nurse",
                "nurses",
                "team",
                "the",
                "on",
                "to",
                "and",
                "for",
                "based",
                "level",
                "general",
                "medical",
                "surgical",
                "transfer",
                "attenders",
                "attender",
                "this",
                "same",
                "review",
                "discharge",
                "moves",
                "virtual",
            ];
            if words.iter().any(|w| NOT_A_WARD.contains(&w.as_str())) {
                None
            } else {
                v(Category::Location, "ward", 0.7)
            }
        }
        Kind::Company => v(Category::Organization, "company", 0.7),
        Kind::DateIso => {
            if iso_date_ok(s) {
                v(Category::Date, "date_iso", 0.95)
            } else {
                None
            }
        }
        Kind::DateNumeric => {
            if numeric_date_ok(s) && !text[end..].starts_with(|c: char| c.is_ascii_digit()) {
                v(Category::Date, "date_numeric", 0.9)
            } else {
                None
            }
        }
        Kind::DateDayMonth | Kind::DateMonthDay | Kind::DateMonthYear => {
            month_name_date(text, start, end)
        }
        Kind::MonthYearNumeric => {
            let mut n = parse_nums(s);
            // "2019-08": year first.
            if n[0] >= 1900 {
                n.swap(0, 1);
            }
            // "2019-08" followed by "-12" is a full date; "2019-2020" a range.
            if text[end..].starts_with(['-', '/'])
                && text[end + 1..].starts_with(|c: char| c.is_ascii_digit())
            {
                return None;
            }
            if (1..=12).contains(&n[0]) && (1900..=2100).contains(&n[1]) {
                v(Category::Date, "date_month_year", 0.85)
            } else {
                None
            }
        }
        Kind::DateShort => {
            if short_date_ok(text, start, end) {
                v(Category::Date, "date_short", 0.6)
            } else {
                None
            }
        }
        Kind::WeekdayDay => {
            // "pt sat 3 hours in chair": a verb before a quantity.
            if followed_by_unit(text, end) || word_after(text, end) == "days" {
                return None;
            }
            v(Category::Date, "weekday_date", 0.85)
        }
        Kind::Weekday | Kind::WeekdayAbbrev => v(Category::Date, "weekday", 0.7),
        Kind::OrdinalDay => {
            // "on the 5th" is a day of the month; "on the 4th floor" is not.
            let day: u32 = s.trim_end_matches(char::is_alphabetic).parse().ok()?;
            let next = word_after(text, end);
            let closed = !text[end..].starts_with(' ')
                || matches!(
                    next.as_str(),
                    "and"
                        | "at"
                        | "but"
                        | "when"
                        | "so"
                        | "for"
                        | "or"
                        | "which"
                        | "to"
                        | "as"
                        | "until"
                        | "she"
                        | "he"
                        | "they"
                        | "i"
                        | "we"
                        | "with"
                        | "in"
                        | "after"
                        | "before"
                        | "by"
                        | "then"
                        | "if"
                );
            if (1..=31).contains(&day) && closed {
                v(Category::Date, "ordinal_day", 0.65)
            } else {
                None
            }
        }
        Kind::MonthName => v(Category::Date, "month_name", 0.7),
        Kind::Holiday => v(Category::Date, "holiday", 0.8),
        Kind::Year => {
            if s.starts_with('\'') {
                let prev = text[..start].chars().next_back();
                if prev.is_some_and(|c| c.is_alphanumeric()) {
                    return None;
                }
                return v(Category::Date, "year_apostrophe", 0.6);
            }
            if !config.years_alone
                || followed_by_unit(text, end)
                || preceded_by_number_glue(text, start)
            {
                return None;
            }
            let before = word_before(text, start);
            if ["£", "$", "x", "ref", "code", "room", "bed", "page"].contains(&before.as_str())
                || text[..start].ends_with(['£', '$', '#'])
            {
                return None;
            }
            v(Category::Date, "year", 0.7)
        }
        Kind::TimeCued => {
            // "seen 2024-03-12" is a date, not 20:24.
            let glued = text[end..].starts_with(['-', '/', '.'])
                && text[end + 1..].starts_with(|c: char| c.is_ascii_digit());
            if !config.times || glued || followed_by_unit(text, end) {
                return None;
            }
            // "since 2018", "by 2030": a year, not a clock time.
            let year_like = (1900..=2099).contains(&parse_nums(s).first().copied().unwrap_or(0));
            let cue = word_before(text, start);
            if year_like && ["since", "by", "until", "till", "from"].contains(&cue.as_str()) {
                return None;
            }
            v(Category::Date, "time", 0.7)
        }
        Kind::Time | Kind::TimeAmPm | Kind::TimeHrs => {
            if !config.times {
                return None;
            }
            // "1:10,000" is a dilution.
            if text[end..].starts_with(|c: char| c == ',' || c.is_ascii_digit())
                && text[end..]
                    .chars()
                    .nth(1)
                    .is_some_and(|c| c.is_ascii_digit())
            {
                return None;
            }
            if kind == Kind::Time
                && s.contains('.')
                && !s.to_ascii_lowercase().contains(['a', 'p', 'h'])
                && !dotted_time_ok(text, start, end)
            {
                // "4.50" is more often a measurement than a time.
                return None;
            }
            v(Category::Date, "time", 0.7)
        }
        Kind::Age => age(text, start, end, config),
        Kind::SeasonOrMay => v(Category::Date, "season_or_may", 0.8),
        Kind::AgeInBrackets => {
            // After a date of birth or a name, not a duration ("smoked (20 yrs)").
            let open = text[..start].rfind('(').unwrap_or(start);
            let before = text[..open].trim_end();
            let last_word = before
                .rsplit(|c: char| !c.is_alphanumeric())
                .next()
                .unwrap_or("");
            let after_date_or_name = before.ends_with(|c: char| c.is_ascii_digit())
                || last_word.starts_with(|c: char| c.is_uppercase());
            if after_date_or_name {
                age(text, start, end, config)
            } else {
                None
            }
        }
        Kind::AgeWords => {
            // Written-out ages under ninety follow the age policy.
            let t = text[start..end].to_ascii_lowercase();
            let over_89 = ["ninety", "one hundred", "a hundred", "centenarian"]
                .iter()
                .any(|w| t.starts_with(w));
            if over_89 || config.ages != AgePolicy::Over89 {
                v(Category::Age, "age_words", 0.9)
            } else {
                None
            }
        }
        Kind::LettersDigitsId => {
            if followed_by_unit(text, end) {
                None
            } else {
                v(Category::Id, "alphanumeric_id", 0.7)
            }
        }
        Kind::LongNumber => {
            if followed_by_unit(text, end) || preceded_by_number_glue(text, start) {
                None
            } else if compact_date(s) {
                v(Category::Date, "date_compact", 0.6)
            } else {
                v(Category::Id, "long_number", 0.6)
            }
        }
        Kind::ExtraId => v(Category::Id, "configured_id", 0.9),
        Kind::DrivingLicence => v(Category::Id, "driving_licence", 0.9),
        Kind::Plate => {
            let mixed =
                s.bytes().any(|b| b.is_ascii_digit()) && s.bytes().any(|b| b.is_ascii_alphabetic());
            if mixed {
                v(Category::Other, "vehicle_registration", 0.75)
            } else {
                None
            }
        }
        Kind::Handle => {
            // Not the middle of an e-mail address or a word.
            let before = text[..start].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '.' || c == '_') {
                None
            } else {
                v(Category::Other, "social_handle", 0.8)
            }
        }
        Kind::CardEnding => v(Category::Id, "card_ending", 0.8),
        Kind::TimeRange => {
            let n = parse_nums(s);
            let year = |x: u32| (1900..=2100).contains(&x);
            if !config.times || (year(n[0]) && year(n[1])) || followed_by_unit(text, end) {
                None
            } else {
                v(Category::Date, "time_range", 0.7)
            }
        }
        Kind::DateSpaced => {
            if numeric_date_ok(s) {
                v(Category::Date, "date_spaced", 0.8)
            } else {
                None
            }
        }
    }
}

fn month_name_date(text: &str, start: usize, end: usize) -> Verdict {
    let s = &text[start..end];
    // "may" as a verb: "may 2 weeks" — only the capitalised month with a day.
    let first_alpha = s.trim_start_matches(|c: char| !c.is_alphabetic());
    let nums = parse_nums(s);
    let lower_may = s.contains("may ") && !s.contains("May") && !s.contains("MAY");
    if lower_may && !nums.iter().any(|&n| n >= 1900) {
        return None;
    }
    // "Mar" glued to other words or "dec" (decreased) need a number beside them.
    if nums.is_empty() {
        return None;
    }
    if let Some(&day) = nums.first() {
        if day == 0 || (day > 31 && day < 1000 && !s.contains('\'')) {
            return None;
        }
    }
    let _ = first_alpha;
    Some((Category::Date, "date_month_name", 0.9))
}

const FAHRENHEIT_OR_GAUGE: &[&str] = &[
    "temp",
    "t",
    "temperature",
    "pyrexial",
    "febrile",
    "catheter",
    "foley",
    "cannula",
    "ngt",
    "ng",
    "tube",
    "sheath",
    "french",
    "fr",
    "size",
    "gauge",
    "g",
];

fn age(text: &str, start: usize, end: usize, config: &DetectorConfig) -> Verdict {
    let digits_only: String = text[start..end]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let n: u32 = digits_only.parse().ok()?;
    // "aged 90+" is already the safe form.
    if text[end..].starts_with('+') {
        return None;
    }
    // "98F" after a temperature word is Fahrenheit; "16F" before catheter is a gauge.
    let before = word_before(text, start);
    let after = text[end..].trim_start_matches(['M', 'F', ' ']);
    let after_word = word_after(text, end + (text.len() - end - after.len()));
    let letter = text[end..].trim_start_matches(' ').bytes().next();
    let sexed = matches!(letter, Some(b'M' | b'F'));
    // "fever over 101 F": a temperature word a few words back. Only "F",
    // only a body temperature (90–110 °F), and only on the same line:
    // "fever\nHPI: 73M presenting" is a man of 73.
    let temperature_near = letter == Some(b'F') && (90..=110).contains(&n) && {
        let mut from = start.saturating_sub(24);
        while !text.is_char_boundary(from) {
            from += 1;
        }
        let near = text[from..start].rsplit('\n').next().unwrap_or("");
        let near = near.to_ascii_lowercase();
        ["fever", "temp", "febrile", "pyrex"]
            .iter()
            .any(|w| near.contains(w))
    };
    if sexed
        && (FAHRENHEIT_OR_GAUGE.contains(&before.as_str())
            || FAHRENHEIT_OR_GAUGE.contains(&after_word.as_str())
            || temperature_near)
    {
        return None;
    }
    if n > 125 {
        return None;
    }
    if n <= 89 && config.ages == AgePolicy::Over89 {
        return None;
    }
    Some((Category::Age, "age", 0.9))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str) -> Vec<(String, Category)> {
        let set = PatternSet::new(&DetectorConfig::default()).unwrap();
        let mut out = Vec::new();
        set.scan(text, &DetectorConfig::default(), &mut out);
        out.into_iter()
            .map(|s| (text[s.start..s.end].to_string(), s.category))
            .collect()
    }

    #[test]
    fn practices_named_after_streets_and_family_physicians() {
        // Whether a practice is called a place or an organisation, it is covered.
        let orgs = |t: &str| {
            found(t)
                .into_iter()
                .filter(|(_, c)| matches!(c, Category::Organization | Category::Location))
                .map(|(s, _)| s)
                .collect::<Vec<_>>()
        };
        // A street name never runs over a line break into the line above.
        assert_eq!(
            orgs("Yours sincerely\nWillow Road Surgery\n12 High St"),
            ["Willow Road Surgery", "12 High St"]
        );
        assert_eq!(
            orgs("Letter\nHollybank Lane Medical Practice\n"),
            ["Hollybank Lane Medical Practice"]
        );
        assert_eq!(
            orgs("PCP: Dr. Nguyen, Pittsburgh Family Physicians"),
            ["Pittsburgh Family Physicians"]
        );
    }

    #[test]
    fn a_pruned_capture_regex_captures_what_the_whole_pattern_does() {
        // Every start in these texts, every pattern with a value group:
        // the regex for the start's byte and the whole pattern agree on
        // whether a match starts there, where it ends and every group that
        // takes part.
        let texts = [
            "MRN: 1234567 seen; Hosp No. A123456, NHS no 943 476 5919, ref no1, Ref NW1/22",
            "medicare id 12345 member no. 42 MCP 77 m.r.n. 99 ID: X12 id no 3 s/n AB-12",
            "Age: 73 aged 41 age 12 yrs 45 yo M, 17 y/o F in her 40s 3 weeks old (14 yr)",
            "ext. 4412 bleep 2231 (x4412) key safe code is 1234; door code: 9911",
            "Ward: Beech Ward at 1430 seen 0915: in May; summer of 2021 zip 90210",
        ];
        let set = PatternSet::new(&DetectorConfig::default()).unwrap();
        for text in texts {
            for (pid, values) in set.alone.iter().enumerate() {
                let Some(values) = values else { continue };
                let whole = values.get(0).unwrap();
                for start in 0..text.len() {
                    let slot = usize::from(values.by_first[usize::from(text.as_bytes()[start])]);
                    let pruned = values.get(slot).unwrap();
                    let input = Input::new(text)
                        .span(start..text.len())
                        .anchored(Anchored::Yes);
                    let (mut a, mut b) = (whole.create_captures(), pruned.create_captures());
                    whole.search_captures(&input, &mut a);
                    pruned.search_captures(&input, &mut b);
                    // Groups keep their indices; those of dropped
                    // alternatives are simply absent.
                    let groups = |c: &Captures| {
                        (0..c.group_len())
                            .filter_map(|g| c.get_group(g).map(|m| (g, m)))
                            .collect::<Vec<_>>()
                    };
                    assert_eq!(
                        groups(&a),
                        groups(&b),
                        "pattern {pid} at {start} of {text:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn factoring_keeps_the_first_alternative_that_matches() {
        // "a" may not jump "[a-z]c" to join "ab" (both can start at "a"),
        // so "ac" is still found whole; "x" is no obstacle to "(?i:ma)".
        let syntax = regex_automata::util::syntax::Config::new()
            .unicode(false)
            .utf8(false);
        for (pattern, text, want) in [
            (r"ab|[a-z]c|a", "ac", "ac"),
            (r"ab|[a-z]c|a", "ab", "ab"),
            (r"(?i:mrn|x|ma|m)\w*", "Max1", "Max1"),
            (r"\bab|\bc|\ba(?:bc)?", "abc", "ab"),
        ] {
            let hir = regex_automata::util::syntax::parse_with(pattern, &syntax).unwrap();
            let re = Regex::builder().build_from_hir(&factor(&hir)).unwrap();
            let m = re.find(text).unwrap();
            assert_eq!(
                &text[m.range()],
                want,
                "{pattern} on {text}: {}",
                factor(&hir)
            );
        }
    }

    #[test]
    fn factored_patterns_match_what_the_written_ones_do() {
        // Every match in turn through the fixture notes, and the match
        // anchored at every start, for each pattern written and factored.
        let text = [
            include_str!("../tests/fixtures/adversarial.txt"),
            include_str!("../tests/fixtures/holdout.txt"),
            include_str!("../tests/fixtures/holdout3.txt"),
        ]
        .concat();
        let syntax = regex_automata::util::syntax::Config::new()
            .unicode(false)
            .utf8(false);
        let build = |h: &Hir| {
            Regex::builder()
                .configure(Regex::config().auto_prefilter(false))
                .build_from_hir(h)
                .unwrap()
        };
        for (kind, pattern) in pattern_list() {
            let hir = regex_automata::util::syntax::parse_with(&pattern, &syntax).unwrap();
            let (written, factored) = (build(&hir), build(&factor(&hir)));
            let all = |re: &Regex| re.find_iter(text.as_bytes()).collect::<Vec<_>>();
            assert_eq!(all(&written), all(&factored), "{kind:?}");
            for start in 0..text.len() {
                let input = Input::new(&text)
                    .span(start..text.len())
                    .anchored(Anchored::Yes);
                assert_eq!(
                    written.search(&input),
                    factored.search(&input),
                    "{kind:?} from {start}"
                );
            }
        }
    }

    #[test]
    fn ward_fields_keep_the_ward_s_whole_name() {
        for (text, ward) in [
            ("Attending: Dr. Lowe   Ward: Unit 3A", "Unit 3A"),
            ("Consultant: Dr Horton   Ward: Beech Ward", "Beech Ward"),
            ("Ward: Ward M1", "Ward M1"),
            ("Ward: Rowan", "Rowan"),
            ("transferred to Unit 3 North today", "Unit 3 North"),
        ] {
            let f = found(text);
            assert!(f.iter().any(|(s, _)| s == ward), "{text}: {f:?}");
        }
        // Columns are not one ward name.
        assert!(found("Name: Tucker   Ward: 7B")
            .iter()
            .all(|(s, _)| !s.contains("Tucker")));
    }

    #[test]
    fn a_date_written_with_its_month_name_stays_on_its_line() {
        let f = found("Review 30th Mar\n18 units insulin");
        assert!(f.iter().any(|(s, _)| s == "30th Mar"), "{f:?}");
        assert!(f.iter().all(|(s, _)| !s.contains('\n')), "{f:?}");
    }

    #[test]
    fn a_doctor_s_credential_is_no_state() {
        assert!(found("Ramona Aguilar, MD\nCross, PA").is_empty());
        assert!(found("Signed: Edgar Chapman, MD").is_empty());
        assert_eq!(found("Baltimore, MD").len(), 1);
        assert_eq!(found("Smalltown, MD 21246").len(), 1);
    }

    #[test]
    fn nhs_numbers_need_a_valid_check_digit() {
        assert!(mod11_valid(&digits("943 476 5919")));
        assert!(!mod11_valid(&digits("943 476 5918")));
        assert_eq!(
            found("NHS 943 476 5919"),
            vec![("943 476 5919".to_string(), Category::Id)]
        );
        assert_eq!(
            found("nhs 943-476-5919."),
            vec![("943-476-5919".to_string(), Category::Id)]
        );
    }

    #[test]
    fn postcodes_in_every_form_but_not_lookalikes() {
        for p in [
            "SW1A 1AA", "M1 1AE", "B33 8TH", "CR2 6XH", "DN55 1PT", "sw1a1aa", "EC1A 1BB",
        ] {
            let got = found(&format!("lives at {p} now"));
            assert_eq!(got, vec![(p.to_string(), Category::Location)], "{p}");
        }
        assert!(found("co2 5ml given").is_empty());
    }

    #[test]
    fn dates_in_common_written_forms() {
        for d in [
            "12/03/2024",
            "12-Mar-24",
            "12th March",
            "March 12",
            "2024-03-12",
            "12.03.2024",
            "Mon 4th",
            "4th of July 2023",
            "Mar '24",
            "March 2019",
            "Wednesday 14th March 2024",
            "Saturday 3rd",
            "Weds 14th",
            "Thur 4th",
            "20240312",
        ] {
            let got = found(&format!("seen {d} in clinic"));
            assert_eq!(got, vec![(d.to_string(), Category::Date)], "{d}");
        }
    }

    #[test]
    fn scores_and_durations_are_not_dates() {
        for t in [
            "power 5/5 throughout",
            "GCS 15/15",
            "cough for 3/7",
            "symptoms 2/52",
            "BP 120/80",
            "paracetamol 1000mg",
            "may 2 weeks",
            "pt sat 3 hours in chair",
            "power 4/5 and 5/5",
        ] {
            let got: Vec<_> = found(t)
                .into_iter()
                .filter(|(_, c)| *c == Category::Date)
                .collect();
            assert!(got.is_empty(), "{t}: {got:?}");
        }
    }

    #[test]
    fn uk_driving_licence_numbers_are_ids() {
        assert_eq!(
            found("Driving licence MORGA657054SM9IJ seen"),
            vec![("MORGA657054SM9IJ".to_string(), Category::Id)]
        );
        // A month digit that no birth month codes to is not one.
        assert!(found("code MORGA697054SM9IJ").is_empty());
    }

    #[test]
    fn ages_keep_only_the_number() {
        assert_eq!(
            found("a 93 year old man"),
            vec![("93".to_string(), Category::Age)]
        );
        assert_eq!(found("aged 101"), vec![("101".to_string(), Category::Age)]);
        assert_eq!(
            found("a widow aged seventy-two"),
            vec![("seventy-two".to_string(), Category::Age)]
        );
        // An infant's age in months, weeks or days.
        for text in [
            "18 months old boy",
            "A 3 month old baby",
            "a 6-week-old infant",
        ] {
            let f = found(text);
            assert_eq!(f.len(), 1, "{text}: {f:?}");
            assert_eq!(f[0].1, Category::Age);
        }
        assert!(found("symptoms for 3 months, old scar").is_empty());
        assert!(found("temp 99F").is_empty());
        assert!(found("fever over 101 F").is_empty());
        assert_eq!(found("Date of discharge: 8/7\nUnder Dr X").len(), 1);
        assert_eq!(found("3 weeks apart (02/02 and 23/02).").len(), 2);
        assert!(found("power 4/5 and 3/5").is_empty());
        assert_eq!(found("Arrival: 12:23 on 6/8\nMs Poole").len(), 2);
        assert!(found("Plan: abx for 5/7\nDate seen").is_empty());
        assert_eq!(found("Signed alan monroe 6/8\nContact: x").len(), 1);
        // A man of 73 on the line after a fever, and no body temperature.
        assert_eq!(found("CC: fever\nHPI: 73M presenting").len(), 1);
        assert_eq!(found("febrile, 64F with cough").len(), 1);
    }

    #[test]
    fn phones_ids_and_addresses() {
        let got = found("call 07700 900123 or (0161) 496 0000, ssn 123-45-6789, NI QQ 12 34 56 C");
        let cats: Vec<Category> = got.iter().map(|g| g.1).collect();
        assert_eq!(
            cats,
            vec![Category::Phone, Category::Phone, Category::Id, Category::Id],
            "{got:?}"
        );
        assert_eq!(
            found("MRN: A1234567"),
            vec![("A1234567".to_string(), Category::Id)]
        );
        assert_eq!(
            found("email jo.bloggs@example.org today"),
            vec![("jo.bloggs@example.org".to_string(), Category::Email)]
        );
        assert_eq!(
            found("from 10.0.0.12"),
            vec![("10.0.0.12".to_string(), Category::Ip)]
        );
    }

    #[test]
    fn short_date_ranges_seasons_may_and_cued_ages() {
        let values = |t: &str| found(t).into_iter().map(|(v, _)| v).collect::<Vec<_>>();
        assert_eq!(values("PICU 10/9-10/10 then ward"), ["10/9", "10/10"]);
        assert_eq!(values("admitted 12/3-15/3 with"), ["12/3", "15/3"]);
        assert!(values("power 4/5-5/5 throughout").is_empty());
        assert_eq!(values("eye exam due 3/8; clinic 27/07"), ["3/8", "27/07"]);
        assert_eq!(values("last dose 1/13 AM"), ["1/13"]);
        assert!(values("dose 1/2 tab").is_empty());
        assert_eq!(values("two falls since summer 2023"), ["summer 2023"]);
        assert_eq!(values("tournament in May, if healed"), ["May"]);
        assert!(values("you may wish to").is_empty());
        assert!(values("shouting in his sleep since 2018.").is_empty());
        assert_eq!(values("Arrive 0600 on the day"), ["0600"]);
        assert_eq!(values("AGE: 73Y  SEX: F"), ["73"]);
        assert_eq!(values("NICU note DOL 9"), ["9"]);
        assert_eq!(values("Pt 79, lives with wife"), ["79"]);
        assert_eq!(values("DOB 01/02/1950 (74 y)"), ["01/02/1950", "74"]);
        assert!(values("ex-smoker (20 yrs)").is_empty());
        assert_eq!(
            values("DOB 09/09/1999, Flat B, 18 Kendrick Road"),
            ["09/09/1999", "Flat B", "18 Kendrick Road"]
        );
        assert_eq!(values("CHI 2106648022 | 2F1, 17 Easter Road")[1], "2F1");
        assert!(values("IL-2F1, then").is_empty());
        assert_eq!(values("Acct 4471   SSN xxx-xx-6620 | Payer"), ["6620"]);
        assert_eq!(
            values("MVC on Route 9 near town; I-95 north"),
            ["Route 9", "I-95"]
        );
        assert!(values("Form I-693 completed").is_empty());
    }
}
