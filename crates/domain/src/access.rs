//! Who may do what: the three roles, how a caller proved who they are, and how an OpenID
//! provider's groups map to roles.

use crate::invalid::Invalid;
use serde::{Deserialize, Serialize};
use std::fmt;

const MAX_USERNAME: usize = 100;
/// Long enough to resist guessing at the login throttle's pace; short ones are refused
/// rather than warned about.
pub const MIN_PASSWORD: usize = 10;
const MAX_PASSWORD: usize = 1000;

/// An account's name as people type it: no spaces, nothing a log or a URL must escape, and no
/// `:`, which marks an API key's account in idempotency records.
pub fn parse_username(raw: &str) -> Result<String, Invalid> {
    let trimmed = raw.trim();
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '@' | '-');
    if trimmed.is_empty() || trimmed.chars().count() > MAX_USERNAME || !trimmed.chars().all(allowed)
    {
        return Err(Invalid::UsernameFormat { max: MAX_USERNAME });
    }
    Ok(trimmed.to_owned())
}

/// A new password, taken as typed (spaces are part of it).
pub fn check_password(raw: &str) -> Result<(), Invalid> {
    let length = raw.chars().count();
    if (MIN_PASSWORD..=MAX_PASSWORD).contains(&length) {
        Ok(())
    } else {
        Err(Invalid::PasswordLength {
            min: MIN_PASSWORD,
            max: MAX_PASSWORD,
        })
    }
}

/// What an account or API key may do. The order is the order of power: each role may do all
/// that the roles before it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads everything but users, API keys and the audit log; changes nothing.
    Viewer,
    /// Also changes clients, tags, filters, mailings and their actions, imports and opt-outs.
    Manager,
    /// Everything, including users, API keys and operators.
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Admin, Role::Manager, Role::Viewer];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Manager => "manager",
            Role::Admin => "admin",
        }
    }

    pub fn parse(raw: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|role| role.as_str() == raw)
    }

    /// [`Role::parse`] as a rule of an input.
    pub fn read(raw: &str) -> Result<Role, Invalid> {
        Role::parse(raw.trim()).ok_or(Invalid::UnknownRole)
    }

    /// Whether this role may do what `needed` may.
    pub fn allows(self, needed: Role) -> bool {
        self >= needed
    }

    /// "an admin", "a manager", "a viewer", for sentences.
    pub fn with_article(self) -> &'static str {
        match self {
            Role::Viewer => "a viewer",
            Role::Manager => "a manager",
            Role::Admin => "an admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a caller proved who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignInMethod {
    /// A username and password, for an API token or an admin UI session.
    Password,
    /// The admin UI's single sign-on through the OpenID provider.
    Oidc,
    /// An integrator's API key.
    ApiKey,
}

impl SignInMethod {
    pub const ALL: [SignInMethod; 3] = [
        SignInMethod::Password,
        SignInMethod::Oidc,
        SignInMethod::ApiKey,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SignInMethod::Password => "password",
            SignInMethod::Oidc => "oidc",
            SignInMethod::ApiKey => "api_key",
        }
    }

    pub fn parse(raw: &str) -> Option<SignInMethod> {
        SignInMethod::ALL
            .into_iter()
            .find(|method| method.as_str() == raw)
    }
}

/// Which role the members of each group of the OpenID provider get, as
/// `mailing-admins=admin,mailing-managers=manager`. A member of several groups gets the most
/// powerful of their roles; a member of none gets no role at all, never a default one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoleMap(Vec<(String, Role)>);

impl RoleMap {
    /// Reads the mapping; the message says what is wrong with the first bad entry.
    pub fn parse(raw: &str) -> Result<RoleMap, String> {
        let mut entries: Vec<(String, Role)> = Vec::new();
        for entry in raw
            .split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
        {
            let Some((group, role)) = entry.split_once('=') else {
                return Err(format!(
                    "\"{entry}\" is not group=role (e.g. mailing-admins=admin)"
                ));
            };
            let (group, role) = (group.trim(), role.trim());
            if group.is_empty() {
                return Err(format!("\"{entry}\" names no group"));
            }
            let Some(role) = Role::parse(role) else {
                return Err(format!(
                    "\"{role}\" in \"{entry}\" is not a role: use admin, manager or viewer"
                ));
            };
            if entries.iter().any(|(known, _)| known == group) {
                return Err(format!("the group \"{group}\" is mapped twice"));
            }
            entries.push((group.to_owned(), role));
        }
        Ok(RoleMap(entries))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The most powerful role any of `groups` maps to.
    pub fn role_for<'g>(&self, groups: impl IntoIterator<Item = &'g str>) -> Option<Role> {
        groups
            .into_iter()
            .filter_map(|group| {
                self.0
                    .iter()
                    .find(|(mapped, _)| mapped == group)
                    .map(|(_, role)| *role)
            })
            .max()
    }

    pub fn entries(&self) -> &[(String, Role)] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_and_passwords_follow_their_rules() {
        assert_eq!(
            parse_username(" ann.smith@corp "),
            Ok("ann.smith@corp".to_owned())
        );
        for bad in ["", "ann smith", "api_key:1", "анна", &"a".repeat(101)] {
            assert!(parse_username(bad).is_err(), "{bad}");
        }
        assert!(check_password("0123456789").is_ok());
        assert!(check_password("012345678").is_err());
        assert!(check_password(&"x".repeat(1001)).is_err());
    }

    #[test]
    fn roles_are_ordered_by_power() {
        assert!(Role::Admin.allows(Role::Manager));
        assert!(Role::Manager.allows(Role::Manager));
        assert!(!Role::Viewer.allows(Role::Manager));
        assert!(!Role::Manager.allows(Role::Admin));
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("Admin"), None);
    }

    #[test]
    fn the_most_powerful_mapped_group_wins_and_unmapped_groups_give_nothing() {
        let map = RoleMap::parse(
            " mailing-admins=admin, mailing-managers = manager ,mailing-viewers=viewer,",
        )
        .unwrap();
        assert_eq!(
            map.role_for(["mailing-viewers", "mailing-managers"]),
            Some(Role::Manager)
        );
        assert_eq!(map.role_for(["staff", "mailing-admins"]), Some(Role::Admin));
        assert_eq!(map.role_for(["staff"]), None);
        assert_eq!(map.role_for([]), None);
        assert_eq!(RoleMap::parse("").unwrap().role_for(["anything"]), None);
    }

    #[test]
    fn a_bad_mapping_names_its_entry() {
        assert!(RoleMap::parse("admins").unwrap_err().contains("\"admins\""));
        assert!(RoleMap::parse("a=root").unwrap_err().contains("\"root\""));
        assert!(
            RoleMap::parse("=admin")
                .unwrap_err()
                .contains("names no group")
        );
        assert!(
            RoleMap::parse("a=admin,a=viewer")
                .unwrap_err()
                .contains("twice")
        );
    }
}
