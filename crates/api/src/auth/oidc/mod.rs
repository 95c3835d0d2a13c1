//! OpenID Connect single sign-on for the admin UI, the protocol alone: find the provider, send
//! the browser to it, and turn the code it brings back into a verified identity with its
//! groups. Routes, login attempts, users and roles are the callers' business.

mod http;

use self::http::{HttpClient, HttpError};
use chrono::{DateTime, Utc};
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreClientAuthMethod, CoreErrorResponseType, CoreGenderClaim,
    CoreJsonWebKey, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm,
    CoreProviderMetadata, CoreResponseType, CoreRevocableToken, CoreRevocationErrorResponse,
    CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AccessToken, AdditionalClaims, AuthType, AuthenticationFlow, AuthorizationCode,
    ClaimsVerificationError, ClientId, ClientSecret, CsrfToken, DiscoveryError,
    EmptyExtraTokenFields, EndpointMaybeSet, EndpointNotSet, EndpointSet, IdTokenFields, IssuerUrl,
    Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl,
    RequestTokenError, Scope, SignatureVerificationError, StandardErrorResponse,
    StandardTokenResponse, SubjectIdentifier, UserInfoClaims, UserInfoError,
};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};

/// What the operator configured.
#[derive(Debug, Clone)]
pub struct OidcConfig {
    /// The provider's issuer URL, exactly as its discovery document states it.
    pub issuer: String,
    pub client_id: String,
    pub client_secret: SecretString,
    /// Where the provider sends the browser back: the admin UI's `/admin/oidc/callback`.
    pub redirect_url: String,
    /// The claim listing the user's groups; "groups" unless the provider names it otherwise.
    pub groups_claim: String,
}

/// A sign-in under way: the caller keeps `state`, `nonce` and `pkce_verifier` with the
/// browser's login attempt and sends the browser to `authorize_url`.
pub struct SignInStart {
    pub authorize_url: String,
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
}

// The verifier proves the attempt is ours, and the URL carries state and nonce: none of them
// belongs in a log.
impl fmt::Debug for SignInStart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignInStart").finish_non_exhaustive()
    }
}

/// Who signed in, as the provider vouches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub issuer: String,
    pub subject: String,
    /// `preferred_username`, else `email`, else `subject`.
    pub username: String,
    pub email: Option<String>,
    pub groups: Vec<String>,
}

/// Why a sign-in failed. Each message is plain words fit for the refusal page and the log:
/// none carries the client secret, the code, a token or the PKCE verifier.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// The provider could not be reached or answered nonsense (discovery, keys, token or
    /// userinfo endpoint).
    #[error("the sign-in provider is unavailable: {0}")]
    Unavailable(String),
    /// The token endpoint refused the code: wrong, expired or already used, or a PKCE
    /// mismatch. Holds the provider's OAuth error code.
    #[error(
        "the sign-in provider refused the sign-in code ({0}): it is wrong, has expired or was \
         already used; please sign in again"
    )]
    CodeRejected(String),
    /// The ID token (or the userinfo answer) failed a check; holds which.
    #[error("the sign-in provider's answer was refused: {0}")]
    InvalidToken(String),
    /// The settings or the provider's own metadata make sign-in impossible.
    #[error("single sign-on is misconfigured: {0}")]
    Config(String),
}

/// Every claim of the ID token and the userinfo answer, so that the groups claim can be read
/// by a name known only at run time.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(transparent)]
struct OtherClaims(HashMap<String, Value>);

impl AdditionalClaims for OtherClaims {}

type IdToken = openidconnect::IdToken<
    OtherClaims,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;
type IdTokenClaims = openidconnect::IdTokenClaims<OtherClaims, CoreGenderClaim>;
type TokenResponse = StandardTokenResponse<
    IdTokenFields<
        OtherClaims,
        EmptyExtraTokenFields,
        CoreGenderClaim,
        CoreJweContentEncryptionAlgorithm,
        CoreJwsSigningAlgorithm,
    >,
    CoreTokenType,
>;
type TokenError = RequestTokenError<HttpError, StandardErrorResponse<CoreErrorResponseType>>;
/// openidconnect's client with [`OtherClaims`], as built from discovered metadata.
type Client = openidconnect::Client<
    OtherClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    TokenResponse,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// Signs admins in through one provider. Shared by every request: discovery happens on the
/// first sign-in and is kept, keys included, until a token's signature no longer matches.
pub struct Oidc {
    config: OidcConfig,
    issuer: IssuerUrl,
    redirect_url: RedirectUrl,
    provider_name: String,
    http: HttpClient,
    provider: RwLock<Option<Arc<CoreProviderMetadata>>>,
    now: fn() -> DateTime<Utc>,
}

impl fmt::Debug for Oidc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Oidc")
            .field("issuer", &self.config.issuer)
            .field("client_id", &self.config.client_id)
            .finish_non_exhaustive()
    }
}

impl Oidc {
    /// Checks the settings; talks to no one.
    pub fn new(config: OidcConfig) -> Result<Self, OidcError> {
        let issuer = IssuerUrl::new(config.issuer.clone())
            .ok()
            .filter(|url| is_web_url(url.url()))
            .ok_or_else(|| {
                OidcError::Config(format!(
                    "the issuer `{}` is not an http(s) URL",
                    config.issuer
                ))
            })?;
        let redirect_url = RedirectUrl::new(config.redirect_url.clone())
            .ok()
            .filter(|url| is_web_url(url.url()))
            .ok_or_else(|| {
                OidcError::Config(format!(
                    "the redirect URL `{}` is not an http(s) URL",
                    config.redirect_url
                ))
            })?;
        if config.client_id.trim().is_empty() {
            return Err(OidcError::Config("the client id is empty".to_owned()));
        }
        if config.groups_claim.trim().is_empty() {
            return Err(OidcError::Config(
                "the groups claim name is empty".to_owned(),
            ));
        }
        let provider_name = issuer.url().host_str().unwrap_or_default().to_owned();
        let http = HttpClient::new()
            .map_err(|_| OidcError::Config("the HTTP client could not be built".to_owned()))?;
        Ok(Self {
            config,
            issuer,
            redirect_url,
            provider_name,
            http,
            provider: RwLock::new(None),
            now: Utc::now,
        })
    }

    /// Checks ID tokens' expiry against `now` instead of the system clock: tests move the
    /// clock past a token's `exp`, which the provider sets an hour ahead.
    pub fn with_clock(self, now: fn() -> DateTime<Utc>) -> Self {
        Self { now, ..self }
    }

    /// For "Log in with …": the issuer's host, e.g. "login.example.com".
    pub fn provider_name(&self) -> String {
        self.provider_name.clone()
    }

    /// Starts a sign-in: the authorization URL with a PKCE challenge, a random state and nonce.
    /// Asks for the "groups" scope only where the provider lists it, as some refuse unknown
    /// scopes.
    pub async fn begin(&self) -> Result<SignInStart, OidcError> {
        let provider = self.provider().await?;
        let client = self.client(&provider)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(
                AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("profile".to_owned()))
            .add_scope(Scope::new("email".to_owned()))
            .set_pkce_challenge(challenge);
        let lists_groups = provider
            .scopes_supported()
            .is_some_and(|scopes| scopes.iter().any(|scope| scope.as_str() == "groups"));
        if lists_groups {
            request = request.add_scope(Scope::new("groups".to_owned()));
        }
        let (url, state, nonce) = request.url();
        Ok(SignInStart {
            authorize_url: url.into(),
            state: state.into_secret(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.into_secret(),
        })
    }

    /// Finishes a sign-in with what the callback brought (`code`) and what [`Oidc::begin`]
    /// made for it: exchanges the code and verifies the ID token, then reads the groups from
    /// it, or from the userinfo endpoint where the token has no groups claim.
    pub async fn finish(
        &self,
        code: &str,
        pkce_verifier: &str,
        nonce: &str,
    ) -> Result<Identity, OidcError> {
        let provider = self.provider().await?;
        let client = self.client(&provider)?;
        let response = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|_| OidcError::Config("the provider names no token endpoint".to_owned()))?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_owned()))
            .request_async(&self.http)
            .await
            .map_err(token_error)?;
        let id_token = response
            .extra_fields()
            .id_token()
            .ok_or_else(|| OidcError::InvalidToken("the provider sent no ID token".to_owned()))?;
        let (client, claims) = self.verify(client, id_token, nonce).await?;
        let groups = match groups_in(claims.additional_claims(), &self.config.groups_claim)? {
            Some(groups) => groups,
            None => {
                self.groups_from_userinfo(&client, response.access_token(), claims.subject())
                    .await?
            }
        };
        Ok(identity(&claims, groups))
    }

    /// Checks an ID token that came some other way than [`Oidc::finish`]'s code exchange, as
    /// `finish` does, groups from the token alone (there is no access token for userinfo).
    /// Sign-in goes through `finish`; the tests hand this tokens issued to other clients.
    pub async fn verify_id_token(
        &self,
        id_token: &str,
        nonce: &str,
    ) -> Result<Identity, OidcError> {
        let id_token: IdToken = id_token
            .parse()
            .map_err(|_| OidcError::InvalidToken("the ID token is not a signed JWT".to_owned()))?;
        let provider = self.provider().await?;
        let client = self.client(&provider)?;
        let (_, claims) = self.verify(client, &id_token, nonce).await?;
        let groups = groups_in(claims.additional_claims(), &self.config.groups_claim)?;
        Ok(identity(&claims, groups.unwrap_or_default()))
    }

    /// The cached metadata, discovering it on first use.
    async fn provider(&self) -> Result<Arc<CoreProviderMetadata>, OidcError> {
        let cached = self
            .provider
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        match cached {
            Some(provider) => Ok(provider),
            None => self.discover().await,
        }
    }

    /// Fetches the discovery document and the keys it points to, and caches them.
    async fn discover(&self) -> Result<Arc<CoreProviderMetadata>, OidcError> {
        let metadata = CoreProviderMetadata::discover_async(self.issuer.clone(), &self.http)
            .await
            .map_err(|error| discovery_error(&self.config.issuer, error))?;
        let metadata = Arc::new(metadata);
        *self
            .provider
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Some(Arc::clone(&metadata));
        Ok(metadata)
    }

    fn client(&self, provider: &CoreProviderMetadata) -> Result<Client, OidcError> {
        // Discovery's default when the provider lists no methods is client_secret_basic.
        let auth_type = match provider.token_endpoint_auth_methods_supported() {
            None => AuthType::BasicAuth,
            Some(methods) if methods.contains(&CoreClientAuthMethod::ClientSecretBasic) => {
                AuthType::BasicAuth
            }
            Some(methods) if methods.contains(&CoreClientAuthMethod::ClientSecretPost) => {
                AuthType::RequestBody
            }
            Some(_) => {
                return Err(OidcError::Config(
                    "the provider's token endpoint accepts neither client_secret_basic nor \
                     client_secret_post"
                        .to_owned(),
                ));
            }
        };
        let secret = ClientSecret::new(self.config.client_secret.expose_secret().to_owned());
        Ok(Client::from_provider_metadata(
            provider.clone(),
            ClientId::new(self.config.client_id.clone()),
            Some(secret),
        )
        .set_redirect_uri(self.redirect_url.clone())
        .set_auth_type(auth_type))
    }

    /// Verifies the ID token; where its key is unknown or its signature does not match, the
    /// provider may have rotated its keys, so discovers again once and retries.
    async fn verify(
        &self,
        client: Client,
        id_token: &IdToken,
        nonce: &str,
    ) -> Result<(Client, IdTokenClaims), OidcError> {
        match self.check(&client, id_token, nonce) {
            Err(ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey
                | SignatureVerificationError::CryptoError(_),
            )) => {
                let client = self.client(self.discover().await?.as_ref())?;
                let claims = self
                    .check(&client, id_token, nonce)
                    .map_err(invalid_token)?;
                Ok((client, claims))
            }
            checked => Ok((client, checked.map_err(invalid_token)?)),
        }
    }

    fn check(
        &self,
        client: &Client,
        id_token: &IdToken,
        nonce: &str,
    ) -> Result<IdTokenClaims, ClaimsVerificationError> {
        let verifier = client
            .id_token_verifier()
            .set_time_fn(self.now)
            // Other audiences beside ours pass only with `azp` naming us, checked below:
            // openidconnect leaves `azp` to its callers.
            .set_other_audience_verifier_fn(|_| true);
        let claims = id_token.claims(&verifier, &Nonce::new(nonce.to_owned()))?;
        let azp = claims.authorized_party().map(|azp| azp.as_str());
        let needs_azp = claims.audiences().len() > 1 || azp.is_some();
        if needs_azp && azp != Some(self.config.client_id.as_str()) {
            return Err(ClaimsVerificationError::InvalidAudience(
                "authorized party is not this client".to_owned(),
            ));
        }
        Ok(claims.clone())
    }

    async fn groups_from_userinfo(
        &self,
        client: &Client,
        access_token: &AccessToken,
        subject: &SubjectIdentifier,
    ) -> Result<Vec<String>, OidcError> {
        let Ok(request) = client.user_info(access_token.clone(), Some(subject.clone())) else {
            return Ok(Vec::new());
        };
        let claims: UserInfoClaims<OtherClaims, CoreGenderClaim> = request
            .request_async(&self.http)
            .await
            .map_err(userinfo_error)?;
        Ok(groups_in(claims.additional_claims(), &self.config.groups_claim)?.unwrap_or_default())
    }
}

fn is_web_url(url: &openidconnect::url::Url) -> bool {
    matches!(url.scheme(), "http" | "https") && url.host_str().is_some()
}

fn identity(claims: &IdTokenClaims, groups: Vec<String>) -> Identity {
    let subject = claims.subject().as_str().to_owned();
    let email = claims
        .email()
        .map(|email| email.as_str().to_owned())
        .filter(|email| !email.is_empty());
    let username = claims
        .preferred_username()
        .map(|username| username.as_str().to_owned())
        .filter(|username| !username.is_empty())
        .or_else(|| email.clone())
        .unwrap_or_else(|| subject.clone());
    Identity {
        issuer: claims.issuer().as_str().to_owned(),
        subject,
        username,
        email,
        groups,
    }
}

/// The groups claim: a list of names, or one name. `None` when absent.
fn groups_in(claims: &OtherClaims, name: &str) -> Result<Option<Vec<String>>, OidcError> {
    let malformed = || {
        OidcError::InvalidToken(format!(
            "the claim `{name}` is neither a list of group names nor a group name"
        ))
    };
    match claims.0.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(group)) => Ok(Some(vec![group.clone()])),
        Some(Value::Array(groups)) => groups
            .iter()
            .map(|group| group.as_str().map(str::to_owned).ok_or_else(malformed))
            .collect::<Result<_, _>>()
            .map(Some),
        Some(_) => Err(malformed()),
    }
}

fn discovery_error(issuer: &str, error: DiscoveryError<HttpError>) -> OidcError {
    match error {
        DiscoveryError::Request(error) => {
            OidcError::Unavailable(format!("the provider at {issuer} {error}"))
        }
        DiscoveryError::Response(status, ..) => OidcError::Unavailable(format!(
            "the provider at {issuer} answered HTTP {status} for its metadata or keys"
        )),
        DiscoveryError::Parse(_) => OidcError::Unavailable(format!(
            "the provider at {issuer} sent metadata or keys that could not be read"
        )),
        // openidconnect's wording names the issuer it found against the one configured.
        DiscoveryError::Validation(reason) => {
            OidcError::Config(format!("the provider's metadata does not fit: {reason}"))
        }
        DiscoveryError::UrlParse(_) => OidcError::Config(format!(
            "no discovery URL can be made from the issuer `{issuer}`"
        )),
        _ => OidcError::Unavailable(format!("the provider at {issuer} could not be asked")),
    }
}

fn token_error(error: TokenError) -> OidcError {
    match error {
        RequestTokenError::ServerResponse(response) => match response.error() {
            CoreErrorResponseType::InvalidClient | CoreErrorResponseType::UnauthorizedClient => {
                OidcError::Config("the provider refused the client id or secret".to_owned())
            }
            // Not in RFC 6749's list for the token endpoint, but sent by some providers there.
            CoreErrorResponseType::Extension(code)
                if code == "server_error" || code == "temporarily_unavailable" =>
            {
                OidcError::Unavailable(format!("its token endpoint answered {code}"))
            }
            // The provider's description is left out: some echo what they were sent.
            refusal => OidcError::CodeRejected(refusal.as_ref().to_owned()),
        },
        RequestTokenError::Request(error) => {
            OidcError::Unavailable(format!("its token endpoint {error}"))
        }
        RequestTokenError::Parse(..) | RequestTokenError::Other(_) => OidcError::Unavailable(
            "its token endpoint sent something other than a token response".to_owned(),
        ),
    }
}

fn userinfo_error(error: UserInfoError<HttpError>) -> OidcError {
    match error {
        UserInfoError::ClaimsVerification(error) => invalid_token(error),
        UserInfoError::Request(error) => {
            OidcError::Unavailable(format!("its userinfo endpoint {error}"))
        }
        UserInfoError::Response(status, ..) => {
            OidcError::Unavailable(format!("its userinfo endpoint answered HTTP {status}"))
        }
        _ => OidcError::Unavailable(
            "its userinfo endpoint sent something that could not be read".to_owned(),
        ),
    }
}

/// Fixed words per failed check: openidconnect's own messages quote claim values.
fn invalid_token(error: ClaimsVerificationError) -> OidcError {
    let reason = match error {
        ClaimsVerificationError::Expired(_) => "the ID token has expired",
        ClaimsVerificationError::InvalidAudience(_) => "the ID token was issued to another client",
        ClaimsVerificationError::InvalidIssuer(_) => "the ID token comes from another issuer",
        ClaimsVerificationError::InvalidNonce(_) => {
            "the ID token belongs to another sign-in (its nonce does not match)"
        }
        ClaimsVerificationError::InvalidSubject(_) => "the answer is about another user",
        ClaimsVerificationError::SignatureVerification(_) => {
            "the ID token's signature does not match the provider's keys"
        }
        _ => "the ID token could not be checked",
    };
    OidcError::InvalidToken(reason.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config() -> OidcConfig {
        OidcConfig {
            issuer: "https://login.example.com/realms/staff".to_owned(),
            client_id: "mailing".to_owned(),
            client_secret: SecretString::from("s3cret"),
            redirect_url: "https://mailing.example.com/admin/oidc/callback".to_owned(),
            groups_claim: "groups".to_owned(),
        }
    }

    fn claims(value: Value) -> OtherClaims {
        serde_json::from_value(value).unwrap()
    }

    /// The app state shares one `Oidc` between workers, which may also spawn its futures.
    #[test]
    fn shared_across_threads() {
        fn send_sync<T: Send + Sync>(_: &T) {}
        fn send<T: Send>(_: T) {}
        let oidc = Oidc::new(config()).unwrap();
        send_sync(&oidc);
        send(oidc.begin());
        send(oidc.finish("code", "verifier", "nonce"));
    }

    #[test]
    fn provider_name_is_the_issuer_host() {
        assert_eq!(
            Oidc::new(config()).unwrap().provider_name(),
            "login.example.com"
        );
    }

    #[test]
    fn refuses_settings_that_are_not_urls() {
        let bad_issuer = OidcConfig {
            issuer: "login.example.com".to_owned(),
            ..config()
        };
        assert!(matches!(Oidc::new(bad_issuer), Err(OidcError::Config(_))));
        let bad_redirect = OidcConfig {
            redirect_url: "/admin/oidc/callback".to_owned(),
            ..config()
        };
        assert!(matches!(Oidc::new(bad_redirect), Err(OidcError::Config(_))));
        let no_client = OidcConfig {
            client_id: " ".to_owned(),
            ..config()
        };
        assert!(matches!(Oidc::new(no_client), Err(OidcError::Config(_))));
    }

    #[test]
    fn debug_output_keeps_secrets_out() {
        let oidc = format!("{:?}", Oidc::new(config()).unwrap());
        assert!(!oidc.contains("s3cret"), "{oidc}");
        let start = SignInStart {
            authorize_url: "https://login.example.com/auth?state=st&nonce=no".to_owned(),
            state: "st".to_owned(),
            nonce: "no".to_owned(),
            pkce_verifier: "verifier".to_owned(),
        };
        assert_eq!(format!("{start:?}"), "SignInStart { .. }");
    }

    #[test]
    fn groups_are_a_list_or_one_name() {
        let read = |value| groups_in(&claims(value), "groups");
        assert_eq!(
            read(json!({"groups": ["a", "b"]})).unwrap(),
            Some(vec!["a".into(), "b".into()])
        );
        assert_eq!(
            read(json!({"groups": "a"})).unwrap(),
            Some(vec!["a".into()])
        );
        assert_eq!(read(json!({"groups": []})).unwrap(), Some(vec![]));
        assert_eq!(read(json!({"roles": ["a"]})).unwrap(), None);
        assert_eq!(read(json!({"groups": null})).unwrap(), None);
        assert!(matches!(
            read(json!({"groups": [1]})),
            Err(OidcError::InvalidToken(_))
        ));
        assert!(matches!(
            read(json!({"groups": {"a": 1}})),
            Err(OidcError::InvalidToken(_))
        ));
    }
}
