//! Generates the gRPC code and the descriptor set (served by reflection)
//! from every `.proto` file under `proto/tenantd/v1/`. The descriptor set
//! also carries `google/rpc/error_details.proto` (vendored under
//! `third_party/googleapis`), so reflection clients such as grpcurl can
//! decode the error details tenantd returns; its Rust types come from
//! `tonic-types`, not from this build. The Envoy rate limit service
//! (`third_party/envoy`, a wire-compatible subset) is compiled into the
//! same set, so reflection shows it too.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    let well_known_includes = protoc_bin_vendored::include_path()?;
    // SAFETY: build scripts are single-threaded; nothing else reads the
    // environment while this runs.
    unsafe { std::env::set_var("PROTOC", protoc) };

    let proto_dir = PathBuf::from("proto/tenantd/v1");
    let mut protos: Vec<PathBuf> = std::fs::read_dir(&proto_dir)?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "proto"))
        .collect();
    protos.sort();
    let googleapis = PathBuf::from("third_party/googleapis");
    protos.push(googleapis.join("google/rpc/error_details.proto"));
    let envoy = PathBuf::from("third_party/envoy");
    protos.push(envoy.join("envoy/service/ratelimit/v3/rls.proto"));
    println!("cargo:rerun-if-changed={}", proto_dir.display());
    println!("cargo:rerun-if-changed={}", googleapis.display());
    println!("cargo:rerun-if-changed={}", envoy.display());

    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    tonic_prost_build::configure()
        .file_descriptor_set_path(out_dir.join("tenantd_descriptor.bin"))
        // Services that a later change implements answer UNIMPLEMENTED until then.
        .generate_default_stubs(true)
        .compile_protos(
            &protos,
            &[
                PathBuf::from("proto"),
                googleapis,
                envoy,
                well_known_includes,
            ],
        )?;
    Ok(())
}
