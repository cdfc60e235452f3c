//! Tenant archives on the wire: an [`Archive`] cut into
//! `TenantArchiveChunk`s (manifest, rows in batches, trailer) and chunks
//! assembled back into one, refusing any that arrive out of order. The
//! same chunks, each length-delimited, are the file format of `tenantd
//! tenants export` and `import`.

use prost::Message;

use crate::common::ids::TenantId;
use crate::error::{Error, Result};
use crate::pb;
use crate::pb::tenant_archive_chunk::Kind;
use crate::tenancy::archive::{Archive, Manifest, Section, SectionSummary, corrupt};
use crate::tenancy::isolation::IsolationModel;
use crate::tenancy::tenant_archive::ImportOptions;

/// Rows per chunk at most.
const ROWS_PER_CHUNK: usize = 500;
/// Row bytes per chunk at most (a single larger row gets a chunk alone),
/// well under gRPC's default 4 MiB message limit.
const BYTES_PER_CHUNK: usize = 1 << 20;

fn manifest_message(manifest: &Manifest) -> pb::TenantArchiveManifest {
    pb::TenantArchiveManifest {
        format_version: manifest.format_version,
        tenant_id: manifest.tenant_id.to_string(),
        slug: manifest.slug.clone(),
        isolation: manifest.isolation.as_str().to_owned(),
        template_version: manifest.template_version,
        sections: manifest
            .sections
            .iter()
            .map(|section| pb::TenantArchiveSection {
                name: section.name.clone(),
                row_count: section.row_count,
                sha256: section.sha256.clone(),
            })
            .collect(),
        create_time: Some(crate::rpc::convert::timestamp(chrono::Utc::now())),
    }
}

fn chunk(kind: Kind) -> pb::TenantArchiveChunk {
    pb::TenantArchiveChunk { kind: Some(kind) }
}

/// The rows of `section` in chunks of bounded size.
fn row_chunks(section: &Section, chunks: &mut Vec<pb::TenantArchiveChunk>) {
    let mut batch = Vec::new();
    let mut bytes = 0;
    for row in &section.rows {
        if !batch.is_empty()
            && (batch.len() == ROWS_PER_CHUNK || bytes + row.len() > BYTES_PER_CHUNK)
        {
            chunks.push(chunk(Kind::Rows(pb::TenantArchiveRows {
                section: section.name.clone(),
                rows: std::mem::take(&mut batch),
            })));
            bytes = 0;
        }
        bytes += row.len();
        batch.push(row.clone());
    }
    if !batch.is_empty() {
        chunks.push(chunk(Kind::Rows(pb::TenantArchiveRows {
            section: section.name.clone(),
            rows: batch,
        })));
    }
}

/// `archive` as the chunks ExportTenant sends, in order.
pub fn chunks(archive: &Archive) -> Vec<pb::TenantArchiveChunk> {
    let mut chunks = vec![chunk(Kind::Manifest(manifest_message(&archive.manifest)))];
    for section in &archive.sections {
        row_chunks(section, &mut chunks);
    }
    chunks.push(chunk(Kind::Trailer(pb::TenantArchiveTrailer {
        sha256: archive.trailer_sha256.clone(),
    })));
    chunks
}

fn manifest_value(message: pb::TenantArchiveManifest) -> Result<Manifest> {
    let tenant_id = TenantId::parse(&message.tenant_id, "chunk.manifest.tenant_id")?;
    let isolation = IsolationModel::parse(&message.isolation).ok_or_else(|| {
        Error::invalid_field("chunk.manifest.isolation", "must be POOL or SCHEMA")
    })?;
    Ok(Manifest {
        format_version: message.format_version,
        tenant_id,
        slug: message.slug,
        isolation,
        template_version: message.template_version,
        sections: message
            .sections
            .into_iter()
            .map(|section| SectionSummary {
                name: section.name,
                row_count: section.row_count,
                sha256: section.sha256,
            })
            .collect(),
    })
}

/// Builds an [`Archive`] from chunks in ExportTenant's order.
#[derive(Debug, Default)]
pub struct Assembler {
    /// The manifest, once the first chunk came.
    manifest: Option<Manifest>,
    /// The sections whose rows came so far, in order.
    sections: Vec<Section>,
    /// The trailer's checksum, once the last chunk came.
    trailer: Option<String>,
}

impl Assembler {
    /// Takes the next chunk.
    pub fn push(&mut self, message: pb::TenantArchiveChunk) -> Result<()> {
        if self.trailer.is_some() {
            return Err(corrupt("chunks follow its trailer"));
        }
        match message.kind {
            Some(Kind::Manifest(manifest)) if self.manifest.is_none() => {
                self.manifest = Some(manifest_value(manifest)?);
            }
            Some(Kind::Manifest(_)) => return Err(corrupt("it holds a second manifest")),
            _ if self.manifest.is_none() => {
                return Err(corrupt("its first chunk is not a manifest"));
            }
            Some(Kind::Rows(rows)) => self.rows(rows)?,
            Some(Kind::Trailer(trailer)) => self.trailer = Some(trailer.sha256),
            None => return Err(corrupt("a chunk carries nothing")),
        }
        Ok(())
    }

    fn rows(&mut self, rows: pb::TenantArchiveRows) -> Result<()> {
        if let Some(last) = self.sections.last_mut()
            && last.name == rows.section
        {
            last.rows.extend(rows.rows);
            return Ok(());
        }
        if self
            .sections
            .iter()
            .any(|section| section.name == rows.section)
        {
            return Err(corrupt(format!(
                "rows of section {} come out of order",
                rows.section
            )));
        }
        self.sections.push(Section {
            name: rows.section,
            rows: rows.rows,
        });
        Ok(())
    }

    /// The archive, once every chunk came; sections without rows, which
    /// send no chunk, are filled in from the manifest. Not yet verified.
    pub fn finish(self) -> Result<Archive> {
        let (Some(manifest), Some(trailer_sha256)) = (self.manifest, self.trailer) else {
            return Err(corrupt("it ends before its trailer (truncated)"));
        };
        let mut received = self.sections.into_iter().peekable();
        let mut sections = Vec::with_capacity(manifest.sections.len());
        for summary in &manifest.sections {
            match received.peek() {
                Some(section) if section.name == summary.name => {
                    sections.extend(received.next());
                }
                _ => sections.push(Section {
                    name: summary.name.clone(),
                    rows: Vec::new(),
                }),
            }
        }
        if let Some(extra) = received.next() {
            return Err(corrupt(format!(
                "section {} is not in its manifest, or out of order",
                extra.name
            )));
        }
        Ok(Archive {
            manifest,
            sections,
            trailer_sha256,
        })
    }
}

/// Assembles the archive file `bytes` (length-delimited chunks, as
/// `tenantd tenants export` writes them); not yet verified.
pub fn read_file(mut bytes: &[u8]) -> Result<Archive> {
    let mut assembler = Assembler::default();
    while !bytes.is_empty() {
        let chunk = pb::TenantArchiveChunk::decode_length_delimited(&mut bytes)
            .map_err(|error| corrupt(format!("a chunk does not decode ({error}); truncated?")))?;
        assembler.push(chunk)?;
    }
    assembler.finish()
}

/// Reads an ImportTenant stream to its end: the options of its first
/// message and the assembled (not yet verified) archive.
pub async fn receive_import(
    mut stream: tonic::Streaming<pb::ImportTenantRequest>,
) -> Result<(ImportOptions, Archive)> {
    let mut assembler = Assembler::default();
    let mut options = None;
    while let Some(message) = stream
        .message()
        .await
        .map_err(|status| Error::Unavailable {
            message: format!("the import stream broke off: {}", status.message()),
        })?
    {
        if options.is_none() {
            options = Some(import_options(&message)?);
        }
        if let Some(chunk) = message.chunk {
            assembler.push(chunk)?;
        }
    }
    Ok((options.unwrap_or_default(), assembler.finish()?))
}

/// The options of an ImportTenant stream's first message.
pub fn import_options(message: &pb::ImportTenantRequest) -> Result<ImportOptions> {
    let tenant_id = (!message.tenant_id.is_empty())
        .then(|| TenantId::parse(&message.tenant_id, "tenant_id"))
        .transpose()?;
    let slug = (!message.slug.is_empty()).then(|| message.slug.clone());
    Ok(ImportOptions { tenant_id, slug })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_assemble_into_the_same_archive() {
        let id = TenantId::parse("0190f6a5-8e2b-7c3d-9a1b-2c3d4e5f6a7b", "id").unwrap();
        let rows: Vec<String> = (0..1200).map(|n| format!("{{\"id\":{n}}}")).collect();
        let archive = Archive::new(
            (id, "acme", IsolationModel::Schema, 2),
            vec![
                Section {
                    name: "control/api_keys".to_owned(),
                    rows: Vec::new(),
                },
                Section {
                    name: "schema/companies".to_owned(),
                    rows,
                },
            ],
        );
        let sent = chunks(&archive);
        assert_eq!(sent.len(), 1 + 3 + 1);
        let mut assembler = Assembler::default();
        for chunk in sent.iter().cloned() {
            assembler.push(chunk).unwrap();
        }
        let received = assembler.finish().unwrap();
        assert_eq!(received, archive);
        received.verify().unwrap();

        let mut truncated = Assembler::default();
        for chunk in sent.into_iter().take(3) {
            truncated.push(chunk).unwrap();
        }
        assert!(truncated.finish().is_err());
    }
}
