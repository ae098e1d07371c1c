//! Tweets over a steady mix of topics, with words that trend for a few minutes.
//!
//! Fields: `ts`, `user`, `id`, `lang`, `text`, `hashtags` (array of strings without
//! `#`), `word` (the tweet's topic word), `label` (`normal` or `trend`).

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

use crate::dist;
use crate::{Event, Model, Schedule};

/// Language, weight, filler words.
const LANGS: &[(&str, f64, &[&str])] = &[
    (
        "en",
        60.0,
        &[
            "the", "a", "is", "just", "so", "really", "today", "this", "my", "new", "love", "what",
            "about", "with", "again", "can't", "believe", "everyone", "watching", "great", "day",
            "time", "people", "best", "ever", "think", "right", "now",
        ],
    ),
    (
        "es",
        15.0,
        &[
            "el", "la", "es", "muy", "hoy", "que", "con", "para", "todos", "nuevo", "gran", "día",
            "ahora", "mejor", "siempre", "otra", "vez",
        ],
    ),
    (
        "pt",
        8.0,
        &[
            "o", "a", "é", "muito", "hoje", "que", "com", "para", "todos", "novo", "dia", "agora",
            "melhor", "sempre",
        ],
    ),
    (
        "de",
        7.0,
        &[
            "der", "die", "das", "ist", "heute", "sehr", "mit", "für", "alle", "neu", "tag",
            "jetzt", "besser", "immer",
        ],
    ),
    (
        "fr",
        6.0,
        &[
            "le",
            "la",
            "est",
            "très",
            "aujourd'hui",
            "que",
            "avec",
            "pour",
            "tous",
            "nouveau",
            "jour",
            "maintenant",
            "mieux",
            "toujours",
        ],
    ),
    (
        "ja",
        4.0,
        &[
            "今日",
            "とても",
            "これ",
            "みんな",
            "新しい",
            "最高",
            "いま",
            "また",
        ],
    ),
];

/// Topic words of the steady mix, most common first.
const TOPICS: &[&str] = &[
    "coffee",
    "music",
    "football",
    "weather",
    "work",
    "movie",
    "pizza",
    "travel",
    "gaming",
    "books",
    "cats",
    "dogs",
    "running",
    "science",
    "art",
    "crypto",
    "ai",
    "traffic",
    "concert",
    "cooking",
    "photography",
    "fashion",
    "history",
    "space",
    "garden",
    "yoga",
    "podcast",
    "startup",
    "design",
    "beach",
];

/// Words that trend now and then (never in the steady mix).
const TRENDS: &[&str] = &[
    "eclipse",
    "earthquake",
    "finals",
    "election",
    "outage",
    "launch",
    "wedding",
    "heatwave",
    "transfer",
    "premiere",
    "recall",
    "meteor",
    "strike",
    "comeback",
    "marathon",
    "hurricane",
];

const USERS: usize = 50_000;

/// A word trending from `start` to `end`, most at the middle.
struct Trend {
    word: &'static str,
    start: i64,
    end: i64,
    peak: f64,
}

impl Trend {
    /// The share of tweets about the word at `t`: rises, peaks, falls.
    fn share(&self, t: i64) -> f64 {
        if t < self.start || t >= self.end {
            return 0.0;
        }
        let x = (t - self.start) as f64 / (self.end - self.start) as f64;
        self.peak * (1.0 - (2.0 * x - 1.0).abs())
    }
}

pub(crate) struct Tweets {
    trends: Vec<Trend>,
    next_trend: Option<i64>,
    next_id: u64,
}

impl Tweets {
    pub(crate) fn new(_rng: &mut ChaCha8Rng) -> Self {
        Tweets {
            trends: Vec::new(),
            next_trend: None,
            next_id: 0,
        }
    }

    /// Starts trends from time to time: one every 4 minutes on average, each 4 to 12
    /// minutes long, peaking at 20 to 50% of all tweets.
    fn update_trends(&mut self, rng: &mut ChaCha8Rng, now: i64) {
        let next = *self
            .next_trend
            .get_or_insert_with(|| now + rng.random_range(20_000..60_000));
        if now >= next {
            let word = loop {
                let w = TRENDS[rng.random_range(0..TRENDS.len())];
                if !self.trends.iter().any(|t| t.word == w) {
                    break w;
                }
            };
            self.trends.push(Trend {
                word,
                start: now,
                end: now + rng.random_range(4 * 60_000..12 * 60_000),
                peak: rng.random_range(0.2..0.5),
            });
            self.next_trend = Some(now + dist::exponential(rng, 240_000.0) as i64 + 1);
        }
        self.trends.retain(|t| t.end > now);
    }
}

impl Model for Tweets {
    fn next(&mut self, rng: &mut ChaCha8Rng, now: i64, _schedule: &mut Schedule) -> Event {
        self.update_trends(rng, now);
        let weights: Vec<f64> = LANGS.iter().map(|l| l.1).collect();
        let (lang, _, filler) = LANGS[dist::weighted(rng, &weights)];

        let mut trending = None;
        for t in &self.trends {
            if rng.random_bool(t.share(now).min(1.0)) {
                trending = Some(t.word);
                break;
            }
        }
        let word = trending.unwrap_or_else(|| TOPICS[dist::skewed(rng, TOPICS.len())]);

        let n = rng.random_range(5..14);
        let at = rng.random_range(0..n);
        let mut words: Vec<&str> = Vec::with_capacity(n + 1);
        for i in 0..n {
            if i == at {
                words.push(word);
            }
            words.push(filler[rng.random_range(0..filler.len())]);
        }
        let mut hashtags: Vec<String> = Vec::new();
        if trending.is_some() && rng.random_bool(0.7) || rng.random_bool(0.3) {
            hashtags.push(word.to_string());
        }
        for _ in 0..rng.random_range(0..=2u32) {
            let extra = TOPICS[dist::skewed(rng, TOPICS.len())];
            if !hashtags.iter().any(|h| h == extra) {
                hashtags.push(extra.to_string());
            }
        }
        let mut text = words.join(" ");
        for h in &hashtags {
            text.push_str(" #");
            text.push_str(h);
        }
        self.next_id += 1;
        let user = dist::power(rng, USERS, 2.0);
        let Value::Object(e) = json!({
            "user": format!("user-{user:05}"),
            "id": format!("tw-{:09}", self.next_id),
            "lang": lang,
            "text": text,
            "hashtags": hashtags,
            "word": word,
            "label": if trending.is_some() { "trend" } else { "normal" },
        }) else {
            unreachable!()
        };
        e
    }
}

/// The model of the world at `rate` events per second of event time.
pub(crate) fn model(rng: &mut ChaCha8Rng, rate: f64) -> Box<dyn Model> {
    let _ = rate;
    Box::new(Tweets::new(rng))
}

/// No reference data.
pub(crate) fn reference() -> Option<(&'static str, Vec<Event>)> {
    None
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use crate::{Generator, Kind};

    #[test]
    fn fields_have_their_types() {
        for e in Generator::new(Kind::Tweets, 5).take(2000) {
            assert!(e["user"].as_str().unwrap().starts_with("user-"));
            assert_eq!(e["lang"].as_str().unwrap().len(), 2);
            let word = e["word"].as_str().unwrap();
            let text = e["text"].as_str().unwrap();
            assert!(text.split(' ').any(|w| w == word), "{text} lacks {word}");
            for h in e["hashtags"].as_array().unwrap() {
                assert!(text.contains(&format!("#{}", h.as_str().unwrap())));
            }
        }
    }

    /// Some word is rare in one 2-minute window and among the top words in another.
    #[test]
    fn words_trend_for_a_while() {
        // 50 tweets per second for an hour of event time.
        let events: Vec<_> = Generator::new(Kind::Tweets, 17)
            .events_per_second(50.0)
            .take(180_000)
            .collect();
        let mut windows: HashMap<i64, HashMap<String, usize>> = HashMap::new();
        for e in &events {
            let w = e["ts"].as_i64().unwrap() / 120_000;
            *windows
                .entry(w)
                .or_default()
                .entry(e["word"].as_str().unwrap().to_string())
                .or_default() += 1;
        }
        let mut trending = std::collections::BTreeSet::new();
        for counts in windows.values() {
            let total: usize = counts.values().sum();
            let mut top: Vec<_> = counts.iter().collect();
            top.sort_by(|a, b| b.1.cmp(a.1));
            for (word, n) in top.into_iter().take(3) {
                let quiet = windows
                    .values()
                    .any(|c| c.get(word).copied().unwrap_or(0) * 20 < *n);
                if *n * 10 >= total && quiet {
                    trending.insert(word.clone());
                }
            }
        }
        assert!(trending.len() >= 3, "trending words: {trending:?}");
    }
}
