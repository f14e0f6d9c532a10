//! What a selection from the tenant found, in the words `plan` says it before the plan:
//! how many users, who got no address and why, and what a group held besides users.

use b2b_convert_core::selection::{EmailRule, Selection, Source};

/// Unmapped users listed by name; the rest are counted (the file never holds them).
const LISTED: usize = 20;

/// The notes for `selection`, one line each.
pub fn selection_notes(source: &Source, rule: &EmailRule, selection: &Selection) -> Vec<String> {
    let mut lines = vec![format!(
        "Selected {} {} ({source}); {} got an address from {rule}.",
        selection.selected(),
        users(selection.selected()),
        selection.mapped.len(),
    )];
    if !selection.nested_groups.is_empty() {
        lines.push(format!(
            "Not followed: {} nested {} ({}); select {} with --select-group to include {} members.",
            selection.nested_groups.len(),
            if selection.nested_groups.len() == 1 {
                "group"
            } else {
                "groups"
            },
            selection.nested_groups.join(", "),
            if selection.nested_groups.len() == 1 {
                "it"
            } else {
                "each"
            },
            if selection.nested_groups.len() == 1 {
                "its"
            } else {
                "their"
            },
        ));
    }
    if !selection.other_members.is_empty() {
        let others: Vec<String> = selection
            .other_members
            .iter()
            .map(|(kind, n)| format!("{n} {kind}"))
            .collect();
        lines.push(format!("Left out (not users): {}.", others.join(", ")));
    }
    if !selection.unmapped.is_empty() {
        lines.push(format!(
            "{} {} got no address and {} not in the selection:",
            selection.unmapped.len(),
            users(selection.unmapped.len()),
            if selection.unmapped.len() == 1 {
                "is"
            } else {
                "are"
            },
        ));
        for unmapped in selection.unmapped.iter().take(LISTED) {
            let name = unmapped
                .display_name
                .as_deref()
                .map(|n| format!(" ({n})"))
                .unwrap_or_default();
            lines.push(format!("  {}{name} {}", unmapped.user, unmapped.reason));
        }
        if selection.unmapped.len() > LISTED {
            lines.push(format!(
                "  … and {} more",
                selection.unmapped.len() - LISTED
            ));
        }
    }
    lines
}

fn users(n: usize) -> &'static str {
    if n == 1 { "user" } else { "users" }
}

#[cfg(test)]
mod tests {
    use super::*;
    use b2b_convert_core::selection::{Mapped, Template, Unmapped};

    #[test]
    fn says_counts_nested_groups_and_who_got_no_address() {
        let selection = Selection {
            mapped: vec![Mapped {
                user: "ann@contoso.com".into(),
                display_name: None,
                external_email: "ann@fabrikam.com".into(),
            }],
            unmapped: (0..22)
                .map(|i| Unmapped {
                    user: format!("u{i}@contoso.com"),
                    display_name: (i == 0).then(|| "Uno".to_owned()),
                    reason: "has no givenName".into(),
                })
                .collect(),
            nested_groups: vec!["Contractors".into()],
            other_members: [("orgContact".to_owned(), 2)].into(),
        };
        let rule = EmailRule::Template(Template::parse("{givenName}@fabrikam.com").unwrap());
        let lines = selection_notes(&Source::Group("Fabrikam".into()), &rule, &selection);
        assert_eq!(
            lines[0],
            "Selected 23 users (the members of group `Fabrikam`); 1 got an address from `{givenName}@fabrikam.com`."
        );
        assert_eq!(
            lines[1],
            "Not followed: 1 nested group (Contractors); select it with --select-group to include its members."
        );
        assert_eq!(lines[2], "Left out (not users): 2 orgContact.");
        assert_eq!(
            lines[3],
            "22 users got no address and are not in the selection:"
        );
        assert_eq!(lines[4], "  u0@contoso.com (Uno) has no givenName");
        assert_eq!(lines.last().unwrap(), "  … and 2 more");
    }
}
