//! The HTTP client openidconnect talks to the provider through: the project's reqwest, so the
//! crate brings no second one.

use openidconnect::{AsyncHttpClient, HttpRequest, HttpResponse};
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// A provider that does not answer within this fails the sign-in rather than holding the
/// browser's request open.
const TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
pub(super) struct HttpClient(reqwest::Client);

impl HttpClient {
    pub(super) fn new() -> Result<Self, reqwest::Error> {
        reqwest::Client::builder()
            // openidconnect's advice: a redirect followed from the token or userinfo endpoint
            // could carry the code or the access token to another host (SSRF).
            .redirect(reqwest::redirect::Policy::none())
            .timeout(TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .build()
            .map(Self)
    }
}

/// Why a request to the provider failed, as the end of a sentence naming what was asked
/// ("its token endpoint could not be reached"). Not reqwest's message: that names the URL, and
/// a provider's endpoint URLs may carry anything.
#[derive(Debug, thiserror::Error)]
pub(super) enum HttpError {
    #[error("did not answer in time")]
    Timeout,
    #[error("could not be reached")]
    Connect,
    #[error("failed to answer")]
    Other,
}

impl From<reqwest::Error> for HttpError {
    fn from(error: reqwest::Error) -> Self {
        if error.is_timeout() {
            Self::Timeout
        } else if error.is_connect() {
            Self::Connect
        } else {
            Self::Other
        }
    }
}

impl<'c> AsyncHttpClient<'c> for HttpClient {
    type Error = HttpError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, HttpError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let response = self.0.execute(request.try_into()?).await?;
            let mut builder = openidconnect::http::Response::builder()
                .status(response.status())
                .version(response.version());
            for (name, value) in response.headers() {
                builder = builder.header(name, value);
            }
            let body = response.bytes().await?;
            builder.body(body.to_vec()).map_err(|_| HttpError::Other)
        })
    }
}
