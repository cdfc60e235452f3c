# syntax=docker/dockerfile:1
#
# tenantd container image.
#
#   docker build -t tenantd:0.1.0 .
#   docker run --rm -p 50051:50051 tenantd:0.1.0
#
# Stages:
#   chef     Rust toolchain (>= 1.94, the crate's rust-version) plus cargo-chef.
#   planner  Reduces the workspace to a dependency recipe (Cargo.toml files and
#            Cargo.lock): it only changes when dependencies change.
#   builder  Builds the dependencies from the recipe (a cached layer), then the
#            tenantd binary from the real sources.
#   runtime  Distroless (glibc, CA certificates, no shell), non-root.
#
# protoc comes from the protoc-bin-vendored crate: no system protoc is needed.

ARG RUST_VERSION=1.94

# ---------------------------------------------------------------------------
FROM rust:${RUST_VERSION}-bookworm AS chef
ARG CARGO_CHEF_VERSION=0.1.78
RUN cargo install cargo-chef --locked --version "${CARGO_CHEF_VERSION}"
WORKDIR /build

# ---------------------------------------------------------------------------
FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

# ---------------------------------------------------------------------------
FROM chef AS builder
COPY --from=planner /build/recipe.json recipe.json
# Dependencies only: this layer is reused until Cargo.toml/Cargo.lock change.
RUN cargo chef cook --release --locked --recipe-path recipe.json --bin tenantd

# The workspace: the root package (with its build script, the protos and the
# vendored googleapis and Envoy protos it compiles), the migrations member
# crate and the tenant template (SQL under migrations/, embedded), the
# configuration schema the binary embeds (config/schema.json), and the
# benches, which Cargo.toml declares, so cargo must find them to read the
# manifest. CI's .ci/docker-context builds from exactly these paths.
COPY Cargo.toml Cargo.lock build.rs ./
COPY proto/ proto/
COPY third_party/ third_party/
COPY migrations/ migrations/
COPY config/ config/
COPY benches/ benches/
COPY src/ src/
# /out/data becomes the runtime image's working directory: the embedded
# SQLite default (sqlite://tenantd.db?mode=rwc) is created there. Distroless
# has no shell, so the directory is made here and copied with its owner.
RUN cargo build --release --locked --bin tenantd \
 && install -D -m 0755 target/release/tenantd /out/usr/local/bin/tenantd \
 && install -d -m 0750 /out/data

# ---------------------------------------------------------------------------
FROM gcr.io/distroless/cc-debian12:nonroot AS runtime

LABEL org.opencontainers.image.title="tenantd" \
      org.opencontainers.image.description="Tenant control plane for a fleet of internal microservices" \
      org.opencontainers.image.licenses="Apache-2.0"

COPY --from=builder /out/usr/local/bin/tenantd /usr/local/bin/tenantd
COPY --from=builder --chown=65532:65532 /out/data /data

WORKDIR /data
# nonroot:nonroot in distroless.
USER 65532:65532

ENV TENANTD_LISTEN_ADDR=0.0.0.0:50051 \
    TENANTD_LOG_FORMAT=json

# gRPC (tenantd.v1 services, grpc.health.v1.Health, server reflection).
EXPOSE 50051

ENTRYPOINT ["/usr/local/bin/tenantd"]
CMD ["serve"]
