//! The Dropbox a sandbox starts with: a few folders (some with non-ASCII names), files spread
//! over them with mixed-case and non-ASCII names, and the account they belong to.

use rand::Rng;
use serde_json::{Value, json};

use super::tree::Tree;
use crate::generate::{self, fake};

/// The folders every sandbox Dropbox has, parents first.
pub const FOLDERS: [&str; 10] = [
    "/Documents",
    "/Documents/Contracts",
    "/Photos",
    "/Photos/2024 Trip",
    "/Projects",
    "/Projects/Atlas",
    "/Reports",
    "/Überweisungen",
    "/日本語のメモ",
    "/Archive",
];

const STEMS: &[&str] = &[
    "Notes",
    "Résumé",
    "Budget",
    "Überblick",
    "Invoice",
    "Meeting Minutes",
    "naïve café",
    "Roadmap 📈",
    "Quarterly Report",
    "README",
    "Σύνοψη",
    "TODO",
];

const EXTENSIONS: &[&str] = &["txt", "md", "csv", "json", "pdf", "docx", "jpg", "png"];

/// Creates the folders, then `files` files: file `i` lives in folder `i % 11` (the 11th
/// "folder" being the root) and is named `<stem> <i>.<ext>`.
pub(crate) fn populate(tree: &mut Tree, seed: u64, files: u64) {
    for folder in FOLDERS {
        // The fixed folders are well-formed and distinct.
        let _ = tree.create_folder(folder);
    }
    let key = generate::namespace_key(seed, "dropbox.names");
    for i in 0..files {
        let mut rng = generate::record_rng(key, i);
        let folder = FOLDERS.get((i % 11) as usize).copied().unwrap_or("");
        let name = format!(
            "{} {i:03}.{}",
            fake::pick(&mut rng, STEMS),
            fake::pick(&mut rng, EXTENSIONS)
        );
        // Every name carries its index, so no two files collide.
        let _ = tree.put_file(&format!("{folder}/{name}"));
    }
}

/// `users/get_current_account` for the sandbox's user.
pub(crate) fn account(seed: u64) -> Value {
    let mut rng = generate::record_rng(generate::namespace_key(seed, "dropbox.account"), 0);
    let person = fake::person(&mut rng);
    let account_id = format!("dbid:AA{}", fake::alphanumeric(&mut rng, 38));
    let namespace = rng.gen_range(1_000_000_000u64..9_999_999_999).to_string();
    json!({
        "account_id": account_id,
        "name": {
            "given_name": person.first_name,
            "surname": person.last_name,
            "familiar_name": person.first_name,
            "display_name": person.name(),
            "abbreviated_name": format!(
                "{}{}",
                person.first_name.chars().next().unwrap_or('X'),
                person.last_name.chars().next().unwrap_or('X')
            ),
        },
        "email": person.email,
        "email_verified": true,
        "disabled": false,
        "country": person.address.country,
        "locale": "en",
        "referral_link": format!("https://www.dropbox.com/referrals/AA{}", fake::alphanumeric(&mut rng, 20)),
        "is_paired": false,
        "account_type": {".tag": "basic"},
        "root_info": {
            ".tag": "user",
            "root_namespace_id": namespace,
            "home_namespace_id": namespace,
        },
    })
}
