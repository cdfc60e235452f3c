//! Finds, in a request's encoded bytes, the first text field holding a NUL
//! character: PostgreSQL cannot store one in `text` or `jsonb`, so such a
//! request is refused before any work with the field's path
//! (`tenant.labels.env`, `events[3].metric`) instead of failing deep in a
//! transaction as INTERNAL.
//!
//! The walk follows the descriptors tenantd serves ([`crate::pb::FILE_DESCRIPTOR_SET`]),
//! so it covers every string of every request message, nested and repeated
//! ones, map keys and values, and `google.protobuf.Struct` values, without
//! a list to keep up to date. It reads the bytes once, allocates only the
//! path it reports, and goes no deeper than prost decodes. Bytes that are
//! not well-formed protobuf are left to prost, which refuses them.
//!
//! Usage events are not walked: one bad event is rejected on its own and
//! the rest of its batch lands, so their conversion checks their text.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use prost::Message;
use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{DescriptorProto, FileDescriptorSet};

/// Message types whose text their own conversion checks, one by one.
const CHECKED_BY_THEIR_CONVERSION: &[&str] = &["tenantd.v1.UsageEvent"];

/// Deeper nesting than prost decodes (its recursion limit) is refused by
/// prost anyway.
const MAX_DEPTH: usize = 100;

/// What a field holds, as far as the walk cares.
#[derive(Debug, Clone)]
enum Kind {
    /// `string`.
    Text,
    /// A message type, by full name.
    Message(String),
    /// Anything else: numbers, bytes, enums.
    Other,
}

#[derive(Debug, Clone)]
struct Field {
    name: String,
    kind: Kind,
    repeated: bool,
}

#[derive(Debug, Default)]
struct MessageInfo {
    fields: HashMap<u32, Field>,
    /// A map field's entry: key 1, value 2.
    map_entry: bool,
}

struct Descriptors {
    messages: HashMap<String, MessageInfo>,
    /// The types methods take: only requests are walked, so a client
    /// decoding answers pays nothing.
    requests: HashSet<String>,
}

static DESCRIPTORS: LazyLock<Descriptors> = LazyLock::new(|| {
    let set = FileDescriptorSet::decode(crate::pb::FILE_DESCRIPTOR_SET).unwrap_or_default();
    let mut messages = HashMap::new();
    let mut requests = HashSet::new();
    for file in &set.file {
        let package = file.package();
        for message in &file.message_type {
            index(package, message, &mut messages);
        }
        for service in &file.service {
            for method in &service.method {
                requests.insert(method.input_type().trim_start_matches('.').to_owned());
            }
        }
    }
    Descriptors { messages, requests }
});

fn index(scope: &str, message: &DescriptorProto, messages: &mut HashMap<String, MessageInfo>) {
    let full_name = format!("{scope}.{}", message.name());
    let fields = message
        .field
        .iter()
        .filter_map(|field| {
            let number = u32::try_from(field.number()).ok()?;
            let kind = match field.r#type() {
                Type::String => Kind::Text,
                Type::Message => {
                    Kind::Message(field.type_name().trim_start_matches('.').to_owned())
                }
                _ => Kind::Other,
            };
            let repeated = field.label() == Label::Repeated;
            Some((
                number,
                Field {
                    name: field.name().to_owned(),
                    kind,
                    repeated,
                },
            ))
        })
        .collect();
    let map_entry = message
        .options
        .as_ref()
        .is_some_and(|options| options.map_entry());
    for nested in &message.nested_type {
        index(&full_name, nested, messages);
    }
    messages.insert(full_name, MessageInfo { fields, map_entry });
}

/// The path of the first text field of the request `message` (a full proto
/// name) whose value holds a NUL, if any.
pub fn unstorable_field(message: &str, bytes: &[u8]) -> Option<String> {
    if !bytes.contains(&0) {
        return None;
    }
    let descriptors = &*DESCRIPTORS;
    if !descriptors.requests.contains(message) {
        return None;
    }
    walk(descriptors, message, bytes, 0).map(|path| {
        if path.is_empty() {
            "request".to_owned()
        } else {
            path
        }
    })
}

/// Reads a varint off the front of `bytes`.
fn varint(bytes: &mut &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = bytes.split_first()?;
        *bytes = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

fn take<'a>(bytes: &mut &'a [u8], count: usize) -> Option<&'a [u8]> {
    if bytes.len() < count {
        return None;
    }
    let (taken, rest) = bytes.split_at(count);
    *bytes = rest;
    Some(taken)
}

/// What one field read off the front of the bytes held, as far as the walk
/// cares.
enum Value<'a> {
    /// A varint or a fixed-size number, skipped.
    Scalar,
    /// A length-delimited value: text, bytes or a message.
    Delimited(&'a [u8]),
    /// The start of a group (wire type 3).
    GroupStart,
    /// The end of a group (wire type 4).
    GroupEnd,
}

/// Reads one field off the front of `bytes`: its number and its value;
/// `None` when the bytes are not well-formed, which prost refuses.
fn read_field<'a>(bytes: &mut &'a [u8]) -> Option<(u64, Value<'a>)> {
    let key = varint(bytes)?;
    let value = match key & 7 {
        0 => {
            varint(bytes)?;
            Value::Scalar
        }
        1 => {
            take(bytes, 8)?;
            Value::Scalar
        }
        5 => {
            take(bytes, 4)?;
            Value::Scalar
        }
        2 => {
            let length = usize::try_from(varint(bytes)?).ok()?;
            Value::Delimited(take(bytes, length)?)
        }
        3 => Value::GroupStart,
        4 => Value::GroupEnd,
        _ => return None,
    };
    Some((key >> 3, value))
}

/// Skips the rest of the group `number` whose start was just read, nested
/// groups included; `None` when it does not end well, which prost refuses.
fn skip_group(bytes: &mut &[u8], number: u64, depth: usize) -> Option<()> {
    if depth > MAX_DEPTH {
        return None;
    }
    loop {
        match read_field(bytes)? {
            (_, Value::Scalar | Value::Delimited(_)) => {}
            (inner, Value::GroupStart) => skip_group(bytes, inner, depth + 1)?,
            (end, Value::GroupEnd) if end == number => return Some(()),
            (_, Value::GroupEnd) => return None,
        }
    }
}

/// The path, relative to `message`, of the first text holding a NUL.
fn walk(
    descriptors: &Descriptors,
    message: &str,
    mut bytes: &[u8],
    depth: usize,
) -> Option<String> {
    if depth > MAX_DEPTH || CHECKED_BY_THEIR_CONVERSION.contains(&message) {
        return None;
    }
    let info = descriptors.messages.get(message)?;
    let mut seen: HashMap<u32, usize> = HashMap::new();
    let mut map_key: Option<&[u8]> = None;
    while !bytes.is_empty() {
        let (number, value) = read_field(&mut bytes)?;
        let number = u32::try_from(number).ok()?;
        let value = match value {
            Value::Scalar => continue,
            Value::Delimited(value) => value,
            // A group, which prost skips (no tenantd field is one), and
            // the text in it with it.
            Value::GroupStart => {
                skip_group(&mut bytes, u64::from(number), depth + 1)?;
                continue;
            }
            Value::GroupEnd => return None,
        };
        let Some(field) = info.fields.get(&number) else {
            continue;
        };
        let index = seen.entry(number).or_default();
        let position = *index;
        *index += 1;
        let found = find_in(descriptors, &field.kind, value, depth);
        if info.map_entry && number == 1 {
            map_key = Some(value);
        }
        let Some(inner) = found else { continue };
        let own = own_segment(
            descriptors,
            message,
            info.map_entry,
            field,
            position,
            map_key,
        );
        return Some(join(own, inner));
    }
    None
}

/// The path, relative to the field, of the first text holding a NUL in
/// one value of a field of `kind`; empty when the field itself is that text.
fn find_in(descriptors: &Descriptors, kind: &Kind, value: &[u8], depth: usize) -> Option<String> {
    match kind {
        Kind::Text if value.contains(&0) => Some(String::new()),
        Kind::Text => None,
        Kind::Message(_) if !value.contains(&0) => None,
        Kind::Message(name) => walk(descriptors, name, value, depth + 1),
        Kind::Other => None,
    }
}

/// This level's part of a path: `name`, `name[3]` for a repeated field,
/// the key for a map entry's value, and nothing for the wrappers of
/// `google.protobuf.Struct`, so a JSON value is named by its keys
/// (`config.branding.name`).
fn own_segment(
    descriptors: &Descriptors,
    message: &str,
    map_entry: bool,
    field: &Field,
    position: usize,
    map_key: Option<&[u8]>,
) -> String {
    if map_entry {
        return match (field.name.as_str(), map_key) {
            ("value", Some(key)) => String::from_utf8_lossy(key).into_owned(),
            _ => String::new(),
        };
    }
    if message == "google.protobuf.ListValue" {
        return format!("[{position}]");
    }
    if matches!(message, "google.protobuf.Struct" | "google.protobuf.Value") {
        return String::new();
    }
    let into_map = matches!(&field.kind, Kind::Message(name)
        if descriptors.messages.get(name).is_some_and(|info| info.map_entry));
    if field.repeated && !into_map {
        format!("{}[{position}]", field.name)
    } else {
        field.name.clone()
    }
}

fn join(own: String, inner: String) -> String {
    match (own.is_empty(), inner.is_empty()) {
        (true, _) => inner,
        (false, true) => own,
        (false, false) if inner.starts_with('[') => format!("{own}{inner}"),
        (false, false) => format!("{own}.{inner}"),
    }
}

#[cfg(test)]
#[path = "wire_scan_tests.rs"]
mod tests;
