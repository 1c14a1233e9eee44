//! Teams: the roles their grants give their members, and removing them with their account.

use crate::model::{Role, team, team_grant, team_member};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};

/// The roles `user_id` holds through teams: `(account_id, role)` for every grant of every team
/// they are in.
pub async fn team_grants_of(
    db: &impl ConnectionTrait,
    user_id: &str,
) -> Result<Vec<(String, Role)>, DbErr> {
    // One query: the grants of the teams the user is in.
    let teams = sea_orm::sea_query::Query::select()
        .column(team_member::Column::TeamId)
        .from(team_member::Entity)
        .and_where(team_member::Column::UserId.eq(user_id))
        .to_owned();
    Ok(team_grant::Entity::find()
        .filter(team_grant::Column::TeamId.in_subquery(teams))
        .all(db)
        .await?
        .into_iter()
        .map(|g| (g.account_id, g.role))
        .collect())
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
