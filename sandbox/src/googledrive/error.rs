//! Google's JSON error shape, as the Drive API v3 answers it:
//! `{"error": {"code", "message", "errors": [{"domain", "reason", "message", "location"?,
//! "locationType"?}], "status"}}`. Clients decide what to do from `errors[0].reason`: a 403 is
//! a rate limit when the reason is `userRateLimitExceeded` or `rateLimitExceeded`, and a
//! permanent refusal otherwise (`insufficientPermissions`, `domainPolicy`, ...).

use poem::Response;
use poem::http::StatusCode;
use serde_json::{Value, json};

use crate::error::grpc_status;
use crate::faults::Fault;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct DriveError {
    status: StatusCode,
    domain: &'static str,
    reason: &'static str,
    message: String,
    /// The parameter or header at fault, when there is one.
    location: Option<(&'static str, &'static str)>,
}

impl DriveError {
    fn new(status: StatusCode, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            domain: "global",
            reason,
            message: message.into(),
            location: None,
        }
    }

    fn at(mut self, location: &'static str, location_type: &'static str) -> Self {
        self.location = Some((location, location_type));
        self
    }

    fn usage_limits(mut self) -> Self {
        self.domain = "usageLimits";
        self
    }

    /// No `Authorization` header, or not a bearer token.
    pub(crate) fn login_required() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "required", "Login Required.")
            .at("Authorization", "header")
    }

    /// An expired, revoked or unknown access token.
    pub(crate) fn invalid_credentials() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "authError", "Invalid Credentials")
            .at("Authorization", "header")
    }

    /// The per-user quota (queries per minute per user) is used up.
    pub(crate) fn user_rate_limit() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "userRateLimitExceeded",
            "User Rate Limit Exceeded",
        )
        .usage_limits()
    }

    /// The project's quota is used up.
    pub(crate) fn project_rate_limit() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "rateLimitExceeded",
            "Rate Limit Exceeded",
        )
        .usage_limits()
    }

    pub(crate) fn insufficient_permissions() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "insufficientPermissions",
            "Insufficient Permission: Request had insufficient authentication scopes.",
        )
    }

    pub(crate) fn domain_policy() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "domainPolicy",
            "The domain administrators have disabled Drive apps.",
        )
    }

    pub(crate) fn file_not_found(id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "notFound",
            format!("File not found: {id}."),
        )
        .at("fileId", "parameter")
    }

    /// A path the API does not serve.
    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "notFound", message)
    }

    /// A required parameter is missing.
    pub(crate) fn required(parameter: &'static str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "required",
            format!("Required parameter: {parameter}"),
        )
        .at(parameter, "parameter")
    }

    /// A changes page token older than the history the fake keeps.
    pub(crate) fn page_token_expired(token: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "notFound",
            format!("Page token not found: {token}."),
        )
        .at("pageToken", "parameter")
    }

    /// A parameter with a value the API does not accept (a malformed page token, a query the
    /// fake does not understand, a page size out of range).
    pub(crate) fn invalid(parameter: &'static str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid", "Invalid Value").at(parameter, "parameter")
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "badRequest", message)
    }

    /// `alt=media` on a Google Workspace document.
    pub(crate) fn not_downloadable() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "fileNotDownloadable",
            "Only files with binary content can be downloaded. Use Export with Docs Editors files.",
        )
        .at("alt", "parameter")
    }

    /// `files.export` of a file that is not a Docs Editors document.
    pub(crate) fn not_exportable() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "fileNotExportable",
            "Export only supports Docs Editors files.",
        )
    }

    /// The export would exceed 10 MB.
    pub(crate) fn export_too_large() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "exportSizeLimitExceeded",
            "This file is too large to be exported.",
        )
    }

    pub(crate) fn from_fault(fault: Fault) -> Self {
        match fault {
            Fault::RateLimited { .. } => Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rateLimitExceeded",
                "Rate Limit Exceeded",
            )
            .usage_limits(),
            Fault::ServerError { status } => Self::new(
                Fault::status_code(status),
                "internalError",
                "Internal Error",
            ),
        }
    }

    pub(crate) fn body(&self) -> Value {
        let mut detail = json!({
            "domain": self.domain,
            "reason": self.reason,
            "message": self.message,
        });
        if let Some((location, location_type)) = self.location {
            detail["location"] = location.into();
            detail["locationType"] = location_type.into();
        }
        json!({"error": {
            "code": self.status.as_u16(),
            "message": self.message,
            "errors": [detail],
            "status": grpc_status(self.status),
        }})
    }

    pub(crate) fn into_response(self) -> Response {
        Response::builder()
            .status(self.status)
            .content_type("application/json; charset=UTF-8")
            .body(self.body().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limits_and_refusals_differ_only_in_the_reason() {
        let limited = DriveError::user_rate_limit().body();
        let refused = DriveError::domain_policy().body();
        assert_eq!(limited["error"]["code"], 403);
        assert_eq!(refused["error"]["code"], 403);
        assert_eq!(
            limited["error"]["errors"][0]["reason"],
            "userRateLimitExceeded"
        );
        assert_eq!(limited["error"]["errors"][0]["domain"], "usageLimits");
        assert_eq!(refused["error"]["errors"][0]["reason"], "domainPolicy");
        let token = DriveError::invalid("pageToken").body();
        assert_eq!(token["error"]["errors"][0]["location"], "pageToken");
        assert_eq!(token["error"]["status"], "INVALID_ARGUMENT");
    }
}
