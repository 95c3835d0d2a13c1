//! What a mailing would send, before it is saved: its text rendered for each client it
//! matches, tallied by encoding, by parts and by operator, with a few renderings to look at
//! and the cost at each operator's price.

use crate::attributes::AttributeKey;
use crate::client::TimeZone;
use crate::message::MessageText;
use crate::operator::{OperatorCode, Price};
use crate::segments::{Encoding, Segments};
use crate::store::MatchingClient;
use crate::template::{Recipient, Template, Variable};
use std::collections::{BTreeMap, HashMap};

/// One client's rendering, to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    pub client: MatchingClient,
    pub text: String,
    pub segments: Segments,
    /// Variables the client had no value for, without a fallback.
    pub missing: Vec<Variable>,
}

/// The messages and parts at one operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OperatorTally {
    pub messages: u64,
    pub segments: u64,
}

/// The running totals of a preview.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    /// Clients the filter matches.
    pub recipients: u64,
    /// Of them, those whose number opted out: their messages are suppressed, not sent.
    pub suppressed: u64,
    pub by_encoding: BTreeMap<Encoding, u64>,
    /// Messages by how many parts they take.
    pub by_parts: BTreeMap<u32, u64>,
    pub segments_total: u64,
    pub by_operator: BTreeMap<OperatorCode, OperatorTally>,
    /// Clients the filter matches in each time zone.
    pub by_zone: HashMap<TimeZone, u64>,
    /// Clients the filter matches (opted out or not) that lack each attribute the text shows
    /// without a fallback, as saving the mailing counts them.
    pub missing: BTreeMap<AttributeKey, u64>,
    pub samples: Vec<Sample>,
}

impl Tally {
    /// How many renderings a preview keeps to show.
    pub const SAMPLES: usize = 5;

    /// Adds one client the filter matches.
    pub fn add(&mut self, template: &Template, client: MatchingClient) {
        self.recipients += 1;
        *self.by_zone.entry(client.time_zone).or_default() += 1;
        let rendered = template.render(Recipient {
            phone: &client.phone,
            operator_code: &client.operator_code,
            attributes: &client.attributes,
        });
        for variable in &rendered.missing {
            if let Variable::Attribute(key) = variable {
                *self.missing.entry(key.clone()).or_default() += 1;
            }
        }
        if client.opted_out {
            self.suppressed += 1;
            return;
        }
        let sent = MessageText::counted(rendered.text);
        *self.by_encoding.entry(sent.encoding).or_default() += 1;
        *self.by_parts.entry(sent.segments).or_default() += 1;
        self.segments_total += u64::from(sent.segments);
        let at = self
            .by_operator
            .entry(client.operator_code.clone())
            .or_default();
        at.messages += 1;
        at.segments += u64::from(sent.segments);
        if self.samples.len() < Self::SAMPLES {
            self.samples.push(Sample {
                segments: Segments::of(&sent.text),
                text: sent.text,
                missing: rendered.missing,
                client,
            });
        }
    }

    /// The cost at each operator with a price, the sum of those, and the operators without
    /// one (whose parts the sum leaves out).
    pub fn cost(&self, prices: &HashMap<OperatorCode, Price>) -> Cost {
        let mut cost = Cost::default();
        for (code, at) in &self.by_operator {
            match prices.get(code) {
                Some(price) => {
                    let amount = price.times(at.segments);
                    cost.total = cost.total + amount;
                    cost.by_operator.push((code.clone(), *price, amount));
                }
                None => cost.unpriced.push(code.clone()),
            }
        }
        cost
    }
}

/// What a preview's messages would cost.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cost {
    /// Each priced operator with its price per part and the cost of its parts.
    pub by_operator: Vec<(OperatorCode, Price, Price)>,
    pub total: Price,
    /// Operators with messages but no price.
    pub unpriced: Vec<OperatorCode>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attributes::Attributes;
    use crate::client::PhoneNumber;
    use crate::ids::ClientId;
    use serde_json::json;

    fn client(
        id: i64,
        operator: &str,
        attributes: serde_json::Value,
        opted_out: bool,
    ) -> MatchingClient {
        MatchingClient {
            id: ClientId(id),
            phone: PhoneNumber::parse(&format!("7900000{id:04}")).unwrap(),
            operator_code: OperatorCode::parse(operator).unwrap(),
            attributes: Attributes::from_json(&attributes).unwrap(),
            time_zone: TimeZone::utc(),
            opted_out,
        }
    }

    #[test]
    fn tallies_renderings_by_encoding_parts_and_operator() {
        let template =
            Template::parse("Hello {{ attributes.name }}! {{ attributes.note | default: \"\" }}")
                .unwrap();
        let mut tally = Tally::default();
        tally.add(&template, client(1, "mts", json!({"name": "Ann"}), false));
        tally.add(&template, client(2, "mts", json!({"name": "Анна"}), false));
        tally.add(
            &template,
            client(3, "bln", json!({"note": "x".repeat(200)}), false),
        );
        tally.add(&template, client(4, "bln", json!({"name": "Bob"}), true));
        assert_eq!(tally.recipients, 4);
        assert_eq!(tally.suppressed, 1);
        assert_eq!(
            tally.by_encoding,
            BTreeMap::from([(Encoding::Gsm7, 2), (Encoding::Ucs2, 1)])
        );
        // "Hello ! " + 200 characters = 208 GSM characters: two parts.
        assert_eq!(tally.by_parts, BTreeMap::from([(1, 2), (2, 1)]));
        assert_eq!(tally.segments_total, 4);
        // Counted over every matching client, as a save counts them: client 3 has no name.
        assert_eq!(
            tally.missing,
            BTreeMap::from([(AttributeKey::parse("name").unwrap(), 1)])
        );
        assert_eq!(tally.by_zone, HashMap::from([(TimeZone::utc(), 4)]));
        assert_eq!(tally.samples.len(), 3);
        assert_eq!(tally.samples[1].text, "Hello Анна! ");
        let prices = HashMap::from([(
            OperatorCode::parse("mts").unwrap(),
            Price::parse("0.45").unwrap(),
        )]);
        let cost = tally.cost(&prices);
        assert_eq!(cost.total.to_string(), "0.90");
        assert_eq!(cost.unpriced, vec![OperatorCode::parse("bln").unwrap()]);
    }
}
