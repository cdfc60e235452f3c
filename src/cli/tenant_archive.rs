//! `tenantd tenants export ID > file` and `tenantd tenants import < file`:
//! the archive ExportTenant streams, written as its chunks, each a varint
//! length followed by the encoded `TenantArchiveChunk`, so any protobuf
//! library reads it.

use std::io::{Read, Write};

use prost::Message;

use crate::common::ids::TenantId;
use crate::error::{Error, Result};
use crate::tenancy::grpc::archive::{chunks, read_file};
use crate::tenancy::tenant::Tenant;
use crate::tenancy::tenant_archive::ImportOptions;
use crate::tenancy::tenants::Tenants;

/// Writes the archive of `tenant_id` to `out`; answers how many chunks.
pub async fn export(tenants: &Tenants, tenant_id: TenantId, out: impl Write) -> Result<usize> {
    let archive = tenants.export_from_command(tenant_id).await?;
    let mut out = std::io::BufWriter::new(out);
    let chunks = chunks(&archive);
    for chunk in &chunks {
        out.write_all(&chunk.encode_length_delimited_to_vec())
            .map_err(Error::internal)?;
    }
    out.flush().map_err(Error::internal)?;
    Ok(chunks.len())
}

/// Reads an archive from `input` to its end and imports it.
pub async fn import(
    tenants: &Tenants,
    options: ImportOptions,
    mut input: impl Read,
) -> Result<Tenant> {
    let mut bytes = Vec::new();
    input.read_to_end(&mut bytes).map_err(Error::internal)?;
    tenants
        .import_from_command(read_file(&bytes)?, options)
        .await
}
