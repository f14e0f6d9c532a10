//! The input an admin already has, end to end: the Entra admin center's bulk-invite
//! template (with the column it lacks for the account to convert) and a
//! semicolon-separated export with other names for the columns. Each is planned, applied
//! on the demo tenant, and the invitations Graph received are checked against the file:
//! address, email or not, cc and language as the emulator recorded them, and the redirect
//! URL as the partner lands on it after accepting.

use serde_json::Value;

use crate::support::{
    DEMO_TENANT_ID, TestTenant, demo_user, find_user, invitation, invited_user_ids, stderr, stdout,
    writes,
};

/// Where the rows that name one send their partners.
const PARTNER_SITE: &str = "https://contoso.sharepoint.com/sites/partners";

/// Microsoft's template (graph-facts §9) as a spreadsheet saves it: a byte order mark,
/// the version row padded with separators, CRLF, the older `[inviteeName]` column, and
/// the `[user]` column added. Franz and Emily convert; Grace holds a directory role.
fn bulk_invite_file() -> String {
    [
        "\u{feff}version:v1.0,,,,,",
        "Name of invitee [inviteeName],Email address to invite [inviteeEmail] Required,\
         Redirection url [inviteRedirectURL] Required,\
         Send invitation message (true or false) [sendEmail],\
         Customized invitation message [customizedMessageBody],User to convert [user] Required",
        &format!(
            "Franz Kohl,franz@fabrikam.com,{PARTNER_SITE},TRUE,\"Welcome, Franz\",franz.kohl@contoso.com"
        ),
        &format!("Emily Braun,emily@wingtiptoys.com,,false,,{}", demo_user(5)),
        "Grace Taylor,grace@northwind.com,,,,grace.taylor@contoso.com",
        "",
    ]
    .join("\r\n")
}

/// A European Excel export: semicolons, other names for every column, a comma inside
/// an unquoted message. Adele and Ben convert; Nestor's address is on a verified domain.
fn semicolon_file() -> String {
    [
        "UserPrincipalName;InvitedUserEmailAddress;SendInvitationMessage;\
         CustomizedMessageBody;MessageLanguage;CcRecipient;InviteRedirectUrl",
        &format!(
            "adele.vance@contoso.com;adele@fabrikam.com;true;Willkommen, Adele!;de-DE;\
             einkauf@fabrikam.com;{PARTNER_SITE}"
        ),
        &format!("{};ben.walters@northwind.com;false;;;;", demo_user(2)),
        "nestor.wilke@contoso.com;nestor@contoso.com;;;;;",
        "",
    ]
    .join("\n")
}

/// `plan --output json` on `input`, as the array of entries.
fn plan(tenant: &TestTenant, input: &str) -> Vec<Value> {
    tenant.write("users.csv", input);
    let output = tenant
        .cmd(&["plan", "--input", "users.csv", "--output", "json"])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    serde_json::from_str(&stdout(&output)).expect("a JSON array")
}

/// (row, decision, reason codes) of each entry.
fn decisions(plan: &[Value]) -> Vec<(u64, String, Vec<String>)> {
    plan.iter()
        .map(|entry| {
            (
                entry["row"].as_u64().unwrap_or_default(),
                entry["decision"].as_str().unwrap_or_default().to_owned(),
                entry["reasons"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|r| r["code"].as_str().map(str::to_owned))
                    .collect(),
            )
        })
        .collect()
}

/// The invitation the plan will send for the entry of `row`.
fn invite(plan: &[Value], row: u64) -> Value {
    let entry = plan
        .iter()
        .find(|e| e["row"] == row)
        .unwrap_or_else(|| panic!("no row {row}"));
    entry["actions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|a| a["action"] == "invite")
        .cloned()
        .unwrap_or_else(|| panic!("row {row} sends no invitation: {entry:#}"))
}

/// The run's redirect URL for rows that give none.
fn default_redirect() -> String {
    format!("https://myapps.microsoft.com/?tenantid={DEMO_TENANT_ID}")
}

/// The invitation emails the emulator sent to `user_id` (not one-time passcodes).
fn emails(state: &Value, user_id: &str) -> Vec<Value> {
    state["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["userId"] == user_id && m["kind"] != "oneTimePasscode")
        .cloned()
        .collect()
}

/// Accepts the invitation of `user_id` as the partner would and returns where the last
/// page's Continue link leads: the invitation's `inviteRedirectUrl`.
fn accept_and_continue(tenant: &TestTenant, user_id: &str) -> String {
    let page = tenant.redeem(user_id);
    let (_, link) = page
        .split_once("id=\"continue\" href=\"")
        .unwrap_or_else(|| panic!("a Continue link: {page}"));
    link.split('"').next().unwrap_or_default().to_owned()
}

#[test]
fn a_bulk_invite_template_is_planned_and_applied() {
    let tenant = TestTenant::demo();
    let input = bulk_invite_file();
    let plan = plan(&tenant, &input);
    assert_eq!(
        decisions(&plan),
        [
            (3, "convert".into(), vec![]),
            (4, "convert".into(), vec![]),
            (5, "blocked".into(), vec!["privileged_role".into()]),
        ],
        "rows are the file's physical lines, below the version row and header"
    );
    let franz = invite(&plan, 3);
    assert_eq!(franz["redirectUrl"], PARTNER_SITE);
    assert_eq!(franz["sendEmail"], true);
    assert_eq!(franz["message"], "Welcome, Franz");
    let emily = invite(&plan, 4);
    assert_eq!(emily["redirectUrl"], default_redirect().as_str());
    assert_eq!(emily["sendEmail"], false);
    assert!(emily.get("message").is_none(), "{emily}");
    assert!(writes(&tenant.state()).is_empty(), "plan writes nothing");

    let before = tenant.state();
    let output = tenant.apply(&input, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let state = tenant.state();
    let (franz_id, emily_id, grace_id) = (demo_user(6), demo_user(5), demo_user(7));
    let mut invited = invited_user_ids(&state);
    invited.sort();
    assert_eq!(invited, [emily_id.clone(), franz_id.clone()]);
    for (id, address, email) in [
        (&franz_id, "franz@fabrikam.com", true),
        (&emily_id, "emily@wingtiptoys.com", false),
    ] {
        let user = find_user(&state, id);
        assert_eq!(user["mail"], address, "{user:#}");
        assert_eq!(user["externalUserState"], "PendingAcceptance", "{user:#}");
        let sent = invitation(&state, id);
        assert_eq!(sent["invitedUserEmailAddress"], address, "{sent:#}");
        assert_eq!(sent["sendInvitationMessage"], email, "{sent:#}");
        assert_eq!(emails(&state, id).len(), usize::from(email), "{id}");
    }
    assert_eq!(
        find_user(&state, &grace_id),
        find_user(&before, &grace_id),
        "the blocked row is untouched"
    );
    assert_eq!(emails(&state, &franz_id)[0]["to"], "franz@fabrikam.com");
    assert_eq!(accept_and_continue(&tenant, &franz_id), PARTNER_SITE);
    assert_eq!(accept_and_continue(&tenant, &emily_id), default_redirect());
    assert_eq!(
        find_user(&tenant.state(), &franz_id)["externalUserState"],
        "Accepted"
    );
}

#[test]
fn a_semicolon_export_with_other_column_names_is_planned_and_applied() {
    let tenant = TestTenant::demo();
    let input = semicolon_file();
    let plan = plan(&tenant, &input);
    assert_eq!(
        decisions(&plan),
        [
            (2, "convert".into(), vec![]),
            (3, "convert".into(), vec![]),
            (
                4,
                "blocked".into(),
                vec!["external_domain_is_verified".into()]
            ),
        ]
    );
    let adele = invite(&plan, 2);
    assert_eq!(adele["redirectUrl"], PARTNER_SITE);
    assert_eq!(adele["sendEmail"], true);
    assert_eq!(adele["message"], "Willkommen, Adele!");
    assert_eq!(adele["language"], "de-DE");
    assert_eq!(adele["cc"], "einkauf@fabrikam.com");
    let ben = invite(&plan, 3);
    assert_eq!(ben["sendEmail"], false);
    assert_eq!(ben["redirectUrl"], default_redirect().as_str());

    let before = tenant.state();
    let output = tenant.apply(&input, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let state = tenant.state();
    let (adele_id, ben_id, nestor_id) = (demo_user(1), demo_user(2), demo_user(13));
    let mut invited = invited_user_ids(&state);
    invited.sort();
    assert_eq!(invited, [adele_id.clone(), ben_id.clone()]);

    let sent = invitation(&state, &adele_id);
    assert_eq!(sent["invitedUserEmailAddress"], "adele@fabrikam.com");
    assert_eq!(sent["sendInvitationMessage"], true);
    let mail = emails(&state, &adele_id);
    assert_eq!(mail.len(), 1, "{mail:#?}");
    assert_eq!(mail[0]["to"], "adele@fabrikam.com");
    assert_eq!(mail[0]["cc"], serde_json::json!(["einkauf@fabrikam.com"]));
    assert_eq!(mail[0]["language"], "de-DE");

    let sent = invitation(&state, &ben_id);
    assert_eq!(sent["invitedUserEmailAddress"], "ben.walters@northwind.com");
    assert_eq!(sent["sendInvitationMessage"], false);
    assert!(emails(&state, &ben_id).is_empty(), "no email for Ben");
    assert_eq!(
        find_user(&state, &ben_id)["mail"],
        "ben.walters@northwind.com"
    );
    assert_eq!(
        find_user(&state, &nestor_id),
        find_user(&before, &nestor_id),
        "the blocked row is untouched"
    );
    assert_eq!(accept_and_continue(&tenant, &adele_id), PARTNER_SITE);
}

/// Runs `plan` on `input` and expects it refused before Graph is asked anything; its
/// message.
fn refused(input: &str) -> String {
    let tenant = TestTenant::demo();
    tenant.write("users.csv", input);
    let output = tenant
        .cmd(&["plan", "--input", "users.csv"])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert_eq!(
        tenant.state()["requests"].as_array().map(Vec::len),
        Some(0),
        "nothing is read from Graph for a refused input"
    );
    let err = stderr(&output);
    assert_eq!(err.lines().count(), 1, "{err}");
    err
}

#[test]
fn a_bad_row_in_any_shape_is_refused_by_its_line_and_its_column_as_written() {
    let bulk = bulk_invite_file();
    let mut lines: Vec<&str> = bulk.split("\r\n").collect();
    // The template's examples row, left in.
    lines.insert(
        2,
        "Example: Lee Gu,Example: lstokes@fabrikam.com,https://myapplications.microsoft.com,TRUE,Welcome!,lee.gu@contoso.com",
    );
    let err = refused(&lines.join("\r\n"));
    assert!(
        err.contains(
            "users.csv: line 3, column `Email address to invite [inviteeEmail] Required`: \
             `Example: lstokes@fabrikam.com` is the bulk-invite template's examples row"
        ),
        "{err}"
    );

    let err = refused(&bulk.replace(",TRUE,", ",perhaps,"));
    assert!(
        err.contains(
            "users.csv: line 3, column `Send invitation message (true or false) [sendEmail]`: \
             `perhaps` is not true or false"
        ),
        "{err}"
    );

    let err = refused(&semicolon_file().replace("InvitedUserEmailAddress", "Email;PartnerEmail"));
    assert!(
        err.contains(
            "users.csv: line 1 (header): columns `Email` and `PartnerEmail` both give \
             `externalEmail`; keep one"
        ),
        "{err}"
    );

    let err = refused("sep=;\r\nUPN;Mail\r\nadele.vance@contoso.com;adele@fabrikam.com\r\n");
    assert!(
        err.contains("users.csv: line 2 (header): unknown column `Mail`: "),
        "{err}"
    );
}
