//! Who is behind a request: an account or an API key, the role it has now, and how it signed
//! in, as the access checks and the audit log need it.

use mailing_domain::{ApiKeyId, Role, SignInMethod, UserId};

/// An account or an integrator's key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    User { id: UserId, username: String },
    ApiKey { id: ApiKeyId, name: String },
}

/// Where a request came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interface {
    Api,
    AdminUi,
}

impl Interface {
    pub fn as_str(self) -> &'static str {
        match self {
            Interface::Api => "api",
            Interface::AdminUi => "admin_ui",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub actor: Actor,
    pub role: Role,
    pub signed_in_with: SignInMethod,
    pub interface: Interface,
}

impl Caller {
    /// The username, or the key's name.
    pub fn name(&self) -> &str {
        match &self.actor {
            Actor::User { username, .. } => username,
            Actor::ApiKey { name, .. } => name,
        }
    }

    /// Whose idempotency keys a request's key is among. A username holds no `:`, so a key's
    /// account never meets a person's.
    pub fn account(&self) -> String {
        match &self.actor {
            Actor::User { username, .. } => username.clone(),
            Actor::ApiKey { id, .. } => format!("api_key:{id}"),
        }
    }

    /// "the account admin is a viewer" / "the API key crm is a viewer", for refusals.
    pub fn describe(&self) -> String {
        match &self.actor {
            Actor::User { username, .. } => {
                format!("the account {username} is {}", self.role.with_article())
            }
            Actor::ApiKey { name, .. } => {
                format!("the API key {name} is {}", self.role.with_article())
            }
        }
    }
}
