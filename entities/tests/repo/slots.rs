//! Per-account job slots: never more running jobs than the cap, even when many ask at once
//! through different connection pools (as several workers do).

use entities::{JobKind, JobStatus, job, repo};
use sea_orm::{DatabaseConnection, EntityTrait};
use serde_json::json;

/// `n` queued jobs of one fresh account, one per source (a source has one active job).
async fn queued_jobs(db: &DatabaseConnection, n: usize) -> Vec<String> {
    let account = repo::create_account(db, "Queue Co", None, "age1queue", None)
        .await
        .unwrap();
    let conn = repo::create_connection(db, &account.id, "stripe", "S", "x".into(), json!({}))
        .await
        .unwrap();
    let mut jobs = Vec::new();
    for i in 0..n {
        let source = repo::create_source(db, &conn, &format!("s{i}"), &[])
            .await
            .unwrap();
        jobs.push(
            repo::create_job(db, &source, JobKind::Backup)
                .await
                .unwrap()
                .id,
        );
    }
    jobs
}

async fn status(db: &DatabaseConnection, id: &str) -> JobStatus {
    job::Entity::find_by_id(id)
        .one(db)
        .await
        .unwrap()
        .unwrap()
        .status
}

/// `db` and `other` are two pools on the same database.
pub async fn suite(db: &DatabaseConnection, other: &DatabaseConnection) {
    use repo::SlotOutcome::*;
    let jobs = queued_jobs(db, 3).await;
    assert_eq!(
        repo::acquire_job_slot(db, &jobs[0], 2).await.unwrap(),
        Acquired { moved: true }
    );
    assert_eq!(
        repo::acquire_job_slot(db, &jobs[0], 2).await.unwrap(),
        Acquired { moved: false },
        "asking again (a retried attempt) keeps the slot"
    );
    assert_eq!(
        repo::acquire_job_slot(db, &jobs[1], 2).await.unwrap(),
        Acquired { moved: true }
    );
    assert_eq!(
        repo::acquire_job_slot(db, &jobs[2], 2).await.unwrap(),
        Busy { running: 2 }
    );
    assert_eq!(status(db, &jobs[2]).await, JobStatus::Queued);

    // A job waiting for a quota gives its slot back, with the reason shown.
    assert!(
        repo::requeue_job(db, &jobs[1], JobStatus::Running, Some("quota"))
            .await
            .unwrap()
    );
    assert!(
        !repo::requeue_job(db, &jobs[1], JobStatus::Running, Some("quota"))
            .await
            .unwrap(),
        "once"
    );
    assert_eq!(
        repo::acquire_job_slot(db, &jobs[2], 2).await.unwrap(),
        Acquired { moved: true }
    );
    assert_eq!(
        repo::acquire_job_slot(db, &jobs[1], 2).await.unwrap(),
        Busy { running: 2 }
    );
    // A finished job frees its slot; a finished job gets none.
    repo::finish_job(db, &jobs[0], JobStatus::Succeeded, None)
        .await
        .unwrap();
    assert_eq!(repo::acquire_job_slot(db, &jobs[0], 2).await.unwrap(), Gone);
    assert_eq!(
        repo::acquire_job_slot(db, &jobs[1], 2).await.unwrap(),
        Acquired { moved: true }
    );
    let resumed = job::Entity::find_by_id(&jobs[1])
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(resumed.error, None, "the wait's reason is cleared");
    assert!(resumed.started_at.is_some());
    assert_eq!(
        repo::running_jobs(db, &resumed.account_id).await.unwrap(),
        2
    );

    // Eight jobs ask at once through two pools: exactly three get a slot of three.
    let jobs = queued_jobs(db, 8).await;
    let asks: Vec<_> = jobs
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let pool = if i % 2 == 0 {
                db.clone()
            } else {
                other.clone()
            };
            let id = id.clone();
            tokio::spawn(async move { repo::acquire_job_slot(&pool, &id, 3).await.unwrap() })
        })
        .collect();
    let mut acquired = 0;
    for ask in asks {
        if ask.await.unwrap() == (Acquired { moved: true }) {
            acquired += 1;
        }
    }
    assert_eq!(acquired, 3);
    let account = job::Entity::find_by_id(&jobs[0])
        .one(db)
        .await
        .unwrap()
        .unwrap()
        .account_id;
    assert_eq!(repo::running_jobs(db, &account).await.unwrap(), 3);
}
