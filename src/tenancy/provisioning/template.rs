//! The tenant template: versioned SQL files `NNNN_name.sql` applied, in
//! order, to every SCHEMA tenant's schema. File `0001_…` is version 1, and
//! versions run 1, 2, 3… without gaps, so "the newest version applied"
//! says exactly which files a schema has.
//!
//! The default template (`migrations/tenant/`) is compiled into the binary
//! so tenantd runs anywhere; operators point `--tenant-template-dir` at
//! their own directory instead.

use std::path::Path;

use crate::error::{Error, Result};

/// One file of the template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateFile {
    /// Its version, the number its name starts with.
    pub version: i32,
    /// Its file name, e.g. `0001_catalogue.sql`, as recorded in each
    /// schema's version table.
    pub name: String,
    /// The SQL, run as one transaction.
    pub sql: String,
}

/// Every file of a template, ordered by version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    /// Files 1..=n.
    files: Vec<TemplateFile>,
}

/// The example SaaS template shipped in `migrations/tenant/`.
const EMBEDDED: &[(&str, &str)] = &[
    (
        "0001_catalogue.sql",
        include_str!("../../../migrations/tenant/0001_catalogue.sql"),
    ),
    (
        "0002_operations.sql",
        include_str!("../../../migrations/tenant/0002_operations.sql"),
    ),
];

impl Template {
    /// The template compiled into the binary.
    pub fn embedded() -> Result<Self> {
        Self::from_files(
            EMBEDDED
                .iter()
                .map(|(name, sql)| ((*name).to_owned(), (*sql).to_owned()))
                .collect(),
        )
    }

    /// The `NNNN_name.sql` files of `directory`; other files are ignored.
    pub fn from_dir(directory: &Path) -> Result<Self> {
        let unreadable = |error: std::io::Error| {
            Error::invalid_field(
                "tenant-template-dir",
                format!("cannot read {}: {error}", directory.display()),
            )
        };
        let mut files = Vec::new();
        for entry in std::fs::read_dir(directory).map_err(unreadable)? {
            let path = entry.map_err(unreadable)?.path();
            let Some(name) = path.file_name().and_then(|name| name.to_str()) else {
                continue;
            };
            if name.ends_with(".sql") {
                let sql = std::fs::read_to_string(&path).map_err(unreadable)?;
                files.push((name.to_owned(), sql));
            }
        }
        Self::from_files(files)
    }

    /// Checks names and numbering: versions must be 1, 2, 3… exactly once.
    fn from_files(named: Vec<(String, String)>) -> Result<Self> {
        let mut files = named
            .into_iter()
            .map(|(name, sql)| {
                let version = file_version(&name)?;
                Ok(TemplateFile { version, name, sql })
            })
            .collect::<Result<Vec<_>>>()?;
        files.sort_by_key(|file| file.version);
        for (position, file) in files.iter().enumerate() {
            if i32::try_from(position + 1).ok() != Some(file.version) {
                return Err(Error::invalid_field(
                    "tenant-template-dir",
                    format!(
                        "template files must be numbered 0001, 0002, … without gaps or repeats; {} is out of sequence",
                        file.name
                    ),
                ));
            }
        }
        Ok(Self { files })
    }

    /// The newest version: what a fully migrated schema stands at.
    pub fn latest_version(&self) -> i32 {
        self.files.last().map_or(0, |file| file.version)
    }

    /// The files a schema at `version` still lacks, in order.
    pub fn pending_after(&self, version: i32) -> &[TemplateFile] {
        let applied = self.files.partition_point(|file| file.version <= version);
        &self.files[applied..]
    }
}

/// The version of `NNNN_name.sql`: four digits, `_`, then lowercase
/// letters, digits or `_`.
fn file_version(name: &str) -> Result<i32> {
    let stem = name.strip_suffix(".sql").unwrap_or(name);
    let well_formed = stem.len() > 5
        && stem.as_bytes()[..4].iter().all(u8::is_ascii_digit)
        && stem.as_bytes()[4] == b'_'
        && stem[5..]
            .bytes()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_');
    if !well_formed {
        return Err(Error::invalid_field(
            "tenant-template-dir",
            format!("{name} is not named NNNN_name.sql (four digits, `_`, lowercase name)"),
        ));
    }
    stem[..4]
        .parse()
        .map_err(|_| Error::invalid_field("tenant-template-dir", format!("{name}: bad number")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_template_is_numbered() {
        let template = Template::embedded().unwrap();
        assert_eq!(template.latest_version(), 2);
        assert_eq!(template.pending_after(1).len(), 1);
        assert_eq!(template.pending_after(2).len(), 0);
        assert_eq!(template.pending_after(0)[0].name, "0001_catalogue.sql");
    }

    #[test]
    fn gaps_and_bad_names_are_refused() {
        let file = |name: &str| (name.to_owned(), String::new());
        assert!(Template::from_files(vec![file("0001_a.sql"), file("0003_c.sql")]).is_err());
        assert!(Template::from_files(vec![file("0001_a.sql"), file("0001_b.sql")]).is_err());
        assert!(Template::from_files(vec![file("1_a.sql")]).is_err());
        assert!(Template::from_files(vec![file("0001_A.sql")]).is_err());
        assert!(Template::from_files(vec![file("0002_b.sql"), file("0001_a.sql")]).is_ok());
    }
}
