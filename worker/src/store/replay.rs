//! Opening a CSV replay file: the engine parses any reader
//! ([`CsvReplay`]); the file is opened here.

use std::fs::File;
use std::path::Path;

use aegis_engine::market::csv::{CsvError, CsvReplay, DEFAULT_CHUNK_SIZE};

/// Opens `path` and reads its header; errors name the path.
pub fn open_csv(path: &Path) -> Result<CsvReplay<File>, CsvError> {
    let file = File::open(path).map_err(|source| CsvError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    CsvReplay::with_chunk_size(file, path, DEFAULT_CHUNK_SIZE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_file_is_an_error_naming_the_path() {
        let missing = Path::new("/nonexistent/aegis/candles.csv");
        let err = open_csv(missing).err().expect("missing file");
        assert!(
            err.to_string().contains("/nonexistent/aegis/candles.csv"),
            "{err}"
        );
    }
}
