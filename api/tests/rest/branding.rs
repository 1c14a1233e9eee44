//! Branding: display name, logo, colours, inheritance down the account tree, and a custom domain
//! proven by a TXT record served by a real DNS server; invitations carry the branding.

use crate::{dns::DnsServer, harness::*, smtp::*};
use serde_json::json;

#[tokio::test]
async fn branding_is_set_inherited_and_a_custom_domain_is_proven_by_dns() {
    let dns = DnsServer::start().await;
    let smtp = SmtpServer::start().await;
    let mail = api::MailSettings::new(
        &smtp.url(),
        "no-reply@example.com",
        "https://app.example.com",
    )
    .unwrap();
    let addr = dns.addr;
    let app = App::spawn_with_settings(
        move |auth| App::generous(auth).with_mail(mail),
        move |c| c.with_dns_resolver(addr),
    )
    .await;
    let ada = app.register("ada@example.com").await;
    let client = app
        .sub_account(&ada.access, &ada.account_id, "Client Co")
        .await;
    let branding = format!("/v1/accounts/{}/branding", ada.account_id);

    // The defaults: the account's name, nothing else.
    let r = app.get(&branding, &ada.access).await;
    let b = r.ok(200);
    assert_eq!(b["display_name"], "ada");
    assert!(
        b.get("inherited_from").is_none() && b.get("logo_url").is_none(),
        "{b}"
    );

    // Bad values change nothing.
    for (field, value) in [
        ("primary_color", json!("red")),
        ("logo_url", json!("http://cdn.example.com/logo.png")),
        ("support_email", json!("nobody")),
        ("display_name", json!("")),
    ] {
        let r = app
            .call(
                "PUT",
                &branding,
                Some(&ada.access),
                Some(json!({ field: value })),
            )
            .await;
        r.error(422, "invalid_field");
        assert_eq!(r.field(), field);
    }
    let r = app
        .call(
            "PUT",
            &branding,
            Some(&ada.access),
            Some(json!({
                "display_name": "Acme Backups",
                "logo_url": "https://cdn.acme.example/logo.svg",
                "primary_color": "#1A2B3C",
                "accent_color": "#ffcc00",
                "support_email": "Help@Acme.example"
            })),
        )
        .await;
    let b = r.ok(200);
    assert_eq!(b["display_name"], "Acme Backups");
    assert_eq!(b["primary_color"], "#1a2b3c");
    assert_eq!(b["support_email"], "help@acme.example");
    assert_eq!(b["inherited_from"], ada.account_id.as_str());

    // The client account shows the agency's branding until it has its own.
    let r = app
        .get(&format!("/v1/accounts/{client}/branding"), &ada.access)
        .await;
    let b = r.ok(200);
    assert_eq!(b["display_name"], "Acme Backups");
    assert_eq!(b["inherited_from"], ada.account_id.as_str());
    assert_eq!(b["account_id"], client.as_str());

    // A viewer reads it, and changes nothing.
    let vic = app
        .member(&ada, &ada.account_id, "vic@example.com", "viewer")
        .await;
    app.get(&branding, &vic.access).await.ok(200);
    app.call("PUT", &branding, Some(&vic.access), Some(json!({})))
        .await
        .error(403, "forbidden");

    // A custom domain: unverified until its TXT record is there.
    let domain = format!("{branding}/domain");
    app.post(&format!("{domain}/verify"), &ada.access, json!({}))
        .await
        .error(409, "no_custom_domain");
    app.call(
        "PUT",
        &domain,
        Some(&ada.access),
        Some(json!({"domain": "not a domain"})),
    )
    .await
    .error(422, "invalid_field");
    let r = app
        .call(
            "PUT",
            &domain,
            Some(&ada.access),
            Some(json!({"domain": "Backups.Acme.Example."})),
        )
        .await;
    let d = r.ok(200)["custom_domain"].clone();
    assert_eq!(d["domain"], "backups.acme.example");
    assert_eq!(d["verified"], false);
    assert_eq!(
        d["txt_record_name"],
        "_listbackup-challenge.backups.acme.example"
    );
    let value = d["txt_record_value"].as_str().unwrap().to_owned();
    assert!(value.starts_with("listbackup-verification="), "{value}");

    // Another account may claim it too, unproven; the first to prove it holds it.
    let bea = app.register("bea@example.com").await;
    let bea_domain = format!("/v1/accounts/{}/branding/domain", bea.account_id);
    app.call(
        "PUT",
        &bea_domain,
        Some(&bea.access),
        Some(json!({"domain": "backups.acme.example"})),
    )
    .await
    .ok(200);
    let r = app
        .post(&format!("{domain}/verify"), &ada.access, json!({}))
        .await;
    r.error(409, "domain_not_verified");
    assert_eq!(
        r.body["error"]["details"]["txt_record_value"],
        value.as_str()
    );
    // A wrong value does not do either.
    dns.set_txt(&[(
        "_listbackup-challenge.backups.acme.example",
        "listbackup-verification=wrong",
    )]);
    app.post(&format!("{domain}/verify"), &ada.access, json!({}))
        .await
        .error(409, "domain_not_verified");
    dns.set_txt(&[
        ("_listbackup-challenge.backups.acme.example", "v=spf1 -all"),
        ("_listbackup-challenge.backups.acme.example", &value),
    ]);
    let r = app
        .post(&format!("{domain}/verify"), &ada.access, json!({}))
        .await;
    let d = &r.ok(200)["custom_domain"];
    assert_eq!(d["verified"], true);
    assert!(d["verified_at"].is_string());
    assert!(
        app.logged(
            &ada.account_id,
            &format!("user:{}", ada.id),
            "branding.domain_verified",
            &ada.account_id
        )
        .await
    );

    // Bea's unproven claim ended; the domain is Ada's now.
    let r = app
        .get(
            &format!("/v1/accounts/{}/branding", bea.account_id),
            &bea.access,
        )
        .await;
    assert!(r.ok(200).get("custom_domain").is_none(), "{}", r.body);
    app.call(
        "PUT",
        &bea_domain,
        Some(&bea.access),
        Some(json!({"domain": "backups.acme.example"})),
    )
    .await
    .error(409, "domain_taken");

    // Invitations to the client account carry the agency's name and open its domain.
    app.post(
        &format!("/v1/accounts/{client}/invitations"),
        &ada.access,
        json!({"email": "carl@client.example", "role": "viewer"}),
    )
    .await
    .ok(201);
    let m = smtp.wait_for("carl@client.example", "Acme Backups").await;
    assert!(m.from.contains("Acme Backups"), "{m:?}");
    assert!(
        m.body
            .contains("https://backups.acme.example/accept-invitation?token=lbi_"),
        "{}",
        m.body
    );

    // Removing the domain: links go back to the application's address.
    app.delete(&domain, &ada.access).await.ok(204);
    let r = app.get(&branding, &ada.access).await;
    assert!(r.ok(200).get("custom_domain").is_none(), "{}", r.body);
    app.call(
        "PUT",
        &bea_domain,
        Some(&bea.access),
        Some(json!({"domain": "backups.acme.example"})),
    )
    .await
    .ok(200);
    app.shutdown().await;
}
