//! What a CustomResourceDefinition tells the server about serving its
//! resource: the served versions with their schemas, printer columns and
//! `/scale` paths. Plain data, read by the registry and the handlers.

use serde_json::Value;

/// One `additionalPrinterColumns` entry.
#[derive(Debug, Clone)]
pub struct PrinterColumn {
    /// Column header.
    pub name: String,
    /// OpenAPI type (`string`, `integer`, `date`, ...).
    pub kind: String,
    /// Simple JSONPath, e.g. `.spec.replicas`.
    pub json_path: String,
    /// Description.
    pub description: String,
    /// 0 for the default view, more for `-o wide`.
    pub priority: i64,
}

/// One served version of a CRD.
#[derive(Debug, Clone)]
pub struct CrdVersion {
    /// Version name.
    pub name: String,
    /// The openAPIV3Schema, if any.
    pub schema: Option<Value>,
    /// Printer columns.
    pub printer_columns: Vec<PrinterColumn>,
    /// `subresources.scale`, when declared.
    pub scale: Option<ScalePaths>,
}

/// Where a resource keeps what its `/scale` subresource shows, as JSON
/// pointers (`subresources.scale` of a CRD version, or a built-in kind's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScalePaths {
    /// `specReplicasPath`.
    pub spec_replicas: String,
    /// `statusReplicasPath`.
    pub status_replicas: String,
    /// `labelSelectorPath`, if any.
    pub label_selector: Option<String>,
}

impl ScalePaths {
    /// The paths of a CRD version's `subresources.scale` (`.spec.replicas` form).
    pub(super) fn from_crd(scale: &Value) -> Option<Self> {
        let pointer = |k: &str| {
            scale
                .get(k)
                .and_then(Value::as_str)
                .filter(|p| p.starts_with('.'))
                .map(|p| p.replace('.', "/"))
        };
        Some(ScalePaths {
            spec_replicas: pointer("specReplicasPath")?,
            status_replicas: pointer("statusReplicasPath")?,
            label_selector: pointer("labelSelectorPath"),
        })
    }
}

/// What a CRD tells the server about serving its resource.
#[derive(Debug, Clone)]
pub struct CrdServing {
    /// Served versions.
    pub versions: Vec<CrdVersion>,
}

impl CrdServing {
    /// The version named `name`.
    pub fn version(&self, name: &str) -> Option<&CrdVersion> {
        self.versions.iter().find(|v| v.name == name)
    }
}
