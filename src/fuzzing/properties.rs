//! The fuzz targets' properties in the normal suite: every entry point
//! holds on arbitrary bytes, on mutations of its seeds and on generated
//! structured inputs; and each seed reaches as deep as it is meant to.

use proptest::prelude::*;
use prost::Message;

use crate::common::filter;
use crate::common::filter::MAX_COMPARISONS;
use crate::fuzzing::{TARGETS, seeds};
use crate::pb;
use crate::tenancy::grpc::archive::read_file;

fn target(name: &str) -> fn(&[u8]) {
    TARGETS
        .iter()
        .find(|(target, _)| *target == name)
        .map(|(_, run)| *run)
        .expect("a fuzz target")
}

#[test]
fn every_target_has_seeds_and_survives_them() {
    for (name, run) in TARGETS {
        let seeds = seeds(name);
        assert!(!seeds.is_empty(), "{name} has no seeds");
        for seed in &seeds {
            run(seed);
        }
    }
}

#[test]
fn seeds_are_valid_inputs() {
    for seed in seeds("filter") {
        let text = String::from_utf8(seed).unwrap();
        assert!(filter::parse(&text, "filter").is_ok(), "{text}");
    }
    let [archive] = seeds("tenant_archive").try_into().unwrap();
    let archive = read_file(&archive).unwrap();
    archive.verify().unwrap();
    let manifest = &archive.manifest;
    let (tables, tenant) =
        crate::tenancy::tenant_archive::control_rows(&archive, manifest.tenant_id, "acme").unwrap();
    assert_eq!(tenant["slug"], "acme");
    assert!(
        tables
            .iter()
            .any(|(table, rows)| *table == "api_keys" && rows.len() == 1)
    );
    let [usage] = seeds("usage_events").try_into().unwrap();
    let (batch, _) = crate::fuzzing::halves(&usage);
    let batch = pb::ReportUsageRequest::decode(batch).unwrap();
    for event in crate::usage::grpc::convert::raw_events(batch.events) {
        crate::usage::event::precheck(&event).unwrap();
    }
    let [flags] = seeds("flags").try_into().unwrap();
    let (definition, _) = crate::fuzzing::halves(&flags);
    let definition = pb::CreateFlagRequest::decode(definition).unwrap();
    crate::flags::grpc::convert::CreateFlag::try_from(&definition).unwrap();
    let [envoy] = seeds("envoy_descriptors").try_into().unwrap();
    let envoy =
        envoy_types::pb::envoy::service::ratelimit::v3::RateLimitRequest::decode(&envoy[..])
            .unwrap();
    assert_eq!(
        crate::quota::grpc::ratelimit::checks(&envoy).unwrap().len(),
        2
    );
}

/// The `request` target's input for the request type `name`.
fn request_input(name: &str, bytes: &[u8]) -> Vec<u8> {
    let index = crate::fuzzing::messages::REQUEST_DECODERS
        .iter()
        .position(|(served, _)| *served == name)
        .unwrap();
    let mut input = vec![u8::try_from(index).unwrap()];
    input.extend_from_slice(bytes);
    input
}

/// Inputs the fuzz targets once failed on, each kept as a regression.
#[test]
fn inputs_found_by_fuzzing_pass() {
    // A group ahead of a text with a NUL hid the text from the codec's scan.
    let group_then_nul = b"\x23\x24\x0a\x0a\x0a\x0a\x0a\x0a\x0a\x2e\x0a\x00\x0a\x0a";
    target("request")(&request_input(
        "tenantd.v1.SuspendTenantRequest",
        group_then_nul,
    ));
}

/// A seed of any target with a few bytes changed and its end cut off.
fn mutated_seed() -> impl Strategy<Value = (usize, Vec<u8>)> {
    let seeded: Vec<(usize, Vec<u8>)> = TARGETS
        .iter()
        .enumerate()
        .flat_map(|(index, (name, _))| seeds(name).into_iter().map(move |seed| (index, seed)))
        .collect();
    (
        proptest::sample::select(seeded),
        proptest::collection::vec((any::<usize>(), any::<u8>()), 0..8),
        any::<usize>(),
    )
        .prop_map(|((index, mut seed), edits, keep)| {
            for (position, byte) in edits {
                if !seed.is_empty() {
                    let position = position % seed.len();
                    seed[position] = byte;
                }
            }
            seed.truncate(keep % (seed.len() + 1) + seed.len() / 2);
            (index, seed)
        })
}

const FIELDS: [&str; 9] = [
    "state",
    "plan",
    "labels.env",
    "action",
    "actor",
    "create_time",
    "enabled",
    "value_type",
    "labels.",
];

const OPS: [&str; 6] = ["=", ">=", ">", "<=", "<", "!="];

/// Filters in the grammar's own shape, some of them past its bounds.
fn comparisons() -> impl Strategy<Value = Vec<(usize, usize, String)>> {
    proptest::collection::vec(
        (
            0..FIELDS.len(),
            0..OPS.len(),
            "[A-Za-z0-9 _:.\"\\\\\u{0}-\u{1f}-]{0,12}",
        ),
        0..2 * MAX_COMPARISONS,
    )
}

proptest! {
    #[test]
    fn targets_survive_arbitrary_bytes(
        index in 0..TARGETS.len(),
        data in proptest::collection::vec(any::<u8>(), 0..1024),
    ) {
        (TARGETS[index].1)(&data);
    }

    #[test]
    fn targets_survive_mutated_seeds((index, data) in mutated_seed()) {
        (TARGETS[index].1)(&data);
    }

    #[test]
    fn filters_past_the_bound_are_refused(parts in comparisons()) {
        let text = parts
            .iter()
            .map(|(field, op, value)| format!("{} {} {value:?}", FIELDS[*field], OPS[*op]))
            .collect::<Vec<_>>()
            .join(" AND ");
        target("filter")(text.as_bytes());
        if parts.len() > MAX_COMPARISONS {
            prop_assert!(filter::parse(&text, "filter").is_err());
        }
    }

    #[test]
    fn any_quantity_is_checked(quantity in any::<f64>(), special in 0..5usize) {
        let quantity = [quantity, f64::NAN, f64::INFINITY, 1.7e308, -0.5][special];
        let event = crate::usage::event::check_quantity(quantity);
        prop_assert_eq!(event.is_ok(), (0.0..=1e18).contains(&quantity));
    }
}
