//! The streamed bodies of point-in-time reads: a stream's state and a diff.
//!
//! The state is built in two passes. First the k-way merge of the chain's indexes marks which
//! line of which part is the newest version of a record still present ([`pit::LiveLines`], one
//! bit per record of the chain); this runs before the answer starts, so a damaged index is a
//! clean `500`. Then the parts that hold any of those lines are read one at a time, oldest
//! snapshot first, and the marked lines go out (through one zstd frame for `.jsonl.zst`):
//! memory is the chain's index objects, the bits and one part, never the stream's records.
//!
//! A diff needs no part at all: the two chains' merges are joined by id and records compared
//! by the hash each index holds. Its lines go out as they are found, stream by stream.

use super::download::{Chunks, Sink, Stop, streamed};
use age::x25519::Identity;
use bytes::Bytes;
use poem::Body;
use std::sync::Arc;
use storage::{
    StorageError,
    object_store::ObjectStore,
    pit::{self, Level, LiveLines, Merge},
    reader,
};

/// The live lines of a chain's view.
pub async fn live_lines(
    store: &ObjectStore,
    identity: &Identity,
    levels: &[Level],
) -> Result<LiveLines, StorageError> {
    let loaded = pit::load_indexes(store, identity, levels).await?;
    let (identity, levels) = (identity.clone(), levels.to_vec());
    tokio::task::spawn_blocking(move || LiveLines::mark(&levels, Merge::new(&identity, loaded)?))
        .await
        .map_err(|e| StorageError::Decode(format!("merging indexes: {e}")))?
}

/// The records `live` marks, read part by part, oldest snapshot of the chain first.
pub fn state(
    store: ObjectStore,
    identity: Identity,
    levels: Vec<Level>,
    live: LiveLines,
    zstd: bool,
) -> Body {
    let live = Arc::new(live);
    streamed(move |tx| async move {
        let mut at = String::new();
        write_state(&store, &identity, &levels, &live, zstd, &tx, &mut at)
            .await
            .map_err(|stop| (at, stop))
    })
}

async fn write_state(
    store: &ObjectStore,
    identity: &Identity,
    levels: &[Level],
    live: &Arc<LiveLines>,
    zstd: bool,
    tx: &Chunks,
    at: &mut String,
) -> Result<(), Stop> {
    let mut sink = Sink::new(zstd)?;
    for (level, l) in levels.iter().enumerate().rev() {
        for (part, p) in l.stream.parts.iter().enumerate() {
            if !live.any_in(level, part) {
                continue;
            }
            if tx.is_closed() {
                return Err(Stop::Gone);
            }
            p.key.clone_into(at);
            let body = reader::fetch_part(store, p).await.map_err(Stop::Storage)?;
            let (identity, p, live, tx) = (identity.clone(), p.clone(), live.clone(), tx.clone());
            sink = tokio::task::spawn_blocking(move || {
                let mut failed = None;
                pit::read_lines(
                    &identity,
                    &p,
                    body,
                    |n| live.is_live(level, part, n),
                    |line| match sink.write(line, &tx) {
                        Ok(()) => true,
                        Err(stop) => {
                            failed = Some(stop);
                            false
                        }
                    },
                )
                .map_err(Stop::Storage)?;
                match failed {
                    Some(stop) => Err(stop),
                    None => Ok(sink),
                }
            })
            .await
            .map_err(|e| Stop::Io(std::io::Error::other(e)))??;
        }
    }
    let tx = tx.clone();
    tokio::task::spawn_blocking(move || sink.finish(&tx))
        .await
        .map_err(|e| Stop::Io(std::io::Error::other(e)))?
}

/// The differences of each `(stream, newer chain, older chain)`, as NDJSON lines.
pub fn diff(
    store: ObjectStore,
    identity: Identity,
    streams: Vec<(String, Vec<Level>, Vec<Level>)>,
) -> Body {
    streamed(move |tx| async move {
        for (name, newer, older) in streams {
            let at = format!("diff of stream {name}");
            let load = async {
                let newer = pit::load_indexes(&store, &identity, &newer).await?;
                let older = pit::load_indexes(&store, &identity, &older).await?;
                Ok::<_, StorageError>((newer, older))
            };
            let (newer, older) = load.await.map_err(|e| (at.clone(), Stop::Storage(e)))?;
            let (identity, tx) = (identity.clone(), tx.clone());
            tokio::task::spawn_blocking(move || {
                let newer = Merge::new(&identity, newer).map_err(Stop::Storage)?;
                let older = Merge::new(&identity, older).map_err(Stop::Storage)?;
                for difference in pit::diff(newer.live(), older.live()) {
                    let d = difference.map_err(Stop::Storage)?;
                    let mut line = serde_json::to_vec(&serde_json::json!({
                        "stream": name,
                        "id": d.id,
                        "change": d.change.as_str(),
                    }))
                    .expect("a diff line serialises");
                    line.push(b'\n');
                    tx.blocking_send(Ok(Bytes::from(line)))
                        .map_err(|_| Stop::Gone)?;
                }
                Ok(())
            })
            .await
            .map_err(|e| (at.clone(), Stop::Io(std::io::Error::other(e))))?
            .map_err(|stop| (at, stop))?;
        }
        Ok(())
    })
}
