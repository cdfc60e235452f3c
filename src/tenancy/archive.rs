//! The tenant archive: what ExportTenant produces and ImportTenant reads,
//! as plain data, with its checksums.
//!
//! An archive is a manifest (format version, tenant, isolation model,
//! template version, and each section's row count and SHA-256) followed by
//! the rows of every section, each row one JSON object as PostgreSQL's
//! `row_to_json` writes it. JSON rather than COPY text because it carries
//! column names, so an import fills columns by name, and every client can
//! read it. The archive's own checksum covers the manifest's fields and
//! section checksums, which in turn cover every row, so [`Archive::verify`]
//! finds any changed, lost or added byte before anything is written.

use sha2::{Digest, Sha256};

use crate::common::hex;
use crate::common::ids::TenantId;
use crate::error::{Error, Result};
use crate::tenancy::isolation::IsolationModel;

/// The archive format this tenantd writes and reads.
pub const FORMAT_VERSION: i32 = 1;
/// The prefix of sections holding control-plane rows.
pub const CONTROL_PREFIX: &str = "control/";
/// The prefix of sections holding a SCHEMA tenant's own tables.
pub const SCHEMA_PREFIX: &str = "schema/";

/// The rows of one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// `control/<table>` or `schema/<table>`.
    pub name: String,
    /// Each row as one JSON object.
    pub rows: Vec<String>,
}

/// What the manifest says of one section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SectionSummary {
    /// The section's name.
    pub name: String,
    /// How many rows it holds.
    pub row_count: i64,
    /// Lowercase hex SHA-256 of its rows, each followed by a newline.
    pub sha256: String,
}

/// The first chunk of an archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// The format; [`FORMAT_VERSION`] for archives this tenantd reads.
    pub format_version: i32,
    /// The exported tenant.
    pub tenant_id: TenantId,
    /// Its slug.
    pub slug: String,
    /// Its isolation model.
    pub isolation: IsolationModel,
    /// The template version of its schema (0 for POOL).
    pub template_version: i32,
    /// Every section, in the order their rows follow.
    pub sections: Vec<SectionSummary>,
}

/// A whole archive, as assembled from its chunks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Archive {
    /// What it claims to hold.
    pub manifest: Manifest,
    /// The rows, in the manifest's order.
    pub sections: Vec<Section>,
    /// The checksum the trailer carried: [`Manifest::digest`] when intact.
    pub trailer_sha256: String,
}

/// SHA-256 of `rows`, each followed by a newline.
pub fn rows_digest(rows: &[String]) -> String {
    let mut hasher = Sha256::new();
    for row in rows {
        hasher.update(row.as_bytes());
        hasher.update(b"\n");
    }
    hex(&hasher.finalize())
}

impl Manifest {
    /// The manifest of `sections` of a tenant.
    pub fn describe(tenant: (TenantId, &str, IsolationModel, i32), sections: &[Section]) -> Self {
        let (tenant_id, slug, isolation, template_version) = tenant;
        Self {
            format_version: FORMAT_VERSION,
            tenant_id,
            slug: slug.to_owned(),
            isolation,
            template_version,
            sections: sections
                .iter()
                .map(|section| SectionSummary {
                    name: section.name.clone(),
                    row_count: i64::try_from(section.rows.len()).unwrap_or(i64::MAX),
                    sha256: rows_digest(&section.rows),
                })
                .collect(),
        }
    }

    /// The archive's checksum: SHA-256 over one line per manifest field and
    /// one per section (name, row count, checksum).
    pub fn digest(&self) -> String {
        let mut text = format!(
            "tenantd-archive {}\n{}\n{}\n{}\n{}\n",
            self.format_version,
            self.tenant_id,
            self.slug,
            self.isolation.as_str(),
            self.template_version
        );
        for section in &self.sections {
            text.push_str(&format!(
                "{} {} {}\n",
                section.name, section.row_count, section.sha256
            ));
        }
        hex(&Sha256::digest(text.as_bytes()))
    }
}

/// The error of an archive that does not check out.
pub fn corrupt(description: impl Into<String>) -> Error {
    Error::invalid_field(
        "chunk",
        format!("the archive is corrupt: {}", description.into()),
    )
}

impl Archive {
    /// An archive of `sections` of a tenant, with its trailer checksum.
    pub fn new(tenant: (TenantId, &str, IsolationModel, i32), sections: Vec<Section>) -> Self {
        let manifest = Manifest::describe(tenant, &sections);
        let trailer_sha256 = manifest.digest();
        Self {
            manifest,
            sections,
            trailer_sha256,
        }
    }

    /// Checks the format version, the trailer checksum and every section's
    /// name, row count and checksum against the manifest.
    pub fn verify(&self) -> Result<()> {
        let manifest = &self.manifest;
        if manifest.format_version != FORMAT_VERSION {
            return Err(Error::invalid_field(
                "chunk.manifest.format_version",
                format!(
                    "archive format {} is not supported; this tenantd reads format {FORMAT_VERSION}",
                    manifest.format_version
                ),
            ));
        }
        if manifest.digest() != self.trailer_sha256 {
            return Err(corrupt("the trailer checksum does not match the manifest"));
        }
        if manifest.sections.len() != self.sections.len() {
            return Err(corrupt(format!(
                "the manifest lists {} sections, the archive holds {}",
                manifest.sections.len(),
                self.sections.len()
            )));
        }
        if manifest.isolation == IsolationModel::Pool
            && self
                .sections
                .iter()
                .any(|section| section.name.starts_with(SCHEMA_PREFIX))
        {
            return Err(corrupt("a POOL tenant's archive holds schema tables"));
        }
        for (summary, section) in manifest.sections.iter().zip(&self.sections) {
            let valid_name = [CONTROL_PREFIX, SCHEMA_PREFIX]
                .iter()
                .any(|prefix| section.name.starts_with(prefix));
            if summary.name != section.name || !valid_name {
                return Err(corrupt(format!(
                    "section {:?} is not the {:?} the manifest lists",
                    section.name, summary.name
                )));
            }
            let count = i64::try_from(section.rows.len()).unwrap_or(i64::MAX);
            if count != summary.row_count {
                return Err(corrupt(format!(
                    "section {} holds {count} rows, the manifest says {}",
                    section.name, summary.row_count
                )));
            }
            if rows_digest(&section.rows) != summary.sha256 {
                return Err(corrupt(format!(
                    "the rows of section {} do not match their checksum",
                    section.name
                )));
            }
        }
        Ok(())
    }

    /// The rows of the section `name`, if any.
    pub fn rows(&self, name: &str) -> &[String] {
        self.sections
            .iter()
            .find(|section| section.name == name)
            .map_or(&[], |section| section.rows.as_slice())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Archive {
        let id = TenantId::parse("0190f6a5-8e2b-7c3d-9a1b-2c3d4e5f6a7b", "id").unwrap();
        Archive::new(
            (id, "acme", IsolationModel::Schema, 2),
            vec![Section {
                name: "schema/companies".to_owned(),
                rows: vec![r#"{"id":1,"name":"a"}"#.to_owned()],
            }],
        )
    }

    #[test]
    fn an_intact_archive_verifies() {
        assert!(sample().verify().is_ok());
    }

    #[test]
    fn a_changed_row_or_lost_section_is_refused() {
        let mut changed = sample();
        changed.sections[0].rows[0] = r#"{"id":1,"name":"b"}"#.to_owned();
        assert!(changed.verify().is_err());
        let mut lost = sample();
        lost.sections.clear();
        assert!(lost.verify().is_err());
        let mut pooled = sample();
        pooled.manifest.isolation = IsolationModel::Pool;
        pooled.trailer_sha256 = pooled.manifest.digest();
        assert!(pooled.verify().is_err(), "a POOL archive with schema rows");
        let mut renamed = sample();
        renamed.manifest.slug = "other".to_owned();
        assert!(renamed.verify().is_err());
    }
}
