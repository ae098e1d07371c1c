//! Tweets over a steady mix of topics, with words that trend for a few minutes.
//!
//! Fields: `ts`, `user`, `id`, `lang`, `text`, `hashtags` (array of strings without
//! `#`), `word` (the tweet's topic word).
//!
//! The steady mix: thirty common topic words, each with a share of the tweets that drifts
//! slowly over the day (up and down by a tenth to a fifth over one to three hours), and a
//! hundred rarer news words sharing a hundredth of the tweets.
//!
//! Incidents (the key is the word), kind `trend`: many people start tweeting about a word
//! that rises over two to five minutes to its peak, stays there up to a minute and a
//! half, then fades over five to twelve minutes. The incident spans the rise and the
//! peak: from the first tweet of the rise to the end of the peak. Rare news words rise
//! from nearly nothing to a peak of a quarter of a percent (hard) to four percent (easy)
//! of all tweets; common topics already among the most tweeted rise further, to two to
//! four times their usual count.
//!
//! And look-alikes that are no trend:
//!
//! - a single user spamming one word, rare or common: as many tweets as a trend, with the
//!   same rise and fall, all from one account;
//! - a common topic swelling by a tenth to nearly a half for a few minutes, from many
//!   users: the ups and downs of an ordinary day, near what a trend of a common word
//!   looks like.
//!
//! A word trends, or is spammed or swells, at most once within forty minutes. Nothing
//! happens during the first twelve minutes of event time, so that a job has seen every
//! word's usual counts before it.

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

/// Common topics that trend: the most tweeted ones, whose counts are large enough for a
/// rise to stand out of their minute-to-minute noise.
const COMMON_TRENDS: usize = 12;

/// News words: rare in the steady mix, and the words that trend most.
const NEWS: &[&str] = &[
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
    "verdict",
    "merger",
    "blackout",
    "flood",
    "wildfire",
    "tsunami",
    "volcano",
    "snowstorm",
    "tornado",
    "heist",
    "scandal",
    "resignation",
    "summit",
    "treaty",
    "referendum",
    "debate",
    "protest",
    "parade",
    "festival",
    "olympics",
    "worldcup",
    "playoffs",
    "derby",
    "grandslam",
    "knockout",
    "upset",
    "record",
    "rookie",
    "trade",
    "draft",
    "injury",
    "retirement",
    "album",
    "single",
    "tour",
    "trailer",
    "sequel",
    "reboot",
    "finale",
    "spoiler",
    "award",
    "oscars",
    "grammys",
    "emmys",
    "gala",
    "runway",
    "collab",
    "dropout",
    "layoffs",
    "ipo",
    "rally",
    "crash",
    "inflation",
    "ratecut",
    "budget",
    "tariff",
    "shortage",
    "strikeout",
    "homerun",
    "touchdown",
    "penalty",
    "redcard",
    "overtime",
    "shootout",
    "comet",
    "aurora",
    "rocket",
    "rover",
    "asteroid",
    "discovery",
    "vaccine",
    "outbreak",
    "breakthrough",
    "patch",
    "update",
    "leak",
    "hack",
    "bug",
    "glitch",
    "meme",
    "challenge",
    "dance",
    "recipe",
    "giveaway",
];

/// Share of the tweets about news words in the steady mix (spread over all of them).
const NEWS_SHARE: f64 = 0.01;

const USERS: usize = 50_000;

/// Event time before the first trend or look-alike.
const WARM_UP_MS: i64 = 12 * 60_000;
/// Mean time between two trends or look-alikes.
const MEAN_GAP_MS: f64 = 40_000.0;
/// A word trends, is spammed or swells at most once within this much time (from the
/// start of one to the start of the next).
const WORD_REST_MS: i64 = 40 * 60_000;

/// What happens to a word now and then.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Happening {
    /// A news word trends.
    RareTrend,
    /// A common topic trends further.
    CommonTrend,
    /// One user spams a word.
    Spam,
    /// A common topic swells a little.
    Swell,
}

/// Happening, weight.
const HAPPENINGS: &[(Happening, f64)] = &[
    (Happening::RareTrend, 0.42),
    (Happening::CommonTrend, 0.20),
    (Happening::Spam, 0.20),
    (Happening::Swell, 0.18),
];

/// A word's slow drift over the day: its share times `1 + amplitude * sin(...)`.
struct Drift {
    period_ms: f64,
    phase: f64,
    amplitude: f64,
}

pub(crate) struct Tweets {
    /// Tweets per second of event time in the steady mix.
    rate: f64,
    /// The topics' base weights (summing to `1 - NEWS_SHARE`) and their drifts.
    weights: Vec<f64>,
    drifts: Vec<Drift>,
    /// The topics' weights now, and when they were last worked out.
    now_weights: Vec<f64>,
    weights_at: i64,
    /// Per word (topics, then news words), until when nothing new happens to it.
    resting: Vec<i64>,
    started: Option<i64>,
    next_happening: i64,
    next_id: u64,
}

impl Tweets {
    pub(crate) fn new(rng: &mut ChaCha8Rng, rate: f64) -> Self {
        // The share of topic i follows Zipf's law, as `dist::skewed` draws it.
        let n = TOPICS.len() as f64;
        let weights: Vec<f64> = (0..TOPICS.len())
            .map(|i| ((i as f64 + 2.0) / (i as f64 + 1.0)).ln() / (n + 1.0).ln())
            .collect();
        let total: f64 = weights.iter().sum();
        let weights: Vec<f64> = weights
            .iter()
            .map(|w| w / total * (1.0 - NEWS_SHARE))
            .collect();
        let drifts = (0..TOPICS.len())
            .map(|_| Drift {
                period_ms: rng.random_range(45.0..180.0) * 60_000.0,
                phase: rng.random_range(0.0..std::f64::consts::TAU),
                amplitude: rng.random_range(0.1..0.2),
            })
            .collect();
        Tweets {
            rate,
            now_weights: weights.clone(),
            weights,
            drifts,
            weights_at: i64::MIN,
            resting: vec![i64::MIN; TOPICS.len() + NEWS.len()],
            started: None,
            next_happening: i64::MAX,
            next_id: 0,
        }
    }

    /// The text of word `w` of the vocabulary (topics, then news words).
    fn word(w: usize) -> &'static str {
        if w < TOPICS.len() {
            TOPICS[w]
        } else {
            NEWS[w - TOPICS.len()]
        }
    }

    /// A tweet of `user` about `word`; `hot` tweets carry its hashtag more often.
    fn tweet(&mut self, rng: &mut ChaCha8Rng, user: usize, word: &str, hot: bool) -> Event {
        let weights: Vec<f64> = LANGS.iter().map(|l| l.1).collect();
        let (lang, _, filler) = LANGS[dist::weighted(rng, &weights)];
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
        if rng.random_bool(if hot { 0.7 } else { 0.3 }) {
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
        let Value::Object(e) = json!({
            "user": format!("user-{user:05}"),
            "id": format!("tw-{:09}", self.next_id),
            "lang": lang,
            "text": text,
            "hashtags": hashtags,
            "word": word,
        }) else {
            unreachable!()
        };
        e
    }

    /// The topics' weights at `now`, drifting.
    fn topic_weights(&mut self, now: i64) -> &[f64] {
        if now.saturating_sub(self.weights_at) >= 1_000 {
            self.weights_at = now;
            for (i, d) in self.drifts.iter().enumerate() {
                let x = std::f64::consts::TAU * now as f64 / d.period_ms + d.phase;
                self.now_weights[i] = self.weights[i] * (1.0 + d.amplitude * x.sin());
            }
        }
        &self.now_weights
    }

    /// A word for `what` that is resting from nothing, or none.
    fn pick_word(&mut self, rng: &mut ChaCha8Rng, what: Happening, now: i64) -> Option<usize> {
        for _ in 0..50 {
            let w = match what {
                Happening::RareTrend => TOPICS.len() + rng.random_range(0..NEWS.len()),
                Happening::CommonTrend | Happening::Swell => rng.random_range(0..COMMON_TRENDS),
                Happening::Spam if rng.random_bool(0.5) => {
                    TOPICS.len() + rng.random_range(0..NEWS.len())
                }
                Happening::Spam => rng.random_range(0..TOPICS.len()),
            };
            if self.resting[w] <= now {
                self.resting[w] = now + WORD_REST_MS;
                return Some(w);
            }
        }
        None
    }

    /// Plans a trend or a look-alike.
    fn plan(&mut self, rng: &mut ChaCha8Rng, now: i64, schedule: &mut Schedule) {
        let weights: Vec<f64> = HAPPENINGS.iter().map(|h| h.1).collect();
        let what = HAPPENINGS[dist::weighted(rng, &weights)].0;
        let Some(w) = self.pick_word(rng, what, now) else {
            return;
        };
        let per_minute = self.rate * 60.0;
        let usual = if w < TOPICS.len() {
            self.weights[w] * per_minute
        } else {
            NEWS_SHARE / NEWS.len() as f64 * per_minute
        };
        // The peak: extra tweets per minute on top of the usual ones.
        let peak = match what {
            Happening::RareTrend => {
                per_minute * (rng.random_range(0.0025f64.ln()..0.04f64.ln())).exp()
            }
            Happening::CommonTrend => usual * rng.random_range(1.0..3.0),
            Happening::Spam if w < TOPICS.len() => {
                (usual * rng.random_range(1.0..2.5)).clamp(15.0, 150.0)
            }
            Happening::Spam => rng.random_range(15.0..150.0),
            Happening::Swell => usual * rng.random_range(0.1..0.45),
        };
        let start = now + rng.random_range(1_000..30_000);
        let rise = rng.random_range(2 * 60_000..5 * 60_000);
        let hold = rng.random_range(0..90_000);
        let fade = rng.random_range(5 * 60_000..12 * 60_000);
        let spammer = (what == Happening::Spam).then(|| rng.random_range(0..USERS));
        let word = Self::word(w);
        let shape = Shape {
            start,
            rise,
            hold,
            fade,
        };
        let Some((first, end)) = self.plan_tweets(rng, schedule, word, spammer, &shape, peak)
        else {
            return;
        };
        if matches!(what, Happening::RareTrend | Happening::CommonTrend) {
            schedule.incident(word.to_string(), first, end, "trend");
        }
    }

    /// Plans tweets about `word` (all by `spammer`, when given) rising linearly from
    /// nothing to `peak` a minute, holding, and fading linearly; their first time and the
    /// end of the peak, or none when no tweet fell in the rise.
    fn plan_tweets(
        &mut self,
        rng: &mut ChaCha8Rng,
        schedule: &mut Schedule,
        word: &str,
        spammer: Option<usize>,
        shape: &Shape,
        peak: f64,
    ) -> Option<(i64, i64)> {
        let mean_gap = 60_000.0 / peak;
        let top = shape.start + shape.rise;
        let end = top + shape.hold;
        let last = end + shape.fade;
        let mut t = shape.start as f64;
        let mut first = None;
        loop {
            t += dist::exponential(rng, mean_gap);
            let at = t as i64;
            if at >= last {
                break;
            }
            // Thinning: keep the tweet as often as the curve is high now.
            let level = if at < top {
                (at - shape.start) as f64 / shape.rise as f64
            } else if at < end {
                1.0
            } else {
                1.0 - (at - end) as f64 / shape.fade as f64
            };
            if !rng.random_bool(level.clamp(0.0, 1.0)) {
                continue;
            }
            if at > end && first.is_none() {
                return None;
            }
            first.get_or_insert(at);
            let user = spammer.unwrap_or_else(|| dist::power(rng, USERS, 2.0));
            let e = self.tweet(rng, user, word, true);
            schedule.at(at, e);
        }
        first.map(|f| (f, end))
    }
}

/// The curve of a trend or look-alike: from `start`, a rise, a hold at the peak and a
/// fade, in milliseconds.
struct Shape {
    start: i64,
    rise: i64,
    hold: i64,
    fade: i64,
}

impl Model for Tweets {
    fn next(&mut self, rng: &mut ChaCha8Rng, now: i64, schedule: &mut Schedule) -> Event {
        let started = *self.started.get_or_insert(now);
        if self.next_happening == i64::MAX {
            self.next_happening = started + WARM_UP_MS;
        }
        if now >= self.next_happening {
            if !schedule.closing() {
                self.plan(rng, now, schedule);
            }
            self.next_happening = now + dist::exponential(rng, MEAN_GAP_MS) as i64 + 1;
        }
        let word = if rng.random_bool(NEWS_SHARE) {
            NEWS[rng.random_range(0..NEWS.len())]
        } else {
            let weights = self.topic_weights(now);
            TOPICS[dist::weighted(rng, weights)]
        };
        let user = dist::power(rng, USERS, 2.0);
        self.tweet(rng, user, word, false)
    }
}

/// The model of the world at `rate` events per second of event time.
pub(crate) fn model(rng: &mut ChaCha8Rng, rate: f64) -> Box<dyn Model> {
    Box::new(Tweets::new(rng, rate))
}

/// No reference data.
pub(crate) fn reference() -> Option<(&'static str, Vec<Event>)> {
    None
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use crate::{Event, Generator, Incident, Kind};

    fn ts(e: &Event) -> i64 {
        e["ts"].as_i64().unwrap()
    }

    /// An hour and a half of tweets at 100 a second, and the trends planted in them.
    fn run(seed: u64) -> (Vec<Event>, Vec<Incident>) {
        let mut g = Generator::new(Kind::Tweets, seed).events_per_second(100.0);
        let events: Vec<_> = g.by_ref().take(600_000).collect();
        (events, g.incidents().cloned().collect())
    }

    #[test]
    fn fields_have_their_types() {
        for e in Generator::new(Kind::Tweets, 5).take(2000) {
            assert!(e["user"].as_str().unwrap().starts_with("user-"));
            assert!(e["id"].as_str().unwrap().starts_with("tw-"));
            assert_eq!(e["lang"].as_str().unwrap().len(), 2);
            let word = e["word"].as_str().unwrap();
            let text = e["text"].as_str().unwrap();
            assert!(text.split(' ').any(|w| w == word), "{text} lacks {word}");
            for h in e["hashtags"].as_array().unwrap() {
                assert!(text.contains(&format!("#{}", h.as_str().unwrap())));
            }
            assert!(e.get("label").is_none(), "{e:?}");
        }
    }

    /// Each trend's word is tweeted far more often during the trend than in as long a
    /// time before it, by many users.
    #[test]
    fn trends_are_in_the_events() {
        let (events, incidents) = run(17);
        assert!(incidents.len() >= 30, "{} trends", incidents.len());
        assert!(incidents.iter().all(|i| i.kind == "trend"));
        let first = ts(&events[0]);
        let mut by_word: BTreeMap<&str, Vec<(i64, &str)>> = BTreeMap::new();
        for e in &events {
            by_word
                .entry(e["word"].as_str().unwrap())
                .or_default()
                .push((ts(e), e["user"].as_str().unwrap()));
        }
        for i in &incidents {
            assert!(i.start >= first + super::WARM_UP_MS, "{i:?}");
            let tweets = &by_word[i.key.as_str()];
            let of = |from: i64, to: i64| -> (usize, usize) {
                let within: Vec<&(i64, &str)> = tweets
                    .iter()
                    .filter(|t| (from..to).contains(&t.0))
                    .collect();
                let users: BTreeSet<&str> = within.iter().map(|t| t.1).collect();
                (within.len(), users.len())
            };
            let span = i.end - i.start;
            let (before, _) = of(i.start - span, i.start);
            let (during, users) = of(i.start, i.end + 1);
            assert!(
                during as f64 >= 1.3 * before as f64 + 5.0,
                "{i:?}: {before} then {during}"
            );
            assert!(
                users * 10 >= during * 7,
                "{i:?}: {during} tweets by {users} users"
            );
            assert!(
                tweets.iter().any(|t| t.0 == i.start),
                "{i:?}: no tweet at its start"
            );
        }
        let kinds: BTreeSet<bool> = incidents
            .iter()
            .map(|i| super::TOPICS.contains(&i.key.as_str()))
            .collect();
        assert_eq!(kinds.len(), 2, "rare and common words trend");
    }

    /// Some word that is no trend is tweeted dozens of times a minute by one user.
    #[test]
    fn users_spam_words_that_do_not_trend() {
        let (events, incidents) = run(17);
        let mut per: BTreeMap<(i64, &str, &str), usize> = BTreeMap::new();
        for e in &events {
            let key = (
                ts(e) / 60_000,
                e["word"].as_str().unwrap(),
                e["user"].as_str().unwrap(),
            );
            *per.entry(key).or_default() += 1;
        }
        let spammed: BTreeSet<&str> = per
            .iter()
            .filter(|(_, n)| **n >= 15)
            .map(|((_, w, _), _)| *w)
            .collect();
        let trending: BTreeSet<&str> = incidents.iter().map(|i| i.key.as_str()).collect();
        assert!(
            spammed.difference(&trending).count() >= 5,
            "spammed: {spammed:?}"
        );
    }

    #[test]
    fn the_same_seed_gives_the_same_trends() {
        let a = run(3).1;
        assert_eq!(a, run(3).1);
        assert_ne!(a, run(4).1);
    }
}
