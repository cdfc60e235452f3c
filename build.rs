//! Generates the gRPC code and the descriptor set (served by reflection)
//! from every `.proto` file under `proto/tenantd/v1/`. The descriptor set
//! also carries `google/rpc/error_details.proto` (vendored under
//! `third_party/googleapis`), so reflection clients such as grpcurl can
//! decode the error details tenantd returns; its Rust types come from
//! `tonic-types`, not from this build. The CloudEvents protobuf format
//! (`proto/io/cloudevents/v1`) is compiled into `crate::cloudevents`. Envoy's services come generated
//! from the `envoy-types` crate, so they are neither compiled here nor in
//! the set.

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
    // The CloudEvents protobuf format, which EventService's stream carries.
    let cloudevents = PathBuf::from("proto/io/cloudevents/v1/cloudevents.proto");
    protos.push(cloudevents.clone());
    println!("cargo:rerun-if-changed={}", proto_dir.display());
    println!("cargo:rerun-if-changed={}", cloudevents.display());
    println!("cargo:rerun-if-changed={}", googleapis.display());

    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    tonic_prost_build::configure()
        .file_descriptor_set_path(out_dir.join("tenantd_descriptor.bin"))
        // Services that a later change implements answer UNIMPLEMENTED until then.
        .generate_default_stubs(true)
        // Requests are decoded by tenantd's codec: undecodable bytes and
        // text the database cannot store are the caller's mistake.
        .codec_path("crate::rpc::codec::Codec")
        .extern_path(".io.cloudevents.v1", "crate::cloudevents")
        .compile_protos(
            &protos,
            &[
                PathBuf::from("proto"),
                googleapis,
                well_known_includes.clone(),
            ],
        )?;
    // The extern path above keeps that build from generating the CloudEvents
    // types (and it still puts them in the descriptor set); they are
    // generated alone here.
    tonic_prost_build::configure()
        .build_server(false)
        .build_client(false)
        .compile_protos(
            &[cloudevents],
            &[PathBuf::from("proto"), well_known_includes],
        )?;
    write_wire_names(&out_dir)?;
    Ok(())
}

/// Writes `wire_names.rs`: for every top-level message of `tenantd.v1`,
/// an impl of `WireName` naming its proto type, so the request codec can
/// find a decoded type's descriptor (prost's own `Name` trait is missing
/// on `()`, prost's `google.protobuf.Empty`, which some methods answer).
fn write_wire_names(out_dir: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
    use prost::Message;
    let bytes = std::fs::read(out_dir.join("tenantd_descriptor.bin"))?;
    let set = prost_types::FileDescriptorSet::decode(bytes.as_slice())?;
    let mut impls = String::new();
    for file in &set.file {
        let package = file.package();
        if package != "tenantd.v1" {
            continue;
        }
        for message in &file.message_type {
            impls.push_str(&format!(
                "impl WireName for crate::pb::{name} {{ const NAME: &'static str = \"{package}.{name}\"; }}\n",
                name = message.name(),
            ));
        }
    }
    std::fs::write(out_dir.join("wire_names.rs"), impls)?;

    // Every request type of every method served, for the fuzz target that
    // feeds arbitrary bytes to the request codec.
    let mut requests: Vec<String> = Vec::new();
    for file in &set.file {
        for method in file.service.iter().flat_map(|service| &service.method) {
            let input = method.input_type().trim_start_matches('.');
            let (package, name) = input.rsplit_once('.').unwrap_or(("", input));
            let rust = match package {
                "tenantd.v1" => format!("crate::pb::{name}"),
                "google.protobuf" if name == "Empty" => "()".to_owned(),
                _ => continue,
            };
            let entry = format!("    (\"{input}\", decode_as::<{rust}>),\n");
            if !requests.contains(&entry) {
                requests.push(entry);
            }
        }
    }
    std::fs::write(
        out_dir.join("request_decoders.rs"),
        format!(
            "/// Every request type served, with its decoder.\npub const REQUEST_DECODERS: &[(&str, Decode)] = &[\n{}];\n",
            requests.concat()
        ),
    )?;
    Ok(())
}
