//! The arguments of `aegis-operator run`, with their environment fallbacks.

use std::net::SocketAddr;

use crate::consent::images::{split_list, AllowListError};
use crate::leader::settings::DEFAULT_LEASE_NAME;
use crate::server::DEFAULT_HTTP_ADDR;

/// The environment variable naming the engine image when `--image` is not
/// given (manifests/operator.yaml sets it).
pub const ENGINE_IMAGE_ENV: &str = "AEGIS_ENGINE_IMAGE";
/// The environment variable holding the image allow-list when
/// `--allowed-images` is not given (the chart sets it).
pub const ALLOWED_IMAGES_ENV: &str = "AEGIS_ALLOWED_IMAGES";
/// The environment variable naming the Lease's namespace when
/// `--lease-namespace` is not given (the pod's own, by the downward API).
pub const POD_NAMESPACE_ENV: &str = "POD_NAMESPACE";

/// The usage text.
pub const USAGE: &str = "usage: aegis-operator crd    print the TradingEngine CRD as YAML
       aegis-operator probe URL
         GET http://HOST[:PORT][/PATH] (HOST: a name, an IPv4 address, or any IP
         address in brackets); exit 0 on a 2xx answer, 1 otherwise
       aegis-operator run [--image IMAGE] [--allowed-images LIST] [--http-addr ADDR]
                          [--no-leader-elect] [--lease-name NAME] [--lease-namespace NS]
         --image            the engine image (default $AEGIS_ENGINE_IMAGE)
         --allowed-images   image repository prefixes a TradingEngine's spec.image may
                            name, comma-separated (default $AEGIS_ALLOWED_IMAGES; the
                            engine image's repository is always allowed)
         --http-addr        /healthz /readyz /metrics /status (default 0.0.0.0:8080)
         --no-leader-elect  reconcile without a Lease (one instance only)
         --lease-name       the leader Lease (default aegis-operator)
         --lease-namespace  its namespace (default $POD_NAMESPACE, else the kubeconfig's)";

/// What `aegis-operator run` was asked to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunArgs {
    /// The engine image.
    pub image: String,
    /// Image repository prefixes besides the engine image's (checked).
    pub allowed_images: Vec<String>,
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
    /// An allow-list entry that is not an image repository prefix.
    #[error("--allowed-images (or ${ALLOWED_IMAGES_ENV}): {0}")]
    AllowedImages(#[from] AllowListError),
    /// No image from `--image` or the environment.
    #[error("run needs --image IMAGE or ${ENGINE_IMAGE_ENV}")]
    NoImage,
}

/// What `aegis-operator probe URL` fetches: the image is FROM scratch, so
/// the chart's `helm test` hook runs this instead of curl.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeArgs {
    /// The host name or IP address (without brackets).
    pub host: String,
    /// The port (80 when the URL names none).
    pub port: u16,
    /// The path and query (`/` when the URL names none).
    pub path: String,
}

impl ProbeArgs {
    /// The URL again, for messages.
    pub fn url(&self) -> String {
        if self.host.contains(':') {
            format!("http://[{}]:{}{}", self.host, self.port, self.path)
        } else {
            format!("http://{}:{}{}", self.host, self.port, self.path)
        }
    }
}

/// A URL `probe` cannot fetch.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProbeArgError {
    /// Not exactly one argument.
    #[error("probe takes exactly one URL, got {0} arguments")]
    Count(usize),
    /// The URL is not `http://HOST[:PORT][/PATH]`.
    #[error("probe URL {url:?} is not http://HOST[:PORT][/PATH]: {why}")]
    BadUrl {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        why: String,
    },
}

/// Parses the arguments after `probe`: exactly one `http://` URL.
pub fn parse_probe(args: &[String]) -> Result<ProbeArgs, ProbeArgError> {
    let [url] = args else {
        return Err(ProbeArgError::Count(args.len()));
    };
    let bad = |why: &str| ProbeArgError::BadUrl {
        url: url.clone(),
        why: why.to_string(),
    };
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| bad("only http:// is supported"))?;
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) if rest[i..].starts_with('/') => (&rest[..i], rest[i..].to_string()),
        Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
        None => (rest, "/".to_string()),
    };
    if authority.contains('@') {
        return Err(bad("user information is not supported"));
    }
    let (host, port) = match authority.strip_prefix('[') {
        Some(bracketed) => {
            let (ip, after) = bracketed
                .split_once(']')
                .ok_or_else(|| bad("'[' without ']'"))?;
            ip.parse::<std::net::IpAddr>()
                .map_err(|_| bad("only an IP address may stand in brackets"))?;
            let port = match after {
                "" => None,
                p => Some(p.strip_prefix(':').ok_or_else(|| bad("junk after ']'"))?),
            };
            (ip, port)
        }
        None => match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    if host.is_empty() {
        return Err(bad("no host"));
    }
    let port = match port {
        None => 80,
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| bad("the port is not a number from 1 to 65535"))?,
    };
    Ok(ProbeArgs {
        host: host.to_string(),
        port,
        path,
    })
}

/// Parses the arguments after `run`; `env` reads the environment.
pub fn parse_run(
    args: &[String],
    env: impl Fn(&str) -> Option<String>,
) -> Result<RunArgs, ArgError> {
    let mut image = None;
    let mut allowed_images = None;
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
            "--allowed-images" => &mut allowed_images,
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
    let allowed_images = split_list(
        &allowed_images
            .or_else(|| env(ALLOWED_IMAGES_ENV))
            .unwrap_or_default(),
    )?;
    let addr_text = http_addr.unwrap_or_else(|| DEFAULT_HTTP_ADDR.to_string());
    let http_addr = addr_text
        .parse()
        .map_err(|e: std::net::AddrParseError| ArgError::BadAddr {
            value: addr_text.clone(),
            why: e.to_string(),
        })?;
    Ok(RunArgs {
        image,
        allowed_images,
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
        assert!(run.allowed_images.is_empty());
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
    fn the_image_allow_list_comes_from_the_flag_or_the_environment() {
        let env = |k: &str| match k {
            "AEGIS_ALLOWED_IMAGES" => Some("registry.example.com/aegis/, ghcr.io/x".to_string()),
            _ => None,
        };
        let run = parse_run(&args(&["--image", "i:1"]), env).expect("valid");
        assert_eq!(
            run.allowed_images,
            ["registry.example.com/aegis/", "ghcr.io/x"]
        );
        let run = parse_run(
            &args(&["--image", "i:1", "--allowed-images=ghcr.io/y"]),
            env,
        )
        .expect("valid");
        assert_eq!(run.allowed_images, ["ghcr.io/y"]);
        let bad = parse_run(
            &args(&["--image", "i:1", "--allowed-images", "ghcr.io/y:1.2"]),
            no_env,
        )
        .unwrap_err()
        .to_string();
        assert!(
            bad.contains("--allowed-images") && bad.contains("ghcr.io/y:1.2"),
            "{bad}"
        );
    }

    #[test]
    fn probe_urls_parse_into_host_port_and_path() {
        let probe = |u: &str| parse_probe(&args(&[u]));
        assert_eq!(
            probe("http://aegis-operator.aegis-system.svc:8080/readyz"),
            Ok(ProbeArgs {
                host: "aegis-operator.aegis-system.svc".into(),
                port: 8080,
                path: "/readyz".into()
            })
        );
        let plain = probe("http://10.0.0.1").expect("valid");
        assert_eq!((plain.port, plain.path.as_str()), (80, "/"));
        let v6 = probe("http://[fd00::1]:8080/readyz?x=1").expect("valid");
        assert_eq!((v6.host.as_str(), v6.port), ("fd00::1", 8080));
        assert_eq!(v6.path, "/readyz?x=1");
        assert_eq!(v6.url(), "http://[fd00::1]:8080/readyz?x=1");
        let v4 = probe("http://[10.96.0.7]:8080").expect("valid");
        assert_eq!(v4.host, "10.96.0.7");
        assert_eq!(probe("http://h:1?q").expect("valid").path, "/?q");
    }

    #[test]
    fn bad_probe_urls_are_named() {
        let err = |a: &[&str]| parse_probe(&args(a)).unwrap_err().to_string();
        assert!(err(&[]).contains("exactly one URL, got 0"));
        assert!(err(&["http://a", "http://b"]).contains("got 2"));
        assert!(err(&["https://a/readyz"]).contains("only http://"));
        assert!(err(&["http://a:0/"]).contains("port"));
        assert!(err(&["http://a:99999/"]).contains("port"));
        assert!(err(&["http://:80/"]).contains("no host"));
        assert!(err(&["http://[nohost]:80/"]).contains("brackets"));
        assert!(err(&["http://[::1/"]).contains("']'"));
        assert!(err(&["http://u@h/"]).contains("user information"));
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
