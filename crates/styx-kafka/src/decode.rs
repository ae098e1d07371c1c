//! Turning Kafka records into events, and refused records into dead letters.

use rdkafka::message::{Headers, Message};
use serde_json::{Map, Number, Value};

use crate::config::{Format, KafkaSourceConfig};
pub use styx_runtime::event::Event;
use styx_runtime::event::{event_time, parse_event_fields, Input, Numbering};

/// One Kafka record as the decoder sees it.
#[derive(Debug, Clone, Copy)]
pub struct RecordView<'a> {
    /// The topic.
    pub topic: &'a str,
    /// The partition.
    pub partition: i32,
    /// The record's offset in its partition.
    pub offset: i64,
    /// The record key.
    pub key: Option<&'a [u8]>,
    /// The record value (`None` for a tombstone).
    pub payload: Option<&'a [u8]>,
    /// The record's timestamp in epoch milliseconds, when it has one.
    pub timestamp: Option<i64>,
}

/// A record that could not be read as an event.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetter {
    /// Why it was refused.
    pub reason: String,
    /// The topic it came from.
    pub topic: String,
    /// Its partition.
    pub partition: i32,
    /// Its offset.
    pub offset: i64,
    /// The record value as it was.
    pub payload: Vec<u8>,
}

impl DeadLetter {
    /// The dead-letter record: `reason`, `topic`, `partition`, `offset` and `payload`
    /// (the value as text; bytes that are not UTF-8 become U+FFFD, and the exact bytes
    /// are then also given as `payload_hex`).
    pub fn to_event(&self) -> Event {
        let mut e = Event::new();
        e.insert("reason", Value::String(self.reason.clone()));
        e.insert("topic", Value::String(self.topic.clone()));
        e.insert("partition", Value::from(self.partition));
        e.insert("offset", Value::from(self.offset));
        match std::str::from_utf8(&self.payload) {
            Ok(text) => {
                e.insert("payload", Value::String(text.to_string()));
            }
            Err(_) => {
                e.insert(
                    "payload",
                    Value::String(String::from_utf8_lossy(&self.payload).into_owned()),
                );
                let hex: String = self.payload.iter().map(|b| format!("{b:02x}")).collect();
                e.insert("payload_hex", Value::String(hex));
            }
        }
        e
    }
}

/// Reads record values into events, the way a source's table says.
#[derive(Debug, Clone, Default)]
pub struct Decoder {
    /// How values are read.
    pub format: Format,
    /// The event-time field every event must carry as integer epoch milliseconds.
    pub time_field: Option<String>,
    /// The field that receives the record key when the event lacks it.
    pub key_field: Option<String>,
    /// The field that receives the record headers.
    pub headers_field: Option<String>,
    /// The fields kept of a JSON record (all when `None`): for jobs that read a few
    /// fields and pass no event on (see [`styx_runtime::event::parse_event_fields`]).
    pub only: Option<Vec<String>>,
}

impl Decoder {
    /// The decoder for a source table; `time_field` comes from its `event_time`.
    pub fn for_source<E>(config: &KafkaSourceConfig<E>, time_field: Option<&str>) -> Self {
        Decoder {
            format: config.format,
            time_field: time_field.map(str::to_string),
            key_field: config.key.clone(),
            headers_field: config.headers.clone(),
            only: None,
        }
    }

    /// Reads a record into an event, or says why it cannot be.
    ///
    /// `json`: the value must be a JSON object. `raw`: the value must be UTF-8 text and
    /// becomes `{"value": text}`, with the record timestamp in the event-time field.
    /// Then, when configured, the key and the headers are added, and the event-time
    /// field is checked.
    pub fn decode(&self, record: &RecordView<'_>) -> Result<Event, DeadLetter> {
        self.decode_with_headers(record, None::<&rdkafka::message::OwnedHeaders>)
    }

    /// Reads a consumed message (see [`Decoder::decode`]).
    pub fn decode_message<M: Message>(&self, message: &M) -> Result<Event, DeadLetter> {
        let view = RecordView {
            topic: message.topic(),
            partition: message.partition(),
            offset: message.offset(),
            key: message.key(),
            payload: message.payload(),
            timestamp: message.timestamp().to_millis(),
        };
        self.decode_with_headers(&view, message.headers())
    }

    fn decode_with_headers<H: Headers>(
        &self,
        record: &RecordView<'_>,
        headers: Option<&H>,
    ) -> Result<Event, DeadLetter> {
        let refuse = |reason: String| DeadLetter {
            reason,
            topic: record.topic.to_string(),
            partition: record.partition,
            offset: record.offset,
            payload: record.payload.unwrap_or_default().to_vec(),
        };
        let Some(payload) = record.payload else {
            return Err(refuse("the record has no value (a tombstone)".into()));
        };
        let mut event = match self.format {
            Format::Json => parse_event_fields(payload, self.only.as_deref()).map_err(refuse)?,
            Format::Raw => {
                let text = std::str::from_utf8(payload)
                    .map_err(|e| refuse(format!("the value is not UTF-8 text: {e}")))?;
                let mut event = Event::new();
                event.insert("value", Value::String(text.to_string()));
                if let (Some(field), Some(ts)) = (&self.time_field, record.timestamp) {
                    event.insert(field.clone(), Value::Number(Number::from(ts)));
                }
                event
            }
        };
        if let (Some(field), Some(key)) = (&self.key_field, record.key) {
            if !event.contains_key(field) {
                let key = String::from_utf8_lossy(key).into_owned();
                event.insert(field.clone(), Value::String(key));
            }
        }
        if let Some(field) = &self.headers_field {
            let mut object = Map::new();
            if let Some(headers) = headers {
                for h in headers.iter() {
                    let value = match h.value {
                        Some(v) => Value::String(String::from_utf8_lossy(v).into_owned()),
                        None => Value::Null,
                    };
                    object.insert(h.key.to_string(), value);
                }
            }
            event.insert(field.clone(), Value::Object(object));
        }
        if let Some(field) = &self.time_field {
            event_time(&event, field).map_err(refuse)?;
        }
        event.set_origin(
            Input::named(record.topic, Numbering::Offsets)
                .at(record.partition.max(0) as u32, record.offset.max(0) as u64),
        );
        Ok(event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(payload: Option<&[u8]>) -> RecordView<'_> {
        RecordView {
            topic: "t",
            partition: 3,
            offset: 42,
            key: Some(b"k1"),
            payload,
            timestamp: Some(1_700_000_000_000),
        }
    }

    fn json_decoder() -> Decoder {
        Decoder {
            time_field: Some("ts".into()),
            key_field: Some("account".into()),
            ..Decoder::default()
        }
    }

    #[test]
    fn reads_json_objects_and_adds_the_key() {
        let e = json_decoder()
            .decode(&view(Some(br#"{"ts": 5, "amount": 1.5}"#)))
            .unwrap();
        assert_eq!(e["ts"], 5);
        assert_eq!(e["account"], "k1");
        let e = json_decoder()
            .decode(&view(Some(br#"{"ts": 5, "account": 7}"#)))
            .unwrap();
        assert_eq!(e["account"], 7, "a field already there is kept");
        assert_eq!(
            e.origin().describe().as_deref(),
            Some("topic t partition 3 offset 42")
        );
    }

    #[test]
    fn refuses_with_reasons() {
        let d = json_decoder();
        let reason = |p: &[u8]| d.decode(&view(Some(p))).unwrap_err().reason;
        assert!(reason(b"{oops").starts_with("not valid JSON"));
        assert_eq!(reason(b"[1, 2]"), "not a JSON object: an array");
        assert_eq!(reason(b"{}"), "event-time field `ts` is missing");
        assert_eq!(
            reason(br#"{"ts": "noon"}"#),
            "event-time field `ts` must be an integer of epoch milliseconds, not a string"
        );
        assert_eq!(
            reason(br#"{"ts": 1.5}"#),
            "event-time field `ts` must be an integer of epoch milliseconds, not a float"
        );
        let dead = d.decode(&view(None)).unwrap_err();
        assert!(dead.reason.contains("tombstone"));
    }

    #[test]
    fn dead_letters_carry_the_record() {
        let dead = json_decoder().decode(&view(Some(b"nope"))).unwrap_err();
        let e = dead.to_event();
        assert_eq!(e["topic"], "t");
        assert_eq!(e["partition"], 3);
        assert_eq!(e["offset"], 42);
        assert_eq!(e["payload"], "nope");
        assert!(e["reason"].as_str().unwrap().starts_with("not valid JSON"));
        assert!(!e.contains_key("payload_hex"));

        let dead = json_decoder()
            .decode(&view(Some(&[0xff, 0x00])))
            .unwrap_err();
        assert_eq!(dead.to_event()["payload_hex"], "ff00");
    }

    #[test]
    fn raw_values_are_text_with_the_record_time() {
        let d = Decoder {
            format: Format::Raw,
            time_field: Some("ts".into()),
            ..Decoder::default()
        };
        let e = d.decode(&view(Some(b"hello"))).unwrap();
        assert_eq!(e["value"], "hello");
        assert_eq!(e["ts"], 1_700_000_000_000i64);
        assert!(d.decode(&view(Some(&[0xc3]))).is_err());
    }
}
