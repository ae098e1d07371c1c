//! The store's commands: `styx models`, `styx rules`, `styx patterns`, `styx config` and
//! `styx store load`. Each checks what it writes first (see `styx_job::store`), exits 0
//! on success, and prints one JSON object per line when it lists.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context};
use clap::{Args, Subcommand};
use serde_json::json;
use styx_job::store as checked;
use styx_store::{Rule, Store};

/// Where the store is.
#[derive(Args)]
pub struct StoreArg {
    /// The store: sqlite:PATH or cassandra://HOST:PORT/KEYSPACE (default: $STYX_STORE,
    /// else sqlite:styx.db here).
    #[arg(long)]
    store: Option<String>,
}

impl StoreArg {
    fn open(&self) -> anyhow::Result<Store> {
        let url = checked::resolve_url(self.store.as_deref(), Path::new("."));
        Store::open(&url).map_err(|e| anyhow!("{e}"))
    }
}

/// `styx models`.
#[derive(Subcommand)]
pub enum Models {
    /// Checks a PMML document and stores it as the next version of a model; prints the
    /// version.
    Deploy {
        /// The model's id.
        id: String,
        /// The PMML document.
        file: PathBuf,
        /// The `modelName` of the model element to score with (default: the document's
        /// first scorable model).
        #[arg(long, value_name = "NAME")]
        model_name: Option<String>,
        #[command(flatten)]
        store: StoreArg,
    },
    /// Lists the models with their active versions.
    List {
        #[command(flatten)]
        store: StoreArg,
    },
    /// Deletes every version of a model.
    Delete {
        /// The model's id.
        id: String,
        #[command(flatten)]
        store: StoreArg,
    },
}

/// `styx rules`.
#[derive(Subcommand)]
pub enum Rules {
    /// Adds or replaces a rule.
    Put {
        /// The ruleset.
        ruleset: String,
        /// The rule's id in its ruleset.
        id: String,
        /// The rule's condition, in CEL.
        #[arg(long)]
        condition: String,
        /// Higher priorities first.
        #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
        priority: i64,
        /// An attribute of the rule (action, severity, message...), as KEY=VALUE.
        #[arg(long = "attr", value_name = "KEY=VALUE")]
        attributes: Vec<String>,
        /// Stores the rule disabled.
        #[arg(long)]
        disabled: bool,
        #[command(flatten)]
        store: StoreArg,
    },
    /// Lists the rules of a ruleset, or of every ruleset.
    List {
        /// The ruleset.
        ruleset: Option<String>,
        #[command(flatten)]
        store: StoreArg,
    },
    /// Deletes a rule.
    Delete {
        /// The ruleset.
        ruleset: String,
        /// The rule's id.
        id: String,
        #[command(flatten)]
        store: StoreArg,
    },
}

/// `styx patterns`.
#[derive(Subcommand)]
pub enum Patterns {
    /// Checks the stages and options of a pattern transform (TOML, or JSON) and stores
    /// them as the next version of a pattern; prints the version.
    Put {
        /// The pattern's id.
        id: String,
        /// The stages and options.
        file: PathBuf,
        #[command(flatten)]
        store: StoreArg,
    },
    /// Lists the patterns with their newest versions.
    List {
        #[command(flatten)]
        store: StoreArg,
    },
}

/// `styx config`.
#[derive(Subcommand)]
pub enum Config {
    /// Sets a configuration value (JSON).
    Set {
        /// The key, such as `fraud.threshold`.
        key: String,
        /// The value, in JSON: `0.9`, `"text"`, `[1, 2]`...
        value: String,
        #[command(flatten)]
        store: StoreArg,
    },
    /// Prints a configuration value, or every one.
    Get {
        /// The key.
        key: Option<String>,
        #[command(flatten)]
        store: StoreArg,
    },
}

/// `styx store`.
#[derive(Subcommand)]
pub enum StoreCommand {
    /// Upserts the rows of an NDJSON or CSV file into a reference table.
    Load {
        /// The table.
        table: String,
        /// The rows: FILE.ndjson or FILE.csv.
        file: PathBuf,
        /// The column that keys the rows.
        #[arg(long)]
        key: String,
        #[command(flatten)]
        store: StoreArg,
    },
}

fn print(value: serde_json::Value) {
    println!("{value}");
}

/// Runs `styx models ...`.
pub fn models(command: Models) -> anyhow::Result<ExitCode> {
    match command {
        Models::Deploy {
            id,
            file,
            model_name,
            store,
        } => {
            let pmml = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let version = checked::deploy_model(&store.open()?, &id, &pmml, model_name.as_deref())
                .map_err(|e| anyhow!(e))?;
            println!("{version}");
        }
        Models::List { store } => {
            for v in store.open()?.models()? {
                print(json!({"id": v.id, "version": v.version, "deployed_ms": v.stored_ms}));
            }
        }
        Models::Delete { id, store } => {
            if !store.open()?.delete_model(&id)? {
                bail!("no model {id}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `styx rules ...`.
pub fn rules(command: Rules) -> anyhow::Result<ExitCode> {
    match command {
        Rules::Put {
            ruleset,
            id,
            condition,
            priority,
            attributes,
            disabled,
            store,
        } => {
            let attributes = attributes
                .iter()
                .map(|a| match a.split_once('=') {
                    Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
                    _ => Err(anyhow!("--attr {a}: expected KEY=VALUE")),
                })
                .collect::<anyhow::Result<BTreeMap<_, _>>>()?;
            let rule = Rule {
                ruleset,
                id,
                condition,
                enabled: !disabled,
                priority,
                attributes,
            };
            checked::put_rule(&store.open()?, &rule).map_err(|e| anyhow!(e))?;
        }
        Rules::List { ruleset, store } => {
            for rule in store.open()?.rules(ruleset.as_deref())? {
                print(serde_json::to_value(rule)?);
            }
        }
        Rules::Delete { ruleset, id, store } => {
            if !store.open()?.delete_rule(&ruleset, &id)? {
                bail!("no rule {id} in ruleset {ruleset}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `styx patterns ...`.
pub fn patterns(command: Patterns) -> anyhow::Result<ExitCode> {
    match command {
        Patterns::Put { id, file, store } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let version =
                checked::put_pattern(&store.open()?, &id, &text).map_err(|e| anyhow!(e))?;
            println!("{version}");
        }
        Patterns::List { store } => {
            for v in store.open()?.patterns()? {
                print(json!({"id": v.id, "version": v.version, "stored_ms": v.stored_ms}));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `styx config ...`.
pub fn config(command: Config) -> anyhow::Result<ExitCode> {
    match command {
        Config::Set { key, value, store } => {
            checked::set_config(&store.open()?, &key, &value).map_err(|e| anyhow!(e))?;
        }
        Config::Get { key, store } => {
            let values = store.open()?.config(key.as_deref())?;
            if let (Some(key), true) = (&key, values.is_empty()) {
                bail!("no config value {key}");
            }
            for (key, value) in values {
                print(json!({"key": key, "value": value}));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `styx store ...`.
pub fn store(command: StoreCommand) -> anyhow::Result<ExitCode> {
    match command {
        StoreCommand::Load {
            table,
            file,
            key,
            store,
        } => {
            let n =
                checked::load_table(&store.open()?, &table, &file, &key).map_err(|e| anyhow!(e))?;
            print(json!({"table": table, "rows": n}));
        }
    }
    Ok(ExitCode::SUCCESS)
}
