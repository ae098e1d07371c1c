//! The deployed models: compiled, with the document as received and its properties, kept
//! in the store and in memory.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use styx_pmml::{FieldInfo, Model};
use styx_store::Store;

/// A deployed model.
pub(crate) struct Deployed {
    pub id: String,
    pub model: Arc<Model>,
    pub document: Arc<str>,
    created: String,
    accessed: Mutex<Option<String>>,
    checksum: String,
}

impl Deployed {
    fn new(id: &str, model: Model, document: &str) -> Deployed {
        Deployed {
            id: id.to_string(),
            model: Arc::new(model),
            document: Arc::from(document),
            created: timestamp(SystemTime::now()),
            accessed: Mutex::new(None),
            checksum: hex(&Sha256::digest(document.as_bytes())),
        }
    }

    /// The model was evaluated or downloaded now.
    pub fn accessed(&self) {
        *self.accessed.lock().unwrap_or_else(|e| e.into_inner()) =
            Some(timestamp(SystemTime::now()));
    }

    /// The ModelResponse: with the schema, or without (in the list).
    pub fn response(&self, schema: bool) -> Value {
        let info = self.model.info();
        let accessed = self
            .accessed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let mut out = Map::new();
        out.insert("id".into(), json!(self.id));
        out.insert("miningFunction".into(), json!(info.mining_function));
        out.insert("summary".into(), json!(info.summary));
        out.insert(
            "properties".into(),
            json!({
                "created.timestamp": self.created,
                "accessed.timestamp": accessed,
                "file.size": self.document.len(),
                "file.checksum": self.checksum,
                "model.version": info.version,
            }),
        );
        if schema {
            let mut s = Map::new();
            for (key, fields) in [
                ("inputFields", &info.input_fields),
                ("groupFields", &info.group_fields),
                ("targetFields", &info.target_fields),
                ("outputFields", &info.output_fields),
            ] {
                if !fields.is_empty() {
                    s.insert(key.into(), fields.iter().map(field).collect());
                }
            }
            out.insert("schema".into(), Value::Object(s));
        }
        Value::Object(out)
    }
}

fn field(f: &FieldInfo) -> Value {
    let mut out = Map::new();
    out.insert("id".into(), json!(f.id));
    if let Some(name) = &f.name {
        out.insert("name".into(), json!(name));
    }
    out.insert("dataType".into(), json!(f.data_type));
    out.insert("opType".into(), json!(f.op_type));
    if !f.values.is_empty() {
        out.insert("values".into(), json!(f.values));
    }
    Value::Object(out)
}

/// UTC, RFC 3339 with milliseconds, as Openscoring writes it: `2026-02-02T20:57:54.123+00:00`.
fn timestamp(t: SystemTime) -> String {
    let text = humantime::format_rfc3339_millis(t).to_string();
    match text.strip_suffix('Z') {
        Some(base) => format!("{base}+00:00"),
        None => text,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `id` is a model id: `[A-Za-z0-9][A-Za-z0-9._-]*`.
pub(crate) fn valid_id(id: &str) -> bool {
    let mut chars = id.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// The deployed models, by id, and the store that keeps them.
pub(crate) struct Registry {
    store: Arc<Store>,
    models: RwLock<BTreeMap<String, Arc<Deployed>>>,
}

impl Registry {
    /// The store the models are kept in.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// The models of the store, and those of `dir` (deployed into the store first).
    pub fn load(store: Arc<Store>, dir: Option<&Path>) -> Result<Registry, String> {
        if let Some(dir) = dir {
            let mut files: Vec<_> = std::fs::read_dir(dir)
                .map_err(|e| format!("--models {}: {e}", dir.display()))?
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "pmml"))
                .collect();
            files.sort();
            for path in files {
                let name = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or_default();
                let id = name.split('.').next().unwrap_or_default();
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                Model::parse(&text).map_err(|e| format!("{}: {e}", path.display()))?;
                store
                    .deploy_model(id, &text, None)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
            }
        }
        let mut models = BTreeMap::new();
        for version in store.models().map_err(|e| e.to_string())? {
            let Some(stored) = store.model(&version.id).map_err(|e| e.to_string())? else {
                continue;
            };
            match Model::parse_named(&stored.pmml, stored.model_name.as_deref()) {
                Ok(model) => {
                    let deployed = Deployed::new(&version.id, model, &stored.pmml);
                    models.insert(version.id.clone(), Arc::new(deployed));
                }
                Err(e) => tracing::warn!(model = %version.id, "a stored model cannot be used: {e}"),
            }
        }
        Ok(Registry {
            store,
            models: RwLock::new(models),
        })
    }

    pub fn get(&self, id: &str) -> Option<Arc<Deployed>> {
        self.models
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .cloned()
    }

    /// Every model, by id ignoring case.
    pub fn all(&self) -> Vec<Arc<Deployed>> {
        let mut all: Vec<Arc<Deployed>> = self
            .models
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect();
        all.sort_by_key(|d| d.id.to_lowercase());
        all
    }

    /// Deploys `document` as model `id` (stored first), scored with its model element
    /// `model_name` (without one, its first scorable model); whether the id was new. A
    /// document that does not compile replaces nothing.
    pub fn deploy(
        &self,
        id: &str,
        document: &str,
        model_name: Option<&str>,
    ) -> Result<(Arc<Deployed>, bool), String> {
        let model = Model::parse_named(document, model_name).map_err(|e| e.to_string())?;
        self.store
            .deploy_model(id, document, model_name)
            .map_err(|e| format!("the store: {e}"))?;
        let deployed = Arc::new(Deployed::new(id, model, document));
        let previous = self
            .models
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.to_string(), deployed.clone());
        Ok((deployed, previous.is_none()))
    }

    /// Undeploys model `id`; whether it was deployed.
    pub fn undeploy(&self, id: &str) -> Result<bool, String> {
        let removed = self
            .models
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id)
            .is_some();
        if removed {
            self.store
                .delete_model(id)
                .map_err(|e| format!("the store: {e}"))?;
        }
        Ok(removed)
    }
}
