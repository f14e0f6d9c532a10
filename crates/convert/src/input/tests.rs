//! The reader's tests: our own CSV first (columns, limits, line numbers, streaming),
//! then the other shapes an admin's file may have (the bulk-invite template, aliases,
//! separators, the byte order mark and Excel's `sep=` line).

use sha2::{Digest, Sha256};

use super::*;

fn parse(text: &str) -> Result<Input, InputError> {
    parse_input(Path::new("users.csv"), text.as_bytes())
}

#[test]
fn reads_required_and_optional_columns() {
    let input = parse(
        "\u{feff}User, ExternalEmail ,sendEmail,cc,language,message,redirectUrl\n\
         adele@contoso.com,adele@fabrikam.com,no,boss@fabrikam.com,de-DE,\"Hello, Adele\",https://myapps.microsoft.com\n",
    )
    .unwrap();
    let row = &input.rows[0];
    assert_eq!(row.line, 2);
    assert_eq!(row.user, "adele@contoso.com");
    assert_eq!(row.send_email, Some(false));
    assert_eq!(row.cc.as_deref(), Some("boss@fabrikam.com"));
    assert_eq!(row.language.as_deref(), Some("de-DE"));
    assert_eq!(row.message.as_deref(), Some("Hello, Adele"));
    assert_eq!(input.sha256.len(), 64);
}

#[test]
fn line_numbers_count_quoted_line_breaks() {
    let input = parse("user,externalEmail,message\na@contoso.com,a@f.com,\"two\nlines\"\nb@contoso.com,b@f.com,\n").unwrap();
    assert_eq!(input.rows[1].line, 4);
}

#[test]
fn unknown_column_is_named() {
    let err = parse("user,externalEmail,sendEmial\na,b@c.com,no\n").unwrap_err();
    assert!(
        err.to_string().contains("unknown column `sendEmial`"),
        "{err}"
    );
    assert!(err.to_string().starts_with("users.csv: line 1"), "{err}");
}

#[test]
fn missing_required_column_is_named() {
    let err = parse("user\na\n").unwrap_err();
    assert!(
        err.to_string().contains("`externalEmail` is missing"),
        "{err}"
    );
}

#[test]
fn bad_cells_name_line_and_column() {
    let err = parse("user,externalEmail,sendEmail\na,b@c.com,yes\nx,y@z.com,maybe\n").unwrap_err();
    assert_eq!(
        err.to_string(),
        "users.csv: line 3, column `sendEmail`: `maybe` is not true or false"
    );
    let err = parse("user,externalEmail\n ,b@c.com\n").unwrap_err();
    assert!(err.to_string().contains("line 2, column `user`"), "{err}");
    let err = parse("user,externalEmail,cc\na,b@c.com,x@y.com;z@y.com\n").unwrap_err();
    assert!(err.to_string().contains("at most one cc"), "{err}");
    let err = parse("user,externalEmail,redirectUrl\na,b@c.com,http://evil.example\n").unwrap_err();
    assert!(err.to_string().contains("must be https"), "{err}");
}

#[test]
fn ragged_rows_and_empty_files_are_errors() {
    let err = parse("user,externalEmail\na,b@c.com,extra\n").unwrap_err();
    assert!(
        err.to_string()
            .contains("line 2: the row has 3 cells but the header has 2"),
        "{err}"
    );
    assert!(matches!(
        parse("user,externalEmail\n").unwrap_err(),
        InputError::Empty { .. }
    ));
}

#[test]
fn blank_lines_are_skipped() {
    let input = parse("user,externalEmail\na,b@c.com\n,\n").unwrap();
    assert_eq!(input.rows.len(), 1);
}

#[test]
fn invalid_utf8_is_reported_not_panicked() {
    let err = parse_input(Path::new("u.csv"), b"user,externalEmail\n\xff,b@c.com\n").unwrap_err();
    assert!(err.to_string().contains("line 2"), "{err}");
}

fn lines(text: &str) -> Vec<u64> {
    parse(text).unwrap().rows.iter().map(|r| r.line).collect()
}

#[test]
fn line_numbers_are_physical_lines_whatever_the_line_ends() {
    assert_eq!(lines("user,externalEmail\na,b@c.com\nd,e@f.com\n"), [2, 3]);
    assert_eq!(
        lines("user,externalEmail\r\na,b@c.com\r\nd,e@f.com\r\n"),
        [2, 3]
    );
    assert_eq!(lines("user,externalEmail\ra,b@c.com\rd,e@f.com"), [2, 3]);
    assert_eq!(
        lines("\u{feff}user,externalEmail\r\n\r\n\r\na,b@c.com\r\n\r\nd,e@f.com"),
        [4, 6],
        "blank lines count"
    );
    assert_eq!(
        lines("user,externalEmail,message\r\na,b@c.com,\"two\r\nlines\"\r\nd,e@f.com,\r\n"),
        [2, 4],
        "a quoted CRLF is one line"
    );
}

#[test]
fn crlf_errors_name_the_physical_line() {
    let err =
        parse("user,externalEmail,sendEmail\r\na,b@c.com,yes\r\nx,y@z.com,maybe\r\n").unwrap_err();
    assert!(err.to_string().starts_with("users.csv: line 3,"), "{err}");
    let err = parse("user,externalEmail\r\na,b@c.com\r\n\r\nx,y@z.com,extra\r\n").unwrap_err();
    assert!(
        err.to_string()
            .starts_with("users.csv: line 4: the row has 3 cells"),
        "{err}"
    );
}

#[test]
fn cells_over_their_limit_name_line_column_and_limit() {
    let row = |column: &str, value: &str| {
        parse(&format!(
            "user,externalEmail,{column}\na,b@c.com,ok\nu,x@y.com,\"{value}\"\n"
        ))
    };
    let at_limit = "u".repeat(MAX_USER_CHARS);
    assert!(parse(&format!("user,externalEmail\n{at_limit},b@c.com\n")).is_ok());
    let err = parse(&format!("user,externalEmail\nu{at_limit},b@c.com\n")).unwrap_err();
    assert!(
        err.to_string().contains("line 2, column `user`: `uuu"),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("has 321 characters, more than the 320"),
        "{err}"
    );
    let err = parse(&format!(
        "user,externalEmail\na,{}@fabrikam.com\n",
        "p".repeat(310)
    ))
    .unwrap_err();
    assert!(
        err.to_string().contains("column `externalEmail`: `ppp"),
        "{err}"
    );
    assert!(err.to_string().contains("RFC 5321"), "{err}");
    assert!(
        parse(&format!(
            "user,externalEmail,message\na,b@c.com,{}\n",
            "m".repeat(MAX_MESSAGE_CHARS)
        ))
        .is_ok()
    );
    let err = row("message", &"é".repeat(MAX_MESSAGE_CHARS + 1)).unwrap_err();
    assert!(
        err.to_string().contains("line 3, column `message`: `"),
        "{err}"
    );
    assert!(err.to_string().contains("2001 characters"), "{err}");
    let err = row("language", &"x".repeat(MAX_OTHER_BYTES + 1)).unwrap_err();
    assert!(
        err.to_string()
            .contains("2049 bytes, more than the 2048 bytes `language` may hold"),
        "{err}"
    );
}

#[test]
fn errors_quote_at_most_80_characters() {
    assert_eq!(quoted("short"), "short");
    assert_eq!(quoted("a\nb"), "a\\nb");
    let long = "x".repeat(500);
    assert_eq!(quoted(&long), format!("{}…", "x".repeat(80)));
    assert_eq!(quoted(&"x".repeat(80)), "x".repeat(80));
    // Escapes count: what fuzzing found made a 640-byte quote of 80 characters.
    let escaped = quoted(&"\u{13}".repeat(80));
    assert!(escaped.chars().count() <= 81, "{escaped}");
    assert!(escaped.ends_with("\\u{13}…"), "{escaped}");
    for text in [
        format!("user,externalEmail,{long}\na,b@c.com,1\n"),
        format!("user,externalEmail,sendEmail\na,b@c.com,{long}\n"),
        format!("user,externalEmail,language\na,b@c.com,{long}\n"),
        format!("user,externalEmail,cc\na,b@c.com,{long}@fabrikam.com\n"),
        format!("user,externalEmail,redirectUrl\na,b@c.com,ftp://{long}\n"),
        format!(
            "user,externalEmail,message\na,b@c.com,{}\n",
            "x".repeat(3000)
        ),
    ] {
        let err = parse(&text).unwrap_err().to_string();
        assert!(!err.contains(&"x".repeat(81)), "{err}");
        assert!(err.contains("x…"), "{err}");
    }
}

#[test]
fn a_runaway_cell_is_refused_with_a_short_message() {
    let huge = "m".repeat(10 << 20);
    let err = parse(&format!(
        "user,externalEmail,message\na,b@c.com,hi\nu,x@y.com,{huge}\n"
    ))
    .unwrap_err()
    .to_string();
    assert!(err.len() < 300, "{err}");
    assert!(
        err.starts_with("users.csv: line 3, column `message`: the cell is longer than 65536 bytes"),
        "{err}"
    );
    // A stray quote turns the rest of the file into one cell.
    let mut text = String::from("user,externalEmail\na,\"b@c.com\n");
    for i in 0..20_000 {
        text.push_str(&format!("user{i},p{i}@fabrikam.com\n"));
    }
    let err = parse(&text).unwrap_err().to_string();
    assert!(
        err.starts_with("users.csv: line 2, column `externalEmail`: the cell is longer"),
        "{err}"
    );
    let err = parse(&format!("user,externalEmail\na,b@c.com,{huge}\n"))
        .unwrap_err()
        .to_string();
    assert!(
        err.ends_with("line 2: the row has more cells than the header's 2"),
        "{err}"
    );
    let err = parse(&format!(
        "user,externalEmail\na,b@c.com{}\n",
        ",".repeat(1 << 20)
    ))
    .unwrap_err()
    .to_string();
    assert!(
        err.ends_with("line 2: the row is longer than 524288 bytes; no valid row is"),
        "{err}"
    );
    let err = parse(&format!("user,{huge}\n")).unwrap_err().to_string();
    assert!(
        err.ends_with("line 1 (header): column 2's name is longer than 65536 bytes"),
        "{err}"
    );
}

#[test]
fn an_earlier_bad_row_is_reported_before_a_runaway_one() {
    let err = parse(&format!(
        "user,externalEmail,sendEmail\na,b@c.com,maybe\nc,d@e.com,{}\n",
        "y".repeat(1 << 20)
    ))
    .unwrap_err();
    assert!(
        err.to_string()
            .ends_with("line 2, column `sendEmail`: `maybe` is not true or false"),
        "{err}"
    );
}

/// A file that never ends: `prefix`, then good rows forever; counts what it served.
struct Endless {
    prefix: Vec<u8>,
    served: std::rc::Rc<std::cell::Cell<usize>>,
}

impl Read for Endless {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let served = self.served.get();
        let row = b"user,partner@fabrikam.com\n";
        for (i, slot) in buf.iter_mut().enumerate() {
            let at = served + i;
            *slot = match self.prefix.get(at) {
                Some(&b) => b,
                None => row[(at - self.prefix.len()) % row.len()],
            };
        }
        self.served.set(served + buf.len());
        Ok(buf.len())
    }
}

#[test]
fn the_first_bad_row_stops_the_reading() {
    let served = std::rc::Rc::default();
    let source = Endless {
        prefix: b"user,externalEmail\na,b@c.com\n,x@y.com\n".to_vec(),
        served: std::rc::Rc::clone(&served),
    };
    let err = scan(Path::new("users.csv"), source, drop).unwrap_err();
    assert!(err.to_string().contains("line 3, column `user`"), "{err}");
    assert!(
        served.get() <= 2 * READ_BUFFER,
        "read {} bytes",
        served.get()
    );
}

#[test]
fn the_digest_is_of_the_bytes_as_they_are_and_both_passes_agree() {
    let text = "\u{feff}user,externalEmail\r\na,b@c.com\r\n";
    let expected: String = Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(parse(text).unwrap().sha256, expected);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("users.csv");
    std::fs::write(&path, text).unwrap();
    let input = read_input(&path).unwrap();
    assert_eq!(input.sha256, expected);
    assert_eq!(input.rows.len(), 1);
    assert_eq!(input.rows[0].line, 2);
}

#[test]
fn a_read_error_gives_its_cause_once() {
    let err = read_input(Path::new("/nonexistent/users.csv")).unwrap_err();
    assert!(std::error::Error::source(&err).is_none());
    assert!(
        err.to_string()
            .starts_with("/nonexistent/users.csv: cannot read the input file: "),
        "{err}"
    );
}

proptest::proptest! {
    #[test]
    fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..400)) {
        let _ = parse_input(Path::new("fuzz.csv"), &bytes);
    }
}

// ---- The other shapes of the file ----

/// Microsoft's bulk-invite template (graph-facts §9) with the one column it lacks.
const BULK_HEADER: &str = "Email address to invite [inviteeEmail] Required,\
    Redirection url [inviteRedirectURL] Required,\
    Send invitation message (true or false) [sendEmail],\
    Customized invitation message [customizedMessageBody],\
    User to convert [user] Required";

#[test]
fn reads_the_bulk_invite_template_with_a_user_column() {
    let input = parse(&format!(
        "version:v1.0,,,,\r\n{BULK_HEADER}\r\n\
         adele@fabrikam.com,https://myapps.microsoft.com/?tenantid=contoso,TRUE,\"Welcome, Adele\",adele.vance@contoso.com\r\n\
         ben@northwind.com,,false,,d0000000-0000-4000-8000-000000000002\r\n"
    ))
    .unwrap();
    assert_eq!(
        input.rows[0],
        InputRow {
            line: 3,
            user: "adele.vance@contoso.com".into(),
            external_email: "adele@fabrikam.com".into(),
            redirect_url: Some("https://myapps.microsoft.com/?tenantid=contoso".into()),
            send_email: Some(true),
            revoke_sessions: None,
            message: Some("Welcome, Adele".into()),
            cc: None,
            language: None,
        }
    );
    // The template marks the redirect URL required; empty, the run's default applies.
    assert_eq!(input.rows[1].line, 4);
    assert_eq!(input.rows[1].redirect_url, None);
    assert_eq!(input.rows[1].send_email, Some(false));
}

#[test]
fn the_bulk_invite_template_is_known_by_its_keys_not_its_words() {
    // Translated, reordered, `inviteeName` read past, a spreadsheet's BOM and padding.
    let input = parse(
        "\u{feff}version:v1.0;;;\n\
         Benutzer [user] Erforderlich;Name [inviteeName];E-Mail-Adresse [inviteeEmail] Erforderlich\n\
         franz.kohl@contoso.com;Franz Kohl;franz@fabrikam.com\n",
    )
    .unwrap();
    assert_eq!(input.rows[0].line, 3);
    assert_eq!(input.rows[0].user, "franz.kohl@contoso.com");
    assert_eq!(input.rows[0].external_email, "franz@fabrikam.com");
    // Without the version row, the bracketed keys alone make it the template.
    let input = parse(&format!("{BULK_HEADER}\na@f.com,,,,a@contoso.com\n")).unwrap();
    assert_eq!(input.rows[0].line, 2);
}

#[test]
fn the_bulk_invite_examples_row_is_refused_not_skipped() {
    let err = parse(&format!(
        "version:v1.0\n{BULK_HEADER}\n\
         Example: lstokes@fabrikam.com, https://myapplications.microsoft.com, TRUE, Welcome to the Contoso organization!,Example: lee@contoso.com\n\
         adele@fabrikam.com,,,,adele.vance@contoso.com\n"
    ))
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "users.csv: line 3, column `Email address to invite [inviteeEmail] Required`: \
         `Example: lstokes@fabrikam.com` is the bulk-invite template's examples row; delete \
         the row (Microsoft's upload requires that too)"
    );
    // An examples row without the prefix still lacks the account to convert.
    let err = parse(&format!(
        "version:v1.0\n{BULK_HEADER}\nexample@example.com,https://myapps.azure.com,,,\n"
    ))
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "users.csv: line 3, column `User to convert [user] Required`: empty; give an object id, UPN or mail"
    );
    // In our own format an address starting `Example:` is a planning matter, as any
    // malformed address is.
    assert!(parse("user,externalEmail\na,Example: b@c.com\n").is_ok());
}

#[test]
fn bulk_invite_errors_name_the_column_and_line_as_written() {
    let err = parse(&format!(
        "version:v1.0\r\n{BULK_HEADER}\r\na@f.com,,yes,,a@contoso.com\r\nb@f.com,,perhaps,,b@contoso.com\r\n"
    ))
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "users.csv: line 4, column `Send invitation message (true or false) [sendEmail]`: \
         `perhaps` is not true or false"
    );
    let err = parse(&format!(
        "version:v1.0\n{BULK_HEADER}\na@f.com,http://evil.example,,,a@contoso.com\n"
    ))
    .unwrap_err();
    assert!(
        err.to_string().starts_with(
            "users.csv: line 3, column `Redirection url [inviteRedirectURL] Required`: "
        ),
        "{err}"
    );
    let err = parse(&format!(
        "version:v1.0\n{BULK_HEADER}\na@f.com,,,\"{}\",a@contoso.com\n",
        "m".repeat(CELL_BOUND as usize + 1)
    ))
    .unwrap_err();
    assert!(
        err.to_string().starts_with(
            "users.csv: line 3, column `Customized invitation message [customizedMessageBody]`: \
             the cell is longer than 65536 bytes"
        ),
        "{err}"
    );
    // The header is named by its own line.
    let err = parse(
        "version:v1.0\nEmail address to invite [inviteeEmail] Required,Redirection url [inviteRedirectURL] Required\na,b\n",
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("users.csv: line 2 (header): the required column `user` is missing: "),
        "{err}"
    );
    let err = parse(&format!("version:v2.0\n{BULK_HEADER}\na@f.com,,,,a\n")).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("users.csv: line 1: the bulk-invite template is version `v2.0`"),
        "{err}"
    );
}

#[test]
fn aliases_in_a_semicolon_file() {
    let input = parse(
        "UserPrincipalName;InvitedUserEmailAddress;SendInvitationMessage;CustomizedMessageBody;MessageLanguage;CcRecipient;InviteRedirectUrl\n\
         franz.kohl@contoso.com;franz@fabrikam.com;ja;Hallo, Franz;de-DE;einkauf@fabrikam.com;https://myapps.microsoft.com\n",
    );
    // `ja` is not a flag: the error names the column as written.
    let err = input.unwrap_err();
    assert_eq!(
        err.to_string(),
        "users.csv: line 2, column `SendInvitationMessage`: `ja` is not true or false"
    );
    let input = parse(
        "user_principal_name;Partner Email;send_email;Message;Language;CC;RedirectUrl\n\
         franz.kohl@contoso.com;franz@fabrikam.com;true;Hallo, Franz;de-DE;einkauf@fabrikam.com;https://myapps.microsoft.com\n",
    )
    .unwrap();
    let row = &input.rows[0];
    assert_eq!(row.user, "franz.kohl@contoso.com");
    assert_eq!(row.external_email, "franz@fabrikam.com");
    assert_eq!(row.message.as_deref(), Some("Hallo, Franz"));
    assert_eq!(row.language.as_deref(), Some("de-DE"));
    assert_eq!(row.cc.as_deref(), Some("einkauf@fabrikam.com"));
    assert_eq!(
        row.redirect_url.as_deref(),
        Some("https://myapps.microsoft.com")
    );
    for header in [
        "ObjectId;Email",
        "Id;ExternalEmail",
        "UPN;email",
        "InternalUser;PartnerEmail",
    ] {
        let input = parse(&format!(
            "{header}\nd0000000-0000-4000-8000-000000000001;a@f.com\n"
        ))
        .unwrap_or_else(|e| panic!("{header}: {e}"));
        assert_eq!(input.rows[0].user, "d0000000-0000-4000-8000-000000000001");
    }
}

#[test]
fn two_columns_for_one_field_are_an_error_naming_both() {
    let err = parse("user,Email,ExternalEmail\na,b@c.com,d@e.com\n").unwrap_err();
    assert_eq!(
        err.to_string(),
        "users.csv: line 1 (header): columns `Email` and `ExternalEmail` both give \
         `externalEmail`; keep one"
    );
    let err = parse("sep=;\nUPN;ObjectId;Email\na;b;c@d.com\n").unwrap_err();
    assert_eq!(
        err.to_string(),
        "users.csv: line 2 (header): columns `UPN` and `ObjectId` both give `user`; keep one"
    );
    let err = parse("user,user,externalEmail\na,a,b@c.com\n").unwrap_err();
    assert!(
        err.to_string()
            .contains("columns `user` and `user` both give `user`"),
        "{err}"
    );
}

#[test]
fn mail_is_refused_as_ambiguous() {
    let err = parse("user,Mail\na,b@c.com\n").unwrap_err();
    assert!(
        err.to_string()
            .starts_with("users.csv: line 1 (header): unknown column `Mail`: `mail` could be"),
        "{err}"
    );
}

#[test]
fn tab_separated_files_are_read() {
    let input = parse(
        "user\texternalEmail\tmessage\r\na@contoso.com\ta@fabrikam.com\tHi, \"A\"; welcome\r\n\"b@contoso.com\"\tb@fabrikam.com\t\r\n",
    )
    .unwrap();
    assert_eq!(input.rows.len(), 2);
    assert_eq!(input.rows[0].message.as_deref(), Some("Hi, \"A\"; welcome"));
    assert_eq!(input.rows[1].user, "b@contoso.com");
    assert_eq!(input.rows[1].line, 3);
}

#[test]
fn excel_sep_line_and_byte_order_mark() {
    let input = parse(
        "\u{feff}sep=;\r\nuser;externalEmail;message\r\na@contoso.com;a@fabrikam.com;\"Hi,\r\nA\"\r\nb@contoso.com;b@fabrikam.com;\r\n",
    )
    .unwrap();
    assert_eq!(
        input.rows.iter().map(|r| r.line).collect::<Vec<_>>(),
        [3, 5]
    );
    assert_eq!(input.rows[0].message.as_deref(), Some("Hi,\r\nA"));
    // The `sep=` line wins over what the header would suggest.
    let err = parse("sep=;\nuser,externalEmail\na,b@c.com\n").unwrap_err();
    assert!(
        err.to_string()
            .starts_with("users.csv: line 2 (header): unknown column `user,externalEmail`"),
        "{err}"
    );
    let err = parse("sep=|\nuser|externalEmail\na|b@c.com\n").unwrap_err();
    assert_eq!(
        err.to_string(),
        "users.csv: line 1: `sep=|` names a separator b2b-convert does not read; use a comma, a \
         semicolon or a tab"
    );
    // A byte order mark before a quoted header cell with a line break in it (Alt+Enter
    // in Excel): the header spans two lines.
    let input = parse("\u{feff}\"User\r\nPrincipal Name\";Email\r\na;b@c.com\r\n").unwrap();
    assert_eq!(input.rows[0].line, 3);
}

#[test]
fn semicolon_files_keep_physical_lines_and_structural_errors() {
    let err = parse("user;externalEmail\r\na;b@c.com\r\n\r\nx;y@z.com;extra\r\n").unwrap_err();
    assert_eq!(
        err.to_string(),
        "users.csv: line 4: the row has 3 cells but the header has 2"
    );
    // A comma is content in a semicolon file; a runaway cell is still stopped.
    let err = parse(&format!(
        "UPN;Email\na;b@c.com\nc;\"{}\n",
        ",".repeat(1 << 20)
    ))
    .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("users.csv: line 3, column `Email`: the cell is longer than 65536 bytes"),
        "{err}"
    );
    // Blank rows, before the header too, are passed over.
    let input = parse(";;\n\nuser;externalEmail\n;\na;b@c.com\n ; \n").unwrap();
    assert_eq!(input.rows.len(), 1);
    assert_eq!(input.rows[0].line, 5);
    assert!(matches!(
        parse("sep=;\r\n").unwrap_err(),
        InputError::Empty { .. }
    ));
    assert!(matches!(
        parse("version:v1.0\r\n").unwrap_err(),
        InputError::Empty { .. }
    ));
}

#[test]
fn the_first_bad_row_stops_the_reading_in_every_shape() {
    for prefix in [
        "sep=;\r\nuser;externalEmail\r\na;b@c.com\r\n;x@y.com\r\n".to_owned(),
        format!("version:v1.0\r\n{BULK_HEADER}\r\nb@c.com,,,,a\r\nx@y.com,,,,\r\n"),
    ] {
        let served = std::rc::Rc::default();
        let source = Endless {
            prefix: prefix.into_bytes(),
            served: std::rc::Rc::clone(&served),
        };
        let err = scan(Path::new("users.csv"), source, drop).unwrap_err();
        assert!(err.to_string().contains("line 4, column `"), "{err}");
        assert!(
            served.get() <= 2 * READ_BUFFER,
            "read {} bytes",
            served.get()
        );
    }
}

#[test]
fn both_passes_of_a_bulk_invite_file_agree() {
    let text =
        format!("\u{feff}version:v1.0\r\n{BULK_HEADER}\r\na@fabrikam.com,,,,a@contoso.com\r\n");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bulk.csv");
    std::fs::write(&path, &text).unwrap();
    let input = read_input(&path).unwrap();
    assert_eq!(input.sha256, parse(&text).unwrap().sha256);
    assert_eq!(input.rows.len(), 1);
    assert_eq!(input.rows[0].line, 3);
}
