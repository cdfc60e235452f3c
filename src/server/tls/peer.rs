//! What tenantd knows of the other end of a connection, for the layers to
//! read from a request's extensions: its address over plaintext and TLS
//! alike ([`remote_addr`]), and the service its client certificate maps to
//! ([`peer_service`]), found once at the handshake rather than on every
//! call.
//!
//! tonic puts the [`Connected::connect_info`] of a connection into every
//! request: a [`TcpConnectInfo`] for plaintext and, for TLS, the
//! [`TlsPeer`] of [`TlsPeerStream`]. tonic's own `Request::remote_addr`
//! does not know [`TlsPeer`]: read the address with [`remote_addr`].

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tonic::transport::server::{Connected, TcpConnectInfo};

use crate::server::tls::identity::ClientServices;

/// The connect info of a TLS connection.
#[derive(Debug, Clone)]
pub struct TlsPeer {
    /// The TCP connection under TLS.
    tcp: TcpConnectInfo,
    /// The service the client's verified certificate maps to.
    service: Option<Arc<str>>,
}

/// The address of the client that sent the request with `extensions`, over
/// plaintext or TLS.
pub fn remote_addr(extensions: &http::Extensions) -> Option<SocketAddr> {
    extensions
        .get::<TcpConnectInfo>()
        .and_then(TcpConnectInfo::remote_addr)
        .or_else(|| extensions.get::<TlsPeer>()?.tcp.remote_addr())
}

/// The service whose verified client certificate the connection of the
/// request with `extensions` presented; `None` without TLS, without a
/// client certificate, or for a certificate no service is mapped to.
pub fn peer_service(extensions: &http::Extensions) -> Option<&Arc<str>> {
    extensions.get::<TlsPeer>()?.service.as_ref()
}

/// A TLS connection whose peer has been identified.
pub struct TlsPeerStream {
    /// The connection.
    stream: TlsStream<TcpStream>,
    /// Who is at the other end.
    peer: TlsPeer,
}

impl TlsPeerStream {
    /// The connection `stream` after its handshake, its client certificate
    /// (verified by rustls) looked up in `services`.
    pub fn new(stream: TlsStream<TcpStream>, services: &ClientServices) -> Self {
        let (tcp, session) = stream.get_ref();
        let tcp = tcp.connect_info();
        let service = session
            .peer_certificates()
            .and_then(|chain| chain.first())
            .and_then(|leaf| services.service_of(leaf));
        Self {
            stream,
            peer: TlsPeer { tcp, service },
        }
    }
}

impl Connected for TlsPeerStream {
    type ConnectInfo = TlsPeer;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.peer.clone()
    }
}

impl AsyncRead for TlsPeerStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsPeerStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_address_is_read_over_plaintext_and_tls() {
        let address: SocketAddr = "192.0.2.7:4242".parse().expect("address");
        let tcp = TcpConnectInfo {
            local_addr: None,
            remote_addr: Some(address),
        };
        let mut plaintext = http::Extensions::new();
        plaintext.insert(tcp.clone());
        assert_eq!(remote_addr(&plaintext), Some(address));
        assert_eq!(peer_service(&plaintext), None);
        let mut tls = http::Extensions::new();
        tls.insert(TlsPeer {
            tcp,
            service: Some(Arc::from("billing")),
        });
        assert_eq!(remote_addr(&tls), Some(address));
        assert_eq!(peer_service(&tls).map(|name| &**name), Some("billing"));
        assert_eq!(remote_addr(&http::Extensions::new()), None);
    }
}
