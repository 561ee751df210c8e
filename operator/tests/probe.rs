//! `aegis-operator probe URL`, the chart's `helm test` hook (the image has
//! no shell or curl): against a real HTTP server it exits 0 on 200 and 1 on
//! 503 with the status and body on stderr; an unreachable port or an
//! unresolvable host exits 1 naming the URL; bad arguments exit 2.

use std::net::SocketAddr;

use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use tokio::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_aegis-operator");

/// A server answering `/readyz` with 200 and `/down` with 503.
async fn serve() -> SocketAddr {
    let app = Router::new()
        .route("/readyz", get(|| async { "ok" }))
        .route(
            "/down",
            get(|| async { (StatusCode::SERVICE_UNAVAILABLE, "not leading") }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind an ephemeral port");
    let addr = listener.local_addr().expect("its address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}

/// Runs `aegis-operator probe <args>`: exit code, stdout, stderr.
async fn probe(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(BIN)
        .arg("probe")
        .args(args)
        .output()
        .await
        .expect("the binary runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_exits_0_on_2xx_and_1_on_other_statuses() {
    let addr = serve().await;
    let ok_url = format!("http://{addr}/readyz");
    let (code, stdout, stderr) = probe(&[&ok_url]).await;
    assert_eq!(code, Some(0), "{ok_url}: {stdout}{stderr}");
    assert!(stdout.contains("200"), "{stdout}");

    // The same server through "localhost" (a resolved name) and in brackets.
    let by_name = format!("http://localhost:{}/readyz", addr.port());
    let (code, _, stderr) = probe(&[&by_name]).await;
    assert_eq!(code, Some(0), "{by_name}: {stderr}");
    let bracketed = format!("http://[127.0.0.1]:{}/readyz", addr.port());
    let (code, _, stderr) = probe(&[&bracketed]).await;
    assert_eq!(code, Some(0), "{bracketed}: {stderr}");

    let down_url = format!("http://{addr}/down");
    let (code, _, stderr) = probe(&[&down_url]).await;
    assert_eq!(code, Some(1), "{down_url}: {stderr}");
    assert!(
        stderr.contains("503") && stderr.contains("not leading") && stderr.contains(&down_url),
        "the status, the body and the URL are named: {stderr}"
    );
    let missing = format!("http://{addr}/nowhere");
    let (code, _, stderr) = probe(&[&missing]).await;
    assert_eq!(code, Some(1), "{missing}: {stderr}");
    assert!(stderr.contains("404"), "{stderr}");
}

#[tokio::test]
async fn probe_exits_1_naming_an_unreachable_port_or_host() {
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("its address")
    };
    let url = format!("http://{closed}/readyz");
    let (code, _, stderr) = probe(&[&url]).await;
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains(&url) && stderr.contains("connect"),
        "the URL and the failed connect are named: {stderr}"
    );

    let (code, _, stderr) = probe(&["http://no-such-host.invalid:8080/readyz"]).await;
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("no-such-host.invalid"), "{stderr}");
}

#[tokio::test]
async fn probe_exits_2_on_bad_arguments() {
    for (args, named) in [
        (vec![], "exactly one URL"),
        (vec!["http://a/", "http://b/"], "got 2"),
        (vec!["https://127.0.0.1/readyz"], "only http://"),
        (vec!["http://127.0.0.1:http/readyz"], "port"),
    ] {
        let (code, _, stderr) = probe(&args).await;
        assert_eq!(code, Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(named), "{args:?}: {stderr}");
    }
}
