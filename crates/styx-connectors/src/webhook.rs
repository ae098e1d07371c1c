//! A sink that POSTs each record as JSON to a URL: a webhook that someone's system
//! follows up (an alert to a doctor, a blocked transfer).
//!
//! A delivery that fails for a reason that may pass (no connection, a timeout, 408, 429,
//! 5xx) is tried again after a backoff that doubles each time, up to `retries` times; the
//! record then goes to the dead-letter file with the reason, and the job goes on. A 4xx
//! answer other than 408 and 429 will not change by trying again: the record goes to the
//! dead-letter file at once. Without a dead-letter file, a record that cannot be
//! delivered fails the job: it is never dropped in silence. Records are delivered one at
//! a time, in order.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Map, Value};
use styx_runtime::error::BoxError;
use styx_runtime::event::Event;
use styx_runtime::sink::Sink;

/// How a webhook sink delivers.
#[derive(Debug, Clone)]
pub struct WebhookOptions {
    /// The URL records are POSTed to.
    pub url: String,
    /// How many times a failed delivery is tried again.
    pub retries: u32,
    /// The wait before the first retry; it doubles with each one, up to `max_backoff`.
    pub backoff: Duration,
    /// The longest wait between two tries.
    pub max_backoff: Duration,
    /// How long one request may take.
    pub timeout: Duration,
    /// Where records that could not be delivered go, as `{"reason", "url", "record"}`.
    pub dead_letter: Option<PathBuf>,
}

/// POSTs records to a URL (see the module's documentation).
pub struct WebhookSink {
    options: WebhookOptions,
    agent: ureq::Agent,
    dead: Option<std::io::BufWriter<std::fs::File>>,
    /// Records delivered, and sent to the dead-letter file.
    delivered: u64,
    undelivered: u64,
}

/// Why one try failed, and whether trying again may help.
struct Failed {
    reason: String,
    again: bool,
}

impl WebhookSink {
    /// A sink delivering as `options` say (the dead-letter file is made now).
    pub fn new(options: WebhookOptions) -> Result<Self, BoxError> {
        let dead = match &options.dead_letter {
            Some(path) => Some(open(path)?),
            None => None,
        };
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(options.timeout))
            .build()
            .new_agent();
        Ok(WebhookSink {
            options,
            agent,
            dead,
            delivered: 0,
            undelivered: 0,
        })
    }

    fn try_once(&self, body: &[u8]) -> Result<(), Failed> {
        let answer = self
            .agent
            .post(&self.options.url)
            .header("Content-Type", "application/json")
            .send(body);
        match answer {
            Ok(response) => {
                let status = response.status().as_u16();
                match status {
                    200..=299 => Ok(()),
                    408 | 429 | 500..=599 => Err(Failed {
                        reason: format!("the webhook answered {status}"),
                        again: true,
                    }),
                    _ => Err(Failed {
                        reason: format!("the webhook answered {status}"),
                        again: false,
                    }),
                }
            }
            Err(e) => Err(Failed {
                reason: format!("the webhook could not be reached: {e}"),
                again: true,
            }),
        }
    }

    /// Delivers one record, trying again as the options say; the last failure.
    fn deliver(&self, body: &[u8]) -> Result<(), String> {
        let mut wait = self.options.backoff;
        let mut tries = 0;
        loop {
            match self.try_once(body) {
                Ok(()) => return Ok(()),
                Err(f) if f.again && tries < self.options.retries => {
                    tries += 1;
                    std::thread::sleep(wait);
                    wait = (wait * 2).min(self.options.max_backoff);
                }
                Err(f) if f.again => {
                    return Err(format!("{} (after {} tries)", f.reason, tries + 1));
                }
                Err(f) => return Err(f.reason),
            }
        }
    }
}

fn open(path: &Path) -> Result<std::io::BufWriter<std::fs::File>, BoxError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create folder {}: {e}", parent.display()))?;
    }
    let file = std::fs::File::create(path)
        .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    Ok(std::io::BufWriter::new(file))
}

impl Sink<Event> for WebhookSink {
    fn write(&mut self, batch: &mut Vec<Event>) -> Result<(), BoxError> {
        for record in batch.drain(..) {
            let body = serde_json::to_vec(&record)?;
            match self.deliver(&body) {
                Ok(()) => self.delivered += 1,
                Err(reason) => {
                    let Some(dead) = &mut self.dead else {
                        return Err(format!(
                            "{}: {reason}; the record: {}",
                            self.options.url,
                            String::from_utf8_lossy(&body)
                        )
                        .into());
                    };
                    self.undelivered += 1;
                    let mut letter = Map::new();
                    letter.insert("reason".into(), Value::String(reason));
                    letter.insert("url".into(), Value::String(self.options.url.clone()));
                    letter.insert("record".into(), record.into_value());
                    serde_json::to_writer(&mut *dead, &letter)?;
                    dead.write_all(b"\n")?;
                    dead.flush()?;
                }
            }
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<(), BoxError> {
        if let Some(dead) = &mut self.dead {
            dead.flush()?;
        }
        if self.undelivered > 0 {
            tracing::warn!(
                url = %self.options.url,
                "{} records could not be delivered (in the dead-letter file), {} were",
                self.undelivered,
                self.delivered
            );
        }
        Ok(())
    }
}
