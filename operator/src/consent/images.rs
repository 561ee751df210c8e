//! The images the operator may run: an allow-list of image repository
//! prefixes it is configured with (`--allowed-images`, the chart's
//! `engineImage.allowedRepositories`), and always the default engine image.
//!
//! An entry matches an image when the image starts with the entry and what
//! follows is, in full, one of:
//!
//! | after the entry | example (entry `ghcr.io/aegis/aegis-worker`) |
//! | --- | --- |
//! | nothing | `ghcr.io/aegis/aegis-worker` |
//! | `:tag`, optionally `@digest` | `ghcr.io/aegis/aegis-worker:1.2` |
//! | `@digest` | `ghcr.io/aegis/aegis-worker@sha256:<64 hex>` |
//! | `/path[:tag][@digest]` | `ghcr.io/aegis/aegis-worker/debug:1.2` |
//!
//! so `ghcr.io/aegis/aegis-worker-evil`, `ghcr.io/aegis/aegis-worker:1/x`
//! and `ghcr.io:5000/...` (for an entry `ghcr.io`) do not match. An entry
//! ending in `/` (`registry.example.com/aegis/`) matches only the
//! repositories below it. The comparison is textual: Docker Hub's short
//! names are not expanded, so write entries the way specs write images.

use std::fmt;

/// The separator of entries in `--allowed-images` and its environment
/// variable.
pub const LIST_SEPARATOR: char = ',';

/// The images the operator may run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AllowedImages {
    default_image: String,
    entries: Vec<Entry>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    /// The entry without a trailing `/`.
    prefix: String,
    /// Written with a trailing `/`: only repositories below it match.
    below_only: bool,
}

/// An allow-list entry that cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AllowListError {
    /// An empty entry (e.g. `a,,b`).
    #[error("an empty image repository in the allow-list")]
    Empty,
    /// An entry with a tag or digest, or characters no repository has.
    #[error("{entry:?} is not an image repository prefix ({why})")]
    NotARepository {
        /// The entry.
        entry: String,
        /// What is wrong with it.
        why: &'static str,
    },
}

/// A spec naming an image the allow-list does not hold.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("spec.image {image:?} is not allowed: the operator runs only images of {allowed} (set by the operator's --allowed-images, the chart's engineImage.allowedRepositories)")]
pub struct ImageNotAllowed {
    /// The image the spec names.
    pub image: String,
    /// The allow-list, as the message shows it.
    pub allowed: String,
}

impl AllowedImages {
    /// Only the default image's repository (and the default image itself).
    pub fn only_default(default_image: &str) -> AllowedImages {
        let mut allowed = AllowedImages {
            default_image: default_image.to_string(),
            entries: Vec::new(),
        };
        allowed.add_default_repository();
        allowed
    }

    /// `entries` (repository prefixes) and the default image's repository.
    pub fn new<S: AsRef<str>>(
        default_image: &str,
        entries: impl IntoIterator<Item = S>,
    ) -> Result<AllowedImages, AllowListError> {
        let mut allowed = AllowedImages {
            default_image: default_image.to_string(),
            entries: entries
                .into_iter()
                .map(|e| parse_entry(e.as_ref()))
                .collect::<Result<_, _>>()?,
        };
        allowed.add_default_repository();
        Ok(allowed)
    }

    fn add_default_repository(&mut self) {
        let prefix = repository_of(&self.default_image).to_string();
        if !prefix.is_empty() && !self.entries.iter().any(|e| e.prefix == prefix) {
            self.entries.push(Entry {
                prefix,
                below_only: false,
            });
        }
    }

    /// Whether the operator may run `image`.
    pub fn allows(&self, image: &str) -> bool {
        image == self.default_image
            || self.entries.iter().any(|entry| {
                image
                    .strip_prefix(entry.prefix.as_str())
                    .is_some_and(|rest| follows_a_repository(rest, entry.below_only))
            })
    }

    /// The spec's image (`None`: the default) if the operator may run it.
    pub fn check(&self, image: Option<&str>) -> Result<(), ImageNotAllowed> {
        match image {
            Some(image) if !self.allows(image) => Err(ImageNotAllowed {
                image: image.to_string(),
                allowed: self.to_string(),
            }),
            _ => Ok(()),
        }
    }
}

impl fmt::Display for AllowedImages {
    /// The entries as written (`a, b/`), for messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let entries: Vec<String> = self
            .entries
            .iter()
            .map(|e| {
                if e.below_only {
                    format!("{}/", e.prefix)
                } else {
                    e.prefix.clone()
                }
            })
            .collect();
        write!(f, "[{}]", entries.join(", "))
    }
}

/// Splits a comma-separated allow-list (`--allowed-images`), dropping the
/// blanks around entries; an empty text is an empty list.
pub fn split_list(text: &str) -> Result<Vec<String>, AllowListError> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    text.split(LIST_SEPARATOR)
        .map(|e| {
            let e = e.trim();
            parse_entry(e).map(|_| e.to_string())
        })
        .collect()
}

fn parse_entry(text: &str) -> Result<Entry, AllowListError> {
    let bad = |why| AllowListError::NotARepository {
        entry: text.to_string(),
        why,
    };
    if text.is_empty() {
        return Err(AllowListError::Empty);
    }
    let (prefix, below_only) = match text.strip_suffix('/') {
        Some(p) => (p, true),
        None => (text, false),
    };
    if prefix.is_empty() {
        return Err(bad("nothing before the '/'"));
    }
    if prefix.contains('@') {
        return Err(bad("a digest names one image, not a repository"));
    }
    let (host, path) = match prefix.split_once('/') {
        Some((host, path)) => (host, Some(path)),
        None => (prefix, None),
    };
    if !host
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || ".-_:".contains(c))
        || host.starts_with([':', '.', '-'])
    {
        return Err(bad(
            "the registry or first path component has characters an image name cannot have",
        ));
    }
    match path {
        None if host.contains(':') && !below_only => Err(bad(
            "a tag names one image, not a repository (for a registry with a port, end the entry with '/')",
        )),
        Some(path) if !path.split('/').all(is_path_component) => Err(bad(
            "a path component is empty or has characters other than a-z, 0-9, '.', '_' and '-' (a tag names one image, not a repository)",
        )),
        None | Some(_) => Ok(Entry {
            prefix: prefix.to_string(),
            below_only,
        }),
    }
}

/// The repository of an image reference: without its digest and tag.
pub fn repository_of(image: &str) -> &str {
    let without_digest = image.split_once('@').map_or(image, |(r, _)| r);
    let last_slash = without_digest.rfind('/').map_or(0, |i| i + 1);
    match without_digest[last_slash..].find(':') {
        Some(colon) => &without_digest[..last_slash + colon],
        None => without_digest,
    }
}

/// Whether `rest`, what follows an entry in an image, is a path boundary
/// followed by a well-formed remainder of an image reference.
fn follows_a_repository(rest: &str, below_only: bool) -> bool {
    if let Some(below) = rest.strip_prefix('/') {
        return path_tag_digest(below);
    }
    if below_only {
        return false;
    }
    match rest.as_bytes().first() {
        None => true,
        Some(b':') => tag_digest(&rest[1..]),
        Some(b'@') => is_digest(&rest[1..]),
        Some(_) => false,
    }
}

/// `path[:tag][@digest]`, the path one or more components.
fn path_tag_digest(text: &str) -> bool {
    let (name, digest) = match text.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (text, None),
    };
    if digest.is_some_and(|d| !is_digest(d)) {
        return false;
    }
    let last_slash = name.rfind('/').map_or(0, |i| i + 1);
    let (path, tag) = match name[last_slash..].find(':') {
        Some(colon) => (
            &name[..last_slash + colon],
            Some(&name[last_slash + colon + 1..]),
        ),
        None => (name, None),
    };
    path.split('/').all(is_path_component) && tag.is_none_or(is_tag)
}

/// `tag[@digest]`.
fn tag_digest(text: &str) -> bool {
    match text.split_once('@') {
        Some((tag, digest)) => is_tag(tag) && is_digest(digest),
        None => is_tag(text),
    }
}

/// A repository path component: lowercase letters, digits and `._-`,
/// beginning and ending with a letter or digit (so never `.` or `..`).
fn is_path_component(text: &str) -> bool {
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    text.starts_with(alnum)
        && text.ends_with(alnum)
        && text.chars().all(|c| alnum(c) || "._-".contains(c))
}

/// A tag: up to 128 of letters, digits and `._-`, not starting with `.` or `-`.
fn is_tag(text: &str) -> bool {
    (1..=128).contains(&text.len())
        && !text.starts_with(['.', '-'])
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
}

/// A digest `algorithm:hex` with at least 32 hex digits (`sha256:` has 64).
fn is_digest(text: &str) -> bool {
    let Some((algorithm, hex)) = text.split_once(':') else {
        return false;
    };
    !algorithm.is_empty()
        && algorithm
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+._-".contains(c))
        && hex.len() >= 32
        && hex.chars().all(|c| c.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn list(entries: &[&str]) -> AllowedImages {
        AllowedImages::new("ghcr.io/aegis/aegis-worker:0.1.0", entries).expect("valid entries")
    }

    #[test]
    fn an_entry_matches_its_tags_digests_and_the_repositories_below_it() {
        let allowed = list(&[]);
        for image in [
            "ghcr.io/aegis/aegis-worker".to_string(),
            "ghcr.io/aegis/aegis-worker:1.2".to_string(),
            "ghcr.io/aegis/aegis-worker:0.1.0".to_string(),
            format!("ghcr.io/aegis/aegis-worker@{DIGEST}"),
            format!("ghcr.io/aegis/aegis-worker:1.2@{DIGEST}"),
            "ghcr.io/aegis/aegis-worker/debug:1.2".to_string(),
            "ghcr.io/aegis/aegis-worker/a/b".to_string(),
        ] {
            assert!(allowed.allows(&image), "{image} should be allowed");
        }
    }

    #[test]
    fn what_only_looks_like_the_entry_does_not_match() {
        let allowed = list(&["docker.io/library/alpine"]);
        for image in [
            "ghcr.io/aegis/aegis-worker-evil",
            "ghcr.io/aegis/aegis-worker-evil:1.2",
            "ghcr.io/aegis/aegis-workerx",
            "ghcr.io/aegis/aegis-worker:1.2/evil",
            "ghcr.io/aegis/aegis-worker:",
            "ghcr.io/aegis/aegis-worker:-x",
            "ghcr.io/aegis/aegis-worker@evil",
            "ghcr.io/aegis/aegis-worker@sha256:abc",
            "ghcr.io/aegis/aegis-worker/../evil",
            "ghcr.io/aegis/aegis-worker//evil",
            "ghcr.io/aegis/aegis-worker/",
            "ghcr.io/aegis/aegis-worker/Evil",
            "ghcr.io/aegis/aegis-worker 1",
            "GHCR.IO/aegis/aegis-worker",
            "docker.io/library/alpine-evil:3",
            "alpine:3",
            "",
        ] {
            assert!(!allowed.allows(image), "{image:?} should be refused");
        }
        assert!(allowed.allows("docker.io/library/alpine:3.20"));
        // A registry as the entry: its images, not a look-alike host or port.
        let registry = list(&["ghcr.io"]);
        assert!(registry.allows("ghcr.io/someone/else:1"));
        for image in ["ghcr.io.evil.example/x:1", "ghcr.io:5000/x:1", "ghcr.iox/y"] {
            assert!(!registry.allows(image), "{image:?} should be refused");
        }
    }

    #[test]
    fn an_entry_ending_in_a_slash_matches_only_below_it() {
        let allowed = list(&["registry.example.com/aegis/", "localhost:5000/"]);
        assert!(allowed.allows("registry.example.com/aegis/worker:1"));
        assert!(allowed.allows("localhost:5000/aegis-worker:dev"));
        assert!(!allowed.allows("registry.example.com/aegis:1"));
        assert!(!allowed.allows("registry.example.com/aegis-evil/worker:1"));
        assert!(!allowed.allows("localhost:5000"));
        assert_eq!(
            allowed.to_string(),
            "[registry.example.com/aegis/, localhost:5000/, ghcr.io/aegis/aegis-worker]"
        );
    }

    #[test]
    fn the_default_image_is_always_allowed() {
        let default = format!("registry.example.com/worker@{DIGEST}");
        let allowed = AllowedImages::new(&default, ["ghcr.io/other"]).expect("valid");
        assert!(allowed.allows(&default));
        assert!(allowed.allows("registry.example.com/worker:2"));
        assert_eq!(allowed.check(None), Ok(()));
        // Even an unusual default (a short Docker Hub name with a tag).
        let allowed = AllowedImages::only_default("aegis-worker:test");
        assert!(allowed.allows("aegis-worker:test"));
        assert!(allowed.allows("aegis-worker:other"));
        assert!(!allowed.allows("aegis-worker-test:1"));
    }

    #[test]
    fn a_refusal_names_the_image_and_the_allow_list() {
        let refused = list(&["registry.example.com/aegis/"])
            .check(Some("evil.example/miner:1"))
            .expect_err("refused");
        let message = refused.to_string();
        assert!(message.contains("\"evil.example/miner:1\""), "{message}");
        assert!(
            message.contains("[registry.example.com/aegis/, ghcr.io/aegis/aegis-worker]"),
            "{message}"
        );
    }

    #[test]
    fn entries_that_are_not_repository_prefixes_are_refused() {
        for entry in [
            "",
            "/",
            "ghcr.io/aegis/aegis-worker:1.2",
            "ghcr.io/aegis/aegis-worker@sha256:0",
            "localhost:5000",
            "ghcr.io//x",
            "ghcr.io/a b",
            "ghcr.io/Aegis",
            " ghcr.io",
        ] {
            assert!(
                AllowedImages::new("w:1", [entry]).is_err(),
                "{entry:?} accepted"
            );
        }
        assert_eq!(
            split_list(" ghcr.io/aegis/ , registry.example.com/x ").expect("valid"),
            ["ghcr.io/aegis/", "registry.example.com/x"]
        );
        assert_eq!(split_list("").expect("valid"), Vec::<String>::new());
        assert_eq!(split_list("a,,b"), Err(AllowListError::Empty));
    }

    #[test]
    fn the_repository_of_an_image_drops_its_tag_and_digest() {
        assert_eq!(repository_of("ghcr.io/a/b:1.2"), "ghcr.io/a/b");
        assert_eq!(
            repository_of(&format!("ghcr.io/a/b:1@{DIGEST}")),
            "ghcr.io/a/b"
        );
        assert_eq!(repository_of("localhost:5000/b"), "localhost:5000/b");
        assert_eq!(repository_of("localhost:5000/b:2"), "localhost:5000/b");
        assert_eq!(repository_of("b"), "b");
    }
}
