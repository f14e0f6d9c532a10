//! The `$filter` index against the scan: on a generated tenant of a few thousand users whose
//! addresses collide (shared mails, otherMails and proxy addresses, in mixed case, also on
//! groups and contacts), every indexed query must answer exactly what the scan answers
//! (same objects, same order, same pages, same `@odata.count`), before and after writes and
//! after a reset. The scan's answer is forced by adding an `or` clause the index can't serve
//! and no object matches.

use graph_emulator::{SimulationOverrides, Tenant};

use super::*;

const USERS: usize = 3_000;

fn tenant() -> Value {
    let mut t = demo_json();
    let users = t["users"].as_array_mut().unwrap();
    for i in 0..USERS {
        let upn = format!("u{i}@contoso.com");
        let mut user = json!({
            "id": format!("c0000000-0000-4000-8000-{i:012}"),
            "displayName": format!("Generated {i}"),
            "userPrincipalName": upn,
            "userType": "Member",
            "accountEnabled": i % 7 != 0,
        });
        let mail = match i % 4 {
            0 if i % 8 == 0 => Some(format!("SHARED{}@Fabrikam.com", i % 50)),
            0 => Some(format!("shared{}@fabrikam.com", i % 50)),
            // Another user's UPN as this one's mail.
            1 if i % 3 == 0 => Some(format!("U{}@Contoso.com", i + 1)),
            2 if i % 13 == 0 => None,
            _ => Some(upn.clone()),
        };
        if let Some(mail) = &mail {
            user["mail"] = json!(mail);
        }
        if i % 5 == 0 {
            user["otherMails"] = json!([
                format!("Shared{}@FABRIKAM.com", (i * 7) % 50),
                format!("u{}@contoso.com", i + 2)
            ]);
        }
        if i % 3 == 0 {
            let mut proxies = vec![format!("smtp:shared{}@fabrikam.com", i % 31)];
            if let Some(mail) = &mail {
                proxies.insert(0, format!("SMTP:{mail}"));
            }
            user["proxyAddresses"] = json!(proxies);
        }
        users.push(user);
    }
    for k in 0..20 {
        t["groups"].as_array_mut().unwrap().push(json!({
            "id": format!("e1000000-0000-4000-8000-{k:012}"),
            "displayName": format!("Group {k}"),
            "mail": format!("Shared{}@fabrikam.com", k % 10),
            "proxyAddresses": [format!("SMTP:shared{}@fabrikam.com", k % 10), format!("smtp:u{k}@contoso.com")],
        }));
        t["orgContacts"].as_array_mut().unwrap().push(json!({
            "id": format!("f1000000-0000-4000-8000-{k:012}"),
            "displayName": format!("Contact {k}"),
            "mail": format!("shared{}@FABRIKAM.com", k % 7),
            "proxyAddresses": [format!("SMTP:shared{}@fabrikam.com", k % 7)],
        }));
    }
    t
}

async fn start() -> Emulator {
    let tenant = Tenant::from_json(&tenant().to_string(), "generated").unwrap();
    let overrides = SimulationOverrides {
        no_throttle: true,
        ..SimulationOverrides::default()
    };
    Emulator::with_overrides(tenant, overrides).await
}

fn encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// Every id a query returns, page by page (`$top=25`), and its `@odata.count`.
async fn walk(emu: &Emulator, token: &str, set: &str, filter: &str) -> (Vec<String>, Value) {
    let first = format!(
        "v1.0/{set}?$filter={}&$top=25&$count=true&$select=id",
        encode(filter)
    );
    let mut next = Some(first);
    let (mut all, mut count) = (Vec::new(), Value::Null);
    while let Some(path) = next {
        let a = emu.get_eventual(&path, token).await;
        assert_eq!(a.status, 200, "{filter}: {}", a.text);
        if count.is_null() {
            count = a.json["@odata.count"].clone();
        }
        all.extend(ids(&a));
        next = a.json["@odata.nextLink"]
            .as_str()
            .map(|l| l.strip_prefix(&emu.root).unwrap().to_owned());
    }
    (all, count)
}

/// Asserts the indexed answer equals the scan's; the number of objects found.
async fn same_as_scan(emu: &Emulator, token: &str, set: &str, filter: &str) -> usize {
    let indexed = walk(emu, token, set, filter).await;
    let scan_filter = format!("({filter}) or displayName eq 'no object has this name'");
    let scanned = walk(emu, token, set, &scan_filter).await;
    assert_eq!(indexed, scanned, "{set}: {filter}");
    assert_eq!(indexed.1, json!(indexed.0.len()), "{set}: {filter}");
    indexed.0.len()
}

/// The filters b2b-convert sends (and their parts) for each probe address; the total
/// number of objects they found.
async fn compare_all(emu: &Emulator, token: &str, probes: &[&str]) -> usize {
    let mut found = 0;
    for a in probes {
        for filter in [
            format!("mail eq '{a}'"),
            format!("userPrincipalName eq '{a}'"),
            format!("proxyAddresses/any(p:p eq 'smtp:{a}')"),
            format!("proxyAddresses/any(p:p eq 'SMTP:{a}' or p eq 'smtp:{a}')"),
            format!("otherMails/any(p:p eq '{a}')"),
            format!(
                "userPrincipalName eq '{a}' or mail eq '{a}' or proxyAddresses/any(p:p eq 'smtp:{a}') or otherMails/any(p:p eq '{a}')"
            ),
            format!("mail in ('{a}', 'u5@contoso.com') and accountEnabled eq true"),
        ] {
            found += same_as_scan(emu, token, "users", &filter).await;
        }
        for set in ["groups", "contacts"] {
            let filter = format!("mail eq '{a}' or proxyAddresses/any(p:p eq 'smtp:{a}')");
            found += same_as_scan(emu, token, set, &filter).await;
        }
    }
    found
}

/// What the 4-way OR must find, computed here from the state document, independently of
/// the emulator's evaluator: ids in directory order.
async fn reference(emu: &Emulator, address: &str) -> Vec<String> {
    let a = address.to_lowercase();
    let state = emu.state().await;
    let eq = |v: &Value| v.as_str().is_some_and(|s| s.to_lowercase() == a);
    let proxy = |v: &Value| {
        v.as_str()
            .is_some_and(|s| s.to_lowercase() == format!("smtp:{a}"))
    };
    let any = |v: &Value, f: &dyn Fn(&Value) -> bool| v.as_array().is_some_and(|x| x.iter().any(f));
    state["users"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| {
            eq(&u["userPrincipalName"])
                || eq(&u["mail"])
                || any(&u["proxyAddresses"], &proxy)
                || any(&u["otherMails"], &eq)
        })
        .map(|u| u["id"].as_str().unwrap().to_owned())
        .collect()
}

const PROBES: &[&str] = &[
    "shared0@fabrikam.com",
    "SHARED8@FABRIKAM.COM",
    "Shared21@Fabrikam.com",
    "shared49@fabrikam.com",
    "u9@contoso.com",
    "U1234@CONTOSO.COM",
    "u2998@contoso.com",
    "nobody@nowhere.com",
];

#[tokio::test]
async fn indexed_filters_answer_exactly_what_the_scan_answers_before_and_after_writes() {
    let emu = start().await;
    let token = emu.demo_token().await;
    assert!(compare_all(&emu, &token, PROBES).await > 500);
    for probe in ["Shared8@fabrikam.com", "u1234@contoso.com"] {
        let f = format!(
            "userPrincipalName eq '{probe}' or mail eq '{probe}' or proxyAddresses/any(p:p eq 'smtp:{probe}') or otherMails/any(p:p eq '{probe}')"
        );
        let expected = reference(&emu, probe).await;
        assert!(expected.len() > 1, "{probe} should collide");
        assert_eq!(walk(&emu, &token, "users", &f).await.0, expected, "{probe}");
    }

    // Writes that move addresses: a new mail (proxyAddresses are rewritten with it), new
    // otherMails, a new guest by invitation, and a conversion invitation.
    let id = |i: usize| format!("c0000000-0000-4000-8000-{i:012}");
    patched(
        &emu,
        &token,
        &id(12),
        json!({"mail": "Moved12@Fabrikam.com"}),
    )
    .await;
    patched(
        &emu,
        &token,
        &id(11),
        json!({"otherMails": ["shared0@FABRIKAM.com", "Extra11@outlook.com"]}),
    )
    .await;
    let guest = invited(
        &emu,
        &token,
        json!({"invitedUserEmailAddress": "New.Guest@Outlook.com",
               "inviteRedirectUrl": "https://myapps.microsoft.com"}),
    )
    .await;
    patched(&emu, &token, &id(2), json!({"mail": "partner2@adatum.com"})).await;
    invited(&emu, &token, conversion(&id(2), "partner2@adatum.com")).await;

    let after: Vec<&str> = PROBES
        .iter()
        .copied()
        .chain([
            "moved12@fabrikam.com",
            "SHARED12@fabrikam.com",
            "extra11@OUTLOOK.com",
            "new.guest@outlook.com",
            "Partner2@Adatum.com",
            "u2@contoso.com",
        ])
        .collect();
    compare_all(&emu, &token, &after).await;
    let found = |f: &'static str| users_matching(&emu, &token, f);
    let finds = |f: &'static str, i: usize| {
        let user = id(i);
        let matching = found(f);
        async move { matching.await.contains(&user) }
    };
    assert_eq!(found("mail eq 'MOVED12@fabrikam.com'").await, vec![id(12)]);
    // User 12's old primary address stays, demoted to an alias.
    assert!(
        finds(
            "proxyAddresses/any(p:p eq 'smtp:shared12@fabrikam.com')",
            12
        )
        .await
    );
    assert!(!finds("mail eq 'shared12@fabrikam.com'", 12).await);
    assert!(finds("otherMails/any(p:p eq 'Shared0@fabrikam.com')", 11).await);
    assert_eq!(
        found("mail eq 'new.guest@outlook.com' or otherMails/any(p:p eq 'NEW.GUEST@outlook.com')")
            .await,
        vec![guest]
    );
    let a = emu
        .get("v1.0/users/U1234@Contoso.COM?$select=id", &token)
        .await;
    assert_eq!(a.json["id"], json!(id(1234)));

    // A reset brings back the tenant file, indexes included.
    let a = emu.send("POST", "_emulator/reset", None, &[], None).await;
    assert_eq!(a.status, 204);
    compare_all(&emu, &token, &after).await;
    assert!(found("mail eq 'moved12@fabrikam.com'").await.is_empty());
    assert!(found("mail eq 'new.guest@outlook.com'").await.is_empty());
    assert!(finds("mail eq 'shared12@fabrikam.com'", 12).await);
    assert!(!finds("otherMails/any(p:p eq 'shared0@fabrikam.com')", 11).await);
}

/// The ids of the users a filter matches, every page.
async fn users_matching(emu: &Emulator, token: &str, filter: &str) -> Vec<String> {
    walk(emu, token, "users", filter).await.0
}

/// PATCHes a user, asserting Graph's 204.
async fn patched(emu: &Emulator, token: &str, id: &str, body: Value) {
    let a = emu.patch(&format!("v1.0/users/{id}"), token, body).await;
    assert_eq!(a.status, 204, "{}", a.text);
}

/// Sends an invitation, asserting Graph's 201; the invited user's id.
async fn invited(emu: &Emulator, token: &str, body: Value) -> String {
    let a = emu.post("v1.0/invitations", token, body).await;
    assert_eq!(a.status, 201, "{}", a.text);
    a.json["invitedUser"]["id"].as_str().unwrap().to_owned()
}
