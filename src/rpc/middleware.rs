//! RPC middleware applied to every call: per-method latency metrics, and geth-style wording for
//! parameter errors (jsonrpsee puts the parse failure into `data`; wallets and the execution-apis
//! vectors expect it in the message, as `invalid argument: …`, with no `data`).

use crate::rpc::error::INVALID_PARAMS;
use jsonrpsee::{
    MethodResponse,
    core::middleware::{Batch, Notification, RpcServiceT},
    types::{ErrorCode, ErrorObject, Request},
};
use std::{future::Future, time::Instant};

/// The middleware service (one per connection).
#[derive(Debug, Clone)]
pub(super) struct RpcMiddleware<S> {
    service: S,
}

impl<S> RpcMiddleware<S> {
    /// Wraps the inner RPC service.
    pub(super) const fn new(service: S) -> Self {
        Self { service }
    }
}

impl<S> RpcServiceT for RpcMiddleware<S>
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
        let service = self.service.clone();
        let method = request.method_name().to_owned();
        let id = request.id().into_owned();
        let started = Instant::now();
        async move {
            let response = service.call(request).await;
            let code = response.as_error_code();
            // Unknown method names are not used as labels: clients choose them.
            let label = if code == Some(ErrorCode::MethodNotFound.code()) {
                "unknown".to_string()
            } else {
                method
            };
            metrics::histogram!("hauptbuch_rpc_request_duration_seconds", "method" => label)
                .record(started.elapsed().as_secs_f64());
            if code == Some(INVALID_PARAMS)
                && let Some(detail) = error_data(&response)
            {
                let extensions = response.extensions().clone();
                let message = format!("invalid argument: {detail}");
                return MethodResponse::error(
                    id,
                    ErrorObject::owned(INVALID_PARAMS, message, None::<()>),
                )
                .with_extensions(extensions);
            }
            response
        }
    }

    fn batch<'a>(&self, batch: Batch<'a>) -> impl Future<Output = MethodResponse> + Send + 'a {
        self.service.batch(batch)
    }

    fn notification<'a>(
        &self,
        notification: Notification<'a>,
    ) -> impl Future<Output = MethodResponse> + Send + 'a {
        self.service.notification(notification)
    }
}

/// The string `data` of an error response, if any.
fn error_data(response: &MethodResponse) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(response.as_json().get()).ok()?;
    value.get("error")?.get("data")?.as_str().map(str::to_owned)
}
