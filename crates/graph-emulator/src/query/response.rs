//! Graph's answers to reads: a query run over the stored objects (filter, count, page) and
//! each object projected to the properties Graph returns, with its `@odata` annotations.

use serde_json::{Map, Value};

use super::entity::EntitySet;
use super::options::QueryOptions;
use super::plan::candidates;
use super::support::check;
use crate::error::GraphError;
use crate::index::{Collection, Object};
use crate::schema::schema;

/// Runs a list query over `objects`: filter, count, page, project. `root` is the
/// emulator's root URL; the collection's URL is `{root}v1.0/{set.name}` (for
/// `@odata.context` and `@odata.nextLink`).
pub fn list(
    objects: &Collection,
    set: &EntitySet,
    opts: &QueryOptions,
    eventual: bool,
    root: &str,
) -> Result<Value, GraphError> {
    list_with(objects, set, opts, eventual, root, &|_, _| {})
}

/// [`list`], with `extend` adding to each projected object what it expands (`$expand`)
/// from the stored one.
pub fn list_with(
    objects: &Collection,
    set: &EntitySet,
    opts: &QueryOptions,
    eventual: bool,
    root: &str,
    extend: &dyn Fn(&Object, &mut Map<String, Value>),
) -> Result<Value, GraphError> {
    let advanced = eventual && opts.count;
    check_query(set, opts, advanced)?;
    let start = opts.start_position()?;
    let top = opts.top.unwrap_or(100);
    let candidates = plan(objects, opts);

    let mut page = Vec::with_capacity(top.min(objects.len()));
    let mut next = None;
    for (i, object) in matching(objects, opts, candidates.as_deref(), start) {
        if page.len() == top {
            next = Some(i);
            break;
        }
        let mut projected = project(object, set, opts.select.as_deref());
        extend(object, &mut projected);
        page.push(Value::Object(projected));
    }

    let mut out = Map::new();
    out.insert(
        "@odata.context".into(),
        Value::String(context(root, set.name, opts.select.as_deref(), false)),
    );
    let counted = if set.advanced_queries {
        advanced
    } else {
        opts.count
    };
    if counted && opts.skiptoken.is_none() {
        let n = matching(objects, opts, candidates.as_deref(), 0).count();
        out.insert("@odata.count".into(), Value::from(n));
    }
    if let Some(position) = next {
        let base = format!("{root}v1.0/{}", set.name);
        out.insert(
            "@odata.nextLink".into(),
            Value::String(opts.next_link(&base, position)),
        );
    }
    out.insert("value".into(), Value::Array(page));
    Ok(Value::Object(out))
}

/// One page of an already assembled list (a relationship such as `memberOf`): `$top`
/// (default 100) from the `$skiptoken` position on, `@odata.nextLink` to `url` while more
/// remain, `@odata.count` on the first page when `count`.
pub fn page_values(
    items: Vec<Value>,
    opts: &QueryOptions,
    url: &str,
    context: String,
    count: bool,
) -> Result<Value, GraphError> {
    let start = opts.start_position()?;
    let top = opts.top.unwrap_or(100);
    let total = items.len();
    let mut out = Map::new();
    out.insert("@odata.context".into(), Value::String(context));
    if count && opts.skiptoken.is_none() {
        out.insert("@odata.count".into(), Value::from(total));
    }
    if start + top < total {
        out.insert(
            "@odata.nextLink".into(),
            Value::String(opts.next_link(url, start + top)),
        );
    }
    let page: Vec<Value> = items.into_iter().skip(start).take(top).collect();
    out.insert("value".into(), Value::Array(page));
    Ok(Value::Object(out))
}

/// `GET /{set}/$count`: the number of matching objects (needs `ConsistencyLevel: eventual`).
pub fn count(
    objects: &Collection,
    set: &EntitySet,
    opts: &QueryOptions,
    eventual: bool,
) -> Result<usize, GraphError> {
    if !eventual {
        return Err(GraphError::bad_request(
            "$count is not currently supported.",
        ));
    }
    check_query(set, opts, true)?;
    let candidates = plan(objects, opts);
    Ok(matching(objects, opts, candidates.as_deref(), 0).count())
}

/// The positions the filter can match, when the index narrows them (see [`super::plan`]).
fn plan(objects: &Collection, opts: &QueryOptions) -> Option<Vec<usize>> {
    opts.filter
        .as_ref()
        .and_then(|f| candidates(f, objects.index()))
}

/// The objects from position `start` on that match the filter, with their positions, in
/// directory order: only the `candidates` when there are some, else every object. The
/// filter is evaluated either way, so both give the same answer.
fn matching<'a>(
    objects: &'a Collection,
    opts: &'a QueryOptions,
    candidates: Option<&'a [usize]>,
    start: usize,
) -> impl Iterator<Item = (usize, &'a Object)> + 'a {
    let every = candidates
        .is_none()
        .then(|| start..objects.len())
        .into_iter()
        .flatten();
    let some = candidates
        .into_iter()
        .flat_map(move |c| c[c.partition_point(|p| *p < start)..].iter().copied());
    every
        .chain(some)
        .filter_map(|i| objects.get(i).map(|o| (i, o)))
        .filter(|(_, o)| opts.filter.as_ref().is_none_or(|f| f.eval(o, None)))
}

fn check_query(set: &EntitySet, opts: &QueryOptions, advanced: bool) -> Result<(), GraphError> {
    opts.check_select(set.type_name)?;
    opts.check_list_select(set)?;
    if let Some(filter) = &opts.filter {
        let mut needs_advanced = false;
        check(filter, set, None, false, &mut needs_advanced)?;
        if needs_advanced && !advanced && set.advanced_queries {
            return Err(GraphError::unsupported_query("Unsupported Query."));
        }
    }
    Ok(())
}

/// `@odata.context` for a collection or a single entity.
pub fn context(root: &str, set: &str, select: Option<&[String]>, entity: bool) -> String {
    let mut s = format!("{root}v1.0/$metadata#{set}");
    if let Some(sel) = select {
        s.push('(');
        s.push_str(&sel.join(","));
        s.push(')');
    }
    if entity {
        s.push_str("/$entity");
    }
    s
}

/// The properties Graph returns for an object: `$select`ed ones, or the default set, with
/// missing ones as `null` (collections as `[]`).
pub fn project(
    object: &Map<String, Value>,
    set: &EntitySet,
    select: Option<&[String]>,
) -> Map<String, Value> {
    let names: Vec<&str> = match (select, set.default_select) {
        (Some(sel), _) => sel.iter().map(String::as_str).collect(),
        (None, Some(default)) => default.to_vec(),
        (None, None) => {
            let mut m = object.clone();
            m.remove("members");
            return m;
        }
    };
    let mut out = Map::new();
    for name in names {
        let value = object
            .get(name)
            .cloned()
            .unwrap_or_else(|| schema().absent_value(set.type_name, name));
        // passwordProfile.password is write-only in Graph.
        let value = if name == "passwordProfile" {
            match value {
                Value::Object(mut p) => {
                    p.insert("password".into(), Value::Null);
                    Value::Object(p)
                }
                other => other,
            }
        } else {
            value
        };
        out.insert(name.to_owned(), value);
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::query::entity::USERS;
    use crate::query::fixture::user;
    use crate::query::options::parse_options;

    #[test]
    fn count_needs_eventual_and_absent_values_follow_the_schema() {
        let objects = Collection::new(vec![user()], USERS.indexed);
        let opts = parse_options(Some("$filter=userType%20ne%20'Guest'")).unwrap();
        assert_eq!(
            count(&objects, &USERS, &opts, false).unwrap_err().message,
            "$count is not currently supported."
        );
        assert_eq!(count(&objects, &USERS, &opts, true).unwrap(), 1);
        let sel = vec![
            "id".to_owned(),
            "birthday".to_owned(),
            "skills".to_owned(),
            "jobTitle".to_owned(),
        ];
        let p = project(&user(), &USERS, Some(&sel));
        assert_eq!(
            Value::Object(p),
            json!({"id": "1", "birthday": "0001-01-01T00:00:00Z", "skills": [], "jobTitle": null})
        );
        let p = project(&user(), &USERS, None);
        assert_eq!(p.len(), 11);
        assert!(!p.contains_key("otherMails"));
    }

    #[test]
    fn pages_with_an_opaque_token_bound_to_the_query() {
        let objects = Collection::new(
            (0..5).map(|i| {
                json!({"id": i.to_string(), "displayName": format!("u{i}")})
                    .as_object()
                    .unwrap()
                    .clone()
            }),
            USERS.indexed,
        );
        let opts = parse_options(Some("$top=2&$select=id")).unwrap();
        let page = list(&objects, &USERS, &opts, false, "http://h/").unwrap();
        assert_eq!(page["value"].as_array().unwrap().len(), 2);
        let next = page["@odata.nextLink"].as_str().unwrap();
        let query = next.split_once('?').unwrap().1;
        let page2 = list(
            &objects,
            &USERS,
            &parse_options(Some(query)).unwrap(),
            false,
            "http://h/",
        )
        .unwrap();
        assert_eq!(page2["value"][0]["id"], "2");
        let tampered = query.replace("%24select=id", "%24select=mail");
        assert!(
            list(
                &objects,
                &USERS,
                &parse_options(Some(&tampered)).unwrap(),
                false,
                "http://h/"
            )
            .is_err()
        );
    }
}
