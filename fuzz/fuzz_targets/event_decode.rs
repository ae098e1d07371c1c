//! Arbitrary bytes as a JSON record: the event decoder reads them as serde_json does, the
//! same fields in the same order with the same values (compared as written JSON text),
//! or refuses them when serde_json does; keeping only some names keeps just those.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use styx_runtime::event::{parse_event, parse_event_fields};

fuzz_target!(|data: &[u8]| {
    let ours = parse_event(data);
    match serde_json::from_slice::<Value>(data) {
        Ok(Value::Object(map)) => {
            let event = ours.expect("serde_json reads an object: so must the decoder");
            assert_eq!(
                event.to_string(),
                serde_json::to_string(&map).unwrap(),
                "decoded differently"
            );
            // Every other name (the first, the third, ...) kept.
            let kept: Vec<String> = map.keys().step_by(2).cloned().collect();
            let some = parse_event_fields(data, Some(&kept)).expect("kept fields decode");
            let expected: serde_json::Map<String, Value> =
                map.into_iter().filter(|(n, _)| kept.contains(n)).collect();
            assert_eq!(
                some.to_string(),
                serde_json::to_string(&expected).unwrap(),
                "kept fields decoded differently"
            );
        }
        _ => assert!(ours.is_err(), "serde_json refuses what the decoder accepts"),
    }
});
