//! Messages as the page shows them. The planner and the executor write sentences with
//! markdown-style backticks around values (`` `ghost@contoso.com` ``); the page shows
//! those values as `<code>` and never a literal backtick. The text is only split here:
//! the template prints every piece through askama's escaping, so a backtick can change
//! how a value looks but never what markup the page holds.
//!
//! A long message is clipped to a summary a reader can open for the full text (a
//! `<details>` in the page), so one verbose row can't fill the screen.

/// A run of text, shown as code or as plain text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Piece {
    /// Whether the text was between backticks.
    pub code: bool,
    /// The text, without backticks.
    pub text: String,
}

/// A message split into pieces, with a clipped version when it is long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Rich {
    /// The whole message.
    pub pieces: Vec<Piece>,
    /// The start of it, ending in `…`, when the whole is longer than the limit.
    pub short: Option<Vec<Piece>>,
}

impl Rich {
    /// The whole message, never clipped (short texts the page itself wrote).
    pub fn new(text: &str) -> Rich {
        Rich {
            pieces: pieces(text),
            short: None,
        }
    }

    /// The message, with a clipped summary when it has more than `limit` characters.
    pub fn clipped(text: &str, limit: usize) -> Rich {
        let pieces = pieces(text);
        let short = clip(&pieces, limit);
        Rich { pieces, short }
    }

    /// The text as a reader sees it: what a search in the page matches.
    #[cfg(test)]
    pub fn plain(&self) -> String {
        self.pieces.iter().map(|p| p.text.as_str()).collect()
    }
}

/// Splits at backticks: odd pieces are code. A backtick without its closing one is
/// dropped and the rest stays plain text, so no backtick ever reaches the page.
fn pieces(text: &str) -> Vec<Piece> {
    let parts: Vec<&str> = text.split('`').collect();
    let balanced = parts.len() % 2 == 1;
    let mut out: Vec<Piece> = Vec::new();
    for (index, part) in parts.iter().enumerate() {
        let unmatched = !balanced && index + 1 == parts.len();
        let code = index % 2 == 1 && !unmatched;
        if part.is_empty() {
            continue;
        }
        match out.last_mut() {
            Some(last) if !last.code && !code => last.text.push_str(part),
            _ => out.push(Piece {
                code,
                text: (*part).to_owned(),
            }),
        }
    }
    out
}

/// The first `limit` characters (back to a space when one is near), then `…`; `None`
/// when the whole fits.
fn clip(pieces: &[Piece], limit: usize) -> Option<Vec<Piece>> {
    let total: usize = pieces.iter().map(|p| p.text.chars().count()).sum();
    if total <= limit {
        return None;
    }
    let mut left = limit;
    let mut out = Vec::new();
    for piece in pieces {
        let n = piece.text.chars().count();
        if n <= left {
            out.push(piece.clone());
            left -= n;
            continue;
        }
        let cut: String = piece.text.chars().take(left).collect();
        // A word cut in half reads worse than a slightly shorter summary.
        let cut = match cut.rfind(char::is_whitespace) {
            Some(at) if cut.len() - at < 24 => cut[..at].to_owned(),
            _ => cut,
        };
        let cut = cut.trim_end();
        if !cut.is_empty() {
            out.push(Piece {
                code: piece.code,
                text: cut.to_owned(),
            });
        }
        break;
    }
    out.push(Piece {
        code: false,
        text: "…".to_owned(),
    });
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(pieces: &[Piece]) -> String {
        pieces
            .iter()
            .map(|p| {
                if p.code {
                    format!("[{}]", p.text)
                } else {
                    p.text.clone()
                }
            })
            .collect()
    }

    #[test]
    fn backticks_become_code_and_never_stay() {
        let rich = Rich::new("No user has the mail `ghost@contoso.com`. Check it.");
        assert_eq!(
            shown(&rich.pieces),
            "No user has the mail [ghost@contoso.com]. Check it."
        );
        assert_eq!(shown(&Rich::new("`a` and `b`").pieces), "[a] and [b]");
        assert_eq!(shown(&Rich::new("``").pieces), "");
        // An unmatched backtick is dropped, its text kept plain.
        assert_eq!(shown(&Rich::new("x `a` y `z").pieces), "x [a] y z");
        assert_eq!(shown(&Rich::new("`").pieces), "");
        assert_eq!(Rich::new("x `a` y `z").plain(), "x a y z");
        assert!(Rich::new("no marks").short.is_none());
    }

    #[test]
    fn long_messages_are_clipped_at_a_space_with_the_whole_kept() {
        let text = format!(
            "The address `{}` is held by someone else entirely.",
            "a".repeat(10)
        );
        let rich = Rich::clipped(&text, 30);
        assert_eq!(rich.plain(), text.replace('`', ""));
        let short = rich.short.expect("clipped");
        assert_eq!(shown(&short), "The address [aaaaaaaaaa] is…");
        assert!(Rich::clipped("short", 30).short.is_none());

        // No space near the cut: cut mid-word rather than lose the whole piece.
        let long = "x".repeat(100);
        let short = Rich::clipped(&long, 10).short.expect("clipped");
        assert_eq!(shown(&short), "xxxxxxxxxx…");
        // Characters, not bytes.
        let short = Rich::clipped(&"é".repeat(20), 5).short.expect("clipped");
        assert_eq!(shown(&short), "ééééé…");
    }
}
