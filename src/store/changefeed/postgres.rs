//! The PostgreSQL source of the change feed: one `LISTEN` connection.

use sea_orm::sqlx::PgPool;
use sea_orm::sqlx::postgres::PgListener;

use crate::error::{Error, Result};
use crate::store::changefeed::{CHANNEL, Change, ChangeFeed};

/// How long to wait before listening again after an error.
const RETRY_AFTER: std::time::Duration = std::time::Duration::from_millis(500);

pub(crate) async fn listen(feed: ChangeFeed, pool: PgPool) -> Result<tokio::task::JoinHandle<()>> {
    let mut listener = PgListener::connect_with(&pool)
        .await
        .map_err(Error::internal)?;
    listener.listen(CHANNEL).await.map_err(Error::internal)?;
    Ok(tokio::spawn(async move {
        loop {
            match listener.try_recv().await {
                Ok(Some(notification)) => {
                    if let Some(change) = feed.heard(notification.payload()) {
                        feed.publish(change);
                    }
                }
                // The connection dropped and will be re-established on the
                // next call: whatever was sent meanwhile is lost.
                Ok(None) => feed.publish(Change::Everything),
                Err(sea_orm::sqlx::Error::PoolClosed) => return,
                Err(error) => {
                    tracing::warn!(%error, "change notifications interrupted; listening again");
                    feed.publish(Change::Everything);
                    tokio::time::sleep(RETRY_AFTER).await;
                }
            }
        }
    }))
}
