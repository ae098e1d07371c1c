//! The store's interface on the SQLite backend, and two stores on one file.

use serde_json::json;

use super::*;

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&default_url(dir.path())).unwrap();
    (dir, store)
}

#[test]
fn models_and_patterns_are_versioned_and_the_newest_is_active() {
    let (_dir, s) = store();
    assert_eq!(s.deploy_model("fraud", "<PMML v1/>").unwrap(), 1);
    assert_eq!(s.deploy_model("fraud", "<PMML v2/>").unwrap(), 2);
    assert_eq!(s.deploy_model("churn", "<PMML/>").unwrap(), 1);
    assert_eq!(s.model("fraud").unwrap(), Some((2, "<PMML v2/>".into())));
    let listed: Vec<(String, u32)> = s
        .models()
        .unwrap()
        .into_iter()
        .map(|v| (v.id, v.version))
        .collect();
    assert_eq!(listed, vec![("churn".into(), 1), ("fraud".into(), 2)]);
    assert!(s.delete_model("fraud").unwrap());
    assert!(!s.delete_model("fraud").unwrap());
    assert_eq!(s.model("fraud").unwrap(), None);
    assert_eq!(s.put_pattern("combo", "stages = []").unwrap(), 1);
    assert_eq!(s.pattern("combo").unwrap().unwrap().0, 1);
}

#[test]
fn rules_config_and_rows_round_trip() {
    let (_dir, s) = store();
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
    assert_eq!(s.rules(Some("fraud")).unwrap().len(), 2);
    assert_eq!(s.rules(None).unwrap().len(), 3);
    assert_eq!(s.rules(Some("fraud")).unwrap()[0], rule);
    assert!(s.delete_rule("fraud", "small").unwrap());
    s.set_config("fraud.threshold", &json!(0.9)).unwrap();
    s.set_config("fraud.threshold", &json!(0.8)).unwrap();
    assert_eq!(
        s.config(None).unwrap(),
        vec![("fraud.threshold".into(), json!(0.8))]
    );
    let row = |v: serde_json::Value| v.as_object().unwrap().clone();
    let rows = vec![
        (
            "c1".to_string(),
            row(json!({"id": "c1", "segment": "gold"})),
        ),
        (
            "c2".to_string(),
            row(json!({"id": "c2", "segment": "basic"})),
        ),
    ];
    assert_eq!(s.load_rows("customers", &rows).unwrap(), 2);
    let got = s.rows("customers", &["c2", "nobody"]).unwrap();
    assert_eq!(got, vec![rows[1].clone()]);
}

#[test]
fn every_change_bumps_its_kind_and_two_stores_share_one_file() {
    let (dir, s) = store();
    let other = Store::open(&default_url(dir.path())).unwrap();
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
        assert_eq!(after[i] != before[i], *kind == Kind::Config, "{kind:?}");
    }
    assert_eq!(
        other.config(Some("a")).unwrap(),
        vec![("a".into(), json!(1))]
    );
}

#[test]
fn bad_urls_are_refused() {
    for url in ["sqlite:", "mysql://x", "styx.db"] {
        assert!(
            matches!(Store::open(url), Err(StoreError::Url { .. })),
            "{url}"
        );
    }
}
