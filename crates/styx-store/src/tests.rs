//! The store's interface on both backends: SQLite always, Cassandra when
//! `STYX_CASSANDRA` names a CQL server (`scripts/test` starts one).

use serde_json::json;

use super::*;

/// A fresh store on each backend there is: SQLite in a temporary folder, and a new
/// keyspace of the CQL server at `$STYX_CASSANDRA`.
fn stores() -> Vec<(tempfile::TempDir, Store)> {
    let dir = tempfile::tempdir().unwrap();
    let url = default_url(dir.path());
    let mut all = vec![(dir, Store::open(&url).unwrap())];
    match std::env::var("STYX_CASSANDRA") {
        Ok(hosts) if !hosts.is_empty() => {
            // Tests run at once: each gets a keyspace of its own.
            static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
            let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let keyspace = format!(
                "styx_test_{}_{}_{n}",
                std::process::id(),
                now_ms() % 1_000_000
            );
            let url = format!("cassandra://{hosts}/{keyspace}");
            let store = Store::open(&url).unwrap_or_else(|e| panic!("{url}: {e}"));
            all.push((tempfile::tempdir().unwrap(), store));
        }
        _ => panic!(
            "STYX_CASSANDRA is not set: run the tests with scripts/test, which starts the CQL \
             server"
        ),
    }
    all
}

#[test]
fn models_and_patterns_are_versioned_and_the_newest_is_active() {
    for (_dir, s) in stores() {
        let url = s.url().to_string();
        assert_eq!(
            s.deploy_model("fraud", "<PMML v1/>", None).unwrap(),
            1,
            "{url}"
        );
        assert_eq!(
            s.deploy_model("fraud", "<PMML v2/>", Some("tree")).unwrap(),
            2,
            "{url}"
        );
        assert_eq!(
            s.deploy_model("churn", "<PMML/>", None).unwrap(),
            1,
            "{url}"
        );
        assert_eq!(
            s.model("fraud").unwrap(),
            Some(StoredModel {
                version: 2,
                pmml: "<PMML v2/>".into(),
                model_name: Some("tree".into())
            }),
            "{url}"
        );
        assert_eq!(s.model("churn").unwrap().unwrap().model_name, None, "{url}");
        let listed: Vec<(String, u32)> = s
            .models()
            .unwrap()
            .into_iter()
            .map(|v| (v.id, v.version))
            .collect();
        assert_eq!(
            listed,
            vec![("churn".into(), 1), ("fraud".into(), 2)],
            "{url}"
        );
        assert!(s.delete_model("fraud").unwrap(), "{url}");
        assert!(!s.delete_model("fraud").unwrap(), "{url}");
        assert_eq!(s.model("fraud").unwrap(), None, "{url}");
        assert_eq!(s.put_pattern("combo", "stages = []").unwrap(), 1, "{url}");
        assert_eq!(s.pattern("combo").unwrap().unwrap().0, 1, "{url}");
        assert_eq!(s.patterns().unwrap().len(), 1, "{url}");
    }
}

#[test]
fn concurrent_deploys_of_one_id_take_distinct_versions() {
    for (_dir, s) in stores() {
        let url = s.url().to_string();
        // Two handles on one store: two writers, as two processes would be.
        let other = Store::open(&url).unwrap();
        let versions: Vec<u32> = std::thread::scope(|scope| {
            let writers: Vec<_> = [&s, &other, &s, &other]
                .into_iter()
                .enumerate()
                .map(|(w, store)| {
                    scope.spawn(move || {
                        (0..3)
                            .map(|i| {
                                let body = format!("<PMML writer=\"{w}\" n=\"{i}\"/>");
                                store.deploy_model("m", &body, None).unwrap()
                            })
                            .collect::<Vec<u32>>()
                    })
                })
                .collect();
            writers
                .into_iter()
                .flat_map(|w| w.join().unwrap())
                .collect()
        });
        let mut sorted = versions.clone();
        sorted.sort_unstable();
        assert_eq!(
            sorted,
            (1..=12).collect::<Vec<u32>>(),
            "{url}: {versions:?}"
        );
        assert_eq!(s.model("m").unwrap().unwrap().version, 12, "{url}");
    }
}

#[test]
fn rules_config_and_rows_round_trip() {
    for (_dir, s) in stores() {
        let url = s.url().to_string();
        let rule = Rule {
            ruleset: "fraud".into(),
            id: "big".into(),
            condition: "amount > 1000.0".into(),
            enabled: true,
            priority: 5,
            attributes: [("action".to_string(), "block".to_string())].into(),
        };
        s.put_rule(&rule).unwrap();
        s.put_rule(&Rule {
            id: "small".into(),
            enabled: false,
            ..rule.clone()
        })
        .unwrap();
        s.put_rule(&Rule {
            ruleset: "other".into(),
            ..rule.clone()
        })
        .unwrap();
        assert_eq!(s.rules(Some("fraud")).unwrap().len(), 2, "{url}");
        assert_eq!(s.rules(None).unwrap().len(), 3, "{url}");
        assert_eq!(s.rules(Some("fraud")).unwrap()[0], rule, "{url}");
        assert!(s.delete_rule("fraud", "small").unwrap(), "{url}");
        assert!(!s.delete_rule("fraud", "small").unwrap(), "{url}");
        s.set_config("fraud.threshold", &json!(0.9)).unwrap();
        s.set_config("fraud.threshold", &json!(0.8)).unwrap();
        s.set_config("fraud.segments", &json!(["gold", "basic"]))
            .unwrap();
        assert_eq!(
            s.config(None).unwrap(),
            vec![
                ("fraud.segments".into(), json!(["gold", "basic"])),
                ("fraud.threshold".into(), json!(0.8))
            ],
            "{url}"
        );
        assert_eq!(s.config(Some("fraud.threshold")).unwrap().len(), 1, "{url}");
        let row = |v: serde_json::Value| v.as_object().unwrap().clone();
        let rows = vec![
            (
                "c1".to_string(),
                row(json!({"id": "c1", "segment": "gold", "limit": 5000})),
            ),
            (
                "c2".to_string(),
                row(json!({"id": "c2", "segment": "basic", "vip": false})),
            ),
        ];
        assert_eq!(s.load_rows("customers", &rows).unwrap(), 2, "{url}");
        let got = s.rows("customers", &["c2", "nobody"]).unwrap();
        assert_eq!(got, vec![rows[1].clone()], "{url}");
    }
}

#[test]
fn every_change_bumps_its_kind_and_two_stores_share_one_store() {
    for (_dir, s) in stores() {
        let other = Store::open(s.url()).unwrap();
        let before: Vec<i64> = Kind::ALL
            .iter()
            .map(|k| other.revision(*k).unwrap())
            .collect();
        s.set_config("a", &json!(1)).unwrap();
        let after: Vec<i64> = Kind::ALL
            .iter()
            .map(|k| other.revision(*k).unwrap())
            .collect();
        for (i, kind) in Kind::ALL.iter().enumerate() {
            assert_eq!(
                after[i] != before[i],
                *kind == Kind::Config,
                "{kind:?} {}",
                s.url()
            );
        }
        assert_eq!(
            other.config(Some("a")).unwrap(),
            vec![("a".into(), json!(1))]
        );
    }
}

#[test]
fn bad_urls_are_refused() {
    for url in [
        "sqlite:",
        "mysql://x",
        "styx.db",
        "cassandra://host:1",
        "cassandra:///ks",
    ] {
        assert!(
            matches!(Store::open(url), Err(StoreError::Url { .. })),
            "{url}"
        );
    }
}
