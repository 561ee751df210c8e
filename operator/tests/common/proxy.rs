//! A TCP proxy in front of the test cluster that a test can sever: after
//! [`Proxy::sever`] the open connections are dropped and new ones are
//! accepted but never answered, as for an instance cut off by a network
//! partition.

use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A running proxy; dropping it stops it.
pub struct Proxy {
    /// Where clients connect.
    pub addr: SocketAddr,
    severed: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Proxy {
    /// A proxy on 127.0.0.1 forwarding to `target`.
    pub async fn start(target: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("the proxy binds");
        let addr = listener.local_addr().expect("the proxy's address");
        let severed = watch::Sender::new(false);
        let cut = severed.subscribe();
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((conn, _)) = listener.accept().await {
                if *cut.borrow() {
                    held.push(conn); // accepted, never answered
                    continue;
                }
                let mut cut = cut.clone();
                tokio::spawn(async move {
                    let Ok(mut upstream) = TcpStream::connect(target).await else {
                        return;
                    };
                    let mut conn = conn;
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut conn, &mut upstream) => {}
                        _ = cut.wait_for(|c| *c) => {}
                    }
                });
            }
        });
        Proxy {
            addr,
            severed,
            task,
        }
    }

    /// A kube client that talks through the proxy.
    pub fn client(&self) -> kube::Client {
        let uri: http::Uri = format!("http://{}", self.addr)
            .parse()
            .expect("a proxy URI");
        kube::Client::try_from(kube::Config::new(uri)).expect("a client through the proxy")
    }

    /// Cuts every connection, now and later.
    pub fn sever(&self) {
        self.severed.send_replace(true);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}
