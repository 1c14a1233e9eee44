//! Drive-shaped resources, generated from the seed: `drive#file` for files and folders,
//! `drive#drive` for shared drives, and the bytes a download or an export returns.
//!
//! Item `i`'s kind follows a fixed cycle ([`kind`]), so every kind (folders, binary files,
//! Docs, Sheets, Slides, Drawings, shortcuts, Forms) is present in any dataset of 20 or more;
//! everything else about it comes from its own random stream. Binary files carry `size`,
//! `md5Checksum` and `sha256Checksum` of their real bytes and a `headRevisionId`; Workspace
//! documents carry none of those, only `version`.

use md5::{Digest as _, Md5};
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{GoogleDriveFake, State};
use crate::generate::{self, fake};

pub const FOLDER: &str = "application/vnd.google-apps.folder";
pub const DOCUMENT: &str = "application/vnd.google-apps.document";
pub const SPREADSHEET: &str = "application/vnd.google-apps.spreadsheet";
pub const PRESENTATION: &str = "application/vnd.google-apps.presentation";
pub const DRAWING: &str = "application/vnd.google-apps.drawing";
pub const SHORTCUT: &str = "application/vnd.google-apps.shortcut";
pub const FORM: &str = "application/vnd.google-apps.form";

/// `createdTime` of item 0: 2021-01-01T00:00:00Z; items are created an hour apart.
const CREATED_BASE: i64 = 1_609_459_200;
const CREATED_STEP: i64 = 3_600;
/// A few files are this large, so downloads span many chunks.
const LARGE_FILE_BYTES: u64 = 100_000;

const BINARY_TYPES: &[(&str, &str)] = &[
    ("text/plain", "txt"),
    ("application/pdf", "pdf"),
    ("image/png", "png"),
    ("text/csv", "csv"),
    ("image/jpeg", "jpg"),
];

const FOLDER_NAMES: &[&str] = &[
    "Invoices",
    "Contracts",
    "Projects",
    "Marketing",
    "Archive",
    "Team",
    "Reports",
];
const DOC_NAMES: &[&str] = &["notes", "plan", "proposal", "minutes", "brief", "budget"];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Folder,
    Binary,
    Document,
    Spreadsheet,
    Presentation,
    Drawing,
    Shortcut,
    Form,
}

const CYCLE: [Kind; 20] = {
    use Kind::*;
    [
        Folder,
        Binary,
        Document,
        Binary,
        Spreadsheet,
        Binary,
        Folder,
        Presentation,
        Binary,
        Drawing,
        Binary,
        Shortcut,
        Binary,
        Document,
        Form,
        Binary,
        Spreadsheet,
        Binary,
        Document,
        Binary,
    ]
};

/// The kind of item `index`.
pub(crate) fn kind(index: u64) -> Kind {
    CYCLE[(index % CYCLE.len() as u64) as usize]
}

impl Kind {
    fn workspace_mime(self) -> Option<&'static str> {
        Some(match self {
            Kind::Folder => FOLDER,
            Kind::Document => DOCUMENT,
            Kind::Spreadsheet => SPREADSHEET,
            Kind::Presentation => PRESENTATION,
            Kind::Drawing => DRAWING,
            Kind::Shortcut => SHORTCUT,
            Kind::Form => FORM,
            Kind::Binary => return None,
        })
    }

    /// The export formats `files.export` accepts for this kind (Google's documented table).
    pub(crate) fn export_formats(self) -> &'static [&'static str] {
        match self {
            Kind::Document => &[
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                "application/vnd.oasis.opendocument.text",
                "application/rtf",
                "application/pdf",
                "text/plain",
                "text/html",
                "application/zip",
                "application/epub+zip",
                "text/markdown",
            ],
            Kind::Spreadsheet => &[
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                "application/vnd.oasis.opendocument.spreadsheet",
                "application/pdf",
                "application/zip",
                "text/csv",
                "text/tab-separated-values",
            ],
            Kind::Presentation => &[
                "application/vnd.openxmlformats-officedocument.presentationml.presentation",
                "application/vnd.oasis.opendocument.presentation",
                "application/pdf",
                "text/plain",
            ],
            Kind::Drawing => &[
                "application/pdf",
                "image/jpeg",
                "image/png",
                "image/svg+xml",
            ],
            _ => &[],
        }
    }
}

/// One file's facts in its current state.
#[derive(Clone, Debug)]
pub(crate) struct Item {
    pub(crate) index: u64,
    pub(crate) id: String,
    pub(crate) kind: Kind,
    pub(crate) mime: &'static str,
    pub(crate) name: String,
    /// The shared drive holding it; `None` for My Drive.
    pub(crate) drive: Option<u64>,
    pub(crate) parent: String,
    pub(crate) created: i64,
    pub(crate) modified: i64,
    /// Bumped by every change, metadata or content.
    pub(crate) version: u64,
    /// Bumped by content edits only.
    pub(crate) revision: u64,
    pub(crate) size: Option<u64>,
    pub(crate) trashed: bool,
}

/// The shared drive (or `None`, My Drive) item `index` lives in; its own random stream, so
/// placement is cheap to look up for parents.
fn placement(fake: &GoogleDriveFake, index: u64) -> Option<u64> {
    let mut rng = generate::record_rng(fake.key ^ 0x706c_6163_6521, index);
    (fake.drives > 0 && rng.gen_ratio(1, 4)).then(|| rng.gen_range(0..fake.drives))
}

impl GoogleDriveFake {
    /// Item `index` as it is now; `None` when it was deleted or never created.
    pub(crate) fn item(&self, state: &State, index: u64) -> Option<Item> {
        let edit = state.edits.get(&index).cloned().unwrap_or_default();
        if index >= state.files || edit.removed {
            return None;
        }
        let mut rng = generate::record_rng(self.key, index);
        let kind = kind(index);
        let (mime, ext) = match kind.workspace_mime() {
            Some(mime) => (mime, None),
            None => {
                let (mime, ext) = BINARY_TYPES[rng.gen_range(0..BINARY_TYPES.len())];
                (mime, Some(ext))
            }
        };
        let drive = placement(self, index);
        let parent = self.parent_of(&mut rng, index, drive);
        let base_name = match kind {
            Kind::Folder => format!(
                "{} {}",
                fake::company(&mut rng),
                fake::pick(&mut rng, FOLDER_NAMES)
            ),
            _ => format!(
                "{} {}",
                fake::product_name(&mut rng),
                fake::pick(&mut rng, DOC_NAMES)
            ),
        };
        let name = edit.name.clone().unwrap_or_else(|| match ext {
            Some(ext) => format!("{base_name} {index}.{ext}"),
            None => base_name,
        });
        let created = CREATED_BASE + index as i64 * CREATED_STEP;
        let modified = edit
            .modified
            .unwrap_or(created + rng.gen_range(0..CREATED_STEP));
        let size = (kind == Kind::Binary).then(|| {
            if index % 43 == 5 {
                LARGE_FILE_BYTES
            } else {
                rng.gen_range(16..4_096)
            }
        });
        Some(Item {
            index,
            id: self.file_id(index),
            kind,
            mime,
            name,
            drive,
            parent,
            created,
            modified,
            version: rng.gen_range(1..60) + edit.versions,
            revision: edit.revisions,
            size,
            trashed: edit.trashed,
        })
    }

    /// Half the items sit at the top of their drive, the others in the nearest earlier folder
    /// of the same drive.
    fn parent_of(&self, rng: &mut ChaCha8Rng, index: u64, drive: Option<u64>) -> String {
        let root = || match drive {
            Some(d) => self.drive_id(d),
            None => self.root_id.clone(),
        };
        if rng.gen_bool(0.5) {
            return root();
        }
        (index.saturating_sub(40)..index)
            .rev()
            .find(|&j| kind(j) == Kind::Folder && placement(self, j) == drive)
            .map_or_else(root, |j| self.file_id(j))
    }

    /// The `drive#file` resource with every field the fake knows.
    pub(crate) fn resource(&self, item: &Item) -> Value {
        let mut rng = generate::record_rng(self.key ^ 0x6d65_7461, item.index);
        let mut file = json!({
            "kind": "drive#file",
            "id": item.id,
            "name": item.name,
            "mimeType": item.mime,
            "parents": [item.parent],
            "trashed": item.trashed,
            "starred": rng.gen_ratio(1, 8),
            "createdTime": timestamp(item.created),
            "modifiedTime": timestamp(item.modified),
            "version": item.version.to_string(),
            "webViewLink": web_view_link(item),
        });
        if rng.gen_ratio(1, 3) {
            file["description"] = fake::sentence(&mut rng, &item.name).into();
        }
        match item.drive {
            Some(drive) => file["driveId"] = self.drive_id(drive).into(),
            None => {
                let owner = fake::person(&mut rng);
                file["owners"] = json!([{
                    "kind": "drive#user",
                    "displayName": owner.name(),
                    "emailAddress": owner.email,
                }]);
            }
        }
        if let Some(size) = item.size {
            let bytes = self.media(item);
            file["size"] = size.to_string().into();
            file["md5Checksum"] = hex(Md5::digest(&bytes).as_slice()).into();
            file["sha256Checksum"] = hex(Sha256::digest(&bytes).as_slice()).into();
            file["headRevisionId"] = format!("0B{}r{}", &item.id[1..9], item.revision + 1).into();
            file["originalFilename"] = item.name.clone().into();
            if let Some((_, ext)) = item.name.rsplit_once('.') {
                file["fileExtension"] = ext.into();
            }
        }
        if item.kind == Kind::Shortcut {
            // The binary file just before every shortcut in the cycle.
            let target = item.index.saturating_sub(1);
            file["shortcutDetails"] = json!({
                "targetId": self.file_id(target),
                "targetMimeType": BINARY_TYPES[0].0,
            });
        }
        file
    }

    /// The `drive#drive` resource of shared drive `d`.
    pub(crate) fn drive_resource(&self, state: &State, d: u64) -> Value {
        let mut rng = generate::record_rng(self.key ^ 0x0064_7269_7665, d);
        let name = state
            .drive_names
            .get(&d)
            .cloned()
            .unwrap_or_else(|| format!("{} Team", fake::company(&mut rng)));
        json!({
            "kind": "drive#drive",
            "id": self.drive_id(d),
            "name": name,
            "createdTime": timestamp(CREATED_BASE - 86_400 * (d as i64 + 1)),
            "hidden": false,
            "colorRgb": format!("#{:06x}", rng.gen_range(0..0xff_ffffu32)),
            "restrictions": {
                "adminManagedRestrictions": false,
                "copyRequiresWriterPermission": rng.gen_ratio(1, 4),
                "domainUsersOnly": rng.gen_bool(0.5),
                "driveMembersOnly": rng.gen_ratio(1, 3),
            },
        })
    }

    /// The bytes `alt=media` returns for a binary file (empty for anything else).
    pub(crate) fn media(&self, item: &Item) -> Vec<u8> {
        let Some(size) = item.size else {
            return Vec::new();
        };
        let mut rng = content_rng(self.key, item.index, item.revision, "media");
        let mut bytes: Vec<u8> = match item.mime {
            "application/pdf" => b"%PDF-1.7\n".to_vec(),
            "image/png" => b"\x89PNG\r\n\x1a\n".to_vec(),
            "image/jpeg" => b"\xff\xd8\xff\xe0".to_vec(),
            _ => Vec::new(),
        };
        if item.mime.starts_with("text/") {
            let mut line = 0;
            while bytes.len() < size as usize {
                line += 1;
                let text = format!(
                    "{line},{},{}\n",
                    fake::product_name(&mut rng),
                    rng.gen_range(0..10_000)
                );
                bytes.extend_from_slice(text.as_bytes());
            }
        } else {
            let start = bytes.len();
            bytes.resize((size as usize).max(start), 0);
            rng.fill_bytes(&mut bytes[start..]);
        }
        bytes.truncate(size as usize);
        bytes
    }

    /// The bytes `files.export` returns for a Workspace document in `format`: a stand-in with
    /// the format's signature, deterministic per document revision and format.
    pub(crate) fn exported(&self, item: &Item, format: &str) -> Vec<u8> {
        let mut rng = content_rng(self.key, item.index, item.version, format);
        let mut bytes: Vec<u8> = if format.contains("openxmlformats")
            || format.contains("opendocument")
            || format.ends_with("zip")
        {
            b"PK\x03\x04".to_vec()
        } else if format == "application/pdf" {
            b"%PDF-1.7\n".to_vec()
        } else {
            Vec::new()
        };
        let lines = rng.gen_range(4..40);
        for line in 0..lines {
            let text = format!(
                "{} v{} line {line}: {}\n",
                item.name,
                item.version,
                fake::product_name(&mut rng)
            );
            bytes.extend_from_slice(text.as_bytes());
        }
        bytes
    }
}

fn content_rng(key: u64, index: u64, revision: u64, salt: &str) -> ChaCha8Rng {
    let key = generate::namespace_key(key ^ revision.wrapping_mul(0x9e37_79b9), salt);
    let mut seed = [0u8; 32];
    generate::record_rng(key, index).fill_bytes(&mut seed);
    ChaCha8Rng::from_seed(seed)
}

fn web_view_link(item: &Item) -> String {
    let id = &item.id;
    match item.kind {
        Kind::Folder => format!("https://drive.google.com/drive/folders/{id}"),
        Kind::Document => format!("https://docs.google.com/document/d/{id}/edit"),
        Kind::Spreadsheet => format!("https://docs.google.com/spreadsheets/d/{id}/edit"),
        Kind::Presentation => format!("https://docs.google.com/presentation/d/{id}/edit"),
        Kind::Drawing => format!("https://docs.google.com/drawings/d/{id}/edit"),
        Kind::Form => format!("https://docs.google.com/forms/d/{id}/edit"),
        Kind::Binary | Kind::Shortcut => format!("https://drive.google.com/file/d/{id}/view"),
    }
}

/// RFC 3339 with milliseconds, as Drive writes times.
pub(crate) fn timestamp(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
