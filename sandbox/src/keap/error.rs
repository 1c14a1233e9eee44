//! Keap's error bodies, which differ by layer:
//! - the API gateway (auth, throttling): `{"fault": {"faultstring", "detail": {"errorcode"}}}`;
//! - v1 resources: `{"message": …}`;
//! - v2 resources: `{"code": 400, "message": …, "status": "INVALID_ARGUMENT", "details": []}`.

use poem::Response;
use poem::http::StatusCode;
use serde_json::{Value, json};

use super::limits::Throttle;
use super::stream::ApiVersion;
use crate::error::grpc_status;
use crate::faults::Fault;
use crate::oauth::TokenRejection;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct KeapError {
    status: StatusCode,
    body: Value,
    retry_after_secs: Option<u64>,
}

impl KeapError {
    fn gateway(status: StatusCode, faultstring: &str, errorcode: &str) -> Self {
        Self {
            status,
            body: json!({"fault": {"faultstring": faultstring, "detail": {"errorcode": errorcode}}}),
            retry_after_secs: None,
        }
    }

    /// A resource-level error in the shape of the API version that served the request.
    pub(crate) fn resource(version: ApiVersion, status: StatusCode, message: &str) -> Self {
        let body = match version {
            ApiVersion::V1 => json!({"message": message}),
            ApiVersion::V2 => json!({
                "code": status.as_u16(),
                "message": message,
                "status": grpc_status(status),
                "details": [],
            }),
        };
        Self {
            status,
            body,
            retry_after_secs: None,
        }
    }

    pub(crate) fn invalid_argument(version: ApiVersion, message: &str) -> Self {
        Self::resource(version, StatusCode::BAD_REQUEST, message)
    }

    pub(crate) fn not_found(version: ApiVersion, path: &str) -> Self {
        Self::resource(
            version,
            StatusCode::NOT_FOUND,
            &format!("Resource not found: {path}"),
        )
    }

    pub(crate) fn missing_token() -> Self {
        Self::gateway(
            StatusCode::UNAUTHORIZED,
            "Invalid access token",
            "oauth.v2.InvalidAccessToken",
        )
    }

    pub(crate) fn rejected_token(rejection: TokenRejection) -> Self {
        match rejection {
            TokenRejection::Expired => Self::gateway(
                StatusCode::UNAUTHORIZED,
                "Access Token expired",
                "keymanagement.service.access_token_expired",
            ),
            TokenRejection::Revoked | TokenRejection::Unknown => Self::gateway(
                StatusCode::UNAUTHORIZED,
                "Invalid Access Token",
                "keymanagement.service.invalid_access_token",
            ),
        }
    }

    pub(crate) fn throttled(throttle: Throttle) -> Self {
        let (mut error, retry_after) = match throttle {
            Throttle::SpikeArrest {
                per_sec,
                retry_after_secs,
            } => (
                Self::gateway(
                    StatusCode::TOO_MANY_REQUESTS,
                    &format!("Spike arrest violation. Allowed rate : {per_sec}ps"),
                    "policies.ratelimit.SpikeArrestViolation",
                ),
                retry_after_secs,
            ),
            Throttle::Quota {
                limit,
                retry_after_secs,
            } => (
                Self::gateway(
                    StatusCode::TOO_MANY_REQUESTS,
                    &format!("Rate limit quota violation. Quota limit : {limit} exceeded."),
                    "policies.ratelimit.QuotaViolation",
                ),
                retry_after_secs,
            ),
        };
        error.retry_after_secs = Some(retry_after);
        error
    }

    /// An injected fault; the server gate adds `Retry-After` to throttles.
    pub(crate) fn from_fault(fault: Fault) -> Self {
        match fault {
            Fault::RateLimited { .. } => Self::gateway(
                StatusCode::TOO_MANY_REQUESTS,
                "Rate limit quota violation. Quota limit  exceeded.",
                "policies.ratelimit.QuotaViolation",
            ),
            Fault::ServerError { status } => Self::gateway(
                Fault::status_code(status),
                "Internal Server Error",
                "messaging.adaptors.http.flow.InternalServerError",
            ),
        }
    }

    pub(crate) fn into_response(self) -> Response {
        let mut builder = Response::builder()
            .status(self.status)
            .content_type("application/json");
        if let Some(secs) = self.retry_after_secs {
            builder = builder.header("retry-after", secs);
        }
        builder.body(self.body.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_follow_the_layer() {
        let auth = KeapError::rejected_token(TokenRejection::Expired);
        assert_eq!(auth.status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            auth.body["fault"]["detail"]["errorcode"],
            "keymanagement.service.access_token_expired"
        );
        let v2 = KeapError::invalid_argument(ApiVersion::V2, "bad");
        assert_eq!(v2.body["status"], "INVALID_ARGUMENT");
        assert_eq!(v2.body["code"], 400);
        let v1 = KeapError::invalid_argument(ApiVersion::V1, "bad");
        assert_eq!(v1.body, json!({"message": "bad"}));
        let limited = KeapError::throttled(Throttle::SpikeArrest {
            per_sec: 25,
            retry_after_secs: 1,
        });
        assert_eq!(limited.retry_after_secs, Some(1));
    }
}
