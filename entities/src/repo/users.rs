//! A user's own security: signing out other sessions, the second factor's single-use steps and
//! recovery codes, password resets and invitations by email. Every token here is stored only as
//! a SHA-256 and is used up by one guarded `UPDATE`, so two requests racing with one token
//! cannot both succeed.

use super::{hash_secret, random_secret};
use crate::model::{Role, invitation, password_reset, recovery_code, refresh_token, user};
use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter,
    Set, sea_query::Expr,
};

/// The prefix of password-reset tokens.
pub const PASSWORD_RESET_PREFIX: &str = "lbp_";
/// The prefix of invitation tokens.
pub const INVITATION_PREFIX: &str = "lbi_";

/// Revokes every sign-in of `user_id` except `keep` (the family of the caller's own sign-in).
/// Returns how many refresh tokens were still live.
pub async fn revoke_sessions_of(
    db: &impl ConnectionTrait,
    user_id: &str,
    keep: Option<&str>,
) -> Result<u64, DbErr> {
    let mut update = refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RevokedAt, Expr::value(Utc::now()))
        .filter(refresh_token::Column::UserId.eq(user_id))
        .filter(refresh_token::Column::RevokedAt.is_null());
    if let Some(family) = keep {
        update = update.filter(refresh_token::Column::FamilyId.ne(family));
    }
    Ok(update.exec(db).await?.rows_affected)
}

/// Sets a user's password hash.
pub async fn set_password_hash(
    db: &impl ConnectionTrait,
    user_id: &str,
    hash: &str,
) -> Result<(), DbErr> {
    user::Entity::update_many()
        .col_expr(user::Column::PasswordHash, Expr::value(hash))
        .filter(user::Column::Id.eq(user_id))
        .exec(db)
        .await?;
    Ok(())
}

/// Accepts a TOTP code's time `step` once: true when no code of this or a later step was
/// accepted for the user before.
pub async fn claim_totp_step(
    db: &impl ConnectionTrait,
    user_id: &str,
    step: i64,
) -> Result<bool, DbErr> {
    let res = user::Entity::update_many()
        .col_expr(user::Column::TotpLastStep, Expr::value(step))
        .filter(user::Column::Id.eq(user_id))
        .filter(
            Condition::any()
                .add(user::Column::TotpLastStep.is_null())
                .add(user::Column::TotpLastStep.lt(step)),
        )
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Replaces a user's recovery codes with `codes` (stored hashed). Run it in a transaction.
pub async fn replace_recovery_codes(
    db: &impl ConnectionTrait,
    user_id: &str,
    codes: &[String],
) -> Result<(), DbErr> {
    delete_recovery_codes(db, user_id).await?;
    let now = Utc::now();
    for code in codes {
        recovery_code::ActiveModel {
            id: Set(crate::new_id()),
            user_id: Set(user_id.to_owned()),
            code_hash: Set(hash_secret(code)),
            created_at: Set(now),
            used_at: Set(None),
        }
        .insert(db)
        .await?;
    }
    Ok(())
}

/// Deletes a user's recovery codes (the second factor was turned off).
pub async fn delete_recovery_codes(db: &impl ConnectionTrait, user_id: &str) -> Result<(), DbErr> {
    recovery_code::Entity::delete_many()
        .filter(recovery_code::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    Ok(())
}

/// Uses up one of the user's recovery codes: true when `code` was theirs and unused.
pub async fn use_recovery_code(
    db: &impl ConnectionTrait,
    user_id: &str,
    code: &str,
) -> Result<bool, DbErr> {
    let res = recovery_code::Entity::update_many()
        .col_expr(recovery_code::Column::UsedAt, Expr::value(Utc::now()))
        .filter(recovery_code::Column::UserId.eq(user_id))
        .filter(recovery_code::Column::CodeHash.eq(hash_secret(code)))
        .filter(recovery_code::Column::UsedAt.is_null())
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// How many of the user's recovery codes are still unused.
pub async fn unused_recovery_codes(db: &impl ConnectionTrait, user_id: &str) -> Result<u64, DbErr> {
    use sea_orm::PaginatorTrait;
    recovery_code::Entity::find()
        .filter(recovery_code::Column::UserId.eq(user_id))
        .filter(recovery_code::Column::UsedAt.is_null())
        .count(db)
        .await
}

/// Starts a password reset for `user_id`, valid for `ttl`; earlier unused resets of the user
/// stop working. Returns the token to send (stored only hashed). Run it in a transaction.
pub async fn create_password_reset(
    db: &impl ConnectionTrait,
    user_id: &str,
    ttl: Duration,
) -> Result<String, DbErr> {
    cancel_password_resets(db, user_id).await?;
    let now = Utc::now();
    let secret = random_secret(PASSWORD_RESET_PREFIX);
    password_reset::ActiveModel {
        id: Set(crate::new_id()),
        user_id: Set(user_id.to_owned()),
        token_hash: Set(hash_secret(&secret)),
        created_at: Set(now),
        expires_at: Set(now + ttl),
        used_at: Set(None),
    }
    .insert(db)
    .await?;
    Ok(secret)
}

/// Makes every unused password-reset token of `user_id` stop working (the password changed).
pub async fn cancel_password_resets(db: &impl ConnectionTrait, user_id: &str) -> Result<(), DbErr> {
    password_reset::Entity::update_many()
        .col_expr(password_reset::Column::UsedAt, Expr::value(Utc::now()))
        .filter(password_reset::Column::UserId.eq(user_id))
        .filter(password_reset::Column::UsedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// Uses up a password-reset token: the user it resets, when the token is known, unused and
/// unexpired.
pub async fn use_password_reset(
    db: &impl ConnectionTrait,
    secret: &str,
) -> Result<Option<String>, DbErr> {
    let now = Utc::now();
    let Some(reset) = password_reset::Entity::find()
        .filter(password_reset::Column::TokenHash.eq(hash_secret(secret)))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let res = password_reset::Entity::update_many()
        .col_expr(password_reset::Column::UsedAt, Expr::value(now))
        .filter(password_reset::Column::Id.eq(reset.id.as_str()))
        .filter(password_reset::Column::UsedAt.is_null())
        .filter(password_reset::Column::ExpiresAt.gt(now))
        .exec(db)
        .await?;
    Ok((res.rows_affected == 1).then_some(reset.user_id))
}

/// An invitation to create, and the token its email carries.
pub struct NewInvitation<'a> {
    pub account_id: &'a str,
    pub email: &'a str,
    pub role: Role,
    pub invited_by: &'a str,
    pub expires_at: DateTime<Utc>,
    /// A team of the account to join on accepting.
    pub team_id: Option<&'a str>,
}

/// Creates an invitation; returns it with its token (stored only hashed).
pub async fn create_invitation(
    db: &impl ConnectionTrait,
    new: NewInvitation<'_>,
) -> Result<(invitation::Model, String), DbErr> {
    let secret = random_secret(INVITATION_PREFIX);
    let model = invitation::ActiveModel {
        id: Set(crate::new_id()),
        account_id: Set(new.account_id.to_owned()),
        email: Set(new.email.to_owned()),
        role: Set(new.role),
        invited_by: Set(new.invited_by.to_owned()),
        token_hash: Set(hash_secret(&secret)),
        created_at: Set(Utc::now()),
        expires_at: Set(new.expires_at),
        accepted_at: Set(None),
        accepted_by: Set(None),
        revoked_at: Set(None),
        team_id: Set(new.team_id.map(str::to_owned)),
    }
    .insert(db)
    .await?;
    Ok((model, secret))
}

/// The invitation a token belongs to, whatever its state.
pub async fn find_invitation_by_token(
    db: &impl ConnectionTrait,
    secret: &str,
) -> Result<Option<invitation::Model>, DbErr> {
    invitation::Entity::find()
        .filter(invitation::Column::TokenHash.eq(hash_secret(secret)))
        .one(db)
        .await
}

/// Marks an open invitation accepted by `user_id`: true when it was still open (not accepted,
/// revoked or expired).
pub async fn accept_invitation(
    db: &impl ConnectionTrait,
    invitation_id: &str,
    user_id: &str,
) -> Result<bool, DbErr> {
    let now = Utc::now();
    let res = invitation::Entity::update_many()
        .col_expr(invitation::Column::AcceptedAt, Expr::value(now))
        .col_expr(invitation::Column::AcceptedBy, Expr::value(user_id))
        .filter(invitation::Column::Id.eq(invitation_id))
        .filter(invitation::Column::AcceptedAt.is_null())
        .filter(invitation::Column::RevokedAt.is_null())
        .filter(invitation::Column::ExpiresAt.gt(now))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Revokes an open invitation: true when it was open.
pub async fn revoke_invitation(
    db: &impl ConnectionTrait,
    invitation_id: &str,
) -> Result<bool, DbErr> {
    let res = invitation::Entity::update_many()
        .col_expr(invitation::Column::RevokedAt, Expr::value(Utc::now()))
        .filter(invitation::Column::Id.eq(invitation_id))
        .filter(invitation::Column::AcceptedAt.is_null())
        .filter(invitation::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}
