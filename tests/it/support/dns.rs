//! A small authoritative DNS server on UDP `127.0.0.1:0` that answers TXT
//! queries from a table the test fills, so domain verification is tested
//! through a real resolver over a real socket.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::TXT;
use hickory_proto::rr::{RData, Record, RecordType};
use tokio::net::UdpSocket;

/// TXT records by lowercase name without the trailing dot.
type Records = Arc<Mutex<HashMap<String, Vec<String>>>>;

/// The running DNS server; stops when dropped.
pub struct TestDns {
    /// Where it listens.
    pub address: SocketAddr,
    records: Records,
    task: tokio::task::JoinHandle<()>,
}

impl TestDns {
    /// Starts an empty server.
    pub async fn start() -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind udp");
        let address = socket.local_addr().expect("udp address");
        let records: Records = Arc::default();
        let table = records.clone();
        let task = tokio::spawn(async move {
            let mut buffer = [0u8; 1500];
            while let Ok((length, peer)) = socket.recv_from(&mut buffer).await {
                if let Some(reply) = answer(&buffer[..length], &table) {
                    let _ = socket.send_to(&reply, peer).await;
                }
            }
        });
        Self {
            address,
            records,
            task,
        }
    }

    /// Publishes a TXT record at `name`.
    pub fn publish_txt(&self, name: &str, value: &str) {
        self.records
            .lock()
            .expect("records lock")
            .entry(name.trim_end_matches('.').to_ascii_lowercase())
            .or_default()
            .push(value.to_owned());
    }
}

impl Drop for TestDns {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn answer(request: &[u8], table: &Records) -> Option<Vec<u8>> {
    let request = Message::from_vec(request).ok()?;
    let mut response = Message::new();
    response
        .set_id(request.id())
        .set_message_type(MessageType::Response)
        .set_op_code(request.op_code())
        .set_authoritative(true)
        .set_recursion_desired(request.recursion_desired());
    let query = request.queries().first()?.clone();
    let name = query
        .name()
        .to_ascii()
        .trim_end_matches('.')
        .to_ascii_lowercase();
    let values = table.lock().ok()?.get(&name).cloned();
    match values {
        Some(values) if query.query_type() == RecordType::TXT => {
            for value in values {
                response.add_answer(Record::from_rdata(
                    query.name().clone(),
                    0,
                    RData::TXT(TXT::new(vec![value])),
                ));
            }
        }
        _ => {
            response.set_response_code(ResponseCode::NXDomain);
        }
    }
    response.add_query(query);
    response.to_vec().ok()
}
