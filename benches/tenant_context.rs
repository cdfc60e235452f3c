//! What the tenant context layer costs per call, with a warm cache.
//!
//! Two servers run inside this process on one SQLite file: the real one
//! (`server::run`) and the same stack without the layer
//! (`server::run_admitting` with `Admission::Bypassed`). Every gated case
//! is reported as a ratio against a reference case measured in the same
//! run, interleaved with it so that a noisy machine's drift lands on both:
//! call by call in the sequential phase, slice by slice under unbroken
//! load in the concurrent one, in a fresh random order every round. Case
//! 1b repeats the baseline as an A/A control: its ratio is the noise floor.
//! Every answer is checked; an unexpected status panics, so a broken server
//! cannot pass as a fast one.
//!
//! The load generator runs on a current-thread runtime on the main thread
//! and the servers on a runtime of their own, current-thread or
//! multi-thread: on a small machine the two compete for cores.
//!
//! Run: `cargo bench --bench tenant_context [-- --flavor multi-thread]`
//! (`-- --log info --metrics` for spans and metrics as in production);
//! `-- --help` lists the knobs.
//!
//! The scenarios are here; the two stacks, the interleaved phases and
//! their tables are in `benches/support/`.

mod support;
// The tests' JWKS endpoint and signing keys; the bench uses some of them.
#[allow(dead_code)]
#[path = "../tests/it/support/jwt.rs"]
mod jwt;

use std::path::Path;
use std::time::{Duration, Instant};

use clap::Parser;
use tenantd::access::gate::Call;
use tenantd::access::named_tokens::NamedToken;
use tenantd::pb;
use tenantd::pb::resolve_tenant_request::Target;
use tenantd::pb::tenant_service_client::TenantServiceClient;
use tenantd::settings::Config;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::Channel;

use support::interleave::{self, Caller, InterleaveOptions, Sequential, Shuffle, Throughput};
use support::interleave_report::{print_concurrent, print_sequential, print_verdict};
use support::stacks::{Clients, Flavors, Pair, ServerRuntime, Stack, bench_gate};
use support::{UNREACHED_BUDGET, bearer, random_token, with_credential};

/// Command-line settings; the defaults keep a full run near one minute.
#[derive(Debug, Parser)]
#[command(about = "Per-call cost of the tenant context layer, warm cache")]
struct Options {
    /// Server runtime flavour(s).
    #[arg(long, value_enum, default_value = "both")]
    flavor: Flavors,
    /// The phases' knobs.
    #[command(flatten)]
    run: InterleaveOptions,
    /// A `tracing` filter (e.g. `info`): installs a subscriber whose output
    /// is discarded, so request spans cost what they cost in production.
    /// Without it spans are disabled, on both servers alike.
    #[arg(long)]
    log: Option<String>,
    /// Serve metrics (on a spare port) as production does: every call is
    /// then counted in the call duration histogram and the per-tenant
    /// families, on both servers alike.
    #[arg(long)]
    metrics: bool,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
    /// Filters passed by `cargo bench -- NAME`; ignored.
    #[arg(hide = true)]
    filters: Vec<String>,
}

/// Which RPC a case calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rpc {
    /// `ResolveTenant { tenant_id }`: a cache hit in the handler, no SQL.
    Resolve,
    /// `GetTenant { name }`: one SQL read in the handler.
    Get,
}

/// Which bearer credential a case sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Credential {
    /// A configured service token.
    Service,
    /// A configured admin token.
    Admin,
    /// The tenant's API key, scope `tenant:read`.
    TenantKey,
    /// An end user's JWT (RS256, its key fetched once) naming the tenant,
    /// scope `tenant:read`.
    User,
}

/// One measured case; it calls the server of its stack, with its RPC and
/// credential.
type Case = interleave::Case<(Stack, Rpc, Credential)>;

const fn case(
    label: &'static str,
    stack: Stack,
    rpc: Rpc,
    credential: Credential,
    reference: Option<usize>,
) -> Case {
    let target = (stack, rpc, credential);
    Case {
        label,
        reference,
        target,
    }
}

use Credential::{Admin, Service, TenantKey, User};
use Rpc::{Get, Resolve};
use Stack::{Bypassed, Gated};

const CASE_COUNT: usize = 6;

/// The bypassed server ignores credentials; the baseline sends the service
/// token anyway, so both servers receive the same bytes.
#[rustfmt::skip]
static CASES: [Case; CASE_COUNT] = [
    case("1  bypassed ResolveTenant (baseline)", Bypassed, Resolve, Service, None),
    case("1b bypassed ResolveTenant (A/A control)", Bypassed, Resolve, Service, Some(0)),
    case("2  gated    ResolveTenant service token", Gated, Resolve, Service, Some(0)),
    case("3  gated    ResolveTenant admin token", Gated, Resolve, Admin, Some(0)),
    case("4  gated    GetTenant     admin token", Gated, Get, Admin, None),
    case("5  gated    GetTenant     tenant API key", Gated, Get, TenantKey, Some(4)),
];

/// The concurrent phase runs fast and slow calls apart: the calls a slice
/// leaves in flight spill into the next one, which should be alike.
const RESOLVE_CASES: [usize; 4] = [0, 1, 2, 3];
const GET_CASES: [usize; 2] = [4, 5];
const GROUPS: [&[usize]; 2] = [&RESOLVE_CASES, &GET_CASES];

/// The tenant every case asks about, and the credentials to ask with.
#[derive(Clone)]
struct Fixture {
    tenant_id: String,
    tenant_name: String,
    service: MetadataValue<Ascii>,
    admin: MetadataValue<Ascii>,
    key: MetadataValue<Ascii>,
    user: MetadataValue<Ascii>,
}

impl Fixture {
    fn credential(&self, credential: Credential) -> MetadataValue<Ascii> {
        match credential {
            Credential::Service => self.service.clone(),
            Credential::Admin => self.admin.clone(),
            Credential::TenantKey => self.key.clone(),
            Credential::User => self.user.clone(),
        }
    }
}

/// Makes one call of `case` and checks its answer; panics on anything else.
async fn call(client: &mut TenantServiceClient<Channel>, case: &Case, fixture: &Fixture) {
    let (_, rpc, credential) = case.target;
    let credential = fixture.credential(credential);
    let answered = match rpc {
        Rpc::Resolve => {
            let message = pb::ResolveTenantRequest {
                target: Some(Target::TenantId(fixture.tenant_id.clone())),
            };
            let answer = client.resolve_tenant(with_credential(message, credential));
            answer.await.map(|answer| answer.into_inner().tenant_id)
        }
        Rpc::Get => {
            let message = pb::GetTenantRequest {
                name: fixture.tenant_name.clone(),
            };
            let answer = client.get_tenant(with_credential(message, credential));
            answer.await.map(|answer| answer.into_inner().id)
        }
    };
    let answered_id =
        answered.unwrap_or_else(|status| panic!("{}: unexpected status {status:?}", case.label));
    assert_eq!(
        answered_id, fixture.tenant_id,
        "{}: answered another tenant",
        case.label
    );
}

/// Every case's client on one connection slot, and the fixture.
struct CaseCaller {
    clients: Vec<TenantServiceClient<Channel>>,
    fixture: Fixture,
}

impl CaseCaller {
    /// The callers of connection `slot`.
    fn of(clients: &Clients<TenantServiceClient<Channel>>, fixture: &Fixture, slot: usize) -> Self {
        Self {
            clients: CASES
                .iter()
                .map(|case| clients.of(case.target.0, slot))
                .collect(),
            fixture: fixture.clone(),
        }
    }
}

impl Caller for CaseCaller {
    async fn call(&mut self, index: usize) {
        call(&mut self.clients[index], &CASES[index], &self.fixture).await;
    }
}

/// Creates the tenant and its `tenant:read` key through the gated server.
async fn create_fixture(gated: &Channel, admin: &NamedToken, service: &NamedToken) -> Fixture {
    let mut client = TenantServiceClient::new(gated.clone());
    let create = pb::CreateTenantRequest {
        tenant: Some(pb::Tenant {
            slug: "bench-a".to_owned(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let tenant = client
        .create_tenant(with_credential(create, bearer(&admin.token)))
        .await
        .expect("create tenant A")
        .into_inner();
    let issue = pb::CreateApiKeyRequest {
        parent: tenant.name.clone(),
        api_key: Some(pb::ApiKey {
            display_name: "bench".to_owned(),
            scopes: vec!["tenant:read".to_owned()],
            ..Default::default()
        }),
    };
    let issued = client
        .create_api_key(with_credential(issue, bearer(&admin.token)))
        .await
        .expect("create an API key of tenant A")
        .into_inner();
    Fixture {
        user: bearer(&user_token(&tenant.id)),
        tenant_id: tenant.id,
        tenant_name: tenant.name,
        service: bearer(&service.token),
        admin: bearer(&admin.token),
        key: bearer(&issued.secret),
    }
}

/// A JWT of the bench's issuer for a user of tenant `id`, valid all run.
fn user_token(id: &str) -> String {
    let claims = serde_json::json!({
        "iss": jwt::ISSUER, "aud": jwt::AUDIENCE, "sub": "bench", "org_id": id,
        "roles": ["tenant:read"], "exp": jwt::now() + 24 * 3600,
    });
    let key = jwt::rsa(jwt::RSA_1);
    jwt::sign("rsa-1", jsonwebtoken::Algorithm::RS256, &key, &claims)
}

/// Proves each server is what it claims: the gated one refuses a call
/// without credentials, the bypassed one has no context to give a handler.
async fn check_servers_differ(
    mut gated: TenantServiceClient<Channel>,
    mut bypassed: TenantServiceClient<Channel>,
    fixture: &Fixture,
) {
    let resolve = pb::ResolveTenantRequest {
        target: Some(Target::TenantId(fixture.tenant_id.clone())),
    };
    let refused = gated
        .resolve_tenant(resolve)
        .await
        .expect_err("the gated server must refuse a call without credentials");
    assert_eq!(refused.code(), tonic::Code::Unauthenticated, "{refused:?}");
    let get = pb::GetTenantRequest {
        name: fixture.tenant_name.clone(),
    };
    let unguarded = bypassed
        .get_tenant(with_credential(get, fixture.admin.clone()))
        .await
        .expect_err("the bypassed server has no tenant context to give GetTenant");
    assert_eq!(unguarded.code(), tonic::Code::Internal, "{unguarded:?}");
}

/// The target: the layer adds at most this much to a trivial unary call.
const TARGET_RATIO: f64 = 1.10;

fn print_report(flavor: &str, run: &InterleaveOptions, measured: &Measured) {
    let (sequential, throughput) = (&measured.sequential, &measured.throughput);
    println!();
    println!("== server runtime: {flavor}; load generator: current_thread, same process ==");
    print_sequential(&CASES, run.calls, sequential);
    print_concurrent(&CASES, &run.load(), run.connections, throughput);
    print_admit(&measured.admit_ns);
    println!(
        "x ref: 1b, 2 and 3 against 1 (1b is the noise floor); 5 against 4 (key vs token, both gated)"
    );
    for (label, index) in [("service token", 2), ("admin token", 3)] {
        print_verdict(&CASES, label, index, TARGET_RATIO, (sequential, throughput));
    }
}

/// What `Gate::admit` alone is asked, in process: the RPC path and the
/// credential.
#[rustfmt::skip]
const ADMIT_CASES: [(&str, &str, Credential); 5] = [
    ("ResolveTenant service token", "/tenantd.v1.TenantService/ResolveTenant", Service),
    ("ResolveTenant admin token", "/tenantd.v1.TenantService/ResolveTenant", Admin),
    ("GetTenant     admin token", "/tenantd.v1.TenantService/GetTenant", Admin),
    ("GetTenant     tenant API key", "/tenantd.v1.TenantService/GetTenant", TenantKey),
    ("GetTenant     user JWT (RS256, key cached)", "/tenantd.v1.TenantService/GetTenant", User),
];

/// Nanoseconds per `Gate::admit`, without gRPC, for each of
/// [`ADMIT_CASES`]: the layer's decision apart from its plumbing (boxing,
/// header reads, the context in the request extensions). The gate reads
/// the bench database once per key and tenant, then its cache.
async fn measure_admit(
    config: &Config,
    fixture: &Fixture,
    authority: &str,
    shuffle: &mut Shuffle,
) -> [f64; 5] {
    const ROUNDS: usize = 20;
    const CALLS_PER_ROUND: usize = 5000;
    let gate = bench_gate(config).await;
    let credentials = ADMIT_CASES.map(|(_, _, credential)| fixture.credential(credential));
    let request_id = uuid::Uuid::new_v4().to_string();
    let calls: Vec<Call<'_>> = credentials
        .iter()
        .map(|credential| Call {
            authorization: Some(credential.to_str().expect("an ASCII credential")),
            authority: Some(authority),
            request_id: &request_id,
            ..Call::default()
        })
        .collect();
    interleave::in_process(shuffle, ROUNDS, CALLS_PER_ROUND, async |index| {
        let admitted = gate.admit(ADMIT_CASES[index].1, &calls[index]).await;
        std::hint::black_box(admitted).expect("the gate admits the bench's calls");
    })
    .await
}

fn print_admit(admit_ns: &[f64; 5]) {
    println!("in process, Gate::admit alone (no gRPC, no layer plumbing), warm cache:");
    for ((label, _, _), nanos) in ADMIT_CASES.iter().zip(admit_ns) {
        println!("   {label:<44} {:>8.2} us", nanos / 1e3);
    }
}

/// Settings for the servers on `database`, with fresh tokens.
fn bench_config(database: &Path, admin: &NamedToken, service: &NamedToken) -> Config {
    let mut config = Config::for_database(format!("sqlite://{}?mode=rwc", database.display()));
    config.admin_tokens = vec![admin.clone()];
    config.service_tokens = vec![service.clone()];
    config.tenant_budget = UNREACHED_BUDGET;
    config.shutdown_grace = Duration::from_secs(5);
    // Warm means warm for the whole run, whatever the knobs: no entry
    // may expire mid-measurement (changes would drop them; none happen).
    config.cache_ttl = Duration::from_secs(3600);
    config
}

/// Everything one server runtime flavour measured.
struct Measured {
    sequential: Sequential,
    throughput: Throughput,
    admit_ns: [f64; 5],
}

/// Both servers on one SQLite file in `work_dir`, with tenant A and its
/// key created through the gated one; then every phase.
async fn measure_flavor(
    runtime: &ServerRuntime,
    (run, metrics): (&InterleaveOptions, bool),
    work_dir: &Path,
) -> Measured {
    let (admin, service) = (random_token("admin"), random_token("service"));
    let mut config = bench_config(&work_dir.join("bench.db"), &admin, &service);
    if metrics {
        config.metrics.addr = Some(std::net::SocketAddr::from(([127, 0, 0, 1], 0)));
    }
    // End users' tokens name their tenant by id; their roles are scopes.
    let issuer = jwt::Issuer::start().await;
    let key = jwt::rsa(jwt::RSA_1);
    issuer.publish("rsa-1", &key, jsonwebtoken::Algorithm::RS256);
    config.jwt_issuers = vec![issuer.config(tenantd::access::jwt::TenantClaim::Id, &[])];
    let setup = async |gated: &Channel| create_fixture(gated, &admin, &service).await;
    let (pair, fixture) = Pair::start(
        runtime,
        &config,
        run.connections,
        TenantServiceClient::new,
        setup,
    )
    .await;
    let clients = &pair.clients;
    check_servers_differ(clients.of(Gated, 0), clients.of(Bypassed, 0), &fixture).await;
    let caller = |slot| CaseCaller::of(clients, &fixture, slot);
    let mut shuffle = Shuffle::new();
    let (sequential, throughput) =
        interleave::phases(caller, CASE_COUNT, &GROUPS, run, &mut shuffle).await;
    eprintln!("in process: Gate::admit");
    let authority = pair.gated.address.to_string();
    let admit_ns = measure_admit(&config, &fixture, &authority, &mut shuffle).await;
    pair.stop().await;
    Measured {
        sequential,
        throughput,
        admit_ns,
    }
}

fn main() {
    let options = Options::parse();
    options.run.check::<Options>();
    if let Some(filter) = &options.log {
        support::discard_traces(filter);
    }
    let started = Instant::now();
    options.flavor.each(
        async |runtime, work_dir| {
            measure_flavor(runtime, (&options.run, options.metrics), work_dir).await
        },
        |flavor, measured| print_report(flavor, &options.run, measured),
    );
    eprintln!("done in {:.1} s", started.elapsed().as_secs_f64());
}
