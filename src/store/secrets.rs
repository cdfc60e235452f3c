//! Secrets tenantd keeps in its own database (`server_secrets`): the
//! page-token key, generated once by a migration, so every replica serving
//! the database signs page tokens alike without any configuration. The
//! serving role may read the table and nothing more.

use sea_orm::{ConnectionTrait, Statement};

use crate::common::paging::{PageTokenKey, PageTokens};
use crate::error::{Error, Result};
use crate::store::Store;

/// The stored page-token key's row. A constant, so it is written into the
/// SQL directly.
const PAGE_TOKEN_KEY_QUERY: &str = "SELECT value FROM server_secrets WHERE name = 'page_token_key'";

impl Store {
    /// This store, signing page tokens with `configured`, or with the key
    /// stored in the database when none is configured.
    pub async fn with_page_token_key(mut self, configured: Option<&PageTokenKey>) -> Result<Self> {
        self.page_tokens = match configured {
            Some(key) => PageTokens::new(key.as_bytes())?,
            None => PageTokens::new(self.stored_page_token_key().await?.as_bytes())?,
        };
        Ok(self)
    }

    /// What signs and checks page tokens.
    pub fn page_tokens(&self) -> &PageTokens {
        &self.page_tokens
    }

    async fn stored_page_token_key(&self) -> Result<String> {
        let row = self
            .db
            .query_one_raw(Statement::from_string(self.backend(), PAGE_TOKEN_KEY_QUERY))
            .await?
            .ok_or_else(|| Error::internal("the database holds no page-token key"))?;
        let key: String = row.try_get("", "value")?;
        Ok(key)
    }
}
