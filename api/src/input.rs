//! Values read from request bodies, checked once at the edge: a value that does not parse is a
//! 422 `invalid_field` naming the field, and code past the handler never checks again.

use crate::{error::ApiError, passwords};

/// An email address, trimmed and lower-cased (as stored and compared).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailAddress(String);

impl EmailAddress {
    /// A plausible address: one `@`, a non-empty local part, a dotted domain, no spaces, at most
    /// 254 characters. Whether mail reaches it is not checked.
    pub fn parse(field: &str, text: &str) -> Result<Self, ApiError> {
        let email = text.trim().to_lowercase();
        let plausible = email.len() <= 254
            && !email.chars().any(|c| c.is_whitespace() || c.is_control())
            && email.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
            });
        if plausible {
            Ok(Self(email))
        } else {
            Err(ApiError::invalid_field(
                field,
                format!("`{field}` is not an email address"),
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A display name (of a user, an account, an API key): trimmed, 1 to 200 characters, no control
/// characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name(String);

impl Name {
    pub const MAX_LEN: usize = 200;

    pub fn parse(field: &str, text: &str) -> Result<Self, ApiError> {
        let name = text.trim();
        let len = name.chars().count();
        if len == 0 || len > Self::MAX_LEN || name.chars().any(char::is_control) {
            return Err(ApiError::invalid_field(
                field,
                format!(
                    "`{field}` must be 1 to {} characters, without control characters",
                    Self::MAX_LEN
                ),
            ));
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// A new password: 10 to 1024 characters. Never logged: its `Debug` is redacted.
pub struct NewPassword(String);

impl std::fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewPassword(<redacted>)")
    }
}

impl NewPassword {
    pub fn parse(field: &str, text: String) -> Result<Self, ApiError> {
        let len = text.chars().count();
        if !(passwords::MIN_LEN..=passwords::MAX_LEN).contains(&len) {
            return Err(ApiError::invalid_field(
                field,
                format!(
                    "`{field}` must be {} to {} characters",
                    passwords::MIN_LEN,
                    passwords::MAX_LEN
                ),
            ));
        }
        Ok(Self(text))
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(
            EmailAddress::parse("email", "  Ada@Example.COM ")
                .unwrap()
                .as_str(),
            "ada@example.com"
        );
        for bad in [
            "",
            "ada",
            "@example.com",
            "ada@",
            "ada@example",
            "a b@example.com",
            "a@b@c.com",
            "ada@.com",
        ] {
            let e = EmailAddress::parse("email", bad).unwrap_err();
            assert_eq!(e.status().as_u16(), 422, "{bad}");
        }
    }

    #[test]
    fn names_and_passwords_have_bounds() {
        assert_eq!(Name::parse("name", "  Acme  ").unwrap().as_str(), "Acme");
        assert!(Name::parse("name", "   ").is_err());
        assert!(Name::parse("name", &"x".repeat(201)).is_err());
        assert!(Name::parse("name", "a\u{0}b").is_err());
        assert!(NewPassword::parse("password", "123456789".into()).is_err());
        assert!(NewPassword::parse("password", "1234567890".into()).is_ok());
        assert_eq!(
            format!(
                "{:?}",
                NewPassword::parse("password", "s3cr3t-s3cr3t".into()).unwrap()
            ),
            "NewPassword(<redacted>)"
        );
    }
}
