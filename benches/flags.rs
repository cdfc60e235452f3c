//! EvaluateFlags throughput and latency, as a ratio of
//! `grpc.health.v1.Health/Check` on the same server in the same run.
//!
//! For each count of `--flags` (default 1, 5, 10 and 20) and each tokio
//! runtime flavour of the server (`current_thread`, `multi_thread` with 2
//! workers) the bench starts the real server on a temporary SQLite file,
//! defines that many flags with targeting rules on context and tenant
//! attributes, overrides for the tenant's plan and for the tenant, and
//! percentage rollouts, then
//! alternates blocks of health checks and EvaluateFlags calls (every flag,
//! one context with a targeting key that changes with every call), each
//! block `--concurrency` calls in flight for `--block-ms`. Ratios compare
//! the medians over the blocks, so drift of the machine during the run hits
//! both sides alike. The load generator shares the machine's cores with the
//! server, as it would in a sidecar; the CPU time each spent per call
//! (from `/proc`, by thread) is printed too, so the server's own cost can be
//! told from the load generator's.
//!
//! `cargo bench --bench flags` (`-- --help` for the options).

mod support;

use clap::Parser;
use serde_json::json;
use tenantd::pb;
use tenantd::pb::config_service_client::ConfigServiceClient;
use tonic::transport::Channel;

use support::calls::{create_tenant, health_check, resolve_by_id};
use support::{
    ADMIN_TOKEN, Block, LoadOptions, Running, SERVICE_TOKEN, SqliteFile, authorized, compare,
    load_calls, percentile, runtime_name,
};

/// Command-line options.
#[derive(Debug, Parser)]
struct Options {
    /// Load and block length.
    #[command(flatten)]
    load: LoadOptions,
    /// Flags defined and evaluated by every call; each count given is
    /// measured on a server of its own.
    #[arg(long, value_delimiter = ',', default_values_t = [1, 5, 10, 20])]
    flags: Vec<usize>,
    /// The call compared with.
    #[arg(long, value_enum, default_value_t = Side::Health)]
    baseline: Side,
    /// `cargo bench` passes `--bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

fn value(json: serde_json::Value) -> prost_types::Value {
    tenantd::rpc::convert::json_value(json)
}

fn condition(
    attribute: &str,
    op: pb::TargetingOperator,
    values: &[serde_json::Value],
) -> pb::TargetingCondition {
    pb::TargetingCondition {
        attribute: attribute.to_owned(),
        op: op.into(),
        values: values.iter().cloned().map(value).collect(),
    }
}

fn split(weights: &[(&str, i32)]) -> pb::Rollout {
    pb::Rollout {
        weights: weights
            .iter()
            .map(|(variant, weight)| pb::VariantWeight {
                variant: (*variant).to_owned(),
                weight: *weight,
            })
            .collect(),
        bucket_by: String::new(),
        salt: String::new(),
    }
}

/// The variants of a bench flag, and which of them its rules serve as on
/// and off: `blue`, `green` and `red` for a string flag, else `on` and
/// `off`.
fn variants(
    strings: bool,
) -> (
    Vec<(&'static str, prost_types::Value)>,
    &'static str,
    &'static str,
) {
    if strings {
        (
            vec![
                ("blue", value(json!("blue"))),
                ("green", value(json!("green"))),
                ("red", value(json!("red"))),
            ],
            "green",
            "blue",
        )
    } else {
        (
            vec![("on", value(json!(true))), ("off", value(json!(false)))],
            "on",
            "off",
        )
    }
}

/// Three rules (a country list, an email domain, a version range) ahead
/// of a rule-level rollout, serving `on` or `off`.
fn rules(on: &str, off: &str) -> Vec<pb::TargetingRule> {
    use pb::TargetingOperator as Op;
    let serve = |variant: &str| Some(pb::targeting_rule::Serve::Variant(variant.to_owned()));
    vec![
        pb::TargetingRule {
            description: "launch countries".to_owned(),
            conditions: vec![condition(
                "country",
                Op::In,
                &[json!("NZ"), json!("IS"), json!("PT")],
            )],
            serve: serve(on),
        },
        pb::TargetingRule {
            description: "staff".to_owned(),
            conditions: vec![condition("email", Op::EndsWith, &[json!("@staff.example")])],
            serve: serve(on),
        },
        pb::TargetingRule {
            description: "old apps".to_owned(),
            conditions: vec![
                condition("app_version", Op::SemverLt, &[json!("3.0.0")]),
                condition("platform", Op::Equals, &[json!("ios")]),
            ],
            serve: serve(off),
        },
        pb::TargetingRule {
            description: "new apps ramp".to_owned(),
            conditions: vec![condition(
                "app_version",
                Op::SemverGt,
                &[json!("4.0.0-rc.1")],
            )],
            serve: Some(pb::targeting_rule::Serve::Rollout(split(&[
                (on, 50),
                (off, 50),
            ]))),
        },
    ]
}

/// Flag `index` of the realistic set: a boolean with the bench [`rules`]
/// and a default rollout for everyone else; every fourth one is a string
/// flag with three variants instead.
fn bench_flag(index: usize) -> pb::Flag {
    let strings = index % 4 == 3;
    let (variants, on, off) = variants(strings);
    pb::Flag {
        description: format!("bench flag {index}"),
        value_type: if strings {
            pb::FlagType::String
        } else {
            pb::FlagType::Boolean
        }
        .into(),
        variants: variants
            .into_iter()
            .map(|(name, found)| (name.to_owned(), found))
            .collect(),
        default_variant: off.to_owned(),
        enabled: true,
        rules: rules(on, off),
        default_rollout: Some(split(&[(on, 10 + index as i32), (off, 90 - index as i32)])),
        ..Default::default()
    }
}

/// Overrides flag `key` for `owner` (a plan or a tenant) with a rule that
/// serves `on` to platinum tenants.
async fn override_flag(
    configs: &mut ConfigServiceClient<Channel>,
    owner: &str,
    key: &str,
    on: &str,
) {
    let rule = pb::TargetingRule {
        description: "gold tenants".to_owned(),
        conditions: vec![condition(
            "tenant.labels.tier",
            pb::TargetingOperator::Equals,
            &[json!("platinum")],
        )],
        serve: Some(pb::targeting_rule::Serve::Variant(on.to_owned())),
    };
    configs
        .set_flag_override(authorized(
            pb::SetFlagOverrideRequest {
                flag_override: Some(pb::FlagOverride {
                    name: format!("{owner}/flagOverrides/{key}"),
                    rules: vec![rule],
                    ..Default::default()
                }),
            },
            ADMIN_TOKEN,
        ))
        .await
        .expect("override a bench flag");
}

/// A tenant on the starter plan, `flags` flags, an override of every
/// third flag for the plan and of every fifth for the tenant.
async fn tenant(channel: &Channel, flags: usize) -> String {
    let tenant = pb::Tenant {
        slug: "bench".to_owned(),
        display_name: "Bench".to_owned(),
        labels: [("tier".to_owned(), "gold".to_owned())].into(),
        ..Default::default()
    };
    let parent = create_tenant(channel, tenant).await.name;
    let mut configs = ConfigServiceClient::new(channel.clone());
    for index in 0..flags {
        let flag = bench_flag(index);
        let key = format!("bench-flag-{index:02}");
        let on = flag.rules[0].serve.clone();
        configs
            .create_flag(authorized(
                pb::CreateFlagRequest {
                    flag: Some(flag),
                    flag_id: key.clone(),
                    request_id: String::new(),
                },
                ADMIN_TOKEN,
            ))
            .await
            .expect("create a bench flag");
        let Some(pb::targeting_rule::Serve::Variant(on)) = on else {
            continue;
        };
        let owners = [
            index.is_multiple_of(3).then(|| "plans/starter".to_owned()),
            index.is_multiple_of(5).then(|| parent.clone()),
        ];
        for owner in owners.into_iter().flatten() {
            override_flag(&mut configs, &owner, &key, &on).await;
        }
    }
    parent
}

/// The call a block makes: the measured one, or the one it is compared
/// with (`--baseline`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Side {
    /// `grpc.health.v1.Health/Check`, which no credential guards: the
    /// trivial unary call of the acceptance point.
    Health,
    /// `TenantService/ResolveTenant` by id behind the same service token,
    /// answered from the gate's cache: the trivial call that pays the same
    /// authentication and tenant context layer.
    Resolve,
    /// EvaluateFlags of every flag: the measured call, never a baseline.
    #[value(skip)]
    Flags,
}

impl Side {
    /// What the table calls it.
    fn label(self) -> &'static str {
        match self {
            Side::Health => "health",
            Side::Resolve => "resolve",
            Side::Flags => "flags",
        }
    }
}

/// The evaluation context of call number `user`.
fn user_context(user: u64) -> pb::EvaluationContext {
    let countries = ["DE", "FR", "NZ", "US", "JP"];
    let versions = ["2.9.1", "3.4.0", "4.1.0", "4.0.0-rc.2"];
    let platforms = ["ios", "android"];
    let attributes = [
        ("country", value(json!(countries[(user % 5) as usize]))),
        ("email", value(json!(format!("user{user}@example.com")))),
        ("app_version", value(json!(versions[(user % 4) as usize]))),
        ("platform", value(json!(platforms[(user % 2) as usize]))),
    ];
    pb::EvaluationContext {
        targeting_key: format!("user-{user}"),
        attributes: attributes
            .into_iter()
            .map(|(name, found)| (name.to_owned(), found))
            .collect(),
    }
}

async fn one_call(channel: &Channel, side: Side, parent: &str, user: u64) {
    match side {
        Side::Health => health_check(channel).await,
        Side::Resolve => resolve_by_id(channel, parent).await,
        Side::Flags => {
            let request = pb::EvaluateFlagsRequest {
                parent: parent.to_owned(),
                flags: Vec::new(),
                context: Some(user_context(user)),
            };
            let answer = ConfigServiceClient::new(channel.clone())
                .evaluate_flags(authorized(request, SERVICE_TOKEN))
                .await
                .expect("evaluate flags")
                .into_inner();
            // An error would be cheap to serve; the bench measures real answers.
            assert!(answer.evaluations.iter().all(|found| found.value.is_some()));
        }
    }
}

/// `--concurrency` tasks calling `side` for `--block-ms`.
async fn block(channel: &Channel, side: Side, parent: &str, options: &Options) -> Block {
    load_calls(
        &options.load,
        channel,
        parent,
        move |channel, parent, user| async move { one_call(&channel, side, &parent, user).await },
    )
    .await
}

/// Measures one configuration; prints a table row.
async fn measure(multi_thread: bool, flags: usize, options: &Options) {
    let file = SqliteFile::new("flags");
    let server = Running::start(multi_thread, file.config());
    let channel = server.connect().await;
    let parent = tenant(&channel, flags).await;
    let baseline = options.baseline;
    let mut compared = compare(
        options.load.blocks,
        || block(&channel, baseline, &parent, options),
        || block(&channel, Side::Flags, &parent, options),
    )
    .await;
    let health_p99 = percentile(&mut compared.baseline_latencies, 0.99);
    let flags_p99 = percentile(&mut compared.measured_latencies, 0.99);
    println!(
        "| {flags} | {} | {} | {} / {health_p99} | {} / {flags_p99} | **{:.2}** | {:.0} / {:.0} | {:.0} / {:.0} |",
        runtime_name(multi_thread),
        compared.rate_cells(),
        percentile(&mut compared.baseline_latencies, 0.5),
        percentile(&mut compared.measured_latencies, 0.5),
        health_p99 as f64 / flags_p99 as f64,
        compared.server_cpu.0,
        compared.server_cpu.1,
        compared.client_cpu.0,
        compared.client_cpu.1,
    );
    drop(channel);
    drop(server);
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let options = Options::parse();
    println!(
        "EvaluateFlags vs {}, {} in flight, {} blocks of {} ms per side\n",
        match options.baseline {
            Side::Resolve => "ResolveTenant behind the same service token",
            _ => "Health/Check",
        },
        options.load.concurrency,
        options.load.blocks,
        options.load.block_ms
    );
    println!(
        "| flags per call | server runtime | {b} calls/s | EvaluateFlags calls/s | ratio (range over blocks) | {b} p50 / p99 µs | EvaluateFlags p50 / p99 µs | p99 ratio ({b} / flags) | server CPU µs per call ({b} / flags) | load generator CPU µs per call ({b} / flags) |",
        b = options.baseline.label()
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for &flags in &options.flags {
        for multi_thread in [false, true] {
            measure(multi_thread, flags, &options).await;
        }
    }
}
