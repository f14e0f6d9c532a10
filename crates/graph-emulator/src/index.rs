//! The directory's collections (users, groups, contacts) with an index of the properties
//! Graph lets a `$filter` match exactly: `eq`/`in` on `id`, `userPrincipalName`, `mail`,
//! and `any(x: x eq …)` on `otherMails` and `proxyAddresses`.
//!
//! Why: b2b-convert looks every input row up by address (`userPrincipalName eq 'x' or mail
//! eq 'x' or proxyAddresses/any(…) or otherMails/any(…)`), and scanning 100,000 users for
//! each of those cost ~220 ms, where Graph answers at once. The index maps each value,
//! lower-cased the way the filter evaluator compares it ([`str::to_lowercase`], so the same
//! strings are equal), to the positions of the objects carrying it, in directory order.
//!
//! Each collection also indexes the addresses its objects *use* (mail, proxy addresses
//! without `smtp:`, userPrincipalName, otherMails), which the address-collision rules of
//! PATCH and invitations look up ([`crate::directory::Directory::address_owner`]).
//!
//! The index only narrows the search: the query engine still evaluates the whole filter on
//! every candidate it names (`query::plan`), so an answer is exactly the scan's as long as
//! the index never *misses* an object, which is what keeping it in step guarantees. To
//! keep it in step, a [`Collection`] hands out its objects read-only; every change goes
//! through [`Collection::push`] or [`Collection::update`], which re-index the object.

use std::ops::Index;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::directory::{strings, strip_smtp};
use crate::hash::FastMap;

/// One stored Graph object (user, group, contact).
pub type Object = Map<String, Value>;

/// Lower-cased value → positions (ascending, no repeats) of the objects carrying it.
type Postings = FastMap<String, Vec<usize>>;

/// The indexes of one collection: one per indexed property, and the addresses used.
#[derive(Debug, Default)]
pub struct CollectionIndex {
    properties: Vec<(&'static str, Postings)>,
    addresses: Postings,
}

impl CollectionIndex {
    /// Sized for `objects` objects up front: growing a map rehashes every key in it.
    fn new(properties: &[&'static str], objects: usize) -> Self {
        let sized = |n| Postings::with_capacity_and_hasher(n, Default::default());
        Self {
            properties: properties.iter().map(|p| (*p, sized(objects))).collect(),
            addresses: sized(objects * 2),
        }
    }

    /// Positions of the objects using `address` (any case) as mail, proxy address,
    /// userPrincipalName or otherMails entry, in directory order.
    pub fn address_users(&self, address: &str) -> &[usize] {
        self.addresses
            .get(&address.to_lowercase())
            .map_or(&[][..], Vec::as_slice)
    }

    /// Whether `property` is indexed (a filter on it can be answered from the index).
    pub fn is_indexed(&self, property: &str) -> bool {
        self.properties.iter().any(|(p, _)| *p == property)
    }

    /// Positions of the objects whose `property` (a string, or a string element of an
    /// array) equals `value` without regard to case, in directory order; `None` when the
    /// property is not indexed.
    pub fn lookup(&self, property: &str, value: &str) -> Option<&[usize]> {
        let (_, postings) = self.properties.iter().find(|(p, _)| *p == property)?;
        Some(
            postings
                .get(&value.to_lowercase())
                .map_or(&[][..], Vec::as_slice),
        )
    }

    fn insert(&mut self, position: usize, object: &Object) {
        for (property, postings) in &mut self.properties {
            for key in keys(object, property) {
                add(postings, key, position);
            }
        }
        for key in address_keys(object) {
            add(&mut self.addresses, key, position);
        }
    }

    fn remove(&mut self, position: usize, object: &Object) {
        for (property, postings) in &mut self.properties {
            for key in keys(object, property) {
                take(postings, &key, position);
            }
        }
        for key in address_keys(object) {
            take(&mut self.addresses, &key, position);
        }
    }
}

fn add(postings: &mut Postings, key: String, position: usize) {
    let positions = postings.entry(key).or_default();
    // Objects are indexed in directory order at load, so this is almost always a push; an
    // update re-inserts in the middle.
    match positions.last() {
        Some(last) if *last >= position => {
            if let Err(at) = positions.binary_search(&position) {
                positions.insert(at, position);
            }
        }
        _ => positions.push(position),
    }
}

fn take(postings: &mut Postings, key: &str, position: usize) {
    if let Some(positions) = postings.get_mut(key) {
        if let Ok(at) = positions.binary_search(&position) {
            positions.remove(at);
        }
        if positions.is_empty() {
            postings.remove(key);
        }
    }
}

/// The addresses an object uses, lower case: mail, proxy addresses (without `smtp:`),
/// userPrincipalName, otherMails.
fn address_keys(object: &Object) -> impl Iterator<Item = String> + '_ {
    let text = |key| object.get(key).and_then(Value::as_str);
    text("mail")
        .into_iter()
        .chain(strings(object, "proxyAddresses").map(strip_smtp))
        .chain(text("userPrincipalName"))
        .chain(strings(object, "otherMails"))
        .map(str::to_lowercase)
}

/// The index keys `object` has for `property`: its string value, or the string elements
/// of its array value, lower-cased. Anything else (absent, `null`, numbers) can't equal a
/// string literal, so it has no key.
fn keys<'a>(object: &'a Object, property: &str) -> impl Iterator<Item = String> + 'a {
    let (single, many) = match object.get(property) {
        Some(Value::String(s)) => (Some(s.as_str()), None),
        Some(Value::Array(items)) => (None, Some(items)),
        _ => (None, None),
    };
    single
        .into_iter()
        .chain(many.into_iter().flatten().filter_map(Value::as_str))
        .map(|s| s.to_lowercase())
}

/// Objects in directory order (the order Graph lists them in here) with their index.
///
/// Reads go through [`Collection::iter`] and indexing; there is deliberately no mutable
/// access, so a change can't bypass the index. Objects are shared (`Arc`) with the tenant
/// file they came from and copied on their first change, so a start or reset copies no
/// object.
#[derive(Debug, Default)]
pub struct Collection {
    objects: Vec<Arc<Object>>,
    index: CollectionIndex,
}

impl Collection {
    /// Indexes `objects` (owned or shared) on `properties`.
    pub fn new<O: Into<Arc<Object>>>(
        objects: impl IntoIterator<Item = O>,
        properties: &[&'static str],
    ) -> Self {
        let objects: Vec<Arc<Object>> = objects.into_iter().map(Into::into).collect();
        let mut index = CollectionIndex::new(properties, objects.len());
        for (position, object) in objects.iter().enumerate() {
            index.insert(position, object);
        }
        Self { objects, index }
    }

    /// The index, for the query planner.
    pub fn index(&self) -> &CollectionIndex {
        &self.index
    }

    /// How many objects there are.
    pub fn len(&self) -> usize {
        self.objects.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }

    /// The object at `position`, if any.
    pub fn get(&self, position: usize) -> Option<&Object> {
        self.objects.get(position).map(|o| &**o)
    }

    /// The objects in directory order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &Object> {
        self.objects.iter().map(|o| &**o)
    }

    /// Appends an object and indexes it; its position.
    pub fn push(&mut self, object: Object) -> usize {
        let position = self.objects.len();
        self.index.insert(position, &object);
        self.objects.push(Arc::new(object));
        position
    }

    /// Changes the object at `position` with `change`, re-indexing it.
    ///
    /// # Panics
    /// When `position` is out of range (positions come from lookups on this collection).
    pub fn update<R>(&mut self, position: usize, change: impl FnOnce(&mut Object) -> R) -> R {
        self.index.remove(position, &self.objects[position]);
        let object = Arc::make_mut(&mut self.objects[position]);
        let result = change(object);
        self.index.insert(position, object);
        result
    }
}

impl Index<usize> for Collection {
    type Output = Object;

    fn index(&self, position: usize) -> &Object {
        &self.objects[position]
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn object(v: Value) -> Object {
        v.as_object().cloned().unwrap_or_default()
    }

    fn collection() -> Collection {
        Collection::new(
            [
                object(json!({"id": "A", "mail": "Ann@Fabrikam.com",
                    "proxyAddresses": ["SMTP:ann@fabrikam.com", "smtp:ANN@fabrikam.com"]})),
                object(json!({"id": "b", "mail": null, "otherMails": ["ann@fabrikam.com"]})),
                object(json!({"id": "c", "mail": "ann@FABRIKAM.com", "otherMails": [1, null]})),
            ],
            &["id", "mail", "otherMails", "proxyAddresses"],
        )
    }

    #[test]
    fn looks_up_without_regard_to_case_in_directory_order() {
        let c = collection();
        let i = c.index();
        assert_eq!(i.lookup("mail", "ANN@fabrikam.COM"), Some(&[0, 2][..]));
        assert_eq!(i.lookup("id", "a"), Some(&[0][..]));
        assert_eq!(i.lookup("otherMails", "Ann@Fabrikam.com"), Some(&[1][..]));
        // Two entries equal once lower-cased name the object once.
        assert_eq!(
            i.lookup("proxyAddresses", "smtp:ann@fabrikam.com"),
            Some(&[0][..])
        );
        assert_eq!(i.lookup("mail", "nobody@x.com"), Some(&[][..]));
        assert_eq!(i.lookup("displayName", "x"), None);
        assert!(i.is_indexed("otherMails") && !i.is_indexed("userType"));
    }

    #[test]
    fn stays_in_step_with_updates_and_pushes() {
        let mut c = collection();
        c.update(0, |o| {
            o.insert("mail".into(), json!("New@Contoso.com"));
            o.insert("proxyAddresses".into(), json!(["SMTP:new@contoso.com"]));
        });
        let i = c.index();
        assert_eq!(i.lookup("mail", "ann@fabrikam.com"), Some(&[2][..]));
        assert_eq!(i.lookup("mail", "new@contoso.COM"), Some(&[0][..]));
        assert_eq!(
            i.lookup("proxyAddresses", "smtp:ann@fabrikam.com"),
            Some(&[][..])
        );
        // Re-inserting position 0 keeps the postings in directory order.
        c.update(0, |o| {
            o.insert("mail".into(), json!("ANN@fabrikam.com"));
        });
        assert_eq!(
            c.index().lookup("mail", "ann@fabrikam.com"),
            Some(&[0, 2][..])
        );
        let pushed = c.push(object(
            json!({"id": "d", "otherMails": ["Ann@fabrikam.com"]}),
        ));
        assert_eq!(pushed, 3);
        assert_eq!(
            c.index().lookup("otherMails", "ann@fabrikam.com"),
            Some(&[1, 3][..])
        );
        // A change that leaves indexed properties alone changes nothing.
        c.update(1, |o| {
            o.insert("displayName".into(), json!("B"));
        });
        assert_eq!(
            c.index().lookup("otherMails", "ann@fabrikam.com"),
            Some(&[1, 3][..])
        );
        assert_eq!(c.len(), 4);
        assert_eq!(c[3]["id"], "d");
    }
}
