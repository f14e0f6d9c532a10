//! The directory endpoints end to end: raw HTTP with a real token, Graph's status and error
//! code, and the resulting tenant state read back from `/_emulator/state`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

use serde_json::{Value, json};

use crate::support::*;

mod admin;
mod batch;
mod filter_index;
mod invitations;
mod patch;
mod reads;
mod redemption;
mod roles;

pub fn ids(answer: &Answer) -> Vec<String> {
    answer.json["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap().to_owned())
        .collect()
}

pub fn big_tenant(n: usize) -> Value {
    let mut t = demo_json();
    let users = t["users"].as_array_mut().unwrap();
    for i in 0..n {
        users.push(json!({
            "id": format!("b0000000-0000-4000-8000-{i:012}"),
            "displayName": format!("Bulk {i}"),
            "userPrincipalName": format!("bulk{i}@contoso.com"),
            "mail": format!("bulk{i}@contoso.com"),
            "userType": "Member",
            "accountEnabled": true
        }));
    }
    t
}

// ---------------------------------------------------------------- reads
