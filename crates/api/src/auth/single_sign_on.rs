//! Single sign-on as configured: the OpenID provider's client ([`super::oidc`]) and what the
//! provider's groups mean here.

use super::oidc::{Oidc, OidcConfig, OidcError};
use mailing_domain::RoleMap;
use mailing_runtime::settings::OidcSettings;

/// The configured provider and what its groups mean here.
pub struct SingleSignOn {
    pub oidc: Oidc,
    pub role_map: RoleMap,
    /// For "Log in with …".
    pub provider_name: String,
}

impl SingleSignOn {
    pub fn from_settings(settings: &OidcSettings) -> Result<Self, OidcError> {
        let oidc = Oidc::new(OidcConfig {
            issuer: settings.issuer.as_str().trim_end_matches('/').to_owned(),
            client_id: settings.client_id.clone(),
            client_secret: settings.client_secret.clone(),
            redirect_url: settings.redirect_url.to_string(),
            groups_claim: settings.role_claim.clone(),
        })?;
        let provider_name = settings
            .provider_name
            .clone()
            .unwrap_or_else(|| oidc.provider_name());
        Ok(Self {
            oidc,
            role_map: settings.role_map.clone(),
            provider_name,
        })
    }
}
