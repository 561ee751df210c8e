//! The arguments of `aegis-operator run`, with their environment fallbacks.

use std::net::SocketAddr;

use crate::leader::settings::DEFAULT_LEASE_NAME;
use crate::server::DEFAULT_HTTP_ADDR;

/// The environment variable naming the engine image when `--image` is not
/// given (manifests/operator.yaml sets it).
pub const ENGINE_IMAGE_ENV: &str = "AEGIS_ENGINE_IMAGE";
/// The environment variable naming the Lease's namespace when
/// `--lease-namespace` is not given (the pod's own, by the downward API).
pub const POD_NAMESPACE_ENV: &str = "POD_NAMESPACE";

/// The usage text.
pub const USAGE: &str = "usage: aegis-operator crd    print the TradingEngine CRD as YAML
       aegis-operator run [--image IMAGE] [--http-addr ADDR] [--no-leader-elect]
                          [--lease-name NAME] [--lease-namespace NS]
         --image            the engine image (default $AEGIS_ENGINE_IMAGE)
         --http-addr        /healthz /readyz /metrics /status (default 0.0.0.0:8080)
         --no-leader-elect  reconcile without a Lease (one instance only)
         --lease-name       the leader Lease (default aegis-operator)
         --lease-namespace  its namespace (default $POD_NAMESPACE, else the kubeconfig's)";

/// What `aegis-operator run` was asked to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunArgs {
    /// The engine image.
    pub image: String,
    /// Where the HTTP endpoints listen.
    pub http_addr: SocketAddr,
    /// Whether to elect a leader with a Lease.
    pub leader_elect: bool,
    /// The Lease's name.
    pub lease_name: String,
    /// The Lease's namespace (`None`: the client's default namespace).
    pub lease_namespace: Option<String>,
}

/// An argument that cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ArgError {
    /// A flag without its value.
    #[error("{0} needs a value")]
    MissingValue(String),
    /// A flag with an empty value.
    #[error("{0} must not be empty")]
    Empty(String),
    /// Not a socket address.
    #[error("--http-addr {value:?} is not an address like 0.0.0.0:8080: {why}")]
    BadAddr {
        /// The value given.
        value: String,
        /// The parser's complaint.
        why: String,
    },
    /// An argument run does not know.
    #[error("unknown argument {0:?}")]
    Unknown(String),
    /// No image from `--image` or the environment.
    #[error("run needs --image IMAGE or ${ENGINE_IMAGE_ENV}")]
    NoImage,
}

/// Parses the arguments after `run`; `env` reads the environment.
pub fn parse_run(
    args: &[String],
    env: impl Fn(&str) -> Option<String>,
) -> Result<RunArgs, ArgError> {
    let mut image = None;
    let mut http_addr = None;
    let mut leader_elect = true;
    let mut lease_name = None;
    let mut lease_namespace = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
            _ => (arg.as_str(), None),
        };
        if flag == "--no-leader-elect" && inline.is_none() {
            leader_elect = false;
            continue;
        }
        let slot = match flag {
            "--image" => &mut image,
            "--http-addr" => &mut http_addr,
            "--lease-name" => &mut lease_name,
            "--lease-namespace" => &mut lease_namespace,
            _ => return Err(ArgError::Unknown(arg.clone())),
        };
        let value = match inline {
            Some(v) => v,
            None => it
                .next()
                .cloned()
                .ok_or_else(|| ArgError::MissingValue(flag.to_string()))?,
        };
        if value.is_empty() {
            return Err(ArgError::Empty(flag.to_string()));
        }
        *slot = Some(value);
    }
    let non_empty = |v: Option<String>| v.filter(|v| !v.is_empty());
    let image = image
        .or_else(|| non_empty(env(ENGINE_IMAGE_ENV)))
        .ok_or(ArgError::NoImage)?;
    let addr_text = http_addr.unwrap_or_else(|| DEFAULT_HTTP_ADDR.to_string());
    let http_addr = addr_text
        .parse()
        .map_err(|e: std::net::AddrParseError| ArgError::BadAddr {
            value: addr_text.clone(),
            why: e.to_string(),
        })?;
    Ok(RunArgs {
        image,
        http_addr,
        leader_elect,
        lease_name: lease_name.unwrap_or_else(|| DEFAULT_LEASE_NAME.to_string()),
        lease_namespace: lease_namespace.or_else(|| non_empty(env(POD_NAMESPACE_ENV))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn defaults_and_environment_fallbacks() {
        let env = |k: &str| match k {
            "AEGIS_ENGINE_IMAGE" => Some("img:1".to_string()),
            "POD_NAMESPACE" => Some("aegis-system".to_string()),
            _ => None,
        };
        let run = parse_run(&[], env).expect("valid");
        assert_eq!(run.image, "img:1");
        assert_eq!(run.http_addr, "0.0.0.0:8080".parse().expect("addr"));
        assert!(run.leader_elect);
        assert_eq!(run.lease_name, "aegis-operator");
        assert_eq!(run.lease_namespace.as_deref(), Some("aegis-system"));
    }

    #[test]
    fn flags_win_over_the_environment() {
        let env = |_: &str| Some("from-env".to_string());
        let run = parse_run(
            &args(&[
                "--image",
                "img:2",
                "--http-addr=127.0.0.1:0",
                "--no-leader-elect",
                "--lease-name",
                "l",
                "--lease-namespace",
                "ns",
            ]),
            env,
        )
        .expect("valid");
        assert_eq!(run.image, "img:2");
        assert_eq!(run.http_addr.port(), 0);
        assert!(!run.leader_elect);
        assert_eq!(run.lease_name, "l");
        assert_eq!(run.lease_namespace.as_deref(), Some("ns"));
    }

    #[test]
    fn bad_arguments_are_named() {
        let err = |a: &[&str]| parse_run(&args(a), no_env).unwrap_err().to_string();
        assert!(err(&["--image"]).contains("--image needs a value"));
        assert!(
            err(&["--image", "i", "--http-addr", "nowhere"]).contains("--http-addr \"nowhere\"")
        );
        assert!(err(&["--image", "i", "--bogus"]).contains("\"--bogus\""));
        assert!(err(&["--image", ""]).contains("--image must not be empty"));
        assert!(err(&[]).contains("AEGIS_ENGINE_IMAGE"));
        assert!(err(&["--image", "i", "--no-leader-elect=yes"]).contains("--no-leader-elect"));
    }
}
