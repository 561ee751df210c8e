//! The documented validation of the built-in kinds this server checks
//! beyond object metadata (kube-apiserver's pkg/apis/*/validation): the
//! workloads' selectors and templates, Jobs' restart policy, CronJobs'
//! schedule, CertificateSigningRequests' request and signer, APIServices'
//! name and priorities. Each failure is a 422 with field causes, worded as
//! the apiserver words them.

use serde_json::Value;

use super::error::{ApiError, ApiResult, Cause};
use super::meta::meta_str;
use super::resources::ResourceInfo;
use super::selectors::LabelSelector;

/// Checks `obj` of `info`; `Ok` for kinds without rules here.
pub fn validate(info: &ResourceInfo, obj: &Value) -> ApiResult<()> {
    let mut causes = Vec::new();
    match (info.group.as_str(), info.plural.as_str()) {
        ("apps", "daemonsets" | "statefulsets" | "replicasets") => {
            template(obj, "/spec/template", "spec.template", &mut causes);
            selector(obj, &mut causes);
        }
        ("", "replicationcontrollers") => {
            template(obj, "/spec/template", "spec.template", &mut causes);
        }
        ("batch", "jobs") => {
            template(obj, "/spec/template", "spec.template", &mut causes);
            restart_policy(
                obj,
                "/spec/template/spec/restartPolicy",
                "spec.template.spec.restartPolicy",
                &mut causes,
            );
        }
        ("batch", "cronjobs") => {
            schedule(obj, &mut causes);
            let t = "/spec/jobTemplate/spec/template";
            template(obj, t, "spec.jobTemplate.spec.template", &mut causes);
            restart_policy(
                obj,
                &format!("{t}/spec/restartPolicy"),
                "spec.jobTemplate.spec.template.spec.restartPolicy",
                &mut causes,
            );
        }
        ("certificates.k8s.io", "certificatesigningrequests") => csr(obj, &mut causes),
        ("apiregistration.k8s.io", "apiservices") => api_service(obj, &mut causes),
        _ => {}
    }
    if causes.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(
            &info.group,
            &info.kind,
            meta_str(obj, "name"),
            causes,
        ))
    }
}

fn required(field: &str) -> Cause {
    Cause::new("FieldValueRequired", field, "Required value")
}

/// A pod template with at least one container.
fn template(obj: &Value, pointer: &str, field: &str, causes: &mut Vec<Cause>) {
    let containers = obj
        .pointer(&format!("{pointer}/spec/containers"))
        .and_then(Value::as_array);
    if containers.is_none_or(|c| c.is_empty()) {
        causes.push(required(&format!("{field}.spec.containers")));
    }
}

/// A selector that is present, non-empty and matches the template's labels.
fn selector(obj: &Value, causes: &mut Vec<Cause>) {
    let Some(sel) = obj.pointer("/spec/selector").filter(|s| !s.is_null()) else {
        causes.push(required("spec.selector"));
        return;
    };
    let text = super::selectors::to_text(sel);
    if text.is_empty() {
        causes.push(Cause::new(
            "FieldValueInvalid",
            "spec.selector",
            "Invalid value: \"null\": empty selector is invalid for deployment",
        ));
        return;
    }
    let labels = serde_json::json!({"metadata": {"labels": obj.pointer("/spec/template/metadata/labels").cloned().unwrap_or(Value::Null)}});
    let matches = LabelSelector::parse(&text).is_ok_and(|s| s.matches(&labels));
    if !matches {
        let labels = obj
            .pointer("/spec/template/metadata/labels")
            .cloned()
            .unwrap_or_default();
        causes.push(Cause::new(
            "FieldValueInvalid",
            "spec.template.metadata.labels",
            format!("Invalid value: {labels}: `selector` does not match template `labels`"),
        ));
    }
}

/// Jobs run to completion: `OnFailure` or `Never`.
fn restart_policy(obj: &Value, pointer: &str, field: &str, causes: &mut Vec<Cause>) {
    match obj.pointer(pointer).and_then(Value::as_str) {
        Some("OnFailure" | "Never") => {}
        None => causes.push(required(field)),
        Some(other) => causes.push(Cause::new(
            "FieldValueNotSupported",
            field,
            format!("Unsupported value: \"{other}\": supported values: \"OnFailure\", \"Never\""),
        )),
    }
}

/// Five cron fields (or a `@` macro), each of digits, `*`, `/`, `,`, `-` or names.
fn schedule(obj: &Value, causes: &mut Vec<Cause>) {
    let Some(s) = obj
        .pointer("/spec/schedule")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    else {
        causes.push(required("spec.schedule"));
        return;
    };
    let fields: Vec<&str> = s.split_whitespace().collect();
    let macro_ok = matches!(
        s.trim(),
        "@yearly" | "@annually" | "@monthly" | "@weekly" | "@daily" | "@midnight" | "@hourly"
    );
    let field_ok = |f: &&str| {
        f.chars()
            .all(|c| c.is_ascii_alphanumeric() || "*/,-?".contains(c))
    };
    if !macro_ok && (fields.len() != 5 || !fields.iter().all(field_ok)) {
        causes.push(Cause::new(
            "FieldValueInvalid",
            "spec.schedule",
            format!(
                "Invalid value: \"{s}\": expected exactly 5 fields, found {}: [{s}]",
                fields.len()
            ),
        ));
    }
}

fn csr(obj: &Value, causes: &mut Vec<Cause>) {
    match obj.pointer("/spec/request").and_then(Value::as_str) {
        None | Some("") => causes.push(required("spec.request")),
        Some(b64) => {
            let pem = decode_base64(b64).map(|b| String::from_utf8_lossy(&b).into_owned());
            if !pem.is_some_and(|p| p.contains("-----BEGIN CERTIFICATE REQUEST-----")) {
                causes.push(Cause::new(
                    "FieldValueInvalid",
                    "spec.request",
                    "Invalid value: []byte{...}: PEM block type must be CERTIFICATE REQUEST",
                ));
            }
        }
    }
    let signer = obj
        .pointer("/spec/signerName")
        .and_then(Value::as_str)
        .unwrap_or("");
    if signer.is_empty() {
        causes.push(required("spec.signerName"));
    } else if !signer.contains('/') {
        causes.push(Cause::new("FieldValueInvalid", "spec.signerName", format!("Invalid value: \"{signer}\": must be a fully qualified domain and path of the form 'example.com/signer-name'")));
    }
    if obj
        .pointer("/spec/usages")
        .and_then(Value::as_array)
        .is_none_or(|u| u.is_empty())
    {
        causes.push(required("spec.usages"));
    }
}

fn api_service(obj: &Value, causes: &mut Vec<Cause>) {
    let group = obj
        .pointer("/spec/group")
        .and_then(Value::as_str)
        .unwrap_or("");
    let version = obj
        .pointer("/spec/version")
        .and_then(Value::as_str)
        .unwrap_or("");
    if version.is_empty() {
        causes.push(required("spec.version"));
    }
    let expected = if group.is_empty() {
        version.to_string()
    } else {
        format!("{version}.{group}")
    };
    let name = meta_str(obj, "name");
    if name != expected {
        causes.push(Cause::new("FieldValueInvalid", "metadata.name", format!("Invalid value: \"{name}\": must be `spec.version+\".\"+spec.group`: \"{expected}\"")));
    }
    let int = |p: &str| obj.pointer(p).and_then(Value::as_i64).unwrap_or(0);
    let group_min = int("/spec/groupPriorityMinimum");
    if !(1..=20000).contains(&group_min) {
        causes.push(Cause::new(
            "FieldValueInvalid",
            "spec.groupPriorityMinimum",
            format!("Invalid value: {group_min}: must be positive and less than 20000"),
        ));
    }
    let version_prio = int("/spec/versionPriority");
    if !(1..=1000).contains(&version_prio) {
        causes.push(Cause::new(
            "FieldValueInvalid",
            "spec.versionPriority",
            format!("Invalid value: {version_prio}: must be positive and less than 1000"),
        ));
    }
}

/// Standard base64 (padding optional); `None` when malformed.
pub fn decode_base64(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = 0u32;
    let mut bits = 0;
    for c in s.trim_end_matches('=').bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'\n' | b'\r' => continue,
            _ => return None,
        };
        buf = (buf << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buf >> bits) as u8);
            buf &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_decodes_with_and_without_padding() {
        assert_eq!(decode_base64("aGVsbG8=").as_deref(), Some(&b"hello"[..]));
        assert_eq!(decode_base64("aGVsbG8").as_deref(), Some(&b"hello"[..]));
        assert_eq!(decode_base64("a!"), None);
    }
}
