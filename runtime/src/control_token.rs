//! The bearer token of the orchestrator's control API (`GET /status`,
//! `POST /flatten`): made from 32 random bytes, kept in a file only its
//! owner can read, checked in constant time, and never printed.
//!
//! In a cluster the operator puts it into a Secret mounted into the
//! orchestrator container only; under `aegis-worker up` it is generated per
//! run into `control-token` in the run directory (mode 0600). `Debug` and
//! `Display` print [`REDACTED`]; only [`ControlToken::expose`] gives the
//! value, and only the code that writes the token file or an
//! `Authorization` header calls it.

use std::fmt;
use std::io;
use std::path::Path;

use aegis_contract::config::Secret;
pub use aegis_contract::config::REDACTED;
use subtle::ConstantTimeEq;

/// Bytes of randomness in a generated token (hex-encoded: 64 characters).
pub const TOKEN_BYTES: usize = 32;
/// The shortest token accepted from a file: shorter ones are guessable.
pub const MIN_TOKEN_CHARS: usize = 32;
/// The longest token accepted from a file (a Secret's value, not a document).
pub const MAX_TOKEN_CHARS: usize = 512;

/// Why a token file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The file could not be read or written.
    #[error("control token file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        source: io::Error,
    },
    /// The file's content is not a usable token (the content is never shown).
    #[error("control token file {path}: {why}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong with it.
        why: String,
    },
    /// The system's random source failed.
    #[error("no randomness for a control token: {0}")]
    Random(String),
}

/// A control-API bearer token (see the module docs).
#[derive(Clone, PartialEq, Eq)]
pub struct ControlToken(Secret);

impl ControlToken {
    /// A new token of [`TOKEN_BYTES`] random bytes, hex-encoded.
    pub fn generate() -> Result<Self, TokenError> {
        let mut bytes = [0u8; TOKEN_BYTES];
        getrandom::fill(&mut bytes).map_err(|e| TokenError::Random(e.to_string()))?;
        Ok(Self::from_bytes(&bytes))
    }

    /// The token of these [`TOKEN_BYTES`] secret bytes, hex-encoded (random
    /// ones, or a key's MAC: the operator derives engine tokens this way).
    pub fn from_bytes(bytes: &[u8; TOKEN_BYTES]) -> Self {
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        ControlToken(Secret::new(hex))
    }

    /// Wraps a token given as text, checked as one read from a file:
    /// printable ASCII without spaces, [`MIN_TOKEN_CHARS`] to
    /// [`MAX_TOKEN_CHARS`] long. The error says what is wrong, never the value.
    pub fn parse(text: &str) -> Result<Self, String> {
        let token = text.trim_end_matches(['\n', '\r']);
        if token.len() < MIN_TOKEN_CHARS {
            return Err(format!(
                "the token has {} characters; at least {MIN_TOKEN_CHARS} are needed",
                token.len()
            ));
        }
        if token.len() > MAX_TOKEN_CHARS {
            return Err(format!(
                "the token has {} characters; at most {MAX_TOKEN_CHARS} are allowed",
                token.len()
            ));
        }
        if !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(
                "the token holds a space, a control character or non-ASCII text".to_owned(),
            );
        }
        Ok(ControlToken(Secret::new(token)))
    }

    /// Reads the token from `path` (one line; a trailing newline is
    /// ignored). A Kubernetes Secret volume's files are symbolic links into
    /// its `..data` directory, so this follows links.
    pub fn load(path: &Path) -> Result<Self, TokenError> {
        let text = std::fs::read_to_string(path).map_err(|source| TokenError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text).map_err(|why| TokenError::Invalid {
            path: path.display().to_string(),
            why,
        })
    }

    /// Writes the token to `path` readable by its owner only (0600),
    /// durably and never through a planted link (see [`crate::durable`]).
    pub fn store(&self, path: &Path) -> Result<(), TokenError> {
        crate::durable::write_atomic(path, format!("{}\n", self.expose()).as_bytes()).map_err(
            |source| TokenError::Io {
                path: path.display().to_string(),
                source,
            },
        )
    }

    /// Whether an `Authorization` header value is `Bearer <this token>`,
    /// compared in constant time (the time taken does not depend on how
    /// much of the token a guess got right).
    pub fn authorizes(&self, authorization: Option<&[u8]>) -> bool {
        let Some(given) = authorization.and_then(|h| h.strip_prefix(b"Bearer ")) else {
            return false;
        };
        bool::from(given.ct_eq(self.expose().as_bytes()))
    }

    /// The `Authorization` header's value for this token.
    pub fn header_value(&self) -> String {
        format!("Bearer {}", self.expose())
    }

    /// The token itself.
    pub fn expose(&self) -> &str {
        self.0.expose()
    }
}

impl fmt::Debug for ControlToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for ControlToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn generated_tokens_differ_and_round_trip_through_a_private_file() {
        let one = ControlToken::generate().expect("a token");
        let two = ControlToken::generate().expect("a token");
        assert_ne!(one, two);
        assert_eq!(one.expose().len(), 2 * TOKEN_BYTES);
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("control-token");
        one.store(&path).expect("stored");
        let mode = std::fs::metadata(&path).expect("stat").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(ControlToken::load(&path).expect("loaded"), one);
    }

    #[test]
    fn only_the_exact_bearer_header_authorizes() {
        let token = ControlToken::parse(&"a".repeat(40)).expect("a token");
        assert!(token.authorizes(Some(token.header_value().as_bytes())));
        for wrong in [
            None,
            Some(b"".as_slice()),
            Some(token.expose().as_bytes()),
            Some(format!("bearer {}", token.expose()).into_bytes().leak()),
            Some(format!("Bearer {}x", token.expose()).into_bytes().leak()),
            Some(
                format!("Bearer {}", &token.expose()[1..])
                    .into_bytes()
                    .leak(),
            ),
            Some(format!("Basic {}", token.expose()).into_bytes().leak()),
        ] {
            assert!(!token.authorizes(wrong), "{wrong:?}");
        }
    }

    #[test]
    fn a_bad_token_file_is_named_and_its_content_never_shown() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("token");
        for (content, expect) in [
            ("short-secret\n", "at least 32"),
            ("with a space in the middle of the token!!", "space"),
        ] {
            std::fs::write(&path, content).expect("written");
            let e = ControlToken::load(&path).expect_err("refused").to_string();
            assert!(e.contains("token") && e.contains(expect), "{e}");
            assert!(!e.contains(content.trim()), "the content leaked: {e}");
        }
        let missing = ControlToken::load(&dir.path().join("none")).expect_err("missing");
        assert!(missing.to_string().contains("none"), "{missing}");
    }

    #[test]
    fn the_token_never_prints() {
        let token = ControlToken::generate().expect("a token");
        for shown in [format!("{token}"), format!("{token:?}")] {
            assert_eq!(shown, REDACTED);
        }
    }
}
