//! What a file's contents are: binary files download as they are (`alt=media`); Google Docs,
//! Sheets, Slides and Drawings are exported (`files.export`) to an open format; folders,
//! shortcuts, Forms, Sites and other Workspace types have no contents to store.

use super::models::FileHead;
use crate::FileRef;

/// The family of formats Workspace documents are exported in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportFormat {
    /// Office Open XML (`.docx`, `.xlsx`, `.pptx`): Google's most complete export, and what
    /// Drive converts back to Docs, Sheets and Slides on upload.
    Ooxml,
    /// OpenDocument (`.odt`, `.ods`, `.odp`).
    OpenDocument,
}

/// A Workspace type's export: media type and file extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Export {
    pub mime_type: &'static str,
    pub extension: &'static str,
}

const fn export(mime_type: &'static str, extension: &'static str) -> Export {
    Export {
        mime_type,
        extension,
    }
}

/// The export of a Workspace document of type `mime_type`, or `None` when the type has no
/// exportable contents.
pub fn export_for(mime_type: &str, format: ExportFormat) -> Option<Export> {
    use ExportFormat::*;
    Some(match (mime_type, format) {
        ("application/vnd.google-apps.document", Ooxml) => export(
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "docx",
        ),
        ("application/vnd.google-apps.document", OpenDocument) => {
            export("application/vnd.oasis.opendocument.text", "odt")
        }
        ("application/vnd.google-apps.spreadsheet", Ooxml) => export(
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "xlsx",
        ),
        ("application/vnd.google-apps.spreadsheet", OpenDocument) => {
            export("application/vnd.oasis.opendocument.spreadsheet", "ods")
        }
        ("application/vnd.google-apps.presentation", Ooxml) => export(
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
            "pptx",
        ),
        ("application/vnd.google-apps.presentation", OpenDocument) => {
            export("application/vnd.oasis.opendocument.presentation", "odp")
        }
        // Drawings have neither an OOXML nor an OpenDocument export; PDF keeps them whole.
        ("application/vnd.google-apps.drawing", _) => export("application/pdf", "pdf"),
        _ => return None,
    })
}

/// Where a file's contents come from, as carried in [`FileRef::locator`].
#[derive(Debug, PartialEq, Eq)]
pub enum Locator<'a> {
    /// `files.get?alt=media`.
    Media { id: &'a str },
    /// `files.export?mimeType=…`.
    Export { id: &'a str, mime_type: &'a str },
}

impl<'a> Locator<'a> {
    pub fn parse(locator: &'a str) -> Option<Self> {
        if let Some(id) = locator.strip_prefix("media:") {
            return (!id.is_empty()).then_some(Self::Media { id });
        }
        let (id, mime_type) = locator.strip_prefix("export:")?.split_once(':')?;
        (!id.is_empty() && !mime_type.is_empty()).then_some(Self::Export { id, mime_type })
    }
}

/// The contents reference of a listed file, or `None` when it has none.
pub fn file_ref(file: &FileHead, format: ExportFormat) -> Option<FileRef> {
    if file.mime_type.starts_with("application/vnd.google-apps.") {
        let export = export_for(&file.mime_type, format)?;
        let suffix = format!(".{}", export.extension);
        let name = if file.name.to_ascii_lowercase().ends_with(&suffix) {
            file.name.clone()
        } else {
            format!("{}{suffix}", file.name)
        };
        return Some(FileRef {
            locator: format!("export:{}:{}", file.id, export.mime_type),
            // Workspace documents have no checksum; `version` moves with every change, so the
            // id, version and format together name one exported content.
            fingerprint: file
                .version
                .as_ref()
                .map(|v| format!("{}@{v}:{}", file.id, export.mime_type)),
            size: None,
            name,
            mime_type: Some(export.mime_type.to_owned()),
        });
    }
    Some(FileRef {
        locator: format!("media:{}", file.id),
        fingerprint: file
            .md5_checksum
            .as_ref()
            .map(|md5| format!("md5:{md5}"))
            .or_else(|| file.sha256_checksum.as_ref().map(|s| format!("sha256:{s}"))),
        size: file.size.as_deref().and_then(|s| s.parse().ok()),
        name: file.name.clone(),
        mime_type: Some(file.mime_type.clone()).filter(|m| !m.is_empty()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(mime: &str, name: &str) -> FileHead {
        serde_json::from_value(serde_json::json!({
            "id": "1abc", "name": name, "mimeType": mime, "version": "7",
            "size": "12", "md5Checksum": "d41d8cd98f00b204e9800998ecf8427e",
        }))
        .unwrap()
    }

    #[test]
    fn documents_export_binaries_download_and_the_rest_have_no_contents() {
        let doc = file_ref(
            &head("application/vnd.google-apps.document", "Plan"),
            ExportFormat::Ooxml,
        )
        .unwrap();
        assert_eq!(doc.name, "Plan.docx");
        assert_eq!(doc.size, None);
        assert_eq!(
            Locator::parse(&doc.locator),
            Some(Locator::Export {
                id: "1abc",
                mime_type: "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
            })
        );
        assert!(doc.fingerprint.unwrap().starts_with("1abc@7:"));
        let sheet = file_ref(
            &head("application/vnd.google-apps.spreadsheet", "Budget.ods"),
            ExportFormat::OpenDocument,
        )
        .unwrap();
        assert_eq!(sheet.name, "Budget.ods");
        let pdf = file_ref(&head("application/pdf", "a.pdf"), ExportFormat::Ooxml).unwrap();
        assert_eq!(
            Locator::parse(&pdf.locator),
            Some(Locator::Media { id: "1abc" })
        );
        assert_eq!(
            pdf.fingerprint.as_deref(),
            Some("md5:d41d8cd98f00b204e9800998ecf8427e")
        );
        assert_eq!(pdf.size, Some(12));
        for none in [
            "application/vnd.google-apps.folder",
            "application/vnd.google-apps.shortcut",
            "application/vnd.google-apps.form",
            "application/vnd.google-apps.site",
        ] {
            assert!(
                file_ref(&head(none, "x"), ExportFormat::Ooxml).is_none(),
                "{none}"
            );
        }
        for bad in [
            "",
            "media:",
            "export:1abc",
            "export::text/plain",
            "http://x",
        ] {
            assert_eq!(Locator::parse(bad), None, "{bad}");
        }
    }
}
