//! A submitted form or query string, read by name. HTML forms repeat a name for each ticked
//! checkbox, which the usual struct deserializers cannot take, so fields are read one by one.

#[derive(Default)]
pub struct Form(Vec<(String, String)>);

impl Form {
    pub fn parse(encoded: &[u8]) -> Self {
        Self(form_urlencoded::parse(encoded).into_owned().collect())
    }

    /// The first value given for `name`, or "".
    pub fn value(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map_or("", |(_, value)| value.as_str())
    }

    /// The value, trimmed, when something other than blanks was given.
    pub fn filled(&self, name: &str) -> Option<String> {
        let value = self.value(name).trim();
        (!value.is_empty()).then(|| value.to_owned())
    }

    /// Every non-empty value given for `name`, in order.
    pub fn values(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(key, value)| key == name && !value.is_empty())
            .map(|(_, value)| value.clone())
            .collect()
    }

    /// Whether a checkbox named `name` was ticked.
    pub fn checked(&self, name: &str) -> bool {
        self.0.iter().any(|(key, _)| key == name)
    }

    /// The page number asked for; anything unreadable means the first page.
    pub fn page(&self) -> u32 {
        self.value("page")
            .parse()
            .ok()
            .filter(|p| *p > 0)
            .unwrap_or(1)
    }
}

/// A comma-separated list, as typed into one text field.
pub fn split_list(raw: &str) -> Vec<String> {
    raw.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_names_keep_every_value() {
        let form = Form::parse(b"tags=a&tags=b+c&tags=&local_time=on&text=%D0%BF%D1%80");
        assert_eq!(form.values("tags"), ["a", "b c"]);
        assert!(form.checked("local_time"));
        assert!(!form.checked("missing"));
        assert_eq!(form.value("text"), "пр");
        assert_eq!(form.value("missing"), "");
    }

    #[test]
    fn a_page_number_is_positive_or_the_first() {
        assert_eq!(Form::parse(b"page=3").page(), 3);
        assert_eq!(Form::parse(b"page=0").page(), 1);
        assert_eq!(Form::parse(b"page=-2").page(), 1);
        assert_eq!(Form::parse(b"page=x").page(), 1);
    }

    #[test]
    fn a_typed_list_drops_blanks() {
        assert_eq!(split_list(" vip, ,new  ,"), ["vip", "new"]);
        assert!(split_list("").is_empty());
    }
}
