//! Clients to mail, described in the test so the expected recipients are computed here rather
//! than read back from the system under test.

/// One client as the directory stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSpec {
    pub phone: String,
    pub operator: String,
    pub tags: Vec<String>,
    pub time_zone: String,
}

impl ClientSpec {
    pub fn new(phone: &str, operator: &str, tags: &[&str], time_zone: &str) -> Self {
        Self {
            phone: phone.to_owned(),
            operator: operator.to_owned(),
            tags: tags.iter().map(|t| (*t).to_owned()).collect(),
            time_zone: time_zone.to_owned(),
        }
    }

    /// The product's filter rule: no operators given or ours listed, and no tags given or one of
    /// ours listed.
    pub fn matches(&self, operators: &[&str], tags: &[&str]) -> bool {
        (operators.is_empty() || operators.contains(&self.operator.as_str()))
            && (tags.is_empty() || self.tags.iter().any(|t| tags.contains(&t.as_str())))
    }
}

/// `count` clients numbered from `first`, with phones `790nnnnnnnn`: even numbers on `bln`,
/// odd ones on `mts`; number mod 3 picks the tag "Important", "Another Tag" or none.
///
/// # Panics
/// If the numbers do not fit in eight digits.
pub fn generated(first: u64, count: u64, time_zone: &str) -> Vec<ClientSpec> {
    assert!(
        first + count <= 100_000_000,
        "phone numbers have 8 free digits"
    );
    (first..first + count)
        .map(|n| {
            let operator = if n % 2 == 0 { "bln" } else { "mts" };
            let tags: &[&str] = match n % 3 {
                0 => &["Important"],
                1 => &["Another Tag"],
                _ => &[],
            };
            ClientSpec::new(&format!("790{n:08}"), operator, tags, time_zone)
        })
        .collect()
}
