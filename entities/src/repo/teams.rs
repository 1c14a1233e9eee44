//! Teams: the roles their grants give their members, and removing them with their account.

use crate::model::{Role, membership, team, team_grant, team_member};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};

/// Every role `user_id` holds, by account: their memberships, then the grants of every team
/// they are in, in one query (the authentication of every request asks it).
pub async fn roles_of(
    db: &impl ConnectionTrait,
    user_id: &str,
) -> Result<Vec<(String, Role)>, DbErr> {
    use sea_orm::sea_query::{Query, UnionType};
    let both = Query::select()
        .column(membership::Column::AccountId)
        .column(membership::Column::Role)
        .from(membership::Entity)
        .and_where(membership::Column::UserId.eq(user_id))
        .union(UnionType::All, team_grants_select(user_id))
        .to_owned();
    grants_query(db, both).await
}

/// `account_id, role` of the grants of the teams `user_id` is in.
fn team_grants_select(user_id: &str) -> sea_orm::sea_query::SelectStatement {
    use sea_orm::sea_query::Query;
    let teams = Query::select()
        .column(team_member::Column::TeamId)
        .from(team_member::Entity)
        .and_where(team_member::Column::UserId.eq(user_id))
        .to_owned();
    Query::select()
        .column(team_grant::Column::AccountId)
        .column(team_grant::Column::Role)
        .from(team_grant::Entity)
        .and_where(team_grant::Column::TeamId.in_subquery(teams))
        .to_owned()
}

/// Runs a select of `account_id, role` rows.
async fn grants_query(
    db: &impl ConnectionTrait,
    select: sea_orm::sea_query::SelectStatement,
) -> Result<Vec<(String, Role)>, DbErr> {
    db.query_all(&select)
        .await?
        .iter()
        .map(|row| Ok((row.try_get("", "account_id")?, row.try_get("", "role")?)))
        .collect()
}

/// Deletes a team with its members, its grants and the client grants given to it. Run it in a transaction.
pub async fn delete_team(db: &impl ConnectionTrait, team_id: &str) -> Result<(), DbErr> {
    super::delete_team_client_grants(db, team_id).await?;
    team_grant::Entity::delete_many()
        .filter(team_grant::Column::TeamId.eq(team_id))
        .exec(db)
        .await?;
    team_member::Entity::delete_many()
        .filter(team_member::Column::TeamId.eq(team_id))
        .exec(db)
        .await?;
    team::Entity::delete_by_id(team_id).exec(db).await?;
    Ok(())
}

/// Deletes the account's teams and every team's grant on the account (the account is being
/// deleted). Run it in a transaction.
pub async fn delete_account_teams(
    db: &impl ConnectionTrait,
    account_id: &str,
) -> Result<(), DbErr> {
    team_grant::Entity::delete_many()
        .filter(team_grant::Column::AccountId.eq(account_id))
        .exec(db)
        .await?;
    let teams = team::Entity::find()
        .filter(team::Column::AccountId.eq(account_id))
        .all(db)
        .await?;
    for t in teams {
        delete_team(db, &t.id).await?;
    }
    Ok(())
}
