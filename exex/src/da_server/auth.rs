//! Bearer-token auth like celestia-node: HS256 JWTs whose payload is `{"Allow": [perms]}`.
//!
//! The HTTP layer ([`AuthLayer`]) sees every POST and every WebSocket upgrade. A request
//! without `Authorization: Bearer <jwt>`, or whose token does not verify against the server's
//! secret, gets HTTP 401 with an empty body. A verified token's permissions go into the request
//! extensions, which jsonrpsee copies into every call of that request or connection; the RPC
//! layer ([`PermissionCheck`]) then rejects a call lacking the method's permission with
//! celestia-node's error `missing permission to invoke '<Method>' (need '<perm>')`.
//! `blob.Submit` needs `write`; every other method needs `read`.
//!
//! The secret is 32 random bytes in `<data_dir>/auth/jwt.secret`; on start the server writes an
//! admin token (all permissions) to `<data_dir>/auth/admin.token`.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use jsonrpsee::MethodResponse;
use jsonrpsee::core::BoxError;
use jsonrpsee::core::middleware::{Batch, BatchEntry, BatchEntryErr, Notification, RpcServiceT};
use jsonrpsee::server::{HttpBody, HttpRequest, HttpResponse};
use jsonrpsee::types::Request;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::error::{DaServerError, Result, service_error};

/// File name of the HMAC secret inside `<data_dir>/auth`.
pub const SECRET_FILE: &str = "jwt.secret";
/// File name of the admin token inside `<data_dir>/auth`.
pub const ADMIN_TOKEN_FILE: &str = "admin.token";
/// The JOSE header of every token: `{"alg":"HS256","typ":"JWT"}`.
const JWT_HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

/// A celestia-node permission level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Permission {
    /// Unauthenticated access.
    Public,
    /// Reading blobs and headers.
    Read,
    /// Submitting blobs.
    Write,
    /// Node administration.
    Admin,
}

impl Permission {
    /// Every permission, as in an admin token.
    pub const ALL: [Self; 4] = [Self::Public, Self::Read, Self::Write, Self::Admin];

    fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Read => "read",
            Self::Write => "write",
            Self::Admin => "admin",
        }
    }
}

/// Permissions of a verified token, stored in the request extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Granted(Vec<Permission>);

#[derive(Serialize, Deserialize)]
struct Claims {
    #[serde(rename = "Allow")]
    allow: Vec<String>,
}

/// The HMAC key tokens are signed with.
#[derive(Clone)]
pub struct JwtSecret(Arc<[u8; 32]>);

impl std::fmt::Debug for JwtSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JwtSecret(..)")
    }
}

impl JwtSecret {
    /// Loads the secret from `<auth_dir>/jwt.secret`, creating it (mode 0600) if missing.
    pub fn load_or_create(auth_dir: &Path) -> Result<Self> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| DaServerError::Io { path, source }
        };
        std::fs::create_dir_all(auth_dir).map_err(io(auth_dir))?;
        let path = auth_dir.join(SECRET_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => {
                let secret: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
                    DaServerError::Config(format!("{}: expected 32 bytes", path.display()))
                })?;
                Ok(Self(Arc::new(secret)))
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                let mut secret = [0u8; 32];
                getrandom::fill(&mut secret).map_err(|e| DaServerError::Random(e.to_string()))?;
                write_private(&path, &secret)?;
                Ok(Self(Arc::new(secret)))
            }
            Err(err) => Err(io(&path)(err)),
        }
    }

    /// A token granting `permissions`.
    pub fn issue(&self, permissions: &[Permission]) -> String {
        let claims = Claims {
            allow: permissions.iter().map(|p| p.as_str().to_string()).collect(),
        };
        // Serialising a struct of strings cannot fail.
        let payload = serde_json::to_vec(&claims).unwrap_or_default();
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(JWT_HEADER),
            URL_SAFE_NO_PAD.encode(payload)
        );
        let signature =
            URL_SAFE_NO_PAD.encode(self.mac(signing_input.as_bytes()).finalize().into_bytes());
        format!("{signing_input}.{signature}")
    }

    /// The permissions of `token`, if it is an HS256 JWT signed with this secret.
    pub fn verify(&self, token: &str) -> Option<Vec<Permission>> {
        let mut parts = token.split('.');
        let (header, payload, signature) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
        let mut mac = self.mac(header.as_bytes());
        mac.update(b".");
        mac.update(payload.as_bytes());
        // Constant-time comparison.
        mac.verify_slice(&signature).ok()?;
        let jose: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).ok()?).ok()?;
        if jose.get("alg").and_then(|a| a.as_str()) != Some("HS256") {
            return None;
        }
        let claims: Claims = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
        let permissions = claims
            .allow
            .iter()
            .filter_map(|p| {
                Permission::ALL
                    .into_iter()
                    .find(|known| known.as_str() == p)
            })
            .collect();
        Some(permissions)
    }

    fn mac(&self, data: &[u8]) -> Hmac<Sha256> {
        // HMAC zero-pads keys shorter than the 64-byte block, so this is the 32-byte key.
        let mut key = [0u8; 64];
        key[..32].copy_from_slice(self.0.as_slice());
        let mut mac = <Hmac<Sha256> as KeyInit>::new(&key.into());
        mac.update(data);
        mac
    }

    /// Writes an admin token to `<auth_dir>/admin.token` and returns its path.
    pub(crate) fn write_admin_token(&self, auth_dir: &Path) -> Result<PathBuf> {
        let path = auth_dir.join(ADMIN_TOKEN_FILE);
        write_private(&path, self.issue(&Permission::ALL).as_bytes())?;
        Ok(path)
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write as _;
    let io = |source| DaServerError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(io)?;
    file.write_all(bytes).map_err(io)?;
    file.sync_all().map_err(io)
}

/// HTTP middleware: 401 without a valid bearer token; otherwise records its permissions.
#[derive(Debug, Clone)]
pub(crate) struct AuthLayer {
    secret: JwtSecret,
}

impl AuthLayer {
    pub(crate) fn new(secret: JwtSecret) -> Self {
        Self { secret }
    }
}

impl<S> tower::Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthService {
            inner,
            secret: self.secret.clone(),
        }
    }
}

/// The service of [`AuthLayer`].
#[derive(Debug, Clone)]
pub(crate) struct AuthService<S> {
    inner: S,
    secret: JwtSecret,
}

fn bearer_token(request: &HttpRequest) -> Option<&str> {
    let value = request
        .headers()
        .get(http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

impl<S> tower::Service<HttpRequest> for AuthService<S>
where
    S: tower::Service<HttpRequest, Response = HttpResponse, Error = BoxError>,
    S::Future: Send + 'static,
{
    type Response = HttpResponse;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: HttpRequest) -> Self::Future {
        match bearer_token(&request).and_then(|token| self.secret.verify(token)) {
            Some(permissions) => {
                request.extensions_mut().insert(Granted(permissions));
                Box::pin(self.inner.call(request))
            }
            None => Box::pin(async {
                let mut response = HttpResponse::new(HttpBody::empty());
                *response.status_mut() = http::StatusCode::UNAUTHORIZED;
                Ok(response)
            }),
        }
    }
}

/// The permission `method` needs.
fn required_permission(method: &str) -> Permission {
    match method {
        "blob.Submit" | "state.SubmitPayForBlob" => Permission::Write,
        _ => Permission::Read,
    }
}

/// celestia-node's error for a call the token does not allow, or `None` if allowed.
fn check(request: &Request<'_>) -> Option<jsonrpsee::types::ErrorObjectOwned> {
    let need = required_permission(request.method_name());
    let granted = request.extensions().get::<Granted>();
    if granted.is_some_and(|g| g.0.contains(&need)) {
        return None;
    }
    let short = request.method_name().rsplit('.').next().unwrap_or_default();
    Some(service_error(format!(
        "missing permission to invoke '{short}' (need '{}')",
        need.as_str()
    )))
}

/// RPC middleware enforcing per-method permissions recorded by [`AuthLayer`].
#[derive(Debug, Clone)]
pub(crate) struct PermissionCheck<S> {
    inner: S,
}

impl<S> PermissionCheck<S> {
    pub(crate) fn new(inner: S) -> Self {
        Self { inner }
    }
}

impl<S> RpcServiceT for PermissionCheck<S>
where
    S: RpcServiceT<
            MethodResponse = MethodResponse,
            BatchResponse = MethodResponse,
            NotificationResponse = MethodResponse,
        > + Send
        + Sync
        + Clone
        + 'static,
{
    type MethodResponse = MethodResponse;
    type NotificationResponse = MethodResponse;
    type BatchResponse = MethodResponse;

    fn call<'a>(&self, request: Request<'a>) -> impl Future<Output = MethodResponse> + Send + 'a {
        let denied = check(&request).map(|err| MethodResponse::error(request.id().clone(), err));
        let inner = self.inner.clone();
        async move {
            match denied {
                Some(response) => response,
                None => inner.call(request).await,
            }
        }
    }

    fn batch<'a>(&self, mut batch: Batch<'a>) -> impl Future<Output = MethodResponse> + Send + 'a {
        for entry in batch.iter_mut() {
            let denied = match entry {
                Ok(BatchEntry::Call(request)) => {
                    check(request).map(|err| BatchEntryErr::new(request.id().clone(), err))
                }
                _ => None,
            };
            if let Some(err) = denied {
                *entry = Err(err);
            }
        }
        self.inner.batch(batch)
    }

    fn notification<'a>(
        &self,
        notification: Notification<'a>,
    ) -> impl Future<Output = MethodResponse> + Send + 'a {
        self.inner.notification(notification)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(byte: u8) -> JwtSecret {
        JwtSecret(Arc::new([byte; 32]))
    }

    #[test]
    fn issued_tokens_verify_with_their_permissions() {
        let s = secret(1);
        let token = s.issue(&[Permission::Public, Permission::Read]);
        assert_eq!(
            s.verify(&token),
            Some(vec![Permission::Public, Permission::Read])
        );
        assert_eq!(
            s.verify(&s.issue(&Permission::ALL)),
            Some(Permission::ALL.to_vec())
        );
    }

    #[test]
    fn foreign_tampered_and_garbage_tokens_are_rejected() {
        let token = secret(1).issue(&[Permission::Read]);
        assert_eq!(secret(2).verify(&token), None);
        let mut parts: Vec<&str> = token.split('.').collect();
        let forged = URL_SAFE_NO_PAD.encode(r#"{"Allow":["read","write","admin"]}"#);
        parts[1] = &forged;
        assert_eq!(secret(1).verify(&parts.join(".")), None);
        assert_eq!(secret(1).verify("garbage"), None);
        assert_eq!(secret(1).verify(""), None);
        assert_eq!(secret(1).verify(&format!("{token}.extra")), None);
    }

    #[test]
    fn none_algorithm_is_rejected() {
        let s = secret(1);
        let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
        let payload = URL_SAFE_NO_PAD.encode(r#"{"Allow":["admin"]}"#);
        let input = format!("{header}.{payload}");
        let signature = URL_SAFE_NO_PAD.encode(s.mac(input.as_bytes()).finalize().into_bytes());
        // Correctly MACed but claims another algorithm: still rejected.
        assert_eq!(s.verify(&format!("{input}.{signature}")), None);
        assert_eq!(s.verify(&format!("{input}.")), None);
    }

    #[test]
    fn secret_persists_across_loads() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = JwtSecret::load_or_create(dir.path()).expect("create");
        let token = first.issue(&[Permission::Read]);
        let second = JwtSecret::load_or_create(dir.path()).expect("load");
        assert_eq!(second.verify(&token), Some(vec![Permission::Read]));
    }
}
