//! File contents through the worker: stored once per account and content hash, and never
//! downloaded or uploaded again while the platform reports the same contents.

use crate::harness::*;
use entities::blob;
use sandbox::SandboxConfig;
use sea_orm::{EntityTrait, PaginatorTrait};
use std::time::Duration;

fn blob_puts(stack: &Stack) -> usize {
    stack
        .puts
        .keys()
        .iter()
        .filter(|k| k.contains("/blobs/sha256/"))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unchanged_files_are_neither_downloaded_nor_uploaded_again() {
    let mut stack = Stack::start(Db::Sqlite, SandboxConfig::new(88))
        .await
        .expect("stack");
    let tenant = stack.provision().await.expect("provision");
    let source_id = add_dropbox_source(&stack, &tenant).await.unwrap();
    stack.spawn_worker().expect("worker");
    let dropbox = stack.sandbox.dropbox();
    let files = dropbox
        .entries()
        .iter()
        .filter(|e| e[".tag"] == "file")
        .count();
    let distinct: std::collections::BTreeSet<String> = dropbox
        .entries()
        .iter()
        .filter(|e| e[".tag"] == "file")
        .map(|e| e["content_hash"].as_str().unwrap().to_owned())
        .collect();
    assert!(files > 0);

    let job_id = start_backup_of(&stack, &tenant, &source_id).await.unwrap();
    expect_success(&stack, &tenant, &job_id, Duration::from_secs(240), 0).await;
    let downloads = dropbox.downloads();
    let uploads = blob_puts(&stack);
    assert_eq!(downloads as usize, files, "each file downloaded once");
    assert_eq!(
        uploads,
        distinct.len(),
        "each distinct contents uploaded once"
    );
    let rows = blob::Entity::find().count(&stack.db).await.unwrap();
    assert_eq!(rows as usize, distinct.len());

    // A second full backup: the platform reports the same contents, so nothing moves.
    let job_id = start_backup_of(&stack, &tenant, &source_id).await.unwrap();
    let job = expect_success(&stack, &tenant, &job_id, Duration::from_secs(240), 0).await;
    assert_eq!(dropbox.downloads(), downloads, "no file downloaded again");
    assert_eq!(blob_puts(&stack), uploads, "no blob uploaded again");
    let (manifest, streams) = read_snapshot_of(
        &stack,
        &tenant,
        &source_id,
        job["snapshot_id"].as_str().unwrap(),
    )
    .await
    .unwrap();
    let referenced = streams["files"]
        .iter()
        .filter(|r| r["_listbackup_file"]["sha256"].is_string())
        .count();
    assert_eq!(
        referenced, files,
        "every file record of the second snapshot references its blob"
    );
    let listed: std::collections::BTreeSet<&String> = manifest
        .parts()
        .flat_map(|(_, part)| part.blobs.iter())
        .collect();
    assert_eq!(
        listed.len(),
        distinct.len(),
        "the manifest lists the blobs its parts use"
    );

    // One file changes: only it is downloaded and uploaded.
    let changed = dropbox
        .entries()
        .into_iter()
        .find(|e| e[".tag"] == "file")
        .unwrap();
    dropbox.write_file(changed["path_display"].as_str().unwrap());
    let job_id = start_backup_of(&stack, &tenant, &source_id).await.unwrap();
    expect_success(&stack, &tenant, &job_id, Duration::from_secs(240), 0).await;
    assert_eq!(dropbox.downloads(), downloads + 1, "only the changed file");
    assert_eq!(blob_puts(&stack), uploads + 1);
    stack.shutdown().await;
}
